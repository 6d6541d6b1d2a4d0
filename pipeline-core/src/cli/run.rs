//! `run`: write the values given, submit, and show what ran and the results,
//! all under the scenario's locks (see
//! [`Scenario::submit_with_writes`](crate::Scenario::submit_with_writes)).

use serde_json::{Map, Value as Json, json};

use super::args::RunArgs;
use super::context::Context;
use super::error::CliError;
use super::kind::{RunResults, ScenarioKind};
use super::output::Output;
use super::progress::Progress;
use super::render;
use super::values::{Assignment, Origin, checked_writes};
use crate::graph::Graph;
use crate::job::Submission;
use crate::submit_options::{SubmitOptions, Target};

/// What `--task` / `--sequence` name, checked against the graph.
pub(crate) fn target(
    graph: &Graph,
    task: Option<&String>,
    sequence: Option<&String>,
) -> Result<Target, CliError> {
    if let Some(task) = task {
        if graph.task_id(task).is_none() {
            let names: Vec<&str> = graph.tasks().iter().map(|t| t.name()).collect();
            return Err(CliError::input(format!(
                "--task {task}: scenario type `{}` has no task `{task}`; its tasks: {}",
                graph.name(),
                names.join(", ")
            )));
        }
        return Ok(Target::Task(task.clone()));
    }
    if let Some(sequence) = sequence {
        if graph.sequence(sequence).is_none() {
            let names: Vec<&str> = graph.sequences().iter().map(|s| s.name()).collect();
            let known = if names.is_empty() {
                "it has none".to_owned()
            } else {
                format!("its sequences: {}", names.join(", "))
            };
            return Err(CliError::input(format!(
                "--sequence {sequence}: scenario type `{}` has no sequence `{sequence}`; {known}",
                graph.name()
            )));
        }
        return Ok(Target::Sequence(sequence.clone()));
    }
    Ok(Target::Scenario)
}

/// Runs `run` (`flags`: the values of node flags, as assignments).
pub(crate) fn run(
    ctx: &Context<'_>,
    args: &RunArgs,
    flags: Vec<Assignment>,
    output: &Output,
) -> Result<(), CliError> {
    let mut assignments = args
        .sets
        .iter()
        .map(|a| Assignment::parse(a, Origin::SetOption))
        .collect::<Result<Vec<_>, _>>()?;
    assignments.extend(flags);
    let which = &args.scenario.scenario;
    let checked = checked_writes(ctx, which, &assignments)?;
    // Refused before anything is written: a bad run writes nothing.
    #[cfg(feature = "remote")]
    let executor = remote_executor(ctx, args, checked.runtime.as_ref())?;
    let target = target(
        checked.kind.graph(),
        args.task.as_ref(),
        args.sequence.as_ref(),
    )?;
    let written: Vec<String> = checked.writes.nodes().map(str::to_owned).collect();
    let runtime = match checked.runtime {
        Some(runtime) => runtime,
        None => ctx.open_runtime()?,
    };
    let (scenario, kind) = match checked.scenario {
        Some(scenario) => (scenario, checked.kind),
        None => ctx.scenario_or_create(&runtime, which, Some(&checked.kind))?,
    };
    let mut options = SubmitOptions::new().force(args.force).target(target);
    if let Some(workers) = args.workers {
        options = options.max_workers(workers);
    }
    #[cfg(feature = "remote")]
    if let Some(executor) = executor {
        options = options.executor(executor);
    }
    let progress = Progress::start(&scenario, output.json);
    let submission = scenario.submit_with_writes(checked.writes, &options);
    progress.finish();
    let submission = submission?;
    let failure = render::first_failure(&submission);
    let results = RunResults {
        scenario: &scenario,
        submission: &submission,
    };
    if output.json {
        output.json_object(report_json(ctx, &kind, &results, &written, args, &failure)?);
    } else {
        print!(
            "{}",
            report_text(ctx, &kind, &results, &written, args, &failure)?
        );
    }
    match failure {
        Some(message) => Err(CliError::TaskFailed(message)),
        None => Ok(()),
    }
}

/// The nodes written and their versions after the submission.
fn written_versions<'a>(
    submission: &'a Submission,
    written: &'a [String],
) -> impl Iterator<Item = (&'a str, Option<u64>)> {
    let mut seen = std::collections::HashSet::new();
    written
        .iter()
        .filter(move |node| seen.insert(node.as_str()))
        .map(|node| (node.as_str(), submission.version_of(node)))
}

