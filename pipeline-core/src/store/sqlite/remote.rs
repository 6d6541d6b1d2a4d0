//! The object store that holds a store's values beside their local files
//! (see [`SqliteOptions::object_store`](super::SqliteOptions::object_store)).
//!
//! Under the object store's URL, values are named as the Slurm executor names
//! them (`values/<first two hex digits>/<fingerprint>.<extension>`), so one
//! prefix serves both, and the object `store-id` names the store (registry)
//! that owns the prefix: `gc` deletes unreferenced values there, which is
//! only safe when no other registry references them.
//!
//! Every failure is returned as a message that names the object store's URL
//! and the object; the caller adds the data node. A build without the
//! `objects` feature keeps the URL a store records and says, at the first
//! value it would upload or fetch, that it cannot reach it.

use std::collections::HashMap;
use std::path::Path;

use crate::fingerprint::Fingerprint;
#[cfg(feature = "objects")]
use crate::objects::{ObjectError, ObjectStore, PutOutcome, VALUES, value_name};

/// The object naming the store that owns a prefix.
#[cfg(feature = "objects")]
pub(super) const CLAIM: &str = "store-id";

/// Why an object store could not give a value back.
#[derive(Debug)]
pub(super) enum FetchFailure {
    /// It does not hold the value, or holds other bytes under its name.
    #[cfg_attr(not(feature = "objects"), allow(dead_code))]
    Missing(String),
    /// It could not be asked: unreachable, refused, or out of this build's
    /// reach.
    Failed(String),
}

/// The object store of a store's values, if it has one; opened at first use
/// when only its URL is known (recorded by an earlier process).
pub(super) struct RemoteValues {
    url: Option<String>,
    #[cfg(feature = "objects")]
    client: parking_lot::Mutex<Option<ObjectStore>>,
}

impl RemoteValues {
    /// Values are kept only in local files.
    pub(super) fn local_only() -> Self {
        Self {
            url: None,
            #[cfg(feature = "objects")]
            client: parking_lot::Mutex::new(None),
        }
    }

    /// Values also go to `store`, opened by the caller.
    #[cfg(feature = "objects")]
    pub(super) fn given(store: ObjectStore) -> Self {
        Self {
            url: Some(store.location().to_string()),
            client: parking_lot::Mutex::new(Some(store)),
        }
    }

    /// Values also go to the object store at `url` (with the default
    /// options, the `AWS_*` variables for S3), opened at first use.
    pub(super) fn recorded(url: String) -> Self {
        Self {
            url: Some(url),
            #[cfg(feature = "objects")]
            client: parking_lot::Mutex::new(None),
        }
    }

    /// The object store's URL, if values go to one.
    pub(super) fn url(&self) -> Option<&str> {
        self.url.as_deref()
    }

    /// Whether values go to an object store.
    pub(super) fn is_on(&self) -> bool {
        self.url.is_some()
    }

    /// Makes sure the object store holds the value whose local file, of
    /// `size` bytes, is `path`: uploaded create-only (an object of that name
    /// is the same value, as names are content addresses), then checked by
    /// size if it was there already.
    pub(super) fn upload(
        &self,
        fingerprint: &Fingerprint,
        extension: &str,
        path: &Path,
        size: u64,
    ) -> Result<(), String> {
        #[cfg(feature = "objects")]
        {
            let store = self.client()?;
            let name = value_name(fingerprint, extension);
            match store.put_file(&name, path).map_err(|e| e.to_string())? {
                PutOutcome::Created => Ok(()),
                PutOutcome::AlreadyExists => match store.head(&name) {
                    Ok(Some(info)) if info.size == size => Ok(()),
                    Ok(Some(info)) => Err(format!(
                        "object store {}: '{name}' exists with {} bytes where the value has \
                         {size} (damaged there, or written by another build): delete that \
                         object to store the value again",
                        store.location(),
                        info.size
                    )),
                    Ok(None) => Err(format!(
                        "object store {}: '{name}' was reported stored, then not found",
                        store.location()
                    )),
                    Err(e) => Err(e.to_string()),
                },
            }
        }
        #[cfg(not(feature = "objects"))]
        {
            let _ = (fingerprint, extension, path, size);
            Err(self.out_of_reach())
        }
    }

