//! Reads a TOML configuration into declarations that remember where each piece
//! came from. Checks syntax, keys and values here; graph rules are checked in
//! `build`.
//!
//! The file may be one Taipy's `Config.backup` writes: its unique sections
//! (`[TAIPY]`, `[JOB]`, `[CORE]`, `[VERSION_MIGRATION]`) are read by `taipy`,
//! and the `default` entries of `[DATA_NODE]`, `[TASK]` and `[SCENARIO]` are
//! templates applied as Taipy applies them (`templates`).

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::decl::{DefaultValue, Document};
use super::location::{ConfigError, Located, Source, did_you_mean};
use super::reader::{Key, Reader};
use super::taipy::{self, TAIPY_NODE_KEYS, TAIPY_SCENARIO_KEYS, TAIPY_TASK_KEYS};
use super::templates::{Raw, RawNode, RawScenario, RawTask, apply_templates};
use super::values::Env;
use crate::graph::Scope;
use crate::resources::{ResourceError, Resources};

const SECTIONS: [&str; 7] = [
    "DATA_NODE",
    "TASK",
    "SCENARIO",
    "TAIPY",
    "JOB",
    "CORE",
    "VERSION_MIGRATION",
];

/// The keys each section reads; a key close to one of these is taken for a
/// typo of it. Other keys are Taipy properties: accepted and not used.
const NODE_KEYS: [&str; 5] = ["type", "default", "default_data", "default_json", "scope"];
const TASK_KEYS: [&str; 8] = [
    "function",
    "inputs",
    "outputs",
    "skippable",
    "cpus",
    "memory",
    "time",
    "partition",
];
const SCENARIO_KEYS: [&str; 3] = ["tasks", "additional_data_nodes", "sequences"];

