//! Faults and bad input: a process killed mid-task or mid-write, value files
//! damaged on disk, a store that cannot be written, a full disk. Each leaves a
//! consistent store, says clearly what happened, and loses nothing that was
//! stored before.

mod store_support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use pipeline_core::graph::{Graph, GraphBuilder, NodeSpec, TaskSpec};
use pipeline_core::store::SqliteOptions;
use pipeline_core::task::TaskDef;
use pipeline_core::value::ValueError;
use pipeline_core::{JobStatus, Runtime, Value};
use store_support::{
    Counters, Mount, blobs, chain, child_role, object_files, open, quiet, spawn_child,
    wait_for_file,
};

// ---------------------------------------------------------------------------
// Killed processes

/// A large value whose file is written slowly: in a child told so, it writes
/// half its encoding, signals, and sleeps until killed.
#[derive(Debug, Clone, PartialEq)]
struct Big(Vec<u8>);

impl Value for Big {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), ValueError> {
        self.0.encode(out)
    }
    fn decode(input: &mut &[u8]) -> Result<Self, ValueError> {
        Vec::<u8>::decode(input).map(Big)
    }
    fn write_file(&self, path: &Path) -> Result<(), ValueError> {
        let mut bytes = Vec::new();
        self.encode(&mut bytes)?;
        let mut file = std::fs::File::create(path).unwrap();
        if let Ok(signal) = std::env::var("SIGNAL_IN_WRITE") {
            file.write_all(&bytes[..bytes.len() / 2]).unwrap();
            file.sync_all().unwrap();
            std::fs::write(signal, "writing").unwrap();
            std::thread::sleep(Duration::from_secs(600));
        }
        file.write_all(&bytes).unwrap();
        Ok(())
    }
}

/// x --square--> squared --slow--> slowed, and n --make_big--> big --measure--> len.
/// `slow` blocks (after signalling) when `SIGNAL_IN_TASK` is set.
fn crash_graph() -> Graph {
    GraphBuilder::new("crash")
        .node(NodeSpec::new::<i64>("x").with_default(3))
        .node(NodeSpec::new::<i64>("squared"))
        .node(NodeSpec::new::<i64>("slowed"))
        .node(NodeSpec::new::<u64>("n").with_default(300_000))
        .node(NodeSpec::new::<Big>("big"))
        .node(NodeSpec::new::<u64>("len"))
        .task(
            TaskSpec::new(TaskDef::from_fn1("square", "1", |x: &i64| x * x))
                .inputs(["x"])
                .outputs(["squared"])
                .skippable(true),
        )
        .task(
            TaskSpec::new(TaskDef::from_fn1("slow", "1", |x: &i64| {
                if let Ok(signal) = std::env::var("SIGNAL_IN_TASK") {
                    std::fs::write(signal, "running").unwrap();
                    std::thread::sleep(Duration::from_secs(600));
                }
                x + 1
            }))
            .inputs(["squared"])
            .outputs(["slowed"])
            .skippable(true),
        )
        .task(
            TaskSpec::new(TaskDef::from_fn1("make_big", "1", |n: &u64| {
                Big(vec![7; *n as usize])
            }))
            .inputs(["n"])
            .outputs(["big"])
            .skippable(true),
        )
        .task(
            TaskSpec::new(TaskDef::from_fn1("measure", "1", |big: &Big| {
                big.0.len() as u64
            }))
            .inputs(["big"])
            .outputs(["len"])
            .skippable(true),
        )
        .sequence("squares", ["square", "slow"])
        .sequence("bigs", ["make_big", "measure"])
        .build()
        .unwrap()
}

/// Runs as a child: submits one sequence of `crash_graph` in the store
/// `STORE_DIR`, and is killed while it runs.
#[test]
fn child_submits_until_killed() {
    let Some(role) = child_role() else { return };
    let dir = PathBuf::from(std::env::var("STORE_DIR").unwrap());
    let runtime = open(&dir);
    let scenario = runtime.find_or_create_scenario(crash_graph(), "s").unwrap();
    scenario.submit_sequence(&role).unwrap();
    unreachable!("the parent kills this process first");
}

/// Starts a child submitting `sequence`, waits for its signal, lets a moment
/// pass (so its earlier commits are recorded), and kills it.
fn kill_child_during(sequence: &str, signal_var: &str, dir: &Path) {
    let signal = dir.parent().unwrap().join("signal");
    let mut child = spawn_child(
        "child_submits_until_killed",
        sequence,
        &[("STORE_DIR", dir), (signal_var, &signal)],
    );
    wait_for_file(&signal, &mut child);
    std::thread::sleep(Duration::from_millis(300));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
}

