//! A store whose values live in an object store too
//! (`SqliteOptions::object_store`), here a directory object store (the same
//! `object_store` client code as S3 above the transport; the S3 server's
//! faults are in `store_objects_s3`): uploads before rows, eviction and
//! fetching back, the recorded object store, refusals, gc.

mod store_support;

use std::path::{Path, PathBuf};

use pipeline_core::JobStatus;
use pipeline_core::Runtime;
use pipeline_core::objects::ObjectStore;
use pipeline_core::store::{Owner, SlotKey, SqliteOptions, SqliteStore};
use store_support::{Counters, blobs, object_files, quiet};

/// Every object under `values/` of a directory object store, as relative
/// names (`values/ab/ab….bin`).
fn value_objects(bucket: &Path) -> Vec<String> {
    let mut names = Vec::new();
    let root = bucket.join("values");
    for fan in std::fs::read_dir(&root).into_iter().flatten().flatten() {
        for object in std::fs::read_dir(fan.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            names.push(format!(
                "values/{}/{}",
                fan.file_name().to_string_lossy(),
                object.file_name().to_string_lossy()
            ));
        }
    }
    names.sort();
    names
}

fn with_objects(bucket: &Path) -> SqliteOptions {
    quiet().object_store(ObjectStore::open(bucket.to_str().unwrap()).unwrap())
}

fn open_with_objects(dir: &Path, bucket: &Path) -> Runtime {
    Runtime::open_with(dir, with_objects(bucket)).unwrap()
}

/// The object name of the current value of `node` in scenario "main".
/// The length of the value `blob` holds, read through the store.
fn blob_len(scenario: &pipeline_core::Scenario) -> usize {
    scenario
        .node::<Vec<u8>>("blob")
        .unwrap()
        .read()
        .unwrap()
        .len()
}

fn object_of(runtime: &Runtime, node: &str) -> String {
    let slot = SlotKey {
        owner: Owner::Scenario(runtime.scenarios().unwrap()[0].id),
        node: node.into(),
    };
    let meta = runtime.store().current_version(&slot).unwrap().unwrap();
    let hex = meta.fingerprint.to_hex();
    format!("values/{}/{hex}.bin", &hex[..2])
}

#[test]
fn every_value_file_is_in_the_object_store_once_its_job_is_recorded() {
    let (dir, bucket) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let counters = Counters::default();
    let runtime = open_with_objects(dir.path(), bucket.path());
    let scenario = runtime.create_scenario(blobs(&counters), "main").unwrap();
    scenario.submit().unwrap().into_result().unwrap();
    runtime.store().flush().unwrap();

    // `blob` (100 kB) is a file; `size` and `sum` are small and stay in the
    // database, which is the registry.
    assert_eq!(object_files(dir.path()).len(), 1);
    assert_eq!(value_objects(bucket.path()), [object_of(&runtime, "blob")]);
    let local = std::fs::read(&object_files(dir.path())[0]).unwrap();
    let remote = std::fs::read(bucket.path().join(object_of(&runtime, "blob"))).unwrap();
    assert_eq!(local, remote);
}

#[test]
fn an_evicted_value_is_fetched_back_byte_equal_and_skipping_fetches_nothing() {
    let (dir, bucket) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let counters = Counters::default();
    let blob = {
        let runtime = open_with_objects(dir.path(), bucket.path());
        let scenario = runtime.create_scenario(blobs(&counters), "main").unwrap();
        scenario.submit().unwrap().into_result().unwrap();
        let report = runtime.evict_local().unwrap();
        assert_eq!(
            (report.files_evicted, report.uploaded),
            (1, 0),
            "{report:?}"
        );
        assert!(report.bytes_freed > 100_000, "{report:?}");
        scenario.node::<Vec<u8>>("blob").unwrap().read().unwrap()
    };
    assert!(object_files(dir.path()).is_empty(), "evicted");

    // A new process skips both tasks without fetching anything...
    let runtime = open_with_objects(dir.path(), bucket.path());
    let scenario = runtime
        .find_scenario(blobs(&counters), "main")
        .unwrap()
        .unwrap();
    let submission = scenario.submit().unwrap();
    assert_eq!(submission.status("fill"), Some(JobStatus::Skipped));
    assert_eq!(submission.status("checksum"), Some(JobStatus::Skipped));
    assert_eq!(counters.get(), [1, 1, 0, 0]);
    assert!(
        object_files(dir.path()).is_empty(),
        "a skip fetched a value"
    );

    // ...and a read fetches the value back, byte-equal, into the local cache.
    let read = scenario.node::<Vec<u8>>("blob").unwrap().read().unwrap();
    assert_eq!(read, blob);
    assert_eq!(object_files(dir.path()).len(), 1);
    let verified = runtime.verify().unwrap();
    assert!(verified.damaged.is_empty(), "{verified:?}");
}

