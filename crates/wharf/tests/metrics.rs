//! `/metrics` end to end: a real server with its embedded agent on Docker, driven with the
//! `aws` CLI, scraped over HTTP, its exposition parsed and checked (every sample under a
//! family with HELP and TYPE, counters named `_total`, histograms whole) and its figures
//! compared with what the test did: API requests by operation and outcome, tasks by status,
//! a service's desired and running counts, a running container's CPU and memory from the
//! stats sampler, and requests through a listener by target group and status. Also the
//! task metadata endpoint's `/stats` and `/task/stats` as a container reads them. Needs
//! Docker (scripts/docker-up) and the `aws` CLI: without them the tests fail, never skip.

mod support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::{Aws, ClusterServer};

const IMAGE: &str = "wharf-test/busybox:1";

// --- the exposition, parsed --------------------------------------------------------------

/// One sample line.
#[derive(Debug, Clone)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// A parsed exposition: families (name → type) and samples, in order.
#[derive(Debug)]
struct Exposition {
    types: BTreeMap<String, String>,
    samples: Vec<Sample>,
}

/// Parses Prometheus text format 0.0.4 and fails the test on anything out of shape: a
/// sample before its family's HELP and TYPE, a family declared twice or interleaved with
/// another, a counter not named `_total`, a histogram without cumulative buckets ending in
/// `+Inf` equal to its `_count`, a malformed label or value.
fn parse(text: &str) -> Exposition {
    let mut types = BTreeMap::new();
    let mut helped = Vec::<String>::new();
    let mut samples = Vec::new();
    let mut current: Option<(String, String)> = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            assert!(!helped.iter().any(|h| h == name), "HELP twice for {name}");
            assert!(!help.is_empty(), "an empty HELP for {name}");
            helped.push(name.to_owned());
            current = None;
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE name kind");
            assert_eq!(helped.last().map(String::as_str), Some(name), "TYPE {name} without HELP");
            assert!(["counter", "gauge", "histogram"].contains(&kind), "type {kind} of {name}");
            if kind == "counter" {
                assert!(name.ends_with("_total"), "counter {name} is not named _total");
            }
            assert!(types.insert(name.to_owned(), kind.to_owned()).is_none(), "{name} twice");
            current = Some((name.to_owned(), kind.to_owned()));
            continue;
        }
        assert!(!line.starts_with('#') && !line.is_empty(), "unexpected line {line:?}");
        let sample = parse_sample(line);
        let (family, kind) = current.as_ref().unwrap_or_else(|| panic!("{line}: no family"));
        let suffix = sample.name.strip_prefix(family.as_str()).unwrap_or_else(|| {
            panic!("{} is outside its family {family} (HELP/TYPE missing)", sample.name)
        });
        match kind.as_str() {
            "histogram" => assert!(["_bucket", "_sum", "_count"].contains(&suffix), "{line}"),
            _ => assert_eq!(suffix, "", "{line}"),
        }
        samples.push(sample);
    }
    let exposition = Exposition { types, samples };
    check_histograms(&exposition);
    exposition
}

fn parse_sample(line: &str) -> Sample {
    let (head, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("no value: {line}"));
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().unwrap_or_else(|_| panic!("value {v:?} in {line}")),
    };
    let (name, labels) = match head.split_once('{') {
        None => (head, BTreeMap::new()),
        Some((name, rest)) => {
            let body = rest.strip_suffix('}').unwrap_or_else(|| panic!("labels of {line}"));
            (name, parse_labels(body, line))
        }
    };
    assert!(
        name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
        "name {name:?}"
    );
    Sample { name: name.to_owned(), labels, value }
}

fn parse_labels(mut rest: &str, line: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    while !rest.is_empty() {
        let (name, after) = rest.split_once("=\"").unwrap_or_else(|| panic!("label in {line}"));
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next() {
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, c @ ('\\' | '"'))) => value.push(c),
                    other => panic!("bad escape {other:?} in {line}"),
                },
                Some((i, '"')) => break i,
                Some((_, c)) => value.push(c),
                None => panic!("unterminated label value in {line}"),
            }
        };
        assert!(labels.insert(name.to_owned(), value).is_none(), "label {name} twice: {line}");
        rest = &after[end + 1..];
        rest = rest.strip_prefix(',').unwrap_or(rest);
    }
    labels
}

