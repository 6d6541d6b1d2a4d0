//! Errors of the object stores, each naming the store (its URL) and the
//! object, and saying what to check.

use std::io;
use std::path::PathBuf;

/// What went wrong with an object store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ObjectError {
    /// The URL or path given for a store is not one this module can use.
    #[error("invalid object store location '{location}': {reason}")]
    InvalidLocation {
        /// The text as given.
        location: String,
        /// What is wrong with it.
        reason: String,
    },
    /// This build cannot reach a store of that kind.
    #[error(
        "object store {store}: this build cannot reach s3:// stores: enable the `s3` feature of pipeline-core"
    )]
    Unsupported {
        /// The store's URL.
        store: String,
    },
    /// An object name is not a valid `/`-separated key.
    #[error("object store {store}: '{name}' is not a valid object name: {reason}")]
    InvalidName {
        /// The store's URL.
        store: String,
        /// The name as given.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The store's options do not fit together or do not fit the store.
    #[error("object store {store}: {reason}")]
    InvalidOptions {
        /// The store's URL.
        store: String,
        /// What is wrong.
        reason: String,
    },
    /// The server did not answer (refused, timed out, or the connection broke).
    #[error(
        "object store {store} is unreachable at {server} (could not {action} '{name}'): {detail}; check that the server runs and that AWS_ENDPOINT points at it"
    )]
    Unreachable {
        /// The store's URL.
        store: String,
        /// The server's URL (`AWS_ENDPOINT`), or Amazon S3's regional one.
        server: String,
        /// What was being done (`read`, `write`, `list`...).
        action: &'static str,
        /// The object (or prefix) concerned.
        name: String,
        /// The innermost cause, e.g. `connection refused`.
        detail: String,
        /// The client's error.
        #[source]
        source: Box<object_store::Error>,
    },
    /// The bucket named in the store's URL does not exist.
    #[error(
        "object store {store}: bucket '{bucket}' does not exist (create it, or check the URL and AWS_ENDPOINT)"
    )]
    MissingBucket {
        /// The store's URL.
        store: String,
        /// The bucket name.
        bucket: String,
    },
    /// No object has that name.
    #[error("object store {store}: '{name}' does not exist")]
    NotFound {
        /// The store's URL.
        store: String,
        /// The object's name.
        name: String,
    },
    /// The credentials were refused, or do not allow the operation.
    #[error(
        "object store {store}: access denied (could not {action} '{name}'); check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and the bucket's policy"
    )]
    Denied {
        /// The store's URL.
        store: String,
        /// What was being done.
        action: &'static str,
        /// The object (or prefix) concerned.
        name: String,
        /// The client's error.
        #[source]
        source: Box<object_store::Error>,
    },
    /// Any other failure of the store.
    #[error("object store {store}: could not {action} '{name}': {detail}")]
    Failed {
        /// The store's URL.
        store: String,
        /// What was being done.
        action: &'static str,
        /// The object (or prefix) concerned.
        name: String,
        /// The server's error code and message if it sent one, else the
        /// client's message.
        detail: String,
        /// The client's error.
        #[source]
        source: Box<object_store::Error>,
    },
    /// A local file (the source of an upload, the target of a download) failed.
    #[error("object store {store}: could not {action} {path} (object '{name}'): {source}")]
    LocalFile {
        /// The store's URL.
        store: String,
        /// The object concerned.
        name: String,
        /// What was being done to the file.
        action: &'static str,
        /// The local file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The threads that drive the store's requests could not be started.
    #[error("object store {store}: could not start the threads that drive its requests: {source}")]
    RuntimeStart {
        /// The store's URL.
        store: String,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The private runtime that drives the store's requests is gone (a bug,
    /// or a panic in the client).
    #[error(
        "object store {store}: the runtime driving its requests stopped while trying to {action} '{name}'"
    )]
    RuntimeStopped {
        /// The store's URL.
        store: String,
        /// What was being done.
        action: &'static str,
        /// The object concerned.
        name: String,
    },
}

/// The store and operation an `object_store` error happened in, to turn it
/// into an [`ObjectError`] that names them.
pub(super) struct Context<'a> {
    pub(super) store: &'a str,
    pub(super) server: &'a str,
    pub(super) bucket: Option<&'a str>,
    pub(super) action: &'static str,
    pub(super) name: &'a str,
}

