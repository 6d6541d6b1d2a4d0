//! `customer-analysis tour`: the seed tutorial's section 6, step by step.

use std::path::PathBuf;
use std::time::Instant;

use pipeline_core::{JobStatus, Runtime, Submission};
use serde_json::{Value as Json, json};

use super::run::{jobs_json, verb};
use super::{CliError, MemoryArgs, frames};
use crate::pipeline::CustomerAnalysis;
use crate::transform::{Metric, SummaryStatistic, collect_streaming};

/// Arguments of `tour`.
#[derive(Debug, clap::Args)]
pub struct TourArgs {
    /// The customer CSV [default: the shipped sample].
    #[arg(long, value_name = "CSV")]
    data: Option<PathBuf>,
    /// Keep the store here instead of in a fresh temporary directory.
    #[arg(long, value_name = "DIR")]
    store: Option<PathBuf>,
    /// Print one JSON object instead of the table: per step its name, seconds
    /// and jobs, and the segment result and summary read back after it.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    pub(super) memory: MemoryArgs,
}

/// One step of the tour as JSON: `name`, `seconds` (of the submission),
/// `jobs` (task, status, seconds) and, unless a job failed, the results.
fn step_json(
    label: &str,
    seconds: f64,
    submission: &Submission,
    scenario: &CustomerAnalysis,
) -> Result<Json, CliError> {
    let jobs = jobs_json(submission);
    let mut step = json!({ "name": label, "seconds": seconds, "jobs": jobs });
    if submission.is_success() {
        let segments = collect_streaming(scenario.segment_result().read()?.0.clone())?;
        let summary = collect_streaming(scenario.high_value_summary_df().read()?.0.clone())?;
        step["segment_result"] = Json::Array(frames::rows(&segments)?);
        step["high_value_summary"] = frames::rows(&summary)?
            .into_iter()
            .next()
            .unwrap_or(Json::Null);
    }
    Ok(step)
}

/// Runs `tour`.
pub fn tour(args: &TourArgs) -> Result<(), CliError> {
    let temporary = tempfile::tempdir()
        .map_err(|e| CliError::Io(format!("cannot create a temporary store: {e}")))?;
    let store = args
        .store
        .clone()
        .unwrap_or_else(|| temporary.path().to_owned());
    let runtime = Runtime::open(&store)?;
    let scenario = CustomerAnalysis::create(&runtime, "tour")?;
    if let Some(data) = &args.data {
        let _checked_header = crate::transform::preprocess_and_score(data)?;
        scenario.path_to_data().write(data.clone())?;
    }

    type Step = (
        &'static str,
        Box<dyn Fn(&CustomerAnalysis) -> pipeline_core::Result<u64>>,
    );
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
    let short = ["score", "segment", "analyse", "summary"];
    if !args.json {
        print!("{:<width$}", "step");
        for name in short {
            print!("{name:>9}");
        }
        println!("{:>10}", "seconds");
    }
    let mut report = Vec::new();
    for (i, (label, change)) in steps.iter().enumerate() {
        change(&scenario)?;
        let clock = Instant::now();
        let submission = scenario.submit()?;
        let seconds = clock.elapsed().as_secs_f64();
        if args.json {
            report.push(step_json(label, seconds, &submission, &scenario)?);
            if let Err(error) = submission.into_result() {
                let error = CliError::from(error);
                println!("{}", json!({ "steps": report, "error": error.to_string() }));
                return Err(error);
            }
            continue;
        }
        print!("{:<width$}", format!("{}. {label}", i + 1));
        for task in &tasks {
            let status = submission.status(task).unwrap_or(JobStatus::Pending);
            print!("{:>9}", verb(status));
        }
        println!("{seconds:>10.3}");
        if let Err(error) = submission.into_result() {
            return Err(error.into());
        }
    }
    if args.json {
        println!("{}", json!({ "steps": report }));
        return Ok(());
    }
    println!(
        "\nstore: {}",
        if args.store.is_some() {
            store.display().to_string()
        } else {
            "temporary (removed)".to_owned()
        }
    );
    Ok(())
}
