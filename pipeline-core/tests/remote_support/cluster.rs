//! A Slurm cluster for the remote executor's tests (included by them as
//! `#[path = "remote_support/cluster.rs"] mod cluster;` beside
//! `mod remote_support;`): the options that make a
//! test's jobs use its own object store and log directory, and helpers that
//! look at jobs with `scontrol`.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use pipeline_core::objects::ObjectStoreOptions;
use pipeline_core::remote::SlurmOptions;
use pipeline_core::{Executor, SubmitOptions};

use crate::remote_support::{S3Server, slurm_or_skip};

/// A test's place on the cluster: a directory every job sees (this machine
/// is the only node) holding an object store, job output and scratch files.
pub struct Cluster {
    pub dir: tempfile::TempDir,
}

impl Cluster {
    /// The fixture, or `None` (after saying why) where no cluster answers.
    pub fn start_or_skip(test: &str) -> Option<Self> {
        if !slurm_or_skip(test) {
            return None;
        }
        Some(Self {
            dir: tempfile::tempdir().unwrap(),
        })
    }

    /// The shared object store directory.
    pub fn objects(&self) -> PathBuf {
        self.dir.path().join("objects")
    }

    /// Where jobs write their output.
    pub fn logs(&self) -> PathBuf {
        self.dir.path().join("logs")
    }

    /// A directory tasks may use to leave marks (by path, as an input).
    pub fn marks(&self) -> PathBuf {
        let dir = self.dir.path().join("marks");
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// Where workers make their scratch directories (their `TMPDIR`).
    pub fn scratch(&self) -> PathBuf {
        let dir = self.dir.path().join("scratch");
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// The scratch directories workers left behind.
    pub fn scratch_left(&self) -> Vec<String> {
        std::fs::read_dir(self.scratch())
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.starts_with("pipeline-worker-"))
            .collect()
    }

    /// Slurm options over the directory object store, polling quickly, the
    /// workers' scratch directories in the test's own directory.
    pub fn slurm(&self) -> SlurmOptions {
        SlurmOptions::new()
            .objects(self.objects().to_str().unwrap())
            .log_dir(self.logs())
            .poll_interval(Duration::from_millis(50))
            .sbatch_arg(format!("--export=ALL,TMPDIR={}", self.scratch().display()))
    }

    /// Slurm options over a bucket of `server`.
    pub fn slurm_s3(&self, server: &S3Server, bucket: &str) -> SlurmOptions {
        self.slurm()
            .objects(format!("s3://{bucket}/runs"))
            .object_store_options(s3_options(&server.endpoint()))
    }

    /// Submit options running on the cluster with `slurm`.
    pub fn submit(slurm: SlurmOptions) -> SubmitOptions {
        SubmitOptions::new().executor(Executor::slurm(slurm))
    }
}

/// Object store options reaching a test server without TLS, with few,
/// short retries so that fault tests end quickly.
pub fn s3_options(endpoint: &str) -> ObjectStoreOptions {
    ObjectStoreOptions::default()
        .with_s3_setting("aws_endpoint", endpoint)
        .with_s3_setting("aws_allow_http", "true")
        .with_s3_setting("aws_access_key_id", "test")
        .with_s3_setting("aws_secret_access_key", "test")
        .with_s3_setting("aws_region", "us-east-1")
        .with_retries(1, Duration::from_secs(3))
        .with_timeouts(Duration::from_secs(2), Duration::from_secs(30))
}

/// A field of `scontrol show job -o <id>` (`NumCPUs`, `TimeLimit`...).
pub fn job_field(id: &str, field: &str) -> Option<String> {
    let output = Command::new("scontrol")
        .args(["show", "job", "-o", id])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.split_whitespace()
        .find_map(|f| f.strip_prefix(field)?.strip_prefix('='))
        .map(str::to_owned)
}

/// Waits (up to a minute) until `path` exists.
pub fn wait_for_file(path: &Path) -> bool {
    for _ in 0..1200 {
        if path.exists() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// Waits (up to a minute) until the cluster has at least `cpus` idle CPUs,
/// and panics naming what holds them otherwise: a test that needs jobs to
/// run at once then fails on its cause (jobs left from elsewhere), not on
/// its symptom.
pub fn wait_for_idle_cpus(cpus: u32) {
    let mut last = String::new();
    for _ in 0..600 {
        // "allocated/idle/other/total" for the partition.
        let output = Command::new("sinfo").args(["-h", "-o", "%C"]).output();
        if let Ok(output) = output {
            last = String::from_utf8_lossy(&output.stdout).trim().to_owned();
            let idle = last.split('/').nth(1).and_then(|n| n.parse::<u32>().ok());
            if idle.is_some_and(|idle| idle >= cpus) {
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let queue = Command::new("squeue")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    panic!(
        "this test needs {cpus} idle CPUs on the cluster; after a minute sinfo says \
         allocated/idle/other/total = {last}. The queue:\n{queue}"
    );
}
