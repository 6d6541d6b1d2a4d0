//! Lineage: how a data node version came to be. For a version written by a job,
//! the task, its code fingerprint, the task key and the exact input versions
//! it read, each traced the same way, down to the values written by users or
//! defaults. As a tree in text, and as JSON.
//!
//! ```
//! use pipeline_core::{Runtime};
//! use pipeline_core::graph::{GraphBuilder, NodeSpec, TaskSpec};
//! use pipeline_core::store::MemoryStore;
//! use pipeline_core::task::TaskDef;
//! let graph = GraphBuilder::new("g")
//!     .node(NodeSpec::new::<i64>("x").with_default(3))
//!     .node(NodeSpec::new::<i64>("squared"))
//!     .node(NodeSpec::new::<i64>("plus_one"))
//!     .task(TaskSpec::new(TaskDef::from_fn1("square", "1", |x: &i64| x * x))
//!         .inputs(["x"]).outputs(["squared"]).skippable(true))
//!     .task(TaskSpec::new(TaskDef::from_fn1("inc", "1", |x: &i64| x + 1))
//!         .inputs(["squared"]).outputs(["plus_one"]).skippable(true))
//!     .build()?;
//! let runtime = Runtime::with_store(MemoryStore::with_lineage());
//! let scenario = runtime.create_scenario(graph, "s")?;
//! scenario.submit()?;
//! let lineage = scenario.lineage("plus_one")?;
//! let text = lineage.to_string();
//! assert!(text.starts_with("plus_one v1"), "{text}");
//! assert!(text.contains("└── squared v1"), "{text}");
//! assert!(text.contains("x v1"), "{text}");
//! assert_eq!(lineage.to_json()["inputs"][0]["inputs"][0]["written_by"]["kind"], "default");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use serde_json::{Value as Json, json};

use crate::error::{Error, Result};
use crate::fingerprint::Fingerprint;
use crate::history::{slot_json, time_json, utc, written_by_json};
use crate::key::TaskKey;
use crate::scenario_state::ScenarioState;
use crate::store::{Owner, SlotKey, Store, SubmissionId, WrittenBy};

/// One version of a data node and how it was made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lineage {
    /// The slot (owner and node).
    pub slot: SlotKey,
    /// The version.
    pub version: u64,
    /// How it was made.
    pub origin: Origin,
}

/// How a version was made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The store no longer has this version (its scenario was deleted).
    Unknown,
    /// A version whose lineage appears earlier in the same tree (not repeated).
    SeeAbove {
        /// Its fingerprint.
        fingerprint: Fingerprint,
    },
    /// A version deeper than the traced depth (trace it to see more).
    Cut {
        /// Its fingerprint.
        fingerprint: Fingerprint,
    },
    /// The node's default or a user's write.
    Written {
        /// Its fingerprint.
        fingerprint: Fingerprint,
        /// When.
        written_at: SystemTime,
        /// [`WrittenBy::Default`], [`WrittenBy::User`] or [`WrittenBy::FileChange`].
        written_by: WrittenBy,
    },
    /// A job's output.
    Task {
        /// Its fingerprint.
        fingerprint: Fingerprint,
        /// When.
        written_at: SystemTime,
        /// The task.
        task: Arc<str>,
        /// The task key.
        key: TaskKey,
        /// The submission.
        submission: SubmissionId,
        /// Whether the output was reused from an identical job.
        reused: bool,
        /// The task's code fingerprint, if the store keeps lineage.
        code: Option<Fingerprint>,
        /// The exact input versions, each traced, if the store keeps lineage
        /// (`None`: an in-memory store made without
        /// [`with_lineage`](crate::store::MemoryStore::with_lineage)).
        inputs: Option<Vec<Lineage>>,
    },
}

/// How many levels of inputs [`Lineage::trace`] follows.
pub const DEFAULT_DEPTH: usize = 256;

impl Lineage {
    /// Traces `version` of `slot` through `store`, [`DEFAULT_DEPTH`] levels deep.
    pub fn trace(store: &dyn Store, slot: &SlotKey, version: u64) -> Result<Self> {
        Self::trace_depth(store, slot, version, DEFAULT_DEPTH)
    }

    /// Traces `version` of `slot` through `store`, at most `depth` levels of
    /// inputs deep (deeper versions are [`Origin::Cut`]).
    pub fn trace_depth(
        store: &dyn Store,
        slot: &SlotKey,
        version: u64,
        depth: usize,
    ) -> Result<Self> {
        trace(store, slot, version, &mut HashSet::new(), depth)
    }

    /// The tree as JSON: `{node, scenario | global, version, fingerprint,
    /// written_at, written_by, code, inputs: [...]}`.
    pub fn to_json(&self) -> Json {
        let mut out = slot_json(&self.slot);
        let object = out.as_object_mut().expect("slot_json returns an object");
        object.insert("version".to_owned(), json!(self.version));
        match &self.origin {
            Origin::Unknown => {
                object.insert("unknown".to_owned(), json!(true));
            }
            Origin::SeeAbove { fingerprint } => {
                object.insert("fingerprint".to_owned(), json!(fingerprint.to_hex()));
                object.insert("see_above".to_owned(), json!(true));
            }
            Origin::Cut { fingerprint } => {
                object.insert("fingerprint".to_owned(), json!(fingerprint.to_hex()));
                object.insert("cut".to_owned(), json!(true));
            }
            Origin::Written {
                fingerprint,
                written_at,
                written_by,
            } => {
                object.insert("fingerprint".to_owned(), json!(fingerprint.to_hex()));
                object.insert("written_at".to_owned(), time_json(*written_at));
                object.insert("written_by".to_owned(), written_by_json(written_by));
            }
            Origin::Task {
                fingerprint,
                written_at,
                task,
                key,
                submission,
                reused,
                code,
                inputs,
            } => {
                object.insert("fingerprint".to_owned(), json!(fingerprint.to_hex()));
                object.insert("written_at".to_owned(), time_json(*written_at));
                object.insert(
                    "written_by".to_owned(),
                    written_by_json(&WrittenBy::Task {
                        task: task.clone(),
                        key: *key,
                        submission: *submission,
                        reused: *reused,
                    }),
                );
                object.insert("code".to_owned(), json!(code.map(|c| c.to_hex())));
                object.insert(
                    "inputs".to_owned(),
                    match inputs {
                        Some(inputs) => Json::Array(inputs.iter().map(Self::to_json).collect()),
                        None => Json::Null,
                    },
                );
            }
        }
        out
    }