/// `run --json`: see `docs/cli.md`.
fn report_json(
    ctx: &Context<'_>,
    kind: &ScenarioKind,
    results: &RunResults<'_>,
    written: &[String],
    args: &RunArgs,
    failure: &Option<String>,
) -> Result<Json, CliError> {
    let (scenario, submission) = (results.scenario, results.submission);
    let mut report = json!({
        "scenario": scenario.name(),
        "scenario_id": scenario.id().0,
        "type": scenario.graph().name(),
        "store": ctx.store_dir().display().to_string(),
        "submission": submission.id.0,
        "target": submission.target,
        "status": if failure.is_some() { "failed" } else { "completed" },
        "seconds": submission.duration.as_secs_f64(),
        "written": written_versions(submission, written)
            .map(|(node, version)| json!({ "node": node, "version": version }))
            .collect::<Vec<Json>>(),
        "jobs": render::jobs_json(submission),
        "stale_upstream": submission
            .stale_upstream
            .iter()
            .map(crate::stale::StaleUpstream::to_json)
            .collect::<Vec<Json>>(),
    });
    if let Some(message) = failure {
        report["error"] = Json::String(message.clone());
        return Ok(report);
    }
    let mut values = Map::new();
    for node in kind.result_nodes() {
        let Some(version) = submission.version_of(&node) else {
            values.insert(node, Json::Null);
            continue;
        };
        let (_, value) = scenario.read_erased(&node, Some(version))?;
        let value_type = node_type(scenario.graph(), &node)?;
        values.insert(
            node,
            json!({
                "version": version,
                "value_type": value_type.name(),
                "value": render::value_json(value_type, &*value, Some(args.rows))?,
            }),
        );
    }
    report["results"] = Json::Object(values);
    if let Some(fields) = kind.report_fields(results)? {
        let object = report.as_object_mut().expect("a JSON object");
        for (key, value) in fields {
            object.insert(key, value);
        }
    }
    Ok(report)
}

/// `run`'s text: the scenario, the values written, the jobs, the results.
fn report_text(
    ctx: &Context<'_>,
    kind: &ScenarioKind,
    results: &RunResults<'_>,
    written: &[String],
    args: &RunArgs,
    failure: &Option<String>,
) -> Result<String, CliError> {
    let (scenario, submission) = (results.scenario, results.submission);
    let mut out = format!(
        "scenario `{}` ({}, {}) in {}: submission {}\n",
        scenario.name(),
        scenario.id(),
        scenario.graph().name(),
        ctx.store_dir().display(),
        submission.id
    );
    for (node, version) in written_versions(submission, written) {
        let version = version.map_or_else(|| "no value".to_owned(), |v| format!("version {v}"));
        out.push_str(&format!("  set {node} ({version})\n"));
    }
    let see = render::history_command(ctx.program(), &args.scenario.scenario);
    out.push_str(&render::jobs_table(submission, &see));
    if failure.is_some() {
        return Ok(out);
    }
    for node in kind.result_nodes() {
        let Some(version) = submission.version_of(&node) else {
            out.push_str(&format!("\n{node}: no value\n"));
            continue;
        };
        let (_, value) = scenario.read_erased(&node, Some(version))?;
        let value_type = node_type(scenario.graph(), &node)?;
        match render::value_text(value_type, &*value, args.rows)? {
            Some(text) if text.contains('\n') => {
                out.push_str(&format!("\n{node} (version {version}):\n{text}"));
                if !text.ends_with('\n') {
                    out.push('\n');
                }
            }
            Some(text) => out.push_str(&format!("\n{node} (version {version}): {text}\n")),
            None => out.push_str(&format!(
                "\n{node} (version {version}): a {} with no text form\n",
                value_type.name()
            )),
        }
    }
    Ok(out)
}

fn node_type(graph: &Graph, node: &str) -> Result<crate::value::ValueType, CliError> {
    graph
        .node_id(node)
        .map(|id| graph.node(id).value_type())
        .ok_or_else(|| {
            CliError::failed(format!(
                "scenario type `{}` has no data node `{node}` (named in its results)",
                graph.name()
            ))
        })
}

/// The Slurm executor `--executor slurm` asks for, with the object store of
/// the store's values (`--objects`, else the one the existing store
/// records) and `--partition`; `None` for the local one.
#[cfg(feature = "remote")]
fn remote_executor(
    ctx: &Context<'_>,
    args: &RunArgs,
    existing: Option<&crate::Runtime>,
) -> Result<Option<crate::Executor>, CliError> {
    use super::args::ExecutorArg;
    if args.executor == ExecutorArg::Local {
        return Ok(None);
    }
    let recorded = || {
        existing
            .and_then(|runtime| runtime.store().object_store_url())
            .map(str::to_owned)
    };
    let Some(objects) = ctx.objects_url()?.or_else(recorded) else {
        return Err(CliError::input(
            "--executor slurm needs an object store for the values: \
             --objects s3://bucket/prefix (or PIPELINE_OBJECTS), or a directory every node reads",
        ));
    };
    let mut slurm = crate::remote::SlurmOptions::new().objects(objects);
    if let Some(partition) = &args.partition {
        slurm = slurm.partition(partition.clone());
    }
    Ok(Some(crate::Executor::slurm(slurm)))
}
