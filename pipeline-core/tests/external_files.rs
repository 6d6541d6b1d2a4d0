//! External files are looked at on every submit: a path node stands for its
//! file's content, in one process and across processes, for about one `stat`
//! per unchanged file.

mod store_support;

use std::any::Any;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use pipeline_core::graph::{Graph, GraphBuilder, NodeSpec, TaskSpec};
use pipeline_core::store::WrittenBy;
use pipeline_core::task::{TaskDef, TaskError};
use pipeline_core::value::ValueType;
use pipeline_core::{Change, JobStatus, Reason, Runtime};
use store_support::{child_output, child_role, spawn_child};

/// A task reading the file (or every file of the directory) at a path.
fn reader() -> TaskDef {
    TaskDef::new(
        "read",
        TaskDef::code_fingerprint_of("1"),
        vec![ValueType::of::<PathBuf>()],
        vec![ValueType::of::<String>()],
        Arc::new(|inputs| {
            let path = pipeline_core::task::expect_input::<PathBuf>(inputs, 0);
            let text = read_all(path)
                .map_err(|e| TaskError::new(format!("cannot read {}: {e}", path.display())))?;
            Ok(vec![Box::new(text) as Box<dyn Any + Send + Sync>])
        }),
    )
}

fn read_all(path: &Path) -> std::io::Result<String> {
    if path.is_dir() {
        let mut names: Vec<PathBuf> = std::fs::read_dir(path)?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()?;
        names.sort();
        names.iter().map(|p| read_all(p)).collect()
    } else {
        std::fs::read_to_string(path)
    }
}

/// `path --read--> text --shout--> loud`
fn graph(path: &Path) -> Graph {
    GraphBuilder::new("files")
        .node(NodeSpec::new::<PathBuf>("path").with_default(path.to_owned()))
        .node(NodeSpec::new::<String>("text"))
        .node(NodeSpec::new::<String>("loud"))
        .task(
            TaskSpec::new(reader())
                .inputs(["path"])
                .outputs(["text"])
                .skippable(true),
        )
        .task(
            TaskSpec::new(TaskDef::from_fn1("shout", "1", |t: &String| {
                t.to_uppercase()
            }))
            .inputs(["text"])
            .outputs(["loud"])
            .skippable(true),
        )
        .build()
        .unwrap()
}

/// Writes `text` in place, keeping the file's size and modification time
/// (only its change time and content differ).
fn edit_in_place(path: &Path, text: &str) {
    let before = std::fs::metadata(path).unwrap();
    assert_eq!(
        before.len(),
        text.len() as u64,
        "an in-place edit keeps the size"
    );
    std::fs::write(path, text).unwrap();
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_modified(before.modified().unwrap()).unwrap();
}

/// Waits out the stat cache's racy window after writing files.
fn settle() {
    std::thread::sleep(Duration::from_millis(120));
}

fn file_change_of(reason: &Option<Reason>, node: &str) -> bool {
    matches!(reason, Some(Reason::Changed { changes }) if changes.iter().any(|c| matches!(
        c,
        Change::Input { node: n, written_by: WrittenBy::FileChange, .. } if &**n == node
    )))
}

#[test]
fn a_file_edited_in_place_reruns_its_reader_and_serves_the_new_value() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("data.csv");
    std::fs::write(&csv, "a,b\n1,2\n").unwrap();
    let runtime = Runtime::in_memory();
    let scenario = runtime.create_scenario(graph(&csv), "s").unwrap();
    scenario.submit().unwrap();
    assert_eq!(
        *scenario.node::<String>("loud").unwrap().read().unwrap(),
        "A,B\n1,2\n"
    );

    edit_in_place(&csv, "a,b\n3,4\n");
    let submission = scenario.submit().unwrap();
    assert_eq!(
        submission.tasks_with(JobStatus::Completed),
        ["read", "shout"]
    );
    assert!(
        file_change_of(&submission.job("read").unwrap().reason, "path"),
        "{:?}",
        submission.job("read").unwrap().reason
    );
    assert_eq!(
        *scenario.node::<String>("loud").unwrap().read().unwrap(),
        "A,B\n3,4\n"
    );
    // The change is a version of the path node, written by a file change.
    let history = scenario.node_history("path").unwrap();
    assert_eq!(history.last().unwrap().written_by, WrittenBy::FileChange);
    assert_eq!(history.len(), 2);
}

