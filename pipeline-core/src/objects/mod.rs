//! Object stores for values: a directory (local or shared) or an
//! S3-compatible bucket, addressed by URL, through the `object_store` crate.
//!
//! An [`ObjectStore`] offers what a content-addressed value store needs, with
//! a synchronous API (it drives a private tokio runtime):
//!
//! - **create-only writes**: [`put`](ObjectStore::put) and
//!   [`put_file`](ObjectStore::put_file) never replace an object that exists.
//!   A retried or duplicated writer of a finished object gets
//!   [`PutOutcome::AlreadyExists`], which for a content-addressed name means
//!   "already stored"; the first writer's bytes stay. Large files are
//!   uploaded in parts under a staging name (`.uploads/…`) and published
//!   with a create-only copy, so a reader never sees a partial object under
//!   its final name and memory stays bounded (see [`ObjectStoreOptions`]);
//! - reads, whole ([`get`](ObjectStore::get)) or streamed to a local file
//!   with its content hash ([`get_to_file`](ObjectStore::get_to_file));
//! - [`head`](ObjectStore::head) / [`exists`](ObjectStore::exists),
//!   [`delete`](ObjectStore::delete), [`list`](ObjectStore::list) by prefix;
//! - errors that name the store's URL and the object, and tell an
//!   unreachable server, a missing bucket, a missing object and refused
//!   credentials apart ([`ObjectError`]).
//!
//! S3 stores (cargo feature `s3`) are configured by the usual environment
//! variables: `AWS_ENDPOINT` (or `AWS_ENDPOINT_URL`) for a server other than
//! Amazon's, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, and
//! `AWS_ALLOW_HTTP=true` for a server without TLS (a local test server).
//! Publishing a large upload uses S3's create-only multipart copy
//! (`If-None-Match: *`), which Amazon S3 allows up to 5 GiB per object; a
//! server that offers create-only copies by a header instead is configured
//! with `AWS_COPY_IF_NOT_EXISTS`.
//!
//! ```
//! use pipeline_core::objects::{ObjectStore, PutOutcome};
//!
//! let dir = tempfile::tempdir()?;
//! let store = ObjectStore::open(dir.path().to_str().unwrap())?;
//! assert_eq!(store.put("values/ab12.bin", b"first".to_vec())?, PutOutcome::Created);
//! // A second writer of the same name changes nothing.
//! assert_eq!(store.put("values/ab12.bin", b"other".to_vec())?, PutOutcome::AlreadyExists);
//! assert_eq!(store.get("values/ab12.bin")?, b"first");
//! assert_eq!(store.list("values")?.len(), 1);
//!
//! let missing = store.get("values/none.bin").unwrap_err();
//! assert!(missing.to_string().ends_with("'values/none.bin' does not exist"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod backend;
mod driver;
mod error;
mod location;
mod options;
mod transfer;

use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use futures_util::TryStreamExt;
use object_store::path::Path as Key;
use object_store::{ObjectStoreExt, PutMode, PutOptions};

use crate::fingerprint::Fingerprint;

pub use error::ObjectError;
pub use location::StoreLocation;
pub use options::ObjectStoreOptions;

use driver::Driver;
use error::Context;

/// Where uploads in parts are staged before they are published.
const STAGING: &str = ".uploads";

/// The name of a stored value in an object store:
/// `values/<first two hex digits>/<fingerprint>.<extension>`. A store's
/// values ([`SqliteOptions::object_store`](crate::store::SqliteOptions::object_store))
/// and the Slurm executor's are named alike, so one prefix serves both.
pub(crate) fn value_name(fingerprint: &Fingerprint, extension: &str) -> String {
    let hex = fingerprint.to_hex();
    format!("{VALUES}/{}/{hex}.{extension}", &hex[..2])
}

/// The folder of stored values in an object store.
pub(crate) const VALUES: &str = "values";

/// What a create-only write found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PutOutcome {
    /// The object did not exist; it now holds the bytes written.
    Created,
    /// An object of that name existed already and was left as it was. For a
    /// content-addressed name this means the value is stored.
    AlreadyExists,
}

/// An object as the store describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectInfo {
    /// Its name, relative to the store's location.
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
    /// When it was last written, by the store's clock.
    pub last_modified: SystemTime,
}

/// A file written by [`ObjectStore::get_to_file`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fetched {
    /// The number of bytes written.
    pub size: u64,
    /// The blake3 hash of those bytes (as [`Fingerprint::of_file`] computes).
    pub content_hash: Fingerprint,
}

/// A directory or S3 bucket holding objects by name; cheap to clone (clones
/// share one client and runtime). See the [module documentation](self).
#[derive(Clone)]
pub struct ObjectStore {
    inner: Arc<Inner>,
}

struct Inner {
    location: StoreLocation,
    url: String,
    client: backend::Client,
    options: ObjectStoreOptions,
    driver: Driver,
}

