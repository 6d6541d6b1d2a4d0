//! A build without the `objects` feature opening a store whose registry
//! records an object store: what is local reads as usual; a value with no
//! local copy, and a new value to upload, fail with a message naming the
//! data node, the object store and the feature to enable.

use super::*;
use crate::Runtime;
use crate::graph::{GraphBuilder, NodeSpec};

const URL: &str = "s3://team-bucket/values";

#[test]
fn a_build_without_object_stores_names_the_recorded_one_and_the_feature() {
    let dir = tempfile::tempdir().unwrap();
    let graph = || {
        GraphBuilder::new("blobs")
            .node(NodeSpec::new::<Vec<u8>>("blob"))
            .node(NodeSpec::new::<u64>("small"))
            .build()
            .unwrap()
    };
    {
        let runtime = Runtime::open_with(dir.path(), SqliteOptions::new().quiet(true)).unwrap();
        let scenario = runtime.create_scenario(graph(), "main").unwrap();
        scenario
            .node::<Vec<u8>>("blob")
            .unwrap()
            .write(vec![7; 100_000])
            .unwrap();
    }
    // As a build with the feature would have recorded it.
    let conn = rusqlite::Connection::open(dir.path().join(DB_FILE)).unwrap();
    conn.execute(
        "INSERT INTO settings (key, value) VALUES ('objects', ?1)",
        [URL],
    )
    .unwrap();
    drop(conn);

    let store = SqliteStore::open_with(dir.path(), SqliteOptions::new().quiet(true)).unwrap();
    assert_eq!(store.object_store_url(), Some(URL));
    let runtime = Runtime::with_store(store);
    let scenario = runtime.find_scenario(graph(), "main").unwrap().unwrap();
    assert_eq!(
        scenario
            .node::<Vec<u8>>("blob")
            .unwrap()
            .read()
            .unwrap()
            .len(),
        100_000
    );
    scenario.node::<u64>("small").unwrap().write(3).unwrap();

    let error = scenario
        .node::<Vec<u8>>("blob")
        .unwrap()
        .write(vec![8; 90_000])
        .unwrap_err()
        .to_string();
    for needle in ["data node `blob`", URL, "enable its `objects` feature"] {
        assert!(error.contains(needle), "{needle:?} not in: {error}");
    }

    drop(scenario);
    let evicted = runtime.evict_local().unwrap_err().to_string();
    assert!(
        evicted.contains("enable its `objects` feature"),
        "{evicted}"
    );
    for file in std::fs::read_dir(dir.path().join("objects"))
        .unwrap()
        .flatten()
    {
        if file.path().is_file() {
            std::fs::remove_file(file.path()).unwrap();
        }
    }
    let runtime = Runtime::open_with(dir.path(), SqliteOptions::new().quiet(true)).unwrap();
    let scenario = runtime.find_scenario(graph(), "main").unwrap().unwrap();
    let error = scenario
        .node::<Vec<u8>>("blob")
        .unwrap()
        .read()
        .unwrap_err()
        .to_string();
    for needle in [
        "data node `blob` (scenario #1)",
        URL,
        "no local copy here",
        "enable its `objects` feature",
    ] {
        assert!(error.contains(needle), "{needle:?} not in: {error}");
    }
}
