//! ECS services end to end, with the real `aws` CLI and a real Docker Engine: a service
//! of busybox httpd tasks behind a target group, an ALB and a listener (the seed flow: a
//! new revision rolled out, then two tasks answering in turn), a killed task replaced,
//! a bad revision stopped by the circuit breaker and rolled back, a DAEMON service, a
//! rolling deployment under load from a client on loopback with no failed request, and
//! a forced DeleteService. Needs Docker (scripts/docker-up) and the `aws` CLI: without
//! them the tests fail saying so, they never skip.

mod support;

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::{Aws, ClusterServer};

const IMAGE: &str = "wharf-test/busybox:1";

/// A server with its embedded agent in a cluster of its own.
type World = ClusterServer;

impl World {
    fn start(name: &str) -> World {
        let cluster = format!("svc-{name}-{}", std::process::id());
        World::launch(cluster, &["--allow-reset", "--listener-address", "127.0.0.1"])
    }

    fn ecs(&self) -> Aws<'_> {
        Aws::new(&self.server, "ecs")
    }

    fn elb(&self) -> Aws<'_> {
        Aws::new(&self.server, "elbv2")
    }

    /// Registers a bridge-mode revision of `family` whose httpd answers `<answer>
    /// <hostname>` on a dynamic host port, with a container health check on it;
    /// `command` replaces the httpd when given.
    fn register(&self, family: &str, answer: &str, command: Option<Vec<&str>>) -> String {
        let script = format!(
            "mkdir -p /www && echo \"{answer} $(hostname)\" > /www/index.html && \
             exec httpd -f -p 80 -h /www"
        );
        let command = command.map_or_else(|| json!(["sh", "-c", script]), |c| json!(c));
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
                "command": command,
                // A container health check, so a task counts as healthy once it passes
                // (5 s) rather than 40 s after RUNNING, as ECS does without one.
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

    /// A target group of instance targets: 5 s checks, healthy after 2, a 2 s drain.
    fn target_group(&self, name: &str) -> String {
        self.elb().quick_target_group(name, "instance", Some(2))
    }

    /// A target group (see [`World::target_group`]), an ALB and an HTTP listener on a
    /// free loopback port forwarding to it.
    fn load_balancer(&self, name: &str) -> (String, u16) {
        let elb = self.elb();
        let tg_arn = self.target_group(name);
        let lb = elb.ok(&[
            "create-load-balancer",
            "--name",
            &format!("{name}-lb"),
            "--subnets",
            "subnet-1",
            "subnet-2",
        ]);
        let lb_arn = s(&lb["LoadBalancers"][0]["LoadBalancerArn"]);
        let port = free_port();
        elb.ok(&[
            "create-listener",
            "--load-balancer-arn",
            &lb_arn,
            "--protocol",
            "HTTP",
            "--port",
            &port.to_string(),
            "--default-actions",
            &format!("Type=forward,TargetGroupArn={tg_arn}"),
        ]);
        (tg_arn, port)
    }

    fn create_service(&self, name: &str, task_definition: &str, extra: &[&str]) -> Value {
        let mut args = vec![
            "create-service",
            "--cluster",
            &self.cluster,
            "--service-name",
            name,
            "--task-definition",
            task_definition,
        ];
        args.extend_from_slice(extra);
        self.ecs().ok(&args)["service"].clone()
    }

    fn describe(&self, name: &str) -> Value {
        let out =
            self.ecs().ok(&["describe-services", "--cluster", &self.cluster, "--services", name]);
        out["services"][0].clone()
    }

    fn update(&self, name: &str, extra: &[&str]) -> Value {
        let mut args = vec!["update-service", "--cluster", &self.cluster, "--service", name];
        args.extend_from_slice(extra);
        self.ecs().ok(&args)["service"].clone()
    }

    /// The ARNs of the service's tasks (those meant to run).
    fn tasks(&self, service: &str) -> Vec<String> {
        let out =
            self.ecs().ok(&["list-tasks", "--cluster", &self.cluster, "--service-name", service]);
        out["taskArns"].as_array().expect("taskArns").iter().map(s).collect()
    }

    fn describe_tasks(&self, arns: &[String]) -> Vec<Value> {
        let mut args = vec!["describe-tasks", "--cluster", &self.cluster, "--tasks"];
        args.extend(arns.iter().map(String::as_str));
        let out = self.ecs().ok(&args);
        out["tasks"].as_array().expect("tasks").clone()
    }

    /// Waits until the service's only deployment is the PRIMARY of `revision`, COMPLETED,
    /// with `desired` tasks running; returns the service.
    fn wait_completed(&self, name: &str, revision: &str, desired: i64, timeout: u64) -> Value {
        let last = RefCell::new(Value::Null);
        wait_for(
            &format!("{name} to complete its rollout of {revision} with {desired} tasks"),
            Duration::from_secs(timeout),
            || {
                let svc = self.describe(name);
                let deps = svc["deployments"].as_array().cloned().unwrap_or_default();
                let done = deps.len() == 1
                    && deps[0]["status"] == "PRIMARY"
                    && deps[0]["rolloutState"] == "COMPLETED"
                    && deps[0]["taskDefinition"].as_str().is_some_and(|t| t.ends_with(revision))
                    && svc["runningCount"] == desired
                    && svc["desiredCount"] == desired;
                *last.borrow_mut() = svc.clone();
                done.then_some(svc)
            },
            || format!("last seen: {:#}", last.borrow()),
        )
    }
}

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}")).to_owned()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("port").port()
}

