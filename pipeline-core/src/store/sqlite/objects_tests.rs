//! Hashing a value file once: stamps, racy files, scrubs.

use std::time::{Duration, SystemTime};

use super::super::stamp::RACY_WINDOW;
use super::*;

/// An `objects/` directory holding one file of `bytes`, modified `age` ago;
/// returns it with the file's fingerprint.
fn objects_with(dir: &Path, bytes: &[u8], age: Duration) -> (Objects, Fingerprint) {
    let objects = Objects::open(dir.join("objects"), None).unwrap();
    let fingerprint = Fingerprint::of_bytes(bytes);
    let path = objects.path(&fingerprint, "bin");
    fs::write(&path, bytes).unwrap();
    File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(SystemTime::now() - age)
        .unwrap();
    (objects, fingerprint)
}

fn check(objects: &Objects, fingerprint: &Fingerprint, len: usize) -> Result<PathBuf, String> {
    objects.checked(fingerprint, "bin", len as u64, fingerprint)
}

#[test]
fn a_check_leaves_a_stamp_that_later_checks_trust_and_a_scrub_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = vec![7u8; 4096];
    let (objects, fingerprint) = objects_with(dir.path(), &bytes, Duration::from_secs(60));
    assert!(objects.stamp(&fingerprint).is_none());
    check(&objects, &fingerprint, bytes.len()).unwrap();
    let stamp = objects
        .stamp(&fingerprint)
        .expect("a stamp after a passing check");
    assert_eq!(stamp.content_hash, fingerprint);

    // Bit rot that leaves the metadata as stamped (forged here: the stamp is
    // rewritten for the damaged file) is trusted by a read...
    let path = objects.path(&fingerprint, "bin");
    let mut damaged = bytes.clone();
    damaged[100] ^= 1;
    fs::write(&path, &damaged).unwrap();
    let meta = fs::metadata(&path).unwrap();
    objects.write_stamp(&fingerprint, &Stamp::of(&meta, &fingerprint).unwrap());
    check(&objects, &fingerprint, bytes.len()).unwrap();
    // ...and found by a scrub, which removes the stamp.
    let error = objects
        .scrub(&fingerprint, "bin", bytes.len() as u64, &fingerprint)
        .unwrap_err();
    assert!(
        error.contains("no longer matches its content hash"),
        "{error}"
    );
    assert!(objects.stamp(&fingerprint).is_none());
    assert!(check(&objects, &fingerprint, bytes.len()).is_err());
}

#[test]
fn a_file_rewritten_after_its_stamp_is_hashed_again_and_caught() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = vec![1u8; 4096];
    let (objects, fingerprint) = objects_with(dir.path(), &bytes, Duration::from_secs(60));
    check(&objects, &fingerprint, bytes.len()).unwrap();
    assert!(objects.stamp(&fingerprint).is_some());
    // Same size, other bytes: the times change, so the stamp no longer fits.
    fs::write(objects.path(&fingerprint, "bin"), vec![2u8; 4096]).unwrap();
    let error = check(&objects, &fingerprint, bytes.len()).unwrap_err();
    assert!(
        error.contains("no longer matches its content hash"),
        "{error}"
    );
}

#[test]
fn a_file_modified_just_before_its_check_gets_no_stamp() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = vec![3u8; 4096];
    let (objects, fingerprint) = objects_with(dir.path(), &bytes, Duration::ZERO);
    check(&objects, &fingerprint, bytes.len()).unwrap();
    assert!(
        objects.stamp(&fingerprint).is_none(),
        "a write in the same clock tick could hide behind an equal time"
    );
}

#[test]
fn a_file_the_store_writes_is_stamped_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let objects = Objects::open(dir.path().join("objects"), None).unwrap();
    let value: ErasedValue = Arc::new(vec![5u8; 100_000]);
    let value_type = ValueType::of::<Vec<u8>>();
    let fingerprint = value_type.fingerprint(&*value).unwrap();
    let (size, hash) = objects.write(&fingerprint, &value_type, &value).unwrap();
    let stamp = objects.stamp(&fingerprint).expect("stamped as written");
    assert_eq!((stamp.size, stamp.content_hash), (size, hash));
    let path = objects.path(&fingerprint, value_type.extension());
    let age = fs::metadata(&path)
        .unwrap()
        .modified()
        .unwrap()
        .elapsed()
        .unwrap();
    assert!(age >= RACY_WINDOW, "its time is set back: {age:?}");
}

#[test]
fn a_sweep_removes_the_stamps_of_files_that_are_gone() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = vec![9u8; 64];
    let (objects, fingerprint) = objects_with(dir.path(), &bytes, Duration::from_secs(60));
    check(&objects, &fingerprint, bytes.len()).unwrap();
    assert!(objects.stamp(&fingerprint).is_some());
    objects.sweep();
    assert!(objects.stamp(&fingerprint).is_some(), "its file is there");
    fs::remove_file(objects.path(&fingerprint, "bin")).unwrap();
    objects.sweep();
    assert!(objects.stamp(&fingerprint).is_none());
}

#[test]
fn a_stamp_round_trips_and_garbage_is_no_stamp() {
    let stamp = Stamp {
        content_hash: Fingerprint::of_bytes(b"x"),
        size: 42,
        modified_ns: -5,
        changed_ns: 1 << 70,
        inode: 7,
        device: 8,
    };
    assert_eq!(Stamp::decode(&stamp.encode()), Some(stamp));
    assert_eq!(Stamp::decode(b"pvstamp1 but too short"), None);
}