impl Reader<'_> {
    fn node(&mut self, id: Located<String>, table: &DeTable<'_>) -> RawNode {
        let mut node = RawNode {
            id,
            type_name: None,
            default: None,
            scope: None,
            storage_type: None,
        };
        let section = format!("data node `{}`", node.id.value);
        for (key, value) in Self::entries(table) {
            match key.get_ref().as_ref() {
                // Compared as written with `[DATA_NODE.default]`'s, as Taipy does.
                "storage_type" => match value.get_ref() {
                    DeValue::String(text) => node.storage_type = Some(text.to_string()),
                    _ => self.ignored(value),
                },
                taipy_key if TAIPY_NODE_KEYS.contains(&taipy_key) => self.ignored(value),
                _ if !self.reads(key, value, &NODE_KEYS, &section) => {}
                "type" => node.type_name = self.name(value, "`type`"),
                "default" | "default_data" | "default_json" => {
                    if node.default.is_some() {
                        self.error(
                            key.span(),
                            "give one of `default`, `default_data` and `default_json`, not several",
                        );
                    }
                    let default = if key.get_ref() == "default_json" {
                        self.json(value).map(DefaultValue::Json)
                    } else {
                        self.value(value).map(DefaultValue::Toml)
                    };
                    node.default = default.map(|v| Located::new(v, value.span()));
                }
                _ => node.scope = self.scope(value),
            }
        }
        node
    }

    /// `default_json`: a string holding JSON, read as written (no Taipy
    /// typed strings or `ENV[…]` templates).
    fn json(&mut self, value: &Spanned<DeValue<'_>>) -> Option<serde_json::Value> {
        let DeValue::String(text) = value.get_ref() else {
            self.error(
                value.span(),
                "`default_json` must be a string holding the default's JSON form, e.g. `default_json = \"null\"`",
            );
            return None;
        };
        serde_json::from_str(text)
            .map_err(|e| {
                self.error(
                    value.span(),
                    format!("`default_json` is not valid JSON: {e}"),
                )
            })
            .ok()
    }

    fn scope(&mut self, value: &Spanned<DeValue<'_>>) -> Option<Scope> {
        let scope = self.name(value, "`scope`")?;
        match scope.value.to_ascii_lowercase().as_str() {
            "scenario" => Some(Scope::Scenario),
            "global" => Some(Scope::Global),
            "cycle" => {
                self.error(
                    value.span(),
                    "scope CYCLE (one value per Taipy cycle) is not supported: use \"scenario\" or \"global\"",
                );
                None
            }
            other => {
                self.error(
                    value.span(),
                    format!("unknown scope `{other}`: use \"scenario\" or \"global\""),
                );
                None
            }
        }
    }

    fn task(&mut self, id: Located<String>, table: &DeTable<'_>) -> RawTask {
        let mut task = RawTask {
            id,
            function: None,
            inputs: None,
            outputs: None,
            skippable: None,
            resources: Resources::new(),
        };
        let section = format!("task `{}`", task.id.value);
        for (key, value) in Self::entries(table) {
            if TAIPY_TASK_KEYS.contains(&key.get_ref().as_ref()) {
                self.ignored(value);
                continue;
            }
            if !self.reads(key, value, &TASK_KEYS, &section) {
                continue;
            }
            match key.get_ref().as_ref() {
                "function" => task.function = self.name(value, "`function`"),
                "inputs" => task.inputs = Some(self.names(value, "`inputs`")),
                "outputs" => task.outputs = Some(self.names(value, "`outputs`")),
                "skippable" => task.skippable = self.bool(value, "`skippable`"),
                resource => self.resource(&mut task.resources, resource, value),
            }
        }
        task
    }

    /// A task's `cpus`, `memory`, `time` or `partition`.
    fn resource(&mut self, resources: &mut Resources, key: &str, value: &Spanned<DeValue<'_>>) {
        let span = value.span();
        let parsed = match key {
            "cpus" => match self.integer(value, "`cpus`") {
                Some(n) if (1..=i128::from(u32::MAX)).contains(&n) => {
                    Ok(resources.clone().cpus(n as u32))
                }
                Some(_) => Err(ResourceError::Cpus),
                None => return,
            },
            other => {
                let Some(text) = self.string(value, &format!("`{other}`")) else {
                    return;
                };
                match other {
                    "memory" => resources.clone().memory(&text),
                    "time" => resources.clone().time(&text),
                    _ => Resources::checked_partition(&text)
                        .map(|name| resources.clone().partition(name)),
                }
            }
        };
        match parsed {
            Ok(updated) => *resources = updated,
            Err(error) => self.error(span, error.to_string()),
        }
    }

    fn scenario(&mut self, id: Located<String>, table: &DeTable<'_>) -> RawScenario {
        let mut scenario = RawScenario {
            id,
            tasks: None,
            additional_nodes: None,
            sequences: None,
        };
        let section = format!("scenario `{}`", scenario.id.value);
        for (key, value) in Self::entries(table) {
            if TAIPY_SCENARIO_KEYS.contains(&key.get_ref().as_ref()) {
                self.ignored(value);
                continue;
            }
            if !self.reads(key, value, &SCENARIO_KEYS, &section) {
                continue;
            }
            match key.get_ref().as_ref() {
                "tasks" => scenario.tasks = Some(self.names(value, "`tasks`")),
                "additional_data_nodes" => {
                    scenario.additional_nodes = Some(self.names(value, "`additional_data_nodes`"))
                }
                _ => {
                    let mut sequences = Vec::new();
                    if let Some(table) = self.table(value, "`sequences`") {
                        for (name, tasks) in Self::entries(table) {
                            let name = Located::new(name.get_ref().to_string(), name.span());
                            let tasks = self.names(tasks, "a sequence");
                            sequences.push((name, tasks));
                        }
                    }
                    scenario.sequences = Some(sequences);
                }
            }
        }
        scenario
    }

    /// `[DATA_NODE.*]`, `[TASK.*]` or `[SCENARIO.*]`: one table per id.
    fn entities(&mut self, section: &Key<'_>, table: &DeTable<'_>, raw: &mut Raw) {
        for (id, decl) in Self::entries(table) {
            let located = Located::new(id.get_ref().to_string(), id.span());
            let what = format!("[{}.{}]", section.get_ref(), id.get_ref());
            let Some(table) = self.table(decl, &what) else {
                continue;
            };
            let template = id.get_ref() == "default";
            match section.get_ref().as_ref() {
                "DATA_NODE" => {
                    let node = self.node(located, table);
                    if template {
                        if let Some(type_name) = &node.type_name {
                            self.error(
                                type_name.span.clone(),
                                "`type` cannot be given in [DATA_NODE.default]: each data node has its own type (given by its section or by the tasks using it)",
                            );
                        }
                        raw.node_default = Some(node);
                    } else {
                        raw.nodes.push(node);
                    }
                }
                "TASK" => {
                    let task = self.task(located, table);
                    if template {
                        raw.task_default = Some(task);
                    } else {
                        raw.tasks.push(task);
                    }
                }
                _ => {
                    let scenario = self.scenario(located, table);
                    if template {
                        raw.scenario_default = Some(scenario);
                    } else {
                        raw.scenarios.push(scenario);
                    }
                }
            }
        }
    }
}

