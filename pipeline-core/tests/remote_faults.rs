//! Faults of the Slurm executor on the real cluster (`.ci/slurm.sh start`)
//! and a real S3 server: workers cancelled, killed or failing, retries, a
//! stale worker binary, the coordinator killed mid-submission, the object
//! store unreachable. In each, the user gets a clear message and nothing
//! stored is lost or replaced by something partial.
//!
//! Own `main` (`harness = false`): the test binary is the worker its jobs
//! run, and, started as `<binary> __coordinator <dir> <cancel-stale>`, the
//! coordinator process a test kills.

#[path = "remote_support/cluster.rs"]
mod cluster;
mod remote_support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode};
use std::time::Duration;

use cluster::{Cluster, wait_for_file};
use libtest_mimic::{Arguments, Trial};
use pipeline_core::code::CodeIdentity;
use pipeline_core::graph::{GraphBuilder, NodeSpec, TaskSpec};
use pipeline_core::remote::{FailureKind, SlurmOptions};
use pipeline_core::{JobStatus, Runtime, Submission, scenario, task};
use remote_support::{FaultyLink, S3Server};

/// Appends a line to `<marks>/runs-<task>`: how often a task body ran.
fn count_run(marks: &str, task: &str) {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(Path::new(marks).join(format!("runs-{task}")))
        .unwrap();
    // One write per line: processes append to the same file at once.
    file.write_all(format!("{}\n", std::process::id()).as_bytes())
        .unwrap();
}

fn runs(marks: &Path, task: &str) -> usize {
    std::fs::read_to_string(marks.join(format!("runs-{task}")))
        .map_or(0, |text| text.lines().count())
}

/// `mode` 0 returns at once. Otherwise it leaves its pid and Slurm job id
/// in `marks` and says so on stderr; then mode 1 waits to be killed (failing
/// after two minutes), mode 2 waits for `<marks>/go` and returns 200.
#[task(skippable)]
fn victim(marks: &str, mode: &i64) -> Result<i64, String> {
    count_run(marks, "victim");
    if *mode == 0 {
        return Ok(100);
    }
    eprintln!("victim: working on mode {mode}");
    let job = std::env::var("SLURM_JOB_ID").unwrap_or_default();
    let marks = Path::new(marks);
    std::fs::write(
        marks.join("victim.tmp"),
        format!("{} {job}", std::process::id()),
    )
    .unwrap();
    std::fs::rename(marks.join("victim.tmp"), marks.join("victim")).unwrap();
    if *mode == 2 {
        return if wait_for_file(&marks.join("go")) {
            Ok(200)
        } else {
            Err("never told to go".into())
        };
    }
    std::thread::sleep(Duration::from_secs(120));
    Err("victim was not killed".into())
}

#[task(skippable)]
fn after_victim(victim: &i64) -> i64 {
    victim + 1
}

scenario! {
    pub struct Victims {
        data {
            marks: String = String::new(),
            mode: i64 = 0,
            victim_out: i64,
            after: i64,
        }
        tasks {
            victim(marks, mode) -> victim_out,
            after_victim(victim_out) -> after,
        }
    }
}

/// Fails with an error for negative input, panics for zero.
/// A job's error with the place of a panic left out: `panicked at
/// FILE:LINE:COLUMN: message` as `panicked: message`.
fn without_location(error: &str) -> String {
    match error.strip_prefix("panicked at ") {
        Some(rest) => match rest.split_once(": ") {
            Some((_, message)) => format!("panicked: {message}"),
            None => error.to_owned(),
        },
        None => error.to_owned(),
    }
}

#[task(skippable)]
fn picky(x: &i64) -> Result<i64, String> {
    if *x < 0 {
        return Err(format!("bad input: {x} is negative"));
    }
    assert!(*x != 0, "zero is not allowed");
    Ok(*x)
}

#[task(skippable)]
fn after_picky(picky: &i64) -> i64 {
    picky * 10
}

