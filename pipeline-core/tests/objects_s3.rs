//! `objects::ObjectStore` against a real S3-compatible server (`moto_server`
//! on 127.0.0.1, one per test), through the real client. Each test skips,
//! saying why, when no server can be started (see `remote_support`).

mod remote_support;

use std::sync::{Arc, Barrier};

use std::time::Duration;

use pipeline_core::fingerprint::Fingerprint;
use pipeline_core::objects::{ObjectError, ObjectStore, ObjectStoreOptions, PutOutcome};
use remote_support::{FaultyLink, S3Server, write_random_file};

const MIB: u64 = 1 << 20;

/// Options reaching `endpoint` without TLS, with few, short retries so that
/// fault tests end quickly.
fn options(endpoint: &str) -> ObjectStoreOptions {
    ObjectStoreOptions::default()
        .with_s3_setting("aws_endpoint", endpoint)
        .with_s3_setting("aws_allow_http", "true")
        .with_s3_setting("aws_access_key_id", "test")
        .with_s3_setting("aws_secret_access_key", "test")
        .with_s3_setting("aws_region", "us-east-1")
        .with_retries(1, Duration::from_secs(3))
        .with_timeouts(Duration::from_secs(2), Duration::from_secs(30))
}

/// Small parts so that a few MiB already take the multipart path.
fn multipart_options(endpoint: &str) -> ObjectStoreOptions {
    options(endpoint)
        .with_part_size(5 * MIB as usize)
        .with_multipart_threshold(6 * MIB)
        .with_parts_in_flight(2)
}

fn open(url: &str, options: ObjectStoreOptions) -> Result<ObjectStore, ObjectError> {
    ObjectStore::open_with(url.parse()?, options)
}

fn direct_store(server: &S3Server, url: &str) -> ObjectStore {
    open(url, options(&server.endpoint())).unwrap()
}

#[test]
fn create_only_put_keeps_the_first_bytes() {
    let Some(server) = S3Server::start_or_skip("create_only_put_keeps_the_first_bytes") else {
        return;
    };
    server.create_bucket("values");
    let store = direct_store(&server, "s3://values/run");

    assert_eq!(
        store.put("ab/first.bin", b"first".to_vec()).unwrap(),
        PutOutcome::Created
    );
    assert_eq!(
        store
            .put("ab/first.bin", b"second, longer".to_vec())
            .unwrap(),
        PutOutcome::AlreadyExists
    );
    assert_eq!(store.get("ab/first.bin").unwrap(), b"first");
    let head = store.head("ab/first.bin").unwrap().unwrap();
    assert_eq!((head.name.as_str(), head.size), ("ab/first.bin", 5));
    assert!(store.exists("ab/first.bin").unwrap());
    assert!(!store.exists("ab/other.bin").unwrap());
}

