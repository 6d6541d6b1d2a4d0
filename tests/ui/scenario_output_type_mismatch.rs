use pipeline_core::{scenario, task};

#[task(skippable)]
fn stats(values: &Vec<f64>) -> (f64, usize) {
    (values.iter().sum(), values.len())
}

scenario! {
    struct Stats {
        data {
            values: Vec<f64> = vec![1.0, 2.0],
            total: f64,
            count: f64,
        }
        tasks {
            stats(values) -> (total, count),
        }
    }
}

fn main() {}
