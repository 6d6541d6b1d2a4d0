//! The Slurm executor on the real cluster `.ci/slurm.sh start` brings up:
//! tasks run as batch jobs of this very program in worker mode, values pass
//! through an object store (a shared directory, or a real S3 server), and
//! the coordinator records them exactly as local runs: same values and
//! fingerprints, skips, early cutoff, lineage. Each test says why it skips
//! where no cluster answers (and fails instead under PIPELINE_REQUIRE_REMOTE=1).
//!
//! This file has its own `main` (`harness = false`): the test binary is also
//! the worker the jobs run, as a user's program would be.

#[path = "remote_support/cluster.rs"]
mod cluster;
mod remote_support;

use std::path::Path;
use std::process::ExitCode;

use cluster::{Cluster, job_field, wait_for_file, wait_for_idle_cpus};
use libtest_mimic::{Arguments, Trial};
use pipeline_core::frame::{DataFrame, LazyFrame, collect_streaming};
use pipeline_core::resources::Resources;
use pipeline_core::store::WrittenBy;
use pipeline_core::{JobStatus, Runtime, Scenario, scenario, task};
use polars::prelude::*;
use remote_support::S3Server;

#[task(skippable)]
fn double(x: &i64) -> i64 {
    x * 2
}

#[task(skippable)]
fn add(doubled: &i64, y: &i64) -> i64 {
    doubled + y
}

#[task(skippable)]
fn parity_of(sum: &i64) -> i64 {
    sum.rem_euclid(2)
}

#[task(skippable)]
fn label(parity: &i64) -> String {
    if *parity == 0 { "even" } else { "odd" }.to_owned()
}

scenario! {
    /// A chain with an early cutoff: `parity` often stays the same.
    pub struct Arith {
        data {
            x: i64 = 3,
            y: i64 = 4,
            doubled: i64,
            sum: i64,
            parity: i64,
            parity_label: String,
        }
        tasks {
            double(x) -> doubled,
            add(doubled, y) -> sum,
            parity_of(sum) -> parity,
            label(parity) -> parity_label,
        }
    }
}

/// Leaves `started-<me>` in `marks`, then waits until its sibling's mark is
/// there too: it only completes when both run at once.
#[task(skippable)]
fn meet_sibling(marks: &str, me: &i64) -> Result<i64, String> {
    let marks = Path::new(marks);
    std::fs::write(marks.join(format!("started-{me}")), b"").map_err(|e| e.to_string())?;
    let sibling = marks.join(format!("started-{}", 1 - me));
    if wait_for_file(&sibling) {
        Ok(*me)
    } else {
        Err(format!(
            "task {me}: its sibling never started while it ran: the jobs did not run concurrently"
        ))
    }
}

scenario! {
    /// Two independent tasks that must run at the same time.
    pub struct Siblings {
        data {
            marks: String = String::new(),
            zero: i64 = 0,
            one: i64 = 1,
            met_zero: i64,
            met_one: i64,
        }
        tasks {
            meet_sibling(marks, zero) -> met_zero as meet_zero,
            meet_sibling(marks, one) -> met_one as meet_one,
        }
    }
}

/// A lazy query: the executor sinks it to a file where the task ran.
#[task(skippable)]
fn numbers(n: &i64) -> LazyFrame {
    df!("x" => (0..*n).collect::<Vec<i64>>())
        .unwrap()
        .lazy()
        .with_column((col("x") * lit(3)).alias("y"))
}

#[task(skippable)]
fn total(frame: &LazyFrame) -> Result<DataFrame, String> {
    collect_streaming(frame.clone().select([col("y").sum()])).map_err(|e| e.to_string())
}

/// A row-wise query over a stored frame: stored as a view of it.
#[task(skippable)]
fn widen(frame: &LazyFrame) -> LazyFrame {
    frame.clone().with_columns([(col("y") + lit(1)).alias("z")])
}

scenario! {
    /// A frame made in one job and read in another.
    pub struct Frames {
        data {
            n: i64 = 1000,
            frame: LazyFrame,
            summed: DataFrame,
            widened: LazyFrame,
        }
        tasks {
            numbers(n) -> frame,
            total(frame) -> summed,
            widen(frame) -> widened,
        }
    }
}

