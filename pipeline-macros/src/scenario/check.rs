//! The graph rules `scenario!` enforces from its input alone. Each broken rule
//! is an error on the user's token; every one found is reported.
//!
//! Types and arities need the task functions' signatures, which only rustc
//! knows: `expand` emits spanned assertions for those.

use std::collections::{BTreeMap, HashMap, HashSet};

use syn::Ident;
use syn::ext::IdentExt;

use super::parse::{NodeDecl, ScenarioDef, TaskUse};
use crate::ctxt::Ctxt;
use crate::util::{did_you_mean, upper_camel};

/// Associated items `scenario!` generates on the scenario type: a data node
/// accessor of the same name would clash with them.
pub(crate) const GENERATED_ITEMS: &[&str] = &[
    "NAME",
    "graph",
    "create",
    "find",
    "find_or_create",
    "open",
    "from_scenario",
    "scenario",
    "into_scenario",
    "submit",
    "submit_forced",
    "submit_task",
    "submit_sequence",
    "submit_with",
];

/// The name of an identifier as the graph knows it (`r#type` is `type`).
pub(crate) fn name(ident: &Ident) -> String {
    ident.unraw().to_string()
}

/// Pushes one error per broken rule.
pub(crate) fn check(cx: &Ctxt, def: &ScenarioDef) {
    let nodes = check_nodes(cx, def);
    let tasks = check_task_names(cx, def);
    let producers = check_wiring(cx, def, &nodes);
    check_unfed(cx, def, &producers);
    check_cycles(cx, def, &producers);
    check_sequences(cx, def, &tasks);
}

/// Duplicate node names and names that clash with generated methods.
fn check_nodes<'a>(cx: &Ctxt, def: &'a ScenarioDef) -> HashMap<String, &'a NodeDecl> {
    let mut nodes = HashMap::new();
    for node in &def.nodes {
        let node_name = name(&node.name);
        if nodes.contains_key(&node_name) {
            cx.error_spanned_by(
                &node.name,
                format_args!(
                    "data node `{node_name}` is declared twice; remove this declaration or rename it"
                ),
            );
            continue;
        }
        if GENERATED_ITEMS.contains(&node_name.as_str()) {
            cx.error_spanned_by(
                &node.name,
                format_args!(
                    "data node `{node_name}` would clash with the generated `{}::{node_name}`; rename the node",
                    def.ident
                ),
            );
        }
        nodes.insert(node_name, node);
    }
    nodes
}

/// Duplicate task names (one function used twice without `as`); returns the
/// tasks by their name in the scenario.
fn check_task_names<'a>(cx: &Ctxt, def: &'a ScenarioDef) -> HashMap<String, &'a TaskUse> {
    let mut tasks = HashMap::new();
    let mut variants: HashMap<String, String> = HashMap::new();
    for task in &def.tasks {
        let local = task.local_name();
        let task_name = name(local);
        if tasks.contains_key(&task_name) {
            let message = if task.alias.is_some() {
                format!(
                    "two tasks are named `{task_name}` in this scenario; give this one another name with `as`"
                )
            } else {
                format!(
                    "task `{task_name}` appears twice in this scenario; to run one function twice, name the second use: `{task_name}(…) -> … as {task_name}_2`"
                )
            };
            cx.error_spanned_by(local, message);
            continue;
        }
        let variant = upper_camel(&task_name);
        if let Some(other) = variants.get(&variant) {
            cx.error_spanned_by(
                local,
                format_args!(
                    "tasks `{other}` and `{task_name}` would both be `{}Task::{variant}`; rename one with `as`",
                    def.ident
                ),
            );
        }
        variants.insert(variant, task_name.clone());
        tasks.insert(task_name, task);
    }
    tasks
}

