//! [`StaleUpstream`]: what a partial submission says of one out-of-date
//! upstream task (a leaf module, so that [`Submission`](crate::Submission)
//! can hold it without importing the check).

use std::fmt;
use std::sync::Arc;

use serde_json::{Value as Json, json};

use crate::reason::Reason;

/// An upstream task a partial submission did not cover that would run now
/// (or may: one of its own upstream tasks would), and the submitted tasks
/// that read its outputs as they were.
#[derive(Debug, Clone, PartialEq)]
pub struct StaleUpstream {
    /// The upstream task that would run.
    pub task: Arc<str>,
    /// Why it would run: its own reason ([`Reason::FirstRun`] for a task
    /// that is not skippable and never ran), or
    /// [`Reason::UpstreamRuns`] naming an upstream task listed before it.
    pub reason: Reason,
    /// The submitted tasks that read its outputs directly, in topological
    /// order (empty for a task further up).
    pub read_by: Vec<Arc<str>>,
}

impl StaleUpstream {
    /// As JSON: `{"task", "reason" (see [`Reason`]), "reason_text",
    /// "read_by": [task, …]}`.
    pub fn to_json(&self) -> Json {
        json!({
            "task": &*self.task,
            "reason": self.reason.to_json(),
            "reason_text": self.reason.to_string(),
            "read_by": self.read_by.iter().map(|t| &**t).collect::<Vec<_>>(),
        })
    }
}

impl StaleUpstream {
    /// The sentence of [`Display`](fmt::Display), with `readers` saying
    /// what the reading tasks did (`read its outputs as they were`).
    pub(crate) fn sentence(&self, readers: &str) -> String {
        let mut out = match &self.reason {
            Reason::UpstreamRuns { task } => format!(
                "task `{}` may be out of date (upstream task `{task}` is)",
                self.task
            ),
            reason => format!("task `{}` is out of date ({reason})", self.task),
        };
        if !self.read_by.is_empty() {
            let tasks: Vec<String> = self.read_by.iter().map(|t| format!("`{t}`")).collect();
            out.push_str(&format!(": {} {readers}", tasks.join(", ")));
        }
        out
    }
}

impl fmt::Display for StaleUpstream {
    /// `` task `score` is out of date (input `path` changed …): `summary`
    /// read its outputs as they were ``, or `` task `segment` may be out of
    /// date (upstream task `score` is) ``.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.sentence("read its outputs as they were"))
    }
}
