//! One version of a data node as the store records it: its metadata and
//! who wrote it.

use std::sync::Arc;
use std::time::SystemTime;

use crate::fingerprint::Fingerprint;
use crate::ids::SubmissionId;
use crate::key::TaskKey;

/// Who wrote a version. As JSON: `{"kind": "default" | "user" |
/// "file_change"}`, or `{"kind": "task", "task", "key", "submission",
/// "reused"}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WrittenBy {
    /// The node's default, written when the scenario was created.
    Default,
    /// A user's `write`.
    User,
    /// The runtime, at a submit: a file the value names changed on disk
    /// (the value is the same; its effective fingerprint covers the files).
    FileChange,
    /// A job.
    Task {
        /// The task.
        task: Arc<str>,
        /// The task key the job ran (or was reused) under.
        key: TaskKey,
        /// The submission the job belonged to.
        submission: SubmissionId,
        /// Whether the value was reused from an identical job instead of computed.
        reused: bool,
    },
}

/// The metadata of one version of a data node (never the value itself). Shared
/// behind an `Arc` between the cache and stores that keep it in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionMeta {
    /// 1 for the first version of the slot, then +1 per write.
    pub version: u64,
    /// The value's fingerprint.
    pub fingerprint: Fingerprint,
    /// Who wrote it.
    pub written_by: WrittenBy,
    /// When.
    pub written_at: SystemTime,
    /// The schema of the type it was stored as (see
    /// [`Value::schema`](crate::Value::schema)); `None` for a version recorded
    /// before schemas were, whose bytes are never decoded.
    pub schema: Option<Fingerprint>,
}

impl VersionMeta {
    /// The task key the value was produced under, if a task produced it.
    pub fn producer_key(&self) -> Option<&TaskKey> {
        match &self.written_by {
            WrittenBy::Task { key, .. } => Some(key),
            _ => None,
        }
    }
}

impl WrittenBy {
    /// Who wrote it, for people.
    pub(crate) fn describe(&self) -> String {
        match self {
            WrittenBy::Default => "default".to_owned(),
            WrittenBy::User => "written by user".to_owned(),
            WrittenBy::FileChange => "a file change".to_owned(),
            WrittenBy::Task {
                task,
                submission,
                reused,
                ..
            } => {
                let reused = if *reused {
                    ", reused from an identical job"
                } else {
                    ""
                };
                format!("task `{task}` (submission {submission}{reused})")
            }
        }
    }
}