impl std::fmt::Debug for ObjectStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectStore")
            .field("location", &self.inner.url)
            .field("options", &self.inner.options)
            .finish()
    }
}

impl ObjectStore {
    /// Opens the store at `location` (a URL or path, see [`StoreLocation`])
    /// with default options, and checks that it answers: a directory is
    /// created if missing; a bucket must exist and let itself be listed.
    pub fn open(location: &str) -> Result<Self, ObjectError> {
        Self::open_with(location.parse()?, ObjectStoreOptions::default())
    }

    /// Opens the store at `location` with `options`; see [`ObjectStore::open`].
    pub fn open_with(
        location: StoreLocation,
        options: ObjectStoreOptions,
    ) -> Result<Self, ObjectError> {
        let url = location.to_string();
        let client = backend::build(&location, &options)?;
        let driver = Driver::new().map_err(|source| ObjectError::RuntimeStart {
            store: url.clone(),
            source,
        })?;
        let store = Self {
            inner: Arc::new(Inner {
                location,
                url,
                client,
                options,
                driver,
            }),
        };
        store.check_reachable()?;
        Ok(store)
    }

    /// Where this store lives.
    pub fn location(&self) -> &StoreLocation {
        &self.inner.location
    }

    /// The options it was opened with.
    pub fn options(&self) -> &ObjectStoreOptions {
        &self.inner.options
    }

    /// Writes `bytes` as object `name` unless an object of that name exists.
    pub fn put(&self, name: &str, bytes: Vec<u8>) -> Result<PutOutcome, ObjectError> {
        let context = self.context("write", name);
        let key = self.key(name)?;
        let backend = self.backend();
        let target = key.clone();
        let outcome = self.run(&context, async move {
            let options = PutOptions::from(PutMode::Create);
            backend.put_opts(&target, bytes.into(), options).await
        })?;
        let outcome = match outcome {
            Ok(_) => PutOutcome::Created,
            Err(object_store::Error::AlreadyExists { .. })
            | Err(object_store::Error::Precondition { .. }) => PutOutcome::AlreadyExists,
            Err(error) => return Err(context.classify(error)),
        };
        if outcome == PutOutcome::Created {
            self.make_durable(&key, &context)?;
        }
        Ok(outcome)
    }

    /// Uploads the file at `path` as object `name` unless an object of that
    /// name exists (then nothing is uploaded). Files above the options'
    /// multipart threshold are streamed in parts with bounded memory and
    /// published only once complete.
    pub fn put_file(&self, name: &str, path: &Path) -> Result<PutOutcome, ObjectError> {
        let context = self.context("write", name);
        let key = self.key(name)?;
        let size = std::fs::metadata(path)
            .map_err(|e| context.local("read", path.to_owned(), e))?
            .len();
        if size <= self.inner.options.multipart_threshold() {
            let bytes =
                std::fs::read(path).map_err(|e| context.local("read", path.to_owned(), e))?;
            return self.put(name, bytes);
        }
        if self.head(name)?.is_some() {
            return Ok(PutOutcome::AlreadyExists);
        }
        let outcome = transfer::upload_in_parts(self, &context, &key, path)?;
        if outcome == PutOutcome::Created {
            self.make_durable(&key, &context)?;
        }
        Ok(outcome)
    }

    /// Reads object `name` whole.
    pub fn get(&self, name: &str) -> Result<Vec<u8>, ObjectError> {
        let context = self.context("read", name);
        let key = self.key(name)?;
        let backend = self.backend();
        let bytes = self.run(
            &context,
            async move { backend.get(&key).await?.bytes().await },
        )?;
        bytes
            .map(Vec::from)
            .map_err(|error| context.classify(error))
    }

    /// Streams object `name` into the file at `path` (written beside it under
    /// a temporary name, flushed, then renamed into place, so `path` is never
    /// partly written), and returns the file's size and content hash.
    pub fn get_to_file(&self, name: &str, path: &Path) -> Result<Fetched, ObjectError> {
        let context = self.context("read", name);
        let key = self.key(name)?;
        transfer::download(self, &context, key, path)
    }

    /// The object's size and time, or `None` if no object has that name.
    pub fn head(&self, name: &str) -> Result<Option<ObjectInfo>, ObjectError> {
        let context = self.context("look up", name);
        let key = self.key(name)?;
        let backend = self.backend();
        match self.run(&context, async move { backend.head(&key).await })? {
            // Named as asked: a prefixed store reports the full key here.
            Ok(meta) => Ok(Some(ObjectInfo {
                name: name.to_owned(),
                ..info(meta)
            })),
            Err(error) => match context.classify(error) {
                ObjectError::NotFound { .. } => Ok(None),
                other => Err(other),
            },
        }
    }

    /// Whether an object has that name.
    pub fn exists(&self, name: &str) -> Result<bool, ObjectError> {
        Ok(self.head(name)?.is_some())
    }

