//! Helpers shared by the `store_*` tests: small graphs, child processes, mounts.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use pipeline_core::Runtime;
use pipeline_core::graph::{Graph, GraphBuilder, NodeSpec, TaskSpec};
use pipeline_core::store::SqliteOptions;
use pipeline_core::task::TaskDef;

/// Counts how often each task body runs.
#[derive(Default, Clone)]
pub struct Counters(pub Arc<[AtomicUsize; 4]>);

impl Counters {
    pub fn bump(&self, i: usize) {
        self.0[i].fetch_add(1, Ordering::SeqCst);
    }
    pub fn get(&self) -> [usize; 4] {
        [0, 1, 2, 3].map(|i| self.0[i].load(Ordering::SeqCst))
    }
}

/// x --square--> squared --parity--> parity --label--> label
pub fn chain(counters: &Counters, parity_version: &str) -> Graph {
    let (c0, c1, c2) = (counters.clone(), counters.clone(), counters.clone());
    GraphBuilder::new("chain")
        .node(NodeSpec::new::<i64>("x").with_default(3))
        .node(NodeSpec::new::<i64>("squared"))
        .node(NodeSpec::new::<i64>("parity"))
        .node(NodeSpec::new::<String>("label"))
        .task(
            TaskSpec::new(TaskDef::from_fn1("square", "1", move |x: &i64| {
                c0.bump(0);
                x * x
            }))
            .inputs(["x"])
            .outputs(["squared"])
            .skippable(true),
        )
        .task(
            TaskSpec::new(TaskDef::from_fn1(
                "parity",
                parity_version,
                move |x: &i64| {
                    c1.bump(1);
                    x % 2
                },
            ))
            .inputs(["squared"])
            .outputs(["parity"])
            .skippable(true),
        )
        .task(
            TaskSpec::new(TaskDef::from_fn1("label", "1", move |p: &i64| {
                c2.bump(2);
                if *p == 0 { "even" } else { "odd" }.to_owned()
            }))
            .inputs(["parity"])
            .outputs(["label"])
            .skippable(true),
        )
        .build()
        .unwrap()
}

/// size --fill--> blob (a `Vec<u8>` of `size` bytes, each `size % 251`)
/// --checksum--> sum. Large sizes make `blob` a value file.
pub fn blobs(counters: &Counters) -> Graph {
    let (c0, c1) = (counters.clone(), counters.clone());
    GraphBuilder::new("blobs")
        .node(NodeSpec::new::<u64>("size").with_default(100_000))
        .node(NodeSpec::new::<Vec<u8>>("blob"))
        .node(NodeSpec::new::<u64>("sum"))
        .task(
            TaskSpec::new(TaskDef::from_fn1("fill", "1", move |size: &u64| {
                c0.bump(0);
                vec![(*size % 251) as u8; *size as usize]
            }))
            .inputs(["size"])
            .outputs(["blob"])
            .skippable(true),
        )
        .task(
            TaskSpec::new(TaskDef::from_fn1("checksum", "1", move |blob: &Vec<u8>| {
                c1.bump(1);
                blob.iter().map(|b| u64::from(*b)).sum::<u64>()
            }))
            .inputs(["blob"])
            .outputs(["sum"])
            .skippable(true),
        )
        .build()
        .unwrap()
}

/// Options for tests: no messages, no wait for batches beyond a millisecond.
pub fn quiet() -> SqliteOptions {
    SqliteOptions::new().quiet(true)
}

/// A runtime over the store in `dir` with quiet options.
pub fn open(dir: &Path) -> Runtime {
    Runtime::open_with(dir, quiet()).unwrap()
}

/// The value files directly in `objects/`.
pub fn object_files(store: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(store.join("objects"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

/// The environment variable that makes a test binary act as a child process.
pub const CHILD: &str = "PIPELINE_STORE_TEST_CHILD";

/// Starts this test binary again, running only `test` with `CHILD=role`.
pub fn spawn_child(test: &str, role: &str, envs: &[(&str, &Path)]) -> Child {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, role)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, value) in envs {
        command.env(key, value);
    }
    command.spawn().unwrap()
}

/// The role this process plays, if it is a child.
pub fn child_role() -> Option<String> {
    std::env::var(CHILD).ok()
}

/// Waits until `path` exists (a child's signal), panicking after a minute.
pub fn wait_for_file(path: &Path, child: &mut Child) {
    let start = Instant::now();
    while !path.exists() {
        if let Some(status) = child.try_wait().unwrap() {
            let output = child_output(child);
            panic!(
                "child exited ({status}) before signalling {}:\n{output}",
                path.display()
            );
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "child never signalled {}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// What a finished child printed.
pub fn child_output(child: &mut Child) -> String {
    use std::io::Read;
    let mut out = String::new();
    if let Some(stdout) = child.stdout.as_mut() {
        let _ = stdout.read_to_string(&mut out);
    }
    if let Some(stderr) = child.stderr.as_mut() {
        let _ = stderr.read_to_string(&mut out);
    }
    out
}

/// A tmpfs mounted on a fresh directory, unmounted on drop; `None` where this
/// machine does not let tests mount (not root, no capability).
pub struct Mount {
    pub dir: tempfile::TempDir,
}

impl Mount {
    pub fn tmpfs(size: &str) -> Option<Self> {
        let dir = tempfile::tempdir().ok()?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("skipped: cannot mount a tmpfs here");
            return None;
        }
        Some(Self { dir })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Remounts read-only (`true`) or read-write.
    pub fn set_read_only(&self, read_only: bool) {
        let mode = if read_only {
            "remount,ro"
        } else {
            "remount,rw"
        };
        let status = Command::new("mount")
            .args(["-o", mode])
            .arg(self.dir.path())
            .status()
            .unwrap();
        assert!(status.success(), "mount -o {mode} failed");
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}
