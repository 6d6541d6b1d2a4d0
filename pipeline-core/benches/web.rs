//! The web view's costs (issue 18), over a real port with plain HTTP/1.1:
//!
//! - `pages/*`: one request and its whole answer, for every page and a few
//!   JSON twins, on an SQLite store holding 1,000 scenarios and 100,000 jobs
//!   (a 10-task chain per scenario, submitted 10 times with a new input each
//!   time, every job run and recorded), with 50 scenarios a list page
//!   (target: ≤ 50 ms each);
//! - `sse/json_event_latency`: from a status change's publication (the
//!   event's own time, sent in the JSON stream as `at`) to its receipt by a
//!   client of `GET /api/scenarios/{id}/events`, on an in-memory runtime;
//! - `sse/page_fragment_latency`: from the same publication to the receipt of
//!   the graph fragment the scenario page's stream
//!   (`GET /scenarios/{id}/events`) renders for that change (target for
//!   both: ≤ 100 ms). Criterion's "time" is the latency.
//!
//! `cargo bench -p pipeline-core --features web --bench web`

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use criterion::{Criterion, criterion_group, criterion_main};
use pipeline_core::Runtime;
use pipeline_core::graph::Graph;
use pipeline_core::store::SqliteOptions;
use pipeline_core::synthetic::{Shape, graph};
use pipeline_core::web::{Running, Server};

const SCENARIOS: usize = 1_000;
const TASKS: usize = 10;
const SUBMISSIONS_EACH: u64 = 10;

/// `GET path` on a new connection; the answer's status line and body length.
fn get(addr: SocketAddr, path: &str) -> (String, usize) {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    let text = String::from_utf8_lossy(&answer);
    let status = text.lines().next().unwrap_or_default().to_owned();
    (status, answer.len())
}

/// A store of `SCENARIOS` scenarios of a `TASKS`-task chain, each submitted
/// `SUBMISSIONS_EACH` times with a new input: 100,000 jobs that ran.
fn big_store(dir: &std::path::Path) -> (Runtime, Arc<Graph>) {
    let graph = Arc::new(graph(Shape::Chain, TASKS));
    let runtime = Runtime::open_with(dir, SqliteOptions::new().quiet(true)).unwrap();
    let started = Instant::now();
    for i in 0..SCENARIOS {
        let scenario = runtime
            .create_scenario(graph.clone(), &format!("scenario {i}"))
            .unwrap();
        for round in 1..=SUBMISSIONS_EACH {
            scenario.node::<u64>("input").unwrap().write(round).unwrap();
            assert!(scenario.submit().unwrap().is_success());
        }
    }
    runtime.store().flush().unwrap();
    eprintln!(
        "store of {SCENARIOS} scenarios and {} jobs made in {:.1} s",
        SCENARIOS * TASKS * SUBMISSIONS_EACH as usize,
        started.elapsed().as_secs_f64()
    );
    (runtime, graph)
}

fn serve(runtime: Runtime, graph: Arc<Graph>) -> Running {
    Server::new(runtime)
        .scenario_type(graph)
        .addr("127.0.0.1:0".parse().unwrap())
        .bind()
        .unwrap()
        .spawn()
}

fn pages(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let (runtime, graph) = big_store(dir.path());
    // A scenario in the middle, and one of its submissions.
    let id = SCENARIOS / 2;
    let submission = runtime
        .store()
        .latest_submissions(&[pipeline_core::store::ScenarioId(id as u64)])
        .unwrap()[0]
        .as_ref()
        .unwrap()
        .id
        .0;
    let server = serve(runtime, graph);
    let addr = server.local_addr();
    let paths = [
        ("scenarios", "/scenarios".to_owned()),
        ("scenarios_last_page", "/scenarios?page=20".to_owned()),
        ("scenarios_json", "/api/scenarios".to_owned()),
        ("scenario", format!("/scenarios/{id}")),
        ("scenario_json", format!("/api/scenarios/{id}")),
        ("run", format!("/scenarios/{id}/runs/{submission}")),
        ("node", format!("/scenarios/{id}/nodes/n9")),
        ("node_json", format!("/api/scenarios/{id}/nodes/n9")),
        ("compare", format!("/compare?s=1&s={id}")),
        ("compare_json", format!("/api/compare?s=1&s={id}")),
    ];
    let mut group = c.benchmark_group("pages");
    group.sample_size(30);
    for (name, path) in &paths {
        let (status, _) = get(addr, path);
        assert!(status.contains(" 200 "), "{path}: {status}");
        group.bench_function(*name, |b| b.iter(|| get(addr, path)));
    }
    group.finish();
    server.stop().unwrap();
}

