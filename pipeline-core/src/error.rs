//! The error type of the runtime's public API.

use crate::graph::GraphErrors;
use crate::store::error::StoreError;
use crate::value::ValueError;

/// Everything the runtime API can fail with. Messages are lowercase, name the
/// scenario, node, task or file involved, and say what to do.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The graph breaks one or more rules.
    #[error(transparent)]
    Graph(#[from] GraphErrors),
    /// A data node name that the scenario does not have.
    #[error("scenario type `{graph}` has no data node `{node}`")]
    UnknownNode {
        /// The scenario type.
        graph: String,
        /// The name asked for.
        node: String,
    },
    /// A task name that the scenario does not have.
    #[error("scenario type `{graph}` has no task `{task}`")]
    UnknownTask {
        /// The scenario type.
        graph: String,
        /// The name asked for.
        task: String,
    },
    /// A sequence name that the scenario does not have.
    #[error("scenario type `{graph}` has no sequence `{sequence}`")]
    UnknownSequence {
        /// The scenario type.
        graph: String,
        /// The name asked for.
        sequence: String,
    },
    /// A node accessed with another Rust type than it holds.
    #[error("data node `{node}` holds {actual}, not {requested}")]
    NodeType {
        /// The node.
        node: String,
        /// Its type.
        actual: String,
        /// The type asked for.
        requested: String,
    },
    /// A node read before anything wrote it.
    #[error("data node `{node}` has no value yet: write it, or submit the task that produces it")]
    NoValue {
        /// The node.
        node: String,
    },
    /// A version number that a data node never had.
    #[error("data node `{node}` has no version {version}")]
    UnknownVersion {
        /// The node.
        node: String,
        /// The version asked for.
        version: u64,
    },
    /// A value failed to encode, decode or materialize.
    #[error("data node `{node}`: {source}")]
    Value {
        /// The node.
        node: String,
        /// What went wrong.
        #[source]
        source: ValueError,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A job of a submission failed (from [`Submission::into_result`](crate::Submission::into_result)).
    #[error("task `{task}` failed: {message}")]
    JobFailed {
        /// The task.
        task: String,
        /// Its error or panic message.
        message: String,
    },
    /// A scenario id or name that the store does not know.
    #[error("no scenario {0} in the store")]
    UnknownScenario(String),
    /// Scenarios that cannot be compared (see [`Comparison`](crate::compare::Comparison)).
    #[error("cannot compare scenarios: {0}")]
    Compare(String),
    /// A remote executor could not start (see [`crate::remote`]).
    #[cfg(feature = "remote")]
    #[error(transparent)]
    Remote(#[from] crate::remote::RemoteError),
}

/// `Result` with the runtime's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
