//! TOML configurations: loading, every load-time check with its line, Taipy
//! Studio's typed strings, exports and a fuzz of the loader.

use pipeline_core::config::{
    Config, ConfigErrors, TaskRegistry, TypeRegistry, to_dot, to_mermaid, to_toml,
};
use pipeline_core::task::TaskDef;
use pipeline_core::{JobStatus, Runtime};
use proptest::prelude::*;

fn tasks() -> TaskRegistry {
    TaskRegistry::new()
        .with(
            TaskDef::from_fn2("scale", "1", |x: &f64, factor: &f64| x * factor),
            true,
        )
        .with(
            TaskDef::from_fn1("describe", "1", |x: &f64| format!("value {x}")),
            true,
        )
        .with(
            TaskDef::from_fn1("shout", "1", |s: &String| s.to_uppercase()),
            false,
        )
}

const GOOD: &str = r#"
[DATA_NODE.x]
type = "f64"
default = 2.5

[DATA_NODE.factor]
type = "f64"
default = 4
scope = "global"

[DATA_NODE.scaled]
type = "f64"

[DATA_NODE.text]
type = "String"

[TASK.scale]
function = "scale"
inputs = ["x", "factor"]
outputs = ["scaled"]
skippable = true

[TASK.describe]
inputs = ["scaled"]
outputs = ["text"]

[SCENARIO.demo]
tasks = ["scale", "describe"]

[SCENARIO.demo.sequences]
first = ["scale"]
"#;

