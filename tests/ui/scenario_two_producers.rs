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
    struct Scaling {
        data {
            x: i64 = 21,
            scaled: i64,
        }
        tasks {
            double(x) -> scaled,
            triple(x) -> scaled,
        }
    }
}

fn main() {}
