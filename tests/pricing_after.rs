//! `pricing_before` after its user added a field to `Settings` (with a
//! default) and used it: the `cli_values` tests run it on a store the first
//! build wrote.

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
    /// The currency of the prices.
    #[serde(default = "euro")]
    pub currency: String,
}

fn euro() -> String {
    "EUR".to_owned()
}
serde_value!(Settings);

/// The price with the rate applied, and where it holds.
#[task(skippable)]
pub fn apply(price: &f64, settings: &Settings) -> String {
    format!(
        "{} {} in {}",
        price * settings.rate,
        settings.currency,
        settings.region
    )
}

scenario! {
    /// One price and its settings.
    pub struct Pricing {
        data {
            price: f64 = 10.0,
            settings: Settings = Settings { rate: 1.0, region: "North".to_owned(), currency: euro() },
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