impl Context<'_> {
    /// Classifies `error`: unreachable, missing bucket, missing object,
    /// denied, or other.
    pub(super) fn classify(&self, error: object_store::Error) -> ObjectError {
        let store = self.store.to_owned();
        let name = self.name.to_owned();
        let action = self.action;
        if let Some(detail) = connection_failure(&error) {
            return ObjectError::Unreachable {
                store,
                server: self.server.to_owned(),
                action,
                name,
                detail,
                source: Box::new(error),
            };
        }
        let code = s3_error(&error);
        let missing_bucket = |store, name| match self.bucket {
            Some(bucket) => ObjectError::MissingBucket {
                store,
                bucket: bucket.to_owned(),
            },
            None => ObjectError::NotFound { store, name },
        };
        match code.as_ref().map(|(code, _)| code.as_str()) {
            Some("NoSuchBucket") => return missing_bucket(store, name),
            Some("NoSuchKey") => return ObjectError::NotFound { store, name },
            Some(
                "AccessDenied"
                | "InvalidAccessKeyId"
                | "SignatureDoesNotMatch"
                | "ExpiredToken"
                | "InvalidToken"
                | "AllAccessDisabled",
            ) => {
                return ObjectError::Denied {
                    store,
                    action,
                    name,
                    source: Box::new(error),
                };
            }
            _ => {}
        }
        match error {
            // A listing or a write only finds nothing when the bucket is missing.
            object_store::Error::NotFound { .. } if matches!(action, "list" | "write") => {
                missing_bucket(store, name)
            }
            object_store::Error::NotFound { .. } => ObjectError::NotFound { store, name },
            object_store::Error::PermissionDenied { .. }
            | object_store::Error::Unauthenticated { .. } => ObjectError::Denied {
                store,
                action,
                name,
                source: Box::new(error),
            },
            other => {
                let detail = match code {
                    Some((code, message)) => format!("{code}: {message}"),
                    None => other.to_string(),
                };
                ObjectError::Failed {
                    store,
                    action,
                    name,
                    detail,
                    source: Box::new(other),
                }
            }
        }
    }

    /// A local-file error in this context.
    pub(super) fn local(
        &self,
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    ) -> ObjectError {
        ObjectError::LocalFile {
            store: self.store.to_owned(),
            name: self.name.to_owned(),
            action,
            path,
            source,
        }
    }

    /// The runtime went away in this context.
    pub(super) fn stopped(&self) -> ObjectError {
        ObjectError::RuntimeStopped {
            store: self.store.to_owned(),
            action: self.action,
            name: self.name.to_owned(),
        }
    }
}

/// The innermost message of `error` if it is a failure to reach the server
/// (refused, timed out, interrupted): the client reports those only as a
/// generic error with an HTTP error somewhere in its chain of sources.
#[cfg(feature = "s3")]
fn connection_failure(error: &object_store::Error) -> Option<String> {
    use object_store::client::HttpErrorKind;
    use std::error::Error as _;
    let mut cause: Option<&(dyn std::error::Error + 'static)> = error.source();
    let mut unreachable = false;
    let mut innermost = None;
    while let Some(current) = cause {
        if let Some(http) = current.downcast_ref::<object_store::client::HttpError>() {
            unreachable |= matches!(
                http.kind(),
                HttpErrorKind::Connect
                    | HttpErrorKind::Timeout
                    | HttpErrorKind::Interrupted
                    | HttpErrorKind::Request
            );
        }
        innermost = Some(current.to_string());
        cause = current.source();
    }
    if unreachable {
        innermost.map(|message| message.to_lowercase())
    } else {
        None
    }
}

/// A directory store has no server to reach.
#[cfg(not(feature = "s3"))]
fn connection_failure(_error: &object_store::Error) -> Option<String> {
    None
}

/// The error code and message an S3 server sent (`<Code>NoSuchBucket</Code>`),
/// found in the messages of `error`'s chain.
fn s3_error(error: &object_store::Error) -> Option<(String, String)> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = cause {
        let text = current.to_string();
        if let Some(code) = between(&text, "<Code>", "</Code>") {
            let message = between(&text, "<Message>", "</Message>").unwrap_or_default();
            return Some((code.to_owned(), message.to_owned()));
        }
        cause = current.source();
    }
    None
}

fn between<'a>(text: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = text.find(open)? + open.len();
    let end = text[start..].find(close)? + start;
    Some(&text[start..end])
}
