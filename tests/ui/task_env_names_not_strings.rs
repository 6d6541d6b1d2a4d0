use pipeline_core::task;

const MODE: &str = "MODE";

#[task(skippable, env = [REGION, MODE.to_lowercase()])]
fn regional(x: &i64) -> i64 {
    x + 1
}

fn main() {}