#[test]
fn killed_in_the_middle_of_a_task_the_store_is_consistent_and_the_task_reruns() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("store");
    kill_child_during("squares", "SIGNAL_IN_TASK", &dir);

    let runtime = open(&dir);
    let scenario = runtime.find_scenario(crash_graph(), "s").unwrap().unwrap();
    let submission = scenario.submit_sequence("squares").unwrap();
    assert_eq!(
        submission.status("square"),
        Some(JobStatus::Skipped),
        "finished before the kill: recorded"
    );
    assert_eq!(
        submission.status("slow"),
        Some(JobStatus::Completed),
        "interrupted: simply stale"
    );
    assert_eq!(*scenario.node::<i64>("slowed").unwrap().read().unwrap(), 10);
    let history = scenario.job_history().unwrap();
    assert!(
        history.submissions[0].target.contains("interrupted"),
        "{history}"
    );
}

#[test]
fn killed_while_writing_an_output_no_partial_file_is_ever_read_as_a_value() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("store");
    kill_child_during("bigs", "SIGNAL_IN_WRITE", &dir);

    // The half-written file never got a final name.
    assert!(object_files(&dir).is_empty(), "{:?}", object_files(&dir));
    let runtime = open(&dir);
    let scenario = runtime.find_scenario(crash_graph(), "s").unwrap().unwrap();
    assert!(
        scenario
            .node::<Big>("big")
            .unwrap()
            .version()
            .unwrap()
            .is_none()
    );
    let submission = scenario.submit_sequence("bigs").unwrap();
    assert_eq!(
        submission.tasks_with(JobStatus::Completed),
        ["make_big", "measure"]
    );
    assert_eq!(
        *scenario.node::<u64>("len").unwrap().read().unwrap(),
        300_000
    );
    // gc sweeps the dead process's temporary file.
    let report = runtime.gc().unwrap();
    assert!(report.files_removed >= 1, "{report:?}");
    drop(scenario);
    drop(runtime);
    let runtime = open(&dir);
    let scenario = runtime.find_scenario(crash_graph(), "s").unwrap().unwrap();
    assert_eq!(
        scenario.node::<Big>("big").unwrap().read().unwrap().0,
        vec![7; 300_000]
    );
}

// ---------------------------------------------------------------------------
// Damaged value files

fn files_everywhere() -> SqliteOptions {
    quiet().inline_limit(0)
}

/// A store in which `chain` ran once, every value a file; returns the path of
/// the file holding `squared`.
fn stored_chain(dir: &Path) -> PathBuf {
    let runtime = Runtime::open_with(dir, files_everywhere()).unwrap();
    let scenario = runtime
        .create_scenario(chain(&Counters::default(), "1"), "s")
        .unwrap();
    scenario.submit().unwrap();
    let fingerprint = scenario
        .node::<i64>("squared")
        .unwrap()
        .fingerprint()
        .unwrap()
        .unwrap();
    dir.join(format!("objects/{fingerprint}.bin"))
}

fn flip_a_bit(path: &Path) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[0] ^= 0x01;
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn a_bit_flip_is_detected_on_read_and_the_producer_reruns() {
    let dir = tempfile::tempdir().unwrap();
    let file = stored_chain(dir.path());
    flip_a_bit(&file);

    // A new process whose `parity` changed must read `squared`.
    let counters = Counters::default();
    let runtime = Runtime::open_with(dir.path(), files_everywhere()).unwrap();
    let scenario = runtime
        .find_scenario(chain(&counters, "2"), "s")
        .unwrap()
        .unwrap();
    let submission = scenario.submit().unwrap();
    assert!(submission.is_success(), "{submission:?}");
    assert_eq!(submission.status("square"), Some(JobStatus::Completed));
    assert_eq!(submission.status("parity"), Some(JobStatus::Completed));
    assert_eq!(counters.get(), [1, 1, 0, 0]);
    assert_eq!(*scenario.node::<i64>("squared").unwrap().read().unwrap(), 9);

    // Reported: the first attempt failed naming the damage, and the file was
    // moved aside rather than read.
    let history = scenario.job_history().unwrap();
    let attempt = &history.submissions[history.submissions.len() - 2];
    let error = attempt.job("parity").unwrap().error.as_deref().unwrap();
    assert!(
        error.contains("no longer matches its content hash"),
        "{error}"
    );
    assert!(error.contains("`squared`"), "{error}");
    let damaged: Vec<_> = std::fs::read_dir(dir.path().join("objects/damaged"))
        .unwrap()
        .collect();
    assert_eq!(damaged.len(), 1);
}

