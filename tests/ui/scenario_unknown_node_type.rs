use pipeline_core::{scenario, task};

#[task(skippable)]
fn double(x: &i64) -> i64 {
    x * 2
}

scenario! {
    struct Doubling {
        data {
            x: i64 = 21,
            doubled: Int64,
        }
        tasks {
            double(x) -> doubled,
        }
    }
}

fn main() {}
