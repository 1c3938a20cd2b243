//! ECS behaviours found missing by running real clients (issue 20), through the
//! real `aws` CLI against a real `wharf server`: RunTask without a cluster makes
//! `default`, read-back defaults, refusals in ECS's words, ListContainerInstances'
//! `filter`, DiscoverPollEndpoint, ExecuteCommand's checks, DeleteTaskDefinitions'
//! purge and `aws ecs wait`.

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

    // Agents are told to poll this server itself.
    let poll = ecs.ok(&["discover-poll-endpoint", "--cluster", "default"]);
    let me = format!("http://{}", server.addr);
    assert_eq!(poll["endpoint"], json!(me), "{poll}");
    assert_eq!(poll["telemetryEndpoint"], json!(me), "{poll}");
    assert_eq!(poll["serviceConnectEndpoint"], json!(me), "{poll}");

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
    // Past the checks, a session on the task's agent (`wharf exec` uses it:
    // tests/exec.rs).
    let granted = ecs_call(
        &world.server,
        "ExecuteCommand",
        &json!({"cluster": cluster, "task": enabled, "container": "a", "interactive": true,
                "command": "sh"}),
    );
    assert!(granted.starts_with("HTTP/1.1 200"), "{granted}");
    let body: Value =
        serde_json::from_str(granted.split_once("\r\n\r\n").map_or("", |(_, b)| b)).unwrap();
    let session = &body["session"];
    assert!(session["sessionId"].as_str().unwrap().starts_with("ecs-execute-command-"), "{body}");
    assert!(session["streamUrl"].as_str().unwrap().starts_with("ws://127.0.0.1:"), "{body}");
    assert!(session["streamUrl"].as_str().unwrap().contains("/v1/data-channel/ecs-execute"));
    assert!(!session["tokenValue"].as_str().unwrap().is_empty(), "{body}");
    assert_eq!(
        (body["containerName"].as_str(), body["interactive"].as_bool()),
        (Some("a"), Some(true))
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

/// Whether DescribeTaskDefinition still finds `given`.
fn described(ecs: &Aws, given: &str) -> Option<Value> {
    let out = ecs.run(&["describe-task-definition", "--task-definition", given]);
    if out.status.success() {
        return serde_json::from_slice::<Value>(&out.stdout).ok();
    }
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Unable to describe task definition."), "{err}");
    None
}

#[test]
fn deleted_revisions_are_purged_once_no_task_runs_them_and_the_waiters_see_tasks_come_and_go() {
    let cluster = format!("purge-{}", std::process::id());
    let world = ClusterServer::launch(
        cluster.clone(),
        &["--metadata-address", "off", "--listener-address", "off"],
    );
    let ecs = Aws::new(&world.server, "ecs");
    let td = json!({"family": "doomed", "containerDefinitions": [
        {"name": "a", "image": support::TEST_IMAGE, "memory": 16, "stopTimeout": 1,
         "command": ["sleep", "600"]}]});
    for _ in 0..2 {
        ecs.ok(&[
            "register-task-definition",
            "--cli-input-json",
            &td.to_string(),
            "--tags",
            "key=team,value=a",
        ]);
    }
    let ran = ecs.ok(&["run-task", "--cluster", &cluster, "--task-definition", "doomed:1"]);
    let task = ran["tasks"][0]["taskArn"].as_str().expect("a task").to_owned();
    let _containers = support::TaskContainers(task.clone());
    // boto's waiter, as `aws ecs wait` runs it: returns once the task is RUNNING.
    ecs.ok(&["wait", "tasks-running", "--cluster", &cluster, "--tasks", &task]);
    let t = &ecs.ok(&["describe-tasks", "--cluster", &cluster, "--tasks", &task])["tasks"][0];
    assert_eq!(t["lastStatus"], "RUNNING");

    // An ACTIVE revision is not deleted; INACTIVE ones go to DELETE_IN_PROGRESS.
    let active = ecs.ok(&["delete-task-definitions", "--task-definitions", "doomed:1"]);
    assert_eq!(active["taskDefinitions"], json!([]), "{active}");
    assert!(active["failures"][0]["reason"].as_str().unwrap_or("").contains("ACTIVE"), "{active}");
    for rev in ["doomed:1", "doomed:2"] {
        ecs.ok(&["deregister-task-definition", "--task-definition", rev]);
    }
    let deleted =
        ecs.ok(&["delete-task-definitions", "--task-definitions", "doomed:1", "doomed:2"]);
    let statuses: Vec<&str> = deleted["taskDefinitions"]
        .as_array()
        .expect("deleted")
        .iter()
        .filter_map(|t| t["status"].as_str())
        .collect();
    assert_eq!(statuses, ["DELETE_IN_PROGRESS", "DELETE_IN_PROGRESS"], "{deleted}");
    assert!(deleted["taskDefinitions"][0]["deleteRequestedAt"].is_number(), "{deleted}");
    let arn1 = deleted["taskDefinitions"][0]["taskDefinitionArn"].as_str().unwrap().to_owned();
    let arn2 = deleted["taskDefinitions"][1]["taskDefinitionArn"].as_str().unwrap().to_owned();
    let listed = ecs.ok(&["list-task-definitions", "--status", "DELETE_IN_PROGRESS"]);
    assert!(listed["taskDefinitionArns"].as_array().unwrap().contains(&json!(arn1)), "{listed}");

    // Revision 2 runs nowhere: it is purged, with its tags. Revision 1 stays
    // while its task runs.
    wait_for("revision 2 purged", Duration::from_secs(30), || {
        described(&ecs, "doomed:2").is_none().then_some(())
    });
    let tags = ecs.fails(&["list-tags-for-resource", "--resource-arn", &arn2]);
    assert!(tags.contains("Unable to describe task definition."), "{tags}");
    let tags = ecs.ok(&["list-tags-for-resource", "--resource-arn", &arn1]);
    assert_eq!(tags["tags"], json!([{"key": "team", "value": "a"}]), "{tags}");
    let kept = described(&ecs, "doomed:1").expect("revision 1 is kept while its task runs");
    assert_eq!(kept["taskDefinition"]["status"], "DELETE_IN_PROGRESS");
    let families = ecs.ok(&["list-task-definition-families", "--status", "ALL"]);
    assert!(families["families"].as_array().unwrap().contains(&json!("doomed")), "{families}");

    ecs.ok(&["stop-task", "--cluster", &cluster, "--task", &task]);
    ecs.ok(&["wait", "tasks-stopped", "--cluster", &cluster, "--tasks", &task]);
    let t = &ecs.ok(&["describe-tasks", "--cluster", &cluster, "--tasks", &task])["tasks"][0];
    assert_eq!(t["lastStatus"], "STOPPED");
    wait_for("revision 1 purged", Duration::from_secs(30), || {
        described(&ecs, "doomed:1").is_none().then_some(())
    });
    let families = ecs.ok(&["list-task-definition-families", "--status", "ALL"]);
    assert!(!families["families"].as_array().unwrap().contains(&json!("doomed")), "{families}");
    // The family's numbers are not given again.
    let again = ecs.ok(&["register-task-definition", "--cli-input-json", &td.to_string()]);
    assert_eq!(again["taskDefinition"]["revision"], 3, "{again}");

    // `aws ecs wait services-stable`: polls (every 15 s) until the service runs
    // what it wants with one deployment.
    ecs.ok(&[
        "create-service",
        "--cluster",
        &cluster,
        "--service-name",
        "steady",
        "--task-definition",
        "doomed:3",
        "--desired-count",
        "2",
    ]);
    ecs.ok(&["wait", "services-stable", "--cluster", &cluster, "--services", "steady"]);
    let s = &ecs.ok(&["describe-services", "--cluster", &cluster, "--services", "steady"])
        ["services"][0];
    assert_eq!((s["runningCount"].as_i64(), s["desiredCount"].as_i64()), (Some(2), Some(2)));
    assert_eq!(s["deployments"].as_array().map(Vec::len), Some(1), "{s}");
    ecs.ok(&["delete-service", "--cluster", &cluster, "--service", "steady", "--force"]);
}