#[test]
fn a_damaged_value_read_by_a_user_is_an_error_then_recomputed() {
    let dir = tempfile::tempdir().unwrap();
    let file = stored_chain(dir.path());
    flip_a_bit(&file);

    let runtime = Runtime::open_with(dir.path(), files_everywhere()).unwrap();
    let scenario = runtime
        .find_scenario(chain(&Counters::default(), "1"), "s")
        .unwrap()
        .unwrap();
    let err = scenario
        .node::<i64>("squared")
        .unwrap()
        .read()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("damaged") && err.contains("submit again"),
        "{err}"
    );
    let submission = scenario.submit().unwrap();
    assert_eq!(submission.status("square"), Some(JobStatus::Completed));
    assert_eq!(*scenario.node::<i64>("squared").unwrap().read().unwrap(), 9);
}

#[test]
fn a_truncated_value_file_makes_its_task_rerun() {
    let dir = tempfile::tempdir().unwrap();
    let file = stored_chain(dir.path());
    let len = std::fs::metadata(&file).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&file)
        .unwrap()
        .set_len(len - 1)
        .unwrap();

    let runtime = Runtime::open_with(dir.path(), files_everywhere()).unwrap();
    let scenario = runtime
        .find_scenario(chain(&Counters::default(), "1"), "s")
        .unwrap()
        .unwrap();
    let submission = scenario.submit().unwrap();
    assert_eq!(submission.status("square"), Some(JobStatus::Completed));
    assert_eq!(
        submission.tasks_with(JobStatus::Skipped),
        ["parity", "label"]
    );
    assert_eq!(*scenario.node::<i64>("squared").unwrap().read().unwrap(), 9);
}

#[test]
fn a_deleted_value_file_makes_its_task_rerun() {
    let dir = tempfile::tempdir().unwrap();
    let file = stored_chain(dir.path());
    std::fs::remove_file(&file).unwrap();

    let runtime = Runtime::open_with(dir.path(), files_everywhere()).unwrap();
    let scenario = runtime
        .find_scenario(chain(&Counters::default(), "1"), "s")
        .unwrap()
        .unwrap();
    let submission = scenario.submit().unwrap();
    assert_eq!(submission.status("square"), Some(JobStatus::Completed));
    assert_eq!(*scenario.node::<i64>("squared").unwrap().read().unwrap(), 9);
    assert!(file.is_file(), "written again");
}

#[test]
fn a_damaged_value_in_the_database_is_detected_too() {
    let dir = tempfile::tempdir().unwrap();
    let fingerprint = {
        let runtime = open(dir.path());
        let scenario = runtime
            .create_scenario(chain(&Counters::default(), "1"), "s")
            .unwrap();
        scenario.submit().unwrap();
        let squared = scenario.node::<i64>("squared").unwrap();
        squared.fingerprint().unwrap().unwrap()
    };
    let db = rusqlite::Connection::open(dir.path().join("pipeline.db")).unwrap();
    let changed = db
        .execute(
            "UPDATE objects SET data = ?2 WHERE fingerprint = ?1",
            rusqlite::params![fingerprint.as_bytes().as_slice(), 8_i64.to_le_bytes()],
        )
        .unwrap();
    assert_eq!(changed, 1, "small values live in the database");
    drop(db);

    let runtime = open(dir.path());
    let scenario = runtime
        .find_scenario(chain(&Counters::default(), "1"), "s")
        .unwrap()
        .unwrap();
    let err = scenario.node::<i64>("squared").unwrap().read().unwrap_err();
    assert!(err.to_string().contains("no longer match"), "{err}");
    scenario.submit().unwrap();
    assert_eq!(*scenario.node::<i64>("squared").unwrap().read().unwrap(), 9);
}

// ---------------------------------------------------------------------------
// Stores that cannot be written

#[test]
fn a_store_path_under_a_regular_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-directory");
    std::fs::write(&file, "x").unwrap();
    let err = Runtime::open(file.join(".pipeline"))
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("cannot create the store directory") && err.contains("not-a-directory"),
        "{err}"
    );
}

