//! Synthetic graphs of no-op tasks, for benchmarks and scaling measurements.

use crate::graph::{Graph, GraphBuilder, NodeSpec, TaskSpec};
use crate::task::TaskDef;

/// The shape of a synthetic graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `n` tasks in a line, each reading the previous one's output.
    Chain,
    /// One source task, `n - 2` tasks reading it, and one task reading all of them.
    FanOutFanIn,
}

/// A graph of `tasks` skippable tasks that add one to a `u64` (the fan-in task sums).
///
/// ```
/// use pipeline_core::synthetic::{graph, Shape};
/// assert_eq!(graph(Shape::Chain, 10).tasks().len(), 10);
/// assert_eq!(graph(Shape::FanOutFanIn, 10).tasks().len(), 10);
/// ```
pub fn graph(shape: Shape, tasks: usize) -> Graph {
    assert!(tasks >= 3, "a synthetic graph needs at least 3 tasks");
    let step = TaskDef::from_fn1("step", "1", |x: &u64| x.wrapping_add(1));
    let mut builder = GraphBuilder::new(format!("synthetic-{shape:?}-{tasks}"))
        .node(NodeSpec::new::<u64>("input").with_default(0));
    let node = |i: usize| format!("n{i}");
    match shape {
        Shape::Chain => {
            for i in 0..tasks {
                let input = if i == 0 {
                    "input".to_owned()
                } else {
                    node(i - 1)
                };
                builder = builder.node(NodeSpec::new::<u64>(node(i))).task(
                    TaskSpec::new(step.clone().renamed(format!("t{i}")))
                        .inputs([input])
                        .outputs([node(i)])
                        .skippable(true),
                );
            }
        }
        Shape::FanOutFanIn => {
            builder = builder.node(NodeSpec::new::<u64>(node(0))).task(
                TaskSpec::new(step.clone().renamed("t0"))
                    .inputs(["input"])
                    .outputs([node(0)])
                    .skippable(true),
            );
            let middle = tasks - 2;
            for i in 1..=middle {
                builder = builder.node(NodeSpec::new::<u64>(node(i))).task(
                    TaskSpec::new(step.clone().renamed(format!("t{i}")))
                        .inputs([node(0)])
                        .outputs([node(i)])
                        .skippable(true),
                );
            }
            let sum = TaskDef::from_fn_slice("sum", "1", middle, |xs: &[&u64]| {
                xs.iter().fold(0u64, |acc, x| acc.wrapping_add(**x))
            });
            builder = builder.node(NodeSpec::new::<u64>("total")).task(
                TaskSpec::new(sum)
                    .inputs((1..=middle).map(node))
                    .outputs(["total"])
                    .skippable(true),
            );
        }
    }
    builder.build().expect("synthetic graphs are valid")
}

/// The customer-analysis shape with trivial `f64` bodies: four skippable tasks,
/// one reading two upstream outputs.
///
/// ```
/// assert_eq!(pipeline_core::synthetic::four_tasks().tasks().len(), 4);
/// ```
pub fn four_tasks() -> Graph {
    GraphBuilder::new("four")
        .node(NodeSpec::new::<f64>("a").with_default(1.0))
        .node(NodeSpec::new::<f64>("p").with_default(1000.0))
        .node(NodeSpec::new::<f64>("m").with_default(2.0))
        .node(NodeSpec::new::<f64>("b"))
        .node(NodeSpec::new::<f64>("c"))
        .node(NodeSpec::new::<f64>("d"))
        .node(NodeSpec::new::<f64>("e"))
        .task(
            TaskSpec::new(TaskDef::from_fn1("t1", "1", |a: &f64| a + 1.0))
                .inputs(["a"])
                .outputs(["b"])
                .skippable(true),
        )
        .task(
            TaskSpec::new(TaskDef::from_fn2("t2", "1", |b: &f64, p: &f64| b * p))
                .inputs(["b", "p"])
                .outputs(["c"])
                .skippable(true),
        )
        .task(
            TaskSpec::new(TaskDef::from_fn2("t3", "1", |c: &f64, m: &f64| c * m))
                .inputs(["c", "m"])
                .outputs(["d"])
                .skippable(true),
        )
        .task(
            TaskSpec::new(TaskDef::from_fn2("t4", "1", |c: &f64, d: &f64| c + d))
                .inputs(["c", "d"])
                .outputs(["e"])
                .skippable(true),
        )
        .build()
        .unwrap()
}
