//! `wharf agent` as a separate process: a server that runs no agent of its
//! own (`--no-agent`, `--agent-token`), an agent joining it over HTTP, and a
//! task that really runs on Docker through that link. Needs Docker Engine
//! (`scripts/docker-up`); without it the test fails, it is not skipped.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// A child process killed on drop, its log printed if the test failed.
struct Proc {
    child: Child,
    log: std::path::PathBuf,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "--- {} ---\n{}",
                self.log.display(),
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
        }
    }
}

fn spawn(args: &[&str], log: std::path::PathBuf) -> Proc {
    let file = std::fs::File::create(&log).expect("log file");
    let child = Command::new(env!("CARGO_BIN_EXE_wharf"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(file.try_clone().expect("log"))
        .stderr(file)
        .spawn()
        .expect("spawn wharf");
    Proc { child, log }
}

/// One request, `Connection: close`; the status and the JSON body.
fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, Value) {
    let mut s = TcpStream::connect(addr).expect("connect");
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    let status = out.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = out.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

fn ecs(addr: SocketAddr, op: &str, body: Value) -> Value {
    let target = format!("AmazonEC2ContainerServiceV20141113.{op}");
    let (_, v) = http(
        addr,
        "POST",
        "/",
        &[("X-Amz-Target", &target), ("Content-Type", "application/x-amz-json-1.1")],
        &body.to_string(),
    );
    v
}

fn wait_for(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<Value>) -> Value {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_remote_agent_runs_the_servers_tasks() {
    let docker = Command::new("docker").arg("info").output();
    assert!(
        docker.map(|o| o.status.success()).unwrap_or(false),
        "Docker Engine is not reachable; run scripts/docker-up"
    );
    let dir = tempfile::tempdir().expect("temporary directory");
    let addr = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("port");
    let data = dir.path().join("data");
    let _server = spawn(
        &[
            "server",
            "--listen",
            &addr.to_string(),
            "--data-dir",
            data.to_str().unwrap(),
            "--no-agent",
            "--agent-token",
            "t0k",
        ],
        dir.path().join("server.log"),
    );
    wait_for("the server", Duration::from_secs(20), || {
        TcpStream::connect(addr).ok().map(|_| Value::Null)
    });

    // Without the token, the agent endpoints refuse.
    let (status, body) =
        http(addr, "POST", "/_wharf/agent/v1/report?region=us-east-1&cluster=default", &[], "{}");
    assert_eq!((status, body["__type"].as_str()), (403, Some("AccessDeniedException")));

    let state = dir.path().join("agent");
    let endpoint = format!("http://{addr}");
    let agent = spawn(
        &[
            "agent",
            "--endpoint",
            &endpoint,
            "--token",
            "t0k",
            "--state-dir",
            state.to_str().unwrap(),
        ],
        dir.path().join("agent.log"),
    );
    let instance = wait_for("the agent to register", Duration::from_secs(20), || {
        let l = ecs(addr, "ListContainerInstances", json!({}));
        l["containerInstanceArns"].get(0).cloned()
    });
    let d = ecs(addr, "DescribeContainerInstances", json!({"containerInstances": [instance]}));
    let ci = &d["containerInstances"][0];
    assert_eq!(ci["agentConnected"], true);
    assert!(ci["registeredResources"][0]["integerValue"].as_i64().unwrap() >= 1024);

    ecs(
        addr,
        "RegisterTaskDefinition",
        json!({
            "family": "remote",
            "containerDefinitions": [{
                "name": "main", "image": "wharf-test/busybox:1", "memory": 32,
                "command": ["sh", "-c", "echo from afar; sleep 1; exit 5"],
                "logConfiguration": {"logDriver": "awslogs", "options": {
                    "awslogs-group": "/remote", "awslogs-region": "us-east-1",
                    "awslogs-stream-prefix": "ecs", "awslogs-create-group": "true"}}
            }]
        }),
    );
    let run = ecs(addr, "RunTask", json!({"taskDefinition": "remote"}));
    let arn = run["tasks"][0]["taskArn"].as_str().expect("a task").to_owned();
    let stopped = wait_for("the task to stop", Duration::from_secs(30), || {
        let d = ecs(addr, "DescribeTasks", json!({"tasks": [arn]}));
        (d["tasks"][0]["lastStatus"] == "STOPPED").then(|| d["tasks"][0].clone())
    });
    assert_eq!(stopped["containers"][0]["exitCode"], 5);
    assert_eq!(stopped["stopCode"], "EssentialContainerExited");
    assert!(stopped["startedAt"].as_f64().is_some(), "it ran: {stopped}");
    // Its output came over the agent link into the server's Logs API.
    let task_id = arn.rsplit('/').next().unwrap();
    let events = wait_for("the task's log line", Duration::from_secs(20), || {
        let (status, body) = http(
            addr,
            "POST",
            "/",
            &[("X-Amz-Target", "Logs_20140328.GetLogEvents")],
            &json!({"logGroupName": "/remote", "logStreamName": format!("ecs/main/{task_id}"),
                    "startFromHead": true})
            .to_string(),
        );
        (status == 200 && body["events"].as_array().is_some_and(|e| !e.is_empty()))
            .then(|| body["events"].clone())
    });
    assert_eq!(events[0]["message"], "from afar");
    // ECS Exec through the remote agent: it opens the session's token over
    // its link (with its token) and runs the command on its engine.
    ecs(
        addr,
        "RegisterTaskDefinition",
        json!({"family": "shell", "containerDefinitions": [{
            "name": "main", "image": "wharf-test/busybox:1", "memory": 32, "stopTimeout": 1,
            "command": ["sleep", "600"]}]}),
    );
    let run =
        ecs(addr, "RunTask", json!({"taskDefinition": "shell", "enableExecuteCommand": true}));
    let shell = run["tasks"][0]["taskArn"].as_str().expect("a task").to_owned();
    wait_for("the shell task running", Duration::from_secs(30), || {
        let d = ecs(addr, "DescribeTasks", json!({"tasks": [shell]}));
        (d["tasks"][0]["lastStatus"] == "RUNNING").then_some(Value::Null)
    });
    let out = Command::new(env!("CARGO_BIN_EXE_wharf"))
        .args(["exec", &shell, "--", "sh", "-c", "echo remote; exit 4"])
        .env("WHARF_ENDPOINT", &endpoint)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("wharf exec");
    assert_eq!(out.status.code(), Some(4), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "remote\n");
    // The agent goes away: the server sees its watch end.
    drop(agent);
    wait_for("agentConnected false", Duration::from_secs(10), || {
        let d = ecs(addr, "DescribeContainerInstances", json!({"containerInstances": [instance]}));
        (d["containerInstances"][0]["agentConnected"] == false).then_some(Value::Null)
    });
    let (status, refused) = http(
        addr,
        "POST",
        "/",
        &[("X-Amz-Target", "AmazonEC2ContainerServiceV20141113.ExecuteCommand")],
        &json!({"task": shell, "interactive": true, "command": "sh"}).to_string(),
    );
    assert_eq!(status, 400, "{refused}");
    assert_eq!(refused["__type"], "TargetNotConnectedException", "{refused}");
    let _ = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "docker ps -aq --filter label=com.amazonaws.ecs.task-arn={shell} | xargs -r docker rm -f"
        ))
        .output();
    let _ = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "docker ps -aq --filter label=com.amazonaws.ecs.task-arn={arn} | xargs -r docker rm -f"
        ))
        .output();
}
