//! A layered drawing of a DAG, top to bottom, computed here (no Graphviz, no
//! network): the Sugiyama method in its plainest form. Top to bottom because
//! labels are wide and a pipeline is deeper than it is wide: rows of boxes
//! fit a page where columns would not.
//!
//! 1. Layers: each vertex one layer below its furthest predecessor; a source
//!    sits just above its nearest consumer (a parameter read only by the
//!    last task is drawn beside it, not in the first row).
//! 2. Edges spanning several layers pass through invisible points, one per
//!    layer crossed, so that they take part in ordering and bend around boxes.
//! 3. Order within layers: barycenter sweeps down and up, keeping the order
//!    with the fewest crossings seen.
//! 4. Positions: layers as rows; within a row each vertex moves towards the
//!    mean position of its neighbours, never overlapping the one on its left.
//!
//! Deterministic: the same graph always gets the same drawing.

/// Vertical space between rows.
const ROW_GAP: f64 = 34.0;
/// Horizontal space between boxes of one row.
const SIBLING_GAP: f64 = 18.0;
/// The width an edge passing through a row takes in it.
const PASSING: f64 = 8.0;
/// Space around the drawing.
pub(super) const MARGIN: f64 = 12.0;
/// Sweeps of the ordering step.
const SWEEPS: usize = 12;
/// Passes of the positioning step.
const PASSES: usize = 8;

/// A point of the drawing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Point {
    pub(super) x: f64,
    pub(super) y: f64,
}

/// Where everything goes.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Layout {
    /// The centre of each vertex.
    pub(super) centers: Vec<Point>,
    /// Each edge as a polyline from its source's bottom side to its target's
    /// top side, in the order the edges were given.
    pub(super) edges: Vec<Vec<Point>>,
    /// The drawing's size.
    pub(super) width: f64,
    pub(super) height: f64,
}

/// Lays out vertices of the given `(width, height)` joined by `edges`
/// (`(from, to)` indices; the graph must be acyclic).
pub(super) fn layered(sizes: &[(f64, f64)], edges: &[(usize, usize)]) -> Layout {
    let n = sizes.len();
    let layer = assign_layers(n, edges);
    // Vertices, then the points long edges pass through.
    let mut sizes: Vec<(f64, f64)> = sizes.to_vec();
    let mut layer_of = layer;
    let mut succ: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut pred: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut chains: Vec<Vec<usize>> = Vec::with_capacity(edges.len());
    for &(from, to) in edges {
        let mut chain = vec![from];
        for l in layer_of[from] + 1..layer_of[to] {
            let dummy = sizes.len();
            sizes.push((PASSING, 0.0));
            layer_of.push(l);
            succ.push(Vec::new());
            pred.push(Vec::new());
            chain.push(dummy);
        }
        chain.push(to);
        for pair in chain.windows(2) {
            succ[pair[0]].push(pair[1]);
            pred[pair[1]].push(pair[0]);
        }
        chains.push(chain);
    }
    let layer_count = layer_of.iter().max().map_or(0, |&m| m + 1);
    let mut layers: Vec<Vec<usize>> = vec![Vec::new(); layer_count];
    for (v, &l) in layer_of.iter().enumerate() {
        layers[l].push(v);
    }
    order_layers(&mut layers, &pred, &succ);

    // Rows.
    let mut row_y = Vec::with_capacity(layer_count);
    let mut y = MARGIN;
    for layer in &layers {
        let height = layer.iter().map(|&v| sizes[v].1).fold(0.0, f64::max);
        row_y.push(y + height / 2.0);
        y += height + ROW_GAP;
    }
    let height = (y - ROW_GAP + MARGIN).max(2.0 * MARGIN);

    let x = position_across(&layers, &sizes, &pred, &succ);
    let mut centers: Vec<Point> = (0..sizes.len())
        .map(|v| Point {
            x: x[v],
            y: row_y[layer_of[v]],
        })
        .collect();
    let left = (0..sizes.len())
        .map(|v| centers[v].x - sizes[v].0 / 2.0)
        .fold(f64::INFINITY, f64::min);
    let shift = if left.is_finite() { MARGIN - left } else { 0.0 };
    for center in &mut centers {
        center.x += shift;
    }
    let width = (0..sizes.len())
        .map(|v| centers[v].x + sizes[v].0 / 2.0)
        .fold(0.0, f64::max)
        + MARGIN;

    let edges = chains
        .iter()
        .map(|chain| {
            let (first, last) = (chain[0], chain[chain.len() - 1]);
            let mut points = vec![Point {
                x: centers[first].x,
                y: centers[first].y + sizes[first].1 / 2.0,
            }];
            points.extend(chain[1..chain.len() - 1].iter().map(|&d| centers[d]));
            points.push(Point {
                x: centers[last].x,
                y: centers[last].y - sizes[last].1 / 2.0,
            });
            points
        })
        .collect();
    centers.truncate(n);
    Layout {
        centers,
        edges,
        width: width.max(2.0 * MARGIN),
        height,
    }
}

