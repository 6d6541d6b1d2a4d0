//! A user's pipeline: one skippable task that calls a helper in another module.

mod helpers;

use pipeline_core::{scenario, task};

/// The price, scaled by the helper.
#[task(skippable)]
pub fn scaled(price: &f64) -> f64 {
    helpers::scale(*price)
}

scenario! {
    /// A price and its scaled value.
    pub struct Prices {
        data {
            price: f64 = 10.0,
            scaled_price: f64,
        }
        tasks {
            scaled(price) -> scaled_price,
        }
    }
}