    fn label(&self) -> String {
        let node = match &self.slot.owner {
            Owner::Scenario(_) => format!("{} v{}", self.slot.node, self.version),
            Owner::Global(_) => format!("{} (global) v{}", self.slot.node, self.version),
        };
        match &self.origin {
            Origin::Unknown => format!("{node}  (no longer in the store)"),
            Origin::SeeAbove { fingerprint } => {
                format!("{node}  {}  (see above)", fingerprint.short())
            }
            Origin::Cut { fingerprint } => {
                format!(
                    "{node}  {}  (deeper inputs not traced)",
                    fingerprint.short()
                )
            }
            Origin::Written {
                fingerprint,
                written_at,
                written_by,
            } => format!(
                "{node}  {}  {}  {}",
                fingerprint.short(),
                written_by.describe(),
                utc(*written_at)
            ),
            Origin::Task {
                fingerprint,
                written_at,
                task,
                key,
                submission,
                reused,
                code,
                inputs,
            } => {
                let writer = WrittenBy::Task {
                    task: task.clone(),
                    key: *key,
                    submission: *submission,
                    reused: *reused,
                }
                .describe();
                let code = code.map_or_else(String::new, |c| format!("  code {}", c.short()));
                let missing = if inputs.is_none() {
                    "  (inputs not recorded by this store)"
                } else {
                    ""
                };
                format!(
                    "{node}  {}  {writer}{code}  {}{missing}",
                    fingerprint.short(),
                    utc(*written_at)
                )
            }
        }
    }

    fn inputs(&self) -> &[Lineage] {
        match &self.origin {
            Origin::Task {
                inputs: Some(inputs),
                ..
            } => inputs,
            _ => &[],
        }
    }

    fn write_tree(&self, f: &mut fmt::Formatter<'_>, prefix: &str) -> fmt::Result {
        let inputs = self.inputs();
        for (i, input) in inputs.iter().enumerate() {
            let last = i + 1 == inputs.len();
            writeln!(
                f,
                "{prefix}{}{}",
                if last { "└── " } else { "├── " },
                input.label()
            )?;
            let deeper = format!("{prefix}{}", if last { "    " } else { "│   " });
            input.write_tree(f, &deeper)?;
        }
        Ok(())
    }
}

impl fmt::Display for Lineage {
    /// The tree, one version per line, inputs indented below their consumer.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.label())?;
        self.write_tree(f, "")
    }
}

fn trace(
    store: &dyn Store,
    slot: &SlotKey,
    version: u64,
    seen: &mut HashSet<(SlotKey, u64)>,
    depth: usize,
) -> Result<Lineage> {
    let lineage = |origin| Lineage {
        slot: slot.clone(),
        version,
        origin,
    };
    let Some(meta) = store.version(slot, version)? else {
        return Ok(lineage(Origin::Unknown));
    };
    if depth == 0 {
        return Ok(lineage(Origin::Cut {
            fingerprint: meta.fingerprint,
        }));
    }
    if !seen.insert((slot.clone(), version)) {
        return Ok(lineage(Origin::SeeAbove {
            fingerprint: meta.fingerprint,
        }));
    }
    let WrittenBy::Task {
        task,
        key,
        submission,
        reused,
    } = meta.written_by
    else {
        return Ok(lineage(Origin::Written {
            fingerprint: meta.fingerprint,
            written_at: meta.written_at,
            written_by: meta.written_by,
        }));
    };
    let record = store.job_record(slot, version)?;
    let (code, inputs) = match record {
        Some(record) => {
            let mut inputs = Vec::with_capacity(record.inputs.len());
            for input in &record.inputs {
                inputs.push(trace(store, &input.slot, input.version, seen, depth - 1)?);
            }
            (Some(record.code), Some(inputs))
        }
        None => (None, None),
    };
    Ok(lineage(Origin::Task {
        fingerprint: meta.fingerprint,
        written_at: meta.written_at,
        task,
        key,
        submission,
        reused,
        code,
        inputs,
    }))
}

/// The lineage of a data node's current version.
pub(crate) fn lineage(scenario: &ScenarioState, node: &str) -> Result<Lineage> {
    let id = scenario.node_id(node)?;
    let version = scenario
        .current(id)?
        .ok_or_else(|| Error::NoValue {
            node: node.to_owned(),
        })?
        .meta
        .version;
    Lineage::trace(&*scenario.runtime().store, scenario.slot(id), version)
}

/// The lineage of one version of a data node.
pub(crate) fn lineage_of(scenario: &ScenarioState, node: &str, version: u64) -> Result<Lineage> {
    let id = scenario.node_id(node)?;
    Lineage::trace(&*scenario.runtime().store, scenario.slot(id), version)
}