#[task(skippable, cpus = 2, memory = "100M", time = "5m")]
fn sized(x: &i64) -> i64 {
    *x
}

scenario! {
    pub struct SizedJobs {
        data { x: i64 = 1, out: i64, again: i64 }
        tasks {
            sized(x) -> out as sized_first,
            sized(out) -> again as sized_second,
        }
    }
}

fn node<T: pipeline_core::Value + Clone>(scenario: &Scenario, name: &str) -> T {
    (*scenario.node::<T>(name).unwrap().read().unwrap()).clone()
}

fn tasks_run_as_slurm_jobs_and_are_recorded_as_local_ones() {
    let Some(cluster) =
        Cluster::start_or_skip("tasks_run_as_slurm_jobs_and_are_recorded_as_local_ones")
    else {
        return;
    };
    let slurm = Cluster::submit(cluster.slurm());
    let runtime = Runtime::open(cluster.dir.path().join("store")).unwrap();
    let remote = Arith::create(&runtime, "remote").unwrap();
    let local = Arith::create(&Runtime::in_memory(), "local").unwrap();

    let first = remote.scenario().submit_with(&slurm).unwrap();
    assert!(first.is_success(), "{first:#?}");
    local.scenario().submit().unwrap();
    for job in &first.jobs {
        assert_eq!(job.status, JobStatus::Completed, "{job:#?}");
        let placed = job
            .remote
            .as_deref()
            .expect("a remote job records where it ran");
        assert_eq!(placed.executor, "slurm");
        assert_eq!(placed.attempt, 1);
        assert!(
            placed.id.parse::<u64>().is_ok(),
            "a slurm job id: {placed:?}"
        );
        assert!(placed.host.is_some(), "{placed:?}");
        assert!(!placed.adopted);
        assert_plausible_peak(placed);
    }
    for name in ["doubled", "sum", "parity"] {
        assert_eq!(
            node::<i64>(remote.scenario(), name),
            node::<i64>(local.scenario(), name)
        );
        assert_eq!(
            remote
                .scenario()
                .node::<i64>(name)
                .unwrap()
                .fingerprint()
                .unwrap(),
            local
                .scenario()
                .node::<i64>(name)
                .unwrap()
                .fingerprint()
                .unwrap(),
            "{name}: same value, same fingerprint"
        );
    }
    assert_eq!(node::<String>(remote.scenario(), "parity_label"), "even");
    let sum = remote
        .scenario()
        .node::<i64>("sum")
        .unwrap()
        .current()
        .unwrap()
        .unwrap();
    assert!(
        matches!(&sum.written_by, WrittenBy::Task { task, submission, reused: false, .. }
            if &**task == "add" && *submission == first.id),
        "{:?}",
        sum.written_by
    );

    // Nothing changed: every task is skipped, and no job is submitted.
    let second = remote.scenario().submit_with(&slurm).unwrap();
    assert_eq!(
        second.tasks_with(JobStatus::Skipped).len(),
        4,
        "{second:#?}"
    );
    assert!(second.jobs.iter().all(|job| job.remote.is_none()));

    // x = 4: doubled and sum change; the sum stays odd, so the label is
    // not made again (early cutoff), exactly as locally.
    remote.x().write(4).unwrap();
    local.x().write(4).unwrap();
    let third = remote.scenario().submit_with(&slurm).unwrap();
    let local_third = local.scenario().submit().unwrap();
    let statuses = |s: &pipeline_core::Submission| {
        s.jobs
            .iter()
            .map(|j| (j.task.to_string(), j.status))
            .collect::<Vec<_>>()
    };
    assert_eq!(statuses(&third), statuses(&local_third));
    assert_eq!(third.status("label"), Some(JobStatus::Skipped));
    assert_eq!(node::<i64>(remote.scenario(), "sum"), 12);

    // Another process (a new runtime on the store) reads what was recorded.
    drop(remote);
    drop(runtime);
    let reopened = Runtime::open(cluster.dir.path().join("store")).unwrap();
    let again = Arith::find(&reopened, "remote").unwrap().unwrap();
    assert_eq!(*again.sum().read().unwrap(), 12);
    let history = again.scenario().job_history().unwrap();
    let recorded = history
        .submissions
        .iter()
        .find(|s| s.id == first.id)
        .expect("the first submission is recorded");
    for (job, before) in recorded.jobs.iter().zip(&first.jobs) {
        let placed = job.remote.as_deref().expect("the placement is stored");
        assert_eq!(
            placed.peak_rss,
            before.remote.as_ref().unwrap().peak_rss,
            "task {}: the peak memory is stored with the job",
            job.task
        );
    }
    assert_eq!(
        again
            .scenario()
            .submit()
            .unwrap()
            .tasks_with(JobStatus::Skipped)
            .len(),
        4
    );
}

