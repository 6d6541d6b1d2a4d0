//! Generated items are documented and warning-free: a crate denying missing
//! docs and every warning accepts public tasks and scenarios, used or not.
#![deny(missing_docs, warnings)]

/// Public tasks and a public scenario type.
pub mod pipeline {
    use pipeline_core::{scenario, task};

    /// Doubles.
    #[task(skippable)]
    pub fn double(x: &i64) -> i64 {
        x * 2
    }

    /// Halves, failing on odd numbers.
    #[task(skippable, version = "1")]
    pub fn halve(x: &i64) -> Result<i64, String> {
        if x % 2 == 0 { Ok(x / 2) } else { Err(format!("{x} is odd")) }
    }

    scenario! {
        /// Doubling, then halving.
        pub struct RoundTrip {
            data {
                /// The input.
                x: i64 = 21,
                doubled: i64,
                back: i64,
            }
            tasks {
                /// Doubles `x`.
                double(x) -> doubled,
                halve(doubled) -> back,
            }
            sequences {
                /// Only the doubling.
                doubling = [double],
            }
        }
    }
}

mod private {
    use pipeline_core::{scenario, task};

    #[task]
    fn unused_task(x: &i64) -> i64 {
        *x
    }

    scenario! {
        struct Unused {
            data { x: i64 = 1, y: i64 }
            tasks { unused_task(x) -> y }
            sequences { all = [unused_task] }
        }
    }
}

fn main() {
    let runtime = pipeline_core::Runtime::in_memory();
    let round_trip = pipeline::RoundTrip::create(&runtime, "r").unwrap();
    round_trip.submit().unwrap();
    assert_eq!(*round_trip.back().read().unwrap(), 21);
}