/// Longest-path layers, then each source moved next to its nearest successor.
fn assign_layers(n: usize, edges: &[(usize, usize)]) -> Vec<usize> {
    let mut succ: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut indegree = vec![0usize; n];
    for &(from, to) in edges {
        succ[from].push(to);
        indegree[to] += 1;
    }
    let mut layer = vec![0usize; n];
    let mut ready: Vec<usize> = (0..n).rev().filter(|&v| indegree[v] == 0).collect();
    let mut remaining = indegree.clone();
    while let Some(v) = ready.pop() {
        for &w in &succ[v] {
            layer[w] = layer[w].max(layer[v] + 1);
            remaining[w] -= 1;
            if remaining[w] == 0 {
                ready.push(w);
            }
        }
    }
    for v in 0..n {
        if indegree[v] == 0
            && let Some(nearest) = succ[v].iter().map(|&w| layer[w]).min()
        {
            layer[v] = nearest.saturating_sub(1);
        }
    }
    layer
}

/// Orders each layer to reduce crossings (barycenter heuristic).
fn order_layers(layers: &mut [Vec<usize>], pred: &[Vec<usize>], succ: &[Vec<usize>]) {
    let vertex_count = pred.len();
    let mut position = vec![0usize; vertex_count];
    let index = |layers: &[Vec<usize>], position: &mut Vec<usize>| {
        for layer in layers {
            for (i, &v) in layer.iter().enumerate() {
                position[v] = i;
            }
        }
    };
    index(layers, &mut position);
    let mut best = layers.to_vec();
    let mut best_crossings = crossings(layers, succ, &position);
    for sweep in 0..SWEEPS {
        let down = sweep % 2 == 0;
        let order: Vec<usize> = if down {
            (1..layers.len()).collect()
        } else {
            (0..layers.len().saturating_sub(1)).rev().collect()
        };
        for l in order {
            let neighbours = if down { pred } else { succ };
            let mut keyed: Vec<(f64, usize, usize)> = layers[l]
                .iter()
                .enumerate()
                .map(|(i, &v)| {
                    let around = &neighbours[v];
                    let key = if around.is_empty() {
                        i as f64
                    } else {
                        around.iter().map(|&w| position[w] as f64).sum::<f64>()
                            / around.len() as f64
                    };
                    (key, i, v)
                })
                .collect();
            keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            layers[l] = keyed.into_iter().map(|(_, _, v)| v).collect();
            for (i, &v) in layers[l].iter().enumerate() {
                position[v] = i;
            }
        }
        let count = crossings(layers, succ, &position);
        if count < best_crossings {
            best_crossings = count;
            best = layers.to_vec();
        }
        if best_crossings == 0 {
            break;
        }
    }
    layers.clone_from_slice(&best);
}

/// Edge crossings between adjacent layers.
fn crossings(layers: &[Vec<usize>], succ: &[Vec<usize>], position: &[usize]) -> usize {
    let mut total = 0;
    for layer in layers {
        let mut pairs: Vec<(usize, usize)> = Vec::new();
        for &v in layer {
            for &w in &succ[v] {
                pairs.push((position[v], position[w]));
            }
        }
        for (i, a) in pairs.iter().enumerate() {
            for b in &pairs[i + 1..] {
                if (a.0 < b.0 && a.1 > b.1) || (a.0 > b.0 && a.1 < b.1) {
                    total += 1;
                }
            }
        }
    }
    total
}

/// The horizontal centre of every vertex: each moves towards its
/// neighbours' mean, in order, at least a gap right of the one on its left.
fn position_across(
    layers: &[Vec<usize>],
    sizes: &[(f64, f64)],
    pred: &[Vec<usize>],
    succ: &[Vec<usize>],
) -> Vec<f64> {
    let mut x = vec![0.0f64; sizes.len()];
    for layer in layers {
        let mut left = 0.0;
        for &v in layer {
            x[v] = left + sizes[v].0 / 2.0;
            left += sizes[v].0 + SIBLING_GAP;
        }
    }
    for pass in 0..PASSES {
        let order: Vec<&Vec<usize>> = if pass % 2 == 0 {
            layers.iter().collect()
        } else {
            layers.iter().rev().collect()
        };
        for layer in order {
            let wanted: Vec<f64> = layer
                .iter()
                .map(|&v| {
                    let around: Vec<usize> = pred[v].iter().chain(&succ[v]).copied().collect();
                    if around.is_empty() {
                        x[v]
                    } else {
                        around.iter().map(|&w| x[w]).sum::<f64>() / around.len() as f64
                    }
                })
                .collect();
            place_in_order(layer, &wanted, sizes, &mut x);
        }
    }
    x
}

