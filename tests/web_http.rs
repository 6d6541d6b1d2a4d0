//! The web view over HTTP: every route and its JSON twin, and every bad
//! input (unknown ids, bad values, missing tokens, other hosts, panics,
//! locked stores), through the router as a browser or a script calls it.

#[path = "web_support.rs"]
mod support;

use std::collections::BTreeSet;

use axum::http::StatusCode;
use pipeline_core::{Runtime, Scenario};
use serde_json::json;
use support::*;

fn shop_scenario(runtime: &Runtime, name: &str, tags: &[&str]) -> Scenario {
    let tags: BTreeSet<String> = tags.iter().map(|t| t.to_string()).collect();
    runtime.create_scenario_tagged(shop(), name, tags).unwrap()
}

async fn submit_and_wait(
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

fn statuses(submission: &serde_json::Value) -> Vec<(String, String)> {
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

#[tokio::test(flavor = "multi_thread")]
async fn scenarios_page_lists_filters_by_type_and_tag_and_pages() {
    let runtime = Runtime::in_memory();
    shop_scenario(&runtime, "spring", &["2025", "sale"]);
    shop_scenario(&runtime, "autumn", &["2025"]);
    runtime.create_scenario(fragile(), "fragile one").unwrap();
    let router = router(runtime);

    let page = get(&router, "/scenarios").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.content_type.starts_with("text/html"));
    for name in ["spring", "autumn", "fragile one", "never submitted"] {
        assert!(page.body.contains(name), "{name} missing");
    }

    let filtered = get(&router, "/api/scenarios?type=shop&tag=sale")
        .await
        .json();
    let names: Vec<&str> = filtered["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["spring"]);
    assert_eq!(filtered["total"], 1);
    assert_eq!(filtered["scenarios"][0]["type"], "shop");
    assert_eq!(filtered["scenarios"][0]["tags"], json!(["2025", "sale"]));
    assert_eq!(filtered["scenarios"][0]["last_submission"], json!(null));

    let html = get(&router, "/scenarios?type=fragile").await;
    assert!(html.body.contains("fragile one") && !html.body.contains("autumn"));

    // Newest first, one a page.
    let second = get(&router, "/api/scenarios?per_page=1&page=2")
        .await
        .json();
    assert_eq!(second["pages"], 3);
    assert_eq!(second["scenarios"][0]["name"], "autumn");

    let bad = get(&router, "/api/scenarios?page=many").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(
        bad.json()["error"]
            .as_str()
            .unwrap()
            .contains("bad query string")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_scenario_list_shows_the_last_submissions_status() {
    let runtime = Runtime::in_memory();
    shop_scenario(&runtime, "ok", &[]).submit().unwrap();
    runtime
        .create_scenario(fragile(), "broken")
        .unwrap()
        .submit()
        .unwrap();
    let router = router(runtime);
    let list = get(&router, "/api/scenarios").await.json();
    let status = |name: &str| {
        list["scenarios"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .unwrap()["last_submission"]["status"]
            .clone()
    };
    assert_eq!(status("ok"), "completed");
    assert_eq!(status("broken"), "failed");
}

#[tokio::test(flavor = "multi_thread")]
async fn creating_a_scenario_by_form_redirects_to_it_and_by_json_answers_201() {
    let runtime = Runtime::in_memory();
    let router = router(runtime.clone());
    let form = post_form(
        &router,
        "/scenarios",
        &[
            ("type", "shop"),
            ("name", "winter"),
            ("tags", "2026, cold ,"),
        ],
        Some(TOKEN),
        false,
    )
    .await;
    assert_eq!(form.status, StatusCode::SEE_OTHER);
    let created = runtime.scenario_named("winter").unwrap();
    assert_eq!(created.graph, "shop");
    assert_eq!(created.tags.iter().collect::<Vec<_>>(), ["2026", "cold"]);

    let api = post_json(
        &router,
        "/api/scenarios",
        json!({ "type": "fragile", "name": "risky", "tags": ["x"] }),
        Some(TOKEN),
    )
    .await;
    assert_eq!(api.status, StatusCode::CREATED, "{}", api.body);
    let body = api.json();
    assert_eq!(body["name"], "risky");
    assert_eq!(body["type"], "fragile");
    // Defaults were written: the new scenario's page shows them.
    let page = get(&router, &format!("/api/scenarios/{}", body["id"]))
        .await
        .json();
    assert_eq!(page["nodes"][0]["value"], "1");
}

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
async fn the_scenario_page_colours_nodes_by_state_and_says_why() {
    let runtime = Runtime::with_store(pipeline_core::MemoryStore::with_lineage());
    let spring = shop_scenario(&runtime, "spring", &[]);
    let router = router(runtime.clone());

    let before = get(&router, "/api/scenarios/1").await.json();
    let state = |page: &serde_json::Value, node: &str| {
        let found = page["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["name"] == node)
            .unwrap()
            .clone();
        (
            found["state"].as_str().unwrap().to_owned(),
            found["reason"].clone(),
        )
    };
    assert_eq!(state(&before, "total").0, "never_computed");
    assert_eq!(state(&before, "rate").0, "input");
    assert_eq!(before["tasks"][0]["status"], "never_run");

    spring.submit().unwrap();
    spring.node::<f64>("rate").unwrap().write(0.25).unwrap();
    let after = get(&router, "/api/scenarios/1").await.json();
    assert_eq!(
        state(&after, "discounted"),
        ("stale".to_owned(), json!("input `rate` changed (v1 → v2)"))
    );
    assert_eq!(
        state(&after, "total"),
        ("stale".to_owned(), json!("input `discounted` is stale"))
    );
    assert_eq!(after["tasks"][0]["status"], "completed");
    assert_eq!(after["tasks"][0]["last_job"]["submission"], 1);
    assert_eq!(after["sequences"][0]["name"], "pricing");

    let html = get(&router, "/scenarios/1").await;
    assert_eq!(html.status, StatusCode::OK);
    assert!(html.body.contains(r#"<svg class="dag""#));
    assert!(
        html.body
            .contains(r#"data-node="discounted" data-state="stale""#),
        "{}",
        html.body
    );
    assert!(
        html.body
            .contains(r#"data-task="sum" data-status="completed""#)
    );
    assert!(html.body.contains("input `rate` changed (v1 → v2)"));
    assert!(html.body.contains(r#"sse-connect="/scenarios/1/events""#));

    spring.submit().unwrap();
    let fresh = get(&router, "/api/scenarios/1").await.json();
    assert_eq!(state(&fresh, "total").0, "up_to_date");
    assert_eq!(state(&fresh, "banner").0, "up_to_date");
}

#[tokio::test(flavor = "multi_thread")]
async fn submitting_runs_in_the_background_and_a_script_may_wait_for_the_result() {
    let runtime = Runtime::in_memory();
    shop_scenario(&runtime, "spring", &[]);
    let router = router(runtime.clone());

    let accepted = post_json(&router, "/api/scenarios/1/submit", json!({}), Some(TOKEN)).await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.body);
    assert_eq!(accepted.json()["events"], "/api/scenarios/1/events");

    let waited = submit_and_wait(&router, 1, json!({})).await;
    assert_eq!(waited["submitted"], "scenario");
    // The first submission ran everything: this one skips.
    let all_skipped = statuses(&waited).iter().all(|(_, s)| s == "skipped");
    let first_may_still_run = waited["submission"]["id"] == 1;
    assert!(all_skipped || first_may_still_run, "{waited}");

    let sequence = submit_and_wait(
        &router,
        1,
        json!({ "target": "sequence:pricing", "force": true }),
    )
    .await;
    assert_eq!(
        statuses(&sequence),
        [
            ("discount".into(), "completed".into()),
            ("sum".into(), "completed".into())
        ]
    );
    let task = submit_and_wait(&router, 1, json!({ "target": "task:shout" })).await;
    assert_eq!(statuses(&task), [("shout".into(), "skipped".into())]);

    let page = get(&router, "/api/scenarios/1").await.json();
    assert!(page["submissions"].as_array().unwrap().len() >= 4);
    assert_eq!(page["submissions"][0]["target"], "task shout");
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
        .open_scenario(shop(), pipeline_core::ScenarioId(1))
        .unwrap();
    assert!(shop.job_history().unwrap().submissions.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_run_page_draws_the_jobs_on_a_timeline() {
    let runtime = Runtime::in_memory();
    let spring = shop_scenario(&runtime, "spring", &[]);
    let submission = spring.submit().unwrap();
    let router = router(runtime);

    let html = get(&router, &format!("/scenarios/1/runs/{}", submission.id.0)).await;
    assert_eq!(html.status, StatusCode::OK);
    assert!(html.body.contains(r#"<svg class="gantt""#));
    for task in ["discount", "sum", "shout"] {
        assert!(
            html.body
                .contains(&format!(r#"class="bar completed" data-task="{task}""#)),
            "{task}: {}",
            html.body
        );
    }
    let json = get(
        &router,
        &format!("/api/scenarios/1/runs/{}", submission.id.0),
    )
    .await
    .json();
    assert_eq!(json["status"], "completed");
    assert_eq!(json["scenario"]["name"], "spring");
    let jobs = json["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 3);
    assert!(jobs.iter().all(|j| j["start_s"].as_f64().unwrap() >= 0.0));
    assert!(jobs[1]["start_s"].as_f64() >= jobs[0]["start_s"].as_f64());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_node_page_shows_value_versions_and_lineage_down_to_exact_inputs() {
    let runtime = Runtime::with_store(pipeline_core::MemoryStore::with_lineage());
    let spring = shop_scenario(&runtime, "spring", &[]);
    spring.submit().unwrap();
    spring.node::<f64>("rate").unwrap().write(0.75).unwrap();
    spring.submit().unwrap();
    let router = router(runtime);

    let json = get(&router, "/api/scenarios/1/nodes/total").await.json();
    assert_eq!(json["value"]["version"], 2);
    assert_eq!(json["value"]["text"], "7.5");
    assert_eq!(json["history"].as_array().unwrap().len(), 2);
    assert_eq!(json["node"]["producer"], "sum");
    assert_eq!(json["node"]["consumers"], json!(["shout"]));
    let discounted = &json["lineage"]["inputs"][0];
    assert_eq!(discounted["node"], "discounted");
    assert_eq!(discounted["version"], 2);
    let inputs: Vec<(String, u64)> = discounted["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["node"].as_str().unwrap().to_owned(),
                i["version"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(inputs, [("prices".to_owned(), 1), ("rate".to_owned(), 2)]);

    let old = get(&router, "/api/scenarios/1/nodes/total?version=1")
        .await
        .json();
    assert_eq!(old["value"]["text"], "15.0");
    assert_eq!(old["value"]["current"], false);
    assert_eq!(old["lineage"]["inputs"][0]["inputs"][1]["version"], 1);

    let html = get(&router, "/scenarios/1/nodes/total").await;
    assert!(
        html.body.contains("<pre class=\"value\">7.5</pre>"),
        "{}",
        html.body
    );
    assert!(
        html.body
            .contains(r#"href="/scenarios/1/nodes/rate?version=2""#)
    );
    assert!(html.body.contains("task `sum` (submission #2)"));
    let missing = get(&router, "/scenarios/1/nodes/total?version=9").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.body.contains("has no version 9 (the newest is v2)"));
}

#[tokio::test(flavor = "multi_thread")]
async fn compare_highlights_the_nodes_that_differ_with_registered_comparators() {
    let runtime = Runtime::in_memory();
    let low = shop_scenario(&runtime, "low", &[]);
    let high = shop_scenario(&runtime, "high", &[]);
    high.node::<f64>("rate").unwrap().write(0.9).unwrap();
    low.submit().unwrap();
    high.submit().unwrap();
    runtime.create_scenario(fragile(), "other type").unwrap();
    let router = server(runtime)
        .comparator("shop", "total", |totals: &[&f64]| {
            format!("spread {:.1}", totals[0] - totals[1])
        })
        .router();

    let json = get(&router, "/api/compare?s=1&s=2").await.json();
    let row = |node: &str| {
        json["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["node"] == node)
            .unwrap()
            .clone()
    };
    assert_eq!(row("rate")["equal"], false);
    assert_eq!(row("label")["equal"], true);
    assert_eq!(row("total")["comparator"], "spread 12.0");
    assert_eq!(row("total")["values"][1]["value"], "2.999999999999999");

    let html = get(&router, "/compare?s=1,2").await;
    assert_eq!(html.status, StatusCode::OK);
    assert!(
        html.body
            .contains(r#"<tr class="diff" data-node="rate" data-equal="false">"#),
        "{}",
        html.body
    );
    assert!(html.body.contains(r#"data-node="label" data-equal="true""#));
    assert!(html.body.contains("spread 12.0"));

    let picker = get(&router, "/compare").await;
    assert_eq!(picker.status, StatusCode::OK);
    assert!(picker.body.contains(r#"name="s" value="1""#));
    for (query, message) in [
        ("s=1", "choose at least two scenarios"),
        ("s=1&s=3", "compare scenarios of one type"),
        ("s=x", "`x` is not a scenario id"),
    ] {
        let answer = get(&router, &format!("/api/compare?{query}")).await;
        assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY, "{query}");
        assert!(
            answer.json()["error"].as_str().unwrap().contains(message),
            "{}",
            answer.body
        );
    }
    assert_eq!(
        get(&router, "/compare?s=1&s=99").await.status,
        StatusCode::NOT_FOUND
    );
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
    fn graph() -> pipeline_core::Graph {
        pipeline_core::GraphBuilder::new("nobody")
            .node(pipeline_core::NodeSpec::new::<i64>("n").with_default(1))
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
        .open_scenario(shop(), pipeline_core::ScenarioId(1))
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

async fn wait_until_idle(router: &axum::Router, id: u64) -> serde_json::Value {
    for _ in 0..1000 {
        let page = get(router, &format!("/api/scenarios/{id}")).await.json();
        if page["live"]["busy"] == false {
            return page;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("scenario {id} stayed busy");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_form_writes_the_changed_parameters_then_submits() {
    let runtime = Runtime::in_memory();
    shop_scenario(&runtime, "spring", &[]);
    let router = router(runtime.clone());
    let page = get(&router, "/scenarios/1").await;
    // The form shows each parameter in the text form its type reads back.
    assert!(
        page.body.contains(r#"name="set.rate" value="0.5""#),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains(r#"name="set.prices" value="[10.0,20.0]""#)
    );

    let answer = post_form(
        &router,
        "/scenarios/1/submit",
        &[
            ("set.rate", "0.25"),
            ("set.label", "plain"),
            ("set.prices", "[10.0,20.0]"),
            ("target", "scenario"),
        ],
        Some(TOKEN),
        true,
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert!(
        answer.body.starts_with(r#"<form id="controls""#),
        "htmx gets the form back"
    );
    assert!(
        answer.body.contains("wrote rate; submitted the scenario"),
        "{}",
        answer.body
    );
    let page = wait_until_idle(&router, 1).await;
    let total = page["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == "total")
        .unwrap()
        .clone();
    assert_eq!(total["value"], "22.5");
    assert_eq!(total["state"], "unknown"); // an in-memory store without lineage
    let shop = runtime
        .open_scenario(shop(), pipeline_core::ScenarioId(1))
        .unwrap();
    // Untouched fields wrote nothing.
    assert_eq!(shop.node_history("label").unwrap().len(), 1);
    assert_eq!(shop.node_history("rate").unwrap().len(), 2);

    // Without htmx: a redirect to the page.
    let plain = post_form(
        &router,
        "/scenarios/1/values",
        &[("set.rate", "0.3")],
        Some(TOKEN),
        false,
    )
    .await;
    assert_eq!(plain.status, StatusCode::SEE_OTHER);
    assert_eq!(*shop.node::<f64>("rate").unwrap().read().unwrap(), 0.3);
    assert_eq!(
        shop.job_history().unwrap().submissions.len(),
        1,
        "values only: no submission"
    );
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
        .open_scenario(shop(), pipeline_core::ScenarioId(1))
        .unwrap();
    assert_eq!(
        *shop.node::<String>("label").unwrap().read().unwrap(),
        "plain"
    );
    assert_eq!(shop.node_history("rate").unwrap().len(), 1);
    assert!(shop.job_history().unwrap().submissions.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn while_a_task_runs_the_page_says_so_and_new_values_wait_with_409() {
    let gate = Gate::default();
    let runtime = Runtime::in_memory();
    runtime.create_scenario(gated(&gate), "held").unwrap();
    let router = pipeline_core::web::Server::new(runtime.clone())
        .scenario_type(gated(&gate))
        .csrf_token(TOKEN)
        .router();
    let accepted = post_json(&router, "/api/scenarios/1/submit", json!({}), Some(TOKEN)).await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED);
    let mut running = false;
    for _ in 0..1000 {
        let page = get(&router, "/api/scenarios/1").await.json();
        if page["tasks"][0]["status"] == "running" {
            assert_eq!(page["tasks"][0]["live"], true);
            assert_eq!(page["live"]["running"], true);
            running = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert!(running, "the task never showed as running");
    let html = get(&router, "/scenarios/1").await;
    assert!(
        html.body
            .contains(r#"data-task="held" data-status="running""#)
    );
    assert!(html.body.contains("is running."));

    let busy = post_json(
        &router,
        "/api/scenarios/1/values",
        json!({ "set": { "n": "2" } }),
        Some(TOKEN),
    )
    .await;
    assert_eq!(busy.status, StatusCode::CONFLICT);
    assert!(
        busy.json()["error"]
            .as_str()
            .unwrap()
            .contains("is being submitted")
    );
    // Submitting again without new values queues behind the running one.
    let queued = post_json(&router, "/api/scenarios/1/submit", json!({}), Some(TOKEN)).await;
    assert_eq!(queued.status, StatusCode::ACCEPTED);

    gate.open();
    let page = wait_until_idle(&router, 1).await;
    assert_eq!(page["submissions"].as_array().unwrap().len(), 2);
    assert_eq!(page["tasks"][0]["status"], "skipped");
    let held = runtime
        .open_scenario(gated(&gate), pipeline_core::ScenarioId(1))
        .unwrap();
    assert_eq!(*held.node::<i64>("n").unwrap().read().unwrap(), 1);
}
