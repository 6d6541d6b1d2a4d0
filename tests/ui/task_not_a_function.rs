use pipeline_core::task;

#[task]
struct Discount {
    rate: f64,
}

fn main() {}
