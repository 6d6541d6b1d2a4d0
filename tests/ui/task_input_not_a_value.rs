use pipeline_core::task;

struct Config {
    rate: f64,
}

#[task]
fn rate(config: &Config) -> f64 {
    config.rate
}

fn main() {}