    /// Deletes object `name`; deleting a missing object is not an error.
    pub fn delete(&self, name: &str) -> Result<(), ObjectError> {
        let context = self.context("delete", name);
        let key = self.key(name)?;
        let backend = self.backend();
        match self.run(&context, async move { backend.delete(&key).await })? {
            Ok(()) => Ok(()),
            Err(error) => match context.classify(error) {
                ObjectError::NotFound { .. } => Ok(()),
                other => Err(other),
            },
        }
    }

    /// Every object under `prefix` (a `/`-separated folder such as
    /// `values/ab`; the empty prefix lists the whole store), sorted by name.
    /// Uploads still being staged are not listed.
    pub fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, ObjectError> {
        let context = self.context("list", if prefix.is_empty() { "/" } else { prefix });
        let key = if prefix.trim_matches('/').is_empty() {
            None
        } else {
            Some(self.key(prefix.trim_matches('/'))?)
        };
        let backend = self.backend();
        let listed = self.run(&context, async move {
            backend.list(key.as_ref()).try_collect::<Vec<_>>().await
        })?;
        let mut objects: Vec<ObjectInfo> = match listed {
            Ok(metas) => metas.into_iter().map(info).collect(),
            // A directory store has nothing under a folder that does not exist.
            Err(object_store::Error::NotFound { .. }) if self.inner.client.directory.is_some() => {
                Vec::new()
            }
            Err(error) => return Err(context.classify(error)),
        };
        objects.retain(|object| !object.name.starts_with(STAGING));
        objects.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(objects)
    }

    /// Lists at most one object, so that a missing bucket, refused
    /// credentials or a server that does not answer show at open.
    fn check_reachable(&self) -> Result<(), ObjectError> {
        let context = self.context("list", "/");
        let backend = self.backend();
        let first = self.run(&context, async move {
            use futures_util::StreamExt;
            backend.list(None).next().await
        })?;
        match first {
            None | Some(Ok(_)) => Ok(()),
            Some(Err(error)) => Err(context.classify(error)),
        }
    }

    /// Flushes a newly created object of a directory store to disk (file and
    /// directory), as the embedded store does for its own files.
    fn make_durable(&self, key: &Key, context: &Context<'_>) -> Result<(), ObjectError> {
        let Some(directory) = &self.inner.client.directory else {
            return Ok(());
        };
        let file = directory
            .path_to_filesystem(key)
            .map_err(|error| context.classify(error))?;
        let sync = |path: &Path| std::fs::File::open(path).and_then(|f| f.sync_all());
        sync(&file).map_err(|e| context.local("flush", file.clone(), e))?;
        if let Some(parent) = file.parent() {
            sync(parent).map_err(|e| context.local("flush the directory of", file.clone(), e))?;
        }
        Ok(())
    }

    fn backend(&self) -> Arc<dyn object_store::ObjectStore> {
        self.inner.client.store.clone()
    }

    fn context<'a>(&'a self, action: &'static str, name: &'a str) -> Context<'a> {
        let bucket = match &self.inner.location {
            StoreLocation::S3 { bucket, .. } => Some(bucket.as_str()),
            StoreLocation::Directory(_) => None,
        };
        Context {
            store: &self.inner.url,
            server: &self.inner.client.server,
            bucket,
            action,
            name,
        }
    }

    /// `name` as a key: `/`-separated, no empty, `.` or `..` parts, and not
    /// inside the staging area.
    fn key(&self, name: &str) -> Result<Key, ObjectError> {
        let invalid = |reason: String| ObjectError::InvalidName {
            store: self.inner.url.clone(),
            name: name.to_owned(),
            reason,
        };
        if name.is_empty() {
            return Err(invalid("it is empty".into()));
        }
        if name.split('/').any(str::is_empty) {
            return Err(invalid(
                "it has an empty part (a leading, trailing or doubled '/')".into(),
            ));
        }
        if name.split('/').any(|part| part == "." || part == "..") {
            return Err(invalid("it has a '.' or '..' part".into()));
        }
        if name.split('/').next() == Some(STAGING) {
            return Err(invalid(format!(
                "'{STAGING}/' is reserved for uploads in progress"
            )));
        }
        let key = Key::parse(name).map_err(|e| invalid(e.to_string().to_lowercase()))?;
        Ok(key)
    }

    /// Runs `future` on the store's runtime.
    fn run<T: Send + 'static>(
        &self,
        context: &Context<'_>,
        future: impl std::future::Future<Output = T> + Send + 'static,
    ) -> Result<T, ObjectError> {
        self.inner
            .driver
            .run(future)
            .ok_or_else(|| context.stopped())
    }
}

fn info(meta: object_store::ObjectMeta) -> ObjectInfo {
    ObjectInfo {
        name: meta.location.to_string(),
        size: meta.size,
        last_modified: meta.last_modified.into(),
    }
}
