//! `Runtime::verify`: a scrub that reads every stored value again, whatever
//! reads would trust, and removes the damaged ones so their tasks run again.

mod store_support;

use std::path::Path;

use pipeline_core::store::SqliteOptions;
use pipeline_core::{JobStatus, Runtime};
use store_support::{Counters, chain, quiet};

/// Every value in a file of its own.
fn files_everywhere() -> SqliteOptions {
    quiet().inline_limit(0)
}

fn flip_a_bit(path: &Path) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[0] ^= 0x01;
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn verify_checks_every_value_of_an_intact_store() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = Runtime::open_with(dir.path(), files_everywhere()).unwrap();
    let scenario = runtime
        .create_scenario(chain(&Counters::default(), "1"), "s")
        .unwrap();
    scenario.submit().unwrap().into_result().unwrap();
    let report = runtime.verify().unwrap();
    // x, squared, parity, label.
    assert_eq!(report.values_checked, 4, "{report:?}");
    assert!(report.bytes_checked > 0);
    assert!(report.damaged.is_empty());
}

#[test]
fn verify_finds_a_damaged_value_and_its_producer_runs_again() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = Runtime::open_with(dir.path(), files_everywhere()).unwrap();
    let scenario = runtime
        .create_scenario(chain(&Counters::default(), "1"), "s")
        .unwrap();
    scenario.submit().unwrap().into_result().unwrap();
    let squared = scenario
        .node::<i64>("squared")
        .unwrap()
        .fingerprint()
        .unwrap()
        .unwrap();
    drop((scenario, runtime));
    flip_a_bit(&dir.path().join(format!("objects/{squared}.bin")));

    let counters = Counters::default();
    let runtime = Runtime::open_with(dir.path(), files_everywhere()).unwrap();
    let report = runtime.verify().unwrap();
    assert_eq!(report.values_checked, 3, "{report:?}");
    assert_eq!(report.damaged.len(), 1);
    let (fingerprint, reason) = &report.damaged[0];
    assert_eq!(*fingerprint, squared);
    assert!(
        reason.contains("no longer matches its content hash"),
        "{reason}"
    );
    assert_eq!(
        std::fs::read_dir(dir.path().join("objects/damaged"))
            .unwrap()
            .count(),
        1,
        "moved aside"
    );

    let scenario = runtime
        .find_scenario(chain(&counters, "1"), "s")
        .unwrap()
        .unwrap();
    let submission = scenario.submit().unwrap();
    assert_eq!(submission.status("square"), Some(JobStatus::Completed));
    assert_eq!(*scenario.node::<i64>("squared").unwrap().read().unwrap(), 9);
    assert!(runtime.verify().unwrap().damaged.is_empty());
}
