//! Slurm through its commands: `sbatch` to submit a worker, one shared
//! `squeue` poller for every job of a submission, `scontrol show job` for
//! the state of a job that ended without a result, `scancel`.
//!
//! Jobs are submitted with `--no-requeue` (retries are the coordinator's
//! decision, with attempts of their own), `--export=ALL` (the worker sees the
//! coordinator's environment, object store credentials included), a name
//! `pl-<task>` and the task manifest's URL as comment, so that a later
//! coordinator can find a job an interrupted one left (`squeue --me`).

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, bounded};
use parking_lot::Mutex;

use super::options::FailureKind;
use crate::resources::{Resources, slurm_time};

/// The job name prefix of every worker job.
pub(crate) const JOB_PREFIX: &str = "pl-";

/// A job as `squeue` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct QueuedJob {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) state: String,
    pub(crate) comment: String,
}

/// A job's end as `scontrol show job` describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct JobEnd {
    /// `JobState` (`FAILED`, `CANCELLED`...), if Slurm still knows the job.
    pub(crate) state: Option<String>,
    /// `ExitCode` (`exit:signal`).
    pub(crate) exit_code: Option<String>,
    /// `Reason`.
    pub(crate) reason: Option<String>,
}

impl JobEnd {
    /// What kind of failure a job that left no result had.
    pub(crate) fn kind(&self) -> FailureKind {
        let signal = self
            .exit_code
            .as_deref()
            .and_then(|code| code.split_once(':'))
            .and_then(|(status, signal)| {
                let status: u32 = status.parse().ok()?;
                let signal: u32 = signal.parse().ok()?;
                // A shell reports a child killed by signal n as 128 + n.
                Some(match (signal, status.checked_sub(128)) {
                    (0, Some(shell_signal)) if shell_signal > 0 => shell_signal,
                    (signal, _) => signal,
                })
            })
            .unwrap_or(0);
        match self.state.as_deref().unwrap_or("") {
            "NODE_FAIL" | "BOOT_FAIL" => FailureKind::NodeFail,
            "PREEMPTED" => FailureKind::Preempted,
            "OUT_OF_MEMORY" => FailureKind::OutOfMemory,
            "TIMEOUT" | "DEADLINE" => FailureKind::Timeout,
            "CANCELLED" => FailureKind::Cancelled,
            _ if signal != 0 => FailureKind::Killed,
            _ => FailureKind::WorkerError,
        }
    }

    /// `CANCELLED (exit code 0:15, reason None)`.
    pub(crate) fn describe(&self) -> String {
        let mut text = self
            .state
            .clone()
            .unwrap_or_else(|| "unknown to slurm (purged)".to_owned());
        let mut details = Vec::new();
        if let Some(code) = &self.exit_code {
            details.push(format!("exit code {code}"));
        }
        if let Some(reason) = self.reason.as_deref().filter(|r| *r != "None") {
            details.push(format!("reason {reason}"));
        }
        if !details.is_empty() {
            text.push_str(&format!(" ({})", details.join(", ")));
        }
        text
    }
}

/// Whether a job in this `squeue` state has stopped running its worker.
fn has_ended(state: &str) -> bool {
    !matches!(
        state,
        "PENDING"
            | "RUNNING"
            | "CONFIGURING"
            | "SUSPENDED"
            | "REQUEUED"
            | "REQUEUE_FED"
            | "REQUEUE_HOLD"
            | "RESIZING"
            | "SIGNALING"
            | "STAGE_OUT"
            | "STOPPED"
            | "RESV_DEL_HOLD"
    )
}

/// Whether a state is final (no longer `COMPLETING`).
pub(crate) fn is_final(state: &str) -> bool {
    has_ended(state) && state != "COMPLETING"
}

/// Runs a Slurm command; its stdout, or a message with its stderr.
fn run(program: &str, args: &[String]) -> Result<String, String> {
    run_with(program, args, &[])
}

