//! What a task asks of the machine a remote executor runs it on: checked at
//! compile time, carried by its definition, never part of its key.
use std::time::Duration;

use pipeline_core::__private::Task;
use pipeline_core::{task};
use pipeline_core::resources::Resources;

#[task(skippable, cpus = 4, memory = "8G", time = "1h30m", partition = "bigmem")]
fn scored(x: &i64) -> i64 {
    x * 2
}

#[task(memory = "512", time = "1-00:00:00")]
fn slurm_forms(x: &i64) -> i64 {
    *x
}

#[task]
fn plain(x: &i64) -> i64 {
    *x
}

fn main() {
    let def = scored::def();
    let resources = def.resources();
    assert_eq!(resources.cpu_count(), Some(4));
    assert_eq!(resources.memory_mib(), Some(8 * 1024));
    assert_eq!(resources.time_limit(), Some(Duration::from_secs(5400)));
    assert_eq!(resources.partition_name(), Some("bigmem"));
    let forms = slurm_forms::def();
    assert_eq!(forms.resources().memory_mib(), Some(512));
    assert_eq!(forms.resources().time_limit(), Some(Duration::from_secs(86_400)));
    assert_eq!(*plain::def().resources(), Resources::new());
}