    /// Fetches the value into the file `into` (replaced as a whole) and
    /// checks it against its recorded size and content hash; a copy that
    /// does not match is removed and reported as missing.
    pub(super) fn fetch(
        &self,
        fingerprint: &Fingerprint,
        extension: &str,
        into: &Path,
        size: u64,
        content_hash: &Fingerprint,
    ) -> Result<(), FetchFailure> {
        #[cfg(feature = "objects")]
        {
            let store = self.client().map_err(FetchFailure::Failed)?;
            let name = value_name(fingerprint, extension);
            let fetched = match store.get_to_file(&name, into) {
                Ok(fetched) => fetched,
                Err(error @ ObjectError::NotFound { .. }) => {
                    return Err(FetchFailure::Missing(error.to_string()));
                }
                Err(error) => return Err(FetchFailure::Failed(error.to_string())),
            };
            if fetched.size != size || fetched.content_hash != *content_hash {
                let _ = std::fs::remove_file(into);
                return Err(FetchFailure::Missing(format!(
                    "object store {}: '{name}' does not match the value's recorded size and \
                     content hash (damaged there)",
                    store.location()
                )));
            }
            Ok(())
        }
        #[cfg(not(feature = "objects"))]
        {
            let _ = (fingerprint, extension, into, size, content_hash);
            Err(FetchFailure::Failed(self.out_of_reach()))
        }
    }

    /// The size of every value the object store holds, by object name.
    pub(super) fn sizes(&self) -> Result<HashMap<String, u64>, String> {
        #[cfg(feature = "objects")]
        {
            let store = self.client()?;
            let listed = store.list(VALUES).map_err(|e| e.to_string())?;
            Ok(listed
                .into_iter()
                .map(|object| (object.name, object.size))
                .collect())
        }
        #[cfg(not(feature = "objects"))]
        Err(self.out_of_reach())
    }

    /// The object name of a value (as [`sizes`](Self::sizes) reports it).
    pub(super) fn name(fingerprint: &Fingerprint, extension: &str) -> String {
        #[cfg(feature = "objects")]
        return value_name(fingerprint, extension);
        #[cfg(not(feature = "objects"))]
        {
            let hex = fingerprint.to_hex();
            format!("values/{}/{hex}.{extension}", &hex[..2])
        }
    }

    /// Deletes a value from the object store (deleting a missing one is no
    /// error).
    pub(super) fn delete(&self, fingerprint: &Fingerprint, extension: &str) -> Result<(), String> {
        #[cfg(feature = "objects")]
        {
            let store = self.client()?;
            store
                .delete(&value_name(fingerprint, extension))
                .map_err(|e| e.to_string())
        }
        #[cfg(not(feature = "objects"))]
        {
            let _ = (fingerprint, extension);
            Err(self.out_of_reach())
        }
    }

    /// Claims the object store for the store with id `id`: writes `store-id`
    /// unless it exists; refuses a prefix another store claimed.
    #[cfg(feature = "objects")]
    pub(super) fn claim(&self, id: &str) -> Result<(), String> {
        let store = self.client()?;
        let outcome = store
            .put(CLAIM, id.as_bytes().to_vec())
            .map_err(|e| e.to_string())?;
        if outcome == PutOutcome::Created {
            return Ok(());
        }
        let owner = store.get(CLAIM).map_err(|e| e.to_string())?;
        let owner = String::from_utf8_lossy(&owner);
        if owner.trim() == id {
            return Ok(());
        }
        Err(format!(
            "object store {} holds the values of another store (its '{CLAIM}' names store \
             {}, this one is {id}): give each store a prefix of its own, since gc deletes \
             values its store no longer references (or delete '{CLAIM}' there if that \
             store is gone)",
            store.location(),
            owner.trim()
        ))
    }

    #[cfg(feature = "objects")]
    fn client(&self) -> Result<ObjectStore, String> {
        let mut client = self.client.lock();
        if let Some(store) = &*client {
            return Ok(store.clone());
        }
        let Some(url) = &self.url else {
            return Err("this store keeps its values only in local files".to_owned());
        };
        let store = ObjectStore::open(url).map_err(|e| e.to_string())?;
        *client = Some(store.clone());
        Ok(store)
    }

    #[cfg(not(feature = "objects"))]
    fn out_of_reach(&self) -> String {
        format!(
            "this build of pipeline-core cannot reach object store {}, which holds this store's \
             values: enable its `objects` feature (`s3` for s3:// stores)",
            self.url.as_deref().unwrap_or("(none)")
        )
    }
}