#[test]
fn a_read_only_store_is_a_clear_error_and_loses_nothing() {
    let Some(mount) = Mount::tmpfs("16m") else {
        return;
    };
    let dir = mount.path().join("store");
    {
        let runtime = open(&dir);
        let scenario = runtime
            .create_scenario(chain(&Counters::default(), "1"), "s")
            .unwrap();
        scenario.submit().unwrap();
    }
    mount.set_read_only(true);
    let err = Runtime::open(&dir)
        .err()
        .expect("a read-only store cannot be opened");
    let message = err.to_string();
    assert!(
        message.contains("cannot write to the store directory")
            && message.contains("Read-only file system"),
        "{message}"
    );
    assert!(message.contains(&dir.display().to_string()), "{message}");

    mount.set_read_only(false);
    let counters = Counters::default();
    let runtime = open(&dir);
    let scenario = runtime
        .find_scenario(chain(&counters, "1"), "s")
        .unwrap()
        .unwrap();
    assert_eq!(
        scenario
            .submit()
            .unwrap()
            .tasks_with(JobStatus::Skipped)
            .len(),
        3
    );
    assert_eq!(counters.get(), [0, 0, 0, 0]);
}

// ---------------------------------------------------------------------------
// Full disks

#[test]
fn a_failing_disk_is_a_clear_error_and_loses_nothing() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let dir = tempfile::tempdir().unwrap();
    let full = Arc::new(AtomicBool::new(false));
    let disk = full.clone();
    let options = quiet().write_fault(move |_| {
        if disk.load(Ordering::SeqCst) {
            Err(std::io::Error::from_raw_os_error(28)) // ENOSPC
        } else {
            Ok(())
        }
    });
    let counters = Counters::default();
    let runtime = Runtime::open_with(dir.path(), options).unwrap();
    let scenario = runtime.create_scenario(blobs(&counters), "s").unwrap();
    scenario.submit().unwrap();
    let before = scenario.node::<Vec<u8>>("blob").unwrap().read().unwrap();

    full.store(true, Ordering::SeqCst);
    scenario
        .node::<u64>("size")
        .unwrap()
        .write(200_000)
        .unwrap(); // small: in the database
    let submission = scenario.submit().unwrap();
    let job = submission.job("fill").unwrap();
    assert_eq!(job.status, JobStatus::Failed);
    let error = job.error.as_deref().unwrap();
    assert!(error.contains("No space left on device"), "{error}");
    assert!(error.contains("objects/"), "names the file: {error}");
    assert_eq!(submission.status("checksum"), Some(JobStatus::Abandoned));
    let err = scenario
        .node::<Vec<u8>>("blob")
        .unwrap()
        .write(vec![1; 50_000])
        .unwrap_err();
    assert!(err.to_string().contains("No space left on device"), "{err}");

    // Nothing stored before is lost, in this runtime or the next.
    assert_eq!(
        scenario.node::<Vec<u8>>("blob").unwrap().read().unwrap(),
        before
    );
    drop(scenario);
    drop(runtime);
    full.store(false, Ordering::SeqCst);
    let runtime = open(dir.path());
    let scenario = runtime
        .find_scenario(blobs(&counters), "s")
        .unwrap()
        .unwrap();
    assert_eq!(
        scenario.node::<Vec<u8>>("blob").unwrap().read().unwrap(),
        before
    );
    let retried = scenario.submit().unwrap();
    assert!(retried.is_success());
    assert_eq!(
        scenario
            .node::<Vec<u8>>("blob")
            .unwrap()
            .read()
            .unwrap()
            .len(),
        200_000
    );
}

#[test]
fn a_full_disk_is_a_clear_error_and_loses_nothing() {
    let Some(mount) = Mount::tmpfs("2m") else {
        return;
    };
    let dir = mount.path().join("store");
    let counters = Counters::default();
    let runtime = open(&dir);
    let scenario = runtime.create_scenario(blobs(&counters), "s").unwrap();
    scenario.submit().unwrap();

    // 4 MB cannot fit on a 2 MB disk.
    scenario
        .node::<u64>("size")
        .unwrap()
        .write(4_000_000)
        .unwrap();
    let submission = scenario.submit().unwrap();
    let job = submission.job("fill").unwrap();
    assert_eq!(job.status, JobStatus::Failed, "{submission:?}");
    let error = job.error.as_deref().unwrap();
    assert!(
        error.contains("No space left on device") || error.contains("disk is full"),
        "{error}"
    );

    // The store still works, and kept everything from before.
    scenario.node::<u64>("size").unwrap().write(1_000).unwrap();
    assert!(scenario.submit().unwrap().is_success());
    drop(scenario);
    drop(runtime);
    let runtime = open(&dir);
    let scenario = runtime
        .find_scenario(blobs(&counters), "s")
        .unwrap()
        .unwrap();
    assert_eq!(
        *scenario.node::<u64>("sum").unwrap().read().unwrap(),
        1_000 * (1_000 % 251)
    );
    let history = scenario.node_history("blob").unwrap();
    assert_eq!(history.len(), 2, "the 100 kB and the 1 kB blobs");
}
