use pipeline_core::{scenario, task};

#[task(skippable)]
fn discount(price: &f64, rate: &f64, floor: &f64) -> f64 {
    (price * (1.0 - rate)).max(*floor)
}

scenario! {
    struct Pricing {
        data {
            price: f64 = 100.0,
            rate: f64 = 0.1,
            discounted: f64,
        }
        tasks {
            discount(price, rate) -> discounted,
        }
    }
}

fn main() {}
