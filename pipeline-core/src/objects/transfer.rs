//! Streaming transfers between local files and a store, with bounded memory:
//! uploads in parts (staged, then published create-only) and downloads into
//! a file.

use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures_util::StreamExt;
use object_store::path::Path as Key;
use object_store::{ObjectStoreExt, WriteMultipart};

use super::error::{Context, ObjectError};
use super::{Fetched, ObjectStore, PutOutcome, STAGING};
use crate::fingerprint::FingerprintHasher;

/// What the reading thread hands to the uploader.
enum Feed {
    /// The next bytes of the file.
    Part(Bytes),
    /// The file is complete: publish it. Without this (the reader failed or
    /// panicked and dropped its sender) the upload is abandoned, never
    /// published short.
    End,
}

/// Why an upload stopped.
enum Failure {
    /// The reading thread stopped before the end of the file.
    Abandoned,
    Store(object_store::Error),
}

/// Uploads the file at `path` in parts under a staging name, then publishes
/// it as `key` with a create-only copy. The staged object is deleted in every
/// case; an upload that failed midway leaves nothing under `key`.
///
/// The calling thread reads the file, one part-sized buffer at a time, and
/// hands each part to the runtime through a channel of one: at most
/// `parts_in_flight` parts are being sent, one waits in the channel and one
/// is being read. Allocating every part on one thread lets the allocator
/// reuse the memory of sent parts; parts allocated on the runtime's
/// changing threads spread over many arenas and resident memory crept up
/// with the file's size.
pub(super) fn upload_in_parts(
    store: &ObjectStore,
    context: &Context<'_>,
    key: &Key,
    path: &Path,
) -> Result<PutOutcome, ObjectError> {
    let mut file = File::open(path).map_err(|e| context.local("read", path.to_owned(), e))?;
    let backend = store.backend();
    let part_size = store.inner.options.part_size();
    let in_flight = store.inner.options.parts_in_flight();
    let target = key.clone();
    let staged = staging_key(key);
    let (feed, mut received) = tokio::sync::mpsc::channel::<Feed>(1);
    let running = store.inner.driver.start(async move {
        let outcome = async {
            let upload = backend
                .put_multipart(&staged)
                .await
                .map_err(Failure::Store)?;
            let mut writer = WriteMultipart::new_with_chunk_size(upload, part_size);
            loop {
                match received.recv().await {
                    Some(Feed::Part(part)) => {
                        if let Err(error) = writer.wait_for_capacity(in_flight).await {
                            let _ = writer.abort().await;
                            return Err(Failure::Store(error));
                        }
                        writer.put(part);
                    }
                    Some(Feed::End) => break,
                    None => {
                        let _ = writer.abort().await;
                        return Err(Failure::Abandoned);
                    }
                }
            }
            writer.finish().await.map_err(Failure::Store)?;
            match backend.copy_if_not_exists(&staged, &target).await {
                Ok(()) => Ok(PutOutcome::Created),
                Err(object_store::Error::AlreadyExists { .. })
                | Err(object_store::Error::Precondition { .. }) => Ok(PutOutcome::AlreadyExists),
                Err(error) => Err(Failure::Store(error)),
            }
        }
        .await;
        // Published or not, the staged copy has served its purpose.
        let _ = backend.delete(&staged).await;
        outcome
    });
    let read = loop {
        let mut part = vec![0u8; part_size];
        match read_full(&mut file, &mut part) {
            Ok(0) => break feed.blocking_send(Feed::End).map_err(|_| None),
            Ok(read) => {
                part.truncate(read);
                // A closed channel means the upload failed: its error says why.
                if feed.blocking_send(Feed::Part(Bytes::from(part))).is_err() {
                    break Err(None);
                }
            }
            Err(error) => break Err(Some(error)),
        }
    };
    drop(feed);
    let uploaded = running.wait().ok_or_else(|| context.stopped())?;
    if let Err(Some(error)) = read {
        return Err(context.local("read", path.to_owned(), error));
    }
    match uploaded {
        Ok(outcome) => Ok(outcome),
        Err(Failure::Store(error)) => Err(context.classify(error)),
        // Only after a read error, reported above.
        Err(Failure::Abandoned) => Err(context.stopped()),
    }
}

