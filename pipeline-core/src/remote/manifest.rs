//! The worker-mode contract (docs/distributed.md, section 3): the task
//! manifest the coordinator writes for each attempt, the result manifest the
//! worker writes back, and where both and the values live in the object
//! store.
//!
//! ```text
//! values/<fp[0..2]>/<fingerprint>.<ext>          values, create-only
//! jobs/<task key>/<attempt>/task.json             task manifest, create-only
//! jobs/<task key>/<attempt>/result.json           result manifest, create-only
//! jobs/<task key>/<attempt>/claimed               a coordinator recorded the result
//! ```
//!
//! Attempts live under their task key, so that a coordinator that must run
//! a task finds the attempts an interrupted one left for the same key.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::code::CodeIdentity;
use crate::fingerprint::Fingerprint;
use crate::key::TaskKey;

/// The `format` of task manifests this build writes and reads.
pub(crate) const TASK_FORMAT: &str = "pipeline-task/1";
/// The `format` of result manifests this build writes and reads.
pub(crate) const RESULT_FORMAT: &str = "pipeline-result/1";

/// The object name of a value.
pub(crate) fn value_object(fingerprint: &Fingerprint, extension: &str) -> String {
    crate::objects::value_name(fingerprint, extension)
}

/// The folder of every attempt of a task key.
pub(crate) fn key_folder(key: &TaskKey) -> String {
    format!("jobs/{}", key.0.to_hex())
}

/// The folder of one attempt.
pub(crate) fn attempt_folder(key: &TaskKey, attempt: &str) -> String {
    format!("{}/{attempt}", key_folder(key))
}

/// The task manifest's name in an attempt folder.
pub(crate) const TASK_FILE: &str = "task.json";
/// The result manifest's name in an attempt folder.
pub(crate) const RESULT_FILE: &str = "result.json";
/// The marker a coordinator writes (create-only) before recording a result.
pub(crate) const CLAIM_FILE: &str = "claimed";

/// A stored value as a manifest names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredObject {
    /// The value's fingerprint (what the registry records).
    pub(crate) fingerprint: Fingerprint,
    /// The object holding its encoding.
    pub(crate) object: String,
    /// The object's size in bytes.
    pub(crate) size: u64,
    /// The blake3 hash of the object's bytes.
    pub(crate) content_hash: Fingerprint,
}

/// One input of a task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct InputEntry {
    /// The data node.
    pub(crate) node: String,
    /// Its value type's name (for messages).
    #[serde(rename = "type")]
    pub(crate) type_name: String,
    /// The schema the value was stored under.
    pub(crate) schema: Fingerprint,
    /// The value.
    #[serde(flatten)]
    pub(crate) value: StoredObject,
    /// The stored values it is a view of (see `Value::references`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) references: Vec<StoredObject>,
}

/// One output slot of a task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct OutputSlot {
    /// The data node.
    pub(crate) node: String,
    /// Its value type's name (for messages).
    #[serde(rename = "type")]
    pub(crate) type_name: String,
    /// The schema its value must be stored under.
    pub(crate) schema: Fingerprint,
}

/// A task's code identity, part by part (so that a mismatch names the part).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct CodeManifest {
    /// The whole code fingerprint.
    pub(crate) fingerprint: Fingerprint,
    /// Each part's fingerprint by name (`task tokens`, `dependencies`...).
    pub(crate) parts: BTreeMap<String, Fingerprint>,
}

impl CodeManifest {
    pub(crate) fn of(code: &CodeIdentity) -> Self {
        Self {
            fingerprint: code.fingerprint(),
            parts: code
                .parts()
                .iter()
                .map(|(part, fp)| (part.as_str().to_owned(), *fp))
                .collect(),
        }
    }

    /// The parts that differ between `self` (expected) and `actual`.
    pub(crate) fn differing_parts(&self, actual: &CodeManifest) -> Vec<String> {
        let mut names: Vec<&String> = self.parts.keys().chain(actual.parts.keys()).collect();
        names.sort();
        names.dedup();
        names
            .into_iter()
            .filter(|name| self.parts.get(*name) != actual.parts.get(*name))
            .cloned()
            .collect()
    }
}

/// A declared environment variable's digest as the coordinator saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct EnvEntry {
    /// The variable.
    pub(crate) name: String,
    /// The digest of its value (`None`: unset).
    pub(crate) digest: Option<Fingerprint>,
}

