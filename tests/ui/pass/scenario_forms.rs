//! Every form `scenario!` accepts compiles and runs.

use std::path::PathBuf;

use pipeline_core::{Runtime, scenario, task};

mod steps {
    use pipeline_core::task;

    #[task(skippable)]
    pub fn double(x: &i64) -> i64 {
        x * 2
    }

    #[task(skippable)]
    pub fn split(x: &i64) -> (i64, i64) {
        (x / 2, x - x / 2)
    }
}

#[task]
fn log(x: &i64, path: &PathBuf) {
    let _ = (x, path);
}

#[task(skippable)]
fn add(a: &i64, b: &i64) -> i64 {
    a + b
}

scenario! {
    /// Every section, every kind of entry.
    #[allow(clippy::all)]
    pub(crate) struct Everything {
        data {
            /// A documented node.
            x: i64 = 21,
            global shared: i64 = 1,
            global unset_global: i64,
            doubled: i64,
            low: i64,
            high: i64,
            sum: i64,
            r#type: i64 = 0,
            doubled_type: i64,
            log_path: PathBuf = PathBuf::from("log.txt"),
            written_by_users: String,
        }
        tasks {
            /// A qualified path.
            steps::double(x) -> doubled,
            steps::split(doubled) -> (low, high),
            add(low, high) -> sum,
            add(sum, shared) -> unset_global as add_shared,
            steps::double(r#type) -> doubled_type as double_type,
            log(x, log_path),
        }
        sequences {
            /// Doubling only.
            doubling = [double],
            tail = [split, add, add_shared,],
        }
    }
}

scenario! {
    struct NoSequences {
        data { a: i64 = 1, b: i64 }
        tasks { steps::double(a) -> b }
    }
}

scenario! {
    pub struct OnlyData {
        data { a: i64 = 1, }
    }
}

scenario! {
    struct Empty {}
}

fn main() {
    let runtime = Runtime::in_memory();
    let everything = Everything::create(&runtime, "e").unwrap();
    assert!(everything.submit().unwrap().is_success());
    assert_eq!(*everything.sum().read().unwrap(), 42);
    assert_eq!(*everything.unset_global().read().unwrap(), 43);
    assert_eq!(*everything.r#type().read().unwrap(), 0);
    assert!(everything.written_by_users().read().is_err());
    assert_eq!(EverythingSequence::ALL.len(), 2);
    assert_eq!(EverythingTask::DoubleType.name(), "double_type");

    let no_sequences = NoSequences::create(&runtime, "n").unwrap();
    assert!(no_sequences.submit().unwrap().is_success());
    assert!(NoSequencesSequence::ALL.is_empty());

    let only_data = OnlyData::create(&runtime, "o").unwrap();
    assert_eq!(*only_data.a().read().unwrap(), 1);
    let _ = Empty::create(&runtime, "empty").unwrap();
}