scenario! {
    pub struct Picky {
        data { x: i64 = 1, picked: i64, tenfold: i64 }
        tasks {
            picky(x) -> picked,
            after_picky(picked) -> tenfold,
        }
    }
}

/// Aborts the worker (SIGABRT) on its first run, succeeds on the next.
#[task(skippable)]
fn dies_once(marks: &str) -> i64 {
    count_run(marks, "dies_once");
    let died = Path::new(marks).join("died");
    if !died.exists() {
        std::fs::write(&died, b"").unwrap();
        eprintln!("dies_once: aborting the first attempt");
        std::process::abort();
    }
    7
}

/// Fails its first run with an error (deterministic failure).
#[task(skippable)]
fn errs_once(marks: &str) -> Result<i64, String> {
    count_run(marks, "errs_once");
    let failed = Path::new(marks).join("erred");
    if !failed.exists() {
        std::fs::write(&failed, b"").unwrap();
        return Err("the first run fails".into());
    }
    Ok(8)
}

scenario! {
    pub struct Flaky {
        data { marks: String = String::new(), survived: i64 }
        tasks { dies_once(marks) -> survived }
    }
}

scenario! {
    pub struct Erring {
        data { marks: String = String::new(), result: i64 }
        tasks { errs_once(marks) -> result }
    }
}

#[task(skippable)]
fn double(x: &i64) -> i64 {
    x * 2
}

/// Returns at once.
#[task(skippable)]
fn quick(marks: &str) -> i64 {
    count_run(marks, "quick");
    1
}

/// Leaves a mark, then waits for `<marks>/release` (up to two minutes).
#[task(skippable)]
fn slow(marks: &str) -> Result<i64, String> {
    count_run(marks, "slow");
    let marks = Path::new(marks);
    std::fs::write(marks.join("slow-started"), b"").unwrap();
    if wait_for_file(&marks.join("release")) || wait_for_file(&marks.join("release")) {
        Ok(2)
    } else {
        Err("never released".into())
    }
}

#[task(skippable)]
fn join(quick: &i64, slow: &i64) -> i64 {
    quick + slow
}

scenario! {
    pub struct Interrupted {
        data {
            marks: String = String::new(),
            quick_out: i64,
            slow_out: i64,
            joined: i64,
        }
        tasks {
            quick(marks) -> quick_out,
            slow(marks) -> slow_out,
            join(quick_out, slow_out) -> joined,
        }
    }
}

fn submit(_: &Cluster, scenario: &pipeline_core::Scenario, slurm: SlurmOptions) -> Submission {
    scenario.submit_with(&Cluster::submit(slurm)).unwrap()
}

/// Waits for the victim's mark: `(pid, slurm job id)`.
fn victim_mark(marks: &Path) -> (String, String) {
    assert!(
        wait_for_file(&marks.join("victim")),
        "the victim never started"
    );
    let text = std::fs::read_to_string(marks.join("victim")).unwrap();
    let (pid, job) = text.split_once(' ').unwrap();
    (pid.to_owned(), job.to_owned())
}