/// Polls `f` every 200 ms until it gives a value; fails after `timeout` with `what` and
/// what `context` says of the last state.
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

/// GET / on the listener (HTTP/1.1, one connection per request): status and body.
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
    Ok((status, body))
}

fn messages(svc: &Value) -> Vec<String> {
    svc["events"].as_array().into_iter().flatten().map(|e| s(&e["message"])).collect()
}

fn container_of(task_arn: &str) -> String {
    let out = Command::new("docker")
        .args(["ps", "-q", "--filter", &format!("label=com.amazonaws.ecs.task-arn={task_arn}")])
        .output()
        .expect("docker ps");
    let id = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(!id.is_empty(), "no running container for {task_arn}");
    id
}

#[test]
fn the_seed_flow_a_service_behind_an_alb_rolls_out_a_revision_and_scales_to_two() {
    let w = World::start("seed");
    let rev1 = w.register("seed-web", "rev1", None);
    let (tg_arn, port) = w.load_balancer("seed-web");
    let created = w.create_service(
        "web",
        &rev1,
        &[
            "--desired-count",
            "1",
            "--load-balancers",
            &format!("targetGroupArn={tg_arn},containerName=web,containerPort=80"),
        ],
    );
    assert_eq!(created["status"], "ACTIVE");
    assert_eq!(created["desiredCount"], 1);
    assert_eq!(created["deployments"][0]["status"], "PRIMARY");
    assert_eq!(created["deployments"][0]["rolloutState"], "IN_PROGRESS");
    assert_eq!(created["loadBalancers"][0]["targetGroupArn"], tg_arn.as_str());

    let last = RefCell::new(String::new());
    wait_for(
        "the listener to answer from the rev1 task",
        Duration::from_secs(60),
        || {
            let r = get(port);
            *last.borrow_mut() = format!("{r:?}");
            r.ok().filter(|(code, body)| *code == 200 && body.starts_with("rev1 "))
        },
        || format!("last answer: {}", last.borrow()),
    );
    let svc = w.wait_completed("web", ":1", 1, 60);
    let events = messages(&svc);
    let has = |needle: &str| events.iter().any(|m| m.contains(needle));
    assert!(has("(service web) has started 1 tasks: (task "), "events: {events:#?}");
    assert!(
        has(&format!("(service web) registered 1 targets in (target-group {tg_arn})")),
        "events: {events:#?}"
    );
    assert!(has("(service web) has reached a steady state."), "events: {events:#?}");
    assert!(has("deployment completed."), "events: {events:#?}");
    assert_eq!(svc["deployments"][0]["runningCount"], 1);
    assert_eq!(svc["pendingCount"], 0);

    // Revision 2, rolled out: answers come from it once the rollout is complete.
    let rev2 = w.register("seed-web", "rev2", None);
    let updated = w.update("web", &["--task-definition", &rev2]);
    assert_eq!(updated["taskDefinition"], rev2.as_str());
    let svc = w.wait_completed("web", ":2", 1, 90);
    assert!(svc["deployments"][0]["rolloutStateReason"]
        .as_str()
        .is_some_and(|r| r.ends_with("completed.")));
    for _ in 0..4 {
        let (code, body) = get(port).expect("an answer");
        assert_eq!(code, 200);
        assert!(body.starts_with("rev2 "), "after the rollout, answers come from rev2: {body}");
    }
    let events = messages(&svc);
    assert!(
        events
            .iter()
            .any(|m| m.starts_with("(service web) deregistered 1 targets in (target-group")),
        "the rev1 task was deregistered: {events:#?}"
    );
    assert!(
        events.iter().any(|m| m.contains("has begun draining connections on 1 tasks.")),
        "{events:#?}"
    );

    // Two tasks: consecutive answers alternate between them.
    w.update("web", &["--desired-count", "2"]);
    w.wait_completed("web", ":2", 2, 90);
    let seen = RefCell::new(Vec::new());
    wait_for(
        "both targets healthy",
        Duration::from_secs(30),
        || {
            let h = w.elb().ok(&["describe-target-health", "--target-group-arn", &tg_arn]);
            let states: Vec<String> = h["TargetHealthDescriptions"]
                .as_array()?
                .iter()
                .map(|d| s(&d["TargetHealth"]["State"]))
                .collect();
            *seen.borrow_mut() = states.clone();
            (states == ["healthy", "healthy"]).then_some(())
        },
        || format!("target states: {:?}", seen.borrow()),
    );
    let answers: Vec<String> = (0..6).map(|_| get(port).expect("an answer").1).collect();
    assert!(answers.iter().all(|a| a.starts_with("rev2 ")), "{answers:?}");
    let hosts: BTreeSet<&String> = answers.iter().collect();
    assert_eq!(hosts.len(), 2, "two tasks answer: {answers:?}");
    for pair in answers.windows(2) {
        assert_ne!(pair[0], pair[1], "consecutive answers alternate: {answers:?}");
    }
}

