use pipeline_core::task;

#[task(skippable, env = ["REGION", "", "MODE=fast", " LANG", "REGION"])]
fn regional(x: &i64) -> i64 {
    x + 1
}

#[task(env = ["A"], env = ["B"])]
fn twice(x: &i64) -> i64 {
    x + 1
}

fn main() {}
