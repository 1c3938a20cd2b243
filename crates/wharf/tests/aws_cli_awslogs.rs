//! A task's `awslogs` output read back the way people read it: `aws logs tail`,
//! `aws logs filter-log-events` and `wharf logs`, against a server whose embedded agent
//! runs the task on Docker. Needs Docker Engine (`scripts/docker-up`) and the `aws` CLI;
//! without them the test fails, it is not skipped.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;
use support::{Aws, Server, TaskContainers};

#[test]
fn task_output_reads_back_with_aws_logs_and_wharf_logs() {
    let server = Server::start();
    let ecs = Aws::new(&server, "ecs");
    let logs = Aws::new(&server, "logs");
    // `aws logs tail` exists only in AWS CLI version 2.
    let logs_v2 = Aws::v2(&server, "logs");
    let group = "/ecs/readback";
    let options = |extra: serde_json::Value| {
        let mut o = json!({"awslogs-group": group, "awslogs-region": "us-east-1",
                           "awslogs-stream-prefix": "ecs", "awslogs-create-group": "true"});
        o.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        json!({"logDriver": "awslogs", "options": o})
    };
    let definition = json!({
        "family": "readback",
        "containerDefinitions": [
            {"name": "web", "image": "wharf-test/busybox:1", "memory": 32,
             "entryPoint": ["sh", "-c"],
             "command": ["echo 'GET /health 200'; echo 'ERROR database down'; echo 'GET /users 500'"],
             "logConfiguration": options(json!({}))},
            {"name": "worker", "image": "wharf-test/busybox:1", "memory": 32, "essential": false,
             "entryPoint": ["sh", "-c"],
             "command": ["echo '{\"level\":\"error\",\"latency\":250}'; echo '{\"level\":\"info\",\"latency\":5}'"],
             "logConfiguration": options(json!({}))}
        ]
    });
    let file = tempfile::NamedTempFile::new().expect("file");
    std::fs::write(file.path(), definition.to_string()).expect("write");
    ecs.ok(&[
        "register-task-definition",
        "--cli-input-json",
        &format!("file://{}", file.path().display()),
    ]);
    let run = ecs.ok(&["run-task", "--task-definition", "readback"]);
    let arn = run["tasks"][0]["taskArn"].as_str().expect("a task").to_owned();
    let _cleanup = TaskContainers(arn.clone());
    let id = arn.rsplit('/').next().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let d = ecs.ok(&["describe-tasks", "--tasks", &arn]);
        if d["tasks"][0]["lastStatus"] == "STOPPED" {
            break;
        }
        assert!(Instant::now() < deadline, "the task never stopped: {d}");
        std::thread::sleep(Duration::from_millis(200));
    }

    // `aws logs tail` shows every line, with its stream.
    let deadline = Instant::now() + Duration::from_secs(30);
    let tail = loop {
        let out = logs_v2.run(&["tail", group, "--since", "1h", "--format", "short"]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if text.lines().count() >= 5 {
            break text;
        }
        assert!(Instant::now() < deadline, "aws logs tail showed: {text}");
        std::thread::sleep(Duration::from_millis(200));
    };
    for line in ["GET /health 200", "ERROR database down", "GET /users 500", "\"latency\":250"] {
        assert!(tail.contains(line), "{line:?} not in:\n{tail}");
    }
    let full = logs_v2.run(&["tail", group, "--since", "1h"]);
    let full = String::from_utf8_lossy(&full.stdout);
    assert!(full.contains(&format!("ecs/web/{id}")), "streams are named in tail:\n{full}");

    // filter-log-events: terms and JSON patterns select what they should.
    let errors =
        logs.ok(&["filter-log-events", "--log-group-name", group, "--filter-pattern", "ERROR"]);
    let messages: Vec<&str> = errors["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    assert_eq!(messages, ["ERROR database down"]);
    let slow = logs.ok(&[
        "filter-log-events",
        "--log-group-name",
        group,
        "--filter-pattern",
        "{ $.latency > 100 }",
    ]);
    let messages: Vec<&str> =
        slow["events"].as_array().unwrap().iter().map(|e| e["message"].as_str().unwrap()).collect();
    assert_eq!(messages, ["{\"level\":\"error\",\"latency\":250}"]);
    let web = logs.ok(&[
        "filter-log-events",
        "--log-group-name",
        group,
        "--log-stream-names",
        &format!("ecs/web/{id}"),
        "--filter-pattern",
        "GET -500",
    ]);
    assert_eq!(web["events"].as_array().unwrap().len(), 1, "{web}");

    // `aws logs tail --follow` shows what a later task writes.
    let mut follow = logs_v2.spawn(&["tail", group, "--follow", "--format", "short"]);
    let stdout = follow.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::BufRead::lines(std::io::BufReader::new(stdout)).map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let late = ecs.ok(&[
        "run-task",
        "--task-definition",
        "readback",
        "--overrides",
        r#"{"containerOverrides":[{"name":"web","command":["echo late line"]}]}"#,
    ]);
    let late_arn = late["tasks"][0]["taskArn"].as_str().expect("a task").to_owned();
    let _late_cleanup = TaskContainers(late_arn);
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = Vec::new();
    while !seen.iter().any(|l: &String| l.ends_with("late line")) {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => seen.push(line),
            Err(_) => panic!("aws logs tail --follow never showed the late line: {seen:?}"),
        }
    }
    let _ = follow.kill();
    let _ = follow.wait();

    // `wharf logs`: both containers, prefixed, plain when piped.
    let out = Command::new(env!("CARGO_BIN_EXE_wharf"))
        .args(["logs", &id, "--endpoint", &server.endpoint()])
        .output()
        .expect("wharf logs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "wharf logs failed: {}", String::from_utf8_lossy(&out.stderr));
    assert!(!text.contains('\x1b'), "no escape codes when piped:\n{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 5, "{text}");
    assert!(lines.contains(&"web    | ERROR database down"), "{text}");
    assert!(lines.iter().any(|l| l.starts_with("worker | {\"level\":\"info\"")), "{text}");
    let web_lines: Vec<&&str> = lines.iter().filter(|l| l.starts_with("web ")).collect();
    assert_eq!(web_lines.len(), 3, "in time order, one container's lines keep their order: {text}");
    assert!(web_lines[0].ends_with("GET /health 200") && web_lines[2].ends_with("GET /users 500"));
}
