//! Scenarios declared with `scenario!` over `#[task]` functions, run on the
//! in-memory runtime: what the generated API promises, one behaviour per test.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use pipeline_core::code::{CodeIdentity, CodePart, CodeSource};
use pipeline_core::graph::Scope;
use pipeline_core::task::TaskDef;
use pipeline_core::value::ValueType;
use pipeline_core::{JobStatus, Runtime, SubmitOptions, scenario, task};

// ---------------------------------------------------------------------------
// A small pricing pipeline: borrowed, sliced and by-value inputs, a tuple output.
// ---------------------------------------------------------------------------

/// Applies a discount rate to every price.
#[task(skippable)]
fn discount(prices: &[f64], rate: &f64) -> Vec<f64> {
    prices.iter().map(|p| p * (1.0 - rate)).collect()
}

#[task(skippable)]
fn total(discounted: &[f64]) -> f64 {
    discounted.iter().sum()
}

/// Takes its input by value: the task receives a clone of the node's value.
#[task(skippable)]
fn extremes(mut discounted: Vec<f64>) -> (f64, f64) {
    discounted.sort_by(f64::total_cmp);
    (discounted[0], discounted[discounted.len() - 1])
}

scenario! {
    /// Prices, discounted, summed and bounded.
    pub struct Pricing {
        data {
            /// The list prices.
            prices: Vec<f64> = vec![10.0, 20.0, 30.0],
            /// One rate for every scenario.
            global rate: f64 = 0.5,
            discounted: Vec<f64>,
            total_price: f64,
            cheapest: f64,
            dearest: f64,
        }
        tasks {
            discount(prices, rate) -> discounted,
            total(discounted) -> total_price,
            extremes(discounted) -> (cheapest, dearest),
        }
        sequences {
            /// Everything the invoice needs.
            invoicing = [discount, total],
        }
    }
}

fn sorted(mut names: Vec<&str>) -> Vec<&str> {
    names.sort_unstable();
    names
}

#[test]
fn a_declared_scenario_runs_every_task_and_fills_its_nodes() {
    let runtime = Runtime::in_memory();
    let pricing = Pricing::create(&runtime, "spring").unwrap();

    let submission = pricing.submit().unwrap();

    assert!(submission.is_success());
    assert_eq!(
        sorted(submission.tasks_with(JobStatus::Completed)),
        ["discount", "extremes", "total"]
    );
    assert_eq!(*pricing.discounted().read().unwrap(), [5.0, 10.0, 15.0]);
    assert_eq!(*pricing.total_price().read().unwrap(), 30.0);
    assert_eq!(*pricing.cheapest().read().unwrap(), 5.0);
    assert_eq!(*pricing.dearest().read().unwrap(), 15.0);
}

#[test]
fn resubmitting_unchanged_inputs_skips_every_skippable_task() {
    let runtime = Runtime::in_memory();
    let pricing = Pricing::create(&runtime, "spring").unwrap();
    pricing.submit().unwrap();

    let again = pricing.submit().unwrap();

    assert_eq!(
        sorted(again.tasks_with(JobStatus::Skipped)),
        ["discount", "extremes", "total"]
    );
}

#[test]
fn writing_a_node_through_its_accessor_reruns_its_consumers() {
    let runtime = Runtime::in_memory();
    let pricing = Pricing::create(&runtime, "spring").unwrap();
    pricing.submit().unwrap();

    pricing.prices().write(vec![100.0]).unwrap();
    let submission = pricing.submit().unwrap();

    assert_eq!(
        sorted(submission.tasks_with(JobStatus::Completed)),
        ["discount", "extremes", "total"]
    );
    assert_eq!(*pricing.total_price().read().unwrap(), 50.0);
}

#[test]
fn submit_forced_runs_even_skippable_tasks() {
    let runtime = Runtime::in_memory();
    let pricing = Pricing::create(&runtime, "spring").unwrap();
    pricing.submit().unwrap();

    let forced = pricing.submit_forced().unwrap();

    assert_eq!(forced.tasks_with(JobStatus::Skipped), Vec::<&str>::new());
}