/// [`run`] with extra environment variables.
fn run_with(program: &str, args: &[String], env: &[(String, String)]) -> Result<String, String> {
    let output = Command::new(program)
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .output()
        .map_err(|e| {
            format!("slurm: cannot run `{program}` ({e}): is Slurm installed and on the PATH?")
        })?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        let stderr = String::from_utf8_lossy(&output.stderr);
        Err(format!(
            "slurm: `{program}` failed ({}): {}",
            output.status,
            stderr.trim()
        ))
    }
}

/// Quotes `text` for a POSIX shell.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// What one `sbatch` submits.
pub(crate) struct BatchJob<'a> {
    pub(crate) program: &'a Path,
    pub(crate) manifest_url: &'a str,
    pub(crate) task: &'a str,
    pub(crate) log_dir: &'a Path,
    pub(crate) resources: &'a Resources,
    pub(crate) extra_args: &'a [String],
    /// Variables the worker must see besides the submitter's own (the
    /// object store's settings given in code).
    pub(crate) env: &'a [(String, String)],
}

impl BatchJob<'_> {
    /// The arguments of `sbatch`.
    pub(crate) fn arguments(&self) -> Vec<String> {
        let mut args = vec![
            "--parsable".to_owned(),
            "--no-requeue".to_owned(),
            "--export=ALL".to_owned(),
            format!("--job-name={JOB_PREFIX}{}", self.task),
            format!("--comment={}", self.manifest_url),
            format!("--output={}", self.log_dir.join("%j.out").display()),
        ];
        if let Some(cpus) = self.resources.cpu_count() {
            args.push(format!("--cpus-per-task={cpus}"));
        }
        if let Some(mib) = self.resources.memory_mib() {
            args.push(format!("--mem={mib}M"));
        }
        if let Some(time) = self.resources.time_limit() {
            args.push(format!("--time={}", slurm_time(time)));
        }
        if let Some(partition) = self.resources.partition_name() {
            args.push(format!("--partition={partition}"));
        }
        args.extend(self.extra_args.iter().cloned());
        // `exec`: the worker is the job's process, so a signal that kills it
        // shows in the job's exit code.
        args.push("--wrap".to_owned());
        args.push(format!(
            "exec {} {} {}",
            shell_quote(&self.program.to_string_lossy()),
            crate::worker::WORKER_COMMAND,
            shell_quote(self.manifest_url)
        ));
        args
    }

    /// Submits the job; its id.
    pub(crate) fn submit(&self) -> Result<String, String> {
        let out = run_with("sbatch", &self.arguments(), self.env)?;
        // `--parsable`: `id` or `id;cluster`.
        let id = out.trim().split(';').next().unwrap_or_default().to_owned();
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
            return Err(format!(
                "slurm: sbatch answered `{}`, not a job id",
                out.trim()
            ));
        }
        Ok(id)
    }
}

/// Cancels a job (quietly: it may have ended meanwhile).
pub(crate) fn cancel(id: &str) -> Result<(), String> {
    run("scancel", &["--quiet".to_owned(), id.to_owned()]).map(drop)
}

/// The caller's jobs whose names start with [`JOB_PREFIX`] and that have
/// not ended.
pub(crate) fn my_jobs() -> Result<Vec<QueuedJob>, String> {
    let out = run(
        "squeue",
        &[
            "--me".into(),
            "-h".into(),
            "-o".into(),
            "%i|%j|%T|%k".into(),
        ],
    )?;
    Ok(out
        .lines()
        .filter_map(|line| {
            let mut fields = line.splitn(4, '|');
            Some(QueuedJob {
                id: fields.next()?.trim().to_owned(),
                name: fields.next()?.trim().to_owned(),
                state: fields.next()?.trim().to_owned(),
                comment: fields.next()?.trim().to_owned(),
            })
        })
        .filter(|job| job.name.starts_with(JOB_PREFIX) && !has_ended(&job.state))
        .collect())
}