#[test]
fn a_store_opened_without_an_object_store_uses_the_one_it_records() {
    let (dir, bucket) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let counters = Counters::default();
    {
        let runtime = open_with_objects(dir.path(), bucket.path());
        let scenario = runtime.create_scenario(blobs(&counters), "main").unwrap();
        scenario.submit().unwrap().into_result().unwrap();
        runtime.evict_local().unwrap();
    }
    let store = SqliteStore::open_with(dir.path(), quiet()).unwrap();
    let expected = ObjectStore::open(bucket.path().to_str().unwrap())
        .unwrap()
        .location()
        .to_string();
    assert_eq!(store.object_store_url(), Some(expected.as_str()));
    let runtime = Runtime::with_store(store);
    let scenario = runtime
        .find_scenario(blobs(&counters), "main")
        .unwrap()
        .unwrap();
    assert_eq!(blob_len(&scenario), 100_000);

    // A new value is uploaded through the recorded object store too.
    scenario.node::<u64>("size").unwrap().write(70_000).unwrap();
    scenario.submit().unwrap().into_result().unwrap();
    runtime.store().flush().unwrap();
    assert_eq!(value_objects(bucket.path()).len(), 2);
    assert!(value_objects(bucket.path()).contains(&object_of(&runtime, "blob")));
}

#[test]
fn another_object_store_than_the_recorded_one_is_refused_naming_both() {
    let (dir, bucket) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let other = tempfile::tempdir().unwrap();
    drop(open_with_objects(dir.path(), bucket.path()));
    let error = SqliteStore::open_with(dir.path(), with_objects(other.path())).unwrap_err();
    let message = error.to_string();
    let url = |p: &Path| {
        ObjectStore::open(p.to_str().unwrap())
            .unwrap()
            .location()
            .to_string()
    };
    assert!(message.contains(&url(bucket.path())), "{message}");
    assert!(message.contains(&url(other.path())), "{message}");
    assert!(
        message.contains("keeps its values in object store"),
        "{message}"
    );
}

#[test]
fn a_prefix_another_store_claimed_is_refused() {
    let bucket = tempfile::tempdir().unwrap();
    let (first, second) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    drop(open_with_objects(first.path(), bucket.path()));
    // The same store again is welcome (a fresh machine with its registry).
    drop(open_with_objects(first.path(), bucket.path()));
    let error = SqliteStore::open_with(second.path(), with_objects(bucket.path())).unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("holds the values of another store"),
        "{message}"
    );
    assert!(message.contains("store-id"), "{message}");
}

#[test]
fn switching_a_store_to_an_object_store_uploads_the_values_it_holds() {
    let (dir, bucket) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let counters = Counters::default();
    {
        let runtime = Runtime::open_with(dir.path(), quiet()).unwrap();
        let scenario = runtime.create_scenario(blobs(&counters), "main").unwrap();
        scenario.submit().unwrap().into_result().unwrap();
        assert!(
            runtime.evict_local().is_err(),
            "no object store to evict to"
        );
    }
    assert!(value_objects(bucket.path()).is_empty());
    let runtime = open_with_objects(dir.path(), bucket.path());
    assert_eq!(value_objects(bucket.path()), [object_of(&runtime, "blob")]);
}