/// The worker's recorded peak resident memory is there and plausible: more
/// than 1 MiB (a Rust program with the test harness linked in) and less
/// than the machine's memory.
fn assert_plausible_peak(placed: &pipeline_core::RemoteJob) {
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap();
    let total_kib: u64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .expect("MemTotal in /proc/meminfo");
    let peak = placed
        .peak_rss
        .unwrap_or_else(|| panic!("the worker's peak memory is recorded: {placed:?}"));
    assert!(
        peak > 1 << 20 && peak < total_kib * 1024,
        "peak RSS {peak} B is not between 1 MiB and the machine's {total_kib} KiB: {placed:?}"
    );
}

fn independent_tasks_run_as_concurrent_jobs() {
    let Some(cluster) = Cluster::start_or_skip("independent_tasks_run_as_concurrent_jobs") else {
        return;
    };
    wait_for_idle_cpus(2);
    let runtime = Runtime::in_memory();
    let siblings = Siblings::create(&runtime, "s").unwrap();
    siblings
        .marks()
        .write(cluster.marks().to_str().unwrap().to_owned())
        .unwrap();
    let done = siblings
        .scenario()
        .submit_with(&Cluster::submit(cluster.slurm()))
        .unwrap();
    assert!(done.is_success(), "{done:#?}");
    assert_eq!(
        (
            *siblings.met_zero().read().unwrap(),
            *siblings.met_one().read().unwrap()
        ),
        (0, 1)
    );
    let ids: Vec<&str> = done
        .jobs
        .iter()
        .map(|j| j.remote.as_ref().unwrap().id.as_str())
        .collect();
    assert_ne!(ids[0], ids[1], "one job per task");
}

fn lazy_frames_are_sunk_where_they_run_and_adopted_by_the_coordinator() {
    let Some(cluster) = Cluster::start_or_skip(
        "lazy_frames_are_sunk_where_they_run_and_adopted_by_the_coordinator",
    ) else {
        return;
    };
    let runtime = Runtime::open(cluster.dir.path().join("store")).unwrap();
    let remote = Frames::create(&runtime, "remote").unwrap();
    let local_dir = tempfile::tempdir().unwrap();
    let local = Frames::create(&Runtime::open(local_dir.path()).unwrap(), "local").unwrap();
    let done = remote
        .scenario()
        .submit_with(&Cluster::submit(cluster.slurm()))
        .unwrap();
    assert!(done.is_success(), "{done:#?}");
    local.scenario().submit().unwrap();
    assert_eq!(
        remote.frame().fingerprint().unwrap(),
        local.frame().fingerprint().unwrap(),
        "the frame made remotely is byte for byte the one made locally"
    );
    let summed = remote.summed().read().unwrap();
    assert_eq!(
        summed.column("y").unwrap().i64().unwrap().get(0),
        Some(3 * 999 * 1000 / 2)
    );
    let frame = collect_streaming((*remote.frame().read().unwrap()).clone()).unwrap();
    assert_eq!(frame.height(), 1000);
    // The worker fetched `frame` and made `widened` a view of it, as a local
    // run does (a view's fingerprint is its recipe's; rows would differ),
    // so no copy of the rows was uploaded.
    assert_eq!(
        remote.widened().fingerprint().unwrap(),
        local.widened().fingerprint().unwrap(),
        "the worker stores a row-wise query over its input as a view"
    );
    let widened = collect_streaming((*remote.widened().read().unwrap()).clone()).unwrap();
    assert_eq!(widened.height(), 1000);
    assert_eq!(
        widened.column("z").unwrap().i64().unwrap().get(999),
        Some(3 * 999 + 1)
    );
}

