//! A task's key: what a skippable task's outputs were produced under. A task
//! is skipped iff its outputs carry its current key. Also its parts: the
//! identity, which only changes with the program (with the input and output
//! schemas, computed once per opened scenario), and the digests of the
//! declared environment variables' values.

use std::fmt;
use std::sync::Arc;

use crate::fingerprint::{Fingerprint, FingerprintHasher};
use crate::graph::{Graph, NodeId, TaskId};

/// hash(task identity, declared environment values, input fingerprints in
/// order), where the identity is hash(task name, code fingerprint, input and
/// output schemas): a skippable task is skipped iff its outputs were produced
/// under its current key.
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct TaskKey(pub Fingerprint);

impl TaskKey {
    /// The part of a task's key that only changes with the program: its
    /// name, code fingerprint, and its input and output types' schemas.
    pub fn identity(
        task: &str,
        code: &Fingerprint,
        input_schemas: &[Fingerprint],
        output_schemas: &[Fingerprint],
    ) -> Fingerprint {
        let mut hasher = FingerprintHasher::with_domain("task-identity");
        hasher.update_str(task).update_fingerprint(code);
        for schemas in [input_schemas, output_schemas] {
            hasher.update_u64(schemas.len() as u64);
            for schema in schemas {
                hasher.update_fingerprint(schema);
            }
        }
        hasher.finish()
    }

    /// Computes a task's key from its [`identity`](Self::identity), the
    /// digests of its declared environment variables' values (`None`: unset,
    /// distinct from empty) and its inputs' fingerprints.
    pub fn compute<'a>(
        identity: &Fingerprint,
        env: &[Option<Fingerprint>],
        inputs: impl ExactSizeIterator<Item = &'a Fingerprint>,
    ) -> Self {
        let mut hasher = FingerprintHasher::with_domain("task-key");
        hasher.update_fingerprint(identity);
        hasher.update_u64(env.len() as u64);
        for value in env {
            match value {
                None => hasher.update_u64(0),
                Some(digest) => hasher.update_u64(1).update_fingerprint(digest),
            };
        }
        hasher.update_u64(inputs.len() as u64);
        for input in inputs {
            hasher.update_fingerprint(input);
        }
        Self(hasher.finish())
    }
}

impl fmt::Debug for TaskKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TaskKey({})", self.0.short())
    }
}

impl fmt::Display for TaskKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// What of a task's key only changes with the program: computed once per
/// opened scenario.
#[derive(Debug)]
pub(crate) struct TaskStatic {
    /// hash(name, code fingerprint, input and output schemas).
    pub(crate) identity: Fingerprint,
    /// The schema of each input's type, in parameter order.
    pub(crate) inputs: Box<[Fingerprint]>,
    /// The schema of each output's type, in order.
    pub(crate) outputs: Box<[Fingerprint]>,
}

impl TaskStatic {
    /// The statics of `task` of `graph`, or the error naming a node whose
    /// type has no schema.
    pub(crate) fn of(graph: &Graph, task: TaskId) -> std::result::Result<Self, String> {
        let schema = |&node: &NodeId| {
            let spec = graph.node(node);
            spec.value_type()
                .schema()
                .map_err(|e| format!("data node `{}`: {e}", spec.name()))
        };
        let inputs = graph
            .task_inputs(task)
            .iter()
            .map(schema)
            .collect::<std::result::Result<Box<[_]>, _>>()?;
        let outputs = graph
            .task_outputs(task)
            .iter()
            .map(schema)
            .collect::<std::result::Result<Box<[_]>, _>>()?;
        let def = graph.task(task).def();
        Ok(Self {
            identity: TaskKey::identity(def.name(), &def.code_fingerprint(), &inputs, &outputs),
            inputs,
            outputs,
        })
    }
}

/// The digest of each declared environment variable's value, read now
/// (`None`: unset, which is distinct from empty). Values are never stored.
pub(crate) fn env_digests(names: &[Arc<str>]) -> Vec<Option<Fingerprint>> {
    names
        .iter()
        .map(|name| {
            std::env::var_os(&**name).map(|value| {
                FingerprintHasher::with_domain("env-value")
                    .update_bytes(value.as_encoded_bytes())
                    .finish()
            })
        })
        .collect()
}