#[test]
fn global_nodes_are_shared_between_scenarios_of_one_type() {
    let runtime = Runtime::in_memory();
    let spring = Pricing::create(&runtime, "spring").unwrap();
    let autumn = Pricing::create(&runtime, "autumn").unwrap();

    spring.rate().write(0.25).unwrap();
    spring.prices().write(vec![40.0]).unwrap();

    assert_eq!(*autumn.rate().read().unwrap(), 0.25);
    assert_eq!(*autumn.prices().read().unwrap(), [10.0, 20.0, 30.0]);
    autumn.submit().unwrap();
    assert_eq!(*autumn.total_price().read().unwrap(), 45.0);
}

#[test]
fn submitting_a_sequence_runs_only_its_tasks() {
    let runtime = Runtime::in_memory();
    let pricing = Pricing::create(&runtime, "spring").unwrap();

    let submission = pricing.submit_sequence(PricingSequence::Invoicing).unwrap();

    assert_eq!(
        sorted(submission.tasks_with(JobStatus::Completed)),
        ["discount", "total"]
    );
    assert!(submission.job("extremes").is_none());
    assert!(pricing.cheapest().read().is_err());
}

#[test]
fn submitting_one_task_runs_only_that_task() {
    let runtime = Runtime::in_memory();
    let pricing = Pricing::create(&runtime, "spring").unwrap();

    let submission = pricing.submit_task(PricingTask::Discount).unwrap();

    assert_eq!(submission.tasks_with(JobStatus::Completed), ["discount"]);
    assert_eq!(submission.jobs.len(), 1);
    assert!(pricing.total_price().read().is_err());
}

#[test]
fn task_and_sequence_enums_convert_to_submit_targets() {
    let runtime = Runtime::in_memory();
    let pricing = Pricing::create(&runtime, "spring").unwrap();

    let options = SubmitOptions::new()
        .target(PricingTask::Discount.into())
        .max_workers(1);
    let submission = pricing.submit_with(&options).unwrap();

    assert_eq!(submission.tasks_with(JobStatus::Completed), ["discount"]);
    assert_eq!(
        PricingTask::ALL.map(PricingTask::name),
        ["discount", "total", "extremes"]
    );
    assert_eq!(PricingSequence::Invoicing.to_string(), "invoicing");
}

#[test]
fn find_or_create_returns_the_existing_scenario() {
    let runtime = Runtime::in_memory();
    let first = Pricing::find_or_create(&runtime, "spring").unwrap();
    first.prices().write(vec![1.0]).unwrap();

    let again = Pricing::find_or_create(&runtime, "spring").unwrap();

    assert_eq!(again.scenario().id(), first.scenario().id());
    assert_eq!(*again.prices().read().unwrap(), [1.0]);
    assert!(Pricing::find(&runtime, "winter").unwrap().is_none());
    let opened = Pricing::open(&runtime, first.scenario().id()).unwrap();
    assert_eq!(opened.scenario().name(), "spring");
}

#[test]
fn the_generated_graph_records_types_defaults_scopes_and_flags() {
    let graph = Pricing::graph();

    assert_eq!(graph.name(), Pricing::NAME);
    assert_eq!(Pricing::NAME, "Pricing");
    let rate = graph.node(graph.node_id("rate").unwrap());
    assert_eq!(rate.scope(), Scope::Global);
    assert_eq!(rate.value_type(), ValueType::of::<f64>());
    assert!(rate.has_default());
    let discounted = graph.node(graph.node_id("discounted").unwrap());
    assert_eq!(discounted.scope(), Scope::Scenario);
    assert!(!discounted.has_default());
    let discount = graph.task(graph.task_id("discount").unwrap());
    assert!(discount.is_skippable());
    assert_eq!(
        discount.def().inputs(),
        [ValueType::of::<Vec<f64>>(), ValueType::of::<f64>()]
    );
    assert_eq!(discount.def().outputs(), [ValueType::of::<Vec<f64>>()]);
    assert_eq!(graph.sequence("invoicing").unwrap().tasks().len(), 2);
    assert!(std::sync::Arc::ptr_eq(&graph, &Pricing::graph()));
}

#[test]
fn from_scenario_accepts_its_own_type_and_refuses_another() {
    let runtime = Runtime::in_memory();
    let pricing = Pricing::create(&runtime, "spring").unwrap();
    let untyped = pricing.clone().into_scenario();
    assert!(Pricing::from_scenario(untyped).is_ok());

    let other = Failing::create(&runtime, "other").unwrap();
    let error = Pricing::try_from(other.into_scenario()).unwrap_err();
    assert!(error.to_string().contains("of type `Pricing`"), "{error}");
}

