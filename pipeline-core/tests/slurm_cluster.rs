//! The Slurm behaviour the Slurm executor relies on, checked on the real
//! cluster that `.ci/slurm.sh start` brings up (each test skips, saying why,
//! where no cluster answers; CI sets PIPELINE_REQUIRE_REMOTE=1 so they run):
//! a batch job runs with the submitter's environment and writes its output
//! file, and a cancelled job's final state stays visible after it left the
//! queue (docs/distributed.md, section 4).

mod remote_support;

use std::process::Command;
use std::time::{Duration, Instant};

fn run(program: &str, args: &[&str]) -> String {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        output.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// `scontrol show job`'s `JobState=` value.
fn job_state(id: &str) -> String {
    let shown = run("scontrol", &["show", "job", id]);
    shown
        .split_whitespace()
        .find_map(|field| field.strip_prefix("JobState="))
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn a_batch_job_runs_with_the_submitters_environment_and_writes_its_output() {
    let test = "a_batch_job_runs_with_the_submitters_environment_and_writes_its_output";
    if !remote_support::slurm_or_skip(test) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let result = dir.path().join("result.txt");
    let log = dir.path().join("%j.out");
    let script = format!(
        "echo \"$PIPELINE_PROBE\" > {}; echo to-stderr >&2",
        result.display()
    );
    let id = Command::new("sbatch")
        .args(["--parsable", "--wait", "--no-requeue", "--export=ALL"])
        .arg(format!("--output={}", log.display()))
        .args(["--wrap", &script])
        .env("PIPELINE_PROBE", "from the coordinator")
        .output()
        .unwrap();
    assert!(
        id.status.success(),
        "{}",
        String::from_utf8_lossy(&id.stderr)
    );
    let id = String::from_utf8_lossy(&id.stdout).trim().to_owned();

    assert_eq!(
        std::fs::read_to_string(&result).unwrap(),
        "from the coordinator\n"
    );
    let output = std::fs::read_to_string(dir.path().join(format!("{id}.out"))).unwrap();
    assert_eq!(
        output, "to-stderr\n",
        "the job's stderr goes to its output file"
    );
    assert_eq!(job_state(&id), "COMPLETED");
}

#[test]
fn a_cancelled_job_leaves_the_queue_and_says_it_was_cancelled() {
    let test = "a_cancelled_job_leaves_the_queue_and_says_it_was_cancelled";
    if !remote_support::slurm_or_skip(test) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let output = format!("--output={}/%j.out", dir.path().display());
    let id = run(
        "sbatch",
        &["--parsable", "--no-requeue", &output, "--wrap", "sleep 300"],
    );
    run("scancel", &[&id]);
    let start = Instant::now();
    // squeue lists pending, running and completing jobs (and fails for a job
    // it has forgotten).
    let queued = || {
        let listed = Command::new("squeue")
            .args(["-h", "-j", &id, "-o", "%i"])
            .output()
            .unwrap();
        listed.status.success() && !listed.stdout.trim_ascii().is_empty()
    };
    while queued() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "job {id} is still queued after scancel"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(job_state(&id), "CANCELLED");
}
