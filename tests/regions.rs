//! A new user's own pipeline on the framework's command line, with an
//! optional text parameter (`region: Option<String> = None`): the
//! `cli_values` tests run it as a new process at each step.

use std::process::ExitCode;

use pipeline_core::cli::Cli;
use pipeline_core::{scenario, task};

/// A customer's label: the name, and the region where there is one.
#[task(skippable)]
pub fn label_customer(name: &str, region: &Option<String>) -> String {
    match region {
        Some(region) => format!("{name} [{region}]"),
        None => format!("{name} [no region]"),
    }
}

scenario! {
    /// One customer, labelled.
    pub struct Customer {
        data {
            name: String = "Ada".to_owned(),
            region: Option<String> = None,
            label: String,
        }
        tasks {
            label_customer(name, region) -> label,
        }
    }
}

fn main() -> ExitCode {
    Cli::new("regions").scenario::<Customer>().run()
}
