//! The seed documents' example, end to end with the real `aws` CLI and a real Docker
//! Engine: a web server task definition (awsvpc, FARGATE, 256 CPU / 512 MiB, a secret from
//! the SSM Parameter Store) registered, run, answering HTTP on its task address with the
//! secret's value, and stopped. The image is a locally built stand-in for nginx (busybox
//! httpd on port 80), as no public registry is reachable here.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::{Aws, Server};

const STAND_IN: &str = "wharf-test/nginx-stand-in:1";

/// Builds the stand-in web server image from the test busybox image.
fn build_stand_in() {
    let info = Command::new("docker").arg("info").output();
    assert!(
        info.map(|o| o.status.success()).unwrap_or(false),
        "Docker Engine is not reachable; run scripts/docker-up"
    );
    let dir = tempfile::tempdir().expect("build context");
    std::fs::write(
        dir.path().join("Dockerfile"),
        "FROM wharf-test/busybox:1\nRUN mkdir -p /usr/share/nginx/html\n\
         CMD [\"httpd\", \"-f\", \"-p\", \"80\", \"-h\", \"/usr/share/nginx/html\"]\n",
    )
    .expect("Dockerfile");
    let out = Command::new("docker")
        .env("DOCKER_BUILDKIT", "0")
        .args(["build", "-q", "-t", STAND_IN])
        .arg(dir.path())
        .output()
        .expect("docker build");
    assert!(out.status.success(), "docker build failed: {}", String::from_utf8_lossy(&out.stderr));
}

fn get(addr: &str) -> Option<String> {
    let mut s = TcpStream::connect_timeout(&addr.parse().ok()?, Duration::from_millis(500)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    s.write_all(b"GET / HTTP/1.0\r\nHost: web\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
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

#[test]
fn the_seed_web_server_runs_on_awsvpc_with_a_secret_from_ssm() {
    build_stand_in();
    let server = Server::start();
    let ecs = Aws::new(&server, "ecs");
    let ssm = Aws::new(&server, "ssm");
    ssm.ok(&[
        "put-parameter",
        "--name",
        "/webserver/greeting",
        "--type",
        "SecureString",
        "--value",
        "hello-from-ssm",
    ]);

    let dir = tempfile::tempdir().expect("temporary directory");
    let td = dir.path().join("webserver.json");
    std::fs::write(
        &td,
        json!({
            "family": "webserver",
            "networkMode": "awsvpc",
            "requiresCompatibilities": ["FARGATE"],
            "cpu": "256",
            "memory": "512",
            "executionRoleArn": "arn:aws:iam::000000000000:role/ecsTaskExecutionRole",
            "containerDefinitions": [{
                "name": "nginx",
                "image": STAND_IN,
                "essential": true,
                "stopTimeout": 2,
                "portMappings": [{"containerPort": 80, "protocol": "tcp"}],
                "secrets": [{"name": "GREETING", "valueFrom": "/webserver/greeting"}],
                "entryPoint": ["sh", "-c"],
                "command": ["echo \"$GREETING\" > /usr/share/nginx/html/index.html && exec httpd -f -p 80 -h /usr/share/nginx/html"]
            }]
        })
        .to_string(),
    )
    .expect("task definition file");
    let registered = ecs.ok(&[
        "register-task-definition",
        "--cli-input-json",
        &format!("file://{}", td.display()),
    ]);
    assert_eq!(registered["taskDefinition"]["revision"], 1);

    let run = ecs.ok(&[
        "run-task",
        "--task-definition",
        "webserver",
        "--launch-type",
        "FARGATE",
        "--network-configuration",
        "awsvpcConfiguration={subnets=[subnet-12345678],securityGroups=[sg-12345678],assignPublicIp=ENABLED}",
    ]);
    let task = &run["tasks"][0];
    assert_eq!(task["launchType"], "FARGATE");
    assert_eq!(task["lastStatus"], "PROVISIONING");
    assert!(task.get("containerInstanceArn").is_none(), "Fargate tasks show no instance");
    let arn = task["taskArn"].as_str().expect("task ARN").to_owned();

    let running: Value = wait_for("RUNNING", Duration::from_secs(60), || {
        let d = ecs.ok(&["describe-tasks", "--tasks", &arn]);
        let t = d["tasks"][0].clone();
        assert_ne!(t["lastStatus"], "STOPPED", "the task stopped: {t}");
        (t["lastStatus"] == "RUNNING").then_some(t)
    });
    let eni = &running["attachments"][0];
    assert_eq!(eni["type"], "ElasticNetworkInterface");
    assert_eq!(eni["status"], "ATTACHED");
    let detail = |name: &str| {
        eni["details"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["name"] == name)
            .map(|d| d["value"].clone())
    };
    assert_eq!(detail("subnetId"), Some(json!("subnet-12345678")));
    let ip = detail("privateIPv4Address")
        .and_then(|v| v.as_str().map(str::to_owned))
        .expect("task address");
    assert_eq!(running["containers"][0]["networkInterfaces"][0]["privateIpv4Address"], ip.as_str());

    let page =
        wait_for("the web server to answer", Duration::from_secs(20), || get(&format!("{ip}:80")));
    assert!(page.starts_with("HTTP/1.1 200") || page.starts_with("HTTP/1.0 200"), "{page}");
    assert!(page.contains("hello-from-ssm"), "the secret reached the container: {page}");
    let described = serde_json::to_string(&running).unwrap();
    assert!(!described.contains("hello-from-ssm"), "a secret value never appears in DescribeTasks");

    ecs.ok(&["stop-task", "--task", &arn, "--reason", "seed flow done"]);
    let stopped: Value = wait_for("STOPPED", Duration::from_secs(30), || {
        let t = ecs.ok(&["describe-tasks", "--tasks", &arn])["tasks"][0].clone();
        (t["lastStatus"] == "STOPPED").then_some(t)
    });
    assert_eq!(stopped["stopCode"], "UserInitiated");
    assert_eq!(stopped["stoppedReason"], "seed flow done");
    assert_eq!(stopped["attachments"][0]["status"], "DELETED");
    let left = Command::new("docker")
        .args(["ps", "-q", "--filter", &format!("label=com.amazonaws.ecs.task-arn={arn}")])
        .output()
        .expect("docker ps");
    assert!(
        String::from_utf8_lossy(&left.stdout).trim().is_empty(),
        "nothing of the task still runs"
    );
    let _ = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "docker ps -aq --filter label=com.amazonaws.ecs.task-arn={arn} | xargs -r docker rm -f"
        ))
        .output();
}
