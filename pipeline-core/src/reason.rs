//! Why a job ran or was skipped: the [`Reason`] every job records, for people
//! (`Display`) and for scripts (a stable JSON form).
//!
//! ```
//! use pipeline_core::Reason;
//! let reason = Reason::FirstRun;
//! assert_eq!(reason.to_string(), "first run");
//! assert_eq!(reason.to_json()["kind"], "first_run");
//! assert_eq!(Reason::from_json(&reason.to_json()).unwrap(), reason);
//! ```

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::code::CodePart;
use crate::fingerprint::Fingerprint;
use crate::store::{ScenarioId, SubmissionId, WrittenBy};

/// Why a job ran, was skipped, or (from [`explain`](crate::Scenario::explain))
/// would. Every [`Job`](crate::Job) records one; `Display` is for people.
///
/// # JSON shape
///
/// A reason is an object whose `"kind"` says which one it is; the other
/// members depend on the kind (fingerprints as 64 hexadecimal characters,
/// `written_by` as in a version's history):
///
/// | `kind` | members | meaning |
/// |---|---|---|
/// | `up_to_date` | | skipped: its outputs were made under its current key |
/// | `reused` | `task`, `scenario` (or null), `submission` (or null) | skipped: outputs adopted from an identical job |
/// | `first_run` | | ran: its outputs never had a value |
/// | `forced` | | ran: the submission was forced |
/// | `not_skippable` | | ran: the task is not skippable |
/// | `changed` | `changes`: a list of changes (below) | ran: what differs from the job that made its outputs |
/// | `output_missing` | `node` | ran: an output's value is missing or damaged in the store |
/// | `output_schema` | `node`, `stored` (or null), `current` | ran: an output is stored under another layout of its type |
/// | `output_replaced` | `node`, `written_by` | ran: an output was last written by someone else |
/// | `key_changed` | | ran: its key changed, and no record of the earlier job says how |
/// | `upstream_runs` | `task` | (explain only) may run: an upstream task will run first |
///
/// A change is `{"kind": "input", "node", "old", "new", "written_by"}`,
/// `{"kind": "input_schema", "node", "old" (or null), "new"}`,
/// `{"kind": "code", "parts": ["crate sources", ...]}` or
/// `{"kind": "env", "variable"}`.
///
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Reason {
    /// Skipped: every output was made under the task's current key.
    UpToDate,
    /// Skipped: the outputs of an identical job (same key) were adopted.
    Reused {
        /// The task of that job (the same task: the key covers its name).
        task: Arc<str>,
        /// The scenario that job belonged to, where known.
        scenario: Option<ScenarioId>,
        /// Its submission, where known.
        submission: Option<SubmissionId>,
    },
    /// Ran: its outputs never had a value.
    FirstRun,
    /// Ran: the submission was forced.
    Forced,
    /// Ran: the task is not skippable, so it runs every time.
    NotSkippable,
    /// Ran: what differs from the job that made its current outputs.
    Changed {
        /// Each difference, inputs first (in parameter order).
        changes: Vec<Change>,
    },
    /// Ran: an output's value is missing or damaged in the store.
    OutputMissing {
        /// The output node.
        node: Arc<str>,
    },
    /// Ran: an output is stored under another layout of its type (the type's
    /// definition changed), so it is not read.
    OutputSchema {
        /// The output node.
        node: Arc<str>,
        /// The schema it was stored under (`None`: not recorded). Boxed, as
        /// `current` is, to keep every job's reason small.
        stored: Option<Box<Fingerprint>>,
        /// The type's schema now.
        current: Box<Fingerprint>,
    },
    /// Ran: an output was last written by someone else than this task.
    OutputReplaced {
        /// The output node.
        node: Arc<str>,
        /// Who wrote it (boxed: see `OutputSchema`).
        written_by: Box<WrittenBy>,
    },
    /// Ran: its key changed, and the store keeps no record of the earlier job
    /// that says how (an in-memory store without lineage, in a new runtime).
    KeyChanged,
    /// Would run only if an upstream task's output changes (from
    /// [`explain`](crate::Scenario::explain)).
    UpstreamRuns {
        /// The upstream task that will run.
        task: Arc<str>,
    },
}