#[test]
fn a_killed_task_of_a_service_is_replaced() {
    let w = World::start("kill");
    let rev1 = w.register("kill-web", "rev1", None);
    w.create_service("web", &rev1, &["--desired-count", "1"]);
    w.wait_completed("web", ":1", 1, 60);
    let old = w.tasks("web");
    assert_eq!(old.len(), 1, "{old:?}");
    let container = container_of(&old[0]);
    let killed = Command::new("docker").args(["kill", &container]).output().expect("docker kill");
    assert!(killed.status.success(), "docker kill: {}", String::from_utf8_lossy(&killed.stderr));

    let last = RefCell::new(Vec::new());
    let new = wait_for(
        "a replacement task RUNNING",
        Duration::from_secs(30),
        || {
            let arns: Vec<String> = w.tasks("web").into_iter().filter(|a| *a != old[0]).collect();
            if arns.is_empty() {
                return None;
            }
            let tasks = w.describe_tasks(&arns);
            *last.borrow_mut() = tasks.iter().map(|t| t["lastStatus"].clone()).collect();
            tasks.iter().find(|t| t["lastStatus"] == "RUNNING").map(|t| s(&t["taskArn"]))
        },
        || format!("new tasks' statuses: {:?}", last.borrow()),
    );
    let old_task = &w.describe_tasks(&old)[0];
    assert_eq!(old_task["lastStatus"], "STOPPED", "{old_task:#}");
    assert_eq!(old_task["containers"][0]["exitCode"], 137, "{old_task:#}");
    let new_task = &w.describe_tasks(std::slice::from_ref(&new))[0];
    assert!(new_task["startedBy"].as_str().is_some_and(|b| b.starts_with("ecs-svc/")));
    assert_eq!(new_task["group"], "service:web");
    let svc = w.wait_completed("web", ":1", 1, 30);
    assert_eq!(svc["runningCount"], svc["desiredCount"]);
}

