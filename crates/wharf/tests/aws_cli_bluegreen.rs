//! ECS's own blue/green deployments end to end, with the real `aws` CLI, a real Docker
//! Engine and traffic through the load balancer: a service of busybox httpd tasks with a
//! pair of target groups, a production listener and a test listener. A BLUE_GREEN
//! deployment under load from clients on loopback drops no request, the test listener
//! serves green before production traffic moves, DescribeServiceDeployments reports the
//! lifecycle stages, and a green that fails its health checks is rolled back with all
//! traffic restored to blue. A CodeDeploy linear deployment to a CODE_DEPLOY service with
//! `aws ecs deploy` under load drops no request either. Needs Docker (scripts/docker-up) and the `aws` CLI: without
//! them the tests fail saying so, they never skip.

mod support;

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::{Aws, ClusterServer};

const IMAGE: &str = "wharf-test/busybox:1";

struct World {
    w: ClusterServer,
}

/// The load balancer of a blue/green service: the pair of target groups, the production
/// and test listeners (their ports) and their default rules.
struct Pair {
    blue_tg: String,
    green_tg: String,
    prod_port: u16,
    test_port: u16,
    prod_rule: String,
    test_rule: String,
}

impl World {
    fn start(name: &str) -> World {
        let cluster = format!("bg-{name}-{}", std::process::id());
        World {
            w: ClusterServer::launch(
                cluster,
                &["--allow-reset", "--listener-address", "127.0.0.1"],
            ),
        }
    }

    fn cluster(&self) -> &str {
        &self.w.cluster
    }

