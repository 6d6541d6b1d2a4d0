//! What the store leaves on disk: a task that computes a value stored
//! already keeps no copy of it in its scratch directory, a process leaves no
//! empty scratch directory behind (nor keeps those of processes gone), and
//! gc counts only the bytes it frees.
#![cfg(unix)]

mod store_support;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use pipeline_core::graph::{Graph, GraphBuilder, NodeSpec, TaskSpec};
use pipeline_core::store::SqliteOptions;
use pipeline_core::task::TaskDef;
use pipeline_core::value::{MaterializeContext, Materialized, ValueError};
use pipeline_core::{JobStatus, Runtime, Value};
use store_support::{Counters, blobs, chain, open};

/// A large value that, like a data frame, writes its encoding into the
/// scratch directory while materializing (under a temporary name, renamed to
/// `<fingerprint>.spilled`) and then reads it from that file.
#[derive(Debug, Clone, PartialEq)]
struct Spilled {
    data: Vec<u8>,
    file: Option<PathBuf>,
}

impl Value for Spilled {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), ValueError> {
        out.extend_from_slice(&self.data);
        Ok(())
    }

    fn decode(input: &mut &[u8]) -> Result<Self, ValueError> {
        let data = std::mem::take(input).to_vec();
        Ok(Self { data, file: None })
    }

    fn extension() -> &'static str {
        "spilled"
    }

    fn materialize(self, ctx: &MaterializeContext<'_>) -> Result<Materialized<Self>, ValueError> {
        let fingerprint = self.fingerprint()?;
        let partial = ctx.scratch_dir.join(format!("{fingerprint}.partial"));
        let done = ctx.scratch_dir.join(format!("{fingerprint}.spilled"));
        fs::write(&partial, &self.data).unwrap();
        fs::rename(&partial, &done).unwrap();
        Ok(Materialized {
            value: Self {
                data: self.data,
                file: Some(done.clone()),
            },
            fingerprint,
            file: Some(done),
        })
    }
}

/// version --load--> data: the task ignores its input, as a loader whose
/// CSV changed in a column it does not read.
fn loader() -> Graph {
    GraphBuilder::new("loader")
        .node(NodeSpec::new::<u64>("version").with_default(1))
        .node(NodeSpec::new::<Spilled>("data"))
        .task(
            TaskSpec::new(TaskDef::from_fn1("load", "1", |_: &u64| Spilled {
                data: (0..200_000u32).map(|i| (i % 251) as u8).collect(),
                file: None,
            }))
            .inputs(["version"])
            .outputs(["data"])
            .skippable(true),
        )
        .build()
        .unwrap()
}

fn scratch_of(store: &Path) -> PathBuf {
    store.join(format!("objects/tmp/p{}", std::process::id()))
}

/// The id of a process that has exited.
fn dead_pid() -> u32 {
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    pid
}

#[test]
fn a_task_whose_output_is_stored_already_keeps_no_copy_of_it_in_scratch() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = open(dir.path());
    let scenario = runtime.create_scenario(loader(), "s").unwrap();
    assert!(scenario.submit().unwrap().is_success());
    scenario.node::<u64>("version").unwrap().write(2).unwrap();
    let submission = scenario.submit().unwrap();
    assert_eq!(submission.status("load"), Some(JobStatus::Completed));

    // Each scratch file is another name of a stored file: no bytes of its own.
    let files: Vec<_> = fs::read_dir(scratch_of(dir.path()))
        .unwrap()
        .flatten()
        .filter(|e| e.metadata().unwrap().is_file())
        .collect();
    assert!(!files.is_empty());
    for file in &files {
        let meta = file.metadata().unwrap();
        assert!(
            meta.nlink() > 1,
            "{} is a copy of a stored value ({} bytes)",
            file.path().display(),
            meta.len()
        );
    }
    // The value in memory still reads its file, byte-equal.
    let data = scenario.node::<Spilled>("data").unwrap().read().unwrap();
    let file = data.file.as_ref().expect("read from memory, not the store");
    assert_eq!(fs::read(file).unwrap(), data.data);
}

