use pipeline_core::{scenario, task};

#[task(skippable)]
fn double(x: &i64) -> i64 {
    x * 2
}

scenario! {
    struct Doubling {
        data {
            x: i64 = 21,
            twice: i64,
            four_times: i64,
        }
        tasks {
            double(x) -> twice,
            double(twice) -> four_times,
        }
    }
}

fn main() {}
