//! Capacity providers end to end, with the real `aws` CLI and a real Docker Engine:
//! a cluster's default strategy splitting Fargate tasks by base and weight on the
//! embedded agent (which serves the Fargate pool), each sized by its own cgroup; a
//! FARGATE_SPOT service whose task `wharf spot-interrupt` interrupts (SIGTERM, ECS's
//! stop code and reason) and the service replaces; and one service moved from the EC2
//! launch type to a Fargate strategy, both kinds running during the rollout. Needs
//! Docker (scripts/docker-up) and the `aws` CLI: without them the tests fail saying so.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::{Aws, ClusterServer, TEST_IMAGE};
use wharf_model::ecs::capacity::{self, Capacity, Share};

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

struct World {
    inner: ClusterServer,
}

impl World {
    fn start(name: &str) -> World {
        let cluster = format!("cap-{name}-{}", std::process::id());
        World { inner: ClusterServer::launch(cluster, &["--allow-reset"]) }
    }

    fn cluster(&self) -> &str {
        &self.inner.cluster
    }

    fn ecs(&self) -> Aws<'_> {
        Aws::new(&self.inner.server, "ecs")
    }

    /// A Fargate-compatible awsvpc revision (256 CPU units, 512 MiB) whose one
    /// container says `got TERM` and exits 0 on SIGTERM.
    fn register(&self, family: &str, requires_fargate: bool) -> String {
        let mut td = json!({
            "family": family,
            "networkMode": "awsvpc",
            "cpu": "256",
            "memory": "512",
            "containerDefinitions": [{
                "name": "app",
                "image": TEST_IMAGE,
                "essential": true,
                "stopTimeout": 10,
                "command": ["sh", "-c",
                    "trap 'echo got TERM; exit 0' TERM; while true; do sleep 1; done"],
                // Healthy once Docker checks it (5 s), so a rollout keeps the old
                // tasks until the new ones are.
                "healthCheck": {"command": ["CMD-SHELL", "true"], "interval": 5, "retries": 1},
            }],
        });
        if requires_fargate {
            td["requiresCompatibilities"] = json!(["FARGATE"]);
        }
        let out = self.ecs().ok(&["register-task-definition", "--cli-input-json", &td.to_string()]);
        s(&out["taskDefinition"]["taskDefinitionArn"])
    }

    /// An awsvpcConfiguration naming the region's first default subnet.
    fn network(&self) -> String {
        let ec2 = Aws::new(&self.inner.server, "ec2");
        let subnets = ec2.ok(&["describe-subnets", "--filters", "Name=default-for-az,Values=true"]);
        let subnet = s(&subnets["Subnets"][0]["SubnetId"]);
        json!({"awsvpcConfiguration": {"subnets": [subnet]}}).to_string()
    }

    fn describe_tasks(&self, arns: &[String]) -> Vec<Value> {
        let mut args = vec!["describe-tasks", "--cluster", self.cluster(), "--tasks"];
        args.extend(arns.iter().map(String::as_str));
        self.ecs().ok(&args)["tasks"].as_array().cloned().unwrap_or_default()
    }

    /// The service's tasks (desired RUNNING), described.
    fn service_tasks(&self, service: &str) -> Vec<Value> {
        let listed =
            self.ecs().ok(&["list-tasks", "--cluster", self.cluster(), "--service-name", service]);
        let arns: Vec<String> =
            listed["taskArns"].as_array().into_iter().flatten().map(s).collect();
        if arns.is_empty() {
            return vec![];
        }
        self.describe_tasks(&arns)
    }

    fn wait_for<T>(&self, what: &str, within: Duration, mut check: impl FnMut() -> Option<T>) -> T {
        let deadline = Instant::now() + within;
        loop {
            if let Some(v) = check() {
                return v;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    fn wharf(&self, args: &[&str]) -> std::process::Output {
        Command::new(env!("CARGO_BIN_EXE_wharf"))
            .args(args)
            .args(["--endpoint", &self.inner.server.endpoint(), "--cluster", self.cluster()])
            .env("NO_COLOR", "1")
            .output()
            .expect("run wharf")
    }
}

fn running(t: &Value) -> bool {
    t["lastStatus"] == "RUNNING"
}

#[test]
fn a_default_strategy_splits_fargate_tasks_each_in_its_own_cgroup() {
    let w = World::start("split");
    let ecs = w.ecs();
    ecs.ok(&[
        "put-cluster-capacity-providers",
        "--cluster",
        w.cluster(),
        "--capacity-providers",
        "FARGATE",
        "FARGATE_SPOT",
        "--default-capacity-provider-strategy",
        "capacityProvider=FARGATE,base=1,weight=1",
        "capacityProvider=FARGATE_SPOT,weight=2",
    ]);
    w.register("cap-split", true);
    let run = ecs.ok(&[
        "run-task",
        "--cluster",
        w.cluster(),
        "--task-definition",
        "cap-split",
        "--count",
        "4",
        "--network-configuration",
        &w.network(),
    ]);
    assert_eq!(run["failures"], json!([]), "{run}");
    let tasks: Vec<Value> = run["tasks"].as_array().cloned().unwrap_or_default();
    let shares = [
        Share { provider: "FARGATE".into(), capacity: Capacity::Fargate, base: 1, weight: 1 },
        Share {
            provider: "FARGATE_SPOT".into(),
            capacity: Capacity::FargateSpot,
            base: 0,
            weight: 2,
        },
    ];
    let want = capacity::split(&shares, &[0, 0], 4);
    let on = |p: &str| tasks.iter().filter(|t| t["capacityProviderName"] == p).count() as u32;
    assert_eq!(vec![on("FARGATE"), on("FARGATE_SPOT")], want);
    assert_eq!(want, vec![2, 2], "base 1, then 1:2 of the other three");
    let arns: Vec<String> = tasks.iter().map(|t| s(&t["taskArn"])).collect();
    let _cleanup: Vec<_> = arns.iter().cloned().map(support::TaskContainers).collect();
    let described = w.wait_for("the Fargate tasks to run", Duration::from_secs(60), || {
        let d = w.describe_tasks(&arns);
        d.iter().all(running).then_some(d)
    });
    for t in &described {
        assert_eq!(t["launchType"], "FARGATE");
        assert_eq!(t["platformVersion"], "1.4.0");
        assert!(t.get("containerInstanceArn").is_none(), "{t}");
        // Sized by its own cgroup: the container has no limit of its own.
        let id = s(&t["taskArn"]).rsplit('/').next().unwrap().to_owned();
        let inspect = Command::new("docker")
            .args([
                "ps",
                "-q",
                "--filter",
                &format!("label=com.amazonaws.ecs.task-arn={}", s(&t["taskArn"])),
                "--filter",
                "label=com.amazonaws.ecs.container-name=app",
            ])
            .output()
            .unwrap();
        let container = String::from_utf8_lossy(&inspect.stdout).trim().to_owned();
        let parent = Command::new("docker")
            .args(["inspect", "-f", "{{.HostConfig.CgroupParent}}", &container])
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&parent.stdout).trim(), format!("/wharf-tasks/{id}"));
        let limit = ["/sys/fs/cgroup/memory/wharf-tasks", "/sys/fs/cgroup/wharf-tasks"]
            .iter()
            .find_map(|root| {
                let file =
                    if root.contains("memory") { "memory.limit_in_bytes" } else { "memory.max" };
                std::fs::read_to_string(format!("{root}/{id}/{file}")).ok()
            })
            .expect("the task's cgroup");
        assert_eq!(limit.trim(), (512u64 * 1024 * 1024).to_string());
    }
}

