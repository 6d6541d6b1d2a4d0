//! The demo's web view in a real browser: headless Chromium (Debian's
//! `chromium` and `chromium-driver`, see `.ci/browser.sh`) driven over
//! WebDriver. Set `metric` to `median` in the scenario page's form, submit,
//! and watch tasks 3 and 4 go from running to completed while tasks 1 and 2
//! show skipped, without the page reloading; then the run page, the
//! `segment_result` page and the compare page. Screenshots of every page go
//! to `<target dir>/web-screenshots/`.
//!
//! Without Chromium the test says why and passes, unless
//! `PIPELINE_REQUIRE_BROWSER=1` makes that a failure (CI sets it).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use customer_analysis::pipeline::CustomerAnalysis;
use fantoccini::{Client, ClientBuilder, Locator};
use pipeline_core::Runtime;
use pipeline_core::store::SqliteOptions;
use pipeline_core::web::{Running, Server};
use serde_json::json;

/// Rows of the generated customer CSV: enough that tasks 3 and 4 usually
/// run long enough to be photographed running. That they showed running is
/// asserted from what the page itself recorded, not from the photograph.
const ROWS: u64 = 1_000_000;

/// Where an executable is: `$var`, else the first of `names` on the `PATH`.
fn find(var: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(var) {
        return Some(PathBuf::from(path)).filter(|p| p.is_file());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
        .find(|p| p.is_file())
}

/// The target directory this test was built in (its executable is in
/// `<target>/debug/deps/`).
fn screenshot_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let target = exe.ancestors().nth(3).unwrap_or(Path::new("target"));
    let dir = target.join("web-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A process killed by its pid when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts chromedriver and a headless Chromium session.
async fn browser(chromium: &Path, driver: &Path, profile: &Path) -> (Process, Client) {
    let port = free_port();
    let child = Command::new(driver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let process = Process(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "chromedriver did not listen on {port}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut capabilities = serde_json::Map::new();
    capabilities.insert("browserName".into(), json!("chrome"));
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chromium,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--window-size=1360,1000", format!("--user-data-dir={}", profile.display()),
            ],
        }),
    );
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a Chromium session starts");
    (process, client)
}

/// Saves a screenshot of the whole page as `<name>.png`.
async fn screenshot(client: &Client, name: &str) {
    let height = client
        .execute("return document.documentElement.scrollHeight;", vec![])
        .await
        .unwrap()
        .as_u64()
        .unwrap_or(1000)
        .clamp(600, 4000);
    client
        .set_window_size(1360, height as u32 + 140)
        .await
        .unwrap();
    let png = client.screenshot().await.unwrap();
    std::fs::write(screenshot_dir().join(format!("{name}.png")), png).unwrap();
}

/// Every status each task of the graph has shown, in order, recorded by the
/// page itself as the event stream swaps the graph in.
const RECORD_STATUSES: &str = r#"
    window.__seen = {};
    window.__marker = 'kept';
    const record = () => document.querySelectorAll('#dag [data-task]').forEach(e => {
        const seen = (window.__seen[e.dataset.task] ||= []);
        if (seen[seen.length - 1] !== e.dataset.status) seen.push(e.dataset.status);
    });
    record();
    new MutationObserver(record).observe(document.getElementById('dag'), { childList: true, subtree: true });
    return true;
"#;

/// A task's status in the graph now (read in one step: the graph is
/// replaced whole by each event).
async fn status_of(client: &Client, task: &str) -> String {
    let script =
        format!("return document.querySelector(\"#dag [data-task='{task}']\").dataset.status;");
    let status = client.execute(&script, vec![]).await.unwrap();
    status.as_str().unwrap_or_default().to_owned()
}

async fn load_id(client: &Client) -> String {
    client
        .find(Locator::Css("body"))
        .await
        .unwrap()
        .attr("data-load-id")
        .await
        .unwrap()
        .unwrap()
}

