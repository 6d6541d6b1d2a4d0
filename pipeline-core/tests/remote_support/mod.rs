//! Real components for the tests of remote execution and object stores: an
//! S3-compatible server (`moto_server`, installed by `.ci/s3.sh start`)
//! started on a free 127.0.0.1 port, a link to it that can be cut, and a
//! check for a running Slurm cluster (`.ci/slurm.sh start`).
//!
//! A test that needs a component it cannot have says why it skips, on
//! stderr. With `PIPELINE_REQUIRE_REMOTE=1` (CI sets it) it fails instead, so
//! that CI cannot pass by skipping.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Says why `test` cannot run here: fails under `PIPELINE_REQUIRE_REMOTE=1`,
/// otherwise prints the reason and lets the test return early.
pub fn skip(test: &str, reason: &str) {
    if std::env::var_os("PIPELINE_REQUIRE_REMOTE").is_some_and(|v| v != "0") {
        panic!("{test} needs {reason}, and PIPELINE_REQUIRE_REMOTE is set");
    }
    eprintln!("skipped {test}: {reason}");
}

/// Where `.ci/s3.sh` installs `moto_server`, or `PIPELINE_MOTO_SERVER`, or the
/// one on the `PATH`.
pub fn moto_server_program() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("PIPELINE_MOTO_SERVER") {
        return Some(PathBuf::from(path));
    }
    let cache = std::env::var_os("PIPELINE_CI_CACHE")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache/pipeline-ci"))
        });
    if let Some(venv) = cache.map(|c| c.join("moto-venv/bin/moto_server"))
        && venv.is_file()
    {
        return Some(venv);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("moto_server"))
        .find(|candidate| candidate.is_file())
}

/// A `moto_server` process of this test, on its own port; killed when dropped.
pub struct S3Server {
    child: Child,
    port: u16,
}

impl S3Server {
    /// Starts a server, or says (as `Err`) why none can be started.
    pub fn start() -> Result<Self, String> {
        Self::start_with(&[])
    }

    /// Starts a server with extra environment variables (for example
    /// `INITIAL_NO_AUTH_ACTION_COUNT=0`, which makes moto check credentials).
    pub fn start_with(environment: &[(&str, &str)]) -> Result<Self, String> {
        let program = moto_server_program().ok_or(
            "an S3-compatible server: moto_server was not found (run `.ci/s3.sh start` to install it, or set PIPELINE_MOTO_SERVER)",
        )?;
        let mut last_error = String::new();
        // A free port can be taken by someone else before the server binds it.
        for _ in 0..3 {
            let port = free_port();
            let child = Command::new(&program)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .envs(environment.iter().copied())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| {
                    format!(
                        "an S3-compatible server: cannot start {}: {e}",
                        program.display()
                    )
                })?;
            let mut server = S3Server { child, port };
            match server.wait_until_answering(Duration::from_secs(60)) {
                Ok(()) => return Ok(server),
                Err(e) => last_error = e,
            }
        }
        Err(format!("an S3-compatible server: {last_error}"))
    }

    /// Starts a server for `test`, or explains the skip (see [`skip`]).
    pub fn start_or_skip(test: &str) -> Option<Self> {
        match Self::start() {
            Ok(server) => Some(server),
            Err(reason) => {
                skip(test, &reason);
                None
            }
        }
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its URL, for `aws_endpoint`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Creates a bucket (moto accepts unsigned requests).
    pub fn create_bucket(&self, bucket: &str) {
        let status = http_request(self.port, "PUT", &format!("/{bucket}"))
            .unwrap_or_else(|e| panic!("creating bucket {bucket}: {e}"));
        assert!(
            status.starts_with("HTTP/1.1 200"),
            "creating bucket {bucket}: {status}"
        );
    }

    /// Kills the server at once (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn wait_until_answering(&mut self, limit: Duration) -> Result<(), String> {
        let start = Instant::now();
        loop {
            if let Ok(status) = http_request(self.port, "GET", "/")
                && status.starts_with("HTTP/1.")
            {
                return Ok(());
            }
            if let Ok(Some(exit)) = self.child.try_wait() {
                return Err(format!("moto_server exited at start ({exit})"));
            }
            if start.elapsed() > limit {
                self.kill();
                return Err(format!("moto_server did not answer within {limit:?}"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port on 127.0.0.1")
}

/// Sends a bodiless request and returns the status line.
fn http_request(port: u16, method: &str, path: &str) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    Ok(response.lines().next().unwrap_or_default().to_owned())
}

/// A TCP link between a client and a server that a test can cut, as a
/// network failure or a server host dying would: once cut, open connections
/// are reset and new ones closed at once, while the server keeps its state.
pub struct FaultyLink {
    port: u16,
    state: Arc<LinkState>,
}

struct LinkState {
    upstream: u16,
    cut: AtomicBool,
    /// Bytes sent from clients to the server so far.
    sent: AtomicU64,
    /// Cut by itself once this many bytes were sent (u64::MAX: never).
    cut_after: AtomicU64,
    open: Mutex<Vec<TcpStream>>,
}

impl FaultyLink {
    /// A link to `upstream` on 127.0.0.1, listening on a port of its own.
    pub fn start(upstream: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the link");
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(LinkState {
            upstream,
            cut: AtomicBool::new(false),
            sent: AtomicU64::new(0),
            cut_after: AtomicU64::new(u64::MAX),
            open: Mutex::new(Vec::new()),
        });
        let shared = state.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                if shared.cut.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let Ok(server) = TcpStream::connect(("127.0.0.1", shared.upstream)) else {
                    continue;
                };
                relay(shared.clone(), client, server);
            }
        });
        FaultyLink { port, state }
    }

    /// Its URL, for `aws_endpoint`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Cuts the link once `bytes` more bytes have gone from clients to the server.
    pub fn cut_after(&self, bytes: u64) {
        let sent = self.state.sent.load(Ordering::SeqCst);
        self.state
            .cut_after
            .store(sent.saturating_add(bytes), Ordering::SeqCst);
    }

    /// Bytes sent from clients to the server so far.
    pub fn sent(&self) -> u64 {
        self.state.sent.load(Ordering::SeqCst)
    }

    /// Whether the link is cut.
    pub fn is_cut(&self) -> bool {
        self.state.cut.load(Ordering::SeqCst)
    }

    /// Lets connections through again.
    pub fn restore(&self) {
        self.state.cut_after.store(u64::MAX, Ordering::SeqCst);
        self.state.cut.store(false, Ordering::SeqCst);
    }
}