#[test]
fn a_damaged_stored_file_does_not_replace_a_good_copy() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = open(dir.path());
    let scenario = runtime.create_scenario(loader(), "s").unwrap();
    assert!(scenario.submit().unwrap().is_success());
    runtime.store().flush().unwrap();
    let data = scenario.node::<Spilled>("data").unwrap().read().unwrap();
    let name = data.file.as_ref().unwrap().file_name().unwrap().to_owned();
    // Bit rot of the same size, in place.
    let stored = dir.path().join("objects").join(&name);
    let mut damaged = fs::read(&stored).unwrap();
    damaged[7] ^= 1;
    fs::write(&stored, &damaged).unwrap();

    scenario.node::<u64>("version").unwrap().write(2).unwrap();
    assert!(scenario.submit().unwrap().is_success());
    let copy = scratch_of(dir.path()).join(&name);
    assert_eq!(fs::metadata(&copy).unwrap().nlink(), 1, "linked to damage");
    let data = scenario.node::<Spilled>("data").unwrap().read().unwrap();
    assert_eq!(fs::read(&copy).unwrap(), data.data);
}

#[test]
fn a_process_leaves_no_empty_scratch_directory() {
    let dir = tempfile::tempdir().unwrap();
    let scratch = scratch_of(dir.path());
    {
        let runtime = open(dir.path());
        runtime.scenarios().unwrap();
        assert!(!scratch.exists(), "made by a store that only read");
    }
    assert!(!scratch.exists());

    // Used (small values only: nothing stays in it), then dropped.
    {
        let runtime = open(dir.path());
        let scenario = runtime
            .create_scenario(chain(&Counters::default(), "1"), "s")
            .unwrap();
        assert!(scenario.submit().unwrap().is_success());
    }
    assert!(!scratch.exists(), "an empty scratch directory was left");

    // Two stores of one process share it (whatever the spelling of the
    // path): the first dropped leaves it to the other.
    let elsewhere = tempfile::tempdir().unwrap();
    let link = elsewhere.path().join("store");
    std::os::unix::fs::symlink(dir.path(), &link).unwrap();
    let first = open(dir.path());
    let second = open(&link);
    second.store().scratch_dir().unwrap();
    drop(first);
    assert!(scratch.is_dir(), "removed while another store uses it");
    let scenario = second
        .create_scenario(blobs(&Counters::default()), "b")
        .unwrap();
    assert!(scenario.submit().unwrap().is_success());
    drop((scenario, second));
    assert!(!scratch.exists());
}

#[test]
fn a_process_removes_the_empty_scratch_directories_of_processes_gone() {
    let dir = tempfile::tempdir().unwrap();
    drop(open(dir.path()));
    let tmp = dir.path().join("objects/tmp");
    let empty_dead = tmp.join(format!("p{}", dead_pid()));
    let busy_dead = tmp.join(format!("p{}", dead_pid()));
    let live = tmp.join(format!("p{}", std::os::unix::process::parent_id()));
    for made in [&empty_dead, &busy_dead, &live] {
        fs::create_dir(made).unwrap();
    }
    fs::write(busy_dead.join("left.tmp"), b"for gc").unwrap();
    drop(open(dir.path()));
    assert!(!empty_dead.exists());
    assert!(busy_dead.join("left.tmp").exists(), "files wait for gc");
    assert!(live.is_dir(), "a live process's directory was removed");
}

#[test]
fn gc_counts_only_the_bytes_it_frees() {
    let dir = tempfile::tempdir().unwrap();
    let options = SqliteOptions::new().quiet(true).inline_limit(0);
    let runtime = Runtime::open_with(dir.path(), options).unwrap();
    let scenario = runtime
        .create_scenario(blobs(&Counters::default()), "s")
        .unwrap();
    assert!(scenario.submit().unwrap().is_success());
    let blob = scenario
        .node::<Vec<u8>>("blob")
        .unwrap()
        .fingerprint()
        .unwrap()
        .unwrap();
    // Another name for the blob's file, outside the store: removing the
    // store's name frees nothing.
    let stored = store_support::object_files(dir.path())
        .into_iter()
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(&blob.to_string())
        })
        .expect("the blob is a file");
    fs::hard_link(&stored, dir.path().join("kept-elsewhere")).unwrap();
    let files = store_support::object_files(dir.path());
    assert_eq!(files.len(), 3, "size, blob and sum are files");
    let freeable: u64 = files
        .iter()
        .map(|f| fs::metadata(f).unwrap())
        .filter(|m| m.nlink() == 1)
        .map(|m| m.len())
        .sum();

    runtime.delete_scenario(scenario.id()).unwrap();
    let report = runtime.gc().unwrap();
    assert_eq!(report.files_removed, 3);
    assert!(store_support::object_files(dir.path()).is_empty());
    assert_eq!(report.bytes_freed, freeable);
}