/// A sample's labels as a key.
type LabelSet = Vec<(String, String)>;

fn check_histograms(e: &Exposition) {
    for (family, _) in e.types.iter().filter(|(_, t)| *t == "histogram") {
        let mut series: BTreeMap<LabelSet, Vec<(f64, f64)>> = BTreeMap::new();
        let mut counts = BTreeMap::new();
        for s in e.samples.iter().filter(|s| s.name.starts_with(family.as_str())) {
            let mut labels = s.labels.clone();
            if s.name.ends_with("_bucket") {
                let le = labels.remove("le").unwrap_or_else(|| panic!("a bucket without le"));
                let le = if le == "+Inf" { f64::INFINITY } else { le.parse().expect("le") };
                series.entry(labels.into_iter().collect()).or_default().push((le, s.value));
            } else if s.name.ends_with("_count") {
                counts.insert(labels.into_iter().collect::<LabelSet>(), s.value);
            }
        }
        for (labels, buckets) in &series {
            assert!(
                buckets.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1),
                "{family} {labels:?}: buckets not cumulative: {buckets:?}"
            );
            let last = buckets.last().expect("buckets");
            assert!(last.0.is_infinite(), "{family} {labels:?}: no +Inf bucket");
            assert_eq!(Some(&last.1), counts.get(labels), "{family} {labels:?}: +Inf != _count");
        }
    }
}

impl Exposition {
    /// The value of the sample named `name` whose labels are exactly `labels`.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let wanted: BTreeMap<String, String> =
            labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        self.samples.iter().find(|s| s.name == name && s.labels == wanted).map(|s| s.value)
    }

    fn kind(&self, family: &str) -> Option<&str> {
        self.types.get(family).map(String::as_str)
    }
}

/// GET /metrics: the content type and the parsed body.
fn scrape(addr: SocketAddr) -> (String, Exposition) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    write!(s, "GET /metrics HTTP/1.1\r\nHost: wharf\r\nConnection: close\r\n\r\n").expect("send");
    let mut text = String::new();
    s.read_to_string(&mut text).expect("read");
    let (head, body) = text.split_once("\r\n\r\n").expect("a head and a body");
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}\n{body}");
    let content_type = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-type").then(|| v.trim().to_owned())
        })
        .expect("a content type");
    (content_type, parse(body))
}

// --- the world ---------------------------------------------------------------------------

fn docker_ready() {
    let info = Command::new("docker").arg("info").output();
    assert!(
        info.is_ok_and(|o| o.status.success()),
        "Docker is not reachable; run scripts/docker-up"
    );
    let image = Command::new("docker").args(["image", "inspect", IMAGE]).output();
    assert!(image.is_ok_and(|o| o.status.success()), "{IMAGE} is missing; run scripts/docker-up");
}

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}")).to_owned()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("port").port()
}

fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < timeout, "timed out after {timeout:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// An HTTP target on loopback answering every request `200 ok`.
fn target() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mut writer = stream;
                loop {
                    let mut line = String::new();
                    loop {
                        line.clear();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        if line == "\r\n" {
                            break;
                        }
                    }
                    let answer = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
                    if writer.write_all(answer.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}

/// GET `path` on the listener's port: the status, if anything answered.
fn get(port: u16, path: &str) -> Option<u16> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: front.example\r\nConnection: close\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    text.split_whitespace().nth(1)?.parse().ok()
}

fn register_sleeper(ecs: &Aws<'_>, family: &str) {
    let td = json!({
        "family": family,
        "containerDefinitions": [{
            "name": "app", "image": IMAGE, "memory": 32, "essential": true, "stopTimeout": 1,
            "entryPoint": ["/bin/busybox"], "command": ["sleep", "3600"],
        }],
    });
    ecs.ok(&["register-task-definition", "--cli-input-json", &td.to_string()]);
}

// --- the tests ---------------------------------------------------------------------------

