use pipeline_core::{scenario, task};

#[task]
fn a(y: &i64) -> i64 {
    y + 1
}

#[task]
fn b(x: &i64) -> i64 {
    x + 1
}

#[task]
fn c(x: &i64) -> i64 {
    x + 1
}

scenario! {
    struct Loop {
        data {
            x: i64,
            y: i64,
            z: i64,
        }
        tasks {
            a(y) -> x,
            b(x) -> y,
            c(x) -> z,
        }
    }
}

fn main() {}
