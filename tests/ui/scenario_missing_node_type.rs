use pipeline_core::scenario;

scenario! {
    struct Thresholds {
        data {
            payment_threshold = 1000.0,
        }
    }
}

fn main() {}
