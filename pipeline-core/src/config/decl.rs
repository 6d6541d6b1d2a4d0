//! What a configuration declares, each piece with where it came from: the
//! data nodes, tasks and scenarios of a file, with its `default` sections
//! applied (read by `document`, checked and built by `findings` and `build`).

use super::location::Located;
use super::taipy::JobSettings;
use super::values::ConfigValue;
use crate::graph::Scope;
use crate::resources::Resources;

/// A `[DATA_NODE.<id>]`, with `[DATA_NODE.default]` applied.
#[derive(Debug, Clone)]
pub(crate) struct NodeDecl {
    pub(crate) id: Located<String>,
    pub(crate) type_name: Option<Located<String>>,
    pub(crate) default: Option<NodeDefault>,
    pub(crate) scope: Scope,
}

/// A data node's default value, and whether it came from `[DATA_NODE.default]`.
#[derive(Debug, Clone)]
pub(crate) struct NodeDefault {
    pub(crate) value: Located<DefaultValue>,
    pub(crate) inherited: bool,
}

/// A default as a file gives it.
#[derive(Debug, Clone)]
pub(crate) enum DefaultValue {
    /// `default` (or Taipy's `default_data`): a TOML value.
    Toml(ConfigValue),
    /// `default_json`: the type's JSON form, for what TOML cannot write
    /// (`null`: an `Option`'s `None`).
    Json(serde_json::Value),
}

/// What `[DATA_NODE.default]` gives a data node that no section declares (a
/// task's output whose type the task's signature tells).
#[derive(Debug, Clone, Default)]
pub(crate) struct NodeTemplate {
    pub(crate) default: Option<NodeDefault>,
    pub(crate) scope: Scope,
}

/// A `[TASK.<id>]`, with `[TASK.default]` applied.
#[derive(Debug, Clone)]
pub(crate) struct TaskDecl {
    pub(crate) id: Located<String>,
    pub(crate) function: Option<Located<String>>,
    pub(crate) inputs: Vec<Located<String>>,
    pub(crate) outputs: Vec<Located<String>>,
    pub(crate) skippable: Option<bool>,
    /// `cpus`, `memory`, `time`, `partition` (with `[TASK.default]`'s):
    /// override what the function's `#[task]` asks for.
    pub(crate) resources: Resources,
}

/// A sequence: its name and its tasks' names.
pub(crate) type SequenceDecl = (Located<String>, Vec<Located<String>>);

/// A `[SCENARIO.<id>]`, with `[SCENARIO.default]` applied.
#[derive(Debug, Clone)]
pub(crate) struct ScenarioDecl {
    pub(crate) id: Located<String>,
    pub(crate) tasks: Vec<Located<String>>,
    pub(crate) additional_nodes: Vec<Located<String>>,
    pub(crate) sequences: Vec<SequenceDecl>,
}

/// Everything a file declares.
#[derive(Debug, Clone, Default)]
pub(crate) struct Document {
    pub(crate) nodes: Vec<NodeDecl>,
    pub(crate) tasks: Vec<TaskDecl>,
    pub(crate) scenarios: Vec<ScenarioDecl>,
    pub(crate) node_template: NodeTemplate,
    pub(crate) job: JobSettings,
}