#[test]
fn a_bad_revision_trips_the_circuit_breaker_and_rolls_back() {
    let w = World::start("breaker");
    let good = w.register("breaker-web", "good", None);
    w.create_service(
        "web",
        &good,
        &[
            "--desired-count",
            "1",
            "--deployment-configuration",
            "deploymentCircuitBreaker={enable=true,rollback=true},minimumHealthyPercent=100,maximumPercent=200",
        ],
    );
    let before = w.wait_completed("web", ":1", 1, 60);
    let good_id = s(&before["deployments"][0]["id"]);
    let bad = w.register("breaker-web", "bad", Some(vec!["sh", "-c", "exit 1"]));
    let updated = w.update("web", &["--task-definition", &bad]);
    let bad_id = updated["deployments"]
        .as_array()
        .expect("deployments")
        .iter()
        .find(|d| d["status"] == "PRIMARY")
        .map(|d| s(&d["id"]))
        .expect("a PRIMARY deployment");
    assert_ne!(bad_id, good_id);

    let mut failed_seen = None;
    let last = RefCell::new(Value::Null);
    wait_for(
        "the circuit breaker to fail the bad deployment and roll back",
        Duration::from_secs(90),
        || {
            let svc = w.describe("web");
            for d in svc["deployments"].as_array().into_iter().flatten() {
                if d["id"] == bad_id.as_str() && d["rolloutState"] == "FAILED" {
                    failed_seen = Some(d.clone());
                }
            }
            let events = messages(&svc);
            *last.borrow_mut() = svc.clone();
            (events.iter().any(|m| {
                m == &format!(
                    "(service web) (deployment {bad_id}) deployment failed: tasks failed to start."
                )
            }) && events
                .iter()
                .any(|m| m == &format!("(service web) rolling back to deployment {good_id}.")))
            .then_some(())
        },
        || format!("last seen: {:#}", last.borrow()),
    );
    let svc = w.wait_completed("web", ":1", 1, 60);
    let events = messages(&svc);
    let failed_at =
        events.iter().position(|m| m.contains("deployment failed: tasks failed to start."));
    let rollback_at = events.iter().position(|m| m.contains("rolling back to deployment"));
    assert!(rollback_at < failed_at, "newest first: the rollback follows the failure: {events:#?}");
    if let Some(d) = failed_seen {
        assert_eq!(
            d["rolloutStateReason"],
            "ECS deployment circuit breaker: tasks failed to start."
        );
    }
    // The service deployments say the same: the bad one rolled back.
    let list =
        w.ecs().ok(&["list-service-deployments", "--cluster", &w.cluster, "--service", "web"]);
    let arns: Vec<String> = list["serviceDeployments"]
        .as_array()
        .expect("serviceDeployments")
        .iter()
        .map(|d| s(&d["serviceDeploymentArn"]))
        .collect();
    let mut args = vec!["describe-service-deployments", "--service-deployment-arns"];
    args.extend(arns.iter().map(String::as_str));
    let described = w.ecs().ok(&args);
    let rolled_back = described["serviceDeployments"]
        .as_array()
        .expect("serviceDeployments")
        .iter()
        .find(|d| d["status"] == "ROLLBACK_SUCCESSFUL");
    assert!(rolled_back.is_some(), "a ROLLBACK_SUCCESSFUL service deployment: {described:#}");
    // The rolled back service runs the good revision again.
    let tasks = w.describe_tasks(&w.tasks("web"));
    assert!(
        tasks
            .iter()
            .all(|t| t["taskDefinitionArn"] == good.as_str() && t["lastStatus"] == "RUNNING"),
        "{tasks:#?}"
    );
}

