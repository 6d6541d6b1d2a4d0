//! Building the `object_store` client for a [`StoreLocation`].

use std::sync::Arc;

use object_store::ObjectStore as Backend;
use object_store::local::LocalFileSystem;

use super::error::ObjectError;
use super::location::StoreLocation;
use super::options::ObjectStoreOptions;

/// A store's client, and for a directory the same client by its own type
/// (to find an object's file and flush it to disk).
pub(super) struct Client {
    pub(super) store: Arc<dyn Backend>,
    /// The server's URL, for messages (empty for a directory).
    pub(super) server: String,
    pub(super) directory: Option<Arc<LocalFileSystem>>,
}

/// The client for `location`: a directory (created if missing) or an S3
/// bucket, with the store's prefix applied so that object names are relative.
pub(super) fn build(
    location: &StoreLocation,
    options: &ObjectStoreOptions,
) -> Result<Client, ObjectError> {
    match location {
        StoreLocation::Directory(path) => {
            std::fs::create_dir_all(path).map_err(|source| ObjectError::LocalFile {
                store: location.to_string(),
                name: String::new(),
                action: "create the store directory",
                path: path.clone(),
                source,
            })?;
            let local =
                LocalFileSystem::new_with_prefix(path).map_err(|source| ObjectError::Failed {
                    store: location.to_string(),
                    action: "open",
                    name: String::new(),
                    detail: source.to_string(),
                    source: Box::new(source),
                })?;
            let local = Arc::new(local);
            Ok(Client {
                store: local.clone(),
                server: String::new(),
                directory: Some(local),
            })
        }
        StoreLocation::S3 { bucket, prefix } => {
            let (store, server) = s3(location, bucket, prefix, options)?;
            Ok(Client {
                store,
                server,
                directory: None,
            })
        }
    }
}

/// An S3 client configured from the usual `AWS_*` variables (endpoint,
/// region, credentials, `AWS_ALLOW_HTTP`), with our retries and timeouts.
#[cfg(feature = "s3")]
fn s3(
    location: &StoreLocation,
    bucket: &str,
    prefix: &str,
    options: &ObjectStoreOptions,
) -> Result<(Arc<dyn Backend>, String), ObjectError> {
    use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey, S3CopyIfNotExists};
    use object_store::{BackoffConfig, ClientConfigKey, RetryConfig};

    if let Some(reason) = options.s3_problem() {
        return Err(ObjectError::InvalidOptions {
            store: location.to_string(),
            reason,
        });
    }
    let (max_retries, retry_timeout) = options.retries();
    let (connect, request) = options.timeouts();
    let mut builder = AmazonS3Builder::from_env()
        .with_bucket_name(bucket)
        .with_retry(RetryConfig {
            backoff: BackoffConfig::default(),
            max_retries,
            retry_timeout,
        })
        .with_config(
            AmazonS3ConfigKey::Client(ClientConfigKey::ConnectTimeout),
            format!("{}ms", connect.as_millis()),
        )
        .with_config(
            AmazonS3ConfigKey::Client(ClientConfigKey::Timeout),
            format!("{}ms", request.as_millis()),
        );
    // Large files are uploaded under a staging name and then published with
    // a create-only copy: S3 (and compatible servers) offer that as a
    // one-part multipart copy completed with `If-None-Match: *`.
    if std::env::var_os("AWS_COPY_IF_NOT_EXISTS").is_none() {
        builder = builder.with_copy_if_not_exists(S3CopyIfNotExists::Multipart);
    }
    for (name, value) in options.s3_settings() {
        let key = name
            .parse::<AmazonS3ConfigKey>()
            .map_err(|_| ObjectError::InvalidOptions {
                store: location.to_string(),
                reason: format!(
                    "unknown s3 setting '{name}' (settings are named like aws_endpoint)"
                ),
            })?;
        builder = builder.with_config(key, value);
    }
    let server = builder
        .get_config_value(&AmazonS3ConfigKey::Endpoint)
        .or_else(|| {
            let region = builder.get_config_value(&AmazonS3ConfigKey::Region)?;
            Some(format!("https://s3.{region}.amazonaws.com"))
        })
        .unwrap_or_else(|| "https://s3.amazonaws.com".to_owned());
    let s3 = builder.build().map_err(|source| ObjectError::Failed {
        store: location.to_string(),
        action: "configure",
        name: String::new(),
        detail: source.to_string(),
        source: Box::new(source),
    })?;
    if prefix.is_empty() {
        Ok((Arc::new(s3), server))
    } else {
        let prefix = object_store::path::Path::from(prefix);
        Ok((
            Arc::new(object_store::prefix::PrefixStore::new(s3, prefix)),
            server,
        ))
    }
}

#[cfg(not(feature = "s3"))]
fn s3(
    location: &StoreLocation,
    _bucket: &str,
    _prefix: &str,
    _options: &ObjectStoreOptions,
) -> Result<(Arc<dyn Backend>, String), ObjectError> {
    Err(ObjectError::Unsupported {
        store: location.to_string(),
    })
}