#[test]
fn metrics_show_requests_tasks_services_containers_and_load_balancer_traffic() {
    docker_ready();
    let cluster = format!("metrics-{}", std::process::id());
    // Its containers go after the server, so the service does not replace them.
    let world = ClusterServer::launch(
        cluster.clone(),
        &["--listener-address", "127.0.0.1", "--stats-interval", "1s", "--metadata-address", "off"],
    );
    let server = &world.server;
    let (ecs, elb) = (Aws::new(server, "ecs"), Aws::new(server, "elbv2"));

    // A service of two tasks and a task of its own, all sleeping.
    register_sleeper(&ecs, "sleeper");
    let args = ["--cluster", &cluster, "--service-name", "sleepers", "--task-definition"];
    ecs.ok(&[&["create-service"][..], &args, &["sleeper", "--desired-count", "2"]].concat());
    let run = ecs.ok(&["run-task", "--cluster", &cluster, "--task-definition", "sleeper"]);
    let task_arn = s(&run["tasks"][0]["taskArn"]);
    let task_id = task_arn.rsplit('/').next().expect("task id").to_owned();
    let missing = ecs.fails(&["describe-services", "--cluster", "nope", "--services", "x"]);
    assert!(missing.contains("ClusterNotFoundException"), "{missing}");

    // A listener forwarding to a target group of one loopback target, with a rule the load
    // balancer answers itself.
    let tg_arn = elb.quick_target_group("web", "ip", None);
    let listen = free_port();
    let (lb_arn, listener_arn) = elb.forwarding_listener("front", listen, &tg_arn);
    elb.ok(&[
        "create-rule",
        "--listener-arn",
        &listener_arn,
        "--priority",
        "1",
        "--conditions",
        "Field=path-pattern,Values=/down",
        "--actions",
        "Type=fixed-response,FixedResponseConfig={StatusCode=503,ContentType=text/plain}",
    ]);
    let target_port = target();
    elb.ok(&[
        "register-targets",
        "--target-group-arn",
        &tg_arn,
        "--targets",
        &format!("Id=127.0.0.1,Port={target_port}"),
    ]);
    // Every answer to `/` is counted under the target group, whatever its status.
    let mut seen: BTreeMap<u16, u64> = BTreeMap::new();
    wait_for("the target to answer through the listener", Duration::from_secs(60), || {
        let status = get(listen, "/")?;
        *seen.entry(status).or_default() += 1;
        (status == 200).then_some(())
    });
    for _ in 0..4 {
        let status = get(listen, "/").expect("an answer");
        *seen.entry(status).or_default() += 1;
    }
    for _ in 0..2 {
        assert_eq!(get(listen, "/down"), Some(503));
    }

    // Wait until the service runs both tasks and the sampler has seen the lone task's
    // container.
    wait_for("the service's two tasks to run", Duration::from_secs(60), || {
        let out = ecs.ok(&["describe-services", "--cluster", &cluster, "--services", "sleepers"]);
        (out["services"][0]["runningCount"] == 2).then_some(())
    });
    let labels = [
        ("cluster", cluster.as_str()),
        ("task_id", &task_id),
        ("container", "app"),
        ("task_definition", "sleeper:1"),
    ];
    // The gauges follow the agent's reports, which may trail what the
    // containers' samples and DescribeServices already show.
    let region = ("region", "us-east-1");
    let tasks =
        [region, ("cluster", &cluster), ("last_status", "RUNNING"), ("desired_status", "RUNNING")];
    let (content_type, m) = wait_for(
        "samples of the three containers and three running tasks",
        Duration::from_secs(60),
        || {
            let (content_type, m) = scrape(server.addr);
            let sampled =
                m.samples.iter().filter(|s| s.name == "wharf_container_memory_usage_bytes").count();
            let mine = m.value("wharf_container_memory_usage_bytes", &labels).is_some();
            let running = m.value("wharf_tasks", &tasks) == Some(3.0);
            (mine && sampled == 3 && running).then_some((content_type, m))
        },
    );
    assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");

    // API requests, by operation and outcome.
    let api = |service: &str, operation: &str, code: &str| {
        let labels = [("service", service), ("operation", operation), ("code", code)];
        m.value("wharf_api_requests_total", &labels)
    };
    assert_eq!(m.kind("wharf_api_requests_total"), Some("counter"));
    assert_eq!(api("ecs", "RunTask", "200"), Some(1.0));
    assert_eq!(api("ecs", "CreateService", "200"), Some(1.0));
    assert_eq!(api("ecs", "RegisterTaskDefinition", "200"), Some(1.0));
    assert_eq!(api("ecs", "DescribeServices", "ClusterNotFoundException"), Some(1.0));
    assert_eq!(api("elbv2", "CreateListener", "200"), Some(1.0));
    assert_eq!(api("elbv2", "RegisterTargets", "200"), Some(1.0));
    assert_eq!(m.kind("wharf_api_request_duration_seconds"), Some("histogram"));
    let run_task = [("service", "ecs"), ("operation", "RunTask")];
    assert_eq!(m.value("wharf_api_request_duration_seconds_count", &run_task), Some(1.0));

    // Tasks by status, the service's counts, the instance.
    assert_eq!(m.kind("wharf_tasks"), Some("gauge"));
    assert_eq!(m.value("wharf_tasks", &tasks), Some(3.0));
    let service = [region, ("cluster", &cluster), ("service", "sleepers")];
    assert_eq!(m.value("wharf_service_desired_tasks", &service), Some(2.0));
    assert_eq!(m.value("wharf_service_running_tasks", &service), Some(2.0));
    assert_eq!(m.value("wharf_service_pending_tasks", &service), Some(0.0));
    let instances = [region, ("cluster", &cluster), ("status", "ACTIVE")];
    assert_eq!(m.value("wharf_container_instances", &instances), Some(1.0));

    // The container's figures, from Docker's stats.
    assert_eq!(m.kind("wharf_container_cpu_usage_seconds_total"), Some("counter"));
    let cpu = m.value("wharf_container_cpu_usage_seconds_total", &labels).expect("cpu");
    assert!((0.0..60.0).contains(&cpu), "{cpu}");
    let memory = m.value("wharf_container_memory_usage_bytes", &labels).expect("memory");
    assert!((1.0..32.0 * 1024.0 * 1024.0).contains(&memory), "{memory}");
    assert_eq!(m.value("wharf_container_memory_limit_bytes", &labels), Some(33_554_432.0));
    assert!(m.value("wharf_container_network_receive_bytes_total", &labels).is_some());

    // Requests through the listener, by target group and the status sent.
    let lb_dimension = lb_arn.split_once(":loadbalancer/").expect("an ALB ARN").1;
    let tg_dimension = &tg_arn[tg_arn.find("targetgroup/").expect("a target group ARN")..];
    for (status, n) in &seen {
        let code = status.to_string();
        let labels =
            [("load_balancer", lb_dimension), ("target_group", tg_dimension), ("code", &code)];
        assert_eq!(m.value("wharf_lb_requests_total", &labels), Some(*n as f64), "{status}");
    }
    let own = [("load_balancer", lb_dimension), ("target_group", ""), ("code", "503")];
    assert_eq!(m.value("wharf_lb_requests_total", &own), Some(2.0));
    let group = [("load_balancer", lb_dimension), ("target_group", tg_dimension)];
    let answered = seen.get(&200).copied().unwrap_or(0) as f64;
    assert_eq!(m.value("wharf_lb_request_duration_seconds_count", &group), Some(answered));
    assert_eq!(m.value("wharf_lb_target_connection_errors_total", &group), Some(0.0));
    assert_eq!(m.kind("process_resident_memory_bytes"), Some("gauge"));

    // Stopping the task: its container leaves the metrics, the counts follow.
    ecs.ok(&["stop-task", "--cluster", &cluster, "--task", &task_arn]);
    // The container leaves the figures when it stops; the agent's report that
    // the task is STOPPED may land a moment after: wait for both.
    let stopped =
        [region, ("cluster", &cluster), ("last_status", "STOPPED"), ("desired_status", "STOPPED")];
    let m = wait_for("the stopped task's container to leave", Duration::from_secs(60), || {
        let (_, m) = scrape(server.addr);
        let gone = m.value("wharf_container_memory_usage_bytes", &labels).is_none();
        (gone && m.value("wharf_tasks", &stopped).is_some()).then_some(m)
    });
    assert_eq!(m.value("wharf_tasks", &tasks), Some(2.0));
    assert_eq!(m.value("wharf_tasks", &stopped), Some(1.0));
    assert_eq!(
        m.value(
            "wharf_api_requests_total",
            &[("service", "ecs"), ("operation", "StopTask"), ("code", "200")]
        ),
        Some(1.0)
    );
}