/// Opens an event stream and reads it on a thread of its own, handing on
/// each event's name, `data:` text and time of receipt.
fn follow(addr: SocketAddr, path: &str) -> std::sync::mpsc::Receiver<(String, String, SystemTime)> {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n"
    )
    .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let reader = BufReader::new(stream);
        let mut name = String::new();
        for line in reader.lines() {
            let Ok(line) = line else { return };
            if let Some(event) = line.strip_prefix("event: ") {
                name = event.to_owned();
            } else if let Some(data) = line.strip_prefix("data: ") {
                // An HTML fragment spans several data lines: its first is enough.
                if !name.is_empty()
                    && tx
                        .send((
                            std::mem::take(&mut name),
                            data.to_owned(),
                            SystemTime::now(),
                        ))
                        .is_err()
                {
                    return;
                }
            }
        }
    });
    rx
}

/// `2025-03-01T10:00:00.123456789Z` as a time (days from the civil date).
fn parse_rfc3339(text: &str) -> SystemTime {
    let (date, rest) = text.split_once('T').unwrap();
    let mut ymd = date.split('-').map(|p| p.parse::<i64>().unwrap());
    let (y, m, d) = (
        ymd.next().unwrap(),
        ymd.next().unwrap(),
        ymd.next().unwrap(),
    );
    let (clock, nanos) = rest.trim_end_matches('Z').split_once('.').unwrap();
    let mut hms = clock.split(':').map(|p| p.parse::<i64>().unwrap());
    let (h, mi, s) = (
        hms.next().unwrap(),
        hms.next().unwrap(),
        hms.next().unwrap(),
    );
    // Howard Hinnant's days-from-civil.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + h * 3600 + mi * 60 + s;
    SystemTime::UNIX_EPOCH
        + Duration::from_secs(secs as u64)
        + Duration::from_nanos(nanos.parse().unwrap())
}

/// The next event named `name` (others skipped).
fn next_named(
    events: &std::sync::mpsc::Receiver<(String, String, SystemTime)>,
    name: &str,
) -> (String, SystemTime) {
    loop {
        let (event, data, at) = events.recv_timeout(Duration::from_secs(10)).unwrap();
        if event == name {
            return (data, at);
        }
    }
}

fn sse_latency(c: &mut Criterion) {
    let runtime = Runtime::in_memory();
    let graph = Arc::new(pipeline_core::synthetic::four_tasks());
    let scenario = runtime.create_scenario(graph.clone(), "live").unwrap();
    let server = serve(runtime, graph);
    let id = scenario.id().0;
    let json = follow(server.local_addr(), &format!("/api/scenarios/{id}/events"));
    let page = follow(server.local_addr(), &format!("/scenarios/{id}/events"));
    // The page's stream sends the current state first.
    next_named(&page, "dag");
    // Both streams are open once a submission's events arrive on each.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        scenario.submit_forced().unwrap();
        if json.recv_timeout(Duration::from_millis(100)).is_ok()
            && page.recv_timeout(Duration::from_millis(100)).is_ok()
        {
            break;
        }
        assert!(Instant::now() < deadline, "the event streams never opened");
    }
    std::thread::sleep(Duration::from_millis(200));
    while json.try_recv().is_ok() || page.try_recv().is_ok() {}

    // A forced submission of four tasks: started, eight job changes, finished.
    const CHANGES: usize = 10;
    let mut group = c.benchmark_group("sse");
    group.bench_function("json_event_latency", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut counted = 0u64;
            while counted < iters {
                scenario.submit_forced().unwrap();
                for _ in 0..CHANGES {
                    let (_, data, received) = json.recv_timeout(Duration::from_secs(10)).unwrap();
                    let event: serde_json::Value = serde_json::from_str(&data).unwrap();
                    let published = parse_rfc3339(event["at"].as_str().unwrap());
                    if counted < iters {
                        total += received.duration_since(published).unwrap_or_default();
                        counted += 1;
                    }
                }
                // The page's fragments of these changes, drained.
                for _ in 0..CHANGES {
                    next_named(&page, "submissions");
                }
            }
            total
        })
    });
    // The page's graph fragment of each change (rendered as of that change),
    // against the change's publication time from the JSON stream.
    group.bench_function("page_fragment_latency", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut counted = 0u64;
            while counted < iters {
                scenario.submit_forced().unwrap();
                for _ in 0..CHANGES {
                    let (_, data, _) = json.recv_timeout(Duration::from_secs(10)).unwrap();
                    let event: serde_json::Value = serde_json::from_str(&data).unwrap();
                    let published = parse_rfc3339(event["at"].as_str().unwrap());
                    let (_, received) = next_named(&page, "dag");
                    if counted < iters {
                        total += received.duration_since(published).unwrap_or_default();
                        counted += 1;
                    }
                }
            }
            total
        })
    });
    group.finish();
    drop((json, page));
    server.stop().unwrap();
}

criterion_group!(benches, pages, sse_latency);
criterion_main!(benches);
