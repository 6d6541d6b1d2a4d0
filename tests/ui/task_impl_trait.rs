use pipeline_core::task;

#[task]
fn count(values: impl IntoIterator<Item = f64>) -> usize {
    values.into_iter().count()
}

fn main() {}
