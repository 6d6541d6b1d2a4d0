//! Task order and cycles. Every walk is iterative: run-time graphs may be long
//! chains (tens of thousands of tasks), deeper than a thread's stack.

use std::collections::{HashSet, VecDeque};

use crate::Finding;

/// For each task, the distinct tasks producing its inputs, ascending.
pub(crate) fn upstream_tasks(
    task_inputs: &[Vec<usize>],
    producer: &[Option<usize>],
) -> Vec<Vec<usize>> {
    task_inputs
        .iter()
        .map(|inputs| {
            let mut ups: Vec<usize> = inputs.iter().filter_map(|&n| producer[n]).collect();
            ups.sort_unstable();
            ups.dedup();
            ups
        })
        .collect()
}

/// Kahn's algorithm, ready tasks taken in declaration order; `None` on a cycle.
pub(crate) fn topological_order(upstream: &[Vec<usize>]) -> Option<Vec<usize>> {
    let count = upstream.len();
    let mut waiting: Vec<usize> = upstream.iter().map(Vec::len).collect();
    let mut downstream: Vec<Vec<usize>> = vec![Vec::new(); count];
    for (task, ups) in upstream.iter().enumerate() {
        for &up in ups {
            downstream[up].push(task);
        }
    }
    let mut ready: VecDeque<usize> = (0..count).filter(|&t| waiting[t] == 0).collect();
    let mut order = Vec::with_capacity(count);
    while let Some(task) = ready.pop_front() {
        order.push(task);
        for &down in &downstream[task] {
            waiting[down] -= 1;
            if waiting[down] == 0 {
                ready.push_back(down);
            }
        }
    }
    (order.len() == count).then_some(order)
}

/// One [`Finding::Cycle`] per strongly connected component that loops, in
/// order of the component's first task.
pub(crate) fn find_cycles(task_inputs: &[Vec<usize>], producer: &[Option<usize>]) -> Vec<Finding> {
    // edges[from] = (to, node): task `to` reads `node`, which task `from` writes.
    let mut edges: Vec<Vec<(usize, usize)>> = vec![Vec::new(); task_inputs.len()];
    for (to, inputs) in task_inputs.iter().enumerate() {
        for &node in inputs {
            if let Some(from) = producer[node]
                && !edges[from].contains(&(to, node))
            {
                edges[from].push((to, node));
            }
        }
    }
    strongly_connected(&edges)
        .into_iter()
        .filter(|component| {
            component.len() > 1
                || edges[component[0]]
                    .iter()
                    .any(|&(to, _)| to == component[0])
        })
        .map(|component| Finding::Cycle {
            start: component[0],
            steps: shortest_cycle(&edges, &component),
        })
        .collect()
}

/// Tarjan's algorithm without recursion; each component sorted, components
/// ordered by their first task.
fn strongly_connected(edges: &[Vec<(usize, usize)>]) -> Vec<Vec<usize>> {
    let count = edges.len();
    let mut index: Vec<Option<usize>> = vec![None; count];
    let mut low = vec![0; count];
    let mut on_stack = vec![false; count];
    let mut stack = Vec::new();
    let mut next = 0;
    let mut components = Vec::new();
    // (task, how many of its edges have been followed)
    let mut walk: Vec<(usize, usize)> = Vec::new();
    for root in 0..count {
        if index[root].is_some() {
            continue;
        }
        walk.push((root, 0));
        while let Some(&mut (task, ref mut followed)) = walk.last_mut() {
            if *followed == 0 && index[task].is_none() {
                index[task] = Some(next);
                low[task] = next;
                next += 1;
                stack.push(task);
                on_stack[task] = true;
            }
            if let Some(&(to, _)) = edges[task].get(*followed) {
                *followed += 1;
                match index[to] {
                    None => walk.push((to, 0)),
                    Some(to_index) if on_stack[to] => low[task] = low[task].min(to_index),
                    Some(_) => {}
                }
                continue;
            }
            walk.pop();
            if let Some(&(parent, _)) = walk.last() {
                low[parent] = low[parent].min(low[task]);
            }
            if Some(low[task]) == index[task] {
                let mut component = Vec::new();
                while let Some(member) = stack.pop() {
                    on_stack[member] = false;
                    component.push(member);
                    if member == task {
                        break;
                    }
                }
                component.sort_unstable();
                components.push(component);
            }
        }
    }
    components.sort_by_key(|component| component[0]);
    components
}

/// The shortest way from the component's first task back to itself, as
/// (node, task) steps.
fn shortest_cycle(edges: &[Vec<(usize, usize)>], component: &[usize]) -> Vec<(usize, usize)> {
    let start = component[0];
    let inside: HashSet<usize> = component.iter().copied().collect();
    // came_from[task] = (previous task, node between them)
    let mut came_from: Vec<Option<(usize, usize)>> = vec![None; edges.len()];
    let mut queue = VecDeque::from([start]);
    while let Some(task) = queue.pop_front() {
        for &(to, node) in &edges[task] {
            if !inside.contains(&to) {
                continue;
            }
            if to == start {
                let mut steps = vec![(node, start)];
                let mut current = task;
                while current != start {
                    let (previous, via) = came_from[current].expect("a visited task has a parent");
                    steps.push((via, current));
                    current = previous;
                }
                steps.reverse();
                return steps;
            }
            if came_from[to].is_none() {
                came_from[to] = Some((task, node));
                queue.push_back(to);
            }
        }
    }
    unreachable!("a strongly connected component with a cycle has a path back to its start")
}
