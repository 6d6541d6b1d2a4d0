//! Every bad resource is reported, on its value.
use pipeline_core::task;

#[task(cpus = 0, memory = "8X", time = "soon", partition = "two words")]
fn double(x: &i64) -> i64 {
    x * 2
}

#[task(cpus = "4", memory = 8, cpus = 2, time = 30)]
fn triple(x: &i64) -> i64 {
    x * 3
}

#[task(cpu = 2)]
fn quadruple(x: &i64) -> i64 {
    x * 4
}

fn main() {}
