//! customer-analysis: the seed pipeline of the workspace, as an example to copy.
//!
//! Customers from a CSV file are scored, given features, split into a "High
//! Value" and a "Low Value" segment, and summarized: four tasks in
//! [`pipeline`], each one step in lazy polars, wired by `scenario!`. The
//! runtime executes each step on polars' streaming engine, stores its result,
//! and skips what did not change, in this process and the next.
//! [`generate`] writes synthetic input files of any size.
//!
//! ```no_run
//! use customer_analysis::pipeline::{CustomerAnalysis, Metric};
//! use pipeline_core::Runtime;
//!
//! let runtime = Runtime::open(".pipeline")?;
//! let scenario = CustomerAnalysis::create(&runtime, "first")?;
//! scenario.metric().write(Metric::Median)?;
//! scenario.submit()?.into_result()?;
//! let summary = scenario.high_value_summary_df().read()?;
//! println!("{}", summary.0.clone().collect()?);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod cli;
pub mod generate;
pub mod pipeline;