    fn ecs(&self) -> Aws<'_> {
        Aws::new(&self.w.server, "ecs")
    }

    fn elb(&self) -> Aws<'_> {
        Aws::new(&self.w.server, "elbv2")
    }

    /// A bridge-mode revision whose httpd answers `<answer> <hostname>`, with a container
    /// health check; `healthy: false` makes a revision whose web server never answers.
    fn register(&self, family: &str, answer: &str, healthy: bool) -> String {
        let script = if healthy {
            format!(
                "mkdir -p /www && echo \"{answer} $(hostname)\" > /www/index.html && \
                 exec httpd -f -p 80 -h /www"
            )
        } else {
            "sleep 3600".to_owned()
        };
        let td = json!({
            "family": family,
            "networkMode": "bridge",
            "containerDefinitions": [{
                "name": "web",
                "image": IMAGE,
                "memory": 32,
                "essential": true,
                "stopTimeout": 2,
                "portMappings": [{"containerPort": 80, "hostPort": 0, "protocol": "tcp"}],
                "command": ["sh", "-c", script],
                "healthCheck": {
                    "command": ["CMD-SHELL", "wget -q -O /dev/null http://127.0.0.1/"],
                    "interval": 5,
                    "timeout": 2,
                    "retries": 2,
                },
            }],
        });
        let out = self.ecs().ok(&["register-task-definition", "--cli-input-json", &td.to_string()]);
        s(&out["taskDefinition"]["taskDefinitionArn"])
    }

    /// Two target groups, a load balancer, and two listeners forwarding to the first group
    /// (weight 1) and the second (weight 0): production and test.
    fn pair(&self, name: &str) -> Pair {
        let elb = self.elb();
        let blue_tg = elb.quick_target_group(&format!("{name}-a"), "instance", Some(2));
        let green_tg = elb.quick_target_group(&format!("{name}-b"), "instance", Some(2));
        let lb = elb.ok(&[
            "create-load-balancer",
            "--name",
            &format!("{name}-lb"),
            "--subnets",
            "subnet-1",
            "subnet-2",
        ]);
        let lb_arn = s(&lb["LoadBalancers"][0]["LoadBalancerArn"]);
        let actions = json!([{
            "Type": "forward",
            "ForwardConfig": {"TargetGroups": [
                {"TargetGroupArn": blue_tg, "Weight": 1},
                {"TargetGroupArn": green_tg, "Weight": 0},
            ]},
        }])
        .to_string();
        let listener = |port: u16| {
            let l = elb.ok(&[
                "create-listener",
                "--load-balancer-arn",
                &lb_arn,
                "--protocol",
                "HTTP",
                "--port",
                &port.to_string(),
                "--default-actions",
                &actions,
            ]);
            let arn = s(&l["Listeners"][0]["ListenerArn"]);
            let rules = elb.ok(&["describe-rules", "--listener-arn", &arn]);
            let default = rules["Rules"]
                .as_array()
                .expect("Rules")
                .iter()
                .find(|r| r["IsDefault"] == true)
                .expect("a default rule")
                .clone();
            s(&default["RuleArn"])
        };
        let (prod_port, test_port) = (free_port(), free_port());
        let prod_rule = listener(prod_port);
        let test_rule = listener(test_port);
        Pair { blue_tg, green_tg, prod_port, test_port, prod_rule, test_rule }
    }

    fn create_service(&self, td: &str, pair: &Pair, config: Value) -> Value {
        let lbs = json!([{
            "targetGroupArn": pair.blue_tg,
            "containerName": "web",
            "containerPort": 80,
            "advancedConfiguration": {
                "alternateTargetGroupArn": pair.green_tg,
                "productionListenerRule": pair.prod_rule,
                "testListenerRule": pair.test_rule,
                "roleArn": "arn:aws:iam::000000000000:role/ecs-blue-green",
            },
        }]);
        self.ecs().ok(&[
            "create-service",
            "--cluster",
            self.cluster(),
            "--service-name",
            "web",
            "--task-definition",
            td,
            "--desired-count",
            "2",
            "--load-balancers",
            &lbs.to_string(),
            "--deployment-configuration",
            &config.to_string(),
        ])["service"]
            .clone()
    }

    fn describe(&self) -> Value {
        let out =
            self.ecs().ok(&["describe-services", "--cluster", self.cluster(), "--services", "web"]);
        out["services"][0].clone()
    }

    /// Waits until the only deployment is the COMPLETED PRIMARY of `revision` with two
    /// tasks running.
    fn wait_completed(&self, revision: &str, timeout: u64) -> Value {
        let last = RefCell::new(Value::Null);
        wait_for(
            &format!("the rollout of {revision} to complete"),
            Duration::from_secs(timeout),
            || {
                let svc = self.describe();
                let deps = svc["deployments"].as_array().cloned().unwrap_or_default();
                let done = deps.len() == 1
                    && deps[0]["rolloutState"] == "COMPLETED"
                    && deps[0]["taskDefinition"].as_str().is_some_and(|t| t.ends_with(revision))
                    && svc["runningCount"] == 2;
                *last.borrow_mut() = svc.clone();
                done.then_some(svc)
            },
            || format!("last seen: {:#}", last.borrow()),
        )
    }

    /// The service's deployments, newest first, described.
    fn service_deployments(&self) -> Vec<Value> {
        let listed = self.ecs().ok(&[
            "list-service-deployments",
            "--cluster",
            self.cluster(),
            "--service",
            "web",
        ]);
        let arns: Vec<String> = listed["serviceDeployments"]
            .as_array()
            .expect("serviceDeployments")
            .iter()
            .map(|d| s(&d["serviceDeploymentArn"]))
            .collect();
        let mut args = vec!["describe-service-deployments", "--service-deployment-arns"];
        args.extend(arns.iter().map(String::as_str));
        let out = self.ecs().ok(&args);
        out["serviceDeployments"].as_array().expect("serviceDeployments").clone()
    }
}

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}")).to_owned()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("port").port()
}

fn wait_for<T>(
    what: &str,
    timeout: Duration,
    mut f: impl FnMut() -> Option<T>,
    context: impl Fn() -> String,
) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}; {}",
            context()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// GET / (one connection per request): status and the first word of the body.
fn get(port: u16) -> Result<(u16, String), String> {
    let mut s = TcpStream::connect_timeout(
        &format!("127.0.0.1:{port}").parse().expect("addr"),
        Duration::from_secs(2),
    )
    .map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(5))).map_err(|e| e.to_string())?;
    s.write_all(b"GET / HTTP/1.1\r\nHost: web.example\r\nConnection: close\r\n\r\n")
        .map_err(|e| format!("write: {e}"))?;
    let mut text = String::new();
    s.read_to_string(&mut text).map_err(|e| format!("read: {e}"))?;
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("no status line in {text:?}"))?;
    let body = text.split_once("\r\n\r\n").map(|b| b.1.trim().to_owned()).unwrap_or_default();
    Ok((status, body.split_whitespace().next().unwrap_or("").to_owned()))
}

