use pipeline_core::task;

struct Report {
    total: f64,
}

#[task]
fn report(total: &f64) -> Report {
    Report { total: *total }
}

fn main() {}
