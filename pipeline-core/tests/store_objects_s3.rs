//! A store whose values live in a real S3-compatible server too
//! (`moto_server` on 127.0.0.1, one per test; see `remote_support`): values
//! land in the bucket, come back after eviction, and an unreachable or
//! killed server fails the job that needed it, clearly, losing nothing.
//! Each test skips, saying why, when no server can be started (and fails
//! instead under `PIPELINE_REQUIRE_REMOTE=1`).

mod remote_support;
mod store_support;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pipeline_core::graph::{Graph, GraphBuilder, NodeSpec, TaskSpec};
use pipeline_core::objects::{ObjectStore, ObjectStoreOptions};
use pipeline_core::store::{Owner, SlotKey, SqliteOptions};
use pipeline_core::task::TaskDef;
use pipeline_core::{JobStatus, Runtime};
use remote_support::{FaultyLink, S3Server};
use store_support::{Counters, blobs, object_files, quiet};

const URL: &str = "s3://values/team/a";

/// The object store at [`URL`] through `endpoint`, with few, short retries
/// so that fault tests end quickly.
fn bucket(endpoint: &str) -> ObjectStore {
    let options = ObjectStoreOptions::default()
        .with_s3_setting("aws_endpoint", endpoint)
        .with_s3_setting("aws_allow_http", "true")
        .with_s3_setting("aws_access_key_id", "test")
        .with_s3_setting("aws_secret_access_key", "test")
        .with_s3_setting("aws_region", "us-east-1")
        .with_retries(1, Duration::from_secs(3))
        .with_timeouts(Duration::from_secs(2), Duration::from_secs(30));
    ObjectStore::open_with(URL.parse().unwrap(), options).unwrap()
}

fn open(dir: &Path, endpoint: &str) -> Runtime {
    Runtime::open_with(dir, options(endpoint)).unwrap()
}

fn options(endpoint: &str) -> SqliteOptions {
    quiet().object_store(bucket(endpoint))
}

fn blob_slot(runtime: &Runtime) -> SlotKey {
    SlotKey {
        owner: Owner::Scenario(runtime.scenarios().unwrap()[0].id),
        node: "blob".into(),
    }
}

/// The names of the values in the bucket.
fn values_in(bucket: &ObjectStore) -> Vec<String> {
    bucket
        .list("values")
        .unwrap()
        .into_iter()
        .map(|o| o.name)
        .collect()
}

#[test]
fn s3_values_come_back_byte_equal_after_eviction_and_skips_fetch_nothing() {
    let test = "s3_values_come_back_byte_equal_after_eviction_and_skips_fetch_nothing";
    let Some(server) = S3Server::start_or_skip(test) else {
        return;
    };
    server.create_bucket("values");
    let dir = tempfile::tempdir().unwrap();
    let counters = Counters::default();
    let blob = {
        let runtime = open(dir.path(), &server.endpoint());
        let scenario = runtime.create_scenario(blobs(&counters), "main").unwrap();
        scenario.submit().unwrap().into_result().unwrap();
        runtime.store().flush().unwrap();
        let fingerprint = runtime
            .store()
            .current_version(&blob_slot(&runtime))
            .unwrap()
            .unwrap()
            .fingerprint
            .to_hex();
        assert_eq!(
            values_in(&bucket(&server.endpoint())),
            [format!("values/{}/{fingerprint}.bin", &fingerprint[..2])]
        );
        let evicted = runtime.evict_local().unwrap();
        assert_eq!(evicted.files_evicted, 1, "{evicted:?}");
        scenario.node::<Vec<u8>>("blob").unwrap().read().unwrap()
    };
    assert!(object_files(dir.path()).is_empty());

    let runtime = open(dir.path(), &server.endpoint());
    let scenario = runtime
        .find_scenario(blobs(&counters), "main")
        .unwrap()
        .unwrap();
    let submission = scenario.submit().unwrap();
    assert_eq!(submission.status("fill"), Some(JobStatus::Skipped));
    assert_eq!(submission.status("checksum"), Some(JobStatus::Skipped));
    assert!(
        object_files(dir.path()).is_empty(),
        "a skip fetched a value"
    );
    assert_eq!(
        scenario.node::<Vec<u8>>("blob").unwrap().read().unwrap(),
        blob
    );
    assert_eq!(object_files(dir.path()).len(), 1, "fetched into the cache");
    assert_eq!(counters.get(), [1, 1, 0, 0]);
}

