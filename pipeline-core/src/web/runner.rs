//! What the submit and save forms do: parse the parameter values typed in
//! with each node's type (all or nothing: one bad value writes none), write
//! the ones that changed, and run the submission on a thread of its own while
//! the server keeps answering, reporting on the live board.

use std::any::Any;
use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::oneshot;

use super::error::PageError;
use super::live::{Board, Outcome};
use crate::graph::{Graph, NodeId};
use crate::job::Submission;
use crate::scenario::Scenario;
use crate::store::{Owner, WrittenBy};
use crate::submit_options::{SubmitOptions, Target};

/// What to submit, as the form and the JSON twin name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Plan {
    /// The executor's target.
    pub(super) target: Target,
    /// For people: `scenario`, `sequence scoring`, `task clean`.
    pub(super) label: String,
    /// The tasks it covers, in topological order.
    pub(super) tasks: Vec<Arc<str>>,
}

impl Plan {
    /// Reads `scenario`, `sequence:NAME` or `task:NAME`; a name the graph
    /// lacks is a 422 on the `target` field.
    pub(super) fn parse(graph: &Graph, text: &str) -> Result<Self, PageError> {
        let text = text.trim();
        let names = |ids: &[crate::graph::TaskId]| {
            ids.iter()
                .map(|&t| graph.task(t).def().name_arc().clone())
                .collect::<Vec<_>>()
        };
        if text.is_empty() || text == "scenario" {
            return Ok(Self {
                target: Target::Scenario,
                label: "scenario".to_owned(),
                tasks: names(graph.topo_order()),
            });
        }
        if let Some(name) = text.strip_prefix("sequence:") {
            return match graph.sequence(name) {
                Some(sequence) => Ok(Self {
                    target: Target::Sequence(name.to_owned()),
                    label: format!("sequence {name}"),
                    tasks: names(sequence.tasks()),
                }),
                None => Err(PageError::field(
                    "target",
                    format!(
                        "scenario type `{}` has no sequence `{name}`{}",
                        graph.name(),
                        listed(
                            " (its sequences: ",
                            graph.sequences().iter().map(|s| s.name())
                        )
                    ),
                )),
            };
        }
        if let Some(name) = text.strip_prefix("task:") {
            return match graph.task_id(name) {
                Some(id) => Ok(Self {
                    target: Target::Task(name.to_owned()),
                    label: format!("task {name}"),
                    tasks: names(&[id]),
                }),
                None => Err(PageError::field(
                    "target",
                    format!(
                        "scenario type `{}` has no task `{name}`{}",
                        graph.name(),
                        listed(" (its tasks: ", graph.tasks().iter().map(|t| t.name()))
                    ),
                )),
            };
        }
        Err(PageError::field(
            "target",
            format!("unknown target `{text}`: give `scenario`, `sequence:NAME` or `task:NAME`"),
        ))
    }
}

/// `" (its tasks: a, b)"`, or nothing for an empty list.
fn listed<'a>(prefix: &str, names: impl Iterator<Item = &'a str>) -> String {
    let names: Vec<&str> = names.collect();
    if names.is_empty() {
        String::new()
    } else {
        format!("{prefix}{})", names.join(", "))
    }
}

/// The current value of a parameter in the text form its type reads back
/// (what the form shows, and what a field left alone still holds).
pub(super) fn current_text(scenario: &Scenario, node: NodeId) -> Result<Option<String>, PageError> {
    let Some(version) = scenario.state().current_from_store(node)? else {
        return Ok(None);
    };
    let value_type = scenario.graph().node(node).value_type();
    Ok(scenario
        .state()
        .value_of(node, &version)
        .ok()
        .and_then(|v| value_type.to_text(&**v)))
}

/// A parsed value ready to write.
pub(super) struct NewValue {
    node: NodeId,
    value: Box<dyn Any + Send + Sync>,
}

