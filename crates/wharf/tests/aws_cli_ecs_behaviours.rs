//! ECS behaviours found missing by running real clients (issue 20), through the
//! real `aws` CLI against a real `wharf server`: RunTask without a cluster makes
//! `default`, read-back defaults, refusals in ECS's words, ListContainerInstances'
//! `filter`, and ExecuteCommand's checks.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::{Aws, ClusterServer, Server};

#[test]
fn read_backs_and_refusals_read_as_ecs() {
    let server = Server::start_with(&["--no-agent", "--listener-address", "off"]);
    let ecs = Aws::new(&server, "ecs");
    ecs.ok(&[
        "register-task-definition",
        "--family",
        "plain",
        "--container-definitions",
        r#"[{"name":"app","image":"busybox","memory":32}]"#,
        "--volumes",
        r#"[{"name":"shared","efsVolumeConfiguration":{"fileSystemId":"fs-12345678"}}]"#,
    ]);
    let td = ecs.ok(&["describe-task-definition", "--task-definition", "plain"]);
    assert_eq!(td["taskDefinition"]["volumes"][0]["efsVolumeConfiguration"]["rootDirectory"], "/");

    // RunTask with no cluster makes `default` (this server has no agent to run it on).
    let no_cluster = ecs.fails(&["run-task", "--task-definition", "plain"]);
    assert!(no_cluster.contains("No Container Instances"), "{no_cluster}");
    let clusters = ecs.ok(&["describe-clusters", "--clusters", "default"]);
    assert_eq!(clusters["clusters"][0]["status"], "ACTIVE", "{clusters}");

    let empty = ecs.fails(&["describe-tasks", "--cli-input-json", r#"{"tasks": []}"#]);
    assert!(
        empty.contains("InvalidParameterException") && empty.contains("Tasks cannot be empty."),
        "{empty}"
    );
    let empty = ecs.fails(&[
        "describe-container-instances",
        "--cli-input-json",
        r#"{"containerInstances": []}"#,
    ]);
    assert!(empty.contains("Container instance cannot be empty."), "{empty}");

    let external = ecs.fails(&[
        "create-service",
        "--service-name",
        "bg",
        "--deployment-controller",
        "type=EXTERNAL",
        "--task-definition",
        "plain",
        "--desired-count",
        "0",
    ]);
    assert!(external.contains("TaskDefinition must be blank."), "{external}");

    ecs.ok(&[
        "create-service",
        "--service-name",
        "web",
        "--task-definition",
        "plain",
        "--desired-count",
        "0",
    ]);
    let short = "arn:aws:ecs:us-east-1:000000000000:service/web";
    let tagged = ecs.fails(&["tag-resource", "--resource-arn", short, "--tags", "key=a,value=b"]);
    assert!(tagged.contains("Long arn format must be used for tagging operations"), "{tagged}");

    let settings = ecs.ok(&["list-account-settings", "--effective-settings"]);
    let names: Vec<&str> = settings["settings"]
        .as_array()
        .expect("settings")
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert!(names.contains(&"dualStackIPv6"), "{names:?}");
    ecs.ok(&["put-account-setting", "--name", "dualStackIPv6", "--value", "enabled"]);

    let bad = ecs.fails(&["list-container-instances", "--filter", "attribute:x =="]);
    assert!(bad.contains("InvalidParameterException") && bad.contains("filter"), "{bad}");
}

fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn container_instances_filter_and_execute_command_checks() {
    let cluster = format!("behave-{}", std::process::id());
    let world = ClusterServer::launch(
        cluster.clone(),
        &["--metadata-address", "off", "--listener-address", "off"],
    );
    let ecs = Aws::new(&world.server, "ecs");
    wait_for("the agent to register", Duration::from_secs(30), || {
        let l = ecs.ok(&["list-container-instances", "--cluster", &cluster]);
        (l["containerInstanceArns"].as_array()?.len() == 1).then_some(())
    });
    let zone = ecs.ok(&[
        "list-container-instances",
        "--cluster",
        &cluster,
        "--filter",
        "attribute:ecs.os-type == linux",
    ]);
    assert_eq!(zone["containerInstanceArns"].as_array().map(Vec::len), Some(1), "{zone}");
    let none = ecs.ok(&[
        "list-container-instances",
        "--cluster",
        &cluster,
        "--filter",
        "attribute:stack == prod",
    ]);
    assert_eq!(none["containerInstanceArns"], json!([]));

    let td = json!({"family": "sleeper", "containerDefinitions": [
        {"name": "a", "image": support::TEST_IMAGE, "memory": 16, "stopTimeout": 1, "command": ["sleep", "600"]},
        {"name": "b", "image": support::TEST_IMAGE, "memory": 16, "stopTimeout": 1, "command": ["sleep", "600"]}]});
    ecs.ok(&["register-task-definition", "--cli-input-json", &td.to_string()]);
    let run = |exec: bool| -> String {
        let mut args = vec!["run-task", "--cluster", &cluster, "--task-definition", "sleeper"];
        if exec {
            args.push("--enable-execute-command");
        }
        let ran = ecs.ok(&args);
        assert_eq!(ran["tasks"][0]["enableExecuteCommand"], exec);
        ran["tasks"][0]["taskArn"].as_str().expect("arn").to_owned()
    };
    let (plain, enabled) = (run(false), run(true));
    for arn in [&plain, &enabled] {
        wait_for("RUNNING", Duration::from_secs(60), || {
            let t = &ecs.ok(&["describe-tasks", "--cluster", &cluster, "--tasks", arn])["tasks"][0];
            (t["lastStatus"] == "RUNNING").then_some(())
        });
    }
    // The CLI wants AWS's session-manager-plugin before it calls ExecuteCommand,
    // so the call is made as any SDK makes it.
    let exec = |task: &str, container: Option<&str>| {
        let mut body =
            json!({"cluster": cluster, "task": task, "interactive": true, "command": "sh"});
        if let Some(c) = container {
            body["container"] = json!(c);
        }
        let answer = ecs_call(&world.server, "ExecuteCommand", &body);
        assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
        answer
    };
    let off = exec(&plain, Some("a"));
    assert!(off.contains("execute command was not enabled"), "{off}");
    let which = exec(&enabled, None);
    assert!(which.contains("Container name is required"), "{which}");
    let nope = exec(&enabled, Some("zzz"));
    assert!(nope.contains("The container zzz does not exist"), "{nope}");
    let refused = exec(&enabled, Some("a"));
    assert!(
        refused.contains("TargetNotConnectedException") && refused.contains("docker exec -it"),
        "{refused}"
    );
    let _: Value = ecs.ok(&["stop-task", "--cluster", &cluster, "--task", &plain]);
    ecs.ok(&["stop-task", "--cluster", &cluster, "--task", &enabled]);
}

/// One ECS call over plain HTTP: the whole answer, status line first.
fn ecs_call(server: &Server, operation: &str, body: &Value) -> String {
    let body = body.to_string();
    let mut s = TcpStream::connect(server.addr).expect("connect");
    write!(
        s,
        "POST / HTTP/1.1\r\nHost: {}\r\nX-Amz-Target: AmazonEC2ContainerServiceV20141113.{operation}\r\n\
         Content-Type: application/x-amz-json-1.1\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        server.addr,
        body.len()
    )
    .expect("send");
    let mut answer = String::new();
    s.read_to_string(&mut answer).expect("answer");
    answer
}
