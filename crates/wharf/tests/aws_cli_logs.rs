//! The real `aws` CLI against a real `wharf server`: `aws logs` for CloudWatch Logs, as
//! deploy scripts and people use it, including `aws logs tail` and `--follow` (AWS CLI v2,
//! Debian's `awscli`, which `scripts/test` installs; v1 has no `tail`).
//!
//! The CLIs are required: when one is missing the tests fail saying how to install it.

mod support;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use support::{Aws, Server};

const DAY_MS: i64 = 24 * 3600 * 1000;

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_millis() as i64
}

fn server() -> Server {
    Server::start_with(&["--no-agent", "--logs-retention-interval", "1s"])
}

fn messages(v: &Value) -> Vec<String> {
    v["events"]
        .as_array()
        .unwrap_or_else(|| panic!("no events in {v}"))
        .iter()
        .map(|e| e["message"].as_str().expect("message").to_owned())
        .collect()
}

/// `--log-events` in the CLI's JSON form.
fn events(list: &[(i64, &str)]) -> String {
    let v: Vec<Value> =
        list.iter().map(|(t, m)| serde_json::json!({"timestamp": t, "message": m})).collect();
    Value::from(v).to_string()
}

fn put(logs: &Aws, group: &str, stream: &str, list: &[(i64, &str)]) -> Value {
    let batch = events(list);
    logs.ok(&[
        "put-log-events",
        "--log-group-name",
        group,
        "--log-stream-name",
        stream,
        "--log-events",
        &batch,
    ])
}

fn get_events(logs: &Aws, group: &str, stream: &str, extra: &[&str]) -> Value {
    let args = ["get-log-events", "--log-group-name", group, "--log-stream-name", stream];
    logs.ok(&[&args[..], extra].concat())
}