#[test]
fn task_functions_stay_callable_directly() {
    assert_eq!(discount(&[10.0, 20.0], &0.5), [5.0, 10.0]);
    assert_eq!(total(&[1.0, 2.0]), 3.0);
    assert_eq!(extremes(vec![3.0, 1.0, 2.0]), (1.0, 3.0));
    assert_eq!(parse_count("12"), Ok(12));
}

// ---------------------------------------------------------------------------
// Failures: an `Err` and a panic fail the job with their message.
// ---------------------------------------------------------------------------

#[task]
fn parse_count(text: &str) -> Result<i64, std::num::ParseIntError> {
    text.trim().parse()
}

#[task]
fn explode(count: &i64) -> i64 {
    if *count < 0 {
        panic!("negative count {count}");
    }
    *count
}

#[task]
fn split_count(count: &i64) -> Result<(i64, i64), String> {
    if *count % 2 == 1 {
        return Err(format!("{count} is odd"));
    }
    Ok((count / 2, count / 2))
}

scenario! {
    struct Failing {
        data {
            text: String = "12".to_owned(),
            count: i64,
            checked: i64,
            left: i64,
            right: i64,
        }
        tasks {
            parse_count(text) -> count,
            explode(count) -> checked,
            split_count(checked) -> (left, right),
        }
    }
}

#[test]
fn an_err_fails_the_job_with_its_display_text_and_abandons_dependents() {
    let runtime = Runtime::in_memory();
    let failing = Failing::create(&runtime, "f").unwrap();
    failing.text().write("twelve".to_owned()).unwrap();

    let submission = failing.submit().unwrap();

    let job = submission.job("parse_count").unwrap();
    assert_eq!(job.status, JobStatus::Failed);
    assert_eq!(job.error.as_deref(), Some("invalid digit found in string"));
    assert_eq!(submission.status("explode"), Some(JobStatus::Abandoned));
}

#[test]
fn a_panic_fails_the_job_with_the_panic_message() {
    let runtime = Runtime::in_memory();
    let failing = Failing::create(&runtime, "f").unwrap();
    failing.text().write("-3".to_owned()).unwrap();

    let submission = failing.submit().unwrap();

    let job = submission.job("explode").unwrap();
    assert_eq!(job.status, JobStatus::Failed);
    assert!(
        job.error.as_deref().unwrap().contains("negative count -3"),
        "{job:?}"
    );
}

#[test]
fn a_fallible_task_with_a_tuple_writes_each_output_or_fails() {
    let runtime = Runtime::in_memory();
    let failing = Failing::create(&runtime, "f").unwrap();

    assert!(failing.submit().unwrap().is_success());
    assert_eq!(*failing.left().read().unwrap(), 6);
    assert_eq!(*failing.right().read().unwrap(), 6);

    failing.text().write("7".to_owned()).unwrap();
    let submission = failing.submit().unwrap();
    assert_eq!(
        submission.job("split_count").unwrap().error.as_deref(),
        Some("7 is odd")
    );
}

#[test]
fn tasks_without_skippable_always_run() {
    let runtime = Runtime::in_memory();
    let failing = Failing::create(&runtime, "f").unwrap();
    failing.submit().unwrap();

    let again = failing.submit().unwrap();

    assert_eq!(
        sorted(again.tasks_with(JobStatus::Completed)),
        ["explode", "parse_count", "split_count"]
    );
}

// ---------------------------------------------------------------------------
// Code identities: what `#[task]` records about the code, and `version = "…"`.
// ---------------------------------------------------------------------------

/// Both versions register as `double`, so one scenario can run either.
#[task(skippable, version = "1", name = "double")]
fn double_v1(x: &i64) -> i64 {
    x * 2
}

#[task(skippable, version = "2", name = "double")]
fn double_v2(x: &i64) -> i64 {
    x * 2
}

mod version_1 {
    use super::double_v1;
    pipeline_core::scenario! {
        pub struct Doubling {
            data { x: i64 = 21, y: i64 }
            tasks { double_v1(x) -> y }
        }
    }
}

