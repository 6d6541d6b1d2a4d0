//! What the web view's tests share: small scenario types (one that computes,
//! one whose task panics, one whose value panics when shown), a server over
//! them, and requests as a browser or a script sends them.

#![allow(dead_code)] // each test file uses part of it

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, Response, StatusCode, header};
use pipeline_core::graph::{Graph, GraphBuilder, NodeSpec, TaskSpec};
use pipeline_core::task::TaskDef;
use pipeline_core::value::ValueError;
use pipeline_core::web::Server;
use pipeline_core::{Runtime, Scenario, Value};
use serde_json::json;
use tower::ServiceExt;

/// The CSRF token the test servers use.
pub const TOKEN: &str = "0123456789abcdef0123456789abcdef";

/// A price list: three parameters, three tasks, one sequence.
pub fn shop() -> Arc<Graph> {
    Arc::new(
        GraphBuilder::new("shop")
            .node(NodeSpec::new::<String>("label").with_default("plain".to_owned()))
            .node(NodeSpec::new::<f64>("rate").with_default(0.5))
            .node(NodeSpec::new::<Vec<f64>>("prices").with_default(vec![10.0, 20.0]))
            .node(NodeSpec::new::<Vec<f64>>("discounted"))
            .node(NodeSpec::new::<f64>("total"))
            .node(NodeSpec::new::<String>("banner"))
            .task(
                TaskSpec::new(TaskDef::from_fn2(
                    "discount",
                    "1",
                    |p: &Vec<f64>, r: &f64| p.iter().map(|x| x * (1.0 - r)).collect::<Vec<f64>>(),
                ))
                .inputs(["prices", "rate"])
                .outputs(["discounted"])
                .skippable(true),
            )
            .task(
                TaskSpec::new(TaskDef::from_fn1("sum", "1", |d: &Vec<f64>| {
                    d.iter().sum::<f64>()
                }))
                .inputs(["discounted"])
                .outputs(["total"])
                .skippable(true),
            )
            .task(
                TaskSpec::new(TaskDef::from_fn2("shout", "1", |l: &String, t: &f64| {
                    format!("{l}: {t}")
                }))
                .inputs(["label", "total"])
                .outputs(["banner"])
                .skippable(true),
            )
            .sequence("pricing", ["discount", "sum"])
            .build()
            .expect("the shop graph is valid"),
    )
}

/// One task that panics, with markup in its message.
pub fn fragile() -> Arc<Graph> {
    Arc::new(
        GraphBuilder::new("fragile")
            .node(NodeSpec::new::<i64>("x").with_default(1))
            .node(NodeSpec::new::<i64>("y"))
            .node(NodeSpec::new::<i64>("z"))
            .task(
                TaskSpec::new(TaskDef::from_fn1("explode", "1", |x: &i64| -> i64 {
                    if *x == 1 {
                        panic!("<img src=x onerror=alert(1)> boom");
                    }
                    x * 2
                }))
                .inputs(["x"])
                .outputs(["y"])
                .skippable(true),
            )
            .task(
                TaskSpec::new(TaskDef::from_fn1("after", "1", |y: &i64| y + 1))
                    .inputs(["y"])
                    .outputs(["z"])
                    .skippable(true),
            )
            .build()
            .expect("the fragile graph is valid"),
    )
}

/// A value whose rendering panics: showing it must not bring the server down.
#[derive(Clone)]
pub struct Trap(pub u8);

impl Value for Trap {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), ValueError> {
        out.push(self.0);
        Ok(())
    }
    fn decode(input: &mut &[u8]) -> Result<Self, ValueError> {
        let (&first, rest) = input
            .split_first()
            .ok_or_else(|| ValueError::decode::<Trap>("no byte"))?;
        *input = rest;
        Ok(Trap(first))
    }
    fn render(&self) -> Option<String> {
        panic!("rendering a trap");
    }
}

/// A scenario type holding a [`Trap`].
pub fn trapped() -> Arc<Graph> {
    Arc::new(
        GraphBuilder::new("trapped")
            .node(NodeSpec::new::<Trap>("trap").with_default(Trap(7)))
            .build()
            .expect("the trapped graph is valid"),
    )
}

/// A server over `runtime` knowing every test type, with the test token.
pub fn server(runtime: Runtime) -> Server {
    Server::new(runtime)
        .scenario_types([shop(), fragile(), trapped()])
        .csrf_token(TOKEN)
}

/// The router of [`server`].
pub fn router(runtime: Runtime) -> axum::Router {
    server(runtime).router()
}

