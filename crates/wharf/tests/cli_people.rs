//! The commands for people (`wharf ps`, `services`, `describe`, `stop`,
//! `diff`, `completions`) as a user runs them, against a real `wharf server`
//! whose embedded agent runs the tasks on the local Docker Engine; set up
//! with the real `aws` CLI. Each test has a cluster of its own, and every
//! container labelled with it is removed at the end, also when it fails.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::{Aws, ClusterServer, Server};

const IMAGE: &str = "wharf-test/busybox:1";
const ESC: char = '\u{1b}';

/// A server whose embedded agent joins a cluster of this test's own.
type World = ClusterServer;

impl World {
    fn start(name: &str) -> World {
        let cluster = format!("people-{name}-{}", std::process::id());
        // No metadata endpoint: other servers of the suite may hold its address.
        let extra =
            ["--allow-reset", "--metadata-address", "off", "--listener-address", "127.0.0.1"];
        World::launch(cluster, &extra)
    }

    fn ecs(&self) -> Aws<'_> {
        Aws::new(&self.server, "ecs")
    }

    /// Runs `wharf ARGS` against this server and cluster.
    fn wharf(&self, args: &[&str]) -> Output {
        wharf_at(&self.server.endpoint(), &self.cluster, args)
    }

    /// Runs `wharf ARGS`, expects success, and returns stdout (with no escape codes).
    fn ok(&self, args: &[&str]) -> String {
        ok(self.wharf(args), args)
    }

    /// Runs `wharf ARGS --json` and parses stdout.
    fn json(&self, args: &[&str]) -> Value {
        let mut args = args.to_vec();
        args.push("--json");
        let out = self.ok(&args);
        serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("wharf {args:?}: not JSON ({e}): {out}"))
    }

    /// Runs `wharf ARGS`, expects failure, and returns stderr.
    fn fails(&self, args: &[&str]) -> String {
        fails(self.wharf(args), args)
    }

    /// Registers a bridge-mode revision of `family`: busybox httpd on port 80 (a dynamic
    /// host port) with a container health check, plus `extra` container fields.
    fn register(&self, family: &str, extra: Value) -> Value {
        let mut container = json!({
            "name": "web",
            "image": IMAGE,
            "memory": 32,
            "stopTimeout": 2,
            "entryPoint": ["/bin/busybox"],
            "command": ["sh", "-c", "mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p 80 -h /www"],
            "portMappings": [{"containerPort": 80, "hostPort": 0, "protocol": "tcp"}],
            "healthCheck": {
                "command": ["CMD-SHELL", "wget -qO- http://127.0.0.1/ || exit 1"],
                "interval": 5, "timeout": 2, "retries": 2, "startPeriod": 0
            }
        });
        for (k, v) in extra.as_object().expect("an object") {
            container[k] = v.clone();
        }
        let td =
            json!({"family": family, "networkMode": "bridge", "containerDefinitions": [container]});
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = dir.path().join("td.json");
        std::fs::write(&path, td.to_string()).expect("task definition file");
        self.ecs().ok(&[
            "register-task-definition",
            "--cli-input-json",
            &format!("file://{}", path.display()),
        ])["taskDefinition"]
            .clone()
    }
}

fn wharf_at(endpoint: &str, cluster: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wharf"))
        .args(args)
        .arg("--cluster")
        .arg(cluster)
        .env("WHARF_ENDPOINT", endpoint)
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env_remove("NO_COLOR")
        .output()
        .expect("run wharf")
}

fn ok(out: Output, args: &[&str]) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "wharf {args:?} failed with {}:\n{stdout}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!stdout.contains(ESC), "wharf {args:?}: escape codes without a terminal: {stdout:?}");
    stdout
}

fn fails(out: Output, args: &[&str]) -> String {
    assert!(
        !out.status.success(),
        "wharf {args:?} succeeded but should have failed:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "wharf {args:?} panicked: {stderr}");
    stderr
}

fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The line of `text` that mentions `needle`.
fn line_with<'a>(text: &'a str, needle: &str) -> &'a str {
    text.lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line mentions {needle:?} in:\n{text}"))
}

