//! `--set NODE=VALUE` and `--data CSV`: parsed and checked before anything is
//! written, so a bad value leaves the store untouched.

use std::path::PathBuf;

use pipeline_core::{Graph, Scenario};

use super::CliError;
use crate::pipeline::check_threshold;
use crate::transform::{self, Metric, SummaryStatistic};

/// One input to write.
#[derive(Debug, Clone, PartialEq)]
pub enum Setting {
    /// `path_to_data`.
    Data(PathBuf),
    /// `payment_threshold` or `score_threshold`.
    Threshold(&'static str, f64),
    /// `metric`.
    Metric(Metric),
    /// `summary_statistic_type`.
    Summary(SummaryStatistic),
}

/// The nodes `--set` accepts.
pub const SETTABLE: [&str; 5] = [
    "path_to_data",
    "payment_threshold",
    "score_threshold",
    "metric",
    "summary_statistic_type",
];

/// Parses one `NODE=VALUE`.
pub fn parse(assignment: &str) -> Result<Setting, CliError> {
    let (node, value) = assignment.split_once('=').ok_or_else(|| {
        CliError::Message(format!(
            "--set {assignment:?}: expected NODE=VALUE, e.g. --set payment_threshold=1600"
        ))
    })?;
    let (node, value) = (node.trim(), value.trim());
    let threshold = |name: &'static str| -> Result<Setting, CliError> {
        let number: f64 = value.parse().map_err(|_| {
            CliError::Message(format!("data node `{name}` takes a number, not {value:?}"))
        })?;
        check_threshold(name, number).map_err(|e| CliError::Message(e.to_string()))?;
        Ok(Setting::Threshold(name, number))
    };
    match node {
        "path_to_data" => Ok(Setting::Data(PathBuf::from(value))),
        "payment_threshold" => threshold("payment_threshold"),
        "score_threshold" => threshold("score_threshold"),
        "metric" => Ok(Setting::Metric(value.parse().map_err(
            |e: transform::TransformError| CliError::Message(format!("data node `metric`: {e}")),
        )?)),
        "summary_statistic_type" => Ok(Setting::Summary(value.parse().map_err(
            |e: transform::TransformError| {
                CliError::Message(format!("data node `summary_statistic_type`: {e}"))
            },
        )?)),
        other => Err(CliError::Message(format!(
            "--set {other}: unknown or computed data node; settable nodes: {}",
            SETTABLE.join(", ")
        ))),
    }
}

/// Parses every `--set` and `--data`, in order (a later one wins).
pub fn parse_all(data: Option<&PathBuf>, sets: &[String]) -> Result<Vec<Setting>, CliError> {
    let mut settings: Vec<Setting> = sets.iter().map(|s| parse(s)).collect::<Result<_, _>>()?;
    if let Some(path) = data {
        settings.push(Setting::Data(path.clone()));
    }
    Ok(settings)
}

/// The CSV a submission will read: as set now, else the scenario's current
/// `path_to_data`, else the graph's default.
pub fn csv_path(
    settings: &[Setting],
    scenario: Option<&Scenario>,
    graph: &Graph,
) -> Result<PathBuf, CliError> {
    if let Some(path) = settings.iter().rev().find_map(|s| match s {
        Setting::Data(path) => Some(path.clone()),
        _ => None,
    }) {
        return Ok(path);
    }
    if let Some(scenario) = scenario {
        let current = scenario.node::<PathBuf>("path_to_data")?.read()?;
        return Ok(PathBuf::clone(&current));
    }
    graph
        .node_id("path_to_data")
        .and_then(|id| graph.node(id).default_fn())
        .and_then(|default| default().downcast::<PathBuf>().ok())
        .map(|path| *path)
        .ok_or_else(|| {
            CliError::Message("data node `path_to_data` has no default: pass --data CSV".to_owned())
        })
}

/// Writes checked settings into the scenario.
pub fn write(scenario: &Scenario, settings: Vec<Setting>) -> Result<(), CliError> {
    for setting in settings {
        match setting {
            Setting::Data(path) => {
                scenario.node::<PathBuf>("path_to_data")?.write(path)?;
            }
            Setting::Threshold(node, value) => {
                scenario.node::<f64>(node)?.write(value)?;
            }
            Setting::Metric(metric) => {
                scenario.node::<Metric>("metric")?.write(metric)?;
            }
            Setting::Summary(statistic) => {
                scenario
                    .node::<SummaryStatistic>("summary_statistic_type")?
                    .write(statistic)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assignments_parse_into_typed_settings() {
        assert_eq!(
            parse("payment_threshold=1600").unwrap(),
            Setting::Threshold("payment_threshold", 1600.0)
        );
        assert_eq!(
            parse("metric = median").unwrap(),
            Setting::Metric(Metric::Median)
        );
        assert!(
            parse("metric=average")
                .unwrap_err()
                .to_string()
                .contains("metric")
        );
        assert!(
            parse("score_threshold=-1")
                .unwrap_err()
                .to_string()
                .contains(">= 0")
        );
        assert!(
            parse("scored_df=1")
                .unwrap_err()
                .to_string()
                .contains("settable nodes")
        );
        assert!(
            parse("payment_threshold")
                .unwrap_err()
                .to_string()
                .contains("NODE=VALUE")
        );
    }
}
