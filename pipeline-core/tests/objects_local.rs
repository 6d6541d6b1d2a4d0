//! `objects::ObjectStore` over a directory (local, or a shared file system as
//! on a cluster): the same contract as an S3 bucket, with no server.

mod remote_support;

use std::sync::{Arc, Barrier};

use pipeline_core::fingerprint::Fingerprint;
use pipeline_core::objects::{
    ObjectError, ObjectStore, ObjectStoreOptions, PutOutcome, StoreLocation,
};
use remote_support::write_random_file;

const MIB: u64 = 1 << 20;

fn small_parts() -> ObjectStoreOptions {
    ObjectStoreOptions::default()
        .with_part_size(MIB as usize)
        .with_multipart_threshold(2 * MIB)
        .with_parts_in_flight(2)
}

#[test]
fn plain_paths_and_file_urls_open_the_same_directory() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    let by_path = ObjectStore::open(root.to_str().unwrap()).unwrap();
    assert!(root.is_dir(), "opening creates the directory");
    by_path.put("ab/cd.bin", b"bytes".to_vec()).unwrap();

    let url = format!("file://{}", root.display());
    let by_url = ObjectStore::open(&url).unwrap();
    assert_eq!(by_url.get("ab/cd.bin").unwrap(), b"bytes");
    assert_eq!(by_url.location(), &StoreLocation::Directory(root.clone()));
    // Objects are plain files named by their key, readable by any tool.
    assert_eq!(std::fs::read(root.join("ab/cd.bin")).unwrap(), b"bytes");
}