#[test]
fn the_same_path_written_again_after_an_edit_is_a_file_change_not_the_users() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("data.csv");
    std::fs::write(&csv, "a,b\n1,2\n").unwrap();
    let runtime = Runtime::in_memory();
    let scenario = runtime.create_scenario(graph(&csv), "s").unwrap();
    let path = scenario.node::<PathBuf>("path").unwrap();
    // As `run --data data.csv` does each time: the path written, then a submit.
    path.write(csv.clone()).unwrap();
    scenario.submit().unwrap();

    // Written with the submission, under its locks.
    edit_in_place(&csv, "a,b\n3,4\n");
    let submission = scenario
        .submit_with_writes(
            pipeline_core::Writes::new().value("path", csv.clone()),
            &pipeline_core::SubmitOptions::new(),
        )
        .unwrap();
    let reason = &submission.job("read").unwrap().reason;
    assert!(file_change_of(reason, "path"), "{reason:?}");
    let history = scenario.node_history("path").unwrap();
    assert_eq!(history.last().unwrap().written_by, WrittenBy::FileChange);
    assert_eq!(history.len(), 2);

    // Written alone, then submitted.
    edit_in_place(&csv, "a,b\n5,6\n");
    path.write(csv.clone()).unwrap();
    let submission = scenario.submit().unwrap();
    let reason = &submission.job("read").unwrap().reason;
    assert!(file_change_of(reason, "path"), "{reason:?}");
    let history = scenario.node_history("path").unwrap();
    assert_eq!(history.last().unwrap().written_by, WrittenBy::FileChange);
    assert_eq!(history.len(), 3);

    // Another path is the user's write, even to a file of the same content.
    let copy = dir.path().join("copy.csv");
    std::fs::copy(&csv, &copy).unwrap();
    path.write(copy).unwrap();
    let history = scenario.node_history("path").unwrap();
    assert_eq!(history.last().unwrap().written_by, WrittenBy::User);
}

#[test]
fn an_equal_rewrite_of_a_file_reruns_nothing_and_costs_one_hash() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("data.csv");
    std::fs::write(&csv, "a\n1\n").unwrap();
    settle();
    let runtime = Runtime::in_memory();
    let scenario = runtime.create_scenario(graph(&csv), "s").unwrap();
    scenario.submit().unwrap();
    let files = runtime.file_states();
    let hashed = files.hashed();

    std::fs::write(&csv, "a\n1\n").unwrap();
    settle();
    let submission = scenario.submit().unwrap();
    assert_eq!(submission.tasks_with(JobStatus::Skipped), ["read", "shout"]);
    assert_eq!(
        files.hashed(),
        hashed + 1,
        "the rewritten file is hashed once"
    );
    assert_eq!(
        scenario.node_history("path").unwrap().len(),
        1,
        "no new version"
    );
    scenario.submit().unwrap();
    assert_eq!(files.hashed(), hashed + 1, "and then trusted again");
}

#[test]
fn unchanged_files_cost_one_stat_each_and_no_hash() {
    let dir = tempfile::tempdir().unwrap();
    let count = 40;
    let mut builder = GraphBuilder::new("many");
    for i in 0..count {
        let path = dir.path().join(format!("f{i}.txt"));
        std::fs::write(&path, format!("{i}\n")).unwrap();
        builder = builder
            .node(NodeSpec::new::<PathBuf>(format!("p{i}")).with_default(path))
            .node(NodeSpec::new::<String>(format!("t{i}")))
            .task(
                TaskSpec::new(reader().renamed(format!("read{i}")))
                    .inputs([format!("p{i}")])
                    .outputs([format!("t{i}")])
                    .skippable(true),
            );
    }
    settle();
    let runtime = Runtime::in_memory();
    let scenario = runtime
        .create_scenario(builder.build().unwrap(), "s")
        .unwrap();
    scenario.submit().unwrap();
    let files = runtime.file_states();
    let (hashed, stats) = (files.hashed(), files.stats());
    for _ in 0..3 {
        let submission = scenario.submit().unwrap();
        assert_eq!(submission.tasks_with(JobStatus::Skipped).len(), count);
    }
    assert_eq!(files.hashed(), hashed, "unchanged files are not read");
    assert_eq!(
        files.stats(),
        stats + 3 * count as u64,
        "one stat per file and submit"
    );
}

#[test]
fn a_missing_file_runs_its_reader_which_fails_naming_the_path_and_keeps_earlier_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("data.csv");
    std::fs::write(&csv, "a\n").unwrap();
    let runtime = Runtime::in_memory();
    let scenario = runtime.create_scenario(graph(&csv), "s").unwrap();
    scenario.submit().unwrap();
    std::fs::remove_file(&csv).unwrap();
    let submission = scenario.submit().unwrap();
    let job = submission.job("read").unwrap();
    assert_eq!(job.status, JobStatus::Failed);
    let error = job.error_text().unwrap();
    assert!(error.contains(&csv.display().to_string()), "{error}");
    assert_eq!(submission.status("shout"), Some(JobStatus::Abandoned));
    assert_eq!(
        *scenario.node::<String>("text").unwrap().read().unwrap(),
        "a\n"
    );
    // Put back as it was: the earlier outputs are current again.
    std::fs::write(&csv, "a\n").unwrap();
    let again = scenario.submit().unwrap();
    assert_eq!(again.tasks_with(JobStatus::Skipped), ["read", "shout"]);
}

