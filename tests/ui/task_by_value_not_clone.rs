use pipeline_core::{serde_value, task};

#[derive(serde::Serialize, serde::Deserialize)]
struct Frame(Vec<f64>);
serde_value!(Frame);

#[task]
fn rows(frame: Frame) -> usize {
    frame.0.len()
}

fn main() {}
