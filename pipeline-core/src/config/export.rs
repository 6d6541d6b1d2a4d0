//! Writes a graph as a TOML configuration, a Mermaid flowchart or a Graphviz
//! DOT digraph.

use std::fmt::Write as _;

use super::types::TypeRegistry;
use super::values::ConfigValue;
use crate::graph::{Graph, Scope};

/// Why a graph could not be written as TOML.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExportError {
    /// A default value whose type has neither a TOML writer nor a JSON form.
    #[error(
        "default of data node `{node}` ({type_name}) cannot be written as TOML: the type has no JSON form; give it one (serde_value!), or register a TOML form with TypeRegistry::with_from_str or ::with (Cli::types)"
    )]
    Unrepresentable {
        /// The node.
        node: String,
        /// Its type.
        type_name: String,
    },
}

fn toml_value(value: &ConfigValue) -> String {
    match value {
        ConfigValue::Bool(b) => b.to_string(),
        ConfigValue::Integer(n) => n.to_string(),
        ConfigValue::Float(f) => toml_float(*f),
        ConfigValue::String(s) => {
            // Text that would read back as a Taipy typed string keeps its
            // meaning with Taipy's `:str` suffix.
            match super::values::decode_string(s, super::values::Templates::Keep) {
                Ok(ConfigValue::String(read)) if read == *s => toml_string(s),
                _ => toml_string(&format!("{s}:str")),
            }
        }
        ConfigValue::Duration(duration) => toml_string(&timedelta(*duration)),
        ConfigValue::Array(items) => format!(
            "[{}]",
            items.iter().map(toml_value).collect::<Vec<_>>().join(", ")
        ),
        ConfigValue::Table(entries) => format!(
            "{{ {} }}",
            entries
                .iter()
                .map(|(k, v)| format!("{} = {}", key(k), toml_value(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// A duration as Taipy writes one: `"1d2h3m4s:timedelta"` (fractional seconds kept).
fn timedelta(duration: std::time::Duration) -> String {
    let total = duration.as_secs();
    let (days, hours, minutes) = (total / 86_400, total % 86_400 / 3_600, total % 3_600 / 60);
    let seconds = (total % 60) as f64 + f64::from(duration.subsec_nanos()) / 1e9;
    format!("{days}d{hours}h{minutes}m{seconds}s:timedelta")
}

/// A TOML basic string.
fn toml_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A TOML float that reads back to the same `f64`.
fn toml_float(f: f64) -> String {
    if f.is_nan() {
        "nan".to_owned()
    } else if f.is_infinite() {
        if f > 0.0 {
            "inf".to_owned()
        } else {
            "-inf".to_owned()
        }
    } else {
        format!("{f:?}")
    }
}

fn key(name: &str) -> String {
    if !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        name.to_owned()
    } else {
        toml_string(name)
    }
}

fn list<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    let quoted: Vec<String> = names.into_iter().map(toml_string).collect();
    format!("[{}]", quoted.join(", "))
}

/// The graph as a TOML configuration that [`Config`](super::Config) loads back
/// into an equal graph (same fingerprints), given the same task and type
/// registries. A default TOML cannot write (an `Option`'s `None`, a value
/// holding one) is written as its JSON form, `default_json = "null"`.
pub fn to_toml(graph: &Graph, types: &TypeRegistry) -> Result<String, ExportError> {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Scenario type `{}`, exported by pipeline-core.",
        graph.name()
    );
    for node in graph.nodes() {
        let _ = writeln!(out, "\n[DATA_NODE.{}]", key(node.name()));
        let _ = writeln!(out, "type = {}", toml_string(&node.value_type().name()));
        if let Some(default) = node.default_fn() {
            let value = default();
            let rendered = types
                .get_type(node.value_type())
                .and_then(|entry| entry.render(value.as_ref()));
            match rendered {
                Some(rendered) => {
                    let _ = writeln!(out, "default = {}", toml_value(&rendered));
                }
                // TOML has no null: an `Option`'s `None` (or a value holding
                // one) is written in the type's JSON form.
                None => {
                    let json = node.value_type().to_json(value.as_ref()).ok_or_else(|| {
                        ExportError::Unrepresentable {
                            node: node.name().to_owned(),
                            type_name: node.value_type().name(),
                        }
                    })?;
                    let _ = writeln!(out, "default_json = {}", toml_string(&json.to_string()));
                }
            }
        }
        if node.scope() == Scope::Global {
            let _ = writeln!(out, "scope = \"global\"");
        }
    }
    for task in graph.tasks() {
        let _ = writeln!(out, "\n[TASK.{}]", key(task.name()));
        let _ = writeln!(out, "function = {}", toml_string(task.def().name()));
        let _ = writeln!(
            out,
            "inputs = {}",
            list(task.input_names().iter().map(|n| &**n))
        );
        let _ = writeln!(
            out,
            "outputs = {}",
            list(task.output_names().iter().map(|n| &**n))
        );
        let _ = writeln!(out, "skippable = {}", task.is_skippable());
        let resources = task.def().resources();
        if let Some(cpus) = resources.cpu_count() {
            let _ = writeln!(out, "cpus = {cpus}");
        }
        if let Some(mib) = resources.memory_mib() {
            let _ = writeln!(out, "memory = \"{mib}M\"");
        }
        if let Some(time) = resources.time_limit() {
            let _ = writeln!(out, "time = \"{}\"", crate::resources::slurm_time(time));
        }
        if let Some(partition) = resources.partition_name() {
            let _ = writeln!(out, "partition = {}", toml_string(partition));
        }
    }
    let _ = writeln!(out, "\n[SCENARIO.{}]", key(graph.name()));
    let _ = writeln!(
        out,
        "tasks = {}",
        list(graph.tasks().iter().map(|t| t.name()))
    );
    let unused: Vec<&str> = graph
        .nodes()
        .iter()
        .enumerate()
        .filter(|(i, _)| {
            let id = crate::graph::NodeId(*i as u32);
            graph.producer(id).is_none() && graph.consumers(id).is_empty()
        })
        .map(|(_, n)| n.name())
        .collect();
    if !unused.is_empty() {
        let _ = writeln!(out, "additional_data_nodes = {}", list(unused));
    }
    if !graph.sequences().is_empty() {
        let _ = writeln!(out, "\n[SCENARIO.{}.sequences]", key(graph.name()));
        for sequence in graph.sequences() {
            let names = sequence.tasks().iter().map(|t| graph.task(*t).name());
            let _ = writeln!(out, "{} = {}", key(sequence.name()), list(names));
        }
    }
    Ok(out)
}

fn identifier(prefix: &str, name: &str) -> String {
    let safe: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("{prefix}_{safe}")
}

fn escape_label(text: &str) -> String {
    text.replace('"', "#quot;")
        .replace('<', "#lt;")
        .replace('>', "#gt;")
}

/// The graph as a Mermaid flowchart: data nodes as rounded boxes, tasks as
/// subroutine boxes, in the colours of the seed tutorial's DAG picture.
pub fn to_mermaid(graph: &Graph) -> String {
    let mut out = String::from("flowchart LR\n");
    for node in graph.nodes() {
        let _ = writeln!(
            out,
            "    {}([\"{}<br/><small>{}</small>\"])",
            identifier("n", node.name()),
            escape_label(node.name()),
            escape_label(&node.value_type().name())
        );
    }
    for task in graph.tasks() {
        let _ = writeln!(
            out,
            "    {}[[\"{}\"]]",
            identifier("t", task.name()),
            escape_label(task.name())
        );
    }
    for task in graph.tasks() {
        let t = identifier("t", task.name());
        for input in task.input_names() {
            let _ = writeln!(out, "    {} --> {t}", identifier("n", input));
        }
        for output in task.output_names() {
            let _ = writeln!(out, "    {t} --> {}", identifier("n", output));
        }
    }
    out.push_str("    classDef data fill:#e3f2fd,stroke:#1e88e5,color:#0d47a1\n");
    out.push_str("    classDef task fill:#fff3e0,stroke:#fb8c00,color:#e65100\n");
    let nodes: Vec<String> = graph
        .nodes()
        .iter()
        .map(|n| identifier("n", n.name()))
        .collect();
    let tasks: Vec<String> = graph
        .tasks()
        .iter()
        .map(|t| identifier("t", t.name()))
        .collect();
    if !nodes.is_empty() {
        let _ = writeln!(out, "    class {} data", nodes.join(","));
    }
    if !tasks.is_empty() {
        let _ = writeln!(out, "    class {} task", tasks.join(","));
    }
    out
}

fn dot_string(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The graph as a Graphviz DOT digraph (`dot -Tsvg`): data nodes as blue
/// ellipses, tasks as orange boxes.
pub fn to_dot(graph: &Graph) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "digraph {} {{", dot_string(graph.name()));
    out.push_str("    rankdir=LR;\n    node [fontname=\"Helvetica\"];\n");
    for node in graph.nodes() {
        let _ = writeln!(
            out,
            "    {} [label={}, shape=ellipse, style=filled, fillcolor=\"#e3f2fd\", color=\"#1e88e5\"];",
            dot_string(&format!("node:{}", node.name())),
            dot_string(&format!("{}\n{}", node.name(), node.value_type().name()))
        );
    }
    for task in graph.tasks() {
        let _ = writeln!(
            out,
            "    {} [label={}, shape=box, style=\"filled,rounded\", fillcolor=\"#fff3e0\", color=\"#fb8c00\"];",
            dot_string(&format!("task:{}", task.name())),
            dot_string(task.name())
        );
    }
    for task in graph.tasks() {
        let t = dot_string(&format!("task:{}", task.name()));
        for input in task.input_names() {
            let _ = writeln!(out, "    {} -> {t};", dot_string(&format!("node:{input}")));
        }
        for output in task.output_names() {
            let _ = writeln!(out, "    {t} -> {};", dot_string(&format!("node:{output}")));
        }
    }
    out.push_str("}\n");
    out
}