#[test]
fn a_damaged_local_copy_is_fetched_again_instead_of_recomputed() {
    let (dir, bucket) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let counters = Counters::default();
    let runtime = open_with_objects(dir.path(), bucket.path());
    let scenario = runtime.create_scenario(blobs(&counters), "main").unwrap();
    scenario.submit().unwrap().into_result().unwrap();
    runtime.store().flush().unwrap();
    drop((scenario, runtime));
    let file = &object_files(dir.path())[0];
    let mut bytes = std::fs::read(file).unwrap();
    bytes[5000] ^= 0xff;
    std::fs::write(file, &bytes).unwrap();

    let runtime = open_with_objects(dir.path(), bucket.path());
    let scenario = runtime
        .find_scenario(blobs(&counters), "main")
        .unwrap()
        .unwrap();
    let blob = scenario.node::<Vec<u8>>("blob").unwrap().read().unwrap();
    assert_eq!(*blob, vec![(100_000 % 251) as u8; 100_000]);
    let submission = scenario.submit().unwrap();
    assert_eq!(submission.status("fill"), Some(JobStatus::Skipped));
    assert_eq!(counters.get(), [1, 1, 0, 0], "nothing recomputed");
    assert_ne!(std::fs::read(file).unwrap(), bytes, "repaired in place");
}

#[test]
fn a_value_neither_here_nor_in_the_object_store_is_recomputed() {
    let (dir, bucket) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let counters = Counters::default();
    let runtime = open_with_objects(dir.path(), bucket.path());
    let scenario = runtime.create_scenario(blobs(&counters), "main").unwrap();
    scenario.submit().unwrap().into_result().unwrap();
    runtime.evict_local().unwrap();
    let object = bucket.path().join(object_of(&runtime, "blob"));
    drop((scenario, runtime));
    std::fs::remove_file(object).unwrap();

    let runtime = open_with_objects(dir.path(), bucket.path());
    let scenario = runtime
        .find_scenario(blobs(&counters), "main")
        .unwrap()
        .unwrap();
    let error = scenario
        .node::<Vec<u8>>("blob")
        .unwrap()
        .read()
        .unwrap_err();
    assert!(error.to_string().contains("lacks it"), "{error}");
    scenario.submit().unwrap().into_result().unwrap();
    assert_eq!(
        counters.get(),
        [2, 1, 0, 0],
        "fill ran again, sum unchanged"
    );
    assert_eq!(value_objects(bucket.path()).len(), 1, "uploaded again");
}

#[test]
fn gc_deletes_unreferenced_values_from_the_object_store_and_nothing_else() {
    let (dir, bucket) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let counters = Counters::default();
    let runtime = open_with_objects(dir.path(), bucket.path());
    let scenario = runtime.create_scenario(blobs(&counters), "main").unwrap();
    scenario.submit().unwrap().into_result().unwrap();
    let first = object_of(&runtime, "blob");
    // Objects the store does not know: another tool's, a worker's manifest.
    let foreign = ["values/zz/not-ours.bin", "jobs/k/a/task.json", "notes.txt"];
    for name in foreign {
        let path = bucket.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, b"keep me").unwrap();
    }
    scenario.node::<u64>("size").unwrap().write(70_000).unwrap();
    scenario.submit().unwrap().into_result().unwrap();
    let second = object_of(&runtime, "blob");

    // The first blob is still referenced by the version history.
    let report = runtime.gc().unwrap();
    assert_eq!(report.objects_deleted, 0, "{report:?}");
    assert!(bucket.path().join(&first).exists());

    // Once its scenario is gone, gc deletes what only it referenced.
    let id = runtime.scenarios().unwrap()[0].id;
    runtime.store().delete_scenario(id).unwrap();
    let report = runtime.gc().unwrap();
    assert_eq!(report.objects_deleted, 2, "{report:?}");
    assert!(!bucket.path().join(&first).exists());
    assert!(!bucket.path().join(&second).exists());
    for name in foreign {
        assert!(bucket.path().join(name).exists(), "{name} was deleted");
    }
    assert!(bucket.path().join("store-id").exists());
}

