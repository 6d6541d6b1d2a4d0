//! A `HashMap` node: the advice must work (no `serde_value!(HashMap<…>)`,
//! which the orphan rule forbids).
use std::collections::HashMap;

use pipeline_core::scenario;

scenario! {
    struct Prices {
        data {
            by_product: HashMap<String, f64> = HashMap::new(),
        }
    }
}

fn main() {}