fn serve(runtime: Runtime) -> Running {
    Server::new(runtime)
        .scenario_type(CustomerAnalysis::graph())
        .addr("127.0.0.1:0".parse().unwrap())
        .bind()
        .unwrap()
        .spawn()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_page_updates_live_in_chromium_and_every_page_renders() {
    let required = std::env::var_os("PIPELINE_REQUIRE_BROWSER").is_some_and(|v| v == "1");
    let chromium = find("CHROME", &["chromium", "chromium-browser", "google-chrome"]);
    let driver = find("CHROMEDRIVER", &["chromedriver"]);
    let (Some(chromium), Some(driver)) = (chromium, driver) else {
        let why = "SKIPPED the_demo_page_updates_live_in_chromium: no `chromium` and \
                   `chromedriver` on the PATH (install them with .ci/browser.sh, or set CHROME \
                   and CHROMEDRIVER)";
        assert!(!required, "{why}, and PIPELINE_REQUIRE_BROWSER=1");
        eprintln!("{why}");
        return;
    };

    let scratch = tempfile::tempdir().unwrap();
    let csv = scratch.path().join("customers.csv");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&csv).unwrap());
    customer_analysis::generate::generate_csv(ROWS, 7, &mut out).unwrap();
    drop(out);
    let runtime = Runtime::open_with(
        scratch.path().join("store"),
        SqliteOptions::new().quiet(true),
    )
    .unwrap();
    let baseline = CustomerAnalysis::create(&runtime, "baseline").unwrap();
    baseline.path_to_data().write(csv.clone()).unwrap();
    let demo = CustomerAnalysis::create(&runtime, "median try").unwrap();
    demo.path_to_data().write(csv.clone()).unwrap();
    // Both computed once with the mean: the page's submission then re-runs
    // tasks 3 and 4 only.
    assert!(baseline.submit().unwrap().is_success());
    assert!(demo.submit().unwrap().is_success());
    let demo_id = demo.scenario().id().0;

    let server = serve(runtime);
    let base = format!("http://{}", server.local_addr());
    let (_driver, client) = browser(&chromium, &driver, &scratch.path().join("profile")).await;

    client.goto(&format!("{base}/scenarios")).await.unwrap();
    let rows = client
        .find_all(Locator::Css("table.list tbody tr"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    screenshot(&client, "1-scenarios").await;

    client
        .goto(&format!("{base}/scenarios/{demo_id}"))
        .await
        .unwrap();
    // The event stream sends the current state on connecting, marked as
    // such: once it is in, the page follows the submissions.
    let deadline = Instant::now() + Duration::from_secs(30);
    while client
        .find(Locator::Css("#status .lines[data-connected]"))
        .await
        .is_err()
    {
        assert!(
            Instant::now() < deadline,
            "the event stream never connected"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    screenshot(&client, "2-scenario-before").await;
    let loaded = load_id(&client).await;
    client.execute(RECORD_STATUSES, vec![]).await.unwrap();

    let metric = client
        .find(Locator::Css("input[name='set.metric']"))
        .await
        .unwrap();
    assert_eq!(metric.prop("value").await.unwrap().as_deref(), Some("mean"));
    metric.clear().await.unwrap();
    metric.send_keys("median").await.unwrap();
    client
        .find(Locator::Css("#submit"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();

    let tasks = [
        "preprocess_and_score",
        "featurization_and_segmentation",
        "segment_analysis",
        "high_value_cust_summary_statistics",
    ];
    let mut running_shot = false;
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let third = status_of(&client, tasks[2]).await;
        let fourth = status_of(&client, tasks[3]).await;
        if !running_shot && (third == "running" || fourth == "running") {
            screenshot(&client, "3-scenario-running").await;
            running_shot = true;
        }
        if third == "completed" && fourth == "completed" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "tasks 3 and 4 did not complete: {third}, {fourth}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let seen = client
        .execute("return window.__seen;", vec![])
        .await
        .unwrap();
    for task in &tasks[..2] {
        let statuses = seen[task].as_array().unwrap();
        assert_eq!(statuses.last().unwrap(), "skipped", "{task}: {statuses:?}");
        assert!(
            !statuses.iter().any(|s| s == "running"),
            "{task} ran: {statuses:?}"
        );
    }
    for task in &tasks[2..] {
        let statuses: Vec<&str> = seen[task]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap())
            .collect();
        let running = statuses.iter().position(|s| *s == "running");
        let completed = statuses.iter().rposition(|s| *s == "completed");
        assert!(
            matches!((running, completed), (Some(r), Some(c)) if r < c),
            "{task} did not go from running to completed: {statuses:?}"
        );
    }
    // No reload: the page is the one loaded before submitting.
    assert_eq!(load_id(&client).await, loaded);
    let marker = client
        .execute("return window.__marker;", vec![])
        .await
        .unwrap();
    assert_eq!(marker, "kept");
    let notice = client
        .find(Locator::Css("#controls .notice"))
        .await
        .unwrap();
    assert!(
        notice
            .text()
            .await
            .unwrap()
            .contains("wrote metric; submitted the scenario")
    );
    // The new metric's result is up to date.
    let result_state = client
        .execute(
            "return document.querySelector(\"#dag [data-node='segment_result']\").dataset.state;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(result_state, "up_to_date");
    screenshot(&client, "4-scenario-after").await;
    if !running_shot {
        // The page recorded them running (asserted above); polling every
        // 20 ms through WebDriver just missed it, so there is no photograph.
        eprintln!("note: tasks 3 and 4 finished between two polls; no running screenshot");
    }

    // The run page, through the status line's link.
    client
        .find(Locator::Css("#status a"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let bars = client
        .find_all(Locator::Css("svg.gantt .bar"))
        .await
        .unwrap();
    assert_eq!(bars.len(), 4);
    let skipped = client
        .find_all(Locator::Css("svg.gantt .bar.skipped"))
        .await
        .unwrap();
    assert_eq!(skipped.len(), 2);
    screenshot(&client, "5-run").await;

    client
        .goto(&format!("{base}/scenarios/{demo_id}/nodes/segment_result"))
        .await
        .unwrap();
    let header = client
        .find_all(Locator::Css("table.frame thead th"))
        .await
        .unwrap();
    assert!(header.len() >= 2, "segment_result shows as a table");
    let rows = client
        .find_all(Locator::Css("table.frame tbody tr"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 2, "one row per segment");
    let page = client.source().await.unwrap();
    assert!(page.contains("rows ×"), "the row count is shown");
    assert!(
        page.contains("metric v2"),
        "the lineage reaches the new metric"
    );
    screenshot(&client, "6-segment-result").await;

    client
        .goto(&format!("{base}/scenarios/{demo_id}/nodes/scored_df"))
        .await
        .unwrap();
    screenshot(&client, "7-scored-df").await;

    client
        .goto(&format!("{base}/compare?s=1&s={demo_id}"))
        .await
        .unwrap();
    let differing = client
        .find_all(Locator::Css("table.compare tr.diff"))
        .await
        .unwrap();
    assert!(
        differing.len() >= 3,
        "metric, segment_result and the summary differ"
    );
    screenshot(&client, "8-compare").await;

    client.goto(&format!("{base}/scenarios/99")).await.unwrap();
    assert!(client.source().await.unwrap().contains("no scenario #99"));
    screenshot(&client, "9-not-found").await;

    client.close().await.unwrap();
    server.stop().unwrap();
    eprintln!("screenshots in {}", screenshot_dir().display());
}