/// Clients hammering a port, recording failures and when each revision was first seen.
struct Load {
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicU64>,
    failures: Arc<Mutex<Vec<String>>>,
    seen: Arc<Mutex<Vec<Sight>>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Load {
    fn start(port: u16, clients: usize) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let ok = Arc::new(AtomicU64::new(0));
        let failures = Arc::new(Mutex::new(Vec::new()));
        let seen: Arc<Mutex<Vec<Sight>>> = Arc::default();
        let began = Instant::now();
        let threads = (0..clients)
            .map(|_| {
                let (stop, ok, failures, seen) =
                    (stop.clone(), ok.clone(), failures.clone(), seen.clone());
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        let started = Instant::now();
                        match get(port) {
                            Ok((200, rev)) => {
                                let answered = Instant::now();
                                ok.fetch_add(1, Ordering::Relaxed);
                                let mut seen = seen.lock().unwrap();
                                match seen.iter_mut().find(|s| s.rev == rev) {
                                    Some(s) => s.last_started = s.last_started.max(started),
                                    None => {
                                        seen.push(Sight { rev, answered, last_started: started })
                                    }
                                }
                            }
                            Ok((code, body)) => failures
                                .lock()
                                .unwrap()
                                .push(format!("{code} {body} after {:?}", began.elapsed())),
                            Err(e) => failures
                                .lock()
                                .unwrap()
                                .push(format!("{e} after {:?}", began.elapsed())),
                        }
                    }
                })
            })
            .collect();
        Load { stop, ok, failures, seen, threads }
    }

    /// Stops the clients: (requests answered, failures, each revision seen in
    /// the order first seen).
    fn finish(self) -> (u64, Vec<String>, Vec<Sight>) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            t.join().expect("client");
        }
        let failures = self.failures.lock().unwrap().clone();
        let seen = self.seen.lock().unwrap().clone();
        (self.ok.load(Ordering::Relaxed), failures, seen)
    }
}

/// One revision as a load's clients saw it.
#[derive(Debug, Clone)]
struct Sight {
    rev: String,
    /// When the first answer from it arrived.
    answered: Instant,
    /// When the last request it answered was sent.
    last_started: Instant,
}

/// When `rev` first answered.
fn first(seen: &[Sight], rev: &str) -> Option<Instant> {
    seen.iter().find(|s| s.rev == rev).map(|s| s.answered)
}

/// When the last request `rev` answered was sent.
fn last_started(seen: &[Sight], rev: &str) -> Option<Instant> {
    seen.iter().find(|s| s.rev == rev).map(|s| s.last_started)
}

fn messages(svc: &Value) -> Vec<String> {
    svc["events"].as_array().into_iter().flatten().map(|e| s(&e["message"])).collect()
}