#[test]
fn a_failed_upload_fails_the_job_naming_the_node_and_records_nothing() {
    let (dir, bucket) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let counters = Counters::default();
    let runtime = open_with_objects(dir.path(), bucket.path());
    let scenario = runtime.create_scenario(blobs(&counters), "main").unwrap();
    scenario.submit().unwrap().into_result().unwrap();
    let before = object_of(&runtime, "blob");

    // The object store's values folder becomes a file: every write fails.
    let values: PathBuf = bucket.path().join("values");
    std::fs::rename(&values, bucket.path().join("values.moved")).unwrap();
    std::fs::write(&values, b"in the way").unwrap();
    scenario.node::<u64>("size").unwrap().write(70_000).unwrap();
    let submission = scenario.submit().unwrap();
    assert_eq!(submission.status("fill"), Some(JobStatus::Failed));
    assert_eq!(submission.status("checksum"), Some(JobStatus::Abandoned));
    let message = submission.into_result().unwrap_err().to_string();
    assert!(message.contains("data node `blob`"), "{message}");
    assert!(message.contains("object store file://"), "{message}");
    assert!(message.contains("nothing was recorded"), "{message}");

    // The earlier version is current, and the only one recorded.
    std::fs::remove_file(&values).unwrap();
    std::fs::rename(bucket.path().join("values.moved"), &values).unwrap();
    drop((scenario, runtime));
    let runtime = open_with_objects(dir.path(), bucket.path());
    assert_eq!(object_of(&runtime, "blob"), before);
    let slot = SlotKey {
        owner: Owner::Scenario(runtime.scenarios().unwrap()[0].id),
        node: "blob".into(),
    };
    assert_eq!(runtime.store().history(&slot).unwrap().len(), 1);
    runtime.evict_local().unwrap();
    let scenario = runtime
        .find_scenario(blobs(&counters), "main")
        .unwrap()
        .unwrap();
    assert_eq!(blob_len(&scenario), 100_000);
}

#[test]
fn eviction_uploads_a_value_its_object_store_lacks_before_removing_it() {
    let (dir, bucket) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let counters = Counters::default();
    let runtime = open_with_objects(dir.path(), bucket.path());
    let scenario = runtime.create_scenario(blobs(&counters), "main").unwrap();
    scenario.submit().unwrap().into_result().unwrap();
    let blob = scenario.node::<Vec<u8>>("blob").unwrap().read().unwrap();
    // Lost from the object store (deleted by hand, say).
    std::fs::remove_file(bucket.path().join(object_of(&runtime, "blob"))).unwrap();

    let report = runtime.evict_local().unwrap();
    assert_eq!(
        (report.files_evicted, report.uploaded),
        (1, 1),
        "{report:?}"
    );
    assert!(object_files(dir.path()).is_empty());
    drop((scenario, runtime));
    let runtime = open_with_objects(dir.path(), bucket.path());
    let scenario = runtime
        .find_scenario(blobs(&counters), "main")
        .unwrap()
        .unwrap();
    assert_eq!(
        scenario.node::<Vec<u8>>("blob").unwrap().read().unwrap(),
        blob
    );
}

#[test]
fn every_value_of_a_commit_of_several_is_uploaded() {
    use pipeline_core::Writes;
    use pipeline_core::graph::{GraphBuilder, NodeSpec};
    let (dir, bucket) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let graph = GraphBuilder::new("pair")
        .node(NodeSpec::new::<Vec<u8>>("a"))
        .node(NodeSpec::new::<Vec<u8>>("b"))
        .node(NodeSpec::new::<Vec<u8>>("c"))
        .build()
        .unwrap();
    let runtime = open_with_objects(dir.path(), bucket.path());
    let scenario = runtime.create_scenario(graph, "main").unwrap();
    let writes = Writes::new()
        .value("a", vec![1u8; 50_000])
        .value("b", vec![2u8; 60_000])
        .value("c", vec![3u8; 70_000]);
    scenario.write_all(writes).unwrap();
    let mut expected = vec![
        object_of(&runtime, "a"),
        object_of(&runtime, "b"),
        object_of(&runtime, "c"),
    ];
    expected.sort();
    assert_eq!(value_objects(bucket.path()), expected);
}