fn resources_declared_on_the_task_or_given_per_task_reach_the_job() {
    let Some(cluster) =
        Cluster::start_or_skip("resources_declared_on_the_task_or_given_per_task_reach_the_job")
    else {
        return;
    };
    let runtime = Runtime::in_memory();
    let sized = SizedJobs::create(&runtime, "s").unwrap();
    let slurm = cluster
        .slurm()
        .task_resources("sized_first", Resources::new().time("7m").unwrap());
    let done = sized
        .scenario()
        .submit_with(&Cluster::submit(slurm))
        .unwrap();
    assert!(done.is_success(), "{done:#?}");
    let job = |task: &str| done.job(task).unwrap().remote.as_ref().unwrap().id.clone();
    let (first, second) = (job("sized_first"), job("sized_second"));
    assert_eq!(job_field(&first, "NumCPUs").as_deref(), Some("2"));
    assert_eq!(job_field(&first, "MinMemoryNode").as_deref(), Some("100M"));
    assert_eq!(
        job_field(&first, "TimeLimit").as_deref(),
        Some("00:07:00"),
        "configured"
    );
    assert_eq!(
        job_field(&second, "TimeLimit").as_deref(),
        Some("00:05:00"),
        "declared"
    );
}

fn values_travel_through_an_s3_server() {
    let test = "values_travel_through_an_s3_server";
    let Some(cluster) = Cluster::start_or_skip(test) else {
        return;
    };
    let Some(server) = S3Server::start_or_skip(test) else {
        return;
    };
    server.create_bucket("values");
    let runtime = Runtime::open(cluster.dir.path().join("store")).unwrap();
    let frames = Frames::create(&runtime, "s3").unwrap();
    let done = frames
        .scenario()
        .submit_with(&Cluster::submit(cluster.slurm_s3(&server, "values")))
        .unwrap();
    assert!(done.is_success(), "{done:#?}");
    let summed = frames.summed().read().unwrap();
    assert_eq!(
        summed.column("y").unwrap().i64().unwrap().get(0),
        Some(3 * 999 * 1000 / 2)
    );
    let store = pipeline_core::objects::ObjectStore::open_with(
        "s3://values/runs".parse().unwrap(),
        cluster::s3_options(&server.endpoint()),
    )
    .unwrap();
    let frame_fp = frames.frame().fingerprint().unwrap().unwrap().to_hex();
    assert!(
        store
            .list("values")
            .unwrap()
            .iter()
            .any(|o| o.name.contains(&frame_fp)),
        "the frame is stored in the bucket by its fingerprint"
    );
    assert_eq!(
        store.list("jobs").unwrap().len(),
        done.jobs.len() * 3,
        "task, result and claim per job"
    );
    assert_eq!(
        done.jobs.len(),
        3,
        "numbers, total and widen each ran as a job"
    );
}

fn main() -> ExitCode {
    if let Some(code) = pipeline_core::worker::main_if_worker() {
        return code;
    }
    let args = Arguments::from_args();
    let tests: Vec<(&str, fn())> = vec![
        (
            "tasks_run_as_slurm_jobs_and_are_recorded_as_local_ones",
            tasks_run_as_slurm_jobs_and_are_recorded_as_local_ones,
        ),
        (
            "independent_tasks_run_as_concurrent_jobs",
            independent_tasks_run_as_concurrent_jobs,
        ),
        (
            "lazy_frames_are_sunk_where_they_run_and_adopted_by_the_coordinator",
            lazy_frames_are_sunk_where_they_run_and_adopted_by_the_coordinator,
        ),
        (
            "resources_declared_on_the_task_or_given_per_task_reach_the_job",
            resources_declared_on_the_task_or_given_per_task_reach_the_job,
        ),
        (
            "values_travel_through_an_s3_server",
            values_travel_through_an_s3_server,
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
    libtest_mimic::run(&args, trials).exit_code()
}