#[test]
fn a_daemon_service_runs_one_task_on_the_instance() {
    let w = World::start("daemon");
    let rev1 = w.register("daemon-web", "daemon", None);
    let created = w.create_service("agent", &rev1, &["--scheduling-strategy", "DAEMON"]);
    assert_eq!(created["schedulingStrategy"], "DAEMON");
    let svc = w.wait_completed("agent", ":1", 1, 60);
    assert_eq!(svc["desiredCount"], 1, "one instance, one task: {svc:#}");
    let tasks = w.describe_tasks(&w.tasks("agent"));
    assert_eq!(tasks.len(), 1);
    let instances = w.ecs().ok(&["list-container-instances", "--cluster", &w.cluster]);
    assert_eq!(tasks[0]["containerInstanceArn"], instances["containerInstanceArns"][0]);
}

#[test]
fn a_rolling_deployment_under_load_drops_no_request() {
    let w = World::start("load");
    let rev1 = w.register("load-web", "rev1", None);
    let (tg_arn, port) = w.load_balancer("load-web");
    w.create_service(
        "web",
        &rev1,
        &[
            "--desired-count",
            "2",
            "--load-balancers",
            &format!("targetGroupArn={tg_arn},containerName=web,containerPort=80"),
        ],
    );
    w.wait_completed("web", ":1", 2, 60);
    wait_for(
        "the listener to answer",
        Duration::from_secs(30),
        || get(port).ok().filter(|r| r.0 == 200),
        String::new,
    );

    // Four clients on loopback, one connection per request, as fast as they can.
    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let revisions = Arc::new(Mutex::new(BTreeSet::<String>::new()));
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let (stop, ok, failures, revisions) =
                (stop.clone(), ok.clone(), failures.clone(), revisions.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match get(port) {
                        Ok((200, body)) => {
                            ok.fetch_add(1, Ordering::Relaxed);
                            let rev = body.split_whitespace().next().unwrap_or("").to_owned();
                            revisions.lock().unwrap().insert(rev);
                        }
                        Ok((code, body)) => failures.lock().unwrap().push(format!("{code} {body}")),
                        Err(e) => failures.lock().unwrap().push(e),
                    }
                }
            })
        })
        .collect();

    std::thread::sleep(Duration::from_millis(500));
    let rev2 = w.register("load-web", "rev2", None);
    w.update("web", &["--task-definition", &rev2]);
    w.wait_completed("web", ":2", 2, 120);
    // The old targets have drained; a moment more of load on the new ones only.
    std::thread::sleep(Duration::from_secs(1));
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().expect("client");
    }
    let failures = failures.lock().unwrap().clone();
    let revisions = revisions.lock().unwrap().clone();
    let ok = ok.load(Ordering::Relaxed);
    eprintln!("rollout under load: {ok} requests answered, {} failed", failures.len());
    assert!(ok > 100, "the clients made requests: {ok}");
    assert!(
        failures.is_empty(),
        "{} of {} requests failed during the rollout: {:?}",
        failures.len(),
        failures.len() as u64 + ok,
        &failures[..failures.len().min(20)]
    );
    assert_eq!(revisions, BTreeSet::from(["rev1".to_owned(), "rev2".to_owned()]));
    let (_, body) = get(port).expect("an answer");
    assert!(body.starts_with("rev2 "), "{body}");
}