impl LinkState {
    fn cut_now(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for stream in self.open.lock().unwrap().drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

/// Copies both ways between `client` and `server` until either side closes
/// or the link is cut.
fn relay(state: Arc<LinkState>, client: TcpStream, server: TcpStream) {
    {
        let mut open = state.open.lock().unwrap();
        open.extend([client.try_clone().unwrap(), server.try_clone().unwrap()]);
    }
    let upstream_state = state.clone();
    let (mut client_in, mut server_out) =
        (client.try_clone().unwrap(), server.try_clone().unwrap());
    std::thread::spawn(move || {
        let mut buffer = [0u8; 64 * 1024];
        while let Ok(read) = client_in.read(&mut buffer) {
            if read == 0 || upstream_state.cut.load(Ordering::SeqCst) {
                break;
            }
            let sent = upstream_state.sent.fetch_add(read as u64, Ordering::SeqCst) + read as u64;
            if sent >= upstream_state.cut_after.load(Ordering::SeqCst) {
                upstream_state.cut_now();
                break;
            }
            if server_out.write_all(&buffer[..read]).is_err() {
                break;
            }
        }
        let _ = server_out.shutdown(Shutdown::Write);
    });
    let (mut server_in, mut client_out) = (server, client);
    std::thread::spawn(move || {
        let mut buffer = [0u8; 64 * 1024];
        while let Ok(read) = server_in.read(&mut buffer) {
            if read == 0 || state.cut.load(Ordering::SeqCst) {
                break;
            }
            if client_out.write_all(&buffer[..read]).is_err() {
                break;
            }
        }
        let _ = client_out.shutdown(Shutdown::Write);
    });
}

/// Why Slurm cannot be used here, if it cannot: a `slurm.conf` must be found
/// and `sinfo` must answer within 10 s with a node that accepts jobs.
pub fn slurm_unavailable() -> Option<String> {
    let conf = std::env::var_os("SLURM_CONF")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/etc/slurm/slurm.conf"));
    if !conf.is_file() {
        return Some(format!(
            "a Slurm cluster: no {} (run `.ci/slurm.sh start`, or set SLURM_CONF)",
            conf.display()
        ));
    }
    let mut sinfo = match Command::new("sinfo")
        .args(["-h", "-N", "-o", "%t"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(e) => {
            return Some(format!(
                "a Slurm cluster: sinfo cannot run ({e}); run `.ci/slurm.sh start`"
            ));
        }
    };
    // sinfo retries for a minute when no controller answers.
    let start = Instant::now();
    while sinfo.try_wait().ok().flatten().is_none() {
        if start.elapsed() > Duration::from_secs(10) {
            let _ = sinfo.kill();
            let _ = sinfo.wait();
            return Some(
                "a Slurm cluster: sinfo got no answer within 10 s (is slurmctld running? `.ci/slurm.sh status`)"
                    .into(),
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = sinfo.wait_with_output().expect("sinfo's output");
    let states = String::from_utf8_lossy(&output.stdout);
    let usable = states.split_whitespace().any(|state| {
        matches!(
            state.trim_end_matches('*'),
            "idle" | "mix" | "alloc" | "comp"
        )
    });
    if output.status.success() && usable {
        return None;
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    Some(format!(
        "a Slurm cluster: sinfo shows no usable node (states: '{}'{}); run `.ci/slurm.sh start`",
        states.split_whitespace().collect::<Vec<_>>().join(" "),
        stderr
            .lines()
            .next()
            .map(|l| format!(", {l}"))
            .unwrap_or_default()
    ))
}

/// Whether `test` may use Slurm; explains the skip otherwise (see [`skip`]).
pub fn slurm_or_skip(test: &str) -> bool {
    match slurm_unavailable() {
        None => true,
        Some(reason) => {
            skip(test, &reason);
            false
        }
    }
}

/// Writes `size` pseudo-random bytes (a function of `seed`) to `path`, 1 MiB
/// at a time, so that a test's memory does not grow with the file.
pub fn write_random_file(path: &std::path::Path, size: u64, seed: u64) {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut state = seed | 1;
    let mut chunk = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        for word in chunk.chunks_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            word.copy_from_slice(&state.to_le_bytes()[..word.len()]);
        }
        let take = left.min(chunk.len() as u64) as usize;
        file.write_all(&chunk[..take]).unwrap();
        left -= take as u64;
    }
    file.flush().unwrap();
}
