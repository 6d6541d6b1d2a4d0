//! The drawings, as inline SVG built by templates (so every name is escaped
//! and the browser needs no script to show them): a scenario's graph coloured
//! by state, and a submission's jobs as a timeline.

use maud::{Markup, html};

use super::html::seconds;
use super::layout::{self, Point};
use super::scenario_model::ScenarioModel;

/// Approximate width of one character of the labels (13 px sans-serif, bold).
const CHAR_WIDTH: f64 = 8.0;
/// Height of a box in the graph.
const BOX_HEIGHT: f64 = 42.0;
/// Longest value shown inside a node's box.
const INLINE_VALUE: usize = 18;

/// The graph of a scenario: data nodes as rounded boxes coloured by state
/// (linking to their pages), tasks as square boxes coloured by their last
/// job (linking to its run), edges top to bottom.
pub(super) fn dag(model: &ScenarioModel) -> Markup {
    let scenario = model.scenario.id;
    let node_count = model.nodes.len();
    let node_sub = |i: usize| {
        let node = &model.nodes[i];
        let version = node.version.map(|v| format!("v{v}"));
        let value = node
            .value
            .as_ref()
            .filter(|v| v.chars().count() <= INLINE_VALUE)
            .cloned();
        match (version, value) {
            (Some(v), Some(value)) => format!("{v} · {value}"),
            (Some(v), None) => format!("{v} · {}", node.state.label()),
            (None, _) => node.state.label().to_owned(),
        }
    };
    let task_sub = |i: usize| model.tasks[i].status.replace('_', " ");
    let label_width = |name: &str, sub: &str| {
        (name.chars().count().max(sub.chars().count()) as f64 * CHAR_WIDTH + 28.0).max(96.0)
    };
    let mut sizes = Vec::with_capacity(node_count + model.tasks.len());
    for (i, node) in model.nodes.iter().enumerate() {
        sizes.push((label_width(&node.name, &node_sub(i)), BOX_HEIGHT));
    }
    for (i, task) in model.tasks.iter().enumerate() {
        sizes.push((label_width(&task.name, &task_sub(i)), BOX_HEIGHT));
    }
    let node_index = |name: &str| model.nodes.iter().position(|n| n.name == name);
    let mut edges = Vec::new();
    for (t, task) in model.tasks.iter().enumerate() {
        for input in &task.inputs {
            if let Some(n) = node_index(input) {
                edges.push((n, node_count + t));
            }
        }
        for output in &task.outputs {
            if let Some(n) = node_index(output) {
                edges.push((node_count + t, n));
            }
        }
    }
    let drawing = layout::layered(&sizes, &edges);
    let corner = |i: usize| {
        let c = drawing.centers[i];
        (c.x - sizes[i].0 / 2.0, c.y - sizes[i].1 / 2.0)
    };
    html! {
        svg.dag xmlns="http://www.w3.org/2000/svg"
            viewBox={ "0 0 " (drawing.width.ceil()) " " (drawing.height.ceil()) }
            width=(drawing.width.ceil()) height=(drawing.height.ceil())
            role="img" aria-label={ "graph of scenario #" (scenario) } {
            defs {
                marker #arrow viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7"
                    markerHeight="7" orient="auto-start-reverse" {
                    path.arrowhead d="M0,0 L10,5 L0,10 z" {}
                }
            }
            g.edges {
                @for line in &drawing.edges {
                    path.edge d=(curve(line)) marker-end="url(#arrow)" {}
                }
            }
            @for (i, node) in model.nodes.iter().enumerate() {
                @let (x, y) = corner(i);
                @let sub = node_sub(i);
                a href={ "/scenarios/" (scenario) "/nodes/" (node.name) }
                    class={ "vertex node " (node.state.as_str()) }
                    data-node=(node.name) data-state=(node.state.as_str()) {
                    title {
                        (node.name) " (" (node.value_type) "): " (node.state.label())
                        @if let Some(reason) = &node.reason { ": " (reason) }
                    }
                    rect x=(x) y=(y) width=(sizes[i].0) height=(sizes[i].1) rx="16" {}
                    text.name x=(x + sizes[i].0 / 2.0) y=(y + 17.0) { (node.name) }
                    text.sub x=(x + sizes[i].0 / 2.0) y=(y + 33.0) { (sub) }
                }
            }
            @for (t, task) in model.tasks.iter().enumerate() {
                @let i = node_count + t;
                @let (x, y) = corner(i);
                @let href = task.last_job.as_ref().filter(|_| !task.live)
                    .map(|j| format!("/scenarios/{scenario}/runs/{}", j.submission));
                a href=[href] class={ "vertex task " (task.status) }
                    data-task=(task.name) data-status=(task.status) {
                    title {
                        "task " (task.name) ": " (task.status.replace('_', " "))
                        @if let Some(error) = task.last_job.as_ref().and_then(|j| j.error.as_ref()) {
                            " (" (error) ")"
                        }
                    }
                    rect x=(x) y=(y) width=(sizes[i].0) height=(sizes[i].1) rx="3" {}
                    text.name x=(x + sizes[i].0 / 2.0) y=(y + 17.0) { (task.name) }
                    text.sub x=(x + sizes[i].0 / 2.0) y=(y + 33.0) { (task_sub(t)) }
                }
            }
        }
    }
}

