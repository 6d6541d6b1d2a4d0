use pipeline_core::{scenario, task};

#[task(skippable, name = "scale")]
fn double(x: &i64) -> i64 {
    x * 2
}

#[task(skippable, name = "scale")]
fn triple(x: &i64) -> i64 {
    x * 3
}

scenario! {
    struct Scaling {
        data {
            x: i64 = 21,
            doubled: i64,
            tripled: i64,
        }
        tasks {
            double(x) -> doubled,
            triple(x) -> tripled,
        }
    }
}

fn main() {}
