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
use support::{Aws, Server, TaskContainers};

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

    // The default VPC's subnet and security group, as deploy code finds them.
    let ec2 = Aws::new(&server, "ec2");
    let subnets = ec2.ok(&["describe-subnets", "--filters", "Name=default-for-az,Values=true"]);
    let subnet = subnets["Subnets"][0]["SubnetId"].as_str().expect("a default subnet").to_owned();
    let groups = ec2.ok(&["describe-security-groups", "--group-names", "default"]);
    let group = groups["SecurityGroups"][0]["GroupId"].as_str().expect("default group").to_owned();
    let missing = ecs.fails(&[
        "run-task",
        "--task-definition",
        "webserver",
        "--network-configuration",
        "awsvpcConfiguration={subnets=[subnet-12345678]}",
    ]);
    assert!(
        missing.contains("InvalidParameterException")
            && missing.contains("The subnet ID 'subnet-12345678' does not exist"),
        "{missing}"
    );
    let run = ecs.ok(&[
        "run-task",
        "--task-definition",
        "webserver",
        "--launch-type",
        "FARGATE",
        "--network-configuration",
        &format!(
            "awsvpcConfiguration={{subnets=[{subnet}],securityGroups=[{group}],assignPublicIp=ENABLED}}"
        ),
    ]);
    let task = &run["tasks"][0];
    assert_eq!(task["launchType"], "FARGATE");
    assert_eq!(task["lastStatus"], "PROVISIONING");
    assert!(task.get("containerInstanceArn").is_none(), "Fargate tasks show no instance");
    let arn = task["taskArn"].as_str().expect("task ARN").to_owned();
    let _cleanup = TaskContainers(arn.clone());

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
    assert_eq!(detail("subnetId"), Some(json!(subnet)));
    let ip = detail("privateIPv4Address")
        .and_then(|v| v.as_str().map(str::to_owned))
        .expect("task address");
    // The ENI id in the attachment resolves in EC2, with the task's address.
    let eni_id = detail("networkInterfaceId").and_then(|v| v.as_str().map(str::to_owned));
    let eni_id = eni_id.expect("networkInterfaceId");
    let enis = ec2.ok(&["describe-network-interfaces", "--network-interface-ids", &eni_id]);
    let described = &enis["NetworkInterfaces"][0];
    assert_eq!(described["PrivateIpAddress"], ip.as_str(), "{enis}");
    assert_eq!(described["SubnetId"], subnet.as_str());
    assert_eq!(described["Status"], "in-use");
    assert_eq!(described["VpcId"], subnets["Subnets"][0]["VpcId"]);
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
    let gone = ec2.fails(&["describe-network-interfaces", "--network-interface-ids", &eni_id]);
    assert!(gone.contains("InvalidNetworkInterfaceID.NotFound"), "{gone}");
    let left = Command::new("docker")
        .args(["ps", "-q", "--filter", &format!("label=com.amazonaws.ecs.task-arn={arn}")])
        .output()
        .expect("docker ps");
    assert!(
        String::from_utf8_lossy(&left.stdout).trim().is_empty(),
        "nothing of the task still runs"
    );
}

/// `moto_server` (PyPI `moto[server]`, installed by scripts/test) on a free port, as the
/// S3-compatible endpoint; killed on drop.
struct Moto {
    child: std::process::Child,
    port: u16,
}

