//! A misspelt task in another module: rustc's unresolved import, with its
//! suggestion from the module.
use pipeline_core::scenario;

mod steps {
    #[pipeline_core::task(skippable)]
    pub fn triple(x: &i64) -> i64 {
        x * 3
    }
}

scenario! {
    struct Tripling {
        data {
            x: i64 = 21,
            tripled: i64,
        }
        tasks {
            steps::tripel(x) -> tripled,
        }
    }
}

fn main() {}
