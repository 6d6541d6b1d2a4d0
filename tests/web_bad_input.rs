//! The web view's answers to bad input over HTTP: unknown ids, unparsable
//! values, unknown targets, missing tokens, other hosts, markup in values,
//! panicking tasks and pages, paths outside the embedded assets, busy
//! scenarios; and the warning for an address other than loopback.

#[path = "web_support.rs"]
mod support;

use std::collections::BTreeSet;

use axum::http::StatusCode;
use pipeline_core::Runtime;
use serde_json::json;
use support::*;

#[tokio::test(flavor = "multi_thread")]
async fn creating_with_an_unknown_type_or_no_name_is_422_beside_the_fields_and_creates_nothing() {
    let runtime = Runtime::in_memory();
    let router = router(runtime.clone());
    let form = post_form(
        &router,
        "/scenarios",
        &[("type", "nope"), ("name", "  "), ("tags", "")],
        Some(TOKEN),
        false,
    )
    .await;
    assert_eq!(form.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        form.body.contains("unknown scenario type `nope`"),
        "{}",
        form.body
    );
    assert!(form.body.contains("give the scenario a name"));
    assert!(form.body.contains(r#"class="field-error""#));

    let api = post_json(
        &router,
        "/api/scenarios",
        json!({ "type": "shop", "name": "" }),
        Some(TOKEN),
    )
    .await;
    assert_eq!(api.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(api.json()["fields"]["name"], "give the scenario a name");
    let malformed = post_json(&router, "/api/scenarios", json!({ "name": 3 }), Some(TOKEN)).await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
    assert!(runtime.scenarios().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_target_is_422_on_the_target_field_and_runs_nothing() {
    let runtime = Runtime::in_memory();
    shop_scenario(&runtime, "spring", &[]);
    let router = router(runtime.clone());
    for (target, message) in [
        (
            "task:nope",
            "scenario type `shop` has no task `nope` (its tasks: discount, sum, shout)",
        ),
        (
            "sequence:nope",
            "scenario type `shop` has no sequence `nope` (its sequences: pricing)",
        ),
        ("everything", "unknown target `everything`"),
    ] {
        let answer = post_json(
            &router,
            "/api/scenarios/1/submit",
            json!({ "target": target }),
            Some(TOKEN),
        )
        .await;
        assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
        let field = answer.json()["fields"]["target"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(field.contains(message), "{field}");
        let form = post_form(
            &router,
            "/scenarios/1/submit",
            &[("target", target)],
            Some(TOKEN),
            true,
        )
        .await;
        assert_eq!(form.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            form.body.contains(r#"class="field-error""#),
            "{}",
            form.body
        );
    }
    let unknown_field = post_json(
        &router,
        "/api/scenarios/1/submit",
        json!({ "targt": "x" }),
        Some(TOKEN),
    )
    .await;
    assert_eq!(unknown_field.status, StatusCode::BAD_REQUEST);
    let shop = runtime
        .open_scenario(shop(), pipeline_core::store::ScenarioId(1))
        .unwrap();
    assert!(shop.job_history().unwrap().submissions.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_ids_and_pages_are_404_with_a_message_in_html_and_json() {
    let runtime = Runtime::in_memory();
    shop_scenario(&runtime, "spring", &[]).submit().unwrap();
    runtime
        .create_scenario(GraphOfNobody::graph(), "orphan")
        .unwrap();
    let router = router(runtime);
    for (path, message) in [
        ("/scenarios/99", "no scenario #99 in this store"),
        ("/api/scenarios/99", "no scenario #99 in this store"),
        ("/scenarios/abc", "scenario ids are numbers"),
        (
            "/scenarios/1/runs/999",
            "scenario #1 has no submission #999",
        ),
        ("/api/scenarios/1/runs/x", "submission ids are numbers"),
        (
            "/scenarios/1/nodes/nope",
            "scenario #1 has no data node `nope`",
        ),
        (
            "/api/scenarios/1/nodes/nope",
            "its nodes are label, rate, prices",
        ),
        (
            "/scenarios/2",
            "a `nobody` scenario, a type this program does not declare",
        ),
        ("/scenarios/99/events", "no scenario #99"),
        ("/nope", "no page at /nope"),
        ("/api/nope", "no page at /api/nope"),
        ("/assets/nope.js", "no asset `nope.js`"),
    ] {
        let answer = get(&router, path).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{path}");
        assert!(answer.body.contains(message), "{path}: {}", answer.body);
        if path.starts_with("/api/") {
            assert_eq!(answer.json()["status"], 404);
        } else {
            assert!(answer.content_type.starts_with("text/html"), "{path}");
        }
    }
}

/// A scenario type this program does not register.
struct GraphOfNobody;

impl GraphOfNobody {
    fn graph() -> pipeline_core::graph::Graph {
        pipeline_core::graph::GraphBuilder::new("nobody")
            .node(pipeline_core::graph::NodeSpec::new::<i64>("n").with_default(1))
            .build()
            .unwrap()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn posts_without_the_token_are_refused_and_change_nothing() {
    let runtime = Runtime::in_memory();
    shop_scenario(&runtime, "spring", &[]);
    let router = router(runtime.clone());
    let forms = ["/scenarios", "/scenarios/1/submit", "/scenarios/1/values"];
    for path in forms {
        for token in [None, Some("wrong")] {
            let answer = post_form(
                &router,
                path,
                &[("type", "shop"), ("name", "x")],
                token,
                false,
            )
            .await;
            assert_eq!(answer.status, StatusCode::FORBIDDEN, "{path} {token:?}");
            assert!(
                answer.body.contains("needs the page&#39;s token")
                    || answer.body.contains("needs the page's token"),
                "{}",
                answer.body
            );
        }
    }
    let apis = [
        "/api/scenarios",
        "/api/scenarios/1/submit",
        "/api/scenarios/1/values",
    ];
    for path in apis {
        for token in [None, Some("wrong")] {
            let answer =
                post_json(&router, path, json!({ "type": "shop", "name": "x" }), token).await;
            assert_eq!(answer.status, StatusCode::FORBIDDEN, "{path}");
            assert!(
                answer.json()["error"]
                    .as_str()
                    .unwrap()
                    .contains("x-csrf-token")
            );
        }
    }
    assert_eq!(runtime.scenarios().unwrap().len(), 1);
    let shop = runtime
        .open_scenario(shop(), pipeline_core::store::ScenarioId(1))
        .unwrap();
    assert!(shop.job_history().unwrap().submissions.is_empty());

    // The token is on every page, and at /api/token for scripts.
    assert!(get(&router, "/scenarios").await.body.contains(TOKEN));
    assert_eq!(get(&router, "/api/token").await.json()["token"], TOKEN);
}

#[tokio::test(flavor = "multi_thread")]
async fn gets_never_change_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = Runtime::open(dir.path()).unwrap();
    let spring = shop_scenario(&runtime, "spring", &[]);
    spring.submit().unwrap();
    let other = shop_scenario(&runtime, "other", &[]);
    other.node::<f64>("rate").unwrap().write(0.1).unwrap();
    let router = router(runtime.clone());
    let snapshot = |runtime: &Runtime| {
        let scenarios = runtime.scenarios().unwrap();
        let submissions: Vec<usize> = scenarios
            .iter()
            .map(|m| runtime.store().submissions(m.id).unwrap().len())
            .collect();
        let versions: Vec<usize> = ["rate", "total", "label"]
            .iter()
            .map(|n| spring.node_history(n).unwrap().len() + other.node_history(n).unwrap().len())
            .collect();
        (scenarios, submissions, versions)
    };
    let before = snapshot(&runtime);
    for path in [
        "/",
        "/scenarios",
        "/api/scenarios",
        "/scenarios/1",
        "/api/scenarios/1",
        "/scenarios/1/runs/1",
        "/api/scenarios/1/runs/1",
        "/scenarios/1/nodes/total",
        "/api/scenarios/1/nodes/total",
        "/compare?s=1&s=2",
        "/api/compare?s=1&s=2",
        "/api/token",
        "/scenarios/1/submit",
        "/scenarios/1/values",
        "/api/scenarios/1/submit",
    ] {
        let answer = get(&router, path).await;
        assert!(answer.status.as_u16() < 500, "{path}: {}", answer.status);
    }
    assert_eq!(snapshot(&runtime), before);
}

#[tokio::test(flavor = "multi_thread")]
async fn showing_a_scenario_whose_type_gained_a_node_writes_no_default() {
    let grown = |extra: bool| {
        let mut builder = pipeline_core::graph::GraphBuilder::new("growing")
            .node(pipeline_core::graph::NodeSpec::new::<i64>("a").with_default(1));
        if extra {
            builder = builder.node(pipeline_core::graph::NodeSpec::new::<i64>("b").with_default(2));
        }
        std::sync::Arc::new(builder.build().unwrap())
    };
    let runtime = Runtime::in_memory();
    let old = runtime.create_scenario(grown(false), "old").unwrap();
    let router = pipeline_core::web::Server::new(runtime.clone())
        .scenario_type(grown(true))
        .router();
    for path in [
        "/scenarios/1",
        "/api/scenarios/1",
        "/scenarios/1/nodes/b",
        "/compare",
    ] {
        assert_eq!(get(&router, path).await.status, StatusCode::OK, "{path}");
    }
    let page = get(&router, "/api/scenarios/1").await.json();
    assert_eq!(page["nodes"][1]["state"], "no_value");
    let b = runtime.store().history(&pipeline_core::store::SlotKey {
        owner: pipeline_core::store::Owner::Scenario(old.id()),
        node: std::sync::Arc::from("b"),
    });
    assert!(b.unwrap().is_empty(), "a GET wrote node b's default");
}

#[tokio::test(flavor = "multi_thread")]
async fn requests_naming_another_host_are_refused() {
    let runtime = Runtime::in_memory();
    let router = router(runtime);
    let request = axum::http::Request::get("/api/scenarios")
        .header("host", "evil.example:8080")
        .body(axum::body::Body::empty())
        .unwrap();
    let answer = send(&router, request).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert!(
        answer.json()["error"]
            .as_str()
            .unwrap()
            .contains("not for host `evil.example:8080`")
    );
    for host in ["localhost:8080", "127.0.0.1:8080", "[::1]:8080"] {
        let request = axum::http::Request::get("/api/scenarios")
            .header("host", host)
            .body(axum::body::Body::empty())
            .unwrap();
        assert_eq!(
            send(&router, request).await.status,
            StatusCode::OK,
            "{host}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_value_is_html_escaped() {
    const SCRIPT: &str = "<script>alert(1)</script>";
    let runtime = Runtime::in_memory();
    let tags = BTreeSet::from([SCRIPT.to_owned()]);
    let shop_scenario = runtime
        .create_scenario_tagged(shop(), SCRIPT, tags)
        .unwrap();
    shop_scenario
        .node::<String>("label")
        .unwrap()
        .write(SCRIPT.to_owned())
        .unwrap();
    shop_scenario.submit().unwrap();
    let other = runtime.create_scenario(shop(), "other").unwrap();
    other.submit().unwrap();
    runtime
        .create_scenario(fragile(), SCRIPT)
        .unwrap()
        .submit()
        .unwrap();
    let router = router(runtime);
    for path in [
        "/scenarios",
        "/scenarios/1",
        "/scenarios/1/nodes/label",
        "/scenarios/1/nodes/banner",
        "/scenarios/1/runs/1",
        "/compare?s=1&s=2",
        "/scenarios/3",
        "/scenarios/3/runs/3",
    ] {
        let page = get(&router, path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert!(!page.body.contains(SCRIPT), "{path} holds a raw script");
        assert!(!page.body.contains("<img src=x"), "{path} holds a raw img");
        assert!(
            page.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{path} does not show the value"
        );
    }
    // The JSON twins hold the values as they are.
    let json = get(&router, "/api/scenarios/1/nodes/label").await.json();
    assert_eq!(json["value"]["text"], format!("{SCRIPT:?}"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_panicking_task_shows_as_failed_with_its_message_and_its_outputs_as_failed_producer() {
    let runtime = Runtime::in_memory();
    runtime.create_scenario(fragile(), "fragile").unwrap();
    let router = router(runtime);
    let done = submit_and_wait(&router, 1, json!({})).await;
    assert_eq!(
        statuses(&done),
        [
            ("explode".into(), "failed".into()),
            ("after".into(), "abandoned".into())
        ]
    );
    assert_eq!(
        done["submission"]["jobs"][0]["error"],
        "panicked: <img src=x onerror=alert(1)> boom"
    );
    let page = get(&router, "/api/scenarios/1").await.json();
    assert_eq!(page["nodes"][1]["state"], "failed_producer");
    assert!(
        page["nodes"][1]["reason"]
            .as_str()
            .unwrap()
            .contains("task `explode` failed in submission #1: panicked")
    );
    assert_eq!(page["tasks"][1]["status"], "abandoned");
    let html = get(&router, "/scenarios/1").await;
    assert!(
        html.body
            .contains(r#"data-task="explode" data-status="failed""#)
    );
    assert!(
        html.body
            .contains("panicked: &lt;img src=x onerror=alert(1)&gt; boom")
    );
    // The server still serves.
    assert_eq!(get(&router, "/scenarios").await.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread")]
async fn work_that_panics_answers_500_and_the_server_keeps_serving() {
    let runtime = Runtime::in_memory();
    runtime.create_scenario(trapped(), "trap").unwrap();
    let router = router(runtime);
    for path in [
        "/scenarios/1",
        "/api/scenarios/1",
        "/scenarios/1/nodes/trap",
    ] {
        let answer = get(&router, path).await;
        assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR, "{path}");
        assert!(
            answer
                .body
                .contains("this page&#39;s work panicked: rendering a trap")
                || answer
                    .body
                    .contains("this page's work panicked: rendering a trap"),
            "{}",
            answer.body
        );
    }
    assert_eq!(get(&router, "/scenarios").await.status, StatusCode::OK);
    assert_eq!(get(&router, "/api/scenarios").await.json()["total"], 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn assets_are_embedded_and_no_request_reaches_the_file_system() {
    let router = router(Runtime::in_memory());
    let htmx = get(&router, "/assets/htmx.min.js").await;
    assert_eq!(htmx.status, StatusCode::OK);
    assert!(htmx.content_type.starts_with("text/javascript"));
    assert!(htmx.body.len() > 40_000);
    assert!(
        get(&router, "/assets/htmx-ext-sse.min.js")
            .await
            .body
            .contains("sse")
    );
    assert!(
        get(&router, "/assets/style.css")
            .await
            .body
            .contains("svg.dag")
    );
    assert!(
        get(&router, "/assets/htmx.LICENSE")
            .await
            .body
            .contains("Zero-Clause BSD")
    );
    for path in [
        "/assets/..%2F..%2FCargo.toml",
        "/assets/../Cargo.toml",
        "/assets/%2Fetc%2Fpasswd",
        "/assets/",
        "/assets/style.css/",
    ] {
        let answer = get(&router, path).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{path}");
        assert!(!answer.body.contains("[workspace]") && !answer.body.contains("root:"));
    }
    let page = get(&router, "/scenarios").await;
    assert!(page.body.contains(r#"src="/assets/htmx.min.js""#));
}

#[test]
fn binding_another_address_than_loopback_warns() {
    use pipeline_core::web::Server;
    let local = Server::new(Runtime::in_memory())
        .addr("127.0.0.1:0".parse().unwrap())
        .bind()
        .unwrap();
    assert_eq!(local.warning(), None);
    assert_ne!(local.local_addr().port(), 0);
    let open = Server::new(Runtime::in_memory())
        .addr("0.0.0.0:0".parse().unwrap())
        .bind()
        .unwrap();
    let warning = open.warning().unwrap();
    assert!(warning.contains("other machines may reach"), "{warning}");
    assert!(warning.contains("--addr 127.0.0.1:"), "{warning}");
    let taken = Server::new(Runtime::in_memory())
        .addr(local.local_addr())
        .bind();
    let error = taken.err().unwrap().to_string();
    assert!(error.contains("cannot listen on 127.0.0.1:"), "{error}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_value_is_422_beside_its_field_and_nothing_is_written() {
    let runtime = Runtime::in_memory();
    shop_scenario(&runtime, "spring", &[]);
    let router = router(runtime.clone());
    let answer = post_form(
        &router,
        "/scenarios/1/submit",
        &[
            ("set.rate", "fast"),
            ("set.label", "new label"),
            ("target", "scenario"),
        ],
        Some(TOKEN),
        true,
    )
    .await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    // The message sits beside the field, which keeps what was typed.
    let field = answer.body.split(r#"name="set.rate""#).nth(1).unwrap();
    let beside = &field[..field.find("</label>").unwrap()];
    assert!(beside.contains(r#"value="fast""#), "{beside}");
    assert!(beside.contains(r#"aria-invalid="true""#), "{beside}");
    assert!(
        beside.contains(r#"class="field-error""#) && beside.contains("is not a valid f64"),
        "{beside}"
    );
    assert!(answer.body.contains("nothing was written"));

    let api = post_json(
        &router,
        "/api/scenarios/1/values",
        json!({ "set": { "rate": "1e", "label": "x", "total": "3", "nope": "1" } }),
        Some(TOKEN),
    )
    .await;
    assert_eq!(api.status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields = api.json()["fields"].clone();
    assert!(
        fields["rate"]
            .as_str()
            .unwrap()
            .contains("\"1e\" is not a valid f64"),
        "{fields}"
    );
    assert_eq!(
        fields["total"],
        "`total` is computed by task `sum`; only parameters can be set"
    );
    assert_eq!(
        fields["nope"],
        "scenario type `shop` has no data node `nope`"
    );
    assert!(fields.get("label").is_none());

    let shop = runtime
        .open_scenario(shop(), pipeline_core::store::ScenarioId(1))
        .unwrap();
    assert_eq!(
        *shop.node::<String>("label").unwrap().read().unwrap(),
        "plain"
    );
    assert_eq!(shop.node_history("rate").unwrap().len(), 1);
    assert!(shop.job_history().unwrap().submissions.is_empty());
}