#[test]
fn a_forced_delete_stops_the_tasks_and_the_service_goes_inactive() {
    let w = World::start("delete");
    let rev1 = w.register("delete-web", "rev1", None);
    w.create_service("web", &rev1, &["--desired-count", "2"]);
    w.wait_completed("web", ":1", 2, 60);
    let tasks = w.tasks("web");
    assert_eq!(tasks.len(), 2);

    let refused = w.ecs().fails(&["delete-service", "--cluster", &w.cluster, "--service", "web"]);
    assert!(
        refused.contains("The service cannot be stopped while it is scaled above 0."),
        "{refused}"
    );
    let deleted =
        w.ecs().ok(&["delete-service", "--cluster", &w.cluster, "--service", "web", "--force"]);
    assert_eq!(deleted["service"]["status"], "DRAINING", "{deleted:#}");
    assert_eq!(deleted["service"]["desiredCount"], 0);
    let listed = w.ecs().ok(&["list-services", "--cluster", &w.cluster]);
    assert_eq!(listed["serviceArns"], json!([]), "a DRAINING service is not listed");

    let last = RefCell::new(Value::Null);
    wait_for(
        "the service to be INACTIVE",
        Duration::from_secs(60),
        || {
            let svc = w.describe("web");
            *last.borrow_mut() = svc.clone();
            (svc["status"] == "INACTIVE").then_some(())
        },
        || format!("last seen: {:#}", last.borrow()),
    );
    let stopped = w.describe_tasks(&tasks);
    for t in &stopped {
        assert_eq!(t["desiredStatus"], "STOPPED", "{t:#}");
    }
    wait_for(
        "the tasks to be STOPPED",
        Duration::from_secs(30),
        || w.describe_tasks(&tasks).iter().all(|t| t["lastStatus"] == "STOPPED").then_some(()),
        String::new,
    );
}