mod version_2 {
    use super::double_v2;
    pipeline_core::scenario! {
        pub struct Doubling {
            data { x: i64 = 21, y: i64 }
            tasks { double_v2(x) -> y }
        }
    }
}

fn parts(code: &CodeIdentity) -> Vec<CodePart> {
    code.parts().iter().map(|(part, _)| *part).collect()
}

#[test]
fn a_version_replaces_the_task_tokens_and_crate_sources_but_not_dependencies_or_compiler() {
    let v1 = version_1::Doubling::graph().tasks()[0].def().code().clone();
    let v2 = version_2::Doubling::graph().tasks()[0].def().code().clone();

    assert_eq!(
        parts(&v1),
        [
            CodePart::Version,
            CodePart::Dependencies,
            CodePart::Compiler
        ]
    );
    assert_eq!(
        v1.part(CodePart::Version),
        Some(TaskDef::code_fingerprint_of("1"))
    );
    assert_eq!(v2.changed_since(&v1), [CodePart::Version]);
    let unpinned = Pricing::graph().tasks()[0].def().code().clone();
    assert_eq!(
        v1.part(CodePart::Dependencies),
        unpinned.part(CodePart::Dependencies)
    );
    assert_eq!(
        v1.part(CodePart::Compiler),
        unpinned.part(CodePart::Compiler)
    );
    assert!(
        v1.sources()
            .iter()
            .all(|source| source.part() == CodePart::Dependencies),
        "a pinned task lists no crate source: {:?}",
        v1.sources()
    );
}

#[test]
fn a_new_version_reruns_the_task_on_the_same_store() {
    let runtime = Runtime::in_memory();
    let old = version_1::Doubling::find_or_create(&runtime, "s").unwrap();
    old.submit().unwrap();
    assert_eq!(
        old.submit().unwrap().tasks_with(JobStatus::Skipped),
        ["double"]
    );

    let new = version_2::Doubling::find_or_create(&runtime, "s").unwrap();
    assert_eq!(new.scenario().id(), old.scenario().id());
    let submission = new.submit().unwrap();

    assert_eq!(submission.tasks_with(JobStatus::Completed), ["double"]);
    assert_eq!(
        new.submit().unwrap().tasks_with(JobStatus::Skipped),
        ["double"]
    );
}

#[test]
fn without_a_version_the_code_covers_tokens_crate_sources_dependencies_and_compiler() {
    let graph = Pricing::graph();
    let discount = graph.task(graph.task_id("discount").unwrap()).def();
    let total = graph.task(graph.task_id("total").unwrap()).def();
    let code = discount.code();

    assert_eq!(
        parts(code),
        [
            CodePart::TaskTokens,
            CodePart::CrateSources,
            CodePart::Dependencies,
            CodePart::Compiler
        ]
    );
    // One function's tokens, one crate's sources.
    assert_eq!(total.code().changed_since(code), [CodePart::TaskTokens]);
    let labels = |part: CodePart| -> Vec<&str> {
        code.sources()
            .iter()
            .filter(|source| source.part() == part)
            .map(CodeSource::label)
            .collect()
    };
    assert!(
        code.sources()
            .iter()
            .all(|s| s.unreadable_reason().is_none()),
        "{:?}",
        code.sources()
    );
    // This file is the crate root of this test; the package's library too.
    assert!(labels(CodePart::CrateSources).contains(&"macros.rs"));
    assert!(labels(CodePart::CrateSources).contains(&"src/lib.rs"));
    // Another test target of the package is not this crate.
    assert!(!labels(CodePart::CrateSources).contains(&"ui.rs"));
    // Path dependencies by their sources, registry ones from Cargo.lock.
    for dependency in [
        "Cargo.toml",
        "pipeline-core",
        "pipeline-macros",
        "serde",
        "trybuild",
    ] {
        assert!(
            labels(CodePart::Dependencies).contains(&dependency),
            "{dependency} missing from {:?}",
            labels(CodePart::Dependencies)
        );
    }
}

/// Reads two environment variables (their values go into the task's key).
#[task(skippable, env = ["PIPELINE_TESTS_REGION", "PIPELINE_TESTS_MODE"])]
fn regional(x: &i64) -> i64 {
    x + 1
}

#[task(skippable)]
fn not_regional(x: &i64) -> i64 {
    x + 1
}