impl Moto {
    fn start() -> Moto {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("moto_server is missing: pip install 'moto[server]' (scripts/test does)");
        wait_for("moto_server", Duration::from_secs(30), || {
            TcpStream::connect(("127.0.0.1", port)).ok()
        });
        Moto { child, port }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn environment_files_come_from_s3_and_from_local_paths() {
    build_stand_in();
    let moto = Moto::start();
    let s3_url = format!("http://127.0.0.1:{}", moto.port);
    let s3 = |args: &[&str]| {
        let out = Command::new("aws")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .args(["--endpoint-url", &s3_url, "s3api"])
            .args(args)
            .output()
            .expect("aws s3api");
        assert!(
            out.status.success(),
            "aws s3api {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let dir = tempfile::tempdir().expect("temporary directory");
    let remote = dir.path().join("remote.env");
    std::fs::write(&remote, "# from S3\nFROM_S3=yes\nSHARED=from-s3\n").expect("env file");
    let local = dir.path().join("local.env");
    std::fs::write(&local, "FROM_FILE=yes\nSHARED=from-file\n").expect("env file");
    s3(&["create-bucket", "--bucket", "envs"]);
    s3(&[
        "put-object",
        "--bucket",
        "envs",
        "--key",
        "app/remote.env",
        "--body",
        remote.to_str().unwrap(),
    ]);

    let server = Server::start_with_env(
        &["--allow-reset", "--s3-endpoint", &s3_url],
        &[("AWS_ACCESS_KEY_ID", "test"), ("AWS_SECRET_ACCESS_KEY", "test")],
    );
    let ecs = Aws::new(&server, "ecs");
    // Exit 0 only if each variable holds what ECS's precedence gives it: `environment`
    // over every file, and the first file over the later ones.
    let check =
        "test \"$FROM_S3\" = yes && test \"$FROM_FILE\" = yes && test \"$SHARED\" = from-s3 \
                 && test \"$EXPLICIT\" = env";
    let td = dir.path().join("envfiles.json");
    let definition = |files: Value| {
        json!({
            "family": "envfiles",
            "containerDefinitions": [{
                "name": "check", "image": STAND_IN, "memory": 32,
                "entryPoint": ["sh", "-c"], "command": [check],
                "environment": [{"name": "EXPLICIT", "value": "env"}],
                "environmentFiles": files
            }]
        })
    };
    std::fs::write(
        &td,
        definition(json!([
            {"type": "s3", "value": "arn:aws:s3:::envs/app/remote.env"},
            {"type": "s3", "value": local.to_str().unwrap()}
        ]))
        .to_string(),
    )
    .expect("task definition");
    ecs.ok(&["register-task-definition", "--cli-input-json", &format!("file://{}", td.display())]);
    let run = |family_rev: &str| -> Value {
        let arn = ecs.ok(&["run-task", "--task-definition", family_rev])["tasks"][0]["taskArn"]
            .as_str()
            .expect("task ARN")
            .to_owned();
        let _cleanup = TaskContainers(arn.clone());
        wait_for("STOPPED", Duration::from_secs(60), || {
            let t = ecs.ok(&["describe-tasks", "--tasks", &arn])["tasks"][0].clone();
            (t["lastStatus"] == "STOPPED").then_some(t)
        })
    };
    let t = run("envfiles:1");
    assert_eq!(t["containers"][0]["exitCode"], 0, "the variables were as expected: {t}");

    // A missing object fails the task to start, naming the file.
    std::fs::write(
        &td,
        definition(json!([{"type": "s3", "value": "arn:aws:s3:::envs/missing.env"}])).to_string(),
    )
    .expect("task definition");
    ecs.ok(&["register-task-definition", "--cli-input-json", &format!("file://{}", td.display())]);
    let t = run("envfiles:2");
    assert_eq!(t["stopCode"], "TaskFailedToStart");
    let reason = t["stoppedReason"].as_str().unwrap_or_default();
    assert!(
        reason.starts_with("ResourceInitializationError: failed to download env files: file arn:aws:s3:::envs/missing.env"),
        "{reason}"
    );
}

#[test]
fn containers_read_their_metadata_and_role_credentials_from_inside() {
    build_stand_in();
    let dir = tempfile::tempdir().expect("temporary directory");
    let creds = dir.path().join("credentials.json");
    std::fs::write(
        &creds,
        json!({"arn:aws:iam::000000000000:role/app": {
            "AccessKeyId": "AKIDFROMROLE", "SecretAccessKey": "role-secret", "Token": "role-token"
        }})
        .to_string(),
    )
    .expect("credentials file");
    // An ephemeral port on ECS's address: other servers of the suite may hold port 80.
    let server = Server::start_with(&[
        "--allow-reset",
        "--metadata-address",
        "169.254.170.2:0",
        "--task-credentials",
        creds.to_str().unwrap(),
    ]);
    let ecs = Aws::new(&server, "ecs");
    // Exit 0 only if the task metadata names this task's family and container and the
    // credentials endpoint hands out the role's keys; the base is the metadata URI's.
    let probe = r#"base=${ECS_CONTAINER_METADATA_URI_V4%/v4/*}
        timeout 5 wget -qO /tmp/task "$ECS_CONTAINER_METADATA_URI_V4/task" || exit 11
        grep -q '"Family":"metadata-probe"' /tmp/task || exit 12
        timeout 5 wget -qO /tmp/me "$ECS_CONTAINER_METADATA_URI_V4" || exit 13
        grep -q '"Name":"probe"' /tmp/me || exit 14
        timeout 5 wget -qO /tmp/creds "$base$AWS_CONTAINER_CREDENTIALS_RELATIVE_URI" || exit 15
        grep -q AKIDFROMROLE /tmp/creds || exit 16
        timeout 5 wget -qO /tmp/stats "$ECS_CONTAINER_METADATA_URI_V4/stats" || exit 17
        exit 0"#;
    let td = dir.path().join("probe.json");
    std::fs::write(
        &td,
        json!({
            "family": "metadata-probe",
            "taskRoleArn": "arn:aws:iam::000000000000:role/app",
            "containerDefinitions": [{
                "name": "probe", "image": STAND_IN, "memory": 32,
                "entryPoint": ["sh", "-c"], "command": [probe]
            }]
        })
        .to_string(),
    )
    .expect("task definition");
    ecs.ok(&["register-task-definition", "--cli-input-json", &format!("file://{}", td.display())]);
    let arn = ecs.ok(&["run-task", "--task-definition", "metadata-probe"])["tasks"][0]["taskArn"]
        .as_str()
        .expect("task ARN")
        .to_owned();
    let _cleanup = TaskContainers(arn.clone());
    let t: Value = wait_for("STOPPED", Duration::from_secs(60), || {
        let t = ecs.ok(&["describe-tasks", "--tasks", &arn])["tasks"][0].clone();
        (t["lastStatus"] == "STOPPED").then_some(t)
    });
    assert_eq!(
        t["containers"][0]["exitCode"], 0,
        "the probe's checks passed (exit code says which failed): {t}"
    );
}