/// Blue/green with the EXTERNAL deployment controller: each task set's tasks run at its
/// scale of the desired count and register in its own target group; moving the
/// listener's weights moves the traffic; a deleted task set's tasks stop.
#[test]
fn task_sets_of_an_external_service_run_at_their_scale_behind_their_target_groups() {
    let w = World::start("tasksets");
    let blue = w.register("ts-web", "blue", None);
    let green = w.register("ts-web", "green", None);
    let (blue_tg, port) = w.load_balancer("ts-blue");
    // A second target group on the same listener, weight 0 for now.
    let green_tg = w.target_group("ts-green");
    let listener = {
        let lbs = w.elb().ok(&["describe-load-balancers", "--names", "ts-blue-lb"]);
        let lb = s(&lbs["LoadBalancers"][0]["LoadBalancerArn"]);
        let ls = w.elb().ok(&["describe-listeners", "--load-balancer-arn", &lb]);
        s(&ls["Listeners"][0]["ListenerArn"])
    };
    let weights = |b: u32, g: u32| {
        let actions = json!([{
            "Type": "forward",
            "ForwardConfig": {"TargetGroups": [
                {"TargetGroupArn": blue_tg, "Weight": b},
                {"TargetGroupArn": green_tg, "Weight": g},
            ]},
        }]);
        w.elb().ok(&[
            "modify-listener",
            "--listener-arn",
            &listener,
            "--default-actions",
            &actions.to_string(),
        ]);
    };
    weights(100, 0);

    // With the EXTERNAL controller the task definition belongs to the task sets.
    let created = w.ecs().ok(&[
        "create-service",
        "--cluster",
        &w.cluster,
        "--service-name",
        "web",
        "--desired-count",
        "2",
        "--deployment-controller",
        "type=EXTERNAL",
    ])["service"]
        .clone();
    assert_eq!(created["deploymentController"]["type"], "EXTERNAL");
    let task_set = |td: &str, tg: &str, scale: u32| {
        let out = w.ecs().ok(&[
            "create-task-set",
            "--cluster",
            &w.cluster,
            "--service",
            "web",
            "--task-definition",
            td,
            "--load-balancers",
            &format!("targetGroupArn={tg},containerName=web,containerPort=80"),
            "--scale",
            &format!("value={scale},unit=PERCENT"),
        ]);
        s(&out["taskSet"]["id"])
    };
    let blue_set = task_set(&blue, &blue_tg, 100);
    w.ecs().ok(&[
        "update-service-primary-task-set",
        "--cluster",
        &w.cluster,
        "--service",
        "web",
        "--primary-task-set",
        &blue_set,
    ]);
    let green_set = task_set(&green, &green_tg, 50);

    let describe_sets = || {
        let out = w.ecs().ok(&[
            "describe-task-sets",
            "--cluster",
            &w.cluster,
            "--service",
            "web",
            "--task-sets",
            &blue_set,
            &green_set,
        ]);
        out["taskSets"].as_array().expect("taskSets").clone()
    };
    let last = RefCell::new(Vec::new());
    wait_for(
        "blue at 2 tasks and green at 1, steady",
        Duration::from_secs(60),
        || {
            let sets = describe_sets();
            *last.borrow_mut() = sets.clone();
            let by_id = |id: &str| sets.iter().find(|t| t["id"] == id).cloned();
            let (b, g) = (by_id(&blue_set)?, by_id(&green_set)?);
            let steady = |t: &Value, n: i64| {
                t["computedDesiredCount"] == n
                    && t["runningCount"] == n
                    && t["stabilityStatus"] == "STEADY_STATE"
            };
            (steady(&b, 2) && steady(&g, 1) && b["status"] == "PRIMARY").then_some(())
        },
        || format!("task sets: {:#?}", last.borrow()),
    );
    assert_eq!(w.tasks("web").len(), 3);

    // Blue answers while it has all the weight; green once the weights move.
    let answer = |want: &str| {
        let last = RefCell::new(String::new());
        wait_for(
            &format!("an answer from {want}"),
            Duration::from_secs(45),
            || {
                let r = get(port);
                *last.borrow_mut() = format!("{r:?}");
                r.ok().filter(|(code, body)| *code == 200 && body.starts_with(want))
            },
            || format!("last answer: {}", last.borrow()),
        );
    };
    answer("blue ");
    weights(0, 100);
    answer("green ");
    for _ in 0..4 {
        let (code, body) = get(port).expect("an answer");
        assert_eq!(code, 200);
        assert!(body.starts_with("green "), "all traffic on green: {body}");
    }

    // Green becomes primary at full scale; blue is deleted and its tasks stop.
    w.ecs().ok(&[
        "update-task-set",
        "--cluster",
        &w.cluster,
        "--service",
        "web",
        "--task-set",
        &green_set,
        "--scale",
        "value=100,unit=PERCENT",
    ]);
    w.ecs().ok(&[
        "update-service-primary-task-set",
        "--cluster",
        &w.cluster,
        "--service",
        "web",
        "--primary-task-set",
        &green_set,
    ]);
    w.ecs().ok(&[
        "delete-task-set",
        "--cluster",
        &w.cluster,
        "--service",
        "web",
        "--task-set",
        &blue_set,
        "--force",
    ]);
    let last = RefCell::new(Value::Null);
    wait_for(
        "only green, at 2 running tasks",
        Duration::from_secs(60),
        || {
            let svc = w.describe("web");
            *last.borrow_mut() = svc["taskSets"].clone();
            let sets = svc["taskSets"].as_array()?.clone();
            let only_green = sets.len() == 1
                && sets[0]["id"] == green_set.as_str()
                && sets[0]["status"] == "PRIMARY"
                && sets[0]["runningCount"] == 2;
            (only_green && w.tasks("web").len() == 2).then_some(())
        },
        || format!("task sets: {:#}", last.borrow()),
    );
}
