//! `list` and `scenario create|tag|rename|delete`: the store's catalog of
//! scenarios.

use std::collections::BTreeSet;

use serde_json::{Value as Json, json};

use super::args::{ListArgs, ScenarioCommand, most_recent};
use super::context::{Context, check_new_name};
use super::error::CliError;
use super::output::Output;
use super::render::left_out_line;
use crate::catalog::ScenarioFilter;
use crate::history::{time_json, utc};
use crate::job::{JobStatus, Submission};
use crate::store::ScenarioMeta;

/// The status of a scenario's last submission: `completed`, `failed`,
/// `abandoned`, `canceled`, or as the store tells (`running`,
/// `interrupted`); `None` if it was never submitted.
fn last_status(submissions: &[Submission]) -> Option<String> {
    let last = submissions.last()?;
    if last.jobs.is_empty() && last.target.ends_with(')') {
        // `scenario (running)`, `(interrupted)`: the store's own note.
        let note = last
            .target
            .rsplit('(')
            .next()
            .unwrap_or("")
            .trim_end_matches(')');
        return Some(note.to_owned());
    }
    let worst = [
        JobStatus::Failed,
        JobStatus::Abandoned,
        JobStatus::Canceled,
        JobStatus::Running,
        JobStatus::Pending,
    ]
    .into_iter()
    .find(|status| last.jobs.iter().any(|j| j.status == *status));
    Some(worst.unwrap_or(JobStatus::Completed).as_str().to_owned())
}

fn scenario_json(meta: &ScenarioMeta) -> Json {
    json!({
        "id": meta.id.0,
        "name": meta.name,
        "type": meta.graph,
        "tags": meta.tags,
        "created_at": time_json(meta.created_at),
    })
}

/// Runs `list`.
pub(crate) fn list(ctx: &Context<'_>, args: &ListArgs, output: &Output) -> Result<(), CliError> {
    let runtime = ctx.open_existing_runtime()?;
    let mut filter = ScenarioFilter::new();
    if let Some(name) = &ctx.globals.scenario_type {
        filter = filter.of_type(name.clone());
    }
    for tag in &args.tag {
        filter = filter.tagged(tag.clone());
    }
    let (scenarios, left_out) = most_recent(runtime.list_scenarios(&filter)?, args.limit);
    let mut rows = Vec::new();
    for meta in scenarios {
        let status = last_status(
            &runtime
                .store()
                .submissions(meta.id)
                .map_err(crate::Error::from)?,
        );
        rows.push((meta, status));
    }
    if output.json {
        output.json_object(json!({
            "store": ctx.store_dir().display().to_string(),
            "scenarios": rows.iter().map(|(meta, status)| {
                let mut entry = scenario_json(meta);
                entry["last_status"] = json!(status);
                entry
            }).collect::<Vec<Json>>(),
            "left_out": left_out,
        }));
        return Ok(());
    }
    if rows.is_empty() {
        println!("no scenarios in {}", ctx.store_dir().display());
        return Ok(());
    }
    print!("{}", left_out_line(left_out, "scenario", args.limit));
    let table: Vec<[String; 6]> = rows
        .iter()
        .map(|(meta, status)| {
            let tags: Vec<&str> = meta.tags.iter().map(String::as_str).collect();
            [
                meta.id.to_string(),
                meta.graph.clone(),
                meta.name.clone(),
                tags.join(","),
                utc(meta.created_at),
                status.clone().unwrap_or_else(|| "never run".to_owned()),
            ]
        })
        .collect();
    print!(
        "{}",
        columns(
            ["id", "type", "name", "tags", "created", "last status"],
            &table
        )
    );
    Ok(())
}

/// Rows under a header, each column as wide as its widest cell.
fn columns<const N: usize>(header: [&str; N], rows: &[[String; N]]) -> String {
    let mut widths = header.map(|h| h.chars().count());
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        format!("  {}\n", padded.join("  ").trim_end())
    };
    let mut out = line(header.to_vec());
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

/// Refuses `name` for a scenario of type `type_name` when another scenario
/// of that type has it (`except`: the scenario being renamed), as two
/// scenarios of one name could not both be reached by it. Called under the
/// creation lock.
fn refuse_taken(
    ctx: &Context<'_>,
    runtime: &crate::Runtime,
    name: &str,
    type_name: &str,
    except: Option<crate::store::ScenarioId>,
) -> Result<(), CliError> {
    match ctx.find_scenario(runtime, name)? {
        Some((existing, _))
            if existing.graph().name() == type_name && Some(existing.id()) != except =>
        {
            Err(CliError::input(format!(
                "a `{type_name}` scenario called `{name}` exists already ({}): \
                 rename or delete it first",
                existing.id()
            )))
        }
        _ => Ok(()),
    }
}

/// Runs `scenario create|tag|rename|delete`.
pub(crate) fn scenario(
    ctx: &Context<'_>,
    command: &ScenarioCommand,
    output: &Output,
) -> Result<(), CliError> {
    let (meta, done) = match command {
        ScenarioCommand::Create { name, tag, .. } => {
            let kind = ctx.kind()?;
            check_new_name(name)?;
            let runtime = ctx.open_runtime()?;
            let _creating = ctx.creation_lock()?;
            refuse_taken(ctx, &runtime, name, kind.name(), None)?;
            let tags: BTreeSet<String> = tag.iter().cloned().collect();
            let scenario = runtime.create_scenario_tagged(kind.graph().clone(), name, tags)?;
            (scenario.meta().clone(), "created")
        }
        ScenarioCommand::Tag {
            name, tags, remove, ..
        } => {
            let runtime = ctx.open_existing_runtime()?;
            let (scenario, _) = ctx.scenario(&runtime, name)?;
            let mut meta = scenario.meta().clone();
            for tag in tags {
                meta = if *remove {
                    runtime.untag_scenario(scenario.id(), tag)?
                } else {
                    runtime.tag_scenario(scenario.id(), tag)?
                };
            }
            (meta, if *remove { "untagged" } else { "tagged" })
        }
        ScenarioCommand::Rename { name, new_name, .. } => {
            check_new_name(new_name)?;
            let runtime = ctx.open_existing_runtime()?;
            let (scenario, _) = ctx.scenario(&runtime, name)?;
            let _creating = ctx.creation_lock()?;
            refuse_taken(
                ctx,
                &runtime,
                new_name,
                scenario.graph().name(),
                Some(scenario.id()),
            )?;
            (runtime.rename_scenario(scenario.id(), new_name)?, "renamed")
        }
        ScenarioCommand::Delete { name, .. } => {
            let runtime = ctx.open_existing_runtime()?;
            let (scenario, _) = ctx.scenario(&runtime, name)?;
            runtime.delete_scenario(scenario.id())?;
            (scenario.meta().clone(), "deleted")
        }
    };
    if output.json {
        let mut entry = scenario_json(&meta);
        entry["action"] = json!(done);
        output.json_object(entry);
    } else {
        let tags: Vec<&str> = meta.tags.iter().map(String::as_str).collect();
        let tags = if tags.is_empty() {
            String::new()
        } else {
            format!(", tags {}", tags.join(","))
        };
        println!(
            "{done} `{}` scenario `{}` ({}{tags})",
            meta.graph, meta.name, meta.id
        );
    }
    Ok(())
}