/// Unknown node names and nodes written twice; returns each node's producer
/// (the task's index).
fn check_wiring(
    cx: &Ctxt,
    def: &ScenarioDef,
    nodes: &HashMap<String, &NodeDecl>,
) -> HashMap<String, usize> {
    let mut producers: HashMap<String, usize> = HashMap::new();
    let unknown = |ident: &Ident, task: &str, role: &str| {
        let node_name = name(ident);
        let hint = match did_you_mean(&node_name, nodes.keys().map(String::as_str)) {
            Some(close) => format!("did you mean `{close}`?"),
            None => format!("declare it in `data {{ {node_name}: Type, }}`"),
        };
        cx.error_spanned_by(
            ident,
            format_args!("unknown data node `{node_name}` in the {role} of task `{task}`; {hint}"),
        );
    };
    for (index, task) in def.tasks.iter().enumerate() {
        let task_name = name(task.local_name());
        for input in &task.inputs {
            if !nodes.contains_key(&name(input)) {
                unknown(input, &task_name, "inputs");
            }
        }
        for output in &task.outputs {
            let node_name = name(output);
            if !nodes.contains_key(&node_name) {
                unknown(output, &task_name, "outputs");
                continue;
            }
            match producers.get(&node_name) {
                Some(&first) if first == index => cx.error_spanned_by(
                    output,
                    format_args!(
                        "task `{task_name}` writes data node `{node_name}` twice; give each output its own data node"
                    ),
                ),
                Some(&first) => cx.error_spanned_by(
                    output,
                    format_args!(
                        "data node `{node_name}` is already produced by task `{}`; a data node has one producer, so write this output to another node",
                        name(def.tasks[first].local_name())
                    ),
                ),
                None => {
                    producers.insert(node_name, index);
                }
            }
        }
    }
    producers
}

/// Nodes read by a task that nothing gives a value: no producer, no default.
fn check_unfed(cx: &Ctxt, def: &ScenarioDef, producers: &HashMap<String, usize>) {
    let mut readers: HashMap<String, String> = HashMap::new();
    for task in &def.tasks {
        for input in &task.inputs {
            readers
                .entry(name(input))
                .or_insert_with(|| name(task.local_name()));
        }
    }
    let mut reported = HashSet::new();
    for node in &def.nodes {
        let node_name = name(&node.name);
        if node.default.is_some()
            || producers.contains_key(&node_name)
            || !reported.insert(node_name.clone())
        {
            continue;
        }
        if let Some(reader) = readers.get(&node_name) {
            cx.error_spanned_by(
                &node.name,
                format_args!(
                    "data node `{node_name}` is read by task `{reader}` but no task produces it and it has no default; give it a default (`{node_name}: Type = value`) or add a task that outputs it"
                ),
            );
        }
    }
}

/// Tasks that (indirectly) read their own outputs: one error per cycle, on the
/// first task of the cycle, listing the path.
fn check_cycles(cx: &Ctxt, def: &ScenarioDef, producers: &HashMap<String, usize>) {
    // edges[from] = (to, node): task `to` reads `node`, which task `from` writes.
    let mut edges: Vec<Vec<(usize, String)>> = vec![Vec::new(); def.tasks.len()];
    for (to, task) in def.tasks.iter().enumerate() {
        for input in &task.inputs {
            let node = name(input);
            if let Some(&from) = producers.get(&node)
                && !edges[from].iter().any(|(t, n)| *t == to && *n == node)
            {
                edges[from].push((to, node));
            }
        }
    }
    for component in strongly_connected(&edges) {
        let start = component[0];
        let cyclic = component.len() > 1 || edges[start].iter().any(|(to, _)| *to == start);
        if !cyclic {
            continue;
        }
        let path = shortest_cycle(&edges, &component, start);
        let mut text = name(def.tasks[start].local_name());
        for (node, task) in &path {
            text.push_str(&format!(
                " -> {node} -> {}",
                name(def.tasks[*task].local_name())
            ));
        }
        cx.error_spanned_by(
            &def.tasks[start].path,
            format_args!(
                "cycle: {text}; a task cannot depend on its own outputs, so remove one of these inputs"
            ),
        );
    }
}

