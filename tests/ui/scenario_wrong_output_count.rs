use pipeline_core::{scenario, task};

#[task(skippable)]
fn split(x: &i64) -> (i64, i64) {
    (x / 2, x - x / 2)
}

scenario! {
    struct Splitting {
        data {
            x: i64 = 21,
            half: i64,
        }
        tasks {
            split(x) -> half,
        }
    }
}

fn main() {}