/// One thing that differs from the job that made a task's outputs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Change {
    /// An input's value changed.
    Input {
        /// The input node.
        node: Arc<str>,
        /// Its fingerprint when the earlier job read it.
        old: Fingerprint,
        /// Its fingerprint now.
        new: Fingerprint,
        /// Who wrote the current value: a user, a default, a task of some
        /// submission, or a file change.
        written_by: WrittenBy,
    },
    /// An input's type has another layout (its definition changed).
    InputSchema {
        /// The input node.
        node: Arc<str>,
        /// The schema the earlier job read (`None`: not recorded).
        old: Option<Fingerprint>,
        /// The schema now.
        new: Fingerprint,
    },
    /// The task's code changed.
    Code {
        /// Which parts of its code identity.
        #[serde(with = "code_parts")]
        parts: Vec<CodePart>,
        /// Which of the sources those parts cover changed, where recorded
        /// (`src/helpers.rs changed`, `polars changed`; see
        /// [`CodeIdentity::changed_sources_since`](crate::code::CodeIdentity::changed_sources_since)).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        sources: Vec<String>,
    },
    /// A declared environment variable changed (set, unset, or another value).
    Env {
        /// The variable.
        variable: Arc<str>,
    },
}

impl Reason {
    /// Whether the reason is one of a job that was skipped.
    pub fn is_skip(&self) -> bool {
        matches!(self, Reason::UpToDate | Reason::Reused { .. })
    }

    /// The stable machine form (see the table above).
    pub fn to_json(&self) -> Json {
        serde_json::to_value(self).unwrap_or(Json::Null)
    }

    /// Reads [`to_json`](Self::to_json)'s output back.
    ///
    /// # Errors
    /// If `json` is not a reason of this shape.
    pub fn from_json(json: &Json) -> Result<Self, serde_json::Error> {
        Self::deserialize(json)
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::UpToDate => f.write_str("up to date"),
            Reason::Reused {
                task,
                scenario,
                submission,
            } => {
                write!(f, "reused the outputs of an identical job of task `{task}`")?;
                match (submission, scenario) {
                    (Some(s), Some(c)) => write!(f, " (submission {s} of scenario {c})"),
                    (Some(s), None) => write!(f, " (submission {s})"),
                    _ => Ok(()),
                }
            }
            Reason::FirstRun => f.write_str("first run"),
            Reason::Forced => f.write_str("forced"),
            Reason::NotSkippable => f.write_str("not skippable: runs every time"),
            Reason::Changed { changes } => {
                for (i, change) in changes.iter().enumerate() {
                    if i > 0 {
                        f.write_str("; ")?;
                    }
                    write!(f, "{change}")?;
                }
                Ok(())
            }
            Reason::OutputMissing { node } => {
                write!(f, "output `{node}` is missing or damaged in the store")
            }
            Reason::OutputSchema {
                node,
                stored,
                current,
            } => write!(
                f,
                "output `{node}` is stored under another layout of its type (schema {} -> {})",
                stored
                    .as_deref()
                    .map_or_else(|| "unrecorded".to_owned(), Fingerprint::short),
                current.short()
            ),
            Reason::OutputReplaced { node, written_by } => write!(
                f,
                "output `{node}` holds a value this task did not make ({})",
                writer_phrase(written_by)
            ),
            Reason::KeyChanged => f.write_str(
                "its key changed (the store keeps no record of the earlier job to say how)",
            ),
            Reason::UpstreamRuns { task } => write!(
                f,
                "upstream task `{task}` will run; may run if its output changes"
            ),
        }
    }
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::Input {
                node,
                old,
                new,
                written_by,
            } => write!(
                f,
                "input `{node}` changed ({} -> {}, {})",
                old.short(),
                new.short(),
                writer_phrase(written_by)
            ),
            Change::InputSchema { node, .. } => {
                write!(f, "the layout of input `{node}`'s type changed")
            }
            Change::Code { parts, sources } => {
                f.write_str("code changed: ")?;
                let names: Vec<&str> = parts.iter().map(|p| p.as_str()).collect();
                f.write_str(&names.join(", "))?;
                if !sources.is_empty() {
                    write!(f, " ({})", sources.join(", "))?;
                }
                Ok(())
            }
            Change::Env { variable } => {
                write!(f, "environment variable `{variable}` changed")
            }
        }
    }
}

