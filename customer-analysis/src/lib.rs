//! customer-analysis: the seed pipeline of the workspace.
//!
//! Customers from a CSV file are scored, given features, split into a
//! "High Value" and a "Low Value" segment, and summarized, as four lazy polars
//! steps ([`transform`]) executed with polars' streaming engine, so a CSV much
//! larger than memory passes through with bounded memory. [`generate`] writes
//! synthetic input files of any size. In the pipeline ([`pipeline`]), Task 1
//! reads the CSV with its own parallel reader ([`ingest`]), the segmented
//! frame is a view over the scored one ([`frames`]), and Tasks 3 and 4 read
//! the scored frame decoded in memory when it fits ([`resident`]), else
//! stream it ([`segment_scan`], [`median`]).
//!
//! ```no_run
//! use customer_analysis::transform::{self, Metric, SummaryStatistic};
//! use std::path::Path;
//!
//! let path = Path::new("data/SMALL_amazon_customers_data.csv");
//! let scored = transform::preprocess_and_score(path)?;
//! let segmented = transform::featurization_and_segmentation(scored, 1000.0, 1.5);
//! let segments = transform::segment_analysis(segmented.clone(), Metric::Mean);
//! let summary = transform::high_value_cust_summary_statistics(
//!     segmented,
//!     segments.clone(),
//!     SummaryStatistic::Median,
//! );
//! let segments = transform::collect_streaming(segments)
//!     .map_err(|e| transform::explain_polars_error(e, path))?;
//! let summary = transform::collect_streaming(summary)
//!     .map_err(|e| transform::explain_polars_error(e, path))?;
//! println!("{segments}\n{summary}");
//! # Ok::<(), customer_analysis::transform::TransformError>(())
//! ```

pub mod cli;
pub mod frames;
pub mod generate;
pub mod ingest;
pub mod median;
pub mod pipeline;
pub mod resident;
pub mod segment_scan;
pub mod transform;
pub mod wide;

#[cfg(test)]
mod test_rng;