#[test]
fn ps_describe_and_stop_a_running_task() {
    let world = World::start("task");
    world.register("people-web", json!({}));
    let arn = world.ecs().ok(&[
        "run-task",
        "--cluster",
        &world.cluster,
        "--task-definition",
        "people-web",
    ])["tasks"][0]["taskArn"]
        .as_str()
        .expect("task ARN")
        .to_owned();
    let id = arn.rsplit('/').next().unwrap().to_owned();
    let short = &id[..12];

    // ps --json is the tasks as DescribeTasks has them; wait until it is running and healthy.
    let task = wait_for("the task RUNNING and HEALTHY", Duration::from_secs(60), || {
        let tasks = world.json(&["ps"]);
        let t = tasks.as_array().expect("an array").iter().find(|t| t["taskArn"] == arn)?.clone();
        assert_ne!(t["lastStatus"], "STOPPED", "the task stopped: {t}");
        (t["lastStatus"] == "RUNNING" && t["healthStatus"] == "HEALTHY").then_some(t)
    });
    let binding = &task["containers"][0]["networkBindings"][0];
    let port = format!("{}:{}->80/tcp", binding["bindIP"].as_str().unwrap(), binding["hostPort"]);

    let ps = world.ok(&["ps"]);
    assert!(ps.starts_with("TASK "), "a header first: {ps}");
    let row = line_with(&ps, short);
    // The embedded agent's host is the server's own, on loopback.
    for column in ["people-web:1", "RUNNING", "HEALTHY", "127.0.0.1", &port, "family:people-web"] {
        assert!(row.contains(column), "{column:?} missing from the ps row: {row}");
    }
    assert!(!row.contains(&id), "ps shows a short id: {row}");

    // describe by the short id ps shows: the task and its container.
    let described = world.ok(&["describe", short]);
    assert!(described.contains(&arn), "{described}");
    assert!(line_with(&described, "Status").contains("RUNNING"), "{described}");
    let container = line_with(&described, "web  ");
    for column in ["RUNNING", "HEALTHY", &port] {
        assert!(
            container.contains(column),
            "{column:?} missing from the container row: {container}"
        );
    }
    let as_json = world.json(&["describe", &arn]);
    assert_eq!(as_json["task"]["taskArn"], arn.as_str());

    // The cluster, by name.
    let cluster = world.ok(&["describe", &world.cluster]);
    assert!(line_with(&cluster, "Running tasks").ends_with(" 1"), "{cluster}");
    assert_eq!(
        world.json(&["describe", &world.cluster])["cluster"]["clusterName"],
        world.cluster.as_str()
    );

    // The container instance the task runs on, by its id.
    let instance = task["containerInstanceArn"].as_str().expect("an instance").to_owned();
    let instance_id = instance.rsplit('/').next().unwrap();
    let described = world.ok(&["describe", instance_id]);
    assert!(line_with(&described, "Container instance").contains(&instance), "{described}");
    assert!(line_with(&described, "Agent connected").ends_with("true"), "{described}");
    assert!(line_with(&described, "Running tasks").ends_with(" 1"), "{described}");

    // stop by the short id, with a reason; ps then leaves it out, ps -a shows it STOPPED.
    let stopped = world.ok(&["stop", short, "--reason", "the test says stop"]);
    let row = line_with(&stopped, short);
    assert!(row.contains("→ STOPPED") || row.contains("STOPPED"), "{row}");
    assert!(row.contains("the test says stop"), "{row}");
    wait_for("the task STOPPED", Duration::from_secs(30), || {
        let tasks = world.json(&["ps", "-a"]);
        let t = tasks.as_array()?.iter().find(|t| t["taskArn"] == arn)?.clone();
        (t["lastStatus"] == "STOPPED").then_some(())
    });
    let ps = world.ok(&["ps"]);
    assert!(!ps.contains(short), "ps without -a leaves stopped tasks out: {ps}");
    assert!(!world.json(&["ps"]).as_array().unwrap().iter().any(|t| t["taskArn"] == arn));
    let all = world.ok(&["ps", "-a"]);
    assert!(line_with(&all, short).contains("STOPPED"), "{all}");
    let described = world.ok(&["describe", short]);
    assert!(line_with(&described, "Stopped reason").contains("the test says stop"), "{described}");
    assert!(line_with(&described, "Stop code").contains("UserInitiated"), "{described}");
    let exit = line_with(&described, "web  ");
    assert!(exit.contains("STOPPED"), "{exit}");
}

