use pipeline_core::scenario;

scenario! {
    struct Thresholds {
        data {
            payment_threshold: f64 = "1000",
        }
    }
}

fn main() {}