/// Tarjan's algorithm; each component sorted, components in order of their first task.
fn strongly_connected(edges: &[Vec<(usize, String)>]) -> Vec<Vec<usize>> {
    struct State<'a> {
        edges: &'a [Vec<(usize, String)>],
        index: Vec<Option<usize>>,
        low: Vec<usize>,
        on_stack: Vec<bool>,
        stack: Vec<usize>,
        next: usize,
        components: Vec<Vec<usize>>,
    }
    fn visit(s: &mut State<'_>, v: usize) {
        s.index[v] = Some(s.next);
        s.low[v] = s.next;
        s.next += 1;
        s.stack.push(v);
        s.on_stack[v] = true;
        for &(w, _) in &s.edges[v] {
            match s.index[w] {
                None => {
                    visit(s, w);
                    s.low[v] = s.low[v].min(s.low[w]);
                }
                Some(index) if s.on_stack[w] => s.low[v] = s.low[v].min(index),
                Some(_) => {}
            }
        }
        if Some(s.low[v]) == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack[w] = false;
                component.push(w);
                if w == v {
                    break;
                }
            }
            component.sort_unstable();
            s.components.push(component);
        }
    }
    let n = edges.len();
    let mut state = State {
        edges,
        index: vec![None; n],
        low: vec![0; n],
        on_stack: vec![false; n],
        stack: Vec::new(),
        next: 0,
        components: Vec::new(),
    };
    for v in 0..n {
        if state.index[v].is_none() {
            visit(&mut state, v);
        }
    }
    state.components.sort_by_key(|component| component[0]);
    state.components
}

/// The shortest path from `start` back to itself inside `component`, as
/// (node, task) steps.
fn shortest_cycle(
    edges: &[Vec<(usize, String)>],
    component: &[usize],
    start: usize,
) -> Vec<(String, usize)> {
    let inside: HashSet<usize> = component.iter().copied().collect();
    // came_from[task] = (previous task, node between them)
    let mut came_from: BTreeMap<usize, (usize, String)> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    while let Some(task) = queue.pop_front() {
        for (to, node) in &edges[task] {
            if !inside.contains(to) {
                continue;
            }
            if *to == start {
                let mut path = vec![(node.clone(), start)];
                let mut current = task;
                while current != start {
                    let (previous, via) = &came_from[&current];
                    path.push((via.clone(), current));
                    current = *previous;
                }
                path.reverse();
                return path;
            }
            if !came_from.contains_key(to) {
                came_from.insert(*to, (task, node.clone()));
                queue.push_back(*to);
            }
        }
    }
    unreachable!("a strongly connected component with a cycle has a path back to its start")
}

/// Duplicate sequence names, unknown tasks and tasks listed twice.
fn check_sequences(cx: &Ctxt, def: &ScenarioDef, tasks: &HashMap<String, &TaskUse>) {
    let mut names = HashSet::new();
    let mut variants: HashMap<String, String> = HashMap::new();
    for sequence in &def.sequences {
        let sequence_name = name(&sequence.name);
        if !names.insert(sequence_name.clone()) {
            cx.error_spanned_by(
                &sequence.name,
                format_args!(
                    "sequence `{sequence_name}` is declared twice; remove this one or rename it"
                ),
            );
            continue;
        }
        let variant = upper_camel(&sequence_name);
        if let Some(other) = variants.insert(variant.clone(), sequence_name.clone()) {
            cx.error_spanned_by(
                &sequence.name,
                format_args!(
                    "sequences `{other}` and `{sequence_name}` would both be `{}Sequence::{variant}`; rename one",
                    def.ident
                ),
            );
        }
        let mut listed = HashSet::new();
        for task in &sequence.tasks {
            let task_name = name(task);
            if !tasks.contains_key(&task_name) {
                let hint = match did_you_mean(&task_name, tasks.keys().map(String::as_str)) {
                    Some(close) => format!("did you mean `{close}`?"),
                    None => "add it to `tasks { … }` or remove it from the sequence".to_owned(),
                };
                cx.error_spanned_by(
                    task,
                    format_args!(
                        "sequence `{sequence_name}` names task `{task_name}`, which is not in this scenario's tasks; {hint}"
                    ),
                );
            } else if !listed.insert(task_name.clone()) {
                cx.error_spanned_by(
                    task,
                    format_args!(
                        "task `{task_name}` is listed twice in sequence `{sequence_name}`; remove one"
                    ),
                );
            }
        }
    }
}