/// Parses every `(node, text)` whose text differs from the node's current
/// value; any unknown node, computed node or unparsable value is a 422 with
/// one message per field, and then nothing is written.
pub(super) fn parse_values(
    scenario: &Scenario,
    values: &[(String, String)],
) -> Result<Vec<NewValue>, PageError> {
    let graph = scenario.graph();
    let mut parsed = Vec::new();
    let mut fields = BTreeMap::new();
    for (name, text) in values {
        let Some(node) = graph.node_id(name) else {
            fields.insert(
                name.clone(),
                format!("scenario type `{}` has no data node `{name}`", graph.name()),
            );
            continue;
        };
        if let Some(producer) = graph.producer(node) {
            fields.insert(
                name.clone(),
                format!(
                    "`{name}` is computed by task `{}`; only parameters can be set",
                    graph.task(producer).name()
                ),
            );
            continue;
        }
        if current_text(scenario, node)?.as_deref() == Some(text.as_str()) {
            continue;
        }
        match parse_value(graph, node, text) {
            Ok(value) => parsed.push(NewValue { node, value }),
            Err(message) => {
                fields.insert(name.clone(), message);
            }
        }
    }
    if fields.is_empty() {
        Ok(parsed)
    } else {
        Err(PageError::Unprocessable {
            message: format!(
                "nothing was written: {}",
                fields
                    .iter()
                    .map(|(node, message)| format!("{node}: {message}"))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            fields,
        })
    }
}

/// Parses `text` with `node`'s type (its `FromStr`, else JSON), or says
/// why not with an example of a valid value.
fn parse_value(
    graph: &Graph,
    node: NodeId,
    text: &str,
) -> Result<Box<dyn Any + Send + Sync>, String> {
    graph
        .node(node)
        .value_type()
        .parse(text)
        .map_err(|e| e.to_string())
}

/// Writes parsed values as a user's writes; returns the nodes whose value
/// changed (an equal value records nothing).
pub(super) fn write_values(
    scenario: &Scenario,
    values: Vec<NewValue>,
) -> Result<Vec<String>, PageError> {
    let mut changed = Vec::new();
    for NewValue { node, value } in values {
        let before = scenario
            .state()
            .current_from_store(node)?
            .map(|v| v.meta.version);
        let after = scenario
            .state()
            .write_erased(node, value, WrittenBy::User)?;
        if Some(after.version) != before {
            changed.push(scenario.graph().node(node).name().to_owned());
        }
    }
    Ok(changed)
}

/// Starts a submission of `plan` on a thread of its own and returns at once;
/// the receiver gets the submission (or why it could not run) when it ends.
pub(super) fn start(
    board: &Arc<Board>,
    scenario: Scenario,
    plan: Plan,
    force: bool,
) -> oneshot::Receiver<Result<Submission, String>> {
    let (done, receiver) = oneshot::channel();
    let id = scenario.id();
    let ticket = board.queue(id, plan.label.clone(), plan.tasks.clone());
    // Say whom the submission will wait for, when another process submits.
    if let Ok(Some(holder)) = scenario
        .state()
        .runtime()
        .store
        .lock_holder(&Owner::Scenario(id))
    {
        board.waiting(
            id,
            ticket,
            format!("{holder}, which is submitting scenario {id}"),
        );
    }
    let board = board.clone();
    let options = SubmitOptions::new().target(plan.target).force(force);
    std::thread::Builder::new()
        .name(format!("pipeline-web-submit-{}", id.0))
        .spawn(move || {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                scenario.submit_with(&options)
            }));
            let result = match result {
                Ok(Ok(submission)) => Ok(submission),
                Ok(Err(error)) => Err(error.to_string()),
                Err(payload) => Err(format!(
                    "the submission panicked: {}",
                    crate::task::panic_message(payload.as_ref())
                )),
            };
            board.done(
                id,
                ticket,
                Outcome {
                    submission: result.as_ref().ok().map(|s| s.id),
                    error: result.as_ref().err().cloned(),
                },
            );
            let _ = done.send(result);
        })
        .expect("the operating system starts a thread");
    receiver
}