/// What the coordinator asks one attempt to do (`task.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct TaskManifest {
    /// [`TASK_FORMAT`].
    pub(crate) format: String,
    /// The submission (in the coordinator's registry).
    pub(crate) submission: u64,
    /// The scenario's name, for people.
    pub(crate) scenario: String,
    /// The task's name in the graph.
    pub(crate) task: String,
    /// The function's registered name (a renamed task's original name).
    pub(crate) function: String,
    /// 1 for the first attempt.
    pub(crate) attempt: u32,
    /// The attempt's folder name.
    pub(crate) attempt_id: String,
    /// The task key.
    pub(crate) key: TaskKey,
    /// The task's code identity.
    pub(crate) code: CodeManifest,
    /// hash(name, code, input and output schemas): with the inputs and the
    /// environment, it gives the key.
    pub(crate) identity: Fingerprint,
    /// The declared environment variables' digests.
    pub(crate) environment: Vec<EnvEntry>,
    /// The object store's URL.
    pub(crate) store: String,
    /// The inputs, in parameter order.
    pub(crate) inputs: Vec<InputEntry>,
    /// The outputs, in order.
    pub(crate) outputs: Vec<OutputSlot>,
    /// The object the result manifest goes to.
    pub(crate) result: String,
}

/// Whether an attempt's task completed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ResultStatus {
    /// The outputs are stored.
    Completed,
    /// The task failed (or could not run): `error` says why.
    Failed,
}

/// One output as the worker stored it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct OutputEntry {
    /// The data node.
    pub(crate) node: String,
    /// The schema it was stored under.
    pub(crate) schema: Fingerprint,
    /// The value.
    #[serde(flatten)]
    pub(crate) value: StoredObject,
    /// Whether this attempt created the object (`false`: it was stored already).
    pub(crate) created: bool,
}

/// What an attempt did (`result.json`), written last, create-only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ResultManifest {
    /// [`RESULT_FORMAT`].
    pub(crate) format: String,
    /// The task's name in the graph.
    pub(crate) task: String,
    /// The attempt.
    pub(crate) attempt: u32,
    /// The task key.
    pub(crate) key: TaskKey,
    /// Completed or failed.
    pub(crate) status: ResultStatus,
    /// Why it failed (the task's `Err` or panic message, or what stopped it).
    pub(crate) error: Option<String>,
    /// Whether the failure was the task's own (`Err` or panic) rather than
    /// the worker's (a stale binary, an input it could not read).
    #[serde(default)]
    pub(crate) task_error: bool,
    /// The outputs (empty when failed).
    pub(crate) outputs: Vec<OutputEntry>,
    /// When the task body started, in ms since the Unix epoch.
    pub(crate) started_ms: u64,
    /// When the outputs were stored, in ms since the Unix epoch.
    pub(crate) ended_ms: u64,
    /// The machine.
    pub(crate) host: Option<String>,
    /// The engine's job id (`SLURM_JOB_ID`).
    pub(crate) job: Option<String>,
    /// The worker's peak resident memory in bytes, where known.
    pub(crate) peak_rss: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_read_back_what_they_wrote() {
        let fp = Fingerprint::of_bytes(b"v");
        let manifest = TaskManifest {
            format: TASK_FORMAT.into(),
            submission: 7,
            scenario: "spring".into(),
            task: "score".into(),
            function: "score".into(),
            attempt: 1,
            attempt_id: "a".into(),
            key: TaskKey(fp),
            code: CodeManifest::of(&CodeIdentity::pinned("1")),
            identity: fp,
            environment: vec![EnvEntry {
                name: "MODEL".into(),
                digest: None,
            }],
            store: "s3://b/p".into(),
            inputs: vec![InputEntry {
                node: "x".into(),
                type_name: "i64".into(),
                schema: fp,
                value: StoredObject {
                    fingerprint: fp,
                    object: value_object(&fp, "bin"),
                    size: 8,
                    content_hash: fp,
                },
                references: Vec::new(),
            }],
            outputs: vec![OutputSlot {
                node: "y".into(),
                type_name: "i64".into(),
                schema: fp,
            }],
            result: "jobs/k/a/result.json".into(),
        };
        let text = serde_json::to_string_pretty(&manifest).unwrap();
        assert!(text.contains("\"type\": \"i64\""), "{text}");
        assert!(text.contains(&format!("\"object\": \"values/{}/", &fp.to_hex()[..2])));
        assert_eq!(
            serde_json::from_str::<TaskManifest>(&text).unwrap(),
            manifest
        );
    }

    #[test]
    fn differing_code_parts_are_named() {
        let a = CodeManifest::of(&CodeIdentity::pinned("1"));
        let b = CodeManifest::of(&CodeIdentity::pinned("2"));
        assert_eq!(a.differing_parts(&b), vec!["version".to_owned()]);
        assert!(a.differing_parts(&a).is_empty());
    }
}
