//! Every bad argument is reported, not only the first.
use pipeline_core::task;

#[task(skippable, skippable, name = "", retries = 3)]
fn double(x: &i64) -> i64 {
    x * 2
}

fn main() {}
