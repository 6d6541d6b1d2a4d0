//! Reads a TOML configuration into declarations that remember where each piece
//! came from. Checks syntax and keys here; graph rules are checked in `build`.
//!
//! Accepts Taipy Studio's typed strings: `"1000:int"`, `"1.5:float"`,
//! `"True:bool"`, `"name:SECTION"`, `"module.func:function"` (the task is `func`)
//! and `"SCENARIO:SCOPE"` / `"GLOBAL:SCOPE"`.

use std::collections::BTreeMap;
use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::location::{ConfigError, Located, Source, did_you_mean};
use crate::graph::Scope;

/// A configuration value, after Taipy's typed strings are decoded.
#[derive(Debug, Clone, PartialEq)]
pub enum ConfigValue {
    /// `true`, `"True:bool"`.
    Bool(bool),
    /// `1000`, `"1000:int"`.
    Integer(i128),
    /// `1.5`, `"1.5:float"`.
    Float(f64),
    /// Any other string.
    String(String),
    /// An array.
    Array(Vec<ConfigValue>),
    /// A table.
    Table(BTreeMap<String, ConfigValue>),
}

impl ConfigValue {
    /// `"integer"`, `"string"`, …: for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            ConfigValue::Bool(_) => "boolean",
            ConfigValue::Integer(_) => "integer",
            ConfigValue::Float(_) => "float",
            ConfigValue::String(_) => "string",
            ConfigValue::Array(_) => "array",
            ConfigValue::Table(_) => "table",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct NodeDecl {
    pub(crate) id: Located<String>,
    pub(crate) type_name: Option<Located<String>>,
    pub(crate) default: Option<Located<ConfigValue>>,
    pub(crate) scope: Scope,
}

#[derive(Debug, Clone)]
pub(crate) struct TaskDecl {
    pub(crate) id: Located<String>,
    pub(crate) function: Option<Located<String>>,
    pub(crate) inputs: Vec<Located<String>>,
    pub(crate) outputs: Vec<Located<String>>,
    pub(crate) skippable: Option<bool>,
}

#[derive(Debug, Clone)]
pub(crate) struct ScenarioDecl {
    pub(crate) id: Located<String>,
    pub(crate) tasks: Vec<Located<String>>,
    pub(crate) additional_nodes: Vec<Located<String>>,
    pub(crate) sequences: Vec<(Located<String>, Vec<Located<String>>)>,
}

/// Everything a file declares.
#[derive(Debug, Clone, Default)]
pub(crate) struct Document {
    pub(crate) nodes: Vec<NodeDecl>,
    pub(crate) tasks: Vec<TaskDecl>,
    pub(crate) scenarios: Vec<ScenarioDecl>,
}

const SECTIONS: [&str; 6] = ["DATA_NODE", "TASK", "SCENARIO", "TAIPY", "JOB", "CORE"];
const NODE_KEYS: [&str; 7] = [
    "type",
    "default",
    "default_data",
    "scope",
    "storage_type",
    "description",
    "validity_period",
];
const TASK_KEYS: [&str; 5] = ["function", "inputs", "outputs", "skippable", "description"];
const SCENARIO_KEYS: [&str; 6] = [
    "tasks",
    "additional_data_nodes",
    "sequences",
    "comparators",
    "frequency",
    "description",
];

type Entry<'i> = (
    &'i Spanned<std::borrow::Cow<'i, str>>,
    &'i Spanned<DeValue<'i>>,
);

/// Collects errors while reading; every problem is kept.
struct Reader<'s> {
    source: &'s Source,
    errors: Vec<ConfigError>,
}