#[test]
fn ps_shows_an_awsvpc_task_at_its_address() {
    let world = World::start("awsvpc");
    let td = json!({
        "family": "people-vpc", "networkMode": "awsvpc",
        "containerDefinitions": [{
            "name": "web", "image": IMAGE, "memory": 32, "stopTimeout": 2,
            "entryPoint": ["/bin/busybox"], "command": ["httpd", "-f", "-p", "8080"],
            "portMappings": [{"containerPort": 8080, "protocol": "tcp"}]
        }]
    });
    world.ecs().ok(&["register-task-definition", "--cli-input-json", &td.to_string()]);
    let ec2 = Aws::new(&world.server, "ec2");
    let subnets = ec2.ok(&["describe-subnets", "--filters", "Name=default-for-az,Values=true"]);
    let subnet = subnets["Subnets"][0]["SubnetId"].as_str().expect("a default subnet").to_owned();
    let arn = world.ecs().ok(&[
        "run-task",
        "--cluster",
        &world.cluster,
        "--task-definition",
        "people-vpc",
        "--network-configuration",
        &format!("awsvpcConfiguration={{subnets=[{subnet}]}}"),
    ])["tasks"][0]["taskArn"]
        .as_str()
        .expect("task ARN")
        .to_owned();
    let task = wait_for("the awsvpc task RUNNING", Duration::from_secs(60), || {
        let tasks = world.json(&["ps"]);
        let t = tasks.as_array()?.iter().find(|t| t["taskArn"] == arn)?.clone();
        assert_ne!(t["lastStatus"], "STOPPED", "the task stopped: {t}");
        (t["lastStatus"] == "RUNNING").then_some(t)
    });
    let details = task["attachments"][0]["details"].as_array().expect("ENI details").clone();
    let ip = details
        .iter()
        .find(|d| d["name"] == "privateIPv4Address")
        .and_then(|d| d["value"].as_str())
        .expect("the task's address")
        .to_owned();
    let short = &arn.rsplit('/').next().unwrap()[..12];
    let ps = world.ok(&["ps"]);
    let row = line_with(&ps, short);
    assert!(row.contains(&format!("{ip}:8080")) && !row.contains("->"), "{row}");
    let described = world.ok(&["describe", short]);
    assert!(line_with(&described, "Address").contains(&ip), "{described}");
    assert!(line_with(&described, "web  ").contains(&format!("{ip}:8080")), "{described}");
    world.ok(&["stop", short]);
}

#[test]
fn errors_name_what_is_wrong_and_exit_non_zero() {
    let world = World::start("errors");
    world.register("people-err", json!({}));

    let e = world.fails(&["stop", "0123abcd"]);
    assert!(e.contains("no task in cluster") && e.contains("0123abcd"), "{e}");
    let unknown =
        format!("arn:aws:ecs:us-east-1:000000000000:task/{}/{}", world.cluster, "f".repeat(32));
    let e = world.fails(&["stop", &unknown]);
    assert!(
        e.contains(&format!(
            "task {unknown}: InvalidParameterException: The referenced task was not found."
        )),
        "{e}"
    );
    let long = "x".repeat(256);
    let e = world.fails(&["stop", &unknown, "--reason", &long]);
    assert!(e.contains("reason can be up to 255 characters long."), "{e}");
    let e = world.fails(&["describe", "people-err:x"]);
    assert!(e.contains("\"people-err:x\" is not a task definition"), "{e}");
    let e = world.fails(&["describe", "people-err:9"]);
    assert!(e.contains("ClientException"), "an unregistered revision: {e}");
    let e = world.fails(&["describe", "no-such-thing"]);
    assert!(e.contains("nothing is called \"no-such-thing\""), "{e}");
    let e = world.fails(&["diff", "people-err:1", "people-err:nope"]);
    assert!(e.contains("is not a task definition"), "{e}");
    let e = world.fails(&["diff", "people-err:1", "/no/such/file.json"]);
    assert!(e.contains("no such file"), "{e}");

    // A server that is not there: a clear message, not a panic.
    let e = fails(wharf_at("http://127.0.0.1:9", "default", &["ps"]), &["ps"]);
    assert!(e.contains("cannot reach the Wharf server at http://127.0.0.1:9"), "{e}");
}

