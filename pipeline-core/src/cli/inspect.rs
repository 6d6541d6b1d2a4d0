//! `history`, `lineage`, `compare` and `graph`: looking at what happened and
//! at the pipeline itself.

use serde_json::{Value as Json, json};

use super::args::{
    CompareArgs, ExplainArgs, GraphArgs, GraphFormat, HistoryArgs, LineageArgs, most_recent,
};
use super::context::Context;
use super::error::CliError;
use super::output::Output;
use super::render;
use super::values::known_node;
use crate::compare::Compare;
use crate::config::{to_dot, to_mermaid, to_toml};
use crate::history::JobHistory;
use crate::scenario::Scenario;
use crate::submit_options::SubmitOptions;

fn header(scenario: &Scenario) -> Json {
    json!({
        "scenario": scenario.name(),
        "scenario_id": scenario.id().0,
        "type": scenario.graph().name(),
    })
}

/// Runs `history`.
pub(crate) fn history(
    ctx: &Context<'_>,
    args: &HistoryArgs,
    output: &Output,
) -> Result<(), CliError> {
    let runtime = ctx.open_existing_runtime()?;
    let (scenario, _) = ctx.scenario(&runtime, &args.scenario.scenario)?;
    let mut report = header(&scenario);
    match &args.node {
        Some(node) => {
            known_node(scenario.graph(), node)?;
            let (versions, left_out) = most_recent(scenario.node_history(node)?, args.limit);
            if output.json {
                report["node"] = json!(node);
                report["versions"] = versions.iter().map(|v| v.to_json()).collect();
                report["left_out"] = json!(left_out);
                output.json_object(report);
            } else {
                println!("data node `{node}` of scenario `{}`:", scenario.name());
                print!("{}", render::left_out_line(left_out, "version", args.limit));
                for version in versions {
                    println!("  {version}");
                }
            }
        }
        None => {
            let (submissions, left_out) =
                most_recent(scenario.job_history()?.submissions, args.limit);
            let history = JobHistory { submissions };
            if output.json {
                report["submissions"] = history.to_json();
                report["left_out"] = json!(left_out);
                output.json_object(report);
            } else if history.submissions.is_empty() {
                println!("scenario `{}` was never submitted", scenario.name());
            } else {
                let see = render::history_command(ctx.program(), &args.scenario.scenario);
                let mut text = render::left_out_line(left_out, "submission", args.limit);
                history
                    .write_text(&mut text, &|error| render::first_line(error, &see))
                    .expect("writing to a String");
                print!("{text}");
            }
        }
    }
    Ok(())
}

/// Runs `lineage`.
pub(crate) fn lineage(
    ctx: &Context<'_>,
    args: &LineageArgs,
    output: &Output,
) -> Result<(), CliError> {
    let runtime = ctx.open_existing_runtime()?;
    let (scenario, _) = ctx.scenario(&runtime, &args.scenario.scenario)?;
    known_node(scenario.graph(), &args.node)?;
    let lineage = match args.version {
        Some(version) => scenario.lineage_of(&args.node, version)?,
        None => scenario.lineage(&args.node)?,
    };
    if output.json {
        let mut report = header(&scenario);
        report["lineage"] = lineage.to_json();
        output.json_object(report);
    } else {
        print!("{lineage}");
    }
    Ok(())
}

/// Runs `explain`.
pub(crate) fn explain(
    ctx: &Context<'_>,
    args: &ExplainArgs,
    output: &Output,
) -> Result<(), CliError> {
    let runtime = ctx.open_existing_runtime()?;
    let (scenario, _) = ctx.scenario(&runtime, &args.scenario.scenario)?;
    let target = super::run::target(scenario.graph(), args.task.as_ref(), args.sequence.as_ref())?;
    let options = SubmitOptions::new().target(target).force(args.force);
    let plan = scenario.explain(&options)?;
    let stale = scenario.stale_upstream(&options)?;
    if output.json {
        let mut report = header(&scenario);
        report["tasks"] = plan.iter().map(|e| e.to_json()).collect();
        report["stale_upstream"] = stale.iter().map(|s| s.to_json()).collect();
        output.json_object(report);
        return Ok(());
    }
    let width = plan
        .iter()
        .map(|e| e.task.chars().count())
        .max()
        .unwrap_or(0)
        .max(4);
    println!("  {:<width$}  {:<7}  why", "task", "verdict");
    for explanation in &plan {
        let why = match (&explanation.reason, &explanation.error) {
            (Some(reason), _) => reason.to_string(),
            (None, Some(error)) => error.clone(),
            (None, None) => String::new(),
        };
        let line = format!(
            "  {:<width$}  {:<7}  {why}",
            explanation.task,
            explanation.verdict.as_str()
        );
        println!("{}", line.trim_end());
    }
    if !stale.is_empty() {
        println!(
            "note: upstream tasks left out are out of date; a run without --task or --sequence \
             brings them up to date:"
        );
        for upstream in &stale {
            println!(
                "  {}",
                upstream.sentence("would read its outputs as they are")
            );
        }
    }
    Ok(())
}

/// Runs `compare`.
pub(crate) fn compare(
    ctx: &Context<'_>,
    args: &CompareArgs,
    output: &Output,
) -> Result<(), CliError> {
    let runtime = ctx.open_existing_runtime()?;
    let mut scenarios = Vec::with_capacity(args.scenarios.len());
    let mut kind = None;
    for which in &args.scenarios {
        let (scenario, found) = ctx.scenario(&runtime, which)?;
        kind.get_or_insert(found);
        scenarios.push(scenario);
    }
    let mut builder = Compare::new(scenarios);
    if !args.node.is_empty() {
        builder = builder.nodes(args.node.iter().cloned());
    }
    if let Some(kind) = kind {
        builder = kind.compare(builder);
    }
    let comparison = builder.run()?;
    if output.json {
        output.json_object(comparison.to_json());
    } else {
        print!("{comparison}");
    }
    Ok(())
}

/// Runs `graph`.
pub(crate) fn graph(ctx: &Context<'_>, args: &GraphArgs) -> Result<(), CliError> {
    let kind = ctx.kind()?;
    let graph = kind.graph();
    let text = match args.format {
        GraphFormat::Mermaid => to_mermaid(graph),
        GraphFormat::Dot => to_dot(graph),
        GraphFormat::Toml => {
            // The graph's own node types too: defaults in their JSON form.
            let mut types = ctx.types().clone();
            for node in graph.nodes() {
                types.learn(node.value_type());
            }
            to_toml(graph, &types).map_err(|e| CliError::failed(e.to_string()))?
        }
    };
    print!("{text}");
    Ok(())
}