impl Reader<'_> {
    fn error(&mut self, span: Range<usize>, message: impl Into<String>) {
        self.errors.push(self.source.error(span, message));
    }

    /// Entries of a table in file order (the parser's map is sorted by key).
    fn entries<'i>(table: &'i DeTable<'i>) -> Vec<Entry<'i>> {
        let mut entries: Vec<Entry<'i>> = table.iter().collect();
        entries.sort_by_key(|(key, _)| key.span().start);
        entries
    }

    fn table<'i>(
        &mut self,
        value: &'i Spanned<DeValue<'i>>,
        what: &str,
    ) -> Option<&'i DeTable<'i>> {
        match value.get_ref() {
            DeValue::Table(table) => Some(table),
            other => {
                self.error(
                    value.span(),
                    format!("{what} must be a table, found {}", other.type_str()),
                );
                None
            }
        }
    }

    fn check_key(
        &mut self,
        key: &Spanned<std::borrow::Cow<'_, str>>,
        valid: &[&str],
        section: &str,
    ) -> bool {
        if valid.contains(&key.get_ref().as_ref()) {
            return true;
        }
        let hint = did_you_mean(key.get_ref(), valid.iter().copied());
        self.error(
            key.span(),
            format!(
                "unknown key `{}` in {section}{hint} (valid keys: {})",
                key.get_ref(),
                valid.join(", ")
            ),
        );
        false
    }

    fn value(&mut self, value: &Spanned<DeValue<'_>>) -> Option<ConfigValue> {
        let span = value.span();
        Some(match value.get_ref() {
            DeValue::String(text) => decode_typed_string(text),
            DeValue::Integer(integer) => {
                let digits = integer.as_str().replace('_', "");
                match i128::from_str_radix(&digits, integer.radix()) {
                    Ok(n) => ConfigValue::Integer(n),
                    Err(e) => {
                        self.error(span, format!("integer {integer} is out of range: {e}"));
                        return None;
                    }
                }
            }
            DeValue::Float(float) => match float.as_str().replace('_', "").parse::<f64>() {
                Ok(f) => ConfigValue::Float(f),
                Err(e) => {
                    self.error(span, format!("float {float} does not parse: {e}"));
                    return None;
                }
            },
            DeValue::Boolean(b) => ConfigValue::Bool(*b),
            DeValue::Datetime(_) => {
                self.error(
                    span,
                    "dates and times are not supported as data node values",
                );
                return None;
            }
            DeValue::Array(items) => ConfigValue::Array(
                items
                    .iter()
                    .map(|item| self.value(item))
                    .collect::<Option<Vec<_>>>()?,
            ),
            DeValue::Table(table) => ConfigValue::Table(
                Self::entries(table)
                    .into_iter()
                    .map(|(k, v)| Some((k.get_ref().to_string(), self.value(v)?)))
                    .collect::<Option<BTreeMap<_, _>>>()?,
            ),
        })
    }

    /// A name: a plain string or a Taipy `"name:SECTION"` / `"module.func:function"`.
    fn name(&mut self, value: &Spanned<DeValue<'_>>, what: &str) -> Option<Located<String>> {
        match value.get_ref() {
            DeValue::String(text) => Some(Located::new(strip_reference(text), value.span())),
            other => {
                self.error(
                    value.span(),
                    format!("{what} must be a string, found {}", other.type_str()),
                );
                None
            }
        }
    }

    fn names(&mut self, value: &Spanned<DeValue<'_>>, what: &str) -> Vec<Located<String>> {
        match value.get_ref() {
            DeValue::Array(items) => items
                .iter()
                .filter_map(|item| self.name(item, what))
                .collect(),
            other => {
                self.error(
                    value.span(),
                    format!(
                        "{what} must be an array of names, found {}",
                        other.type_str()
                    ),
                );
                Vec::new()
            }
        }
    }

    fn bool(&mut self, value: &Spanned<DeValue<'_>>, what: &str) -> Option<bool> {
        match self.value(value)? {
            ConfigValue::Bool(b) => Some(b),
            other => {
                self.error(
                    value.span(),
                    format!("{what} must be a boolean, found {}", other.kind()),
                );
                None
            }
        }
    }

    fn node(&mut self, id: Located<String>, table: &DeTable<'_>) -> NodeDecl {
        let mut node = NodeDecl {
            id,
            type_name: None,
            default: None,
            scope: Scope::Scenario,
        };
        for (key, value) in Self::entries(table) {
            if !self.check_key(key, &NODE_KEYS, &format!("data node `{}`", node.id.value)) {
                continue;
            }
            match key.get_ref().as_ref() {
                "type" => node.type_name = self.name(value, "`type`"),
                "default" | "default_data" => {
                    if node.default.is_some() {
                        self.error(
                            key.span(),
                            "give either `default` or `default_data`, not both",
                        );
                    }
                    node.default = self.value(value).map(|v| Located::new(v, value.span()));
                }
                "scope" => match self
                    .name(value, "`scope`")
                    .map(|s| s.value.to_ascii_lowercase())
                {
                    Some(scope) if scope == "scenario" => node.scope = Scope::Scenario,
                    Some(scope) if scope == "global" => node.scope = Scope::Global,
                    Some(scope) => self.error(
                        value.span(),
                        format!("unknown scope `{scope}`: use \"scenario\" or \"global\""),
                    ),
                    None => {}
                },
                _ => {} // accepted for Taipy compatibility, not used
            }
        }
        node
    }

    fn task(&mut self, id: Located<String>, table: &DeTable<'_>) -> TaskDecl {
        let mut task = TaskDecl {
            id,
            function: None,
            inputs: Vec::new(),
            outputs: Vec::new(),
            skippable: None,
        };
        for (key, value) in Self::entries(table) {
            if !self.check_key(key, &TASK_KEYS, &format!("task `{}`", task.id.value)) {
                continue;
            }
            match key.get_ref().as_ref() {
                "function" => task.function = self.name(value, "`function`"),
                "inputs" => task.inputs = self.names(value, "`inputs`"),
                "outputs" => task.outputs = self.names(value, "`outputs`"),
                "skippable" => task.skippable = self.bool(value, "`skippable`"),
                _ => {}
            }
        }
        task
    }

    fn scenario(&mut self, id: Located<String>, table: &DeTable<'_>) -> ScenarioDecl {
        let mut scenario = ScenarioDecl {
            id,
            tasks: Vec::new(),
            additional_nodes: Vec::new(),
            sequences: Vec::new(),
        };
        for (key, value) in Self::entries(table) {
            if !self.check_key(
                key,
                &SCENARIO_KEYS,
                &format!("scenario `{}`", scenario.id.value),
            ) {
                continue;
            }
            match key.get_ref().as_ref() {
                "tasks" => scenario.tasks = self.names(value, "`tasks`"),
                "additional_data_nodes" => {
                    scenario.additional_nodes = self.names(value, "`additional_data_nodes`")
                }
                "sequences" => {
                    if let Some(sequences) = self.table(value, "`sequences`") {
                        for (name, tasks) in Self::entries(sequences) {
                            let name = Located::new(name.get_ref().to_string(), name.span());
                            let tasks = self.names(tasks, "a sequence");
                            scenario.sequences.push((name, tasks));
                        }
                    }
                }
                _ => {}
            }
        }
        scenario
    }
}

