use pipeline_core::task;

#[task(skippable, version = 2)]
fn double(x: &i64) -> i64 {
    x * 2
}

fn main() {}