/// A smooth path through `points` (vertical tangents at each point).
fn curve(points: &[Point]) -> String {
    let mut d = format!("M{:.1},{:.1}", points[0].x, points[0].y);
    for pair in points.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        let dy = (b.y - a.y) / 2.0;
        d.push_str(&format!(
            " C{:.1},{:.1} {:.1},{:.1} {:.1},{:.1}",
            a.x,
            a.y + dy,
            b.x,
            b.y - dy,
            b.x,
            b.y
        ));
    }
    d
}

/// One bar of a timeline.
pub(super) struct Bar<'a> {
    /// The task.
    pub(super) task: &'a str,
    /// Its status (CSS class).
    pub(super) status: &'a str,
    /// Seconds from the submission's start to the job's start.
    pub(super) start_s: f64,
    /// Seconds it took (zero for a job that did not run).
    pub(super) duration_s: f64,
    /// Why it ran or was skipped.
    pub(super) reason: Option<&'a str>,
}

/// Jobs as a Gantt chart: one row per job, bars on a shared time axis.
pub(super) fn gantt(bars: &[Bar<'_>], total_s: f64) -> Markup {
    const WIDTH: f64 = 1160.0;
    const ROW: f64 = 28.0;
    const AXIS: f64 = 26.0;
    /// Room right of the bars for the status and duration.
    const AFTER: f64 = 190.0;
    let longest = bars
        .iter()
        .map(|b| b.task.chars().count())
        .max()
        .unwrap_or(0);
    let label = (longest as f64 * 7.6 + 24.0).clamp(120.0, 420.0);
    let chart = WIDTH - label - AFTER;
    let span = bars
        .iter()
        .map(|b| b.start_s + b.duration_s)
        .fold(total_s, f64::max)
        .max(1e-3);
    let x = |s: f64| label + s / span * chart;
    let height = AXIS + ROW * bars.len() as f64 + 8.0;
    let width = WIDTH;
    html! {
        svg.gantt xmlns="http://www.w3.org/2000/svg" viewBox={ "0 0 " (width) " " (height) }
            width=(width) height=(height) role="img" aria-label="timeline of the jobs" {
            @for tick in 0..=4 {
                @let s = span * f64::from(tick) / 4.0;
                line.tick x1=(x(s)) x2=(x(s)) y1=(AXIS - 6.0) y2=(height - 4.0) {}
                text.axis x=(x(s)) y=(AXIS - 10.0) { (seconds(s)) }
            }
            @for (row, bar) in bars.iter().enumerate() {
                @let y = AXIS + ROW * row as f64;
                g class={ "bar " (bar.status) } data-task=(bar.task) data-status=(bar.status) {
                    title {
                        (bar.task) ": " (bar.status) ", " (seconds(bar.duration_s))
                        @if let Some(why) = bar.reason { " (" (why) ")" }
                    }
                    text.label x=(label - 10.0) y=(y + ROW / 2.0 + 4.0) { (bar.task) }
                    @if bar.duration_s * chart / span >= 2.0 {
                        rect x=(x(bar.start_s)) y=(y + 5.0)
                            width=(bar.duration_s / span * chart) height=(ROW - 10.0) rx="3" {}
                    } @else {
                        @let cx = x(bar.start_s);
                        @let cy = y + ROW / 2.0;
                        path d={ "M" (cx) "," (cy - 7.0) " L" (cx + 7.0) "," (cy) " L" (cx) ","
                            (cy + 7.0) " L" (cx - 7.0) "," (cy) " z" } {}
                    }
                    text.value x=(x(bar.start_s + bar.duration_s) + 10.0) y=(y + ROW / 2.0 + 4.0) {
                        (bar.status.replace('_', " ")) " · " (seconds(bar.duration_s))
                    }
                }
            }
        }
    }
}