#[test]
fn an_unreachable_s3_server_fails_the_job_clearly_and_loses_nothing() {
    let test = "an_unreachable_s3_server_fails_the_job_clearly_and_loses_nothing";
    let Some(server) = S3Server::start_or_skip(test) else {
        return;
    };
    server.create_bucket("values");
    let link = FaultyLink::start(server.port());
    // Opened while the server answers (opening checks that it does).
    let values = bucket(&link.endpoint());
    let open = |dir: &Path| Runtime::open_with(dir, quiet().object_store(values.clone())).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let counters = Counters::default();
    let runtime = open(dir.path());
    let scenario = runtime.create_scenario(blobs(&counters), "main").unwrap();
    scenario.submit().unwrap().into_result().unwrap();
    let first = scenario.node::<Vec<u8>>("blob").unwrap().read().unwrap();
    runtime.evict_local().unwrap();

    link.cut_after(0);
    scenario.node::<u64>("size").unwrap().write(70_000).unwrap();
    let submission = scenario.submit().unwrap();
    assert_eq!(submission.status("fill"), Some(JobStatus::Failed));
    assert_eq!(submission.status("checksum"), Some(JobStatus::Abandoned));
    let message = submission.into_result().unwrap_err().to_string();
    for needle in [
        URL,
        "unreachable",
        "data node `blob`",
        "nothing was recorded",
    ] {
        assert!(message.contains(needle), "{needle:?} not in: {message}");
    }

    // The evicted earlier version cannot be read meanwhile, and says why.
    let reopened = open(dir.path());
    let again = reopened
        .find_scenario(blobs(&counters), "main")
        .unwrap()
        .unwrap();
    let error = again
        .node::<Vec<u8>>("blob")
        .unwrap()
        .read()
        .unwrap_err()
        .to_string();
    for needle in [URL, "unreachable", "data node `blob`", "no local copy here"] {
        assert!(error.contains(needle), "{needle:?} not in: {error}");
    }

    // Once the server answers again, the earlier version is all there is,
    // and it reads back whole; the next submission completes.
    link.restore();
    assert_eq!(
        again.node::<Vec<u8>>("blob").unwrap().read().unwrap(),
        first
    );
    assert_eq!(
        reopened
            .store()
            .history(&blob_slot(&reopened))
            .unwrap()
            .len(),
        1
    );
    again.submit().unwrap().into_result().unwrap();
    assert_eq!(
        again.node::<Vec<u8>>("blob").unwrap().read().unwrap().len(),
        70_000
    );
}

/// size --fill--> blob, whose task kills the S3 server the second time it
/// runs (after computing, before its output is stored).
fn killing_graph(server: Arc<Mutex<S3Server>>) -> Graph {
    let runs = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    GraphBuilder::new("killing")
        .node(NodeSpec::new::<u64>("size").with_default(100_000))
        .node(NodeSpec::new::<Vec<u8>>("blob"))
        .task(
            TaskSpec::new(TaskDef::from_fn1("fill", "1", move |size: &u64| {
                if runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 1 {
                    server.lock().unwrap().kill();
                }
                vec![(*size % 251) as u8; *size as usize]
            }))
            .inputs(["size"])
            .outputs(["blob"])
            .skippable(true),
        )
        .build()
        .unwrap()
}

#[test]
fn an_s3_server_killed_mid_run_fails_the_job_and_earlier_versions_stay_readable() {
    let test = "an_s3_server_killed_mid_run_fails_the_job_and_earlier_versions_stay_readable";
    let Some(server) = S3Server::start_or_skip(test) else {
        return;
    };
    server.create_bucket("values");
    let endpoint = server.endpoint();
    let server = Arc::new(Mutex::new(server));
    let dir = tempfile::tempdir().unwrap();
    let runtime = open(dir.path(), &endpoint);
    let scenario = runtime
        .create_scenario(killing_graph(server.clone()), "main")
        .unwrap();
    scenario.submit().unwrap().into_result().unwrap();
    let first = scenario.node::<Vec<u8>>("blob").unwrap().read().unwrap();

    scenario.node::<u64>("size").unwrap().write(70_000).unwrap();
    let submission = scenario.submit().unwrap();
    assert_eq!(submission.status("fill"), Some(JobStatus::Failed));
    let message = submission.into_result().unwrap_err().to_string();
    for needle in [URL, "unreachable", "data node `blob`"] {
        assert!(message.contains(needle), "{needle:?} not in: {message}");
    }

    // The earlier version stays current and readable (from the local copy:
    // moto keeps its objects in memory, so the killed server's are gone).
    drop((scenario, runtime));
    let runtime = Runtime::open_with(dir.path(), quiet()).unwrap();
    let scenario = runtime
        .find_scenario(killing_graph(server), "main")
        .unwrap()
        .unwrap();
    assert_eq!(
        runtime.store().history(&blob_slot(&runtime)).unwrap().len(),
        1
    );
    assert_eq!(
        scenario.node::<Vec<u8>>("blob").unwrap().read().unwrap(),
        first
    );
}