/// Puts the vertices of one layer as near their wanted positions as their
/// order and the gaps allow: placed left to right, then the whole row
/// shifted so that its mean displacement is zero, then pushed apart again.
fn place_in_order(layer: &[usize], wanted: &[f64], sizes: &[(f64, f64)], x: &mut [f64]) {
    let mut placed = Vec::with_capacity(layer.len());
    let mut floor = f64::NEG_INFINITY;
    for (&v, &w) in layer.iter().zip(wanted) {
        let half = sizes[v].0 / 2.0;
        let centre = w.max(floor + half);
        placed.push(centre);
        floor = centre + half + SIBLING_GAP;
    }
    if !placed.is_empty() {
        let drift =
            placed.iter().zip(wanted).map(|(p, w)| p - w).sum::<f64>() / placed.len() as f64;
        let mut floor = f64::NEG_INFINITY;
        for (i, &v) in layer.iter().enumerate() {
            let half = sizes[v].0 / 2.0;
            let centre = (placed[i] - drift).max(floor + half);
            x[v] = centre;
            floor = centre + half + SIBLING_GAP;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boxes(n: usize) -> Vec<(f64, f64)> {
        vec![(80.0, 30.0); n]
    }

    fn overlaps(layout: &Layout, sizes: &[(f64, f64)]) -> bool {
        for a in 0..sizes.len() {
            for b in a + 1..sizes.len() {
                let (pa, pb) = (layout.centers[a], layout.centers[b]);
                let dx = (pa.x - pb.x).abs() * 2.0 < sizes[a].0 + sizes[b].0;
                let dy = (pa.y - pb.y).abs() * 2.0 < sizes[a].1 + sizes[b].1;
                if dx && dy {
                    return true;
                }
            }
        }
        false
    }

    #[test]
    fn every_edge_points_down_and_no_boxes_overlap() {
        // The demo's shape: 4 parameters, 4 tasks, 4 produced nodes.
        // 0 path, 1 pay, 2 score, 3 metric, 4 stat | 5..8 tasks | 9..12 outputs
        let edges = [
            (0, 5),
            (5, 9),
            (9, 6),
            (1, 6),
            (2, 6),
            (6, 10),
            (10, 7),
            (3, 7),
            (7, 11),
            (10, 8),
            (11, 8),
            (4, 8),
            (8, 12),
        ];
        let sizes = boxes(13);
        let layout = layered(&sizes, &edges);
        for (i, &(from, to)) in edges.iter().enumerate() {
            assert!(
                layout.centers[from].y < layout.centers[to].y,
                "edge {from}->{to}"
            );
            let line = &layout.edges[i];
            assert!(
                line.windows(2).all(|w| w[0].y < w[1].y),
                "edge {i} bends back"
            );
        }
        assert!(!overlaps(&layout, &sizes));
        // `metric` (3) is drawn just above `segment_analysis` (7), not in row one.
        assert_eq!(layout.centers[3].y + 30.0 + ROW_GAP, layout.centers[7].y);
        for c in &layout.centers {
            assert!(c.x >= MARGIN && c.y >= MARGIN && c.x <= layout.width && c.y <= layout.height);
        }
        assert_eq!(layered(&sizes, &edges), layout, "deterministic");
    }

    #[test]
    fn ordering_removes_an_avoidable_crossing() {
        // a->d, b->c drawn with a left of b must swap c and d.
        let edges = [(0, 3), (1, 2)];
        let layout = layered(&boxes(4), &edges);
        let left_of = |x: usize, y: usize| layout.centers[x].x < layout.centers[y].x;
        assert_eq!(left_of(0, 1), left_of(3, 2));
    }

    #[test]
    fn long_edges_bend_through_their_own_points() {
        // 0 -> 1 -> 2 -> 3 and 0 -> 3: the long edge gets two inner points.
        let edges = [(0, 1), (1, 2), (2, 3), (0, 3)];
        let sizes = boxes(4);
        let layout = layered(&sizes, &edges);
        assert_eq!(layout.edges[3].len(), 4);
        assert!(!overlaps(&layout, &sizes));
    }

    #[test]
    fn empty_and_single_graphs_have_a_size() {
        let empty = layered(&[], &[]);
        assert!(empty.width > 0.0 && empty.height > 0.0);
        let one = layered(&boxes(1), &[]);
        assert_eq!(one.centers.len(), 1);
    }
}
