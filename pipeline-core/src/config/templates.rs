//! Taipy's `default` sections: `[DATA_NODE.default]`, `[TASK.default]` and
//! `[SCENARIO.default]` are templates, never entities of their own, applied to
//! the sections as written the way Taipy applies them.

use super::decl::{
    DefaultValue, Document, NodeDecl, NodeDefault, NodeTemplate, ScenarioDecl, SequenceDecl,
    TaskDecl,
};
use super::location::Located;
use crate::graph::Scope;
use crate::resources::Resources;

/// A data node section as written, before `[DATA_NODE.default]` is applied.
pub(super) struct RawNode {
    pub(super) id: Located<String>,
    pub(super) type_name: Option<Located<String>>,
    pub(super) default: Option<Located<DefaultValue>>,
    pub(super) scope: Option<Scope>,
    pub(super) storage_type: Option<String>,
}

/// A task section as written, before `[TASK.default]` is applied.
pub(super) struct RawTask {
    pub(super) id: Located<String>,
    pub(super) function: Option<Located<String>>,
    pub(super) inputs: Option<Vec<Located<String>>>,
    pub(super) outputs: Option<Vec<Located<String>>>,
    pub(super) skippable: Option<bool>,
    pub(super) resources: Resources,
}

/// A scenario section as written, before `[SCENARIO.default]` is applied.
pub(super) struct RawScenario {
    pub(super) id: Located<String>,
    pub(super) tasks: Option<Vec<Located<String>>>,
    pub(super) additional_nodes: Option<Vec<Located<String>>>,
    pub(super) sequences: Option<Vec<SequenceDecl>>,
}

/// Every section as written.
#[derive(Default)]
pub(super) struct Raw {
    pub(super) nodes: Vec<RawNode>,
    pub(super) tasks: Vec<RawTask>,
    pub(super) scenarios: Vec<RawScenario>,
    pub(super) node_default: Option<RawNode>,
    pub(super) task_default: Option<RawTask>,
    pub(super) scenario_default: Option<RawScenario>,
}

/// Applies the `default` templates the way Taipy does: a data node of the
/// template's `storage_type` (its own, or the template's when it has none)
/// takes the template's `scope` and `default_data` unless it gives its own; a
/// task without `inputs` or `outputs` takes the template's, and its resources
/// (`cpus`, `memory`, `time`, `partition`) fill in those it does not set (never its
/// `function` or `skippable`); a scenario without `tasks`,
/// `additional_data_nodes` or `sequences` takes the template's.
pub(super) fn apply_templates(raw: Raw, document: &mut Document) {
    let node_default = raw.node_default.as_ref();
    let inherit = |storage_type: &Option<String>| -> (Option<Scope>, Option<NodeDefault>) {
        let Some(template) = node_default else {
            return (None, None);
        };
        let storage = storage_type.as_ref().or(template.storage_type.as_ref());
        if storage != template.storage_type.as_ref() {
            return (None, None);
        }
        let default = template.default.clone().map(|value| NodeDefault {
            value,
            inherited: true,
        });
        (template.scope, default)
    };
    for node in raw.nodes {
        let (scope, default) = inherit(&node.storage_type);
        document.nodes.push(NodeDecl {
            id: node.id,
            type_name: node.type_name,
            default: node
                .default
                .map(|value| NodeDefault {
                    value,
                    inherited: false,
                })
                .or(default),
            scope: node.scope.or(scope).unwrap_or_default(),
        });
    }
    let (scope, default) = inherit(&None);
    document.node_template = NodeTemplate {
        default,
        scope: scope.unwrap_or_default(),
    };
    let task_default = raw.task_default.as_ref();
    for task in raw.tasks {
        let from_template = |pick: fn(&RawTask) -> &Option<Vec<Located<String>>>| {
            task_default
                .and_then(|t| pick(t).clone())
                .unwrap_or_default()
        };
        document.tasks.push(TaskDecl {
            inputs: task.inputs.unwrap_or_else(|| from_template(|t| &t.inputs)),
            outputs: task
                .outputs
                .unwrap_or_else(|| from_template(|t| &t.outputs)),
            id: task.id,
            function: task.function,
            skippable: task.skippable,
            resources: task_default
                .map_or_else(Resources::new, |t| t.resources.clone())
                .overridden_by(&task.resources),
        });
    }
    let scenario_default = raw.scenario_default.as_ref();
    for scenario in raw.scenarios {
        document.scenarios.push(ScenarioDecl {
            tasks: scenario
                .tasks
                .or_else(|| scenario_default.and_then(|s| s.tasks.clone()))
                .unwrap_or_default(),
            additional_nodes: scenario
                .additional_nodes
                .or_else(|| scenario_default.and_then(|s| s.additional_nodes.clone()))
                .unwrap_or_default(),
            sequences: scenario
                .sequences
                .or_else(|| scenario_default.and_then(|s| s.sequences.clone()))
                .unwrap_or_default(),
            id: scenario.id,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::super::document::read;
    use super::super::location::Source;
    use super::super::values::ConfigValue;
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn default_sections_are_templates_applied_as_taipy_applies_them() {
        let source = Source::new(
            "c.toml",
            r#"
[DATA_NODE.default]
storage_type = "pickle"
scope = "GLOBAL:SCOPE"
default_data = "3:int"

[DATA_NODE.same_storage]

[DATA_NODE.other_storage]
storage_type = "csv"

[DATA_NODE.own_scope]
scope = "SCENARIO:SCOPE"

[TASK.default]
inputs = [ "same_storage:SECTION",]
skippable = "True:bool"

[TASK.t]
outputs = [ "other_storage:SECTION",]

[SCENARIO.default]
tasks = [ "t:SECTION",]

[SCENARIO.s]
"#,
        );
        let (document, errors) = read(&source, &no_env).unwrap();
        assert!(errors.is_empty(), "{errors:?}");
        let node = |id: &str| document.nodes.iter().find(|n| n.id.value == id).unwrap();
        assert_eq!(node("same_storage").scope, Scope::Global);
        let inherited = node("same_storage").default.as_ref().unwrap();
        assert!(inherited.inherited);
        assert!(
            matches!(
                inherited.value.value,
                DefaultValue::Toml(ConfigValue::Integer(3))
            ),
            "{:?}",
            inherited.value.value
        );
        assert_eq!(node("other_storage").scope, Scope::Scenario);
        assert!(node("other_storage").default.is_none());
        assert_eq!(node("own_scope").scope, Scope::Scenario);
        assert_eq!(document.node_template.scope, Scope::Global);
        assert_eq!(document.tasks.len(), 1, "[TASK.default] is not a task");
        assert_eq!(document.tasks[0].inputs[0].value, "same_storage");
        assert_eq!(
            document.tasks[0].skippable, None,
            "skippable is not inherited"
        );
        assert_eq!(
            document.scenarios.len(),
            1,
            "[SCENARIO.default] is not a scenario"
        );
        assert_eq!(document.scenarios[0].tasks[0].value, "t");
    }
}
