use pipeline_core::task;

#[task(skippable, env = "REGION")]
fn regional(x: &i64) -> i64 {
    x + 1
}

fn main() {}
