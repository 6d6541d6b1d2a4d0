//! Views: values that name another stored value by fingerprint and read its
//! file (a few derived columns over a data frame, say) instead of copying it.
//! A new process reads them through the store, gc keeps what they read, a
//! damaged underlying file is recomputed (the view stays), and a view is
//! never recorded without the value it names.

mod store_support;

use std::path::{Path, PathBuf};

use pipeline_core::fingerprint::Fingerprint;
use pipeline_core::graph::{Graph, GraphBuilder, NodeSpec, TaskSpec};
use pipeline_core::task::TaskDef;
use pipeline_core::value::{MaterializeContext, Materialized, StoreContext, ValueError};
use pipeline_core::{JobStatus, Runtime, Value};
use store_support::{object_files, open};

/// A large value that knows the fingerprint it is stored under.
#[derive(Debug, Clone, PartialEq)]
struct Bytes {
    data: Vec<u8>,
    stored: Option<Fingerprint>,
}

impl Value for Bytes {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), ValueError> {
        out.extend_from_slice(&self.data);
        Ok(())
    }

    fn decode(input: &mut &[u8]) -> Result<Self, ValueError> {
        let data = std::mem::take(input).to_vec();
        Ok(Self { data, stored: None })
    }

    fn extension() -> &'static str {
        "bytes"
    }

    fn materialize(self, _ctx: &MaterializeContext<'_>) -> Result<Materialized<Self>, ValueError> {
        let fingerprint = self.fingerprint()?;
        Ok(Materialized {
            value: Self {
                stored: Some(fingerprint),
                ..self
            },
            fingerprint,
            file: None,
        })
    }

    fn read_stored_file(path: &Path, ctx: &StoreContext<'_>) -> Result<Self, ValueError> {
        let mut value = Self::read_file(path)?;
        value.stored = Some(ctx.fingerprint());
        Ok(value)
    }
}

/// A view: the first `len` bytes of a stored [`Bytes`], read from its file.
#[derive(Debug, Clone, PartialEq)]
struct Head {
    of: Fingerprint,
    len: u64,
    data: Vec<u8>,
}

impl Value for Head {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), ValueError> {
        out.extend_from_slice(self.of.as_bytes());
        out.extend_from_slice(&self.len.to_le_bytes());
        Ok(())
    }

    fn decode(_input: &mut &[u8]) -> Result<Self, ValueError> {
        Err(ValueError::decode::<Self>(
            "a view is read through its store",
        ))
    }

    fn decode_stored(input: &mut &[u8], ctx: &StoreContext<'_>) -> Result<Self, ValueError> {
        if input.len() != 40 {
            return Err(ValueError::decode::<Self>("not 40 bytes"));
        }
        let of = Fingerprint::from_bytes(input[..32].try_into().unwrap());
        let len = u64::from_le_bytes(input[32..].try_into().unwrap());
        *input = &[];
        let file = ctx.file_of(&of)?;
        let mut data = std::fs::read(&file).unwrap();
        data.truncate(len as usize);
        Ok(Self { of, len, data })
    }

    fn references(&self) -> Vec<Fingerprint> {
        vec![self.of]
    }
}

/// n --make_bytes--> bytes (n bytes) --head(k)--> head (a view) --total(scale)--> total.
fn views() -> Graph {
    GraphBuilder::new("views")
        .node(NodeSpec::new::<u64>("n").with_default(100_000))
        .node(NodeSpec::new::<u64>("k").with_default(10))
        .node(NodeSpec::new::<u64>("scale").with_default(1))
        .node(NodeSpec::new::<Bytes>("bytes"))
        .node(NodeSpec::new::<Head>("head"))
        .node(NodeSpec::new::<u64>("total"))
        .task(
            TaskSpec::new(TaskDef::from_fn1("make_bytes", "1", |n: &u64| Bytes {
                data: fill(*n),
                stored: None,
            }))
            .inputs(["n"])
            .outputs(["bytes"])
            .skippable(true),
        )
        .task(
            TaskSpec::new(TaskDef::from_fn2("head", "1", |bytes: &Bytes, k: &u64| {
                Head {
                    of: bytes.stored.expect("a task's input was stored first"),
                    len: *k,
                    data: bytes.data[..*k as usize].to_vec(),
                }
            }))
            .inputs(["bytes", "k"])
            .outputs(["head"])
            .skippable(true),
        )
        .task(
            TaskSpec::new(TaskDef::from_fn2(
                "total",
                "1",
                |head: &Head, scale: &u64| {
                    head.data.iter().map(|b| u64::from(*b)).sum::<u64>() * scale
                },
            ))
            .inputs(["head", "scale"])
            .outputs(["total"])
            .skippable(true),
        )
        .build()
        .unwrap()
}

/// `n` bytes that depend on `n`, so that two sizes give two different values.
fn fill(n: u64) -> Vec<u8> {
    (0..n).map(|i| ((i + n) % 251) as u8).collect()
}

fn bytes_file(dir: &Path, fingerprint: Fingerprint) -> PathBuf {
    dir.join(format!("objects/{fingerprint}.bytes"))
}

/// The sum of the default view's bytes (the first 10 of 100,000).
fn head_sum() -> u64 {
    fill(100_000)[..10].iter().map(|b| u64::from(*b)).sum()
}

/// Makes and submits scenario `s` of [`views`] in the store `dir`, in a
/// runtime of its own (closed on return); returns the fingerprint of `bytes`.
fn submit_once(dir: &Path) -> Fingerprint {
    let runtime = open(dir);
    let scenario = runtime.create_scenario(views(), "s").unwrap();
    assert!(scenario.submit().unwrap().is_success());
    scenario
        .node::<Bytes>("bytes")
        .unwrap()
        .fingerprint()
        .unwrap()
        .unwrap()
}