/// Kills the victim's worker with `kill` and checks what its job records;
/// `scratch_removed`: whether the worker could remove its scratch directory.
fn check_killed_victim(
    kill: impl FnOnce(&str, &str) + Send,
    expect_state: &str,
    scratch_removed: bool,
) {
    let test = format!("a_worker_killed_{expect_state}");
    let Some(cluster) = Cluster::start_or_skip(&test) else {
        return;
    };
    let runtime = Runtime::open(cluster.dir.path().join("store")).unwrap();
    let victims = Victims::create(&runtime, "v").unwrap();
    let marks = cluster.marks();
    victims
        .marks()
        .write(marks.to_str().unwrap().to_owned())
        .unwrap();
    assert!(submit(&cluster, victims.scenario(), cluster.slurm()).is_success());
    assert_eq!(*victims.after().read().unwrap(), 101);

    victims.mode().write(1).unwrap();
    let done = std::thread::scope(|scope| {
        scope.spawn(|| {
            let (pid, job) = victim_mark(&marks);
            kill(&pid, &job);
        });
        submit(&cluster, victims.scenario(), cluster.slurm())
    });
    let job = done.job("victim").unwrap();
    assert_eq!(job.status, JobStatus::Failed);
    let error = job.error.as_deref().unwrap();
    assert!(error.contains(expect_state), "{error}");
    assert!(error.contains("without a result"), "{error}");
    assert!(
        error.contains("victim: working on mode 1"),
        "the tail of the worker's stderr: {error}"
    );
    assert_eq!(done.status("after_victim"), Some(JobStatus::Abandoned));
    // The first submission's workers ended normally; the victim's removed
    // its scratch directory unless killed outright.
    let left = cluster.scratch_left();
    assert_eq!(left.len(), usize::from(!scratch_removed), "{left:?}");
    // Nothing partial: the earlier versions stay current.
    assert_eq!(*victims.victim_out().read().unwrap(), 100);
    assert_eq!(victims.victim_out().version().unwrap(), Some(1));
    assert_eq!(*victims.after().read().unwrap(), 101);
}

fn a_worker_cancelled_with_scancel_fails_its_job_and_abandons_its_dependents() {
    check_killed_victim(
        |_, job| {
            let status = Command::new("scancel").arg(job).status().unwrap();
            assert!(status.success());
        },
        "CANCELLED",
        true,
    );
}

fn a_worker_killed_with_sigkill_fails_its_job_and_abandons_its_dependents() {
    check_killed_victim(
        |pid, _| {
            let status = Command::new("kill").args(["-9", pid]).status().unwrap();
            assert!(status.success());
        },
        "exit code 0:9",
        false,
    );
}

fn a_failing_task_fails_its_job_with_the_message_a_local_run_gives() {
    let Some(cluster) =
        Cluster::start_or_skip("a_failing_task_fails_its_job_with_the_message_a_local_run_gives")
    else {
        return;
    };
    for x in [-1, 0] {
        let remote = Picky::create(&Runtime::in_memory(), "remote").unwrap();
        let local = Picky::create(&Runtime::in_memory(), "local").unwrap();
        remote.x().write(x).unwrap();
        local.x().write(x).unwrap();
        let remote_run = submit(&cluster, remote.scenario(), cluster.slurm());
        let local_run = local.scenario().submit().unwrap();
        assert_eq!(remote_run.status("picky"), Some(JobStatus::Failed));
        let (remote_error, local_error) = (
            remote_run.job("picky").unwrap().error.clone().unwrap(),
            local_run.job("picky").unwrap().error.clone().unwrap(),
        );
        // The worker's panic hook records where a panic happened, which a
        // library run without the CLI's hook cannot: the same otherwise.
        assert_eq!(without_location(&remote_error), &*local_error);
        if x == 0 {
            assert!(
                remote_error.starts_with("panicked at ")
                    && remote_error.contains("remote_faults.rs:"),
                "{remote_error}"
            );
        }
        assert_eq!(remote_run.status("after_picky"), Some(JobStatus::Abandoned));
        assert!(remote.picked().read().is_err(), "nothing stored");
    }
}

