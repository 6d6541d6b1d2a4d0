//! A user's own pipelines over a customer CSV, written as a user would.
//! `CountryPipeline`: text columns kept, grouped by text, grouped straight
//! from the CSV, and a median of all rows straight from the CSV.
//! `ExportPipeline`: the same customers as a European export (`;` between
//! fields, decimal commas, `NA` for nothing; `european.py` writes one), read
//! with the types polars infers.
//! No tuning of its own: whatever is fast here, the framework made fast.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use pipeline_core::cli::{Cli, ScenarioKind};
use pipeline_core::frame::csv::{CsvError, scan_csv};
use pipeline_core::{lazy_frame_value, scenario, task};
use polars::prelude::*;

/// Customers with their name, country and gender.
pub struct Customers(pub LazyFrame);
/// Per country: the mean amount and the customers.
pub struct ByCountry(pub LazyFrame);
/// Per country and gender, straight from the CSV.
pub struct Direct(pub LazyFrame);
/// Of all customers, straight from the CSV.
pub struct Overall(pub LazyFrame);
/// The customers of a European export, a few columns.
pub struct ExportCustomers(pub LazyFrame);
/// Per country of a European export: median amount, mean score, customers.
pub struct ExportByCountry(pub LazyFrame);
lazy_frame_value!(Customers, ByCountry, Direct, Overall, ExportCustomers, ExportByCountry);

fn typed(path: &Path) -> Result<LazyFrame, CsvError> {
    scan_csv(
        path,
        &[
            ("TotalPurchaseAmount", DataType::Float64),
            ("NumberOfPurchases", DataType::Int64),
        ],
    )
}

/// Reads the customers, keeping three text columns.
#[task(skippable)]
pub fn customers(path: &Path) -> Result<Customers, CsvError> {
    let per_purchase =
        col("TotalPurchaseAmount") / col("NumberOfPurchases").cast(DataType::Float64);
    Ok(Customers(typed(path)?.select([
        col("Name"),
        col("Country"),
        col("Gender"),
        col("TotalPurchaseAmount"),
        per_purchase.alias("PerPurchase"),
    ])))
}

/// The mean amount and the customers per country.
#[task(skippable)]
pub fn by_country(customers: &Customers) -> ByCountry {
    ByCountry(
        customers
            .0
            .clone()
            .group_by([col("Country")])
            .agg([
                col("TotalPurchaseAmount").mean().alias("MeanAmount"),
                len().alias("Customers"),
            ])
            .sort(["Country"], Default::default()),
    )
}

/// Per country and gender, grouped over the CSV itself.
#[task(skippable)]
pub fn direct(path: &Path) -> Result<Direct, CsvError> {
    Ok(Direct(
        typed(path)?
            .group_by([col("Country"), col("Gender")])
            .agg([
                col("TotalPurchaseAmount").mean().alias("MeanAmount"),
                col("NumberOfPurchases").sum().alias("Purchases"),
                len().alias("Customers"),
            ])
            .sort(["Country", "Gender"], Default::default()),
    ))
}

/// The median, total and mean of all customers, over the CSV itself.
#[task(skippable)]
pub fn overall(path: &Path) -> Result<Overall, CsvError> {
    Ok(Overall(typed(path)?.select([
        col("TotalPurchaseAmount").median().alias("MedianAmount"),
        col("NumberOfPurchases").sum().alias("Purchases"),
        col("TotalPurchaseAmount").mean().alias("MeanAmount"),
    ])))
}

/// A European export, as polars reads one: `;`, decimal commas, `NA`.
fn export(path: &Path) -> PolarsResult<LazyFrame> {
    LazyCsvReader::new(PlRefPath::try_from_path(path)?)
        .with_has_header(true)
        .with_separator(b';')
        .with_decimal_comma(true)
        .with_null_values(Some(NullValues::AllColumnsSingle("NA".into())))
        .finish()
}

/// Reads the export's customers: country, gender, amount per purchase and
/// review score.
#[task(skippable)]
pub fn export_customers(path: &Path) -> PolarsResult<ExportCustomers> {
    let per_purchase =
        col("TotalPurchaseAmount") / col("NumberOfPurchases").cast(DataType::Float64);
    Ok(ExportCustomers(export(path)?.select([
        col("Country"),
        col("Gender"),
        per_purchase.alias("PerPurchase"),
        col("AverageReviewScore"),
    ])))
}

/// Per country, straight from the export.
#[task(skippable)]
pub fn export_by_country(path: &Path) -> PolarsResult<ExportByCountry> {
    Ok(ExportByCountry(
        export(path)?
            .group_by([col("Country")])
            .agg([
                col("TotalPurchaseAmount").median().alias("MedianAmount"),
                col("AverageReviewScore").mean().alias("MeanScore"),
                col("AverageReviewScore").null_count().alias("Unscored"),
                len().alias("Customers"),
            ])
            .sort(["Country"], Default::default()),
    ))
}

scenario! {
    /// A European export's customers, and per country.
    pub struct ExportPipeline {
        data {
            path: PathBuf = PathBuf::from("customers_european.csv"),
            export_customer_df: ExportCustomers,
            export_country_df: ExportByCountry,
        }
        tasks {
            export_customers(path) -> export_customer_df,
            export_by_country(path) -> export_country_df,
        }
    }
}

scenario! {
    /// Customers by country, two ways, and of all customers.
    pub struct CountryPipeline {
        data {
            path: PathBuf = PathBuf::from("customers.csv"),
            customer_df: Customers,
            country_df: ByCountry,
            direct_df: Direct,
            overall_df: Overall,
        }
        tasks {
            customers(path) -> customer_df,
            by_country(customer_df) -> country_df,
            direct(path) -> direct_df,
            overall(path) -> overall_df,
        }
    }
}

fn main() -> ExitCode {
    Cli::new("user-pipeline-bench")
        .about("A user's pipeline over a customer CSV")
        .scenario_kind(ScenarioKind::of::<CountryPipeline>().results(["country_df", "direct_df", "overall_df"]))
        .scenario_kind(ScenarioKind::of::<ExportPipeline>().results(["export_country_df"]))
        .node_flag("data", "path", "CSV", "The customer CSV")
        .run()
}