/// Racing writers of one name: the writers told `AlreadyExists` never have
/// their bytes stored, and the stored bytes are a `Created` writer's.
///
/// moto checks `If-None-Match` and then writes, in two steps of a threaded
/// Python server, so under load two racing writers are now and then both
/// told `Created` (seen once in ~30 runs of 10 rounds, with the machine's
/// load average at 13); Amazon S3 and MinIO check atomically. Exactly one
/// winner is asserted on a directory store (`objects_local`); here, that
/// most rounds have one (a client that sent no condition would make every
/// writer a winner in every round).
#[test]
fn concurrent_writers_of_one_name_never_clobber_a_stored_object() {
    let test = "concurrent_writers_of_one_name_never_clobber_a_stored_object";
    let Some(server) = S3Server::start_or_skip(test) else {
        return;
    };
    server.create_bucket("values");
    let store = direct_store(&server, "s3://values");
    let (writers, rounds) = (4, 10);
    let mut created = 0;
    for round in 0..rounds {
        let name = format!("race/{round}.bin");
        let barrier = Arc::new(Barrier::new(writers));
        let outcomes: Vec<(Vec<u8>, PutOutcome)> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..writers)
                .map(|writer| {
                    let (store, name, barrier) = (store.clone(), name.clone(), barrier.clone());
                    scope.spawn(move || {
                        let bytes = format!("writer {writer} of round {round}").into_bytes();
                        barrier.wait();
                        let outcome = store.put(&name, bytes.clone()).unwrap();
                        (bytes, outcome)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let stored = store.get(&name).unwrap();
        let stored_by = outcomes.iter().find(|(bytes, _)| *bytes == stored);
        assert_eq!(
            stored_by.map(|(_, outcome)| *outcome),
            Some(PutOutcome::Created),
            "round {round}: the stored bytes must be a writer's that was told Created: {outcomes:?}"
        );
        created += outcomes
            .iter()
            .filter(|(_, o)| *o == PutOutcome::Created)
            .count();
    }
    assert!(
        created < rounds + rounds / 2,
        "{created} writers were told Created in {rounds} rounds of {writers}"
    );
}

/// A retried or duplicated worker uploading in parts after the first one
/// finished (moto checks `If-None-Match` on a multipart completion before it
/// assembles the parts, not atomically with the write, so two completions
/// racing each other are tested on a directory store, in `objects_local`,
/// and the publishing step alone in `objects::transfer`'s unit tests).
#[test]
fn a_second_upload_in_parts_keeps_the_first_object() {
    let test = "a_second_upload_in_parts_keeps_the_first_object";
    let Some(server) = S3Server::start_or_skip(test) else {
        return;
    };
    server.create_bucket("values");
    let store = open("s3://values/big", multipart_options(&server.endpoint())).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (first, second) = (dir.path().join("first.bin"), dir.path().join("second.bin"));
    write_random_file(&first, 12 * MIB, 7);
    write_random_file(&second, 13 * MIB, 8);

    assert_eq!(
        store.put_file("frame.parquet", &first).unwrap(),
        PutOutcome::Created
    );
    assert_eq!(
        store.put_file("frame.parquet", &second).unwrap(),
        PutOutcome::AlreadyExists
    );
    let fetched = store
        .get_to_file("frame.parquet", &dir.path().join("back.bin"))
        .unwrap();
    assert_eq!(
        (fetched.size, fetched.content_hash),
        Fingerprint::of_file(&first).unwrap()
    );
    // No staged upload is left behind.
    assert_eq!(names(&store.list("").unwrap()), ["frame.parquet"]);
    assert_eq!(
        names(&direct_store(&server, "s3://values").list("").unwrap()),
        ["big/frame.parquet"]
    );
}

#[test]
fn large_files_go_up_in_parts_and_come_back_intact() {
    let test = "large_files_go_up_in_parts_and_come_back_intact";
    let Some(server) = S3Server::start_or_skip(test) else {
        return;
    };
    server.create_bucket("values");
    let endpoint = server.endpoint();
    let store = open("s3://values/big", multipart_options(&endpoint)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("source.bin");
    write_random_file(&source, 23 * MIB + 12_345, 1);

    assert_eq!(
        store.put_file("values/frame.bin", &source).unwrap(),
        PutOutcome::Created
    );
    assert_eq!(
        store.put_file("values/frame.bin", &source).unwrap(),
        PutOutcome::AlreadyExists
    );
    let target = dir.path().join("nested-name.bin");
    let fetched = store.get_to_file("values/frame.bin", &target).unwrap();
    let (size, hash) = Fingerprint::of_file(&source).unwrap();
    assert_eq!((fetched.size, fetched.content_hash), (size, hash));
    assert_eq!(Fingerprint::of_file(&target).unwrap(), (size, hash));
    assert_eq!(store.head("values/frame.bin").unwrap().unwrap().size, size);
    // Only the target is left in the directory: no temporary file.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
}

#[test]
fn listing_is_by_prefix_and_deleting_is_idempotent() {
    let test = "listing_is_by_prefix_and_deleting_is_idempotent";
    let Some(server) = S3Server::start_or_skip(test) else {
        return;
    };
    server.create_bucket("values");
    let run1 = direct_store(&server, "s3://values/run1");
    let run2 = direct_store(&server, "s3://values/run2");
    for name in ["a/1", "a/2", "ab/1", "b/1"] {
        run1.put(name, name.as_bytes().to_vec()).unwrap();
    }
    run2.put("a/9", b"other store".to_vec()).unwrap();

    assert_eq!(names(&run1.list("a").unwrap()), ["a/1", "a/2"]);
    assert_eq!(names(&run1.list("a/").unwrap()), ["a/1", "a/2"]);
    assert_eq!(
        names(&run1.list("").unwrap()),
        ["a/1", "a/2", "ab/1", "b/1"]
    );
    assert_eq!(names(&run2.list("").unwrap()), ["a/9"]);
    assert!(run1.list("zz").unwrap().is_empty());

    run1.delete("a/1").unwrap();
    run1.delete("a/1").unwrap();
    assert_eq!(names(&run1.list("a").unwrap()), ["a/2"]);
    assert_eq!(run1.head("a/1").unwrap(), None);
    assert_eq!(run2.get("a/9").unwrap(), b"other store");
}

#[test]
fn missing_objects_and_buckets_are_named_in_errors() {
    let test = "missing_objects_and_buckets_are_named_in_errors";
    let Some(server) = S3Server::start_or_skip(test) else {
        return;
    };
    server.create_bucket("values");
    let store = direct_store(&server, "s3://values/run");
    let dir = tempfile::tempdir().unwrap();

    let error = store.get("ab/none.bin").unwrap_err();
    assert!(matches!(error, ObjectError::NotFound { .. }), "{error:?}");
    assert_eq!(
        error.to_string(),
        "object store s3://values/run: 'ab/none.bin' does not exist"
    );
    let target = dir.path().join("none.bin");
    let error = store.get_to_file("ab/none.bin", &target).unwrap_err();
    assert!(matches!(error, ObjectError::NotFound { .. }), "{error:?}");
    assert!(!target.exists());
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "no temporary file is left"
    );

    let endpoint = server.endpoint();
    let error = open("s3://no-such-bucket/run", options(&endpoint)).unwrap_err();
    assert!(
        matches!(error, ObjectError::MissingBucket { .. }),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "object store s3://no-such-bucket/run: bucket 'no-such-bucket' does not exist (create it, or check the URL and AWS_ENDPOINT)"
    );
}

#[test]
fn an_unreachable_server_is_reported_with_the_store_url() {
    // No server: only a port nothing listens on.
    let endpoint = format!("http://127.0.0.1:{}", remote_support::free_port());
    let error = open("s3://values/run", options(&endpoint)).unwrap_err();
    assert!(
        matches!(error, ObjectError::Unreachable { .. }),
        "{error:?}"
    );
    let message = error.to_string();
    let expected =
        format!("object store s3://values/run is unreachable at {endpoint} (could not list '/'): ");
    assert!(message.starts_with(&expected), "{message}");
    assert!(
        message.contains("connection refused") || message.contains("connect"),
        "{message}"
    );
}

#[test]
fn refused_credentials_are_reported_as_denied() {
    let test = "refused_credentials_are_reported_as_denied";
    // With this variable moto checks credentials against its IAM: ours are unknown.
    let server = match S3Server::start_with(&[("INITIAL_NO_AUTH_ACTION_COUNT", "0")]) {
        Ok(server) => server,
        Err(reason) => return remote_support::skip(test, &reason),
    };
    let endpoint = server.endpoint();
    let error = open("s3://values", options(&endpoint)).unwrap_err();
    assert!(matches!(error, ObjectError::Denied { .. }), "{error:?}");
    assert!(
        error.to_string().starts_with(
            "object store s3://values: access denied (could not list '/'); check AWS_ACCESS_KEY_ID"
        ),
        "{error}"
    );
}

#[test]
fn a_link_cut_midway_fails_clearly_and_loses_nothing_stored() {
    let test = "a_link_cut_midway_fails_clearly_and_loses_nothing_stored";
    let Some(server) = S3Server::start_or_skip(test) else {
        return;
    };
    server.create_bucket("values");
    let link = FaultyLink::start(server.port());
    let through_link = multipart_options(&link.endpoint());
    let store = open("s3://values/run", through_link).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let earlier = dir.path().join("earlier.bin");
    write_random_file(&earlier, 7 * MIB, 3);
    store.put("small.bin", b"stored before".to_vec()).unwrap();
    store.put_file("earlier.bin", &earlier).unwrap();

    let large = dir.path().join("large.bin");
    write_random_file(&large, 20 * MIB, 4);
    link.cut_after(8 * MIB);
    let error = store.put_file("large.bin", &large).unwrap_err();
    assert!(link.is_cut());
    assert!(
        matches!(error, ObjectError::Unreachable { .. }),
        "{error:?}"
    );
    let expected = format!(
        "object store s3://values/run is unreachable at {} (could not write 'large.bin')",
        link.endpoint()
    );
    assert!(error.to_string().starts_with(&expected), "{error}");

    // Straight to the server: what was stored is intact, nothing partial is.
    let direct = direct_store(&server, "s3://values/run");
    assert_eq!(direct.get("small.bin").unwrap(), b"stored before");
    let check = dir.path().join("check.bin");
    let fetched = direct.get_to_file("earlier.bin", &check).unwrap();
    assert_eq!(
        (fetched.size, fetched.content_hash),
        Fingerprint::of_file(&earlier).unwrap()
    );
    assert_eq!(direct.head("large.bin").unwrap(), None);

    // Once the link is back, the same upload succeeds.
    link.restore();
    assert_eq!(
        store.put_file("large.bin", &large).unwrap(),
        PutOutcome::Created
    );
    let fetched = direct.get_to_file("large.bin", &check).unwrap();
    assert_eq!(
        (fetched.size, fetched.content_hash),
        Fingerprint::of_file(&large).unwrap()
    );
}

#[test]
fn a_server_killed_midway_gives_a_clear_error() {
    let test = "a_server_killed_midway_gives_a_clear_error";
    let Some(mut server) = S3Server::start_or_skip(test) else {
        return;
    };
    server.create_bucket("values");
    // The link only watches the traffic, to kill the server mid-upload.
    let link = FaultyLink::start(server.port());
    let store = open("s3://values/run", multipart_options(&link.endpoint())).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let large = dir.path().join("large.bin");
    write_random_file(&large, 40 * MIB, 5);

    let started = link.sent();
    let error = std::thread::scope(|scope| {
        let upload = scope.spawn(|| store.put_file("large.bin", &large));
        while link.sent() < started + 6 * MIB && !upload.is_finished() {
            std::thread::sleep(Duration::from_millis(5));
        }
        server.kill();
        upload.join().unwrap()
    })
    .unwrap_err();
    assert!(
        matches!(error, ObjectError::Unreachable { .. }),
        "{error:?}"
    );
    let expected = format!(
        "object store s3://values/run is unreachable at {} (could not write 'large.bin')",
        link.endpoint()
    );
    assert!(error.to_string().starts_with(&expected), "{error}");
    let error = store.get("small.bin").unwrap_err();
    let expected = format!(
        "object store s3://values/run is unreachable at {} (could not read 'small.bin')",
        link.endpoint()
    );
    assert!(error.to_string().starts_with(&expected), "{error}");
}

fn names(objects: &[pipeline_core::objects::ObjectInfo]) -> Vec<&str> {
    objects.iter().map(|o| o.name.as_str()).collect()
}
