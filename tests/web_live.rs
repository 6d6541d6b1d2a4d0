//! The web view on a real port: the event streams a page and a script follow
//! while a submission runs, and a store another process holds locked.

#[path = "web_support.rs"]
mod support;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;
use pipeline_core::Runtime;
use pipeline_core::store::ScenarioId;
use pipeline_core::store::SqliteOptions;
use pipeline_core::web::Running;
use serde_json::json;
use support::*;

/// An open event stream: the events (name, data) as they arrive.
struct Events {
    body: hyper::body::Incoming,
    buffer: String,
    _sender: hyper::client::conn::http1::SendRequest<http_body_util::Empty<hyper::body::Bytes>>,
    _connection: tokio::task::JoinHandle<()>,
}

impl Events {
    async fn open(server: &Running, path: &str) -> Self {
        let addr = server.local_addr();
        let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap();
        let connection = tokio::spawn(async move {
            let _ = connection.await;
        });
        let request = hyper::Request::get(path)
            .header("host", addr.to_string())
            .header("accept", "text/event-stream")
            .body(http_body_util::Empty::<hyper::body::Bytes>::new())
            .unwrap();
        let response = sender.send_request(request).await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        Self {
            body: response.into_body(),
            buffer: String::new(),
            _sender: sender,
            _connection: connection,
        }
    }

    /// The next event, or `None` after `wait` without one.
    async fn next(&mut self, wait: Duration) -> Option<(String, String)> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut name = None;
                let mut data = Vec::new();
                for line in block.lines() {
                    if let Some(n) = line.strip_prefix("event: ") {
                        name = Some(n.to_owned());
                    } else if let Some(d) = line.strip_prefix("data: ") {
                        data.push(d);
                    } else if line == "data:" {
                        data.push("");
                    }
                }
                let Some(name) = name else {
                    continue; // a keep-alive comment
                };
                // A browser drops an event without data: the server never sends one.
                assert!(!data.is_empty(), "event `{name}` has no data");
                return Some((name, data.join("\n")));
            }
            let frame = tokio::time::timeout_at(deadline, self.body.frame())
                .await
                .ok()??
                .ok()?;
            if let Ok(bytes) = frame.into_data() {
                self.buffer.push_str(&String::from_utf8_lossy(&bytes));
            }
        }
    }
}

fn serve(runtime: Runtime) -> Running {
    server(runtime)
        .addr("127.0.0.1:0".parse().unwrap())
        .bind()
        .unwrap()
        .spawn()
}

async fn post(server: &Running, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
    let addr = server.local_addr();
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let request = hyper::Request::post(path)
        .header("host", addr.to_string())
        .header("content-type", "application/json")
        .header("x-csrf-token", server.csrf_token())
        .body(http_body_util::Full::new(hyper::body::Bytes::from(
            body.to_string(),
        )))
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(json!(null)),
    )
}