#[test]
fn concurrent_writers_of_one_name_leave_exactly_one_winner() {
    let dir = tempfile::tempdir().unwrap();
    let store = ObjectStore::open(dir.path().to_str().unwrap()).unwrap();
    let writers = 8;
    for round in 0..20 {
        let name = format!("race/{round}.bin");
        let barrier = Arc::new(Barrier::new(writers));
        let outcomes: Vec<(Vec<u8>, PutOutcome)> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..writers)
                .map(|writer| {
                    let (store, name, barrier) = (store.clone(), name.clone(), barrier.clone());
                    scope.spawn(move || {
                        let bytes = format!("writer {writer} of round {round}").into_bytes();
                        barrier.wait();
                        (bytes.clone(), store.put(&name, bytes).unwrap())
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let winners: Vec<_> = outcomes
            .iter()
            .filter(|(_, o)| *o == PutOutcome::Created)
            .collect();
        assert_eq!(winners.len(), 1, "round {round}: {outcomes:?}");
        assert_eq!(store.get(&name).unwrap(), winners[0].0, "round {round}");
    }
}

#[test]
fn uploads_in_parts_are_create_only_and_leave_no_staging() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    let store =
        ObjectStore::open_with(root.to_str().unwrap().parse().unwrap(), small_parts()).unwrap();
    let files: Vec<_> = (0..2)
        .map(|writer| {
            let path = dir.path().join(format!("writer-{writer}.bin"));
            write_random_file(&path, 5 * MIB + 17, writer + 1);
            path
        })
        .collect();
    let barrier = Barrier::new(2);
    let outcomes: Vec<PutOutcome> = std::thread::scope(|scope| {
        let handles: Vec<_> = files
            .iter()
            .map(|path| {
                let (store, barrier) = (store.clone(), &barrier);
                scope.spawn(move || {
                    barrier.wait();
                    store.put_file("frames/one.arrow", path).unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let winner = outcomes.iter().position(|o| *o == PutOutcome::Created);
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| **o == PutOutcome::Created)
            .count(),
        1,
        "{outcomes:?}"
    );
    assert_eq!(
        Fingerprint::of_file(&root.join("frames/one.arrow")).unwrap(),
        Fingerprint::of_file(&files[winner.unwrap()]).unwrap()
    );
    let names: Vec<_> = store
        .list("")
        .unwrap()
        .into_iter()
        .map(|o| o.name)
        .collect();
    assert_eq!(names, ["frames/one.arrow"]);
    let staged: Vec<_> = walk(&root.join(".uploads"));
    assert!(staged.is_empty(), "staged uploads left behind: {staged:?}");
}

#[test]
fn get_to_file_writes_the_whole_object_or_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = ObjectStore::open_with(
        dir.path().join("store").to_str().unwrap().parse().unwrap(),
        small_parts(),
    )
    .unwrap();
    let source = dir.path().join("source.bin");
    write_random_file(&source, 3 * MIB + 5, 9);
    store.put_file("v.bin", &source).unwrap();

    let target = dir.path().join("out/v.bin");
    std::fs::create_dir_all(target.parent().unwrap()).unwrap();
    std::fs::write(&target, b"an older copy").unwrap();
    let fetched = store.get_to_file("v.bin", &target).unwrap();
    assert_eq!(
        (fetched.size, fetched.content_hash),
        Fingerprint::of_file(&source).unwrap()
    );
    assert_eq!(
        Fingerprint::of_file(&target).unwrap(),
        Fingerprint::of_file(&source).unwrap()
    );

    let error = store.get_to_file("missing.bin", &target).unwrap_err();
    assert!(matches!(error, ObjectError::NotFound { .. }), "{error:?}");
    // The existing file is untouched, and no temporary file is left.
    assert_eq!(
        Fingerprint::of_file(&target).unwrap(),
        Fingerprint::of_file(&source).unwrap()
    );
    assert_eq!(
        std::fs::read_dir(target.parent().unwrap()).unwrap().count(),
        1
    );
}

#[test]
fn bad_object_names_are_refused_with_the_store_named() {
    let dir = tempfile::tempdir().unwrap();
    let store = ObjectStore::open(dir.path().to_str().unwrap()).unwrap();
    let url = StoreLocation::Directory(dir.path().to_owned()).to_string();
    for (name, reason) in [
        ("", "it is empty"),
        ("a//b", "empty part"),
        ("/a", "empty part"),
        ("a/", "empty part"),
        ("a/../b", "'..' part"),
        (".uploads/x", "reserved for uploads in progress"),
    ] {
        let error = store.put(name, b"x".to_vec()).unwrap_err();
        assert!(
            matches!(error, ObjectError::InvalidName { .. }),
            "{name}: {error:?}"
        );
        let message = error.to_string();
        assert!(
            message.starts_with(&format!(
                "object store {url}: '{name}' is not a valid object name"
            )),
            "{message}"
        );
        assert!(message.contains(reason), "{name}: {message}");
    }
    assert!(
        store.list("").unwrap().is_empty(),
        "a refused name writes nothing"
    );
}

#[test]
fn an_unreadable_source_file_is_named_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = ObjectStore::open(dir.path().join("store").to_str().unwrap()).unwrap();
    let missing = dir.path().join("no-such-file.bin");
    let error = store.put_file("v.bin", &missing).unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains(&format!("could not read {}", missing.display())),
        "{message}"
    );
    assert!(message.contains("(object 'v.bin')"), "{message}");
    assert!(!store.exists("v.bin").unwrap());
}

#[test]
fn a_read_error_midway_through_an_upload_publishes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let options = small_parts().with_multipart_threshold(0);
    let store = ObjectStore::open_with(
        dir.path().join("store").to_str().unwrap().parse().unwrap(),
        options,
    )
    .unwrap();
    // A directory opens like a file but fails on its first read.
    let unreadable = dir.path().join("a-directory");
    std::fs::create_dir(&unreadable).unwrap();
    let error = store.put_file("v.bin", &unreadable).unwrap_err();
    assert!(
        error
            .to_string()
            .contains(&format!("could not read {}", unreadable.display())),
        "{error}"
    );
    assert!(
        !store.exists("v.bin").unwrap(),
        "a failed upload must not publish a short object"
    );
    assert!(walk(&dir.path().join("store/.uploads")).is_empty());
}

#[cfg(not(feature = "s3"))]
#[test]
fn s3_urls_need_the_s3_feature() {
    let error = ObjectStore::open("s3://values/run").unwrap_err();
    assert_eq!(
        error.to_string(),
        "object store s3://values/run: this build cannot reach s3:// stores: enable the `s3` feature of pipeline-core"
    );
}

/// Every file under `dir` (none if it does not exist).
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .flat_map(|entry| {
            let path = entry.path();
            if path.is_dir() {
                walk(&path)
            } else {
                vec![path]
            }
        })
        .collect()
}
