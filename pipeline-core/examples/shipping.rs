//! A shipping quote on the framework's command line: three tasks, a few
//! parameters, and a `main` of one statement.
//!
//! ```text
//! cargo run -p pipeline-core --features cli --example shipping -- run
//! cargo run -p pipeline-core --features cli --example shipping -- run --set weights='[2.5, 0.3]' --set rounding=exact
//! cargo run -p pipeline-core --features cli --example shipping -- get quote
//! cargo run -p pipeline-core --features cli --example shipping -- history
//! ```

use std::process::ExitCode;

use pipeline_core::cli::{Cli, ScenarioKind};
use pipeline_core::{scenario, serde_value, task};
use serde::{Deserialize, Serialize};

/// How parcel weights are billed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rounding {
    /// By the gram.
    Exact,
    /// Each parcel rounded up to the next kilogram.
    UpToKilo,
}

/// What the customer pays.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Quote {
    /// Parcels in the shipment.
    pub parcels: usize,
    /// Billable kilograms.
    pub kilograms: f64,
    /// The price, in `currency`.
    pub total: f64,
    /// The currency.
    pub currency: String,
}

serde_value!(Rounding, Quote);

/// The weight billed for each parcel; a weight that is not positive fails.
#[task(skippable)]
pub fn billable_weights(weights: &[f64], rounding: &Rounding) -> Result<Vec<f64>, String> {
    weights
        .iter()
        .map(|&kg| {
            if !(kg.is_finite() && kg > 0.0) {
                return Err(format!("a parcel weighs {kg} kg: weights must be positive"));
            }
            Ok(match rounding {
                Rounding::Exact => kg,
                Rounding::UpToKilo => kg.ceil(),
            })
        })
        .collect()
}

/// The price of the billable weight.
#[task(skippable)]
pub fn price_quote(billable: &[f64], price_per_kg: &f64, currency: &str) -> Quote {
    let kilograms: f64 = billable.iter().sum();
    Quote {
        parcels: billable.len(),
        kilograms,
        total: (kilograms * price_per_kg * 100.0).round() / 100.0,
        currency: currency.to_owned(),
    }
}

/// The heaviest billable parcel (0 for an empty shipment).
#[task(skippable)]
pub fn heaviest_parcel(billable: &[f64]) -> f64 {
    billable.iter().copied().fold(0.0, f64::max)
}

scenario! {
    /// A shipment: parcel weights in, a quote out.
    pub struct Shipping {
        data {
            /// Each parcel's weight in kilograms.
            weights: Vec<f64> = vec![1.2, 0.4, 3.5],
            rounding: Rounding = Rounding::UpToKilo,
            price_per_kg: f64 = 4.5,
            currency: String = "EUR".to_owned(),
            billable: Vec<f64>,
            quote: Quote,
            heaviest: f64,
        }
        tasks {
            billable_weights(weights, rounding) -> billable,
            price_quote(billable, price_per_kg, currency) -> quote,
            heaviest_parcel(billable) -> heaviest,
        }
        sequences {
            /// Weighing only: no price.
            weighing = [billable_weights, heaviest_parcel],
        }
    }
}

fn main() -> ExitCode {
    Cli::new("shipping")
        .about("Shipping quotes, recomputed only where parcels or prices changed.")
        .scenario_kind(
            ScenarioKind::of::<Shipping>()
                .check("price_per_kg", |price: &f64| {
                    match price.is_finite() && *price >= 0.0 {
                        true => Ok(()),
                        false => Err(format!("a price per kg is a number >= 0, not {price}")),
                    }
                })
                // `compare` and `serve`'s compare page say this about the heaviest parcels.
                .comparator("heaviest", |heaviest: &[&f64]| {
                    let most = heaviest.iter().copied().copied().fold(0.0, f64::max);
                    let least = heaviest
                        .iter()
                        .copied()
                        .copied()
                        .fold(f64::INFINITY, f64::min);
                    format!("heaviest parcels differ by {:.1} kg", most - least)
                }),
        )
        .run()
}