#[test]
fn diff_of_two_registered_revisions() {
    let world = World::start("diff");
    world.register("people-diff", json!({}));
    world.register(
        "people-diff",
        json!({"memory": 64, "environment": [{"name": "LOG_LEVEL", "value": "debug"}]}),
    );
    let text = world.ok(&["diff", "people-diff:1", "people-diff:2"]);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[..2], ["--- people-diff:1", "+++ people-diff:2"], "{text}");
    assert!(lines.contains(&"~ containerDefinitions[web].memory: 32 → 64"), "{text}");
    assert!(
        lines.contains(&"+ containerDefinitions[web].environment[LOG_LEVEL]: \"debug\""),
        "{text}"
    );
    assert_eq!(lines.len(), 4, "only those two changes: {text}");

    let changes = world.json(&["diff", "people-diff:1", "people-diff:2"]);
    assert_eq!(
        changes,
        json!([
            {"path": "containerDefinitions[web].environment[LOG_LEVEL]", "before": null, "after": "debug"},
            {"path": "containerDefinitions[web].memory", "before": 32, "after": 64},
        ])
    );
    let same = world.ok(&["diff", "people-diff:2", "people-diff"]);
    assert!(same.ends_with("no differences\n"), "the family is its latest revision: {same}");
}

#[test]
fn services_and_describe_of_a_service_behind_a_target_group() {
    let world = World::start("svc");
    let elb = Aws::new(&world.server, "elbv2");
    world.register("people-svc", json!({}));
    let tg = elb.quick_target_group("people-svc-tg", "instance", None);
    let lb = elb.ok(&[
        "create-load-balancer",
        "--name",
        "people-svc-lb",
        "--subnets",
        "subnet-1",
        "subnet-2",
    ])["LoadBalancers"][0]["LoadBalancerArn"]
        .as_str()
        .expect("load balancer ARN")
        .to_owned();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    elb.ok(&[
        "create-listener",
        "--load-balancer-arn",
        &lb,
        "--protocol",
        "HTTP",
        "--port",
        &port.to_string(),
        "--default-actions",
        &format!("Type=forward,TargetGroupArn={tg}"),
    ]);
    world.ecs().ok(&[
        "create-service",
        "--cluster",
        &world.cluster,
        "--service-name",
        "people-api",
        "--task-definition",
        "people-svc:1",
        "--desired-count",
        "1",
        "--load-balancers",
        &format!("targetGroupArn={tg},containerName=web,containerPort=80"),
    ]);

    let services = world.ok(&["services"]);
    let header = services.lines().next().unwrap_or_default();
    for column in ["NAME", "STATUS", "DESIRED", "RUNNING", "PENDING", "TASK DEFINITION", "ROLLOUT"]
    {
        assert!(header.contains(column), "{column} missing from {header}");
    }
    let row = line_with(&services, "people-api");
    assert!(row.contains("ACTIVE") && row.contains("people-svc:1"), "{row}");
    let listed = world.json(&["services"]);
    assert_eq!(listed[0]["serviceName"], "people-api");
    assert_eq!(listed[0]["desiredCount"], 1);

    // Once the task passes the target group's health checks, describe shows it healthy.
    let described = wait_for("the target healthy", Duration::from_secs(90), || {
        let text = world.ok(&["describe", "people-api"]);
        text.contains(" healthy").then_some(text)
    });
    assert!(described.contains("Target group people-svc-tg → web:80"), "{described}");
    assert!(line_with(&described, "ecs-svc/").contains("PRIMARY"), "{described}");
    assert!(described.contains("Events"), "{described}");
    let as_json = world.json(&["describe", "people-api"]);
    assert_eq!(as_json["service"]["serviceName"], "people-api");
    let targets = &as_json["targetHealth"][&tg];
    assert_eq!(targets[0]["TargetHealth"]["State"], "healthy", "{as_json}");
    let task = world.json(&["ps"]).as_array().unwrap()[0].clone();
    let host_port = &task["containers"][0]["networkBindings"][0]["hostPort"];
    assert_eq!(
        targets[0]["Target"]["Port"],
        host_port.to_string(),
        "the task's port is the target"
    );
    let ps = world.ok(&["ps"]);
    assert!(line_with(&ps, "service:people-api").contains("people-svc:1"), "{ps}");

    // The rollout settles as COMPLETED.
    wait_for("the rollout COMPLETED", Duration::from_secs(60), || {
        line_with(&world.ok(&["services"]), "people-api").contains("COMPLETED").then_some(())
    });

    // The target group and the load balancer, by ARN and by name.
    let group = world.ok(&["describe", &tg]);
    assert!(group.contains("people-svc-tg") && group.contains(" healthy"), "{group}");
    let balancer = world.ok(&["describe", "people-svc-lb"]);
    assert!(
        line_with(&balancer, &port.to_string()).contains("forward people-svc-tg"),
        "{balancer}"
    );
    assert_eq!(world.json(&["describe", &lb])["listeners"][0]["Port"], port.to_string());
}