fn an_aborted_worker_is_retried_when_allowed() {
    let Some(cluster) = Cluster::start_or_skip("an_aborted_worker_is_retried_when_allowed") else {
        return;
    };
    // Each case marks a directory of its own (so each has a key of its own:
    // a completed result of the same key would be reused).
    let flaky = |case: &str| {
        let marks = cluster.marks().join(case);
        std::fs::create_dir_all(&marks).unwrap();
        let flaky = Flaky::create(&Runtime::in_memory(), case).unwrap();
        flaky
            .marks()
            .write(marks.to_str().unwrap().to_owned())
            .unwrap();
        (flaky, marks)
    };
    // No retries: the kill is the job's failure.
    let (no_retries, marks) = flaky("no retries");
    let done = submit(&cluster, no_retries.scenario(), cluster.slurm());
    let error = done.job("dies_once").unwrap().error.clone().unwrap();
    assert!(error.contains("exit code 0:6"), "{error}");
    assert!(error.contains("aborting the first attempt"), "{error}");
    assert_eq!(runs(&marks, "dies_once"), 1);

    // One retry, on kills: the second attempt completes.
    let (retried, marks) = flaky("retried");
    let done = submit(&cluster, retried.scenario(), cluster.slurm().retries(1));
    let job = done.job("dies_once").unwrap();
    assert_eq!(job.status, JobStatus::Completed, "{job:#?}");
    assert_eq!(job.remote.as_ref().unwrap().attempt, 2);
    assert_eq!(*retried.survived().read().unwrap(), 7);
    assert_eq!(runs(&marks, "dies_once"), 2);

    // Kills not among the failures to retry: one attempt only.
    let (not_on_kills, marks) = flaky("not on kills");
    let slurm = cluster.slurm().retries(3).retry_on([FailureKind::NodeFail]);
    let done = submit(&cluster, not_on_kills.scenario(), slurm);
    assert_eq!(done.status("dies_once"), Some(JobStatus::Failed));
    assert_eq!(runs(&marks, "dies_once"), 1);
}

fn a_task_error_is_retried_only_when_asked() {
    let Some(cluster) = Cluster::start_or_skip("a_task_error_is_retried_only_when_asked") else {
        return;
    };
    let marks = cluster.marks();
    let erring = Erring::create(&Runtime::in_memory(), "default").unwrap();
    erring
        .marks()
        .write(marks.to_str().unwrap().to_owned())
        .unwrap();
    let done = submit(&cluster, erring.scenario(), cluster.slurm().retries(2));
    let job = done.job("errs_once").unwrap();
    assert_eq!(job.error.as_deref(), Some("the first run fails"));
    assert_eq!(
        runs(&marks, "errs_once"),
        1,
        "an Err is not retried by default"
    );

    std::fs::remove_file(marks.join("erred")).unwrap();
    let erring = Erring::create(&Runtime::in_memory(), "asked").unwrap();
    erring
        .marks()
        .write(marks.to_str().unwrap().to_owned())
        .unwrap();
    let slurm = cluster
        .slurm()
        .retries(2)
        .retry_on([FailureKind::TaskError]);
    let done = submit(&cluster, erring.scenario(), slurm);
    assert_eq!(done.status("errs_once"), Some(JobStatus::Completed));
    assert_eq!(runs(&marks, "errs_once"), 3);
}

fn a_stale_worker_build_never_records_outputs() {
    let Some(cluster) = Cluster::start_or_skip("a_stale_worker_build_never_records_outputs") else {
        return;
    };
    // The submitting program's `double` is a newer build than the worker's.
    use pipeline_core::__private::Task;
    let newer = double::def().with_code_fingerprint(CodeIdentity::pinned("a newer build"));
    let graph = GraphBuilder::new("stale")
        .node(NodeSpec::new::<i64>("x").with_default(2))
        .node(NodeSpec::new::<i64>("y"))
        .task(
            TaskSpec::new(newer)
                .inputs(["x"])
                .outputs(["y"])
                .skippable(true),
        )
        .build()
        .unwrap();
    let scenario = Runtime::in_memory().create_scenario(graph, "s").unwrap();
    let done = submit(&cluster, &scenario, cluster.slurm().retries(2));
    let job = done.job("double").unwrap();
    assert_eq!(job.status, JobStatus::Failed);
    let error = job.error.as_deref().unwrap();
    assert!(
        error.contains("this worker's build of task `double` is not the one that was submitted"),
        "{error}"
    );
    assert!(error.contains("differing: "), "{error}");
    assert!(
        scenario.node::<i64>("y").unwrap().read().is_err(),
        "no output recorded"
    );
    assert_eq!(
        job.remote.as_ref().unwrap().attempt,
        1,
        "not retried by default"
    );
}