fn load(text: &str) -> Result<Config, ConfigErrors> {
    Config::parse(text, "demo.toml", &tasks(), &TypeRegistry::with_builtins())
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
fn a_loaded_scenario_runs_and_skips_like_a_built_one() {
    let config = load(GOOD).unwrap();
    let graph = config.scenario("demo").unwrap().clone();
    assert_eq!(graph.sequence("first").unwrap().tasks().len(), 1);
    let scenario = Runtime::in_memory().create_scenario(graph, "s").unwrap();
    let first = scenario.submit().unwrap();
    assert_eq!(
        first.tasks_with(JobStatus::Completed),
        ["scale", "describe"]
    );
    assert_eq!(
        *scenario.node::<String>("text").unwrap().read().unwrap(),
        "value 10"
    );
    assert_eq!(
        scenario.submit().unwrap().tasks_with(JobStatus::Skipped),
        ["scale", "describe"]
    );
}

#[test]
fn every_problem_is_reported_at_once_with_its_line() {
    let broken = GOOD
        .replace("skippable = true", "skipable = true")
        .replace("function = \"scale\"", "function = \"scael\"")
        .replace("default = 2.5", "default = \"lots\"")
        .replace("inputs = [\"scaled\"]", "inputs = [\"scaledd\"]")
        .replace("first = [\"scale\"]", "first = [\"scale\", \"ghost\"]");
    let errors = messages(&broken);
    let expected = [
        "demo.toml:4:11: default of data node `x` is not a valid f64: expected a number, found a string",
        "demo.toml:18:12: task `scale` uses function `scael`, which no `#[task]` registers; did you mean `scale`?",
        "demo.toml:21:1: unknown key `skipable` in task `scale`; did you mean `skippable`?",
        "demo.toml:24:11: task `describe` names unknown data node `scaledd` as an input; did you mean `scaled`?",
        "demo.toml:31:19: sequence `first` names task `ghost`, which scenario `demo` does not list",
    ];
    for (error, expected) in errors.iter().zip(expected) {
        assert!(
            error.starts_with(expected),
            "expected {expected:?}\n     got {error:?}\n all: {errors:#?}"
        );
    }
    assert_eq!(errors.len(), expected.len(), "{errors:#?}");
}

#[test]
fn type_mismatch_names_the_node_the_function_and_both_types() {
    let errors = messages(&GOOD.replace(
        "[DATA_NODE.scaled]\ntype = \"f64\"",
        "[DATA_NODE.scaled]\ntype = \"String\"",
    ));
    assert!(
        errors.iter().any(|e| e.starts_with(
            "demo.toml:20:12: data node `scaled` is String, but output 1 of function `scale` (task `scale`) is f64"
        )),
        "{errors:#?}"
    );
}

#[test]
fn cycles_two_producers_and_unfed_inputs_are_located() {
    let text = r#"
[DATA_NODE.a]
type = "String"
[DATA_NODE.b]
type = "String"
[DATA_NODE.c]
type = "String"

[TASK.one]
function = "shout"
inputs = ["a"]
outputs = ["b"]

[TASK.two]
function = "shout"
inputs = ["b"]
outputs = ["a"]

[TASK.three]
function = "shout"
inputs = ["c"]
outputs = ["b"]

[SCENARIO.loop]
tasks = ["one", "two", "three"]
"#;
    let errors = messages(text);
    let joined = errors.join("\n");
    assert!(joined.contains("demo.toml:21:11: data node `c` is read by task `three` but no task of scenario `loop` produces it"), "{joined}");
    assert!(
        joined.contains("demo.toml:22:12: data node `b` is produced by both `one` and `three`"),
        "{joined}"
    );
    assert!(
        joined
            .contains("demo.toml:25:10: scenario `loop` has a cycle: one -> b -> two -> a -> one"),
        "{joined}"
    );
}

#[test]
fn syntax_errors_and_unknown_sections_are_located() {
    let errors = messages("[TASK.t]\ninputs = [\"a\"\n");
    assert!(errors[0].starts_with("demo.toml:2:"), "{errors:?}");
    assert!(errors[0].contains("TOML syntax"), "{errors:?}");
    let errors = messages("[SCENARIOS.s]\n");
    assert!(
        errors[0].contains("unknown section `SCENARIOS`; did you mean `SCENARIO`?"),
        "{errors:?}"
    );
}

#[test]
fn taipy_studio_files_load_once_functions_are_registered() {
    let text = r#"
[TAIPY]

[DATA_NODE.x]
default_data = "3.0:float"
storage_type = "pickle"
scope = "SCENARIO:SCOPE"

[DATA_NODE.factor]
default_data = "10:int"
scope = "GLOBAL:SCOPE"

[DATA_NODE.scaled]

[TASK.scale]
function = "algos.algos.scale:function"
inputs = [ "x:SECTION", "factor:SECTION",]
outputs = [ "scaled:SECTION",]
skippable = "True:bool"

[SCENARIO.scenario]
tasks = [ "scale:SECTION",]
additional_data_nodes = []

[SCENARIO.scenario.comparators]

[SCENARIO.scenario.sequences]
"#;
    let config = load(text).unwrap();
    let graph = config.scenario("scenario").unwrap().clone();
    assert!(graph.tasks()[0].is_skippable());
    let scenario = Runtime::in_memory().create_scenario(graph, "s").unwrap();
    scenario.submit().unwrap().into_result().unwrap();
    assert_eq!(
        *scenario.node::<f64>("scaled").unwrap().read().unwrap(),
        30.0
    );
}

#[test]
fn exported_toml_loads_back_into_the_same_graph() {
    let graph = load(GOOD).unwrap().scenario("demo").unwrap().clone();
    let text = to_toml(&graph, &TypeRegistry::with_builtins()).unwrap();
    let again = Config::parse(
        &text,
        "export.toml",
        &tasks(),
        &TypeRegistry::with_builtins(),
    )
    .unwrap_or_else(|e| panic!("{e}\n{text}"));
    let reloaded = again.scenario("demo").unwrap();
    assert_eq!(
        reloaded.fingerprint().unwrap(),
        graph.fingerprint().unwrap()
    );
    assert_ne!(
        load(&GOOD.replace("default = 2.5", "default = 3.5"))
            .unwrap()
            .scenario("demo")
            .unwrap()
            .fingerprint()
            .unwrap(),
        graph.fingerprint().unwrap(),
        "a different default changes the fingerprint"
    );
}

#[test]
fn graph_pictures_style_data_nodes_and_tasks_differently() {
    let graph = load(GOOD).unwrap().scenario("demo").unwrap().clone();
    let mermaid = to_mermaid(&graph);
    assert!(mermaid.starts_with("flowchart LR\n"));
    assert!(mermaid.contains("n_x --> t_scale") && mermaid.contains("t_scale --> n_scaled"));
    assert!(mermaid.contains("class n_x,n_factor,n_scaled,n_text data"));
    assert!(mermaid.contains("class t_scale,t_describe task"));
    let dot = to_dot(&graph);
    assert!(dot.starts_with("digraph \"demo\" {"));
    assert!(dot.contains("\"node:x\" -> \"task:scale\";"));
    assert!(dot.contains("shape=ellipse") && dot.contains("shape=box"));
}

/// `GOOD` without the sections of the nodes the tasks write.
const INFERRED: &str = r#"
[DATA_NODE.x]
type = "f64"
default = 2.5

[DATA_NODE.factor]
default = 4
scope = "global"

[TASK.scale]
inputs = ["x", "factor"]
outputs = ["scaled"]

[TASK.describe]
inputs = ["scaled"]
outputs = ["text"]

[SCENARIO.demo]
tasks = ["scale", "describe"]
"#;

#[test]
fn nodes_a_task_writes_need_no_section_their_type_is_the_signature() {
    let config = load(INFERRED).unwrap_or_else(|e| panic!("{e}"));
    let graph = config.scenario("demo").unwrap().clone();
    let nodes: Vec<(&str, String)> = graph
        .nodes()
        .iter()
        .map(|n| (n.name(), n.value_type().name()))
        .collect();
    assert_eq!(
        nodes,
        [
            ("x", "f64".to_owned()),
            ("factor", "f64".to_owned()),
            ("scaled", "f64".to_owned()),
            ("text", "String".to_owned()),
        ]
    );
    let scenario = Runtime::in_memory().create_scenario(graph, "s").unwrap();
    scenario.submit().unwrap().into_result().unwrap();
    assert_eq!(
        *scenario.node::<String>("text").unwrap().read().unwrap(),
        "value 10"
    );
    // Declared or inferred, the graph is the same.
    assert_eq!(
        load(GOOD)
            .unwrap()
            .scenario("demo")
            .unwrap()
            .node(graph_node(&load(GOOD).unwrap(), "scaled"))
            .value_type(),
        config
            .scenario("demo")
            .unwrap()
            .node(graph_node(&config, "scaled"))
            .value_type()
    );
}

fn graph_node(config: &Config, name: &str) -> pipeline_core::graph::NodeId {
    config.scenario("demo").unwrap().node_id(name).unwrap()
}

#[test]
fn an_unknown_function_is_one_error_not_also_an_output_without_producer() {
    let errors = messages(&GOOD.replace("function = \"scale\"", "function = \"scael\""));
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(
        errors[0].starts_with("demo.toml:18:12: task `scale` uses function `scael`"),
        "{errors:#?}"
    );
    // Its outputs stay known, typed or not: the inferred `scaled` is no error either.
    let errors = messages(&INFERRED.replace("[TASK.scale]", "[TASK.scale]\nfunction = \"scael\""));
    assert_eq!(errors.len(), 1, "{errors:#?}");
}

#[test]
fn a_bad_default_is_one_error_not_also_a_missing_default() {
    let errors = messages(&GOOD.replace("default = 2.5", "default = \"lots\""));
    assert_eq!(
        errors,
        [
            "demo.toml:4:11: default of data node `x` is not a valid f64: expected a number, found a string"
        ]
    );
}

#[test]
fn a_bad_default_on_a_node_no_scenario_uses_is_reported() {
    let text = format!(
        "{GOOD}\n[DATA_NODE.spare]\ntype = \"f64\"\ndefault = \"lots\"\n\n[DATA_NODE.unlisted_input]\ndefault = true\n\n[TASK.unlisted]\nfunction = \"describe\"\ninputs = [\"unlisted_input\"]\noutputs = [\"unlisted_output\"]\n"
    );
    let errors = messages(&text);
    assert_eq!(
        errors,
        [
            "demo.toml:35:11: default of data node `spare` is not a valid f64: expected a number, found a string",
            // Typed by the task that reads it, though no scenario lists that task.
            "demo.toml:38:11: default of data node `unlisted_input` is not a valid f64: expected a number, found a boolean",
        ]
    );
}

#[test]
fn a_misspelt_output_leaves_its_reader_unfed_with_a_hint() {
    let errors = messages(&GOOD.replace("outputs = [\"scaled\"]", "outputs = [\"scaledd\"]"));
    assert_eq!(
        errors,
        [
            "demo.toml:24:11: data node `scaled` is read by task `describe` but no task of scenario `demo` produces it and it has no default; give [DATA_NODE.scaled] a `default` or add its producer to the scenario's `tasks`; task `scale` writes `scaledd`: did you mean `scaled` there?"
        ]
    );
}

#[test]
fn an_input_only_an_unlisted_task_writes_names_that_task() {
    let errors = messages(&INFERRED.replace(
        "tasks = [\"scale\", \"describe\"]",
        "tasks = [\"describe\"]",
    ));
    assert_eq!(
        errors,
        [
            "demo.toml:15:11: task `describe` names unknown data node `scaled` as an input; task `scale` writes it: add `scale` to scenario `demo`'s `tasks`"
        ]
    );
}

#[test]
fn an_inferred_type_that_differs_names_the_task_it_comes_from() {
    let text = INFERRED
        .replace("[TASK.describe]", "[TASK.describe]\nfunction = \"shout\"")
        .replace("outputs = [\"text\"]", "outputs = [\"loud\"]");
    let errors = messages(&text);
    assert_eq!(
        errors,
        [
            "demo.toml:16:11: data node `scaled` is f64 (the type output 1 of task `scale` gives it), but parameter 1 of function `shout` (task `describe`) is String"
        ]
    );
}

#[test]
fn a_sequence_listing_a_task_twice_is_an_error_as_in_the_macro() {
    let errors = messages(&GOOD.replace("first = [\"scale\"]", "first = [\"scale\", \"scale\"]"));
    assert_eq!(
        errors,
        ["demo.toml:31:19: task `scale` is listed twice in sequence `first`; remove one"]
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Mutated files never panic the loader: they load or return located errors.
    #[test]
    fn mutated_files_never_panic_the_loader(
        edits in proptest::collection::vec((0usize..GOOD.len(), 0u8..4, proptest::char::any()), 1..6)
    ) {
        let mut text: Vec<char> = GOOD.chars().collect();
        for (at, kind, c) in edits {
            let at = at % (text.len() + 1);
            match kind {
                0 => text.insert(at, c),
                1 if at < text.len() => { text.remove(at); }
                2 if at < text.len() => text[at] = c,
                _ => {
                    let snippet: Vec<char> = "\"]=[.".chars().collect();
                    text.insert(at, snippet[at % snippet.len()]);
                }
            }
        }
        let text: String = text.into_iter().collect();
        if let Err(errors) = load(&text) {
            prop_assert!(!errors.0.is_empty());
            for error in errors.0 {
                prop_assert!(error.line >= 1 && error.column >= 1);
            }
        }
    }
}

/// A graph whose defaults TOML has no form for: `None`, and a list holding
/// one; beside them, an optional default that TOML writes.
fn optional_defaults() -> (pipeline_core::graph::Graph, TaskRegistry) {
    use pipeline_core::graph::{GraphBuilder, NodeSpec, TaskSpec};
    let label = TaskDef::from_fn2(
        "label",
        "1",
        |region: &Option<String>, note: &Option<String>| format!("{region:?} {note:?}"),
    );
    let graph = GraphBuilder::new("customer")
        .node(NodeSpec::new::<Option<String>>("region").with_default(None))
        .node(NodeSpec::new::<Option<String>>("note").with_default(Some("null".to_owned())))
        .node(NodeSpec::new::<Vec<Option<i64>>>("tags").with_default(vec![Some(1), None]))
        .node(NodeSpec::new::<String>("text"))
        .task(
            TaskSpec::new(label.clone())
                .inputs(["region", "note"])
                .outputs(["text"]),
        )
        .build()
        .unwrap();
    (graph, TaskRegistry::new().with(label, false))
}

#[test]
fn defaults_toml_cannot_write_are_exported_as_json_and_load_back_equal() {
    let (graph, tasks) = optional_defaults();
    let types = TypeRegistry::with_builtins()
        .with_type::<Option<String>>()
        .with_type::<Vec<Option<i64>>>();
    let text = to_toml(&graph, &types).unwrap();
    assert!(text.contains("default_json = \"null\""), "{text}");
    assert!(text.contains("default_json = \"[1,null]\""), "{text}");
    assert!(
        text.contains("default = \"null\""),
        "a Some is native TOML: {text}"
    );
    let again = Config::parse(&text, "export.toml", &tasks, &types)
        .unwrap_or_else(|e| panic!("{e}\n{text}"));
    let reloaded = again.scenario("customer").unwrap();
    assert_eq!(
        reloaded.fingerprint().unwrap(),
        graph.fingerprint().unwrap()
    );
    let default = |name: &str| {
        let node = reloaded.node(reloaded.node_id(name).unwrap());
        node.default_fn().expect("a default")()
    };
    assert_eq!(
        default("region").downcast_ref::<Option<String>>(),
        Some(&None)
    );
    assert_eq!(
        default("note").downcast_ref::<Option<String>>(),
        Some(&Some("null".to_owned()))
    );
    assert_eq!(
        default("tags").downcast_ref::<Vec<Option<i64>>>(),
        Some(&vec![Some(1), None])
    );
}

#[test]
fn a_bad_default_json_is_located_and_said_why() {
    let (graph, tasks) = optional_defaults();
    let types = TypeRegistry::with_builtins().with_type::<Option<String>>();
    let text = to_toml(&graph, &types.clone().with_type::<Vec<Option<i64>>>()).unwrap();
    let parse = |text: &str| {
        let errors = Config::parse(
            text,
            "c.toml",
            &tasks,
            &types.clone().with_type::<Vec<Option<i64>>>(),
        )
        .unwrap_err();
        errors
            .0
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    };
    let broken = text.replace("default_json = \"null\"", "default_json = \"nul\"");
    let error = parse(&broken);
    assert!(
        error.contains("`default_json` is not valid JSON"),
        "{error}"
    );
    assert!(error.contains("c.toml:"), "located: {error}");
    let both = text.replace(
        "default_json = \"null\"",
        "default_json = \"null\"\ndefault = \"x\"",
    );
    let error = parse(&both);
    assert!(
        error.contains("give one of `default`, `default_data` and `default_json`"),
        "{error}"
    );
    let wrong = text.replace("default_json = \"null\"", "default_json = \"[1]\"");
    let error = parse(&wrong);
    assert!(
        error.contains("default of data node `region` is not a valid Option<String>"),
        "{error}"
    );
}
