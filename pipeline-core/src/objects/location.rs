//! Where an object store lives: a directory or an S3 bucket and prefix, parsed
//! from the URL or path a user writes (`--store`, `PIPELINE_OBJECTS`).

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use super::error::ObjectError;

/// The place an [`ObjectStore`](super::ObjectStore) keeps its objects.
///
/// Written as `file:///absolute/path`, a plain path (relative paths are taken
/// from the current directory), or `s3://bucket/prefix` (the prefix may be
/// empty). Its [`Display`](fmt::Display) form is the URL that error messages
/// name.
///
/// ```
/// use pipeline_core::objects::StoreLocation;
///
/// let s3: StoreLocation = "s3://pipeline-values/team/a".parse()?;
/// assert_eq!(s3, StoreLocation::S3 { bucket: "pipeline-values".into(), prefix: "team/a".into() });
/// assert_eq!(s3.to_string(), "s3://pipeline-values/team/a");
///
/// let dir: StoreLocation = "/srv/values".parse()?;
/// assert_eq!(dir.to_string(), "file:///srv/values");
///
/// let wrong = "gs://bucket".parse::<StoreLocation>().unwrap_err();
/// assert!(wrong.to_string().contains("unsupported scheme 'gs'"));
/// # Ok::<(), pipeline_core::objects::ObjectError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum StoreLocation {
    /// A directory on a local or shared file system (absolute).
    Directory(PathBuf),
    /// A bucket of an S3-compatible service and a key prefix inside it
    /// (without leading or trailing `/`; empty for the whole bucket).
    S3 {
        /// The bucket name.
        bucket: String,
        /// The key prefix every object name is placed under.
        prefix: String,
    },
}

impl StoreLocation {
    /// Parses a URL or path; see the type's documentation for the forms.
    pub fn parse(text: &str) -> Result<Self, ObjectError> {
        let invalid = |reason: String| ObjectError::InvalidLocation {
            location: text.to_owned(),
            reason,
        };
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(invalid("it is empty".into()));
        }
        if let Some(rest) = trimmed.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            check_bucket(bucket).map_err(invalid)?;
            let prefix = prefix.trim_matches('/');
            check_prefix(prefix).map_err(invalid)?;
            return Ok(StoreLocation::S3 {
                bucket: bucket.to_owned(),
                prefix: prefix.to_owned(),
            });
        }
        if trimmed.starts_with("file:") {
            let url = url::Url::parse(trimmed).map_err(|e| invalid(e.to_string()))?;
            let path = url.to_file_path().map_err(|()| {
                invalid("a file URL must name an absolute local path: file:///path".into())
            })?;
            return Ok(StoreLocation::Directory(path));
        }
        if let Some((scheme, _)) = trimmed.split_once("://") {
            return Err(invalid(format!(
                "unsupported scheme '{scheme}': use s3://bucket/prefix, file:///path or a plain path"
            )));
        }
        let path = std::path::absolute(Path::new(trimmed))
            .map_err(|e| invalid(format!("cannot make the path absolute: {e}")))?;
        Ok(StoreLocation::Directory(path))
    }
}

impl FromStr for StoreLocation {
    type Err = ObjectError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl fmt::Display for StoreLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreLocation::Directory(path) => match url::Url::from_file_path(path) {
                Ok(url) => write!(f, "{url}"),
                Err(()) => write!(f, "{}", path.display()),
            },
            StoreLocation::S3 { bucket, prefix } if prefix.is_empty() => write!(f, "s3://{bucket}"),
            StoreLocation::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
        }
    }
}

/// S3's bucket naming rules (the ones a typo breaks).
fn check_bucket(bucket: &str) -> Result<(), String> {
    if bucket.is_empty() {
        return Err("the bucket name is missing: s3://bucket/prefix".into());
    }
    if !(3..=63).contains(&bucket.len()) {
        return Err(format!(
            "bucket name '{bucket}' must be 3 to 63 characters long"
        ));
    }
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.';
    if let Some(bad) = bucket.chars().find(|&c| !allowed(c)) {
        return Err(format!(
            "bucket name '{bucket}' may hold only lowercase letters, digits, '-' and '.', not '{bad}'"
        ));
    }
    let edge_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    if !edge_ok(bucket.chars().next()) || !edge_ok(bucket.chars().last()) {
        return Err(format!(
            "bucket name '{bucket}' must begin and end with a letter or digit"
        ));
    }
    Ok(())
}

/// A prefix is a `/`-separated path without empty, `.` or `..` parts.
fn check_prefix(prefix: &str) -> Result<(), String> {
    if prefix.is_empty() {
        return Ok(());
    }
    for part in prefix.split('/') {
        if part.is_empty() || part == "." || part == ".." {
            return Err(format!("prefix '{prefix}' has an empty, '.' or '..' part"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> StoreLocation {
        StoreLocation::parse(text).unwrap()
    }

    fn reason(text: &str) -> String {
        StoreLocation::parse(text).unwrap_err().to_string()
    }

    #[test]
    fn s3_urls_give_bucket_and_prefix() {
        assert_eq!(
            parse("s3://my-bucket"),
            StoreLocation::S3 {
                bucket: "my-bucket".into(),
                prefix: String::new()
            }
        );
        assert_eq!(
            parse("s3://my-bucket/a/b/"),
            StoreLocation::S3 {
                bucket: "my-bucket".into(),
                prefix: "a/b".into()
            }
        );
        assert_eq!(
            parse("s3://my-bucket/a/b/").to_string(),
            "s3://my-bucket/a/b"
        );
    }

    #[test]
    fn file_urls_and_paths_give_absolute_directories() {
        assert_eq!(
            parse("file:///srv/values"),
            StoreLocation::Directory("/srv/values".into())
        );
        assert_eq!(
            parse("file:///srv/with%20space"),
            StoreLocation::Directory("/srv/with space".into())
        );
        assert_eq!(
            parse("/srv/values"),
            StoreLocation::Directory("/srv/values".into())
        );
        let relative = parse("values");
        assert_eq!(
            relative,
            StoreLocation::Directory(std::env::current_dir().unwrap().join("values"))
        );
        assert_eq!(
            parse("/srv/with space").to_string(),
            "file:///srv/with%20space"
        );
    }

    #[test]
    fn bad_locations_say_what_is_wrong() {
        assert!(reason("").contains("it is empty"), "{}", reason(""));
        assert!(reason("s3://").contains("bucket name is missing"));
        assert!(reason("s3://ab").contains("3 to 63 characters"));
        assert!(reason("s3://My_Bucket").contains("not 'M'"));
        assert!(reason("s3://-bucket").contains("begin and end"));
        assert!(reason("s3://bucket/a//b").contains("prefix 'a//b'"));
        assert!(reason("s3://bucket/a/../b").contains("'..'"));
        assert!(reason("http://host/x").contains("unsupported scheme 'http'"));
        assert!(reason("file://host/x").contains("absolute local path"));
        assert!(reason("s3://ab").starts_with("invalid object store location 's3://ab'"));
    }
}
