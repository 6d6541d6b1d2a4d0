//! Files written by Taipy 4.1's `Config.backup` load: the unique sections
//! (`[TAIPY]`, `[JOB]`, `[CORE]`, `[VERSION_MIGRATION]`), the `default`
//! templates, Taipy's properties, typed strings and `ENV[…]` values.
//!
//! `taipy/backup.toml` has the shape of a backup (same sections, keys, order
//! and value syntax as the files Taipy's own serialization tests expect) for a
//! two-task scenario whose functions are registered here under Taipy's
//! `module.function` names. One line is ours: `type = "String"` on a node no
//! task uses, whose type nothing else could tell.

use std::process::Command;

use pipeline_core::config::{Config, ConfigErrors, TaskRegistry, TypeRegistry};
use pipeline_core::graph::Scope;
use pipeline_core::task::TaskDef;
use pipeline_core::{JobStatus, Runtime};

const BACKUP: &str = include_str!("taipy/backup.toml");

fn tasks() -> TaskRegistry {
    TaskRegistry::new()
        .with(
            TaskDef::from_fn2("scale", "1", |x: &f64, factor: &f64| x * factor),
            false,
        )
        .with(
            TaskDef::from_fn1("describe", "1", |x: &f64| format!("value {x}")),
            false,
        )
}

fn load(text: &str) -> Result<Config, ConfigErrors> {
    Config::parse(
        text,
        "backup.toml",
        &tasks(),
        &TypeRegistry::with_builtins(),
    )
}

/// The 1-based line of the first line of `text` containing `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|line| line.contains(needle))
        .unwrap_or_else(|| panic!("{needle:?} is not in the file"))
        + 1
}

fn messages(text: &str) -> Vec<String> {
    load(text)
        .unwrap_err()
        .0
        .into_iter()
        .map(|e| e.to_string())
        .collect()
}

#[test]
fn a_taipy_backup_file_loads_and_runs() {
    let config = load(BACKUP).unwrap_or_else(|errors| panic!("{errors}"));
    let names: Vec<&str> = config.scenarios().map(|(name, _)| name).collect();
    assert_eq!(
        names,
        ["demo"],
        "[SCENARIO.default] is a template, not a scenario"
    );
    let graph = config.scenario("demo").unwrap().clone();
    let nodes: Vec<&str> = graph.nodes().iter().map(|n| n.name()).collect();
    assert_eq!(nodes, ["x", "factor", "scaled", "report", "label"]);
    let factor = graph.node(graph.node_id("factor").unwrap());
    assert_eq!(factor.scope(), Scope::Global);
    let skippable: Vec<bool> = graph.tasks().iter().map(|t| t.is_skippable()).collect();
    assert_eq!(
        skippable,
        [true, false],
        "each task's `skippable` is the file's"
    );
    assert_eq!(graph.sequence("scaling").unwrap().tasks().len(), 1);

    let scenario = Runtime::in_memory().create_scenario(graph, "s").unwrap();
    let submission = scenario.submit_with(&config.submit_options()).unwrap();
    assert_eq!(
        submission.tasks_with(JobStatus::Completed),
        ["scale", "describe"]
    );
    assert_eq!(
        *scenario.node::<f64>("scaled").unwrap().read().unwrap(),
        10.0
    );
    assert_eq!(
        *scenario.node::<String>("report").unwrap().read().unwrap(),
        "value 10"
    );
    assert_eq!(
        *scenario.node::<String>("label").unwrap().read().unwrap(),
        "demo"
    );
}

#[test]
fn the_job_section_sets_how_many_tasks_run_at_once() {
    assert_eq!(load(BACKUP).unwrap().max_workers(), Some(2));
    let four = BACKUP.replace(
        "max_nb_of_workers = \"2:int\"",
        "max_nb_of_workers = \"4:int\"",
    );
    assert_eq!(load(&four).unwrap().max_workers(), Some(4));
    // Taipy runs one job at a time in development mode, two in standalone mode.
    let development = BACKUP
        .replace("mode = \"standalone\"\n", "mode = \"development\"\n")
        .replace("max_nb_of_workers = \"2:int\"\n", "");
    assert_eq!(load(&development).unwrap().max_workers(), Some(1));
    let standalone = BACKUP.replace("max_nb_of_workers = \"2:int\"\n", "");
    assert_eq!(load(&standalone).unwrap().max_workers(), Some(2));
    let without_job = BACKUP
        .replace("[JOB]\nmode = \"standalone\"\n", "")
        .replace("max_nb_of_workers = \"2:int\"\n", "");
    assert_eq!(load(&without_job).unwrap().max_workers(), None);
}