/// Streams `key` into a temporary file beside `path`, checks that every byte
/// the store announced arrived, flushes it and renames it to `path`. The
/// runtime receives; the calling thread writes and hashes, a few chunks
/// behind at most.
pub(super) fn download(
    store: &ObjectStore,
    context: &Context<'_>,
    key: Key,
    path: &Path,
) -> Result<Fetched, ObjectError> {
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let mut temp = tempfile::Builder::new()
        .prefix(".fetch-")
        .suffix(".tmp")
        .tempfile_in(directory)
        .map_err(|e| context.local("create a temporary file beside", path.to_owned(), e))?;
    if let Some(directory) = &store.inner.client.directory {
        let file = directory
            .path_to_filesystem(&key)
            .map_err(|error| context.classify(error))?;
        return copy_from_directory(context, &file, temp, path);
    }
    let backend = store.backend();
    let (chunks, mut received) = tokio::sync::mpsc::channel::<Bytes>(4);
    let running = store.inner.driver.start(async move {
        let response = backend.get(&key).await?;
        let announced = response.meta.size;
        let mut stream = response.into_stream();
        while let Some(chunk) = stream.next().await {
            if chunks.send(chunk?).await.is_err() {
                break; // the writer stopped: its error says why
            }
        }
        Ok::<u64, object_store::Error>(announced)
    });
    let mut hasher = FingerprintHasher::new();
    let mut size = 0u64;
    let mut write_error = None;
    while let Some(chunk) = received.blocking_recv() {
        if let Err(error) = temp.as_file_mut().write_all(&chunk) {
            write_error = Some(error);
            break;
        }
        hasher.update_raw(&chunk);
        size += chunk.len() as u64;
    }
    drop(received);
    let announced = running.wait().ok_or_else(|| context.stopped())?;
    if let Some(error) = write_error {
        return Err(context.local("write", temp.path().to_owned(), error));
    }
    let announced = announced.map_err(|error| context.classify(error))?;
    if size != announced {
        return Err(context.classify(object_store::Error::Generic {
            store: "pipeline",
            source: format!("the store announced {announced} bytes but sent {size}").into(),
        }));
    }
    finish_download(context, temp, path, size, hasher)
}

/// A directory store's object is a local (or shared) file: read it in large
/// blocks on this thread, without the client's small chunks and the hops
/// between threads that streaming would cost.
fn copy_from_directory(
    context: &Context<'_>,
    object: &Path,
    mut temp: tempfile::NamedTempFile,
    path: &Path,
) -> Result<Fetched, ObjectError> {
    let mut source = File::open(object).map_err(|error| match error.kind() {
        std::io::ErrorKind::NotFound => ObjectError::NotFound {
            store: context.store.to_owned(),
            name: context.name.to_owned(),
        },
        _ => context.local("read", object.to_owned(), error),
    })?;
    let mut hasher = FingerprintHasher::new();
    let mut size = 0u64;
    let mut block = vec![0u8; 8 << 20];
    loop {
        let read = read_full(&mut source, &mut block)
            .map_err(|e| context.local("read", object.to_owned(), e))?;
        if read == 0 {
            break;
        }
        temp.as_file_mut()
            .write_all(&block[..read])
            .map_err(|e| context.local("write", path.to_owned(), e))?;
        hasher.update_raw(&block[..read]);
        size += read as u64;
    }
    finish_download(context, temp, path, size, hasher)
}

