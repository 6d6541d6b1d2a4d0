use pipeline_core::{scenario, task};

#[task(skippable)]
fn double(x: &i64) -> i64 {
    x * 2
}

scenario! {
    struct Doubling {
        data {
            x: i64 = 21,
            y: i64 = 1,
            doubled: i64,
        }
        tasks {
            double(x, y) -> doubled,
        }
    }
}

fn main() {}
