use pipeline_core::task;

#[task]
fn normalize(values: &mut Vec<f64>) {
    values.iter_mut().for_each(|v| *v /= 100.0);
}

fn main() {}