#[test]
fn a_container_reads_docker_stats_from_the_task_metadata_endpoint() {
    docker_ready();
    let cluster = format!("metrics-stats-{}", std::process::id());
    // An ephemeral port on ECS's address: other servers of the suite may hold port 80.
    let world = ClusterServer::launch(
        cluster.clone(),
        &["--metadata-address", "169.254.170.2:0", "--listener-address", "off"],
    );
    let server = &world.server;
    let ecs = Aws::new(server, "ecs");
    // Prints both answers, one per line, then exits.
    let script = r#"c=$(timeout 5 wget -qO- "$ECS_CONTAINER_METADATA_URI_V4/stats") || exit 11
        t=$(timeout 5 wget -qO- "$ECS_CONTAINER_METADATA_URI_V4/task/stats") || exit 12
        echo "container $c"; echo "task $t""#;
    let td = json!({
        "family": "stats-probe",
        "containerDefinitions": [{
            "name": "probe", "image": IMAGE, "memory": 32, "essential": true,
            "entryPoint": ["/bin/busybox"], "command": ["sh", "-c", script],
        }],
    });
    ecs.ok(&["register-task-definition", "--cli-input-json", &td.to_string()]);
    let run = ecs.ok(&["run-task", "--cluster", &cluster, "--task-definition", "stats-probe"]);
    let arn = s(&run["tasks"][0]["taskArn"]);
    let task = wait_for("the probe to finish", Duration::from_secs(60), || {
        let t =
            ecs.ok(&["describe-tasks", "--cluster", &cluster, "--tasks", &arn])["tasks"][0].clone();
        (t["lastStatus"] == "STOPPED").then_some(t)
    });
    let container = &task["containers"][0];
    assert_eq!(container["exitCode"], 0, "the probe's requests failed: {task:#}");
    let docker_id = s(&container["runtimeId"]);
    let logs = Command::new("docker").args(["logs", &docker_id]).output().expect("docker logs");
    let out = String::from_utf8_lossy(&logs.stdout).into_owned();
    let line = |prefix: &str| -> Value {
        let text = out
            .lines()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("no {prefix:?} line in the probe's output: {out}"));
        serde_json::from_str(text).unwrap_or_else(|e| panic!("{prefix}: not JSON ({e}): {text}"))
    };

    // Docker's own stats shape (the Engine API's `GET /containers/{id}/stats`), for the
    // container asking.
    let stats = line("container ");
    assert_eq!(stats["id"], docker_id.as_str(), "{stats:#}");
    assert!(stats["name"].as_str().is_some_and(|n| n.starts_with('/')), "{stats:#}");
    assert!(stats["read"].as_str().is_some_and(|r| r.contains('T')), "{stats:#}");
    assert!(stats["cpu_stats"]["cpu_usage"]["total_usage"].as_u64().is_some(), "{stats:#}");
    assert!(stats["cpu_stats"]["online_cpus"].as_u64().is_some_and(|n| n >= 1), "{stats:#}");
    assert!(stats["memory_stats"]["usage"].as_u64().is_some_and(|u| u > 0), "{stats:#}");
    assert_eq!(stats["memory_stats"]["limit"], 33_554_432, "the 32 MiB hard limit: {stats:#}");
    assert!(stats["networks"]["eth0"]["rx_bytes"].as_u64().is_some(), "{stats:#}");
    assert!(stats["pids_stats"]["current"].as_u64().is_some_and(|n| n >= 1), "{stats:#}");
    // The task's: the same shape for each of its containers, by Docker ID.
    let task_stats = line("task ");
    let by_id = task_stats.as_object().expect("an object by Docker ID");
    assert_eq!(by_id.keys().collect::<Vec<_>>(), [&docker_id], "{task_stats:#}");
    let mine = &by_id[&docker_id];
    assert_eq!(mine["id"], docker_id.as_str());
    assert!(mine["memory_stats"]["usage"].as_u64().is_some_and(|u| u > 0), "{mine:#}");
    assert!(mine["cpu_stats"]["cpu_usage"]["total_usage"].as_u64().is_some(), "{mine:#}");
}

#[test]
fn a_stats_interval_of_nothing_is_refused() {
    let dir = tempfile::tempdir().expect("dir");
    let out = Command::new(env!("CARGO_BIN_EXE_wharf"))
        .args(["server", "--listen", "127.0.0.1:0", "--stats-interval", "0s", "--data-dir"])
        .arg(dir.path())
        .output()
        .expect("run wharf");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--stats-interval must be at least 1s"), "{stderr}");
}