/// `scontrol show job`'s view of a job, waiting (up to 30 s) for a job still
/// `COMPLETING` to reach its final state.
pub(crate) fn job_end(id: &str) -> JobEnd {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let Ok(out) = run(
            "scontrol",
            &["show".into(), "job".into(), "-o".into(), id.to_owned()],
        ) else {
            return JobEnd::default();
        };
        let field = |name: &str| {
            out.split_whitespace()
                .find_map(|f| f.strip_prefix(name)?.strip_prefix('='))
                .map(str::to_owned)
        };
        let end = JobEnd {
            state: field("JobState"),
            exit_code: field("ExitCode"),
            reason: field("Reason"),
        };
        match end.state.as_deref() {
            Some(state) if !is_final(state) && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(100));
            }
            _ => return end,
        }
    }
}

/// The last `lines` lines (at most 4 KiB) of a job's output file, or why
/// there are none.
pub(crate) fn log_tail(path: &Path, lines: usize) -> String {
    const MAX: u64 = 4096;
    let read = || -> std::io::Result<String> {
        let mut file = std::fs::File::open(path)?;
        let len = file.metadata()?.len();
        file.seek(SeekFrom::Start(len.saturating_sub(MAX)))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    };
    match read() {
        Ok(text) if text.trim().is_empty() => format!("its output {} is empty", path.display()),
        Ok(text) => {
            let all: Vec<&str> = text.trim_end().lines().collect();
            let tail = all[all.len().saturating_sub(lines)..].join("\n");
            format!("its output {} ends with:\n{tail}", path.display())
        }
        Err(e) => format!("its output {} cannot be read: {e}", path.display()),
    }
}

/// The output file of job `id` in `log_dir`.
pub(crate) fn log_file(log_dir: &Path, id: &str) -> PathBuf {
    log_dir.join(format!("{id}.out"))
}

/// What the poller tells a job's waiter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Polled {
    /// The job left the running states (`squeue`'s last state, if listed).
    Ended(Option<String>),
    /// The queue could not be read for too long.
    Lost(String),
}

/// One thread polling `squeue` for every job registered with it.
pub(crate) struct Poller {
    shared: Arc<Shared>,
    thread: Option<std::thread::JoinHandle<()>>,
}

struct Shared {
    jobs: Mutex<HashMap<String, Sender<Polled>>>,
    stop: Mutex<bool>,
    wake: parking_lot::Condvar,
}

/// How long the queue may stay unreadable before waiters are told.
const LOST_AFTER: Duration = Duration::from_secs(300);

impl Poller {
    /// Starts the polling thread.
    pub(crate) fn start(interval: Duration) -> Self {
        let shared = Arc::new(Shared {
            jobs: Mutex::new(HashMap::new()),
            stop: Mutex::new(false),
            wake: parking_lot::Condvar::new(),
        });
        let thread = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("pipeline-squeue".into())
                .spawn(move || poll(&shared, interval))
                .expect("spawn the squeue poller")
        };
        Self {
            shared,
            thread: Some(thread),
        }
    }

    /// Watches job `id`; the receiver gets one message when it ends.
    pub(crate) fn watch(&self, id: &str) -> Receiver<Polled> {
        let (tx, rx) = bounded(1);
        self.shared.jobs.lock().insert(id.to_owned(), tx);
        self.shared.wake.notify_all();
        rx
    }
}