async fn get_json(server: &Running, path: &str) -> serde_json::Value {
    let addr = server.local_addr();
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let request = hyper::Request::get(path)
        .header("host", addr.to_string())
        .body(http_body_util::Empty::<hyper::body::Bytes>::new())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_json_stream_sends_every_status_change_of_a_submission() {
    let runtime = Runtime::in_memory();
    runtime.create_scenario(shop(), "spring").unwrap();
    let server = serve(runtime);
    let mut events = Events::open(&server, "/api/scenarios/1/events").await;
    let (status, _) = post(&server, "/api/scenarios/1/submit", json!({})).await;
    assert_eq!(status, 202);

    let mut seen = Vec::new();
    while let Some((name, data)) = events.next(Duration::from_secs(20)).await {
        let data: serde_json::Value = serde_json::from_str(&data).unwrap();
        assert_eq!(data["kind"], name.as_str());
        assert!(data["at"].as_str().unwrap().ends_with('Z'));
        let entry = match name.as_str() {
            "job" => format!(
                "{} {}",
                data["task"].as_str().unwrap(),
                data["status"].as_str().unwrap()
            ),
            other => other.to_owned(),
        };
        seen.push(entry);
        if name == "queue" && seen.contains(&"finished".to_owned()) {
            break;
        }
    }
    assert_eq!(
        seen,
        [
            "queue", // accepted
            "started",
            "discount running",
            "discount completed",
            "sum running",
            "sum completed",
            "shout running",
            "shout completed",
            "finished",
            "queue", // the web's record of its outcome
        ]
    );
    server.stop().unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_page_stream_swaps_the_graph_and_tasks_as_of_each_change() {
    let runtime = Runtime::in_memory();
    runtime.create_scenario(shop(), "spring").unwrap();
    let server = serve(runtime);
    let mut events = Events::open(&server, "/scenarios/1/events").await;
    // On connecting: the current state, so nothing since the page was drawn is missed.
    let mut first = Vec::new();
    for _ in 0..5 {
        first.push(events.next(Duration::from_secs(10)).await.unwrap());
    }
    let names: Vec<&str> = first.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["dag", "jobs", "status", "nodes", "submissions"]);
    assert!(
        first[0]
            .1
            .contains(r#"data-task="sum" data-status="never_run""#)
    );

    post(&server, "/api/scenarios/1/submit", json!({})).await;
    let mut sum_states = Vec::new();
    while let Some((name, data)) = events.next(Duration::from_secs(20)).await {
        if name == "dag" {
            for status in ["pending", "running", "completed"] {
                if data.contains(&format!(r#"data-task="sum" data-status="{status}""#))
                    && sum_states.last() != Some(&status)
                {
                    sum_states.push(status);
                }
            }
        }
        if name == "status" && data.contains("has ended") {
            break;
        }
    }
    assert_eq!(sum_states, ["pending", "running", "completed"]);
    server.stop().unwrap();
}

/// A process holding a scenario's lock in a store as another program
/// submitting it does (an advisory lock on the lock file, its pid written
/// in it); killed when dropped.
struct Holder(Child);

impl Holder {
    fn lock(store: &std::path::Path, scenario: u64) -> Self {
        let file = store
            .join("locks")
            .join(format!("scenario-{scenario}.lock"));
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        let script = format!(
            "exec 9>>'{path}'; flock 9; printf '%-10s\\n' $$ > '{path}'; echo locked; exec sleep 60",
            path = file.display()
        );
        let mut child = Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("sh and flock (util-linux) run");
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.as_mut().unwrap()),
            &mut line,
        )
        .unwrap();
        assert_eq!(line.trim(), "locked");
        Self(child)
    }

    fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scenario_locked_by_another_process_shows_as_waiting_then_runs() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = Runtime::open_with(dir.path(), SqliteOptions::new().quiet(true)).unwrap();
    runtime.create_scenario(shop(), "spring").unwrap();
    let holder = Holder::lock(dir.path(), 1);
    let server = serve(runtime.clone());

    let (status, _) = post(&server, "/api/scenarios/1/submit", json!({})).await;
    assert_eq!(status, 202);
    let page = get_json(&server, "/api/scenarios/1").await;
    assert_eq!(page["live"]["busy"], true);
    let waiting = page["live"]["queued"][0]["waiting_for"]
        .as_str()
        .unwrap()
        .to_owned();
    let expected = format!("process {}, which is submitting scenario #1", holder.pid());
    assert_eq!(waiting, expected);
    let html = get_json_text(&server, "/scenarios/1").await;
    assert!(
        html.contains(&format!("the store is locked by {expected}")),
        "{html}"
    );

    drop(holder);
    let mut done = false;
    for _ in 0..500 {
        let page = get_json(&server, "/api/scenarios/1").await;
        if page["live"]["busy"] == false && page["submissions"].as_array().unwrap().len() == 1 {
            assert_eq!(page["submissions"][0]["status"], "completed");
            done = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(done, "the submission never ran after the lock was released");
    let shop = runtime.open_scenario(shop(), ScenarioId(1)).unwrap();
    assert_eq!(*shop.node::<f64>("total").unwrap().read().unwrap(), 15.0);
    server.stop().unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lock_timeout_shows_the_store_error_and_a_waiting_script_gets_409() {
    let dir = tempfile::tempdir().unwrap();
    let options = SqliteOptions::new()
        .quiet(true)
        .lock_timeout(Some(Duration::from_millis(100)));
    let runtime = Runtime::open_with(dir.path(), options).unwrap();
    runtime.create_scenario(shop(), "spring").unwrap();
    let holder = Holder::lock(dir.path(), 1);
    let server = serve(runtime);

    let (status, body) = post(&server, "/api/scenarios/1/submit", json!({ "wait": true })).await;
    assert_eq!(status, 409, "{body}");
    let error = body["error"].as_str().unwrap();
    let by = format!("scenario #1 is locked by process {}", holder.pid());
    assert!(error.contains(&by), "{error}");
    let html = get_json_text(&server, "/scenarios/1").await;
    assert!(
        html.contains(&format!("The last submission could not run: store: {by}")),
        "{html}"
    );
    server.stop().unwrap();
}

async fn get_json_text(server: &Running, path: &str) -> String {
    let addr = server.local_addr();
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let request = hyper::Request::get(path)
        .header("host", addr.to_string())
        .body(http_body_util::Empty::<hyper::body::Bytes>::new())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8_lossy(&bytes).into_owned()
}
