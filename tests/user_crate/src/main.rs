//! Opens the store given as the first argument, submits the scenario, prints
//! the job's status and the value.

use pipeline_core::Runtime;
use user_pipeline::Prices;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let store = std::env::args().nth(1).ok_or("usage: user-pipeline STORE")?;
    let runtime = Runtime::open(store)?;
    let prices = Prices::find_or_create(&runtime, "main")?;
    let submission = prices.submit()?;
    let status = submission.status("scaled").ok_or("no job for `scaled`")?;
    println!("scaled {status}");
    println!("value {}", prices.scaled_price().read()?);
    Ok(())
}