/// Parses a whole file. A syntax error stops there; other problems are
/// returned beside the document so that later checks can add theirs.
pub(crate) fn read(
    source: &Source,
    env: Env<'_>,
) -> Result<(Document, Vec<ConfigError>), Vec<ConfigError>> {
    let root = match DeTable::parse(&source.text) {
        Ok(root) => root,
        Err(error) => {
            let span = error.span().unwrap_or(0..0);
            let message = error.message().trim().to_owned();
            return Err(vec![source.error(span, format!("TOML syntax: {message}"))]);
        }
    };
    let mut reader = Reader {
        source,
        env,
        errors: Vec::new(),
    };
    let mut raw = Raw::default();
    let mut document = Document::default();
    for (section, body) in Reader::entries(root.get_ref()) {
        let name = section.get_ref().as_ref();
        if !SECTIONS.contains(&name) {
            let hint = did_you_mean(name, SECTIONS.iter().copied());
            reader.error(
                section.span(),
                format!(
                    "unknown section `{name}`{hint} (sections: [DATA_NODE.<id>], [TASK.<id>], [SCENARIO.<id>], and Taipy's [TAIPY], [JOB], [CORE], [VERSION_MIGRATION])"
                ),
            );
            continue;
        }
        let Some(table) = reader.table(body, &format!("[{name}]")) else {
            continue;
        };
        match name {
            "DATA_NODE" | "TASK" | "SCENARIO" => reader.entities(section, table, &mut raw),
            "JOB" => document.job = taipy::job(&mut reader, table),
            _ => taipy::accepted(&mut reader, table),
        }
    }
    apply_templates(raw, &mut document);
    Ok((document, reader.errors))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn read_errors(text: &str) -> Vec<String> {
        let source = Source::new("c.toml", text);
        let (_, errors) = read(&source, &no_env).unwrap();
        errors.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn unknown_keys_name_the_nearest_valid_key_with_their_line() {
        let text = read_errors("[TASK.t]\nfunction = \"f\"\nskipable = true\n\n[DATA_NODES.x]\n");
        assert!(
            text[0].starts_with(
                "c.toml:3:1: unknown key `skipable` in task `t`; did you mean `skippable`?"
            ),
            "{text:?}"
        );
        assert!(
            text[1]
                .starts_with("c.toml:5:2: unknown section `DATA_NODES`; did you mean `DATA_NODE`?"),
            "{text:?}"
        );
    }

    #[test]
    fn taipy_properties_are_accepted_but_their_typed_strings_checked() {
        let text = read_errors(
            "[DATA_NODE.x]\ncustom = \"prop\"\ndefault_path = \"x.csv\"\nhas_header = \"True:bool\"\nvalidity_period = \"1q:timedelta\"\n",
        );
        assert_eq!(text.len(), 1, "{text:?}");
        assert!(
            text[0].starts_with("c.toml:5:19: `1q:timedelta` is not a duration"),
            "{text:?}"
        );
    }

    #[test]
    fn bad_resources_are_reported_at_their_values() {
        let text = read_errors(
            "[TASK.t]\nfunction = \"f\"\ncpus = 0\nmemory = \"8X\"\ntime = \"soon\"\npartition = \"a b\"\ncpu = 1\n",
        );
        assert!(
            text[0].starts_with("c.toml:3:8: cpus must be at least 1"),
            "{text:?}"
        );
        assert!(
            text[1].starts_with("c.toml:4:10: memory `8X` is not a size"),
            "{text:?}"
        );
        assert!(
            text[2].starts_with("c.toml:5:8: time `soon` is not a duration"),
            "{text:?}"
        );
        assert!(
            text[3].starts_with("c.toml:6:13: partition `a b` is not a partition name"),
            "{text:?}"
        );
        assert!(
            text[4].starts_with("c.toml:7:1: unknown key `cpu` in task `t`; did you mean `cpus`?"),
            "{text:?}"
        );
    }

    #[test]
    fn resources_in_a_file_override_the_tasks_own_and_the_template_fills_in() {
        use crate::config::{Config, TaskRegistry, TypeRegistry};
        use crate::resources::Resources;
        let declared = crate::task::TaskDef::from_fn1("double", "1", |x: &i64| x * 2)
            .with_resources(Resources::new().cpus(2).memory_in_mib(100));
        let tasks = TaskRegistry::new().with(declared, true);
        let text = "[TASK.default]\npartition = \"batch\"\ntime = \"10m\"\n\n\
                    [DATA_NODE.x]\ntype = \"i64\"\ndefault = 1\n\n\
                    [TASK.double]\nfunction = \"double\"\ninputs = [\"x\"]\noutputs = [\"y\"]\n\
                    memory = \"1G\"\ntime = \"1h\"\n\n\
                    [SCENARIO.s]\ntasks = [\"double\"]\n";
        let config = Config::parse(text, "c.toml", &tasks, &TypeRegistry::with_builtins()).unwrap();
        let graph = config.scenario("s").unwrap();
        let resources = graph.tasks()[0].def().resources();
        assert_eq!(resources.cpu_count(), Some(2), "the task's own");
        assert_eq!(resources.memory_mib(), Some(1024), "the file's");
        assert_eq!(
            resources.time_limit(),
            Some(std::time::Duration::from_secs(3600)),
            "the file's over the template's"
        );
        assert_eq!(resources.partition_name(), Some("batch"), "the template's");
        // Exported, they read back the same.
        let exported = crate::config::to_toml(graph, &TypeRegistry::with_builtins()).unwrap();
        let again =
            Config::parse(&exported, "e.toml", &tasks, &TypeRegistry::with_builtins()).unwrap();
        assert_eq!(
            again.scenario("s").unwrap().tasks()[0].def().resources(),
            resources
        );
    }

    #[test]
    fn syntax_errors_have_a_line() {
        let source = Source::new("c.toml", "[TASK.t]\nfunction = \n");
        let errors = read(&source, &no_env).unwrap_err();
        assert_eq!(errors[0].line, 2, "{}", errors[0]);
        assert!(errors[0].message.starts_with("TOML syntax"));
    }
}