#[test]
fn a_blue_green_deployment_tests_green_first_and_shifts_production_without_dropping_a_request() {
    let w = World::start("shift");
    let pair = w.pair("bgs");
    let blue = w.register("bg-web", "blue", true);
    let created =
        w.create_service(&blue, &pair, json!({"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 0}));
    assert_eq!(created["deploymentConfiguration"]["strategy"], "BLUE_GREEN", "{created:#}");
    w.wait_completed(":1", 90);
    wait_for(
        "production to answer from blue",
        Duration::from_secs(30),
        || get(pair.prod_port).ok().filter(|r| r.0 == 200),
        String::new,
    );

    let prod = Load::start(pair.prod_port, 3);
    let test = Load::start(pair.test_port, 1);
    std::thread::sleep(Duration::from_millis(500));
    let green = w.register("bg-web", "green", true);
    w.ecs().ok(&[
        "update-service",
        "--cluster",
        w.cluster(),
        "--service",
        "web",
        "--task-definition",
        &green,
    ]);
    let svc = w.wait_completed(":2", 150);
    std::thread::sleep(Duration::from_secs(1));
    let (prod_ok, prod_failures, prod_seen) = prod.finish();
    let (test_ok, test_failures, test_seen) = test.finish();
    eprintln!(
        "blue/green under load: production {prod_ok} answered, {} failed; test {test_ok} answered",
        prod_failures.len()
    );
    assert!(prod_ok > 100, "the clients made requests: {prod_ok}");
    assert!(
        prod_failures.is_empty(),
        "{} production requests failed: {:?}",
        prod_failures.len(),
        &prod_failures[..prod_failures.len().min(20)]
    );
    assert!(test_failures.is_empty(), "test listener failures: {test_failures:?}");
    // The test listener moved first: once production had answered from
    // green, no request sent to the test listener was answered by blue.
    let prod_green = first(&prod_seen, "green").expect("production reached green");
    assert!(first(&test_seen, "green").is_some(), "the test listener reached green");
    let test_blue = last_started(&test_seen, "blue").expect("the test listener served blue");
    assert!(
        test_blue < prod_green,
        "the test listener served blue after production served green: {test_seen:?} {prod_seen:?}"
    );
    assert_eq!(get(pair.prod_port).expect("an answer").1, "green");

    // Green is now in the alternate group; the rules were moved to it.
    let rules = w.elb().ok(&["describe-rules", "--rule-arns", &pair.prod_rule]);
    let groups = &rules["Rules"][0]["Actions"][0]["ForwardConfig"]["TargetGroups"];
    let weight = |tg: &str| {
        groups
            .as_array()
            .expect("groups")
            .iter()
            .find(|g| g["TargetGroupArn"] == tg)
            .map(|g| g["Weight"].clone())
    };
    assert_eq!(weight(&pair.green_tg), Some(json!(1)), "{rules:#}");
    assert_eq!(weight(&pair.blue_tg), Some(json!(0)), "{rules:#}");
    let health = w.elb().ok(&["describe-target-health", "--target-group-arn", &pair.green_tg]);
    assert_eq!(health["TargetHealthDescriptions"].as_array().map(Vec::len), Some(2), "{health:#}");

    let deployments = w.service_deployments();
    let newest = deployments
        .iter()
        .find(|d| {
            d["targetServiceRevision"]["arn"].as_str().is_some()
                && d["status"] == "SUCCESSFUL"
                && d["sourceServiceRevisions"].as_array().is_some_and(|s| !s.is_empty())
        })
        .unwrap_or_else(|| panic!("a successful blue/green deployment: {deployments:#?}"));
    assert_eq!(newest["lifecycleStage"], "CLEAN_UP", "{newest:#}");
    assert_eq!(newest["deploymentConfiguration"]["strategy"], "BLUE_GREEN");
    let msgs = messages(&svc);
    assert!(
        msgs.iter().any(|m| m.ends_with("test traffic is served by the new service revision.")),
        "{msgs:#?}"
    );
    assert!(msgs.iter().any(|m| m.ends_with("shifted 100% of production traffic to the new service revision.")), "{msgs:#?}");
}

#[test]
fn a_green_that_never_gets_healthy_is_rolled_back_and_production_never_leaves_blue() {
    let w = World::start("rollback");
    let pair = w.pair("bgr");
    let blue = w.register("bgr-web", "blue", true);
    w.create_service(
        &blue,
        &pair,
        json!({
            "strategy": "BLUE_GREEN",
            "deploymentCircuitBreaker": {"enable": true, "rollback": true},
        }),
    );
    w.wait_completed(":1", 90);
    wait_for(
        "production to answer from blue",
        Duration::from_secs(30),
        || get(pair.prod_port).ok().filter(|r| r.0 == 200),
        String::new,
    );
    let prod = Load::start(pair.prod_port, 2);
    let bad = w.register("bgr-web", "bad", false);
    w.ecs().ok(&[
        "update-service",
        "--cluster",
        w.cluster(),
        "--service",
        "web",
        "--task-definition",
        &bad,
    ]);
    let last = RefCell::new(Value::Null);
    let svc = wait_for(
        "the circuit breaker to roll back to blue",
        Duration::from_secs(240),
        || {
            let svc = w.describe();
            *last.borrow_mut() = svc.clone();
            let msgs = messages(&svc);
            let back = msgs.iter().any(|m| m.contains("rolling back to deployment"));
            let deps = svc["deployments"].as_array().cloned().unwrap_or_default();
            let done = deps.len() == 1
                && deps[0]["rolloutState"] == "COMPLETED"
                && deps[0]["taskDefinition"].as_str().is_some_and(|t| t.ends_with(":1"));
            (back && done).then_some(svc)
        },
        || format!("last seen: {:#}", last.borrow()),
    );
    let (ok, failures, seen) = prod.finish();
    eprintln!("rollback under load: {ok} answered, {} failed", failures.len());
    assert!(
        failures.is_empty(),
        "production requests failed: {:?}",
        &failures[..failures.len().min(20)]
    );
    assert_eq!(
        seen.iter().map(|s| s.rev.as_str()).collect::<BTreeSet<_>>(),
        BTreeSet::from(["blue"])
    );
    let msgs = messages(&svc);
    assert!(
        msgs.iter().any(|m| m.contains("deployment failed: tasks failed to start.")),
        "{msgs:#?}"
    );
    let deployments = w.service_deployments();
    assert!(deployments.iter().any(|d| d["status"] == "ROLLBACK_SUCCESSFUL"), "{deployments:#?}");
}

/// `n` requests in a row to `port`: how many each revision answered, and the failures.
fn sample(port: u16, n: usize) -> (std::collections::BTreeMap<String, usize>, usize) {
    let mut counts = std::collections::BTreeMap::new();
    let mut failed = 0;
    for _ in 0..n {
        match get(port) {
            Ok((200, rev)) => *counts.entry(rev).or_insert(0) += 1,
            _ => failed += 1,
        }
    }
    (counts, failed)
}

#[test]
fn a_canary_splits_production_traffic_and_a_requested_rollback_restores_blue_at_once() {
    let w = World::start("canary");
    let pair = w.pair("bgc");
    let blue = w.register("bgc-web", "blue", true);
    w.create_service(
        &blue,
        &pair,
        json!({"strategy": "CANARY", "canaryConfiguration": {"canaryPercent": 10.0}}),
    );
    w.wait_completed(":1", 90);
    wait_for(
        "production to answer from blue",
        Duration::from_secs(30),
        || get(pair.prod_port).ok().filter(|r| r.0 == 200),
        String::new,
    );
    let load = Load::start(pair.prod_port, 2);
    let green = w.register("bgc-web", "green", true);
    w.ecs().ok(&[
        "update-service",
        "--cluster",
        w.cluster(),
        "--service",
        "web",
        "--task-definition",
        &green,
    ]);
    // The canary share stays for canaryBakeTimeInMinutes (10 by default).
    let last = RefCell::new(Value::Null);
    let canary = wait_for(
        "the canary step",
        Duration::from_secs(120),
        || {
            let ds = w.service_deployments();
            *last.borrow_mut() = json!(ds);
            ds.into_iter().find(|d| {
                d["status"] == "IN_PROGRESS" && d["lifecycleStage"] == "PRODUCTION_TRAFFIC_SHIFT"
            })
        },
        || format!("last seen: {:#}", last.borrow()),
    );
    let (counts, failed) = sample(pair.prod_port, 1000);
    let green_share = counts.get("green").copied().unwrap_or(0) as f64 / 10.0;
    eprintln!("canary step: {counts:?}, {failed} failed: {green_share}% on green");
    assert_eq!(failed, 0);
    assert!((5.0..=15.0).contains(&green_share), "10% configured, {green_share}% measured");

    let arn = s(&canary["serviceDeploymentArn"]);
    let stopped = w.ecs().ok(&[
        "stop-service-deployment",
        "--service-deployment-arn",
        &arn,
        "--stop-type",
        "ROLLBACK",
    ]);
    assert_eq!(stopped["serviceDeploymentArn"], arn.as_str());
    let asked = Instant::now();
    // All traffic back on blue: 200 answers in a row from it.
    let mut streak = 0;
    while streak < 200 {
        assert!(
            asked.elapsed() < Duration::from_secs(5),
            "not all on blue within one health check interval"
        );
        match get(pair.prod_port) {
            Ok((200, rev)) if rev == "blue" => streak += 1,
            Ok((200, _)) => streak = 0,
            other => panic!("a failed request during the rollback: {other:?}"),
        }
    }
    let restored = asked.elapsed();
    eprintln!("rollback: all traffic on blue {restored:?} after StopServiceDeployment");
    w.wait_completed(":1", 90);
    let (ok, failures, _) = load.finish();
    assert!(ok > 100);
    assert!(failures.is_empty(), "{failures:?}");
    let ds = w.service_deployments();
    let rolled =
        ds.iter().find(|d| d["serviceDeploymentArn"] == arn.as_str()).expect("the stopped one");
    assert_eq!(rolled["status"], "ROLLBACK_SUCCESSFUL", "{rolled:#}");
    let again = w.ecs().fails(&["stop-service-deployment", "--service-deployment-arn", &arn]);
    assert!(again.contains("ConflictException"), "{again}");
}

/// CodeDeploy for ECS end to end, as a pipeline runs it: a CODE_DEPLOY service, an
/// application and deployment group with a custom linear configuration, and `aws ecs
/// deploy` (it registers the task definition, creates the deployment and waits) under load
/// through the production listener: no failed request, the replacement task set PRIMARY,
/// the original drained.
#[test]
fn aws_ecs_deploy_runs_a_linear_codedeploy_deployment_without_dropping_a_request() {
    let cluster = format!("cd-{}", std::process::id());
    let w = support::ClusterServer::launch(
        cluster.clone(),
        &["--allow-reset", "--listener-address", "127.0.0.1"],
    );
    let ecs = Aws::new(&w.server, "ecs");
    let elb = Aws::new(&w.server, "elbv2");
    let deploy = Aws::new(&w.server, "deploy");
    let td = |answer: &str| {
        json!({
            "family": "cd-web",
            "networkMode": "bridge",
            "containerDefinitions": [{
                "name": "web",
                "image": support::TEST_IMAGE,
                "memory": 32,
                "essential": true,
                "stopTimeout": 2,
                "portMappings": [{"containerPort": 80, "hostPort": 0, "protocol": "tcp"}],
                "command": ["sh", "-c", format!(
                    "mkdir -p /www && echo \"{answer} $(hostname)\" > /www/index.html && \
                     exec httpd -f -p 80 -h /www")],
                "healthCheck": {
                    "command": ["CMD-SHELL", "wget -q -O /dev/null http://127.0.0.1/"],
                    "interval": 5, "timeout": 2, "retries": 2,
                },
            }],
        })
    };
    let blue_td =
        s(&ecs.ok(&["register-task-definition", "--cli-input-json", &td("blue").to_string()])
            ["taskDefinition"]["taskDefinitionArn"]);
    let a = elb.quick_target_group("cde-a", "instance", Some(2));
    let b = elb.quick_target_group("cde-b", "instance", Some(2));
    let port = free_port();
    let actions = json!([{"Type": "forward", "ForwardConfig": {"TargetGroups": [
        {"TargetGroupArn": a, "Weight": 1}, {"TargetGroupArn": b, "Weight": 0}]}}])
    .to_string();
    let lb = s(&elb.ok(&[
        "create-load-balancer",
        "--name",
        "cde-lb",
        "--subnets",
        "subnet-1",
        "subnet-2",
    ])["LoadBalancers"][0]["LoadBalancerArn"]);
    let prod = s(&elb.ok(&[
        "create-listener",
        "--load-balancer-arn",
        &lb,
        "--protocol",
        "HTTP",
        "--port",
        &port.to_string(),
        "--default-actions",
        &actions,
    ])["Listeners"][0]["ListenerArn"]);
    let created = ecs.ok(&[
        "create-service",
        "--cluster",
        &cluster,
        "--service-name",
        "web",
        "--task-definition",
        &blue_td,
        "--desired-count",
        "2",
        "--deployment-controller",
        "type=CODE_DEPLOY",
        "--load-balancers",
        &format!("targetGroupArn={a},containerName=web,containerPort=80"),
    ])["service"]
        .clone();
    assert_eq!(created["taskSets"].as_array().map(Vec::len), Some(1), "{created:#}");
    assert_eq!(created["taskSets"][0]["status"], "PRIMARY");
    let start = Instant::now();
    while get(port).map(|r| r.1) != Ok("blue".to_owned()) {
        assert!(start.elapsed() < Duration::from_secs(90), "blue never answered");
        std::thread::sleep(Duration::from_millis(300));
    }
    let refused = ecs.fails(&[
        "update-service",
        "--cluster",
        &cluster,
        "--service",
        "web",
        "--task-definition",
        &blue_td,
    ]);
    assert!(refused.contains("CODE_DEPLOY"), "{refused}");

    let app = format!("AppECS-{cluster}-web");
    let group = format!("DgpECS-{cluster}-web");
    deploy.ok(&["create-application", "--application-name", &app, "--compute-platform", "ECS"]);
    deploy.ok(&[
        "create-deployment-config",
        "--deployment-config-name",
        "Linear50Every1",
        "--compute-platform",
        "ECS",
        "--traffic-routing-config",
        "type=TimeBasedLinear,timeBasedLinear={linearPercentage=50,linearInterval=1}",
    ]);
    let dg = json!({
        "applicationName": app,
        "deploymentGroupName": group,
        "deploymentConfigName": "Linear50Every1",
        "serviceRoleArn": "arn:aws:iam::000000000000:role/codedeploy",
        "deploymentStyle": {"deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"},
        "blueGreenDeploymentConfiguration": {
            "terminateBlueInstancesOnDeploymentSuccess": {"action": "TERMINATE", "terminationWaitTimeInMinutes": 0},
            "deploymentReadyOption": {"actionOnTimeout": "CONTINUE_DEPLOYMENT", "waitTimeInMinutes": 0},
        },
        "loadBalancerInfo": {"targetGroupPairInfoList": [{
            "targetGroups": [{"name": "cde-a"}, {"name": "cde-b"}],
            "prodTrafficRoute": {"listenerArns": [prod]},
        }]},
        "ecsServices": [{"serviceName": "web", "clusterName": cluster}],
    });
    deploy.ok(&["create-deployment-group", "--cli-input-json", &dg.to_string()]);

    let dir = tempfile::tempdir().expect("dir");
    let td_file = dir.path().join("taskdef.json");
    std::fs::write(&td_file, td("green").to_string()).expect("taskdef");
    let appspec = dir.path().join("appspec.json");
    std::fs::write(
        &appspec,
        json!({"version": 0.0, "Resources": [{"TargetService": {
        "Type": "AWS::ECS::Service",
        "Properties": {"TaskDefinition": "<TASK_DEFINITION>",
                       "LoadBalancerInfo": {"ContainerName": "web", "ContainerPort": 80}}}}]})
        .to_string(),
    )
    .expect("appspec");

    let load = Load::start(port, 2);
    // `aws ecs deploy` makes its CodeDeploy client from the configuration, not from
    // --endpoint-url: the CLI's per-service endpoint variable points it at Wharf.
    let out = ecs
        .command(&[
            "deploy",
            "--cluster",
            &cluster,
            "--service",
            "web",
            "--task-definition",
            td_file.to_str().unwrap(),
            "--codedeploy-appspec",
            appspec.to_str().unwrap(),
        ])
        .env("AWS_ENDPOINT_URL_CODEDEPLOY", w.server.endpoint())
        .output()
        .expect("aws ecs deploy");
    let (ok, failures, seen) = load.finish();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "aws ecs deploy failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("Successfully deployed"), "{stdout}");
    eprintln!("CodeDeploy linear under load: {ok} answered, {} failed", failures.len());
    assert!(ok > 100);
    assert!(failures.is_empty(), "{failures:?}");
    assert!(first(&seen, "green").is_some());
    assert_eq!(get(port).expect("answer").1, "green");
    let sets = ecs.ok(&["describe-task-sets", "--cluster", &cluster, "--service", "web"]);
    let primary: Vec<&Value> =
        sets["taskSets"].as_array().unwrap().iter().filter(|t| t["status"] == "PRIMARY").collect();
    assert_eq!(primary.len(), 1, "{sets:#}");
    assert!(primary[0]["taskDefinition"].as_str().unwrap().ends_with(":2"), "{sets:#}");
    let listed = deploy.ok(&[
        "list-deployments",
        "--application-name",
        &app,
        "--deployment-group-name",
        &group,
    ]);
    let id = s(&listed["deployments"][0]);
    let info = deploy.ok(&["get-deployment", "--deployment-id", &id])["deploymentInfo"].clone();
    assert_eq!(info["status"], "Succeeded", "{info:#}");
}
