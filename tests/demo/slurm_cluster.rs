//! The demo's section-6 sequence (the seed tutorial's runs: first, again,
//! a new payment threshold, the median metric, the maximum summary
//! statistic, the CSV edited in place) with every task that must run run as
//! a Slurm job on the real cluster (`.ci/slurm.sh start`) and values in a
//! real S3 server, beside the same sequence on local threads: every step's
//! statuses, every node's fingerprint and the final frames are equal.
//!
//! Own `main` (`harness = false`): this test binary links the demo's
//! `#[task]` functions, so it is the worker its jobs run, as the demo's own
//! binary is for `customer-analysis run --executor slurm`.

#[path = "../../pipeline-core/tests/remote_support/cluster.rs"]
mod cluster;
#[path = "../../pipeline-core/tests/remote_support/mod.rs"]
mod remote_support;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use cluster::Cluster;
use customer_analysis::pipeline::CustomerAnalysis;
use customer_analysis::pipeline::{Metric, SummaryStatistic};
use libtest_mimic::{Arguments, Trial};
use pipeline_core::frame::collect_streaming;
use pipeline_core::{JobStatus, Runtime, Submission, SubmitOptions};
use remote_support::S3Server;

/// The data nodes whose fingerprints are compared after every step (the
/// CSV's path differs: each side has its copy). `segmented_customer_df` is
/// a view over `scored_df` on both sides (a worker vouches for the copy of
/// `scored_df` it fetched), so its fingerprint, the recipe's, is equal too.
const NODES: [&str; 6] = [
    "payment_threshold",
    "score_threshold",
    "metric",
    "summary_statistic_type",
    "scored_df",
    "segmented_customer_df",
];

/// Whether two frames hold the same columns and values, floats to 1e-12
/// relative: the demo's per-segment means and sums are folded in another
/// order when the scored frame is decoded in memory (as in the process that
/// made it) than when it is streamed from its file (as in a worker, or any
/// new process), which changes their last bits.
fn same_frame(a: &pipeline_core::frame::DataFrame, b: &pipeline_core::frame::DataFrame) -> bool {
    use polars::prelude::{AnyValue, DataType};
    if a.shape() != b.shape() || a.get_column_names() != b.get_column_names() {
        return false;
    }
    a.columns().iter().zip(b.columns()).all(|(x, y)| {
        if x.dtype() != y.dtype() {
            return false;
        }
        if *x.dtype() != DataType::Float64 {
            return x
                .as_materialized_series()
                .equals_missing(y.as_materialized_series());
        }
        let (x, y) = (x.as_materialized_series(), y.as_materialized_series());
        x.iter().zip(y.iter()).all(|(u, v)| match (u, v) {
            (AnyValue::Float64(u), AnyValue::Float64(v)) => {
                u == v || (u - v).abs() <= 1e-12 * u.abs().max(v.abs())
            }
            (u, v) => u == v,
        })
    })
}

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/SMALL_amazon_customers_data.csv")
}

/// One side of the comparison: a scenario over its own store and CSV.
struct Side {
    scenario: CustomerAnalysis,
    csv: PathBuf,
    options: SubmitOptions,
    _runtime: Runtime,
}

impl Side {
    fn new(dir: &Path, options: SubmitOptions) -> Self {
        std::fs::create_dir_all(dir).unwrap();
        let csv = dir.join("customers.csv");
        std::fs::copy(sample(), &csv).unwrap();
        let runtime = Runtime::open(dir.join("store")).unwrap();
        let scenario = CustomerAnalysis::create(&runtime, "section 6").unwrap();
        scenario.path_to_data().write(csv.clone()).unwrap();
        Self {
            scenario,
            csv,
            options,
            _runtime: runtime,
        }
    }

    fn submit(&self) -> Submission {
        self.scenario
            .scenario()
            .submit_with(&self.options)
            .unwrap()
            .into_result()
            .unwrap()
    }