/// `<binary> __coordinator <dir> <cancel-stale>`: submits the `Interrupted`
/// scenario of the store in `<dir>/store` on the cluster.
fn coordinator(dir: &Path, cancel_stale: bool) -> ExitCode {
    let runtime = Runtime::open(dir.join("store")).unwrap();
    let scenario = Interrupted::find_or_create(&runtime, "interrupted").unwrap();
    scenario
        .marks()
        .write(dir.join("marks").to_str().unwrap().to_owned())
        .unwrap();
    let cluster = Cluster {
        dir: tempfile::TempDir::new_in(dir).unwrap(),
    };
    let slurm = cluster
        .slurm()
        .objects(dir.join("objects").to_str().unwrap())
        .log_dir(dir.join("logs"))
        .cancel_stale(cancel_stale);
    let done = scenario
        .scenario()
        .submit_with(&Cluster::submit(slurm))
        .unwrap();
    if done.is_success() {
        ExitCode::SUCCESS
    } else {
        eprintln!("{done:#?}");
        ExitCode::FAILURE
    }
}

fn spawn_coordinator(dir: &Path, cancel_stale: bool) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .arg("__coordinator")
        .arg(dir)
        .arg(cancel_stale.to_string())
        .spawn()
        .unwrap()
}

fn check_coordinator_killed(cancel_stale: bool) {
    let test = format!("a_coordinator_killed_midway_cancel_stale_{cancel_stale}");
    let Some(cluster) = Cluster::start_or_skip(&test) else {
        return;
    };
    let dir = cluster.dir.path();
    let marks = cluster.marks();
    // The first coordinator: `quick` completes, `slow` runs; then it dies.
    let mut first = spawn_coordinator(dir, false);
    assert!(
        wait_for_file(&marks.join("slow-started")),
        "slow never started"
    );
    while runs(&marks, "quick") == 0 {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500));
    first.kill().unwrap();
    first.wait().unwrap();

    // The next one reuses what is stored, and adopts (or cancels) the rest.
    let mut second = spawn_coordinator(dir, cancel_stale);
    std::thread::sleep(Duration::from_secs(2));
    std::fs::write(marks.join("release"), b"").unwrap();
    assert!(
        second.wait().unwrap().success(),
        "the second coordinator failed"
    );

    let runtime = Runtime::open(dir.join("store")).unwrap();
    let scenario = Interrupted::find(&runtime, "interrupted").unwrap().unwrap();
    assert_eq!(*scenario.joined().read().unwrap(), 3);
    assert_eq!(
        runs(&marks, "quick"),
        1,
        "quick ran once: its output was reused"
    );
    let last = runtime
        .store()
        .submissions(scenario.scenario().id())
        .unwrap()
        .pop()
        .unwrap();
    assert_ne!(last.status("quick"), Some(JobStatus::Failed));
    let slow = last.job("slow").unwrap();
    assert_eq!(slow.status, JobStatus::Completed, "{last:#?}");
    if cancel_stale {
        assert_eq!(
            runs(&marks, "slow"),
            2,
            "the stale job was cancelled, a new one ran"
        );
        assert!(!slow.remote.as_ref().unwrap().adopted);
    } else {
        assert_eq!(
            runs(&marks, "slow"),
            1,
            "slow's job was adopted, never run twice"
        );
        assert!(slow.remote.as_ref().unwrap().adopted, "{slow:#?}");
    }
}

fn a_coordinator_killed_midway_is_followed_by_one_that_adopts_its_jobs() {
    check_coordinator_killed(false);
}

fn a_coordinator_killed_midway_is_followed_by_one_that_cancels_its_stale_jobs() {
    check_coordinator_killed(true);
}

