use super::*;

fn graph<'a>(
    nodes: Vec<Node<'a, &'a str>>,
    tasks: Vec<Task<'a, &'a str>>,
    sequences: Vec<Sequence<'a>>,
) -> Graph<'a, &'a str> {
    Graph {
        nodes,
        tasks,
        sequences,
    }
}

#[test]
fn a_valid_graph_has_no_findings_and_an_order() {
    let checked = graph(
        vec![
            Node::new("x").with_default(),
            Node::new("y"),
            Node::new("z"),
        ],
        vec![
            Task::new("last", ["y"], ["z"]),
            Task::new("first", ["x"], ["y"]),
        ],
        vec![Sequence {
            name: "s",
            tasks: vec!["first", "last"],
        }],
    )
    .check();
    assert_eq!(checked.findings, []);
    assert_eq!(checked.order, [1, 0]);
    assert_eq!(checked.producer, [None, Some(1), Some(0)]);
    assert_eq!(checked.task_inputs, [vec![1], vec![0]]);
    assert_eq!(checked.sequences, [Some(vec![1, 0])]);
}

#[test]
fn duplicate_names_point_at_the_later_declaration() {
    let checked = graph(
        vec![Node::new("x").with_default(), Node::new("x")],
        vec![Task::new("t", ["x"], []), Task::new("t", ["x"], [])],
        vec![
            Sequence {
                name: "s",
                tasks: vec!["t", "t", "ghost"],
            },
            Sequence {
                name: "s",
                tasks: vec![],
            },
        ],
    )
    .check();
    assert_eq!(
        checked.findings,
        [
            Finding::DuplicateNode { node: 1, first: 0 },
            Finding::DuplicateTask { task: 1, first: 0 },
            Finding::TaskTwiceInSequence {
                sequence: 0,
                position: 1,
                first_position: 0
            },
            Finding::UnknownTaskInSequence {
                sequence: 0,
                position: 2
            },
            Finding::DuplicateSequence {
                sequence: 1,
                first: 0
            },
        ]
    );
}

#[test]
fn wiring_findings_name_the_task_side_and_position() {
    let checked = graph(
        vec![Node::new("x").with_default(), Node::new("y")],
        vec![
            Task::new("a", ["x", "nope"], ["y", "y"]),
            Task::new("b", ["x"], ["y"]),
        ],
        vec![],
    )
    .check();
    assert_eq!(
        checked.findings,
        [
            Finding::UnknownNode {
                task: 0,
                role: Role::Input,
                position: 1
            },
            Finding::OutputTwice {
                task: 0,
                position: 1,
                first_position: 0
            },
            Finding::TwoProducers {
                task: 1,
                position: 0,
                node: 1,
                producer: 0
            },
        ]
    );
}

#[test]
fn an_unfed_node_is_reported_once_with_every_reader() {
    let checked = graph(
        vec![
            Node::new("x"),
            Node::new("y"),
            Node::new("z").with_default(),
        ],
        vec![Task::new("a", ["z", "x"], ["y"]), Task::new("b", ["x"], [])],
        vec![],
    )
    .check();
    assert_eq!(
        checked.findings,
        [Finding::Unfed {
            node: 0,
            readers: vec![
                Wire {
                    task: 0,
                    position: 1
                },
                Wire {
                    task: 1,
                    position: 0
                }
            ],
        }]
    );
}

#[test]
fn arity_and_types_are_checked_when_known() {
    let checked = graph(
        vec![
            Node::new("x").with_default().with_type("f64"),
            Node::new("y").with_type("String"),
            Node::new("z"),
        ],
        vec![
            Task::new("a", ["x", "x"], ["y"]).with_signature(&["f64"], &["f64"]),
            Task::new("b", ["y"], ["z"]).with_signature(&["String"], &["u8"]),
        ],
        vec![],
    )
    .check();
    assert_eq!(
        checked.findings,
        [
            Finding::Arity {
                task: 0,
                role: Role::Input,
                expected: 1,
                found: 2
            },
            Finding::TypeMismatch {
                task: 0,
                role: Role::Output,
                position: 0,
                node: 1
            },
        ]
    );
}

#[test]
fn each_cycle_is_reported_once_with_its_shortest_path() {
    // a -> x -> b -> y -> a, and separately c <-> d, plus e reading the loop.
    let checked = graph(
        vec![
            Node::new("x"),
            Node::new("y"),
            Node::new("p"),
            Node::new("q"),
            Node::new("out"),
        ],
        vec![
            Task::new("a", ["y"], ["x"]),
            Task::new("b", ["x"], ["y"]),
            Task::new("c", ["q"], ["p"]),
            Task::new("d", ["p"], ["q"]),
            Task::new("e", ["x"], ["out"]),
        ],
        vec![],
    )
    .check();
    assert_eq!(
        checked.findings,
        [
            Finding::Cycle {
                start: 0,
                steps: vec![(0, 1), (1, 0)]
            },
            Finding::Cycle {
                start: 2,
                steps: vec![(2, 3), (3, 2)]
            },
        ]
    );
    assert!(checked.order.is_empty());
}

#[test]
fn a_task_reading_its_own_output_is_a_cycle() {
    let checked = graph(
        vec![Node::new("x")],
        vec![Task::new("loop", ["x"], ["x"])],
        vec![],
    )
    .check();
    assert_eq!(
        checked.findings,
        [Finding::Cycle {
            start: 0,
            steps: vec![(0, 0)]
        }]
    );
}

#[test]
fn long_chains_are_ordered_and_their_cycles_found_without_deep_recursion() {
    let count = 100_000;
    let names: Vec<String> = (0..=count).map(|i| format!("n{i}")).collect();
    let task_names: Vec<String> = (0..count).map(|i| format!("t{i}")).collect();
    let mut nodes: Vec<Node<'_, ()>> = names.iter().map(|n| Node::new(n)).collect();
    nodes[0].has_default = true;
    let mut tasks: Vec<Task<'_, ()>> = (0..count)
        .map(|i| Task::new(&task_names[i], [names[i].as_str()], [names[i + 1].as_str()]))
        .collect();
    let chain = Graph {
        nodes: nodes.clone(),
        tasks: tasks.clone(),
        sequences: vec![],
    }
    .check();
    assert_eq!(chain.findings, []);
    assert_eq!(chain.order.len(), count);
    // Close the chain into one loop: the first task reads the last node.
    tasks[0].inputs = vec![names[count].as_str()];
    let looped = Graph {
        nodes,
        tasks,
        sequences: vec![],
    }
    .check();
    match looped.findings.as_slice() {
        [Finding::Cycle { start: 0, steps }] => assert_eq!(steps.len(), count),
        other => panic!("expected one cycle, got {} findings", other.len()),
    }
}
