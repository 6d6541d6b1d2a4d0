use pipeline_core::task;

struct Pricer {
    rate: f64,
}

impl Pricer {
    #[task]
    fn discount(&self, price: &f64) -> f64 {
        price * (1.0 - self.rate)
    }
}

fn main() {}
