//! Tuning of an object store: upload part sizes, concurrency, retries and
//! timeouts.

use std::time::Duration;

#[cfg(feature = "s3")]
/// S3 refuses parts smaller than this (except the last one of an upload).
pub(super) const MIN_PART_SIZE: usize = 5 << 20;

/// How an [`ObjectStore`](super::ObjectStore) moves data and how long it
/// waits for a server.
///
/// Memory used by one upload of a file stays near
/// `max(multipart_threshold, part_size * (parts_in_flight + 3))` (parts being
/// sent, one waiting, one being read), whatever the file's size; a download
/// holds a few received chunks at a time.
///
/// ```
/// use std::time::Duration;
/// use pipeline_core::objects::ObjectStoreOptions;
///
/// let patient = ObjectStoreOptions::default()
///     .with_retries(10, Duration::from_secs(120))
///     .with_part_size(16 << 20);
/// assert_eq!(patient.part_size(), 16 << 20);
/// ```
#[derive(Clone, Debug)]
pub struct ObjectStoreOptions {
    part_size: usize,
    multipart_threshold: u64,
    parts_in_flight: usize,
    max_retries: usize,
    retry_timeout: Duration,
    connect_timeout: Duration,
    request_timeout: Duration,
    s3_settings: Vec<(String, String)>,
}

impl Default for ObjectStoreOptions {
    /// 8 MiB parts, 4 in flight, files above 16 MiB uploaded in parts; 3
    /// retries within 30 s; 5 s to connect, 60 s per request.
    fn default() -> Self {
        Self {
            part_size: 8 << 20,
            multipart_threshold: 16 << 20,
            parts_in_flight: 4,
            max_retries: 3,
            retry_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(60),
            s3_settings: Vec::new(),
        }
    }
}

impl ObjectStoreOptions {
    /// The size of each part of a multipart upload (at least 5 MiB for S3).
    pub fn with_part_size(mut self, bytes: usize) -> Self {
        self.part_size = bytes;
        self
    }

    /// Files larger than this are uploaded in parts; smaller ones in one
    /// request (read into memory whole).
    pub fn with_multipart_threshold(mut self, bytes: u64) -> Self {
        self.multipart_threshold = bytes;
        self
    }

    /// How many parts of one upload may be in flight at once.
    pub fn with_parts_in_flight(mut self, parts: usize) -> Self {
        self.parts_in_flight = parts.max(1);
        self
    }

    /// How often a failed request is retried, and for how long at most,
    /// before the error is reported (S3 stores; a directory does not retry).
    pub fn with_retries(mut self, max_retries: usize, within: Duration) -> Self {
        self.max_retries = max_retries;
        self.retry_timeout = within;
        self
    }

    /// How long to wait for a connection, and for each whole request.
    pub fn with_timeouts(mut self, connect: Duration, request: Duration) -> Self {
        self.connect_timeout = connect;
        self.request_timeout = request;
        self
    }

    /// Sets an S3 client setting by its `object_store` name, the lowercase
    /// of its environment variable (`aws_endpoint`, `aws_allow_http`,
    /// `aws_access_key_id`, `aws_secret_access_key`, `aws_region`...). A
    /// setting given here wins over the environment; an unknown name is
    /// refused when the store is opened.
    pub fn with_s3_setting(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.s3_settings.push((name.into(), value.into()));
        self
    }

    /// The S3 settings given with [`with_s3_setting`](Self::with_s3_setting).
    pub fn s3_settings(&self) -> &[(String, String)] {
        &self.s3_settings
    }

    /// The part size of multipart uploads.
    pub fn part_size(&self) -> usize {
        self.part_size
    }

    /// The file size above which uploads go in parts.
    pub fn multipart_threshold(&self) -> u64 {
        self.multipart_threshold
    }

    /// The number of parts of one upload in flight at once.
    pub fn parts_in_flight(&self) -> usize {
        self.parts_in_flight
    }

    /// The retry limit: count and total time.
    pub fn retries(&self) -> (usize, Duration) {
        (self.max_retries, self.retry_timeout)
    }

    /// The connect and request timeouts.
    pub fn timeouts(&self) -> (Duration, Duration) {
        (self.connect_timeout, self.request_timeout)
    }

    /// Why these options cannot serve an S3 store, if they cannot.
    #[cfg(feature = "s3")]
    pub(super) fn s3_problem(&self) -> Option<String> {
        (self.part_size < MIN_PART_SIZE).then(|| {
            format!(
                "part size {} bytes is below S3's minimum of {MIN_PART_SIZE} bytes (5 MiB)",
                self.part_size
            )
        })
    }
}
