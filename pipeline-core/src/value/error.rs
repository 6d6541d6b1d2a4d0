//! [`ValueError`]: why a value could not be encoded, decoded, materialized
//! or fingerprinted, and the short type names its messages use.

use std::fmt;
use std::path::PathBuf;

use crate::fingerprint::Fingerprint;

/// Why a value could not be encoded, decoded, materialized or fingerprinted.
#[derive(Debug, thiserror::Error)]
pub enum ValueError {
    /// The bytes do not decode as the expected type.
    #[error("cannot decode a {type_name}: {reason}")]
    Decode {
        /// The type being decoded.
        type_name: String,
        /// What was wrong with the bytes.
        reason: String,
    },
    /// The value cannot be encoded canonically.
    #[error("cannot encode a {type_name}: {reason}")]
    Encode {
        /// The type being encoded.
        type_name: String,
        /// What went wrong.
        reason: String,
    },
    /// Reading or writing a value file failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done (`"cannot write"`, `"cannot read"`).
        action: &'static str,
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Executing a lazy value (for example a polars query) failed.
    #[error("{0}")]
    Materialize(String),
    /// A view's underlying value is not in the store, or is damaged.
    #[error("the value {fingerprint} it is a view of is unusable: {reason}")]
    Reference {
        /// The underlying value.
        fingerprint: Fingerprint,
        /// What is wrong with it.
        reason: String,
    },
}

impl ValueError {
    /// A decode error for type `T`.
    pub fn decode<T: ?Sized>(reason: impl fmt::Display) -> Self {
        Self::Decode {
            type_name: short_type_name(std::any::type_name::<T>()),
            reason: reason.to_string(),
        }
    }

    /// A task's error when its output `node` could not be stored (a lazy
    /// frame's query failed, a file could not be written): the node, then
    /// this error's own message, which says what to fix (`output `scored`:
    /// csv file `x.csv`: column `Age` must hold i64 values, but line 3
    /// holds `old`; fix or remove that cell`).
    pub(crate) fn of_output(&self, node: &str) -> String {
        format!("output `{node}`: {self}")
    }

    /// An encode error for type `T`.
    pub fn encode<T: ?Sized>(reason: impl fmt::Display) -> Self {
        Self::Encode {
            type_name: short_type_name(std::any::type_name::<T>()),
            reason: reason.to_string(),
        }
    }
}

/// Shortens `alloc::vec::Vec<alloc::string::String>` to `Vec<String>`.
pub fn short_type_name(full: &str) -> String {
    let mut out = String::with_capacity(full.len());
    let mut segment = String::new();
    for ch in full.chars() {
        if ch.is_alphanumeric() || ch == '_' || ch == ':' {
            segment.push(ch);
        } else {
            out.push_str(segment.rsplit("::").next().unwrap_or(""));
            segment.clear();
            out.push(ch);
        }
    }
    out.push_str(segment.rsplit("::").next().unwrap_or(""));
    out
}