/// An answer: status, content type and body as text.
pub struct Answer {
    pub status: StatusCode,
    pub content_type: String,
    pub body: String,
}

impl Answer {
    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

async fn answer(response: Response<Body>) -> Answer {
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 26)
        .await
        .expect("the body arrives");
    Answer {
        status,
        content_type,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

/// Sends one request through the router.
pub async fn send(router: &axum::Router, request: Request<Body>) -> Answer {
    answer(router.clone().oneshot(request).await.expect("infallible")).await
}

/// `GET path`, as a browser on this machine sends it.
pub async fn get(router: &axum::Router, path: &str) -> Answer {
    let request = Request::get(path)
        .header(header::HOST, "127.0.0.1:8080")
        .body(Body::empty())
        .unwrap();
    send(router, request).await
}

/// `POST path` of a URL-encoded form (the token added unless `token` is `None`).
pub async fn post_form(
    router: &axum::Router,
    path: &str,
    fields: &[(&str, &str)],
    token: Option<&str>,
    htmx: bool,
) -> Answer {
    let mut pairs: Vec<(&str, &str)> = fields.to_vec();
    if let Some(token) = token {
        pairs.push(("_csrf", token));
    }
    let body = serde_urlencoded::to_string(&pairs).unwrap();
    let mut request = Request::post(path)
        .header(header::HOST, "127.0.0.1:8080")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if htmx {
        request = request.header("hx-request", "true");
    }
    send(router, request.body(Body::from(body)).unwrap()).await
}

/// `POST path` with a JSON body and the token header (unless `None`).
pub async fn post_json(
    router: &axum::Router,
    path: &str,
    body: serde_json::Value,
    token: Option<&str>,
) -> Answer {
    let mut request = Request::post(path)
        .header(header::HOST, "127.0.0.1:8080")
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(token) = token {
        request = request.header("x-csrf-token", token);
    }
    send(router, request.body(Body::from(body.to_string())).unwrap()).await
}

/// A task the test lets finish: it waits until [`Gate::open`].
#[derive(Clone, Default)]
pub struct Gate(Arc<(std::sync::Mutex<bool>, std::sync::Condvar)>);

impl Gate {
    /// Lets every waiting (and later) run of the task finish.
    pub fn open(&self) {
        *self.0.0.lock().unwrap() = true;
        self.0.1.notify_all();
    }

    /// Makes later runs of the task wait again.
    pub fn close(&self) {
        *self.0.0.lock().unwrap() = false;
    }

    fn wait(&self) {
        let mut open = self.0.0.lock().unwrap();
        while !*open {
            open = self.0.1.wait(open).unwrap();
        }
    }
}

/// `n` (a parameter) → `held` (a task that waits for the gate) → `m`.
pub fn gated(gate: &Gate) -> Arc<Graph> {
    let gate = gate.clone();
    Arc::new(
        GraphBuilder::new("gated")
            .node(NodeSpec::new::<i64>("n").with_default(1))
            .node(NodeSpec::new::<i64>("m"))
            .task(
                TaskSpec::new(TaskDef::from_fn1("held", "1", move |n: &i64| {
                    gate.wait();
                    n * 10
                }))
                .inputs(["n"])
                .outputs(["m"])
                .skippable(true),
            )
            .build()
            .expect("the gated graph is valid"),
    )
}

pub fn shop_scenario(runtime: &Runtime, name: &str, tags: &[&str]) -> Scenario {
    let tags: BTreeSet<String> = tags.iter().map(|t| t.to_string()).collect();
    runtime.create_scenario_tagged(shop(), name, tags).unwrap()
}

pub async fn submit_and_wait(
    router: &axum::Router,
    id: u64,
    body: serde_json::Value,
) -> serde_json::Value {
    let mut body = body;
    body["wait"] = json!(true);
    let answer = post_json(
        router,
        &format!("/api/scenarios/{id}/submit"),
        body,
        Some(TOKEN),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    answer.json()
}

pub fn statuses(submission: &serde_json::Value) -> Vec<(String, String)> {
    submission["submission"]["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| {
            (
                j["task"].as_str().unwrap().to_owned(),
                j["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

pub async fn wait_until_idle(router: &axum::Router, id: u64) -> serde_json::Value {
    for _ in 0..1000 {
        let page = get(router, &format!("/api/scenarios/{id}")).await.json();
        if page["live"]["busy"] == false {
            return page;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("scenario {id} stayed busy");
}