impl Drop for Poller {
    fn drop(&mut self) {
        *self.shared.stop.lock() = true;
        self.shared.wake.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn poll(shared: &Shared, interval: Duration) {
    let mut failing_since: Option<Instant> = None;
    loop {
        {
            let mut stop = shared.stop.lock();
            if *stop {
                return;
            }
            shared.wake.wait_for(&mut stop, interval);
            if *stop {
                return;
            }
        }
        let ids: Vec<String> = shared.jobs.lock().keys().cloned().collect();
        if ids.is_empty() {
            failing_since = None;
            continue;
        }
        let listed = run(
            "squeue",
            &[
                "-h".into(),
                "-t".into(),
                "all".into(),
                "-j".into(),
                ids.join(","),
                "-o".into(),
                "%i|%T".into(),
            ],
        );
        let states: HashMap<String, String> = match listed {
            Ok(out) => {
                failing_since = None;
                out.lines()
                    .filter_map(|line| {
                        let (id, state) = line.split_once('|')?;
                        Some((id.trim().to_owned(), state.trim().to_owned()))
                    })
                    .collect()
            }
            // Asked only about jobs Slurm has forgotten.
            Err(message) if message.contains("Invalid job id") => HashMap::new(),
            Err(message) => {
                let since = *failing_since.get_or_insert_with(Instant::now);
                if since.elapsed() > LOST_AFTER {
                    let mut jobs = shared.jobs.lock();
                    for (_, waiter) in jobs.drain() {
                        let _ = waiter.send(Polled::Lost(format!(
                            "the job queue could not be read for {} s: {message}",
                            LOST_AFTER.as_secs()
                        )));
                    }
                }
                tracing::warn!("cannot read the slurm queue: {message}");
                continue;
            }
        };
        let mut jobs = shared.jobs.lock();
        for id in ids {
            let ended = match states.get(&id) {
                Some(state) => has_ended(state).then(|| Some(state.clone())),
                None => Some(None),
            };
            if let Some(state) = ended
                && let Some(waiter) = jobs.remove(&id)
            {
                let _ = waiter.send(Polled::Ended(state));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_killed_worker_is_told_from_a_failing_one() {
        let end = |state: &str, code: &str| JobEnd {
            state: Some(state.into()),
            exit_code: Some(code.into()),
            reason: None,
        };
        assert_eq!(end("FAILED", "0:9").kind(), FailureKind::Killed);
        assert_eq!(end("FAILED", "137:0").kind(), FailureKind::Killed);
        assert_eq!(end("FAILED", "2:0").kind(), FailureKind::WorkerError);
        assert_eq!(end("CANCELLED", "0:15").kind(), FailureKind::Cancelled);
        assert_eq!(
            end("OUT_OF_MEMORY", "0:125").kind(),
            FailureKind::OutOfMemory
        );
        assert_eq!(end("TIMEOUT", "0:0").kind(), FailureKind::Timeout);
        assert_eq!(end("NODE_FAIL", "0:0").kind(), FailureKind::NodeFail);
        assert_eq!(
            end("CANCELLED", "0:15").describe(),
            "CANCELLED (exit code 0:15)"
        );
    }

    #[test]
    fn the_worker_command_is_quoted_for_the_shell() {
        let resources = Resources::new()
            .cpus(2)
            .memory_in_mib(512)
            .partition("debug");
        let job = BatchJob {
            program: Path::new("/opt/my app/bin"),
            manifest_url: "s3://b/p/jobs/k/a'1/task.json",
            task: "score",
            log_dir: Path::new("/logs"),
            resources: &resources,
            extra_args: &["--qos=low".to_owned()],
            env: &[],
        };
        let args = job.arguments();
        assert!(args.contains(&"--cpus-per-task=2".to_owned()));
        assert!(args.contains(&"--mem=512M".to_owned()));
        assert!(args.contains(&"--partition=debug".to_owned()));
        assert!(args.contains(&"--job-name=pl-score".to_owned()));
        assert!(args.contains(&"--output=/logs/%j.out".to_owned()));
        assert_eq!(
            args.last().unwrap(),
            r"exec '/opt/my app/bin' __pipeline-worker 's3://b/p/jobs/k/a'\''1/task.json'"
        );
        let qos = args.iter().position(|a| a == "--qos=low").unwrap();
        assert!(qos < args.iter().position(|a| a == "--wrap").unwrap());
    }
}