    fn fingerprint(&self, node: &str) -> String {
        let meta = self
            .scenario
            .scenario()
            .node_history(node)
            .unwrap()
            .pop()
            .unwrap();
        meta.fingerprint.to_hex()
    }

    /// Edits the CSV in place: same size, same modification time.
    fn edit_csv(&self) {
        let text = std::fs::read_to_string(&self.csv).unwrap();
        let edited = text.replacen("1727.51", "9727.51", 1);
        assert_ne!(edited, text);
        let modified = std::fs::metadata(&self.csv).unwrap().modified().unwrap();
        std::fs::write(&self.csv, edited).unwrap();
        let file = std::fs::File::options()
            .write(true)
            .open(&self.csv)
            .unwrap();
        file.set_modified(modified).unwrap();
    }
}

fn statuses(submission: &Submission) -> Vec<(String, JobStatus)> {
    submission
        .jobs
        .iter()
        .map(|job| (job.task.to_string(), job.status))
        .collect()
}

fn the_demos_section_6_on_slurm_with_s3_equals_the_local_run() {
    let test = "the_demos_section_6_on_slurm_with_s3_equals_the_local_run";
    let Some(cluster) = Cluster::start_or_skip(test) else {
        return;
    };
    let Some(server) = S3Server::start_or_skip(test) else {
        return;
    };
    server.create_bucket("demo");
    let slurm = Cluster::submit(cluster.slurm_s3(&server, "demo"));
    let local = Side::new(&cluster.dir.path().join("local"), SubmitOptions::new());
    let remote = Side::new(&cluster.dir.path().join("remote"), slurm);

    type Edit<'a> = &'a dyn Fn(&Side);
    let steps: [(&str, Edit); 6] = [
        ("first run", &|_| {}),
        ("run again", &|_| {}),
        ("payment_threshold = 1600", &|side| {
            side.scenario.payment_threshold().write(1600.0).unwrap();
        }),
        ("metric = median", &|side| {
            side.scenario.metric().write(Metric::Median).unwrap();
        }),
        ("summary statistic = max", &|side| {
            side.scenario
                .summary_statistic_type()
                .write(SummaryStatistic::Max)
                .unwrap();
        }),
        ("the CSV edited in place", &|side| side.edit_csv()),
    ];
    for (step, edit) in steps {
        edit(&local);
        edit(&remote);
        let (here, there) = (local.submit(), remote.submit());
        assert_eq!(statuses(&there), statuses(&here), "{step}: statuses");
        for job in &there.jobs {
            assert_eq!(
                job.remote.is_some(),
                job.status == JobStatus::Completed,
                "{step}: task {} ran on the cluster iff it completed",
                job.task
            );
        }
        for node in NODES {
            assert_eq!(
                remote.fingerprint(node),
                local.fingerprint(node),
                "{step}: data node {node}"
            );
        }
        let frames = |side: &Side| {
            let segmented = side.scenario.segmented_customer_df().read().unwrap();
            let segments = side.scenario.segment_result().read().unwrap();
            let summary = side.scenario.high_value_summary_df().read().unwrap();
            (
                collect_streaming(segments.0.clone()).unwrap(),
                collect_streaming(summary.0.clone()).unwrap(),
                collect_streaming(segmented.0.clone()).unwrap(),
            )
        };
        let (here, there) = (frames(&local), frames(&remote));
        assert!(same_frame(&here.0, &there.0), "{step}: segment_result");
        assert!(
            same_frame(&here.1, &there.1),
            "{step}: high_value_summary_df"
        );
        assert!(
            same_frame(&here.2, &there.2),
            "{step}: segmented_customer_df"
        );
    }
}

fn main() -> ExitCode {
    if let Some(code) = pipeline_core::worker::main_if_worker() {
        return code;
    }
    let arguments = Arguments::from_args();
    let trials = vec![Trial::test(
        "the_demos_section_6_on_slurm_with_s3_equals_the_local_run",
        || {
            the_demos_section_6_on_slurm_with_s3_equals_the_local_run();
            Ok(())
        },
    )];
    libtest_mimic::run(&arguments, trials).exit_code()
}
