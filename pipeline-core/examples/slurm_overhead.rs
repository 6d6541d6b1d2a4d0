//! What running tasks as Slurm jobs costs per task: a chain of 20 and a
//! fan-out of 200 no-op tasks, each through the Slurm executor (batch job,
//! worker mode, values through an object store directory) and through the
//! local executor, on whatever cluster `sbatch` reaches (`.ci/slurm.sh
//! start` brings up one on localhost). Prints one line per case.
//!
//! ```text
//! .ci/slurm.sh start
//! cargo run --release -p pipeline-core --features remote --example slurm_overhead
//! ```

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use pipeline_core::config::{Config, TaskRegistry, TypeRegistry};
use pipeline_core::remote::SlurmOptions;
use pipeline_core::{Executor, Runtime, SubmitOptions, task};

/// One step of the chain: the previous value plus one.
#[task]
fn step(x: &i64) -> i64 {
    x + 1
}

/// The graph as TOML: `chain` tasks in a row, or `fan` tasks reading one input.
fn graph_toml(name: &str, tasks: usize, chain: bool) -> String {
    let mut toml = String::from("[DATA_NODE.n0]\ntype = \"i64\"\ndefault = 0\n\n");
    let mut ids = Vec::new();
    for i in 1..=tasks {
        let input = if chain {
            format!("n{}", i - 1)
        } else {
            "n0".to_owned()
        };
        let _ = write!(
            toml,
            "[TASK.t{i}]\nfunction = \"step\"\ninputs = [\"{input}\"]\noutputs = [\"n{i}\"]\n\n"
        );
        ids.push(format!("\"t{i}\""));
    }
    let _ = write!(toml, "[SCENARIO.{name}]\ntasks = [{}]\n", ids.join(", "));
    toml
}

fn time_case(name: &str, tasks: usize, chain: bool, options: &SubmitOptions) -> Duration {
    let config = Config::parse(
        &graph_toml(name, tasks, chain),
        format!("{name}.toml"),
        &TaskRegistry::collected(),
        &TypeRegistry::with_builtins(),
    )
    .expect("the generated configuration is valid");
    let graph = config.scenario(name).expect("declared").clone();
    let runtime = Runtime::in_memory();
    let scenario = runtime.create_scenario(graph, name).expect("created");
    let started = Instant::now();
    let submission = scenario.submit_with(options).expect("submitted");
    let elapsed = started.elapsed();
    assert!(submission.is_success(), "{submission:?}");
    elapsed
}

fn main() -> std::process::ExitCode {
    if let Some(code) = pipeline_core::worker::main_if_worker() {
        return code;
    }
    let scratch = tempfile_dir();
    let slurm = SlurmOptions::new()
        .objects(scratch.join("objects").to_str().expect("utf-8 path"))
        .log_dir(scratch.join("logs"))
        .poll_interval(Duration::from_millis(20));
    let remote = SubmitOptions::new().executor(Executor::slurm(slurm));
    let local = SubmitOptions::new();
    for (case, tasks, chain) in [("chain", 20, true), ("fan_out", 200, false)] {
        let here = time_case(case, tasks, chain, &local);
        let there = time_case(case, tasks, chain, &remote);
        println!(
            "{case} of {tasks}: slurm {:.2} s ({:.3} s a task), local {:.4} s",
            there.as_secs_f64(),
            there.as_secs_f64() / tasks as f64,
            here.as_secs_f64()
        );
    }
    let _ = std::fs::remove_dir_all(&scratch);
    std::process::ExitCode::SUCCESS
}

/// A scratch directory every node of a localhost cluster sees.
fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("slurm-overhead-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch directory");
    dir
}
