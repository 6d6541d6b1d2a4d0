//! Graph errors of every kind, all reported by one expansion.
use pipeline_core::{scenario, task};

#[task(skippable)]
fn double(x: &i64) -> i64 {
    x * 2
}

#[task(skippable)]
fn triple(x: &i64) -> i64 {
    x * 3
}

scenario! {
    struct Broken {
        data {
            x: i64,
            doubled: i64,
            doubled: i64,
        }
        tasks {
            double(x) -> doubled,
            triple(x) -> doubled,
            double(missing) -> doubled as again,
        }
        sequences {
            all = [double, tripel],
        }
    }
}

fn main() {
    // The type is still generated, so code using it adds no errors of its own.
    let runtime = pipeline_core::Runtime::in_memory();
    let _ = Broken::create(&runtime, "b").map(|b| b.doubled());
}