/// Flushes the downloaded file and renames it into place.
fn finish_download(
    context: &Context<'_>,
    temp: tempfile::NamedTempFile,
    path: &Path,
    size: u64,
    hasher: FingerprintHasher,
) -> Result<Fetched, ObjectError> {
    temp.as_file()
        .sync_all()
        .map_err(|e| context.local("flush", temp.path().to_owned(), e))?;
    temp.persist(path)
        .map_err(|e| context.local("move into place", path.to_owned(), e.error))?;
    Ok(Fetched {
        size,
        content_hash: hasher.finish(),
    })
}

/// A staging name no other upload uses: `.uploads/<key>.<pid>-<time>-<n>`.
fn staging_key(key: &Key) -> Key {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    Key::from(format!(
        "{STAGING}/{key}.{}-{nanos}-{n}",
        std::process::id()
    ))
}

/// Fills `buffer` as far as the file allows; returns how much was read (0 at
/// the end of the file).
fn read_full(file: &mut File, buffer: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match file.read(&mut buffer[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

#[cfg(test)]
#[path = "../../tests/remote_support/mod.rs"]
mod remote_support;

#[cfg(test)]
mod tests {
    use super::remote_support::write_random_file;
    use super::*;
    use crate::fingerprint::Fingerprint;
    use crate::objects::ObjectStoreOptions;

    const MIB: u64 = 1 << 20;

    /// Publishing a staged upload onto a name that exists (a writer that
    /// lost a race after its check found nothing) leaves the object as it
    /// was and removes the staged copy.
    fn publishing_onto_an_existing_object_leaves_it_untouched(store: &ObjectStore) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("late.bin");
        write_random_file(&file, 11 * MIB, 5);
        assert_eq!(
            store.put("v.bin", b"first".to_vec()).unwrap(),
            PutOutcome::Created
        );

        let context = store.context("write", "v.bin");
        let outcome = upload_in_parts(store, &context, &Key::from("v.bin"), &file).unwrap();
        assert_eq!(outcome, PutOutcome::AlreadyExists);
        assert_eq!(store.get("v.bin").unwrap(), b"first");
        let names: Vec<_> = store
            .list("")
            .unwrap()
            .into_iter()
            .map(|o| o.name)
            .collect();
        assert_eq!(names, ["v.bin"]);

        // Onto a free name, the same step publishes the whole file.
        let outcome = upload_in_parts(store, &context, &Key::from("w.bin"), &file).unwrap();
        assert_eq!(outcome, PutOutcome::Created);
        let fetched = store
            .get_to_file("w.bin", &dir.path().join("back.bin"))
            .unwrap();
        assert_eq!(
            (fetched.size, fetched.content_hash),
            Fingerprint::of_file(&file).unwrap()
        );
    }

    fn options() -> ObjectStoreOptions {
        ObjectStoreOptions::default()
            .with_part_size(5 * MIB as usize)
            .with_parts_in_flight(2)
    }

    #[test]
    fn publishing_onto_an_existing_object_in_a_directory_leaves_it_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let location = dir.path().to_str().unwrap().parse().unwrap();
        let store = ObjectStore::open_with(location, options()).unwrap();
        publishing_onto_an_existing_object_leaves_it_untouched(&store);
        assert!(
            std::fs::read_dir(dir.path().join(STAGING))
                .unwrap()
                .next()
                .is_none()
        );
    }

    #[cfg(feature = "s3")]
    #[test]
    fn publishing_onto_an_existing_object_in_s3_leaves_it_untouched() {
        let test = "publishing_onto_an_existing_object_in_s3_leaves_it_untouched";
        let Some(server) = super::remote_support::S3Server::start_or_skip(test) else {
            return;
        };
        server.create_bucket("values");
        let options = options()
            .with_s3_setting("aws_endpoint", server.endpoint())
            .with_s3_setting("aws_allow_http", "true")
            .with_s3_setting("aws_access_key_id", "test")
            .with_s3_setting("aws_secret_access_key", "test")
            .with_s3_setting("aws_region", "us-east-1");
        let store = ObjectStore::open_with("s3://values/run".parse().unwrap(), options).unwrap();
        publishing_onto_an_existing_object_leaves_it_untouched(&store);
    }
}
