//! A task reading a `HashMap`: the advice must work (no `serde_value!(HashMap<…>)`).
use std::collections::HashMap;

use pipeline_core::task;

#[task]
fn total(prices: &HashMap<String, f64>) -> f64 {
    prices.values().sum()
}

fn main() {}
