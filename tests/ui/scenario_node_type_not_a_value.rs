use pipeline_core::scenario;

#[derive(Clone)]
struct Settings {
    rate: f64,
}

scenario! {
    struct Pricing {
        data {
            settings: Settings = Settings { rate: 0.1 },
        }
    }
}

fn main() {}