#[test]
fn a_spot_interruption_stops_a_task_with_sigterm_and_its_service_replaces_it() {
    let w = World::start("spot");
    let ecs = w.ecs();
    ecs.ok(&[
        "put-cluster-capacity-providers",
        "--cluster",
        w.cluster(),
        "--capacity-providers",
        "FARGATE",
        "FARGATE_SPOT",
        "--default-capacity-provider-strategy",
        "capacityProvider=FARGATE,weight=1",
    ]);
    w.register("cap-spot", true);
    ecs.ok(&[
        "create-service",
        "--cluster",
        w.cluster(),
        "--service-name",
        "spotty",
        "--task-definition",
        "cap-spot",
        "--desired-count",
        "1",
        "--capacity-provider-strategy",
        "capacityProvider=FARGATE_SPOT,weight=1",
        "--network-configuration",
        &w.network(),
    ]);
    let first = w.wait_for("the Spot task to run", Duration::from_secs(60), || {
        w.service_tasks("spotty").into_iter().find(running)
    });
    assert_eq!(first["capacityProviderName"], "FARGATE_SPOT");
    let arn = s(&first["taskArn"]);
    // A task on FARGATE cannot be interrupted.
    let out = w.wharf(&["spot-interrupt", "no-such-task"]);
    assert!(!out.status.success());
    let out = w.wharf(&["spot-interrupt", &arn]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stopped = w.wait_for("the interrupted task to stop", Duration::from_secs(60), || {
        let t = w.describe_tasks(std::slice::from_ref(&arn)).pop()?;
        (t["lastStatus"] == "STOPPED").then_some(t)
    });
    assert_eq!(stopped["stopCode"], "SpotInterruption");
    assert_eq!(stopped["stoppedReason"], "Your Spot Task was interrupted.");
    // It got SIGTERM: its trap said so and exited 0.
    assert_eq!(stopped["containers"][0]["exitCode"], 0, "{stopped}");
    let replacement = w.wait_for("a replacement", Duration::from_secs(60), || {
        w.service_tasks("spotty").into_iter().find(|t| running(t) && s(&t["taskArn"]) != arn)
    });
    assert_eq!(replacement["capacityProviderName"], "FARGATE_SPOT");
    let service = ecs.ok(&["describe-services", "--cluster", w.cluster(), "--services", "spotty"]);
    let events = service["services"][0]["events"].to_string();
    assert!(events.contains("has started 1 tasks"), "{events}");
    ecs.ok(&["delete-service", "--cluster", w.cluster(), "--service", "spotty", "--force"]);
}

#[test]
fn one_service_moves_from_ec2_to_fargate_with_both_running_meanwhile() {
    let w = World::start("mixed");
    let ecs = w.ecs();
    ecs.ok(&[
        "put-cluster-capacity-providers",
        "--cluster",
        w.cluster(),
        "--capacity-providers",
        "FARGATE",
        "--default-capacity-provider-strategy",
        "[]",
    ]);
    // Compatible with both EC2 and Fargate.
    w.register("cap-mixed", false);
    ecs.ok(&[
        "create-service",
        "--cluster",
        w.cluster(),
        "--service-name",
        "mixed",
        "--task-definition",
        "cap-mixed",
        "--desired-count",
        "2",
        "--launch-type",
        "EC2",
        "--network-configuration",
        &w.network(),
    ]);
    w.wait_for("two healthy EC2 tasks", Duration::from_secs(60), || {
        let t = w.service_tasks("mixed");
        let healthy = |t: &Value| running(t) && t["healthStatus"] == "HEALTHY";
        (t.len() == 2 && t.iter().all(healthy) && t.iter().all(|t| t["launchType"] == "EC2"))
            .then_some(())
    });
    let updated = ecs.ok(&[
        "update-service",
        "--cluster",
        w.cluster(),
        "--service",
        "mixed",
        "--capacity-provider-strategy",
        "capacityProvider=FARGATE,weight=1",
        "--force-new-deployment",
    ]);
    let deployments = updated["service"]["deployments"].as_array().cloned().unwrap_or_default();
    assert_eq!(deployments.len(), 2, "{updated}");
    assert_eq!(deployments[0]["capacityProviderStrategy"][0]["capacityProvider"], "FARGATE");
    assert_eq!(deployments[1]["launchType"], "EC2");
    w.wait_for("the service on Fargate", Duration::from_secs(90), || {
        let t = w.service_tasks("mixed");
        (t.len() == 2 && t.iter().all(|t| running(t) && t["launchType"] == "FARGATE")).then_some(())
    });
    // Both kinds ran side by side: the EC2 tasks were asked to stop only after the
    // Fargate ones had started (the rollout keeps 100% healthy).
    let stopped = w.ecs().ok(&[
        "list-tasks",
        "--cluster",
        w.cluster(),
        "--service-name",
        "mixed",
        "--desired-status",
        "STOPPED",
    ]);
    let old: Vec<String> = stopped["taskArns"].as_array().into_iter().flatten().map(s).collect();
    let old = w.describe_tasks(&old);
    assert_eq!(old.len(), 2);
    assert!(old.iter().all(|t| t["launchType"] == "EC2"));
    let new = w.service_tasks("mixed");
    let time = |t: &Value, f: &str| t[f].as_f64().unwrap_or_else(|| panic!("{f} of {t}"));
    let first_new_start = new.iter().map(|t| time(t, "startedAt")).fold(f64::MAX, f64::min);
    let first_old_stop = old.iter().map(|t| time(t, "stoppingAt")).fold(f64::MAX, f64::min);
    assert!(
        first_old_stop >= first_new_start,
        "an EC2 task stopped ({first_old_stop}) before any Fargate task ran ({first_new_start})"
    );
    let tasks = w.service_tasks("mixed");
    assert!(tasks.iter().all(|t| t["capacityProviderName"] == "FARGATE"), "{tasks:?}");
    ecs.ok(&["delete-service", "--cluster", w.cluster(), "--service", "mixed", "--force"]);
}
