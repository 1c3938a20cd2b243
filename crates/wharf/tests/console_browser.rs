//! The web console in a real browser: headless Chromium (through
//! chromedriver) opens `/console` on a `wharf server` whose embedded agent
//! runs a service's task on Docker, follows cluster → service → task like a
//! person would, sees the task's log lines arrive live, and sees its status
//! turn STOPPED after StopTask (made with the `aws` CLI) without the page
//! reloading. Needs Docker Engine, the `aws` CLI and Debian's `chromium` and
//! `chromium-driver`; without them the test fails, it is not skipped.

mod browser;
mod support;

use std::time::{Duration, Instant};

use browser::Browser;
use serde_json::json;
use support::{Aws, ClusterServer};

#[test]
fn console_follows_a_service_to_its_task_live_logs_and_stop() {
    let cluster = format!("console-{}", std::process::id());
    // Its containers go after the server, so the service does not replace them.
    let world = ClusterServer::launch(cluster.clone(), &["--allow-reset"]);
    let server = &world.server;
    let ecs = Aws::new(server, "ecs");
    // One line with markup (it must show as text), then a numbered line a second.
    let script = "trap 'exit 0' TERM; echo '<b>hello</b> from the console'; i=0; \
                  while true; do echo \"tick $i\"; i=$((i+1)); sleep 1; done";
    let definition = json!({
        "family": "console-web",
        "containerDefinitions": [{
            "name": "app", "image": "wharf-test/busybox:1", "memory": 32, "stopTimeout": 2,
            "entryPoint": ["/bin/busybox"], "command": ["sh", "-c", script],
            "logConfiguration": {"logDriver": "awslogs", "options": {
                "awslogs-group": "/ecs/console-web", "awslogs-region": "us-east-1",
                "awslogs-stream-prefix": "ecs", "awslogs-create-group": "true"}}
        }]
    });
    let file = tempfile::NamedTempFile::new().expect("file");
    std::fs::write(file.path(), definition.to_string()).expect("write");
    ecs.ok(&[
        "register-task-definition",
        "--cli-input-json",
        &format!("file://{}", file.path().display()),
    ]);
    ecs.ok(&[
        "create-service",
        "--cluster",
        &cluster,
        "--service-name",
        "web",
        "--task-definition",
        "console-web",
        "--desired-count",
        "1",
    ]);
    let deadline = Instant::now() + Duration::from_secs(60);
    let task_arn = loop {
        let listed = ecs.ok(&["list-tasks", "--cluster", &cluster, "--service-name", "web"]);
        if let Some(arn) = listed["taskArns"][0].as_str() {
            let described = ecs.ok(&["describe-tasks", "--cluster", &cluster, "--tasks", arn]);
            if described["tasks"][0]["lastStatus"] == "RUNNING" {
                break arn.to_owned();
            }
        }
        assert!(Instant::now() < deadline, "the service's task never ran: {listed}");
        std::thread::sleep(Duration::from_millis(200));
    };
    let task_id = task_arn.rsplit('/').next().expect("id").to_owned();

    let browser = Browser::start(1280, 900);
    let wait = Duration::from_secs(20);
    browser.open(&format!("{}/console", server.endpoint()));
    // Set once: a reload would lose it.
    browser.script("window.wharfTestMarker = 'same page'", json!([]));
    let link = browser.wait_for(&format!("a.cluster-link[href='#/clusters/{cluster}']"), wait);
    browser.click(&link);
    let service = browser
        .wait_for(&format!("a.service-link[href='#/clusters/{cluster}/services/web']"), wait);
    browser.click(&service);
    let task = browser.wait_for(
        &format!("#task-table a.task-link[href='#/clusters/{cluster}/tasks/{task_id}']"),
        wait,
    );
    browser.click(&task);
    browser.wait_text("#task-status", wait, |t| t == "RUNNING");

    // The log line is there, as text; then newer lines arrive while we watch.
    let logs = browser.wait_text("#logs", wait, |t| t.contains("<b>hello</b> from the console"));
    let markup = browser.script("return document.querySelectorAll('#logs b').length", json!([]));
    assert_eq!(markup, json!(0), "a log line's markup is shown, not run");
    let last_tick = |text: &str| {
        text.lines()
            .filter_map(|l| l.rsplit_once("tick ").and_then(|(_, n)| n.trim().parse::<u64>().ok()))
            .max()
    };
    let seen = last_tick(&logs).unwrap_or(0);
    browser.wait_text("#logs", wait, |t| last_tick(t).is_some_and(|n| n >= seen + 2));

    // StopTask from the CLI: the page turns the status STOPPED by itself.
    ecs.ok(&["stop-task", "--cluster", &cluster, "--task", &task_arn, "--reason", "console test"]);
    browser.wait_text("#task-status", Duration::from_secs(40), |t| t == "STOPPED");
    browser.wait_text("#task-detail", wait, |t| t.contains("console test"));
    let marker = browser.script("return window.wharfTestMarker || null", json!([]));
    assert_eq!(marker, json!("same page"), "the page updated without reloading");
    assert_eq!(
        browser.script("return location.hash", json!([])),
        json!(format!("#/clusters/{cluster}/tasks/{task_id}"))
    );

    ecs.ok(&["delete-service", "--cluster", &cluster, "--service", "web", "--force"]);
}