#[test]
fn a_directory_node_stands_for_every_file_in_its_tree() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(data.join("sub")).unwrap();
    std::fs::write(data.join("a.txt"), "a").unwrap();
    std::fs::write(data.join("sub/b.txt"), "b").unwrap();
    let runtime = Runtime::in_memory();
    let scenario = runtime.create_scenario(graph(&data), "s").unwrap();
    scenario.submit().unwrap();
    assert_eq!(
        *scenario.node::<String>("text").unwrap().read().unwrap(),
        "ab"
    );
    assert_eq!(
        scenario.submit().unwrap().tasks_with(JobStatus::Skipped),
        ["read", "shout"]
    );
    edit_in_place(&data.join("sub/b.txt"), "c");
    let submission = scenario.submit().unwrap();
    assert_eq!(submission.status("read"), Some(JobStatus::Completed));
    assert_eq!(
        *scenario.node::<String>("text").unwrap().read().unwrap(),
        "ac"
    );
    std::fs::write(data.join("sub/d.txt"), "d").unwrap();
    scenario.submit().unwrap();
    assert_eq!(
        *scenario.node::<String>("text").unwrap().read().unwrap(),
        "acd"
    );
}

/// The parent edits the file between two child processes; each child opens
/// the store, submits, and prints what it saw.
#[test]
fn a_file_edited_between_processes_reruns_its_reader_in_the_next() {
    if let Some(role) = child_role() {
        let store = PathBuf::from(std::env::var("STORE").unwrap());
        let csv = PathBuf::from(std::env::var("CSV").unwrap());
        let runtime = store_support::open(&store);
        let scenario = runtime.find_or_create_scenario(graph(&csv), "s").unwrap();
        let submission = scenario.submit().unwrap();
        let loud = scenario.node::<String>("loud").unwrap().read().unwrap();
        println!(
            "{role}: read={} hashed={} loud={loud:?}",
            submission.status("read").unwrap(),
            runtime.file_states().hashed()
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (store, csv) = (dir.path().join("store"), dir.path().join("data.csv"));
    std::fs::write(&csv, "x\n1\n").unwrap();
    settle();
    let run = |role: &str| {
        let mut child = spawn_child(
            "a_file_edited_between_processes_reruns_its_reader_in_the_next",
            role,
            &[("STORE", &store), ("CSV", &csv)],
        );
        let status = child.wait().unwrap();
        let output = child_output(&mut child);
        assert!(status.success(), "{output}");
        output
    };
    let first = run("first");
    assert!(first.contains("first: read=completed"), "{first}");
    let unchanged = run("unchanged");
    assert!(
        unchanged.contains("unchanged: read=skipped hashed=0 "),
        "a new process trusts the recorded stat: {unchanged}"
    );
    edit_in_place(&csv, "x\n2\n");
    let edited = run("edited");
    assert!(
        edited.contains("edited: read=completed hashed=1 loud=\"X\\n2\\n\""),
        "{edited}"
    );
}

#[test]
fn lineage_shows_the_file_change_a_job_read() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("data.csv");
    std::fs::write(&csv, "a\n1\n").unwrap();
    let runtime = Runtime::with_store(pipeline_core::store::MemoryStore::with_lineage());
    let scenario = runtime.create_scenario(graph(&csv), "s").unwrap();
    scenario.submit().unwrap();
    edit_in_place(&csv, "a\n2\n");
    scenario.submit().unwrap();
    let lineage = scenario.lineage("loud").unwrap();
    let text = lineage.to_string();
    assert!(
        text.contains("path v2") && text.contains("a file change"),
        "{text}"
    );
    assert_eq!(
        lineage.to_json()["inputs"][0]["inputs"][0]["written_by"]["kind"],
        "file_change"
    );
}

/// A task that writes a file and returns its path: editing that file by
/// hand makes the task write it again (its outputs are not adopted from
/// the memo, which recorded what the file held then), and its readers read
/// what it wrote.
#[test]
fn an_output_file_edited_by_hand_is_made_again() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report.txt");
    let target = out.clone();
    let graph = GraphBuilder::new("writer")
        .node(NodeSpec::new::<i64>("x").with_default(7))
        .node(NodeSpec::new::<PathBuf>("report"))
        .node(NodeSpec::new::<String>("text"))
        .task(
            TaskSpec::new(TaskDef::from_fn1("write", "1", move |x: &i64| {
                std::fs::write(&target, format!("x={x}\n")).unwrap();
                target.clone()
            }))
            .inputs(["x"])
            .outputs(["report"])
            .skippable(true),
        )
        .task(
            TaskSpec::new(reader())
                .inputs(["report"])
                .outputs(["text"])
                .skippable(true),
        )
        .build()
        .unwrap();
    let scenario = Runtime::in_memory().create_scenario(graph, "s").unwrap();
    scenario.submit().unwrap();
    assert_eq!(
        *scenario.node::<String>("text").unwrap().read().unwrap(),
        "x=7\n"
    );
    edit_in_place(&out, "x=9\n");
    let submission = scenario.submit().unwrap();
    assert_eq!(submission.status("write"), Some(JobStatus::Completed));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "x=7\n");
    assert_eq!(
        *scenario.node::<String>("text").unwrap().read().unwrap(),
        "x=7\n"
    );
    let again = scenario.submit().unwrap();
    assert_eq!(again.tasks_with(JobStatus::Skipped), ["write", "read"]);
}