fn an_unreachable_object_store_is_named_and_nothing_stored_is_lost() {
    let test = "an_unreachable_object_store_is_named_and_nothing_stored_is_lost";
    let Some(cluster) = Cluster::start_or_skip(test) else {
        return;
    };
    let Some(server) = S3Server::start_or_skip(test) else {
        return;
    };
    server.create_bucket("values");
    let link = FaultyLink::start(server.port());
    let runtime = Runtime::open(cluster.dir.path().join("store")).unwrap();
    let victims = Victims::create(&runtime, "v").unwrap();
    let marks = cluster.marks();
    victims
        .marks()
        .write(marks.to_str().unwrap().to_owned())
        .unwrap();
    let through_link = || {
        cluster
            .slurm()
            .objects("s3://values/runs")
            .object_store_options(cluster::s3_options(&link.endpoint()))
    };
    assert!(submit(&cluster, victims.scenario(), through_link()).is_success());

    // Down before the submission: it does not start, and says which store.
    link.cut_after(0);
    victims.mode().write(2).unwrap();
    let error = victims
        .scenario()
        .submit_with(&Cluster::submit(through_link()))
        .unwrap_err()
        .to_string();
    assert!(error.contains("s3://values/runs"), "{error}");
    assert!(error.contains("unreachable"), "{error}");

    // Down while a worker runs: neither its output nor its result can be
    // stored, nor read; the job fails with a message naming the store.
    link.restore();
    let done = std::thread::scope(|scope| {
        scope.spawn(|| {
            victim_mark(&marks);
            link.cut_after(0);
            std::fs::write(marks.join("go"), b"").unwrap();
        });
        submit(&cluster, victims.scenario(), through_link())
    });
    assert_eq!(done.status("victim"), Some(JobStatus::Failed), "{done:#?}");
    let error = done.job("victim").unwrap().error.as_deref().unwrap();
    assert!(error.contains("s3://values/runs"), "{error}");
    assert!(error.contains("unreachable"), "{error}");
    assert_eq!(done.status("after_victim"), Some(JobStatus::Abandoned));
    assert_eq!(
        *victims.victim_out().read().unwrap(),
        100,
        "the stored version stays"
    );
    assert_eq!(*victims.after().read().unwrap(), 101);
}

fn main() -> ExitCode {
    if let Some(code) = pipeline_core::worker::main_if_worker() {
        return code;
    }
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("__coordinator") {
        return coordinator(&PathBuf::from(&args[2]), args[3] == "true");
    }
    let arguments = Arguments::from_args();
    let tests: Vec<(&str, fn())> = vec![
        (
            "a_worker_cancelled_with_scancel_fails_its_job_and_abandons_its_dependents",
            a_worker_cancelled_with_scancel_fails_its_job_and_abandons_its_dependents,
        ),
        (
            "a_worker_killed_with_sigkill_fails_its_job_and_abandons_its_dependents",
            a_worker_killed_with_sigkill_fails_its_job_and_abandons_its_dependents,
        ),
        (
            "a_failing_task_fails_its_job_with_the_message_a_local_run_gives",
            a_failing_task_fails_its_job_with_the_message_a_local_run_gives,
        ),
        (
            "an_aborted_worker_is_retried_when_allowed",
            an_aborted_worker_is_retried_when_allowed,
        ),
        (
            "a_task_error_is_retried_only_when_asked",
            a_task_error_is_retried_only_when_asked,
        ),
        (
            "a_stale_worker_build_never_records_outputs",
            a_stale_worker_build_never_records_outputs,
        ),
        (
            "a_coordinator_killed_midway_is_followed_by_one_that_adopts_its_jobs",
            a_coordinator_killed_midway_is_followed_by_one_that_adopts_its_jobs,
        ),
        (
            "a_coordinator_killed_midway_is_followed_by_one_that_cancels_its_stale_jobs",
            a_coordinator_killed_midway_is_followed_by_one_that_cancels_its_stale_jobs,
        ),
        (
            "an_unreachable_object_store_is_named_and_nothing_stored_is_lost",
            an_unreachable_object_store_is_named_and_nothing_stored_is_lost,
        ),
    ];
    let trials = tests
        .into_iter()
        .map(|(name, test)| {
            Trial::test(name, move || {
                test();
                Ok(())
            })
        })
        .collect();
    libtest_mimic::run(&arguments, trials).exit_code()
}