#[test]
fn declared_environment_variables_are_in_the_code_identity_sorted() {
    let def = |name| pipeline_core::task::registered_task(name).unwrap().def();
    let regional = def("regional");
    let plain = def("not_regional");

    let env: Vec<&str> = regional.code().env().iter().map(|name| &**name).collect();
    assert_eq!(env, ["PIPELINE_TESTS_MODE", "PIPELINE_TESTS_REGION"]);
    assert!(plain.code().env().is_empty());
    assert_eq!(
        regional.code().part(CodePart::Dependencies),
        plain.code().part(CodePart::Dependencies)
    );
    assert_ne!(regional.code_fingerprint(), plain.code_fingerprint());
}

#[test]
fn a_task_named_in_a_toml_scenario_has_the_code_identity_of_its_function() {
    use pipeline_core::config::{Config, TaskRegistry, TypeRegistry};
    let text = r#"
[DATA_NODE.x]
type = "i64"
default = 1

[DATA_NODE.y]
type = "i64"

[TASK.regional]
function = "regional"
inputs = ["x"]
outputs = ["y"]

[SCENARIO.regions]
tasks = ["regional"]
"#;
    let config = Config::parse(
        text,
        "regions.toml",
        &TaskRegistry::collected(),
        &TypeRegistry::with_builtins(),
    )
    .unwrap();
    let graph = config.scenario("regions").unwrap();
    let from_toml = graph.tasks()[0].def();
    let registered = pipeline_core::task::registered_task("regional")
        .unwrap()
        .def();

    assert_eq!(from_toml.code(), registered.code());
    assert_eq!(from_toml.code().parts().len(), 4);
    assert_eq!(from_toml.code().env().len(), 2);
}

// ---------------------------------------------------------------------------
// One function used twice, renamed, and the run-time registry.
// ---------------------------------------------------------------------------

#[task(skippable)]
fn word_count(text: &str) -> usize {
    text.split_whitespace().count()
}

#[task(skippable)]
fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[task(name = "merge_counts")]
fn merge(a: &usize, b: &usize) -> BTreeMap<String, usize> {
    BTreeMap::from([("a".to_owned(), *a), ("b".to_owned(), *b)])
}

scenario! {
    struct Counting {
        data {
            title: String = "a tale of two cities".to_owned(),
            body: String = "it was the best of times".to_owned(),
            source: PathBuf = PathBuf::from("books/tale.txt"),
            title_words: usize,
            body_words: usize,
            source_name: String,
            counts: BTreeMap<String, usize>,
        }
        tasks {
            word_count(title) -> title_words as count_title,
            word_count(body) -> body_words as count_body,
            file_name(source) -> source_name,
            merge(title_words, body_words) -> counts,
        }
        sequences {
            titles = [count_title],
        }
    }
}

#[test]
fn one_function_runs_twice_under_the_names_given_with_as() {
    let runtime = Runtime::in_memory();
    let counting = Counting::create(&runtime, "c").unwrap();

    let submission = counting.submit().unwrap();

    assert!(submission.is_success(), "{submission:?}");
    assert_eq!(*counting.title_words().read().unwrap(), 5);
    assert_eq!(*counting.body_words().read().unwrap(), 6);
    assert_eq!(*counting.source_name().read().unwrap(), "tale.txt");
    assert_eq!(CountingTask::CountTitle.name(), "count_title");
    assert_eq!(CountingTask::Merge.name(), "merge_counts");
    assert_eq!(
        counting
            .submit_sequence(CountingSequence::Titles)
            .unwrap()
            .tasks_with(JobStatus::Skipped),
        ["count_title"]
    );
}

#[test]
fn registered_tasks_are_found_by_name() {
    use pipeline_core::__private::{registered_task, registered_tasks, registered_tasks_named};

    let merge = registered_task("merge_counts").expect("merge is registered");
    assert!(!merge.skippable());
    assert_eq!(merge.module_path(), module_path!());
    assert_eq!(
        merge.def().inputs(),
        [ValueType::of::<usize>(), ValueType::of::<usize>()]
    );
    assert!(registered_task("discount").unwrap().skippable());
    // Two functions registered as `double`: the name alone is ambiguous.
    assert_eq!(registered_tasks_named("double").count(), 2);
    assert!(registered_task("double").is_none());
    assert!(registered_tasks().count() >= 10);
}
