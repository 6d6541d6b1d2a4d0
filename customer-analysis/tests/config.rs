//! The demo scenario in TOML is the macro-declared scenario.

use std::path::Path;

use customer_analysis::pipeline::{CustomerAnalysis, config_types};
use pipeline_core::config::{Config, TaskRegistry, to_toml};

#[test]
fn shipped_toml_declares_the_same_graph_as_the_macro() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/customer_analysis.toml");
    let config = Config::load(&path, &TaskRegistry::collected(), &config_types()).unwrap();
    let graph = config
        .scenario("CustomerAnalysis")
        .expect("the scenario is declared");
    assert_eq!(
        graph.fingerprint().unwrap(),
        CustomerAnalysis::graph().fingerprint().unwrap()
    );
}

#[test]
fn exported_toml_round_trips_to_the_same_fingerprint() {
    let text = to_toml(&CustomerAnalysis::graph(), &config_types()).unwrap();
    let config = Config::parse(
        &text,
        "export.toml",
        &TaskRegistry::collected(),
        &config_types(),
    )
    .unwrap();
    let graph = config.scenario("CustomerAnalysis").unwrap();
    assert_eq!(
        graph.fingerprint().unwrap(),
        CustomerAnalysis::graph().fingerprint().unwrap()
    );
}
