use pipeline_core::task;

#[task(skipable)]
fn double(x: &i64) -> i64 {
    x * 2
}

fn main() {}
