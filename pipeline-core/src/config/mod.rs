//! Scenarios declared in TOML (the role of Taipy Studio's `config.toml`; files
//! Taipy's `Config.backup` writes load too), checked at load time by the same
//! graph rules `scenario!` checks at compile time (`pipeline-graph-rules`),
//! each problem reported once with its line, and exports of any graph to TOML,
//! Mermaid and Graphviz DOT.
//!
//! The format is documented in `docs/config.md`. In short (`y` needs no
//! section: the task writing it gives its type):
//!
//! ```
//! use pipeline_core::task::TaskDef;
//! use pipeline_core::config::{Config, TaskRegistry, TypeRegistry};
//!
//! let text = r#"
//! [DATA_NODE.x]
//! type = "i64"
//! default = 21
//!
//! [TASK.double]
//! function = "double"
//! inputs = ["x"]
//! outputs = ["y"]
//! skippable = true
//!
//! [SCENARIO.doubling]
//! tasks = ["double"]
//! "#;
//! let tasks = TaskRegistry::new().with(TaskDef::from_fn1("double", "1", |x: &i64| x * 2), false);
//! let config = Config::parse(text, "doubling.toml", &tasks, &TypeRegistry::with_builtins()).unwrap();
//! let graph = config.scenario("doubling").unwrap();
//! assert_eq!(graph.tasks()[0].name(), "double");
//!
//! // Every problem is reported with its line and column.
//! let broken = text.replace(r#"inputs = ["x"]"#, r#"inputs = ["z"]"#);
//! let errors = Config::parse(&broken, "doubling.toml", &tasks, &TypeRegistry::with_builtins()).unwrap_err();
//! assert!(errors.to_string().starts_with("doubling.toml:8:11: task `double` names unknown data node `z`"));
//! ```

mod build;
mod decl;
mod document;
mod export;
mod findings;
mod location;
mod reader;
mod taipy;
mod tasks;
mod templates;
mod types;
mod values;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use export::{ExportError, to_dot, to_mermaid, to_toml};
pub use location::{ConfigError, ConfigErrors};
pub use tasks::{RegisteredTask, TaskLookupError, TaskRegistry};
pub use types::{TypeEntry, TypeRegistry};
pub use values::ConfigValue;

use crate::graph::Graph;
use crate::submit_options::SubmitOptions;
use location::Source;

/// A loaded, validated configuration: one graph per `[SCENARIO.<id>]`.
#[derive(Debug, Clone)]
pub struct Config {
    file: PathBuf,
    scenarios: Vec<(String, Arc<Graph>)>,
    max_workers: Option<usize>,
}

impl Config {
    /// Reads and checks a configuration file.
    pub fn load(
        path: impl AsRef<Path>,
        tasks: &TaskRegistry,
        types: &TypeRegistry,
    ) -> Result<Self, ConfigErrors> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: path.to_owned(),
            line: 1,
            column: 1,
            message: format!("cannot read the configuration: {e}"),
        })?;
        Self::parse(&text, path, tasks, types)
    }

    /// Checks configuration text; `file` names it in error messages.
    /// `ENV[NAME]` values read the process environment.
    pub fn parse(
        text: &str,
        file: impl Into<PathBuf>,
        tasks: &TaskRegistry,
        types: &TypeRegistry,
    ) -> Result<Self, ConfigErrors> {
        Self::parse_with_env(text, file, tasks, types, &|name| std::env::var(name).ok())
    }

    fn parse_with_env(
        text: &str,
        file: impl Into<PathBuf>,
        tasks: &TaskRegistry,
        types: &TypeRegistry,
        env: values::Env<'_>,
    ) -> Result<Self, ConfigErrors> {
        let source = Source::new(file, text);
        let (document, mut errors) = document::read(&source, env).map_err(ConfigErrors)?;
        let (scenarios, more) = build::build(&source, &document, tasks, types);
        errors.extend(more);
        if errors.is_empty() && document.scenarios.is_empty() {
            errors.push(source.error(
                0..0,
                "no [SCENARIO.<id>] section: declare at least one scenario",
            ));
        }
        if !errors.is_empty() {
            errors.sort_by_key(|e| (e.line, e.column));
            errors.dedup();
            return Err(ConfigErrors(errors));
        }
        Ok(Self {
            file: source.file.to_path_buf(),
            scenarios,
            max_workers: document.job.max_workers,
        })
    }

    /// The file the configuration came from.
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// The graph of `[SCENARIO.<id>]`.
    pub fn scenario(&self, id: &str) -> Option<&Arc<Graph>> {
        self.scenarios
            .iter()
            .find(|(name, _)| name == id)
            .map(|(_, g)| g)
    }

    /// How many tasks the file asks to run at once: Taipy's `[JOB]`
    /// `max_nb_of_workers`, else one in `mode = "development"` (Taipy runs jobs
    /// one at a time there) and two in `mode = "standalone"` (Taipy's default);
    /// `None` without a `[JOB]` section.
    pub fn max_workers(&self) -> Option<usize> {
        self.max_workers
    }

    /// Submit options carrying [`Config::max_workers`], if the file sets it.
    pub fn submit_options(&self) -> SubmitOptions {
        match self.max_workers {
            Some(workers) => SubmitOptions::new().max_workers(workers),
            None => SubmitOptions::new(),
        }
    }

    /// Every scenario, in file order.
    pub fn scenarios(&self) -> impl Iterator<Item = (&str, &Arc<Graph>)> {
        self.scenarios
            .iter()
            .map(|(name, graph)| (name.as_str(), graph))
    }
}