#[test]
fn logs_groups_streams_events_and_tags() {
    let server = server();
    let logs = Aws::new(&server, "logs");
    logs.ok(&["create-log-group", "--log-group-name", "/ecs/web", "--tags", "team=core"]);
    let err = logs.fails(&["create-log-group", "--log-group-name", "/ecs/web"]);
    assert!(err.contains("ResourceAlreadyExistsException"), "{err}");
    let err = logs.fails(&["create-log-group", "--log-group-name", "bad name"]);
    assert!(err.contains("InvalidParameterException") && err.contains("logGroupName"), "{err}");

    let groups = logs.ok(&["describe-log-groups", "--log-group-name-prefix", "/ecs"]);
    let group = &groups["logGroups"][0];
    assert_eq!(group["logGroupName"], "/ecs/web");
    assert_eq!(group["arn"], "arn:aws:logs:us-east-1:000000000000:log-group:/ecs/web:*");

    logs.ok(&["create-log-stream", "--log-group-name", "/ecs/web", "--log-stream-name", "app/1"]);
    logs.ok(&["create-log-stream", "--log-group-name", "/ecs/web", "--log-stream-name", "app/2"]);
    let t = now_ms() - 60_000;
    put(
        &logs,
        "/ecs/web",
        "app/1",
        &[
            (t, "INFO starting"),
            (t + 2, r#"{"level":"ERROR","latency":512,"msg":"db down"}"#),
            (t + 4, "WARN slow request"),
        ],
    );
    put(&logs, "/ecs/web", "app/2", &[(t + 1, "ERROR disk full"), (t + 3, "INFO ok")]);
    let err = logs.fails(&[
        "put-log-events",
        "--log-group-name",
        "/ecs/web",
        "--log-stream-name",
        "app/1",
        "--log-events",
        &events(&[(t + 5, "b"), (t, "a")]),
    ]);
    assert!(err.contains("chronological order"), "{err}");

    // get-log-events: from the head, the tail, and backward.
    let head = get_events(&logs, "/ecs/web", "app/1", &["--start-from-head"]);
    assert_eq!(messages(&head)[0], "INFO starting");
    assert_eq!(messages(&head).len(), 3);
    let tail = get_events(&logs, "/ecs/web", "app/1", &["--limit", "1"]);
    assert_eq!(messages(&tail), ["WARN slow request"]);
    let back_token = tail["nextBackwardToken"].as_str().expect("backward token").to_owned();
    let back = get_events(&logs, "/ecs/web", "app/1", &["--next-token", &back_token]);
    assert_eq!(
        messages(&back),
        ["INFO starting", r#"{"level":"ERROR","latency":512,"msg":"db down"}"#]
    );
    let fwd = tail["nextForwardToken"].as_str().expect("forward token").to_owned();
    let end = get_events(&logs, "/ecs/web", "app/1", &["--next-token", &fwd]);
    assert_eq!(end["nextForwardToken"], fwd.as_str(), "the same token at the end");

    // filter-log-events with several patterns (the CLI pages through nextToken itself).
    let filter = |pattern: &str| {
        messages(&logs.ok(&[
            "filter-log-events",
            "--log-group-name",
            "/ecs/web",
            "--filter-pattern",
            pattern,
        ]))
    };
    assert_eq!(
        filter("ERROR"),
        ["ERROR disk full", r#"{"level":"ERROR","latency":512,"msg":"db down"}"#]
    );
    assert_eq!(filter("?WARN ?disk"), ["ERROR disk full", "WARN slow request"]);
    assert_eq!(filter("INFO -ok"), ["INFO starting"]);
    assert_eq!(filter("{ $.latency > 500 }").len(), 1);
    assert_eq!(filter("{ $.level = \"ERR*\" && $.msg = \"db*\" }").len(), 1);
    assert_eq!(filter("\"slow request\""), ["WARN slow request"]);
    let all = logs.ok(&["filter-log-events", "--log-group-name", "/ecs/web", "--page-size", "2"]);
    assert_eq!(messages(&all).len(), 5, "paged by two, all found: {all}");
    let err = logs.fails(&[
        "filter-log-events",
        "--log-group-name",
        "/ecs/web",
        "--filter-pattern",
        "{ $.x = ",
    ]);
    assert!(err.contains("Invalid filter pattern"), "{err}");
    let one = logs.ok(&[
        "filter-log-events",
        "--log-group-name",
        "/ecs/web",
        "--log-stream-names",
        "app/2",
    ]);
    assert_eq!(messages(&one), ["ERROR disk full", "INFO ok"]);

    // describe-log-streams by last event time.
    let streams = logs.ok(&[
        "describe-log-streams",
        "--log-group-name",
        "/ecs/web",
        "--order-by",
        "LastEventTime",
        "--descending",
    ]);
    assert_eq!(streams["logStreams"][0]["logStreamName"], "app/1");
    assert_eq!(streams["logStreams"][0]["lastEventTimestamp"], t + 4);
    let err = logs.fails(&[
        "describe-log-streams",
        "--log-group-name",
        "/ecs/web",
        "--order-by",
        "LastEventTime",
        "--log-stream-name-prefix",
        "app",
    ]);
    assert!(err.contains("InvalidParameterException"), "{err}");

    // Tags, by ARN and by name.
    let arn = "arn:aws:logs:us-east-1:000000000000:log-group:/ecs/web";
    logs.ok(&["tag-resource", "--resource-arn", arn, "--tags", "env=dev"]);
    let tags = logs.ok(&["list-tags-for-resource", "--resource-arn", arn]);
    assert_eq!(tags["tags"], serde_json::json!({"team": "core", "env": "dev"}));
    logs.ok(&["untag-resource", "--resource-arn", arn, "--tag-keys", "team"]);
    let tags = logs.ok(&["list-tags-log-group", "--log-group-name", "/ecs/web"]);
    assert_eq!(tags["tags"], serde_json::json!({"env": "dev"}));

    // Deletes.
    logs.ok(&["delete-log-stream", "--log-group-name", "/ecs/web", "--log-stream-name", "app/2"]);
    let err = logs.fails(&[
        "get-log-events",
        "--log-group-name",
        "/ecs/web",
        "--log-stream-name",
        "app/2",
    ]);
    assert!(err.contains("The specified log stream does not exist."), "{err}");
    logs.ok(&["delete-log-group", "--log-group-name", "/ecs/web"]);
    let err = logs.fails(&["describe-log-streams", "--log-group-name", "/ecs/web"]);
    assert!(
        err.contains("ResourceNotFoundException")
            && err.contains("The specified log group does not exist."),
        "{err}"
    );
}

#[test]
fn logs_retention_deletes_old_events() {
    let server = server();
    let logs = Aws::new(&server, "logs");
    logs.ok(&["create-log-group", "--log-group-name", "/old"]);
    logs.ok(&["create-log-stream", "--log-group-name", "/old", "--log-stream-name", "s"]);
    let now = now_ms();
    // Two days old is accepted while the group keeps everything.
    put(
        &logs,
        "/old",
        "s",
        &[(now - 2 * DAY_MS, "two days ago"), (now - 2 * DAY_MS + 1, "also old")],
    );
    put(&logs, "/old", "s", &[(now - 1000, "recent")]);
    let get = || messages(&get_events(&logs, "/old", "s", &["--start-from-head"]));
    assert_eq!(get().len(), 3);
    logs.ok(&["put-retention-policy", "--log-group-name", "/old", "--retention-in-days", "1"]);
    let err = logs.fails(&[
        "put-retention-policy",
        "--log-group-name",
        "/old",
        "--retention-in-days",
        "2",
    ]);
    assert!(err.contains("retentionInDays"), "{err}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while get().len() != 1 {
        assert!(Instant::now() < deadline, "old events still there: {:?}", get());
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(get(), ["recent"]);
    let groups = logs.ok(&["describe-log-groups", "--log-group-name-prefix", "/old"]);
    assert_eq!(groups["logGroups"][0]["retentionInDays"], 1);
    assert_eq!(groups["logGroups"][0]["storedBytes"], "recent".len() + 26);
    // Now an expired event is refused, and reported.
    let out =
        put(&logs, "/old", "s", &[(now - DAY_MS - 60_000, "too late"), (now - 120_000, "in time")]);
    assert_eq!(out["rejectedLogEventsInfo"]["expiredLogEventEndIndex"], 1);
    logs.ok(&["delete-retention-policy", "--log-group-name", "/old"]);
    let groups = logs.ok(&["describe-log-groups", "--log-group-name-prefix", "/old"]);
    assert!(groups["logGroups"][0].get("retentionInDays").is_none());
}

#[test]
fn logs_tail_and_follow_with_aws_cli_v2() {
    let server = server();
    let logs = Aws::new(&server, "logs");
    let v2 = Aws::v2(&server, "logs");
    logs.ok(&["create-log-group", "--log-group-name", "/tail"]);
    logs.ok(&["create-log-stream", "--log-group-name", "/tail", "--log-stream-name", "web/1"]);
    let now = now_ms();
    put(
        &logs,
        "/tail",
        "web/1",
        &[
            (now - 3_600_000 * 3, "hours ago"),
            (now - 5_000, "first line"),
            (now - 4_000, "second line"),
        ],
    );

    let out = v2.ok_text(&["tail", "/tail", "--since", "1h"]);
    assert!(out.contains("first line") && out.contains("second line"), "{out}");
    assert!(!out.contains("hours ago"), "--since 1h shows only the last hour: {out}");
    assert!(out.contains("web/1"), "the detailed format names the stream: {out}");
    let out = v2.ok_text(&["tail", "/tail", "--since", "1d", "--filter-pattern", "second"]);
    assert_eq!(out.lines().count(), 1, "{out}");

    // --follow: lines appended after it started show up once each.
    let mut child = v2
        .command(&["tail", "/tail", "--follow", "--since", "1m", "--format", "short"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn aws logs tail --follow");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen: Vec<String> = Vec::new();
    let wait_for = |text: &str, seen: &mut Vec<String>| {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !seen.iter().any(|l| l.contains(text)) {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => seen.push(line),
                Err(_) => panic!("tail --follow never printed {text:?}; it printed {seen:?}"),
            }
        }
    };
    wait_for("second line", &mut seen);
    put(&logs, "/tail", "web/1", &[(now_ms(), "appended while following")]);
    wait_for("appended while following", &mut seen);
    // The next poll (5 s later) must not repeat what was shown.
    std::thread::sleep(Duration::from_secs(6));
    put(&logs, "/tail", "web/1", &[(now_ms(), "and one more")]);
    wait_for("and one more", &mut seen);
    let _ = child.kill();
    let _ = child.wait();
    let count = |text: &str| seen.iter().filter(|l| l.contains(text)).count();
    assert_eq!(count("second line"), 1, "{seen:?}");
    assert_eq!(count("appended while following"), 1, "{seen:?}");
}

#[test]
fn logs_over_the_disk_budget_lose_their_oldest_events() {
    let server = Server::start_with(&["--no-agent", "--logs-max-bytes", "50000"]);
    let logs = Aws::new(&server, "logs");
    logs.ok(&["create-log-group", "--log-group-name", "/full"]);
    logs.ok(&["create-log-stream", "--log-group-name", "/full", "--log-stream-name", "s"]);
    let now = now_ms();
    let body = "x".repeat(90);
    for batch in 0..3 {
        let lines: Vec<String> = (0..200).map(|i| format!("b{batch}-{i:03} {body}")).collect();
        let list: Vec<(i64, &str)> = lines
            .iter()
            .enumerate()
            .map(|(i, m)| (now - 10_000 + batch * 1000 + i as i64, m.as_str()))
            .collect();
        put(&logs, "/full", "s", &list);
    }
    // 600 events of 126 bytes were written; the budget keeps at most 50,000 bytes.
    let stored = || {
        logs.ok(&["describe-log-groups", "--log-group-name-prefix", "/full"])["logGroups"][0]
            ["storedBytes"]
            .as_i64()
            .expect("storedBytes")
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while stored() > 50_000 {
        assert!(Instant::now() < deadline, "still over the budget: {}", stored());
        std::thread::sleep(Duration::from_millis(200));
    }
    let head = get_events(&logs, "/full", "s", &["--start-from-head", "--limit", "1"]);
    let first = &messages(&head)[0];
    assert!(!first.starts_with("b0-000"), "the oldest event should have gone first: {first}");
    let tail = get_events(&logs, "/full", "s", &["--limit", "1"]);
    assert!(messages(&tail)[0].starts_with("b2-199"), "the newest stays: {tail}");
    assert!(stored() > 40_000, "trimmed far below the budget: {}", stored());
}
