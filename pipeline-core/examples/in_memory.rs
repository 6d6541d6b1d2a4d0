//! The smallest whole pipeline: two tasks, a scenario type, an in-memory
//! store. Shows a first run, a skipped re-run, an equal rewrite that
//! invalidates nothing, and a change that re-runs only what it reaches.
//!
//! ```text
//! cargo run -p pipeline-core --example in_memory
//! ```

use pipeline_core::{JobStatus, Runtime, scenario, task};

/// Each price with the discount rate taken off.
#[task(skippable)]
fn discount(prices: &[f64], rate: &f64) -> Vec<f64> {
    prices.iter().map(|price| price * (1.0 - rate)).collect()
}

/// The sum of the discounted prices.
#[task(skippable)]
fn total(discounted: &[f64]) -> f64 {
    discounted.iter().sum()
}

scenario! {
    /// A price list, discounted and summed.
    pub struct Pricing {
        data {
            prices: Vec<f64> = vec![10.0, 20.0, 30.0],
            rate: f64 = 0.1,
            discounted: Vec<f64>,
            total_price: f64,
        }
        tasks {
            discount(prices, rate) -> discounted,
            total(discounted) -> total_price,
        }
    }
}

fn main() -> Result<(), pipeline_core::Error> {
    let runtime = Runtime::in_memory();
    let spring = Pricing::create(&runtime, "spring sale")?;

    let first = spring.submit()?;
    println!(
        "first run: ran {:?}",
        first.tasks_with(JobStatus::Completed)
    );
    println!("total: {}", spring.total_price().read()?);

    let again = spring.submit()?;
    println!(
        "nothing changed: skipped {:?}",
        again.tasks_with(JobStatus::Skipped)
    );

    // An equal value is not a change.
    spring.rate().write(0.1)?;
    let equal = spring.submit()?;
    println!(
        "rate rewritten equal: skipped {:?}",
        equal.tasks_with(JobStatus::Skipped)
    );

    spring.rate().write(0.25)?;
    let changed = spring.submit()?;
    println!(
        "rate changed: ran {:?}",
        changed.tasks_with(JobStatus::Completed)
    );
    for job in &changed.jobs {
        if let Some(reason) = &job.reason {
            println!("  {}: {reason}", job.task);
        }
    }
    println!("total: {}", spring.total_price().read()?);
    Ok(())
}
