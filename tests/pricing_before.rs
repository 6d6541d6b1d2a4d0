//! A new user's pipeline with a settings struct, as first written; the
//! `cli_values` tests run it, then `pricing_after` (the same pipeline after
//! the user added a field to `Settings`) on the same store.

use std::process::ExitCode;

use pipeline_core::cli::Cli;
use pipeline_core::{scenario, serde_value, task};
use serde::{Deserialize, Serialize};

/// How prices are computed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// The factor applied to every price.
    pub rate: f64,
    /// Where the prices hold.
    pub region: String,
}
serde_value!(Settings);

/// The price with the rate applied, and where it holds.
#[task(skippable)]
pub fn apply(price: &f64, settings: &Settings) -> String {
    format!("{} in {}", price * settings.rate, settings.region)
}

scenario! {
    /// One price and its settings.
    pub struct Pricing {
        data {
            price: f64 = 10.0,
            settings: Settings = Settings { rate: 1.0, region: "North".to_owned() },
            quote: String,
        }
        tasks {
            apply(price, settings) -> quote,
        }
    }
}

fn main() -> ExitCode {
    Cli::new("pricing").scenario::<Pricing>().run()
}
