//! The web view's pages and their JSON twins over HTTP, through the router
//! as a browser or a script calls them: listing, creating, the scenario page
//! (states, the form, submitting), runs, data nodes, comparisons.

#[path = "web_support.rs"]
mod support;

use axum::http::StatusCode;
use pipeline_core::Runtime;
use serde_json::json;
use support::*;

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
async fn the_scenario_page_colours_nodes_by_state_and_says_why() {
    let runtime = Runtime::with_store(pipeline_core::store::MemoryStore::with_lineage());
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
    // What a submission would do now, and why (the executor's own decision).
    let (discounted, why) = state(&after, "discounted");
    assert_eq!(discounted, "stale");
    let why = why.as_str().unwrap().to_owned();
    assert!(
        why.starts_with("input `rate` changed (") && why.ends_with(", written by user)"),
        "{why}"
    );
    assert_eq!(
        state(&after, "total"),
        (
            "stale".to_owned(),
            json!("upstream task `discount` will run; may run if its output changes")
        )
    );
    assert_eq!(after["tasks"][0]["status"], "completed");
    assert_eq!(after["tasks"][0]["last_job"]["submission"], 1);
    // Each task's last job says why it ran.
    assert_eq!(after["tasks"][0]["last_job"]["reason_text"], "first run");
    assert_eq!(after["tasks"][0]["last_job"]["reason"]["kind"], "first_run");
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
    assert!(html.body.contains(&why.replace('>', "&gt;")));
    assert!(html.body.contains(r#"<td class="reason">first run</td>"#));
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
    let runtime = Runtime::with_store(pipeline_core::store::MemoryStore::with_lineage());
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
    assert_eq!(row("total")["values"][1]["value"], 2.999999999999999);

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
    assert_eq!(total["state"], "up_to_date");
    let shop = runtime
        .open_scenario(shop(), pipeline_core::store::ScenarioId(1))
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
async fn while_a_task_runs_the_page_says_so_and_new_values_wait_with_409() {
    let gate = Gate::default();
    let runtime = Runtime::with_store(pipeline_core::store::MemoryStore::with_lineage());
    let held = runtime.create_scenario(gated(&gate), "held").unwrap();
    let router = pipeline_core::web::Server::new(runtime.clone())
        .scenario_type(gated(&gate))
        .csrf_token(TOKEN)
        .router();
    gate.open();
    held.submit().unwrap();
    gate.close();
    held.node::<i64>("n").unwrap().write(2).unwrap();
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
    // Meanwhile the output's state comes from its lineage (a submission
    // would wait for the running one to say).
    let page = get(&router, "/api/scenarios/1").await.json();
    assert_eq!(page["nodes"][1]["state"], "stale");
    assert_eq!(page["nodes"][1]["reason"], "input `n` changed (v1 → v2)");
    let html = get(&router, "/scenarios/1").await;
    assert!(
        html.body
            .contains(r#"data-task="held" data-status="running""#)
    );
    assert!(html.body.contains("is running."));

    let busy = post_json(
        &router,
        "/api/scenarios/1/values",
        json!({ "set": { "n": "3" } }),
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
    assert_eq!(page["submissions"].as_array().unwrap().len(), 3);
    assert_eq!(page["tasks"][0]["status"], "skipped");
    assert_eq!(page["nodes"][1]["state"], "up_to_date");
    assert_eq!(*held.node::<i64>("n").unwrap().read().unwrap(), 2);
    assert_eq!(*held.node::<i64>("m").unwrap().read().unwrap(), 20);
}