#[test]
fn errors_in_a_taipy_backup_point_at_their_line() {
    let broken = BACKUP
        .replace(
            "max_nb_of_workers = \"2:int\"",
            "max_nb_of_workers = \"two:int\"",
        )
        .replace("\"2d0h0m0s:timedelta\"", "\"2 days:timedelta\"")
        .replace(
            "algos.algos.describe:function",
            "algos.algos.describ:function",
        )
        .replace(
            "frequency = \"DAILY:FREQUENCY\"",
            "frequency = \"HOURLY:FREQUENCY\"",
        )
        .replace(
            "default_data = \"2.5:float\"",
            "default_data = \"True:bool\"",
        );
    let errors = messages(&broken);
    let expected = [
        (
            line_of(&broken, "max_nb_of_workers"),
            "`two:int` is not an integer",
        ),
        (
            line_of(&broken, "True:bool\"\n".trim_end()),
            "default of data node `x` is not a valid f64: expected a number, found a boolean",
        ),
        (
            line_of(&broken, "2 days"),
            "`2 days:timedelta` is not a duration",
        ),
        (
            line_of(&broken, "describ:function"),
            "task `describe` uses function `describ`, which no `#[task]` registers; did you mean `describe`?",
        ),
        (
            line_of(&broken, "HOURLY"),
            "`HOURLY:FREQUENCY` is not a frequency",
        ),
    ];
    assert_eq!(errors.len(), expected.len(), "{errors:#?}");
    for (error, (line, message)) in errors.iter().zip(expected) {
        let prefix = format!("backup.toml:{line}:");
        assert!(
            error.starts_with(&prefix) && error.contains(message),
            "expected {prefix} … {message}\n     got {error}"
        );
    }
}

#[test]
fn a_default_template_of_another_storage_type_is_not_applied() {
    // `label` is not a pickle node, so the pickle template's default does not reach it.
    let text = BACKUP.replace(
        "[DATA_NODE.default]\nstorage_type = \"pickle\"\nscope = \"SCENARIO:SCOPE\"\n",
        "[DATA_NODE.default]\nstorage_type = \"pickle\"\nscope = \"GLOBAL:SCOPE\"\ndefault_data = \"1.5:float\"\n",
    );
    let config = load(&text).unwrap_or_else(|errors| panic!("{errors}"));
    let graph = config.scenario("demo").unwrap();
    let node = |name: &str| graph.node(graph.node_id(name).unwrap());
    // `x` and `scaled` are pickle nodes with their own scope; `scaled` takes the
    // template's default, `x` keeps its own.
    assert_eq!(node("scaled").scope(), Scope::Scenario);
    assert!(node("scaled").has_default());
    assert!(
        !node("report").has_default(),
        "a csv node takes nothing from a pickle template"
    );
    let scenario = Runtime::in_memory()
        .create_scenario(graph.clone(), "s")
        .unwrap();
    assert_eq!(*scenario.node::<f64>("x").unwrap().read().unwrap(), 2.5);
}

/// The environment a child process gets in `env_values_are_read_where_they_are_used`.
const CHILD_ENV: [(&str, &str); 2] = [
    ("PIPELINE_TEST_WORKERS", "3"),
    ("PIPELINE_TEST_LABEL", "from the environment"),
];

#[test]
fn env_values_are_read_where_they_are_used() {
    // The variables are set for a child process running the test below, so no
    // test here changes this process's environment.
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "env_values_in_a_child_process",
            "--nocapture",
        ])
        .envs(CHILD_ENV)
        .env_remove("PIPELINE_TEST_UNSET")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
#[ignore = "run by env_values_are_read_where_they_are_used, with its environment set"]
fn env_values_in_a_child_process() {
    for (name, value) in CHILD_ENV {
        assert_eq!(
            std::env::var(name).as_deref(),
            Ok(value),
            "run me from the parent test"
        );
    }
    let text = BACKUP
        .replace("\"2:int\"", "\"ENV[PIPELINE_TEST_WORKERS]:int\"")
        .replace(
            "default_data = \"demo\"",
            "default_data = \"ENV[PIPELINE_TEST_LABEL]\"",
        );
    let config = load(&text).unwrap_or_else(|errors| panic!("{errors}"));
    assert_eq!(config.max_workers(), Some(3));
    let graph = config.scenario("demo").unwrap().clone();
    let scenario = Runtime::in_memory().create_scenario(graph, "s").unwrap();
    assert_eq!(
        *scenario.node::<String>("label").unwrap().read().unwrap(),
        "from the environment"
    );

    // Unset where it is used: an error naming the variable, at its line.
    let unset = text.replace("ENV[PIPELINE_TEST_LABEL]", "ENV[PIPELINE_TEST_UNSET]");
    let errors = messages(&unset);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    let line = line_of(&unset, "PIPELINE_TEST_UNSET");
    assert!(
        errors[0].starts_with(&format!("backup.toml:{line}:"))
            && errors[0].contains("environment variable `PIPELINE_TEST_UNSET` is not set"),
        "{errors:#?}"
    );
    // Typed, and not of that type.
    let word = text.replace(
        "ENV[PIPELINE_TEST_WORKERS]:int",
        "ENV[PIPELINE_TEST_LABEL]:int",
    );
    let errors = messages(&word);
    assert!(
        errors[0].contains(
            "environment variable `PIPELINE_TEST_LABEL` is \"from the environment\", not an integer"
        ),
        "{errors:#?}"
    );
}