/// Decodes Taipy's `"value:type"` strings; other strings stay strings.
fn decode_typed_string(text: &str) -> ConfigValue {
    if let Some((value, kind)) = text.rsplit_once(':') {
        match kind {
            "int" => {
                if let Ok(n) = value.trim().parse::<i128>() {
                    return ConfigValue::Integer(n);
                }
            }
            "float" => {
                if let Ok(f) = value.trim().parse::<f64>() {
                    return ConfigValue::Float(f);
                }
            }
            "bool" => match value.trim() {
                "True" | "true" => return ConfigValue::Bool(true),
                "False" | "false" => return ConfigValue::Bool(false),
                _ => {}
            },
            "SECTION" | "function" | "SCOPE" => return ConfigValue::String(strip_reference(text)),
            _ => {}
        }
    }
    ConfigValue::String(text.to_owned())
}

/// `"name:SECTION"` → `name`, `"pkg.module.func:function"` → `func`,
/// `"GLOBAL:SCOPE"` → `GLOBAL`; anything else unchanged.
fn strip_reference(text: &str) -> String {
    match text.rsplit_once(':') {
        Some((name, "SECTION" | "SCOPE")) => name.to_owned(),
        Some((path, "function")) => path.rsplit('.').next().unwrap_or(path).to_owned(),
        _ => text.to_owned(),
    }
}

/// Parses a whole file. A syntax error stops there; key problems are returned
/// beside the document so that later checks can add theirs.
pub(crate) fn read(source: &Source) -> Result<(Document, Vec<ConfigError>), Vec<ConfigError>> {
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
        errors: Vec::new(),
    };
    let mut document = Document::default();
    for (section, body) in Reader::entries(root.get_ref()) {
        if !SECTIONS.contains(&section.get_ref().as_ref()) {
            let hint = did_you_mean(section.get_ref(), SECTIONS.iter().copied());
            reader.error(
                section.span(),
                format!(
                    "unknown section `{}`{hint} (sections: [DATA_NODE.<id>], [TASK.<id>], [SCENARIO.<id>])",
                    section.get_ref()
                ),
            );
            continue;
        }
        let Some(entries) = reader.table(body, &format!("[{}]", section.get_ref())) else {
            continue;
        };
        for (id, decl) in Reader::entries(entries) {
            let located = Located::new(id.get_ref().to_string(), id.span());
            let what = format!("[{}.{}]", section.get_ref(), id.get_ref());
            let Some(table) = reader.table(decl, &what) else {
                continue;
            };
            match section.get_ref().as_ref() {
                "DATA_NODE" => document.nodes.push(reader.node(located, table)),
                "TASK" => document.tasks.push(reader.task(located, table)),
                "SCENARIO" => document.scenarios.push(reader.scenario(located, table)),
                _ => {} // Taipy's global sections carry nothing we use
            }
        }
    }
    Ok((document, reader.errors))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taipy_typed_strings_are_decoded() {
        assert_eq!(decode_typed_string("1000:int"), ConfigValue::Integer(1000));
        assert_eq!(decode_typed_string("1.5:float"), ConfigValue::Float(1.5));
        assert_eq!(decode_typed_string("True:bool"), ConfigValue::Bool(true));
        assert_eq!(
            decode_typed_string("mean"),
            ConfigValue::String("mean".into())
        );
        assert_eq!(
            strip_reference("algos.algos.preprocess:function"),
            "preprocess"
        );
        assert_eq!(strip_reference("scored_df:SECTION"), "scored_df");
        assert_eq!(
            decode_typed_string("a:b"),
            ConfigValue::String("a:b".into())
        );
    }

    #[test]
    fn unknown_keys_name_the_nearest_valid_key_with_their_line() {
        let source = Source::new(
            "c.toml",
            "[TASK.t]\nfunction = \"f\"\nskipable = true\n\n[DATA_NODES.x]\n",
        );
        let (_, errors) = read(&source).unwrap();
        let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
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
    fn syntax_errors_have_a_line() {
        let source = Source::new("c.toml", "[TASK.t]\nfunction = \n");
        let errors = read(&source).unwrap_err();
        assert_eq!(errors[0].line, 2, "{}", errors[0]);
        assert!(errors[0].message.starts_with("TOML syntax"));
    }
}
