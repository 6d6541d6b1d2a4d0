//! A new user's own pipeline on the framework's command line, with what
//! real pipelines meet: settings given as JSON (a struct holding a struct
//! and a map), maps of any keys, a task that
//! panics on input it did not expect, and one whose error runs over many
//! lines (as polars' errors do with their query plan). The `cli_orders`
//! tests run it as a new process at each step.

use std::collections::{BTreeMap, HashMap};
use std::process::ExitCode;

use pipeline_core::cli::{Cli, CliError, Context, clap};
use pipeline_core::{scenario, serde_value, task};
use serde::{Deserialize, Serialize};

/// Who carries the parcels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Carrier {
    /// Its name.
    pub name: String,
    /// The heaviest parcel it takes, in kilograms.
    #[serde(default = "thirty")]
    pub max_kg: u32,
}

fn thirty() -> u32 {
    30
}

/// How orders are priced and shipped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// The share taken off every order.
    #[serde(default)]
    pub discount: f64,
    /// Who carries the parcels.
    pub carrier: Carrier,
    /// A surcharge per region: any region.
    #[serde(default)]
    pub surcharges: BTreeMap<String, f64>,
}

/// A price per kilogram for each zone: any zone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tariffs(pub HashMap<String, f64>);

serde_value!(Carrier, Settings, Tariffs);

/// The mean parcel weight, in whole kilograms.
#[task(skippable)]
pub fn mean_weight(weights: &[u32]) -> u32 {
    weights.iter().sum::<u32>() / weights.len() as u32
}

/// Which parcel goes how: a parcel over the carrier's limit fails with the
/// whole plan.
#[task(skippable)]
pub fn shipping_plan(weights: &[u32], settings: &Settings) -> Result<String, String> {
    let carrier = &settings.carrier;
    let lines: Vec<String> = weights
        .iter()
        .enumerate()
        .map(|(i, kg)| match *kg > carrier.max_kg {
            true => format!("  parcel {}: {kg} kg -> FAILED HERE", i + 1),
            false => format!("  parcel {}: {kg} kg -> {}", i + 1, carrier.name),
        })
        .collect();
    match weights.iter().position(|kg| *kg > carrier.max_kg) {
        Some(i) => Err(format!(
            "parcel {} weighs over the {} kg `{}` takes\n\nShipping plan until failure:\n{}",
            i + 1,
            carrier.max_kg,
            carrier.name,
            lines.join("\n")
        )),
        None => Ok(lines.join("\n")),
    }
}

/// The price of the order.
#[task(skippable)]
pub fn price(
    weights: &[u32],
    settings: &Settings,
    zones: &BTreeMap<String, f64>,
    tariffs: &Tariffs,
) -> f64 {
    let kilograms: u32 = weights.iter().sum();
    let per_kg = zones
        .values()
        .chain(tariffs.0.values())
        .copied()
        .fold(1.0, f64::max);
    let surcharge: f64 = settings.surcharges.values().sum();
    f64::from(kilograms) * per_kg * (1.0 - settings.discount) + surcharge
}

scenario! {
    /// One order.
    pub struct Order {
        data {
            weights: Vec<u32> = vec![4, 6],
            settings: Settings = Settings {
                discount: 0.0,
                carrier: Carrier { name: "Post".to_owned(), max_kg: 30 },
                surcharges: BTreeMap::new(),
            },
            zones: BTreeMap<String, f64> = BTreeMap::new(),
            tariffs: Tariffs = Tariffs(HashMap::new()),
            mean: u32,
            plan: String,
            total: f64,
        }
        tasks {
            mean_weight(weights) -> mean,
            shipping_plan(weights, settings) -> plan,
            price(weights, settings, zones, tariffs) -> total,
        }
    }
}

/// The program's own command.
#[derive(clap::Subcommand)]
enum Extra {
    /// Panics outside any task, as a bug would.
    Crash,
}

fn extra(command: Extra, _: &Context<'_>) -> Result<(), CliError> {
    match command {
        Extra::Crash => panic!("a bug outside any task"),
    }
}

fn main() -> ExitCode {
    Cli::new("orders")
        .version("1.4.0")
        .scenario::<Order>()
        .commands(extra)
        .run()
}
