//! A pipeline whose results outlive the process: the store is a directory
//! (SQLite plus content-addressed value files), so running this example a
//! second time skips both tasks, and passing a new word count re-runs only
//! the task it reaches.
//!
//! ```text
//! cargo run -p pipeline-core --example persistent_store -- /tmp/words-store      # both tasks run
//! cargo run -p pipeline-core --example persistent_store -- /tmp/words-store      # both skipped
//! cargo run -p pipeline-core --example persistent_store -- /tmp/words-store 2    # only `top_words` runs
//! ```

use std::collections::BTreeMap;

use pipeline_core::{Runtime, scenario, task};

/// How often each lower-cased word occurs.
#[task(skippable)]
fn count_words(text: &str) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for word in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        *counts.entry(word.to_lowercase()).or_insert(0) += 1;
    }
    counts
}

/// The `how_many` most frequent words, most frequent first.
#[task(skippable)]
fn top_words(counts: &BTreeMap<String, u64>, how_many: &usize) -> Vec<(String, u64)> {
    let mut words: Vec<(String, u64)> = counts.iter().map(|(w, n)| (w.clone(), *n)).collect();
    words.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    words.truncate(*how_many);
    words
}

scenario! {
    /// Word frequencies of a text.
    pub struct Words {
        data {
            text: String = "the cat and the hat and the bat".to_owned(),
            how_many: usize = 3,
            counts: BTreeMap<String, u64>,
            top: Vec<(String, u64)>,
        }
        tasks {
            count_words(text) -> counts,
            top_words(counts, how_many) -> top,
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args
        .next()
        .unwrap_or_else(|| ".pipeline-example".to_owned());
    let how_many: Option<usize> = args.next().map(|n| n.parse()).transpose()?;

    let runtime = Runtime::open(&dir)?;
    // The same scenario every time the program runs.
    let words = Words::find_or_create(&runtime, "example")?;
    if let Some(how_many) = how_many {
        words.how_many().write(how_many)?;
    }
    let submission = words.submit()?;
    for job in &submission.jobs {
        let why = job
            .reason
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default();
        println!("{:<12} {:<9} {why}", job.task, job.status.as_str());
    }
    println!("top words: {:?}", *words.top().read()?);
    Ok(())
}