#[test]
fn a_view_is_stored_small_and_read_in_a_new_process() {
    let dir = tempfile::tempdir().unwrap();
    let underlying = submit_once(dir.path());
    // Only the large value has a file: the view is 40 bytes in the database.
    assert_eq!(
        object_files(dir.path()),
        vec![bytes_file(dir.path(), underlying)]
    );

    let runtime = open(dir.path());
    let scenario = runtime.find_scenario(views(), "s").unwrap().unwrap();
    let head = scenario.node::<Head>("head").unwrap().read().unwrap();
    assert_eq!(head.data, fill(100_000)[..10]);
    assert_eq!(head.of, underlying);
    scenario.node::<u64>("scale").unwrap().write(3).unwrap();
    let submission = scenario.submit().unwrap();
    assert_eq!(submission.status("make_bytes"), Some(JobStatus::Skipped));
    assert_eq!(submission.status("head"), Some(JobStatus::Skipped));
    assert_eq!(submission.status("total"), Some(JobStatus::Completed));
    assert_eq!(
        *scenario.node::<u64>("total").unwrap().read().unwrap(),
        3 * head_sum()
    );
}

#[test]
fn gc_keeps_the_values_that_kept_views_read() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = open(dir.path());
    let first = runtime.create_scenario(views(), "first").unwrap();
    assert!(first.submit().unwrap().is_success());
    let head = first.node::<Head>("head").unwrap().read().unwrap();
    let underlying = bytes_file(dir.path(), head.of);

    // A second scenario of other bytes, given the first one's view by hand:
    // once the first scenario is gone, only the view names its bytes.
    let second = runtime.create_scenario(views(), "second").unwrap();
    second.node::<u64>("n").unwrap().write(50_000).unwrap();
    assert!(second.submit().unwrap().is_success());
    second
        .node::<Head>("head")
        .unwrap()
        .write((*head).clone())
        .unwrap();
    runtime.delete_scenario(first.id()).unwrap();
    runtime.gc().unwrap();
    assert!(underlying.exists(), "gc removed the bytes a view reads");
    drop((first, second, runtime));

    let runtime = open(dir.path());
    let second = runtime.find_scenario(views(), "second").unwrap().unwrap();
    let read = second.node::<Head>("head").unwrap().read().unwrap();
    assert_eq!(read.data, fill(100_000)[..10]);

    // Without the view, the bytes go.
    runtime.delete_scenario(second.id()).unwrap();
    runtime.gc().unwrap();
    assert!(!underlying.exists(), "gc kept bytes nothing names");
}

#[test]
fn a_damaged_file_under_a_view_is_recomputed_and_the_view_kept() {
    let dir = tempfile::tempdir().unwrap();
    let underlying = submit_once(dir.path());
    let file = bytes_file(dir.path(), underlying);
    let mut data = std::fs::read(&file).unwrap();
    data[3] ^= 0x10;
    std::fs::write(&file, data).unwrap();

    // A new process whose `scale` changed must read the view.
    let runtime = Runtime::open_with(dir.path(), store_support::quiet()).unwrap();
    let scenario = runtime.find_scenario(views(), "s").unwrap().unwrap();
    scenario.node::<u64>("scale").unwrap().write(2).unwrap();
    let submission = scenario.submit().unwrap();
    assert!(submission.is_success(), "{submission:?}");
    // The damaged bytes were removed and made again; the view itself was
    // intact, so it stays (its recipe names the same bytes).
    assert_eq!(submission.status("make_bytes"), Some(JobStatus::Completed));
    assert_eq!(submission.status("head"), Some(JobStatus::Skipped));
    assert_eq!(submission.status("total"), Some(JobStatus::Completed));
    assert_eq!(
        *scenario.node::<u64>("total").unwrap().read().unwrap(),
        2 * head_sum()
    );
    let damaged: Vec<_> = std::fs::read_dir(dir.path().join("objects/damaged"))
        .unwrap()
        .collect();
    assert_eq!(damaged.len(), 1, "only the damaged bytes were moved aside");

    // The first attempt said what was wrong, naming the view's node.
    let history = scenario.job_history().unwrap();
    let attempt = &history.submissions[history.submissions.len() - 2];
    let error = attempt.job("total").unwrap().error.as_deref().unwrap();
    assert!(error.contains("`head`"), "{error}");
    assert!(error.contains("it is a view of"), "{error}");
    assert!(
        error.contains("no longer matches its content hash"),
        "{error}"
    );
}

#[test]
fn a_view_naming_a_value_the_store_lacks_is_not_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = open(dir.path());
    let scenario = runtime.create_scenario(views(), "s").unwrap();
    assert!(scenario.submit().unwrap().is_success());
    let before = scenario
        .node::<Head>("head")
        .unwrap()
        .fingerprint()
        .unwrap();

    let bogus = Head {
        of: Fingerprint::of_bytes(b"never stored"),
        len: 3,
        data: vec![1, 2, 3],
    };
    let recorded = scenario
        .node::<Head>("head")
        .unwrap()
        .write(bogus)
        .map_err(|e| e.to_string())
        .and_then(|_| runtime.store().flush().map_err(|e| e.to_string()));
    let error = recorded.unwrap_err();
    assert!(error.contains("does not hold it"), "{error}");
    drop((scenario, runtime));

    let runtime = open(dir.path());
    let scenario = runtime.find_scenario(views(), "s").unwrap().unwrap();
    let head = scenario.node::<Head>("head").unwrap();
    assert_eq!(head.fingerprint().unwrap(), before);
    assert_eq!(head.read().unwrap().data, fill(100_000)[..10]);
}
