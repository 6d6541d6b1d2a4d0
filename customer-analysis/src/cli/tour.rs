//! `customer-analysis tour`: the seed tutorial's section 6, step by step.

use std::path::PathBuf;
use std::time::Instant;

use pipeline_core::cli::frames::frame_json;
use pipeline_core::cli::render::jobs_json;
use pipeline_core::cli::{CliError, Context, clap};
use pipeline_core::{JobStatus, Submission, SubmitOptions};
use serde_json::{Value as Json, json};

use crate::pipeline::CustomerAnalysis;
use crate::pipeline::{Metric, SummaryStatistic};

/// Arguments of `tour` (its store: `--store` / `PIPELINE_STORE` if given,
/// else a fresh temporary directory).
#[derive(Debug, clap::Args)]
pub struct TourArgs {
    /// The customer CSV [default: the shipped sample].
    #[arg(long, value_name = "CSV")]
    data: Option<PathBuf>,
    /// Print one JSON object instead of the table: per step its name, seconds
    /// and jobs, and the segment result and summary read back after it.
    #[arg(long)]
    json: bool,
}

/// One step: a label and the change it makes before submitting.
type Step = (
    &'static str,
    Box<dyn Fn(&CustomerAnalysis) -> pipeline_core::Result<u64>>,
);

/// The rows of a frame node as the step left it, as JSON.
fn rows(frame: &pipeline_core::frame::LazyFrame) -> Result<Json, CliError> {
    frame_json(frame, None)
        .map(|json| json["rows"].clone())
        .map_err(|e| CliError::failed(format!("cannot read the results: {e}")))
}

/// One step as JSON: `name`, `seconds` (of the submission), `jobs` and,
/// unless a job failed, the results.
fn step_json(
    label: &str,
    seconds: f64,
    submission: &Submission,
    scenario: &CustomerAnalysis,
) -> Result<Json, CliError> {
    let mut step = json!({
        "name": label,
        "seconds": seconds,
        "jobs": jobs_json(submission),
    });
    if submission.is_success() {
        let version = |node: &str| {
            submission
                .version_of(node)
                .ok_or_else(|| CliError::failed(format!("`{node}` has no value")))
        };
        let segments = scenario
            .segment_result()
            .read_version(version("segment_result")?)?;
        let summary = scenario
            .high_value_summary_df()
            .read_version(version("high_value_summary_df")?)?;
        step["segment_result"] = rows(&segments.0)?;
        step["high_value_summary"] = rows(&summary.0)?.get(0).cloned().unwrap_or(Json::Null);
    }
    Ok(step)
}

/// What the tour table shows for a job.
fn verb(status: JobStatus) -> &'static str {
    match status {
        JobStatus::Completed => "ran",
        other => other.as_str(),
    }
}

/// Runs `tour`.
pub fn tour(args: &TourArgs, ctx: &Context<'_>) -> Result<(), CliError> {
    let temporary = tempfile::tempdir()
        .map_err(|e| CliError::failed(format!("cannot create a temporary store: {e}")))?;
    let store = ctx
        .explicit_store()
        .map_or_else(|| temporary.path().to_owned(), PathBuf::from);
    let runtime = ctx.open_runtime_at(&store)?;
    let scenario = CustomerAnalysis::create(&runtime, "tour")?;
    if let Some(data) = &args.data {
        scenario.path_to_data().write(data.clone())?;
    }
    let steps: Vec<Step> = vec![
        ("full run", Box::new(|_| Ok(0))),
        (
            "payment_threshold = 1600",
            Box::new(|s| s.payment_threshold().write(1600.0)),
        ),
        (
            "metric = median",
            Box::new(|s| s.metric().write(Metric::Median)),
        ),
        (
            "summary_statistic_type = max",
            Box::new(|s| s.summary_statistic_type().write(SummaryStatistic::Max)),
        ),
        ("unchanged re-submit", Box::new(|_| Ok(0))),
    ];
    let tasks: Vec<String> = CustomerAnalysis::graph()
        .tasks()
        .iter()
        .map(|t| t.name().to_owned())
        .collect();
    let width = steps.iter().map(|(n, _)| n.len()).max().unwrap_or(0) + 4;
    if !args.json {
        print!("{:<width$}", "step");
        for name in ["score", "segment", "analyse", "summary"] {
            print!("{name:>9}");
        }
        println!("{:>10}", "seconds");
    }
    let mut report = Vec::new();
    for (i, (label, change)) in steps.iter().enumerate() {
        change(&scenario)?;
        let clock = Instant::now();
        let submission = scenario.submit_with(&SubmitOptions::new().record_versions(true))?;
        let seconds = clock.elapsed().as_secs_f64();
        if args.json {
            report.push(step_json(label, seconds, &submission, &scenario)?);
        } else {
            print!("{:<width$}", format!("{}. {label}", i + 1));
            for task in &tasks {
                let status = submission.status(task).unwrap_or(JobStatus::Pending);
                print!("{:>9}", verb(status));
            }
            println!("{seconds:>10.3}");
        }
        if let Err(error) = submission.into_result() {
            let error = CliError::TaskFailed(error.to_string());
            if args.json {
                ctx.print_json(json!({ "steps": report, "error": error.to_string() }));
            }
            return Err(error);
        }
    }
    if args.json {
        ctx.print_json(json!({ "steps": report }));
        return Ok(());
    }
    println!(
        "\nstore: {}",
        match ctx.explicit_store() {
            Some(dir) => dir.display().to_string(),
            None => "temporary (removed)".to_owned(),
        }
    );
    Ok(())
}
