//! `customer-analysis run`: write inputs, submit, report.

use std::path::PathBuf;

use pipeline_core::{JobStatus, Scenario, Submission};
use serde_json::{Value as Json, json};

use super::progress::Progress;
use super::{CliError, MemoryArgs, StoreArgs, frames, settings};
use crate::pipeline::{HighValueSummary, SegmentResult};
use crate::transform::collect_streaming;

/// Arguments of `run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// The customer CSV (writes `path_to_data`).
    #[arg(long, value_name = "CSV")]
    data: Option<PathBuf>,
    /// Write a data node before submitting, e.g. `--set payment_threshold=1600`.
    #[arg(long = "set", value_name = "NODE=VALUE")]
    sets: Vec<String>,
    /// Run every task, even those whose inputs did not change.
    #[arg(long)]
    force: bool,
    /// Print one JSON object instead of tables.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    pub(super) memory: MemoryArgs,
}

/// What the user sees of a job.
pub fn verb(status: JobStatus) -> &'static str {
    match status {
        JobStatus::Completed => "ran",
        other => other.as_str(),
    }
}

/// The per-task table of a submission.
pub fn jobs_table(submission: &Submission) -> String {
    let width = submission
        .jobs
        .iter()
        .map(|j| j.task.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let mut out = format!("  {:<width$}  {:<9}  {:>8}\n", "task", "status", "seconds");
    for job in &submission.jobs {
        let seconds = job.duration.map_or(0.0, |d| d.as_secs_f64());
        out.push_str(&format!(
            "  {:<width$}  {:<9}  {seconds:>8.3}\n",
            job.task,
            verb(job.status)
        ));
    }
    out
}

/// The jobs of a submission as JSON: task, status, seconds, and the error of
/// a failed job.
pub(super) fn jobs_json(submission: &Submission) -> Json {
    Json::Array(
        submission
            .jobs
            .iter()
            .map(|job| {
                let mut entry = json!({
                    "task": &*job.task,
                    "status": job.status.as_str(),
                    "seconds": job.duration.map_or(0.0, |d| d.as_secs_f64()),
                });
                if let Some(error) = job.error_text() {
                    entry["error"] = Json::String(error.to_owned());
                }
                entry
            })
            .collect(),
    )
}

fn failure(submission: &Submission) -> Option<String> {
    submission
        .jobs
        .iter()
        .find(|j| j.status == JobStatus::Failed)
        .map(|j| {
            format!(
                "task `{}` failed: {}",
                j.task,
                j.error_text().unwrap_or("no message")
            )
        })
}

/// The segment result and the High Value summary, read back from the store.
fn results(
    scenario: &Scenario,
) -> Result<(polars::prelude::DataFrame, polars::prelude::DataFrame), CliError> {
    let segments = scenario.node::<SegmentResult>("segment_result")?.read()?;
    let summary = scenario
        .node::<HighValueSummary>("high_value_summary_df")?
        .read()?;
    Ok((
        collect_streaming(segments.0.clone())?,
        collect_streaming(summary.0.clone())?,
    ))
}

/// Runs `run`.
pub fn run(args: &RunArgs) -> Result<(), CliError> {
    // Everything is checked before the store is touched: a bad value, a missing
    // file or column leaves it as it was.
    let settings = settings::parse_all(args.data.as_ref(), &args.sets)?;
    let graph = args.store.graph()?;
    let runtime = args.store.runtime()?;
    let existing = runtime.find_scenario(graph.clone(), &args.store.scenario)?;
    let csv = settings::csv_path(&settings, existing.as_ref(), &graph)?;
    let _checked_header = crate::transform::preprocess_and_score(&csv)?;
    let scenario = match existing {
        Some(scenario) => scenario,
        None => runtime.create_scenario(graph, &args.store.scenario)?,
    };
    settings::write(&scenario, settings)?;
    let progress = Progress::start(&scenario, args.json);
    let submission = if args.force {
        scenario.submit_forced()
    } else {
        scenario.submit()
    };
    progress.finish();
    let submission = submission?;
    let failed = failure(&submission);

    if args.json {
        let mut report = json!({
            "scenario": scenario.name(),
            "jobs": jobs_json(&submission),
        });
        match &failed {
            Some(message) => report["error"] = Json::String(message.clone()),
            None => {
                let (segments, summary) = results(&scenario)?;
                report["segment_result"] = Json::Array(frames::rows(&segments)?);
                report["high_value_summary"] = frames::rows(&summary)?
                    .into_iter()
                    .next()
                    .unwrap_or(Json::Null);
            }
        }
        println!("{report}");
    } else {
        println!(
            "scenario `{}` ({}) in {}",
            scenario.name(),
            scenario.id(),
            args.store.store_dir().display()
        );
        print!("{}", jobs_table(&submission));
        if failed.is_none() {
            let (segments, summary) = results(&scenario)?;
            println!("\nsegment result:\n{}", frames::table(&segments)?);
            println!("high value summary:\n{}", frames::table(&summary)?);
        }
    }
    match failed {
        Some(message) => Err(CliError::Message(message)),
        None => Ok(()),
    }
}