/// Who wrote a value, as a reason says it.
fn writer_phrase(written_by: &WrittenBy) -> String {
    match written_by {
        WrittenBy::Default => "its default".to_owned(),
        WrittenBy::User => "written by user".to_owned(),
        WrittenBy::FileChange => "a file it names changed".to_owned(),
        WrittenBy::Task { .. } => format!("written by {}", written_by.describe()),
    }
}

/// [`CodePart`]s by their names (`"crate sources"`).
mod code_parts {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::code::CodePart;

    const ALL: [CodePart; 5] = [
        CodePart::Version,
        CodePart::TaskTokens,
        CodePart::CrateSources,
        CodePart::Dependencies,
        CodePart::Compiler,
    ];

    pub(super) fn serialize<S: Serializer>(parts: &[CodePart], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(parts.iter().map(|p| p.as_str()))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<CodePart>, D::Error> {
        let names = Vec::<String>::deserialize(d)?;
        names
            .iter()
            .map(|name| {
                ALL.into_iter()
                    .find(|p| p.as_str() == name)
                    .ok_or_else(|| serde::de::Error::custom(format!("unknown code part `{name}`")))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::TaskKey;

    #[test]
    fn every_kind_round_trips_through_json() {
        let fp = Fingerprint::of_bytes(b"x");
        let reasons = [
            Reason::UpToDate,
            Reason::Reused {
                task: "t".into(),
                scenario: Some(ScenarioId(2)),
                submission: Some(SubmissionId(7)),
            },
            Reason::FirstRun,
            Reason::Forced,
            Reason::NotSkippable,
            Reason::Changed {
                changes: vec![
                    Change::Input {
                        node: "x".into(),
                        old: fp,
                        new: Fingerprint::of_bytes(b"y"),
                        written_by: WrittenBy::Task {
                            task: "t".into(),
                            key: TaskKey(fp),
                            submission: SubmissionId(3),
                            reused: false,
                        },
                    },
                    Change::InputSchema {
                        node: "x".into(),
                        old: None,
                        new: fp,
                    },
                    Change::Code {
                        parts: vec![CodePart::CrateSources, CodePart::Compiler],
                        sources: vec!["src/helpers.rs changed".to_owned()],
                    },
                    Change::Env {
                        variable: "MODE".into(),
                    },
                ],
            },
            Reason::OutputMissing { node: "y".into() },
            Reason::OutputSchema {
                node: "y".into(),
                stored: Some(Box::new(fp)),
                current: Box::new(fp),
            },
            Reason::OutputReplaced {
                node: "y".into(),
                written_by: Box::new(WrittenBy::FileChange),
            },
            Reason::KeyChanged,
            Reason::UpstreamRuns { task: "t".into() },
        ];
        for reason in reasons {
            let json = reason.to_json();
            assert_eq!(Reason::from_json(&json).unwrap(), reason, "{json}");
        }
    }

    #[test]
    fn a_reason_stays_small() {
        // Every job of every submission holds one.
        assert!(std::mem::size_of::<Option<Reason>>() <= 56);
    }

    #[test]
    fn an_input_change_says_old_new_and_who_wrote_it() {
        let reason = Reason::Changed {
            changes: vec![Change::Input {
                node: "rate".into(),
                old: Fingerprint::of_bytes(b"a"),
                new: Fingerprint::of_bytes(b"b"),
                written_by: WrittenBy::User,
            }],
        };
        let text = reason.to_string();
        assert!(text.starts_with("input `rate` changed ("), "{text}");
        assert!(text.ends_with(", written by user)"), "{text}");
        assert!(!text.contains("by written"), "{text}");
        let json = reason.to_json();
        assert_eq!(json["changes"][0]["kind"], "input");
        assert_eq!(json["changes"][0]["written_by"]["kind"], "user");
        assert_eq!(
            json["changes"][0]["old"],
            Fingerprint::of_bytes(b"a").to_hex()
        );
    }
}
