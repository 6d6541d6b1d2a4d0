//! Large objects move with bounded memory: uploading and downloading a file
//! many times larger than the client's buffers raises this process's peak
//! resident memory by about those buffers, not by the file's size. The only
//! test of its binary, so that no other test's allocations are counted.

mod remote_support;

use std::time::Duration;

use pipeline_core::fingerprint::Fingerprint;
use pipeline_core::objects::{ObjectStore, ObjectStoreOptions, PutOutcome};
use remote_support::{S3Server, write_random_file};

const MIB: u64 = 1 << 20;
const FILE_SIZE: u64 = 160 * MIB;
/// (2 parts in flight + 1 waiting + 1 being read + 1 just handed over) x
/// 8 MiB = 40 MiB, plus slack for the client's own allocations; a
/// whole-file buffer would be 160 MiB.
const ALLOWED_GROWTH: u64 = 64 * MIB;

fn options() -> ObjectStoreOptions {
    ObjectStoreOptions::default()
        .with_part_size(8 * MIB as usize)
        .with_multipart_threshold(16 * MIB)
        .with_parts_in_flight(2)
        .with_retries(1, Duration::from_secs(5))
}

#[test]
fn large_objects_move_with_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("source.bin");
    write_random_file(&source, FILE_SIZE, 11);
    let expected = Fingerprint::of_file(&source).unwrap();

    let directory = dir.path().join("store");
    let local =
        ObjectStore::open_with(directory.to_str().unwrap().parse().unwrap(), options()).unwrap();
    check_round_trip(
        &local,
        &source,
        expected,
        &dir.path().join("back-local.bin"),
    );
    std::fs::remove_dir_all(&directory).unwrap();

    let Some(server) = S3Server::start_or_skip("large_objects_move_with_bounded_memory (s3 part)")
    else {
        return;
    };
    server.create_bucket("values");
    let s3_options = options()
        .with_s3_setting("aws_endpoint", server.endpoint())
        .with_s3_setting("aws_allow_http", "true")
        .with_s3_setting("aws_access_key_id", "test")
        .with_s3_setting("aws_secret_access_key", "test")
        .with_s3_setting("aws_region", "us-east-1");
    let s3 = ObjectStore::open_with("s3://values/big".parse().unwrap(), s3_options).unwrap();
    check_round_trip(&s3, &source, expected, &dir.path().join("back-s3.bin"));
}

fn check_round_trip(
    store: &ObjectStore,
    source: &std::path::Path,
    expected: (u64, Fingerprint),
    back: &std::path::Path,
) {
    let store_url = store.location().to_string();
    let base = reset_peak();
    assert_eq!(
        store.put_file("big.bin", source).unwrap(),
        PutOutcome::Created
    );
    let growth = peak() - base;
    assert!(
        growth < ALLOWED_GROWTH,
        "{store_url}: uploading {FILE_SIZE} bytes raised peak memory by {growth} bytes"
    );

    let base = reset_peak();
    let fetched = store.get_to_file("big.bin", back).unwrap();
    let growth = peak() - base;
    assert!(
        growth < ALLOWED_GROWTH,
        "{store_url}: downloading {FILE_SIZE} bytes raised peak memory by {growth} bytes"
    );
    assert_eq!((fetched.size, fetched.content_hash), expected);
    std::fs::remove_file(back).unwrap();
}

/// Resets the kernel's record of this process's peak resident memory to the
/// current resident memory, and returns that.
fn reset_peak() -> u64 {
    std::fs::write("/proc/self/clear_refs", "5").expect("reset the peak resident memory (Linux)");
    status_bytes("VmRSS:")
}

/// The peak resident memory since the last reset.
fn peak() -> u64 {
    status_bytes("VmHWM:")
}

fn status_bytes(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap();
    let kib: u64 = line[field.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .unwrap();
    kib * 1024
}
