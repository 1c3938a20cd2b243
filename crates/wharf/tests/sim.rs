//! `wharf sim` against a real server: fifty simulated container instances
//! join a server that runs no agent of its own through the agent link over
//! HTTP, and a RunTask batch and a service placed on them reach `RUNNING`
//! (and a stopped task `STOPPED`) with no Docker involved.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::Server;

/// The `wharf sim` process, killed on drop, its log printed if the test failed.
struct Sim {
    child: Child,
    log: std::path::PathBuf,
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("--- sim ---\n{}", std::fs::read_to_string(&self.log).unwrap_or_default());
        }
    }
}

fn ecs(addr: SocketAddr, op: &str, body: Value) -> Value {
    let body = body.to_string();
    let mut s = TcpStream::connect(addr).expect("connect");
    let req = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n\
         X-Amz-Target: AmazonEC2ContainerServiceV20141113.{op}\r\n\
         Content-Type: application/x-amz-json-1.1\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    let status: u16 = out.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let answer = out.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    let v: Value = serde_json::from_str(answer).unwrap_or(Value::Null);
    assert_eq!(status, 200, "{op} failed: {v}");
    v
}

fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Every task of the cluster with the given desired status, described.
fn tasks(addr: SocketAddr, cluster: &str, desired: &str) -> Vec<Value> {
    let mut arns: Vec<Value> = Vec::new();
    let mut token = Value::Null;
    loop {
        let page = ecs(
            addr,
            "ListTasks",
            json!({"cluster": cluster, "desiredStatus": desired, "nextToken": token}),
        );
        arns.extend(page["taskArns"].as_array().cloned().unwrap_or_default());
        token = page["nextToken"].clone();
        if token.is_null() {
            break;
        }
    }
    arns.chunks(100)
        .flat_map(|chunk| {
            let d = ecs(addr, "DescribeTasks", json!({"cluster": cluster, "tasks": chunk}));
            d["tasks"].as_array().cloned().unwrap_or_default()
        })
        .collect()
}

#[test]
fn a_simulated_fleet_runs_a_task_batch_and_a_service() {
    let server = Server::start_with(&["--no-agent", "--agent-token", "t0k"]);
    let addr = server.addr;
    let cluster = "sim-fleet";
    let dir = tempfile::tempdir().expect("temporary directory");
    let log = dir.path().join("sim.log");
    let file = std::fs::File::create(&log).expect("log file");
    let child = Command::new(env!("CARGO_BIN_EXE_wharf"))
        .args(["sim", "--endpoint", &server.endpoint(), "--token", "t0k", "--cluster", cluster])
        .args(["--instances", "50", "--cpu", "2048", "--memory", "4096"])
        .args(["--start-latency", "20ms", "--stop-latency", "20ms"])
        .stdin(Stdio::null())
        .stdout(file.try_clone().expect("log"))
        .stderr(file)
        .spawn()
        .expect("spawn wharf sim");
    let _sim = Sim { child, log };

    wait_for("50 registered instances", Duration::from_secs(60), || {
        let c = ecs(addr, "DescribeClusters", json!({"clusters": [cluster]}));
        (c["clusters"][0]["registeredContainerInstancesCount"] == 50).then_some(())
    });

    // 1 GiB each on hosts of 4 GiB: four fit on a host, so the 70 tasks below
    // need at least 18 hosts, and placement must count what each one holds.
    ecs(
        addr,
        "RegisterTaskDefinition",
        json!({
            "family": "sim-web",
            "containerDefinitions": [
                {"name": "web", "image": "nginx:1", "memory": 1024, "essential": true},
                {"name": "log", "image": "busybox:1", "memory": 16, "essential": false}
            ]
        }),
    );
    for _ in 0..3 {
        let run = ecs(
            addr,
            "RunTask",
            json!({"cluster": cluster, "taskDefinition": "sim-web", "count": 10}),
        );
        assert_eq!(run["tasks"].as_array().map(Vec::len), Some(10), "{run}");
        assert_eq!(run["failures"], json!([]), "{run}");
    }
    ecs(
        addr,
        "CreateService",
        json!({"cluster": cluster, "serviceName": "web", "taskDefinition": "sim-web",
               "desiredCount": 40}),
    );

    let running = wait_for("70 tasks RUNNING", Duration::from_secs(60), || {
        let all = tasks(addr, cluster, "RUNNING");
        (all.len() == 70 && all.iter().all(|t| t["lastStatus"] == "RUNNING")).then_some(all)
    });
    let hosts: std::collections::HashSet<&str> =
        running.iter().filter_map(|t| t["containerInstanceArn"].as_str()).collect();
    assert!(hosts.len() >= 18, "70 tasks of 1 GiB on {} hosts of 4 GiB", hosts.len());
    for t in &running {
        assert!(t["startedAt"].is_number(), "{t}");
        let containers = t["containers"].as_array().expect("containers");
        assert_eq!(containers.len(), 2, "{t}");
        assert!(containers.iter().all(|c| c["lastStatus"] == "RUNNING"), "{t}");
    }
    wait_for("the service at 40 running", Duration::from_secs(30), || {
        let d = ecs(addr, "DescribeServices", json!({"cluster": cluster, "services": ["web"]}));
        let s = &d["services"][0];
        (s["runningCount"] == 40 && s["pendingCount"] == 0).then_some(())
    });
    // The fleet holds what was placed: no instance is over its memory.
    let listed = ecs(addr, "ListContainerInstances", json!({"cluster": cluster}));
    let described = ecs(
        addr,
        "DescribeContainerInstances",
        json!({"cluster": cluster, "containerInstances": listed["containerInstanceArns"]}),
    );
    let instances = described["containerInstances"].as_array().expect("instances");
    assert_eq!(instances.len(), 50);
    let placed: i64 = instances.iter().filter_map(|i| i["runningTasksCount"].as_i64()).sum();
    assert_eq!(placed, 70);
    for i in instances {
        let memory = i["remainingResources"]
            .as_array()
            .and_then(|r| r.iter().find(|r| r["name"] == "MEMORY"))
            .and_then(|r| r["integerValue"].as_i64())
            .expect("remaining memory");
        assert!(memory >= 0, "{i}");
    }

    // A task stopped by StopTask is reported STOPPED by its simulated host.
    let victim = running
        .iter()
        .find(|t| t["group"].as_str().is_some_and(|g| !g.starts_with("service:")))
        .and_then(|t| t["taskArn"].as_str())
        .expect("a RunTask task")
        .to_owned();
    ecs(addr, "StopTask", json!({"cluster": cluster, "task": victim, "reason": "scale test"}));
    let stopped = wait_for("the stopped task", Duration::from_secs(30), || {
        let d = ecs(addr, "DescribeTasks", json!({"cluster": cluster, "tasks": [victim]}));
        let t = d["tasks"][0].clone();
        (t["lastStatus"] == "STOPPED").then_some(t)
    });
    assert_eq!(stopped["stoppedReason"], "scale test");
    assert_eq!(stopped["stopCode"], "UserInitiated");
    assert!(stopped["containers"]
        .as_array()
        .expect("containers")
        .iter()
        .all(|c| { c["lastStatus"] == "STOPPED" && c["exitCode"] == 143 }));
}