#[test]
fn colour_on_a_terminal_unless_no_color() {
    let world = World::start("tty");
    world.register("people-tty", json!({}));
    let wharf = env!("CARGO_BIN_EXE_wharf");
    let on_tty = |no_color: Option<&str>| {
        let mut command = Command::new("script");
        command
            .args([
                "-qec",
                &format!("exec {wharf} describe people-tty:1 --cluster {}", world.cluster),
                "/dev/null",
            ])
            .env("SHELL", "/bin/sh")
            .env("WHARF_ENDPOINT", world.server.endpoint())
            .env_remove("NO_COLOR");
        if let Some(v) = no_color {
            command.env("NO_COLOR", v);
        }
        let out = command.output().expect("script (util-linux) runs a command on a terminal");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let coloured = on_tty(None);
    assert!(coloured.contains("\u{1b}[1mTask definition\u{1b}[0m"), "{coloured:?}");
    let plain = on_tty(Some("1"));
    assert!(plain.contains("Task definition") && !plain.contains(ESC), "NO_COLOR: {plain:?}");
}

#[test]
fn ps_reads_every_page_of_a_large_cluster() {
    // No agent: the tasks stay PROVISIONING on a registered instance, which is all ps needs.
    let server = Server::start_with(&["--no-agent", "--metadata-address", "off"]);
    let call = |op: &str, body: Value| ecs_call(&server, op, &body);
    call("CreateCluster", json!({"clusterName": "big"}));
    call(
        "RegisterContainerInstance",
        json!({"cluster": "big", "totalResources": [
            {"name": "CPU", "type": "INTEGER", "integerValue": 1_000_000},
            {"name": "MEMORY", "type": "INTEGER", "integerValue": 1_000_000}]}),
    );
    call(
        "RegisterTaskDefinition",
        json!({"family": "many", "containerDefinitions": [{"name": "c", "image": IMAGE, "memory": 4}]}),
    );
    for _ in 0..25 {
        let run = call("RunTask", json!({"cluster": "big", "taskDefinition": "many", "count": 10}));
        assert_eq!(run["tasks"].as_array().map(Vec::len), Some(10), "{run}");
    }
    let out = wharf_at(&server.endpoint(), "big", &["ps", "--json"]);
    let tasks: Value = serde_json::from_str(&ok(out, &["ps", "--json"])).expect("JSON");
    let tasks = tasks.as_array().expect("an array");
    assert_eq!(tasks.len(), 250, "every page of ListTasks, every batch of DescribeTasks");
    let unique: std::collections::HashSet<&str> =
        tasks.iter().filter_map(|t| t["taskArn"].as_str()).collect();
    assert_eq!(unique.len(), 250);
    let text = ok(wharf_at(&server.endpoint(), "big", &["ps"]), &["ps"]);
    assert_eq!(text.lines().count(), 251, "a header and a row per task");
    assert!(line_with(&text, "many:1").contains("PROVISIONING → RUNNING"), "{text}");
}

#[test]
fn diff_of_two_files_and_completions_need_no_server() {
    let dir = tempfile::tempdir().unwrap();
    // A RegisterTaskDefinition input and a DescribeTaskDefinition answer.
    let a = dir.path().join("a.json");
    let b = dir.path().join("b.json");
    std::fs::write(
        &a,
        json!({"family": "files", "cpu": "256", "volumes": [{"name": "data", "host": {"sourcePath": "/srv/a"}}],
               "containerDefinitions": [{"name": "web", "image": "nginx:1.26",
                   "portMappings": [{"containerPort": 80}], "mountPoints": [{"sourceVolume": "data", "containerPath": "/data"}]}]})
        .to_string(),
    )
    .unwrap();
    std::fs::write(
        &b,
        json!({"taskDefinition": {"family": "files", "revision": 7, "cpu": "512",
               "volumes": [{"name": "data", "host": {"sourcePath": "/srv/b"}}],
               "containerDefinitions": [{"name": "web", "image": "nginx:1.27",
                   "portMappings": [{"containerPort": 80, "protocol": "tcp"}],
                   "mountPoints": [{"sourceVolume": "data", "containerPath": "/data"}]}]}})
        .to_string(),
    )
    .unwrap();
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    let nowhere = "http://127.0.0.1:9";
    let text = ok(wharf_at(nowhere, "default", &["diff", a, b]), &["diff"]);
    assert_eq!(
        text,
        format!(
            "--- {a}\n+++ {b}\n\
             ~ containerDefinitions[web].image: \"nginx:1.26\" → \"nginx:1.27\"\n\
             + containerDefinitions[web].portMappings[80/tcp].protocol: \"tcp\"\n\
             ~ cpu: \"256\" → \"512\"\n\
             ~ volumes[data].host.sourcePath: \"/srv/a\" → \"/srv/b\"\n"
        )
    );
    let changes: Value = serde_json::from_str(&ok(
        wharf_at(nowhere, "default", &["diff", a, b, "--json"]),
        &["diff"],
    ))
    .expect("JSON");
    assert_eq!(changes.as_array().map(Vec::len), Some(4), "{changes}");
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\"family\": ").unwrap();
    let e = fails(wharf_at(nowhere, "default", &["diff", a, bad.to_str().unwrap()]), &["diff"]);
    assert!(e.contains("bad.json is not JSON"), "{e}");

    let out =
        Command::new(env!("CARGO_BIN_EXE_wharf")).args(["completions", "bash"]).output().unwrap();
    let script = ok(out, &["completions", "bash"]);
    assert!(script.contains("complete -F"), "a bash completion script: {script:.200}");
    for command in ["ps", "services", "describe", "stop", "diff", "logs", "completions"] {
        assert!(
            script.contains(&format!("cmd=\"wharf__subcmd__{command}\"")),
            "bash completion misses {command}"
        );
    }
    let out =
        Command::new(env!("CARGO_BIN_EXE_wharf")).args(["completions", "tcsh"]).output().unwrap();
    assert!(!out.status.success(), "an unknown shell is refused");
}

/// One ECS call over plain HTTP (faster than the aws CLI for 25 RunTasks).
fn ecs_call(server: &Server, operation: &str, body: &Value) -> Value {
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
    let (head, body) = answer.split_once("\r\n\r\n").expect("an HTTP answer");
    assert!(head.starts_with("HTTP/1.1 200"), "{operation}: {answer}");
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{operation}: {e}: {body}"))
}
