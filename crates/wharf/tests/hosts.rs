//! A cluster of many hosts on one machine (`scripts/hosts`): network
//! namespaces on a bridge, each with its own dockerd, and `wharf agent`s
//! inside them joining a server on the bridge. Needs root and Docker
//! (`scripts/docker-up`); without them the tests fail, they are not skipped.
//! nextest runs them one at a time (`.config/nextest.toml`, group `hosts`).

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use support::hosts::Rig;

/// The bytes `iptables` counted on the rig's rule that drops what a host
/// sends out of the bridge.
fn dropped_out(rig_index: &str) -> u64 {
    let out = Command::new("iptables")
        .args(["-w", "-L", &format!("WHARF-HOSTS-{rig_index}"), "-v", "-x", "-n"])
        .output()
        .expect("iptables");
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find(|l| l.contains("DROP") && l.contains(&format!("whb{rig_index}")) && l.contains(" * "))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|b| b.parse().ok())
        .unwrap_or_else(|| panic!("no drop rule in the rig's chain:\n{text}"))
}

#[test]
fn hosts_rig_connects_its_hosts_and_nothing_else() {
    let rig = Rig::up("rig-check", 2);
    let (h1, h2) = (rig.host(1), rig.host(2));
    let index = rig.gateway.octets()[2].to_string();
    // Host 1 serves a file on a published port.
    let run = h1.docker(&[
        "run",
        "-d",
        "-p",
        "8080:80",
        support::TEST_IMAGE,
        "httpd",
        "-f",
        "-p",
        "80",
        "-h",
        "/etc",
    ]);
    assert!(run.status.success(), "docker run: {}", String::from_utf8_lossy(&run.stderr));
    // The root namespace reaches it at the host's address.
    let mut answered = String::new();
    for _ in 0..100 {
        if let Ok(mut s) = TcpStream::connect((h1.address, 8080)) {
            let _ = s.write_all(b"GET /passwd HTTP/1.0\r\n\r\n");
            answered.clear();
            let _ = s.read_to_string(&mut answered);
            if answered.contains("root:x:0:0") {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(answered.contains("root:x:0:0"), "host 1 did not answer from the root namespace");
    // A container on host 2 reaches it across the bridge.
    let url = format!("http://{}:8080/passwd", h1.address);
    let fetch =
        h2.docker(&["run", "--rm", support::TEST_IMAGE, "timeout", "5", "wget", "-q", "-O-", &url]);
    assert!(
        String::from_utf8_lossy(&fetch.stdout).contains("root:x:0:0"),
        "host 2 could not reach host 1: {}",
        String::from_utf8_lossy(&fetch.stderr)
    );
    // What a host sends beyond the bridge is dropped in the root namespace.
    let before = dropped_out(&index);
    let _ =
        h2.docker(&["run", "--rm", support::TEST_IMAGE, "ping", "-c", "2", "-W", "1", "192.0.2.1"]);
    assert!(dropped_out(&index) > before, "a packet bound off the rig was not dropped");

    let netns = h1.netns.clone();
    drop(rig);
    assert!(!netns.exists(), "the host's network namespace is gone after teardown");
    let links = Command::new("ip").args(["-o", "link", "show"]).output().expect("ip link");
    assert!(
        !String::from_utf8_lossy(&links.stdout).contains(&format!("whb{index}:")),
        "the rig's bridge is gone after teardown"
    );
}

/// One ECS call over HTTP (unsigned: `us-east-1`); the answer's JSON.
fn ecs(server: &support::Server, op: &str, body: serde_json::Value) -> serde_json::Value {
    let mut s = TcpStream::connect(server.addr).expect("connect to the server");
    let body = body.to_string();
    let req = format!(
        "POST / HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nX-Amz-Target: \
         AmazonEC2ContainerServiceV20141113.{op}\r\nContent-Type: application/x-amz-json-1.1\r\n\
         Content-Length: {}\r\n\r\n{body}",
        server.addr,
        body.len()
    );
    s.write_all(req.as_bytes()).expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    let body = out.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    serde_json::from_str(body).unwrap_or(serde_json::Value::Null)
}

/// Waits up to `timeout` for `f` to give a value.
fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A server on the rig's gateway that runs no agent of its own, its load
/// balancers' listeners on the gateway too, with `extra` arguments. It serves
/// the rig's private bridge without credentials (`--insecure-no-auth`): these
/// tests are about hosts; agents signing with their own keys across the
/// network is tested in `security.rs`.
fn rig_server(rig: &Rig, extra: &[&str]) -> support::Server {
    let gateway = rig.gateway.to_string();
    // A pool of VPC ranges of the rig's own (two clusters' worth): servers of two
    // rigs would otherwise route the same slices.
    let pool = format!("10.{}.0.0/15", 160 + 2 * u32::from(rig.gateway.octets()[2]));
    let mut args = vec![
        "--no-agent",
        "--insecure-no-auth",
        "--listener-address",
        &gateway,
        "--vpc-cidr",
        &pool,
    ];
    args.extend_from_slice(extra);
    support::Server::start_at(rig.gateway, &args, &[])
}

/// Starts an agent on every host of the rig, host `i` in zone `ZONES[i - 1]`, with `extra`
/// arguments, and waits until the cluster has them all.
fn join_all(
    rig: &Rig,
    server: &support::Server,
    cluster: &str,
    extra: &[&str],
) -> Vec<support::hosts::Agent> {
    let endpoint = server.endpoint();
    let agents: Vec<support::hosts::Agent> = rig
        .hosts
        .iter()
        .map(|h| {
            let mut args = vec!["--cluster", cluster, "--availability-zone", ZONES[h.index - 1]];
            args.extend_from_slice(extra);
            h.agent(&endpoint, &args)
        })
        .collect();
    wait_for("every host to join", Duration::from_secs(30), || {
        let i = instances(server, cluster);
        (i.len() == rig.hosts.len() && i.iter().all(|c| c["agentConnected"] == true)).then_some(())
    });
    agents
}

/// A free TCP port on `ip`.
fn free_port(ip: std::net::Ipv4Addr) -> u16 {
    std::net::TcpListener::bind((ip, 0)).and_then(|l| l.local_addr()).expect("a free port").port()
}

/// One `GET /` through `addr`: the status and the body.
fn get(addr: std::net::SocketAddr) -> Option<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(format!("GET / HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes())
        .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let status = out.get(9..12)?.parse().ok()?;
    Some((status, out.split_once("\r\n\r\n").map(|(_, b)| b.trim().to_owned()).unwrap_or_default()))
}

/// The host whose Docker runs the container `short_id` (as `hostname` shows it).
fn host_of_container(rig: &Rig, short_id: &str) -> Option<usize> {
    rig.hosts.iter().find_map(|h| {
        let out = h.docker(&["ps", "-q"]);
        String::from_utf8_lossy(&out.stdout).lines().any(|l| l == short_id).then_some(h.index)
    })
}

/// A task definition `family` whose one container answers `GET /` on port 80 with its
/// hostname (its container ID), in `network_mode`.
fn register_web(server: &support::Server, family: &str, network_mode: &str) {
    let port = if network_mode == "awsvpc" {
        serde_json::json!({"containerPort": 80})
    } else {
        serde_json::json!({"containerPort": 80, "hostPort": 0})
    };
    let r = ecs(
        server,
        "RegisterTaskDefinition",
        serde_json::json!({"family": family, "networkMode": network_mode, "containerDefinitions": [{
            "name": "web", "image": support::TEST_IMAGE, "memory": 16, "stopTimeout": 1,
            "portMappings": [port],
            "command": ["sh", "-c", "mkdir -p /www && hostname > /www/index.html && exec httpd -f -v -p 80 -h /www"]}]}),
    );
    assert!(r["taskDefinition"]["revision"].is_number(), "{r}");
}

/// The cluster's container instances as DescribeContainerInstances shows them.
fn instances(server: &support::Server, cluster: &str) -> Vec<serde_json::Value> {
    let listed = ecs(server, "ListContainerInstances", serde_json::json!({"cluster": cluster}));
    let arns = listed["containerInstanceArns"].clone();
    if arns.as_array().is_none_or(Vec::is_empty) {
        return vec![];
    }
    let d = ecs(
        server,
        "DescribeContainerInstances",
        serde_json::json!({"cluster": cluster, "containerInstances": arns}),
    );
    d["containerInstances"].as_array().cloned().unwrap_or_default()
}

fn attribute(instance: &serde_json::Value, name: &str) -> Option<String> {
    instance["attributes"]
        .as_array()?
        .iter()
        .find(|a| a["name"] == name)
        .and_then(|a| a["value"].as_str().map(str::to_owned))
}

const ZONES: [&str; 3] = ["us-east-1a", "us-east-1b", "us-east-1c"];

#[test]
fn hosts_join_over_the_network_and_tasks_spread_over_their_zones() {
    let rig = Rig::up("join", 3);
    let server = rig_server(&rig, &[]);
    let endpoint = server.endpoint();
    let agents: Vec<support::hosts::Agent> = rig
        .hosts
        .iter()
        .map(|h| {
            let zone = ZONES[h.index - 1];
            let stack = format!("stack=s{}", h.index);
            h.agent(
                &endpoint,
                &["--cluster", "fleet", "--availability-zone", zone, "--attribute", &stack],
            )
        })
        .collect();
    let all = wait_for("three instances", Duration::from_secs(30), || {
        let i = instances(&server, "fleet");
        (i.len() == 3 && i.iter().all(|c| c["agentConnected"] == true)).then_some(i)
    });
    for h in &rig.hosts {
        let ci = all
            .iter()
            .find(|c| attribute(c, "wharf.address").as_deref() == Some(&h.address.to_string()))
            .unwrap_or_else(|| panic!("no instance reports host {}'s address: {all:?}", h.index));
        assert_eq!(attribute(ci, "ecs.availability-zone").as_deref(), Some(ZONES[h.index - 1]));
        assert_eq!(attribute(ci, "stack"), Some(format!("s{}", h.index)));
        assert_eq!(attribute(ci, "ecs.os-type").as_deref(), Some("linux"));
        assert!(attribute(ci, "ecs.cpu-architecture").is_some());
        assert!(attribute(ci, "ecs.instance-type").is_some_and(|t| t.starts_with("wharf.c")));
    }

    ecs(
        &server,
        "RegisterTaskDefinition",
        serde_json::json!({"family": "sleeper", "containerDefinitions": [{
            "name": "main", "image": support::TEST_IMAGE, "memory": 16,
            "command": ["sleep", "3600"], "stopTimeout": 1}]}),
    );
    let run = ecs(
        &server,
        "RunTask",
        serde_json::json!({"cluster": "fleet", "taskDefinition": "sleeper", "count": 6,
            "placementStrategy": [{"type": "spread", "field": "attribute:ecs.availability-zone"}]}),
    );
    let tasks = run["tasks"].as_array().cloned().unwrap_or_default();
    assert_eq!(tasks.len(), 6, "{run}");
    for zone in ZONES {
        let here = tasks.iter().filter(|t| t["availabilityZone"] == zone).count();
        assert_eq!(here, 2, "two tasks in {zone}: {run}");
    }
    // Each runs on the Docker of the host its instance is.
    for t in &tasks {
        let arn = t["taskArn"].as_str().unwrap();
        let instance = t["containerInstanceArn"].as_str().unwrap();
        let ci = all.iter().find(|c| c["containerInstanceArn"] == instance).unwrap();
        let address = attribute(ci, "wharf.address").unwrap();
        let host = rig.hosts.iter().find(|h| h.address.to_string() == address).unwrap();
        wait_for("the task's container on its host", Duration::from_secs(60), || {
            (host.task_containers(arn).len() == 1).then_some(())
        });
        for other in rig.hosts.iter().filter(|h| h.index != host.index) {
            assert!(
                other.task_containers(arn).is_empty(),
                "task {arn} also on host {}",
                other.index
            );
        }
    }
    // `wharf ps` says which host each task is on.
    let ps = Command::new(env!("CARGO_BIN_EXE_wharf"))
        .args(["ps", "--endpoint", &endpoint, "--cluster", "fleet"])
        .env("NO_COLOR", "1")
        .output()
        .expect("wharf ps");
    let ps = String::from_utf8_lossy(&ps.stdout).into_owned();
    for t in &tasks {
        let arn = t["taskArn"].as_str().unwrap();
        let short = &arn.rsplit('/').next().unwrap()[..12];
        let ci =
            all.iter().find(|c| c["containerInstanceArn"] == t["containerInstanceArn"]).unwrap();
        let address = attribute(ci, "wharf.address").unwrap();
        let row =
            ps.lines().find(|l| l.contains(short)).unwrap_or_else(|| panic!("{short} not in {ps}"));
        assert!(row.contains(&address), "ps shows task {short} on {address}: {row}");
    }
    // memberOf on a custom attribute picks the one host that has it.
    let run = ecs(
        &server,
        "RunTask",
        serde_json::json!({"cluster": "fleet", "taskDefinition": "sleeper",
            "placementConstraints": [{"type": "memberOf", "expression": "attribute:stack == s2"}]}),
    );
    assert_eq!(run["tasks"][0]["availabilityZone"], ZONES[1], "{run}");
    drop(agents);
}

#[test]
fn hosts_a_service_spread_over_three_zones_answers_from_every_host_through_the_load_balancer() {
    let rig = Rig::up("alb", 3);
    let server = rig_server(&rig, &[]);
    let _agents = join_all(&rig, &server, "web", &[]);
    let elb = support::Aws::new(&server, "elbv2");
    let tg = elb.quick_target_group("web-hosts", "instance", Some(5));
    let port = free_port(rig.gateway);
    elb.forwarding_listener("web-hosts", port, &tg);
    register_web(&server, "web", "bridge");
    let created = ecs(
        &server,
        "CreateService",
        serde_json::json!({"cluster": "web", "serviceName": "web", "taskDefinition": "web",
            "desiredCount": 6,
            "placementStrategy": [{"type": "spread", "field": "attribute:ecs.availability-zone"}],
            "loadBalancers": [{"targetGroupArn": tg, "containerName": "web", "containerPort": 80}]}),
    );
    assert_eq!(created["service"]["desiredCount"], 6, "{created}");
    let listener = std::net::SocketAddr::from((rig.gateway, port));
    // Six tasks answer, each from the host its instance is on.
    let mut seen = std::collections::BTreeMap::new();
    wait_for("six healthy targets answering", Duration::from_secs(90), || {
        for _ in 0..12 {
            if let Some((200, body)) = get(listener) {
                seen.insert(body, ());
            }
        }
        (seen.len() == 6).then_some(())
    });
    let mut per_host = [0; 3];
    for id in seen.keys() {
        let host = host_of_container(&rig, id).unwrap_or_else(|| panic!("no host runs {id}"));
        per_host[host - 1] += 1;
    }
    assert_eq!(per_host, [2, 2, 2], "two tasks on each host");
    wait_for("six healthy targets", Duration::from_secs(60), || {
        let h = elb.ok(&["describe-target-health", "--target-group-arn", &tg]);
        let healthy = h["TargetHealthDescriptions"]
            .as_array()
            .map(|d| d.iter().filter(|t| t["TargetHealth"]["State"] == "healthy").count());
        (healthy == Some(6)).then_some(())
    });
    // Round robin: six requests in a row reach the six tasks, every host in turn.
    let mut in_turn = std::collections::BTreeSet::new();
    for _ in 0..6 {
        let (status, body) = get(listener).expect("an answer");
        assert_eq!(status, 200);
        in_turn.insert(body);
    }
    assert_eq!(in_turn.len(), 6, "six requests, six tasks: {in_turn:?}");
}

/// A one-container service task definition that sleeps.
fn register_sleeper(server: &support::Server) {
    ecs(
        server,
        "RegisterTaskDefinition",
        serde_json::json!({"family": "sleeper", "containerDefinitions": [{
            "name": "main", "image": support::TEST_IMAGE, "memory": 16,
            "command": ["sleep", "3600"], "stopTimeout": 1}]}),
    );
}

/// The cluster's tasks (every status) as DescribeTasks shows them.
fn tasks(server: &support::Server, cluster: &str, desired: &str) -> Vec<serde_json::Value> {
    let listed =
        ecs(server, "ListTasks", serde_json::json!({"cluster": cluster, "desiredStatus": desired}));
    let arns = listed["taskArns"].clone();
    if arns.as_array().is_none_or(Vec::is_empty) {
        return vec![];
    }
    let d = ecs(server, "DescribeTasks", serde_json::json!({"cluster": cluster, "tasks": arns}));
    d["tasks"].as_array().cloned().unwrap_or_default()
}

/// Running containers labelled with `cluster`, on every host's Docker: (host, task ARN).
fn running_everywhere(rig: &Rig, cluster: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for h in &rig.hosts {
        let o = h.docker(&[
            "ps",
            "--filter",
            &format!("label=com.amazonaws.ecs.cluster={cluster}"),
            "--format",
            "{{.Label \"com.amazonaws.ecs.task-arn\"}}",
        ]);
        out.extend(String::from_utf8_lossy(&o.stdout).lines().map(|l| (h.index, l.to_owned())));
    }
    out
}

/// The instance whose agent runs on `host`.
fn instance_on(
    server: &support::Server,
    cluster: &str,
    host: &support::hosts::Host,
) -> serde_json::Value {
    instances(server, cluster)
        .into_iter()
        .find(|c| attribute(c, "wharf.address") == Some(host.address.to_string()))
        .unwrap_or_else(|| panic!("no instance on host {}", host.index))
}

#[test]
fn hosts_a_silent_host_is_declared_lost_its_tasks_replaced_and_stopped_when_it_returns() {
    let rig = Rig::up("lost", 3);
    let server = rig_server(&rig, &["--instance-lost-after", "3s"]);
    let _agents = join_all(&rig, &server, "heal", &[]);
    register_sleeper(&server);
    ecs(
        &server,
        "CreateService",
        serde_json::json!({"cluster": "heal", "serviceName": "s", "taskDefinition": "sleeper",
            "desiredCount": 3}),
    );
    wait_for("one task running on each host", Duration::from_secs(60), || {
        let running = running_everywhere(&rig, "heal");
        let hosts: std::collections::BTreeSet<usize> = running.iter().map(|(h, _)| *h).collect();
        (running.len() == 3 && hosts.len() == 3).then_some(())
    });
    let lost_host = rig.host(3);
    let lost_task = running_everywhere(&rig, "heal")
        .into_iter()
        .find(|(h, _)| *h == 3)
        .map(|(_, arn)| arn)
        .unwrap();
    let lost_instance = instance_on(&server, "heal", lost_host)["containerInstanceArn"].clone();

    // Host 3's link is cut: its agent and task go on, unheard.
    rig.link(3, false);
    let cut_at = std::time::Instant::now();
    let stopped =
        wait_for("the lost host's task stopped in the API", Duration::from_secs(20), || {
            tasks(&server, "heal", "STOPPED")
                .into_iter()
                .find(|t| t["taskArn"] == lost_task.as_str())
        });
    let reason = stopped["stoppedReason"].as_str().unwrap_or_default();
    assert!(reason.contains("was declared lost"), "{reason}");
    assert_eq!(stopped["stopCode"], "TerminationNotice");
    let d = ecs(
        &server,
        "DescribeContainerInstances",
        serde_json::json!({"cluster": "heal", "containerInstances": [lost_instance]}),
    );
    assert_eq!(d["containerInstances"][0]["agentConnected"], false);
    // Replaced on the other hosts, within the grace and two seconds (and a margin
    // for a debug build on a busy machine).
    wait_for("three tasks running on hosts 1 and 2", Duration::from_secs(20), || {
        let running: Vec<(usize, String)> =
            running_everywhere(&rig, "heal").into_iter().filter(|(h, _)| *h != 3).collect();
        (running.len() == 3).then_some(())
    });
    let healed = cut_at.elapsed();
    assert!(healed < Duration::from_secs(3 + 2 + 5), "healed after {healed:?}");
    assert!(
        lost_host.task_containers(&lost_task).len() == 1,
        "the cut-off host still runs its task"
    );

    // The link comes back: the agent stops what was replaced; no task runs twice.
    rig.link(3, true);
    wait_for("the lost task's container stopped on host 3", Duration::from_secs(40), || {
        lost_host.task_containers(&lost_task).is_empty().then_some(())
    });
    wait_for("host 3's agent connected again", Duration::from_secs(20), || {
        (instance_on(&server, "heal", lost_host)["agentConnected"] == true).then_some(())
    });
    let running = running_everywhere(&rig, "heal");
    let mut arns: Vec<&String> = running.iter().map(|(_, a)| a).collect();
    arns.sort();
    arns.dedup();
    assert_eq!((running.len(), arns.len()), (3, 3), "three tasks, each once: {running:?}");
    let api_running = tasks(&server, "heal", "RUNNING");
    assert_eq!(api_running.len(), 3, "the API agrees");
}

#[test]
fn hosts_draining_an_instance_moves_its_service_tasks_and_leaves_standalone_ones() {
    let rig = Rig::up("drain", 2);
    let server = rig_server(&rig, &[]);
    let _agents = join_all(&rig, &server, "drain", &[]);
    register_sleeper(&server);
    let h1 = instance_on(&server, "drain", rig.host(1))["containerInstanceArn"].clone();
    let standalone = ecs(
        &server,
        "StartTask",
        serde_json::json!({"cluster": "drain", "taskDefinition": "sleeper", "containerInstances": [h1]}),
    )["tasks"][0]["taskArn"]
        .as_str()
        .expect("a standalone task")
        .to_owned();
    ecs(
        &server,
        "CreateService",
        serde_json::json!({"cluster": "drain", "serviceName": "s", "taskDefinition": "sleeper",
            "desiredCount": 2}),
    );
    wait_for("a service task on each host", Duration::from_secs(60), || {
        let running = running_everywhere(&rig, "drain");
        (running.iter().filter(|(h, _)| *h == 1).count() == 2 && running.len() == 3).then_some(())
    });
    let u = ecs(
        &server,
        "UpdateContainerInstancesState",
        serde_json::json!({"cluster": "drain", "containerInstances": [h1], "status": "DRAINING"}),
    );
    assert_eq!(u["containerInstances"][0]["status"], "DRAINING", "{u}");
    // The service's task moves to host 2; the standalone one stays on host 1.
    wait_for("the service's tasks all on host 2", Duration::from_secs(90), || {
        let running = running_everywhere(&rig, "drain");
        let on_1: Vec<&String> = running.iter().filter(|(h, _)| *h == 1).map(|(_, a)| a).collect();
        let on_2 = running.iter().filter(|(h, _)| *h == 2).count();
        (on_1 == [&standalone] && on_2 == 2).then_some(())
    });
    let t = &ecs(
        &server,
        "DescribeTasks",
        serde_json::json!({"cluster": "drain", "tasks": [standalone]}),
    )["tasks"][0];
    assert_eq!(t["lastStatus"], "RUNNING");
}

/// A task's awsvpc address (its ENI attachment's `privateIPv4Address`).
fn task_address(task: &serde_json::Value) -> Option<std::net::Ipv4Addr> {
    task["attachments"].as_array()?.iter().find_map(|a| {
        a["details"].as_array()?.iter().find_map(|d| {
            (d["name"] == "privateIPv4Address").then(|| d["value"].as_str()?.parse().ok()).flatten()
        })
    })
}

/// The ID of a running container of `task_arn` named `name` on `host`.
fn container_of(host: &support::hosts::Host, task_arn: &str, name: &str) -> Option<String> {
    let out = host.docker(&[
        "ps",
        "-q",
        "--filter",
        &format!("label=com.amazonaws.ecs.task-arn={task_arn}"),
        "--filter",
        &format!("label=com.amazonaws.ecs.container-name={name}"),
    ]);
    String::from_utf8_lossy(&out.stdout).lines().next().map(str::to_owned)
}

/// `wget` of `http://address/` run inside a container; whether it answered.
fn fetch_from(host: &support::hosts::Host, container: &str, address: std::net::Ipv4Addr) -> bool {
    let url = format!("http://{address}/");
    let out = host.docker(&["exec", container, "timeout", "3", "wget", "-q", "-O-", &url]);
    out.status.success() && !out.stdout.is_empty()
}

#[test]
fn hosts_awsvpc_tasks_reach_each_other_across_hosts_without_nat_and_not_across_vpcs() {
    let rig = Rig::up("vpc", 3);
    let server = rig_server(&rig, &[]);
    let endpoint = server.endpoint();
    let _a: Vec<support::hosts::Agent> =
        [1, 2].iter().map(|i| rig.host(*i).agent(&endpoint, &["--cluster", "vpc-a"])).collect();
    let _b = rig.host(3).agent(&endpoint, &["--cluster", "vpc-b"]);
    wait_for("the hosts to join", Duration::from_secs(30), || {
        (instances(&server, "vpc-a").len() == 2 && instances(&server, "vpc-b").len() == 1)
            .then_some(())
    });
    // Each instance has its own slice of its cluster's range.
    let slices: Vec<String> = instances(&server, "vpc-a")
        .iter()
        .chain(instances(&server, "vpc-b").iter())
        .map(|c| attribute(c, "wharf.subnet-cidr").expect("a slice"))
        .collect();
    let distinct: std::collections::BTreeSet<&String> = slices.iter().collect();
    assert_eq!(distinct.len(), 3, "{slices:?}");
    let vpc_a = attribute(&instances(&server, "vpc-a")[0], "ecs.vpc-id").unwrap();
    assert_ne!(Some(vpc_a), attribute(&instances(&server, "vpc-b")[0], "ecs.vpc-id"));

    // A service of two awsvpc tasks behind an ip target group, one task per host.
    register_web(&server, "web", "awsvpc");
    let elb = support::Aws::new(&server, "elbv2");
    let tg = elb.quick_target_group("web-vpc", "ip", Some(5));
    let port = free_port(rig.gateway);
    elb.forwarding_listener("web-vpc", port, &tg);
    // The region's default subnets: awsvpcConfiguration must name subnets that exist.
    let ec2 = support::Aws::new(&server, "ec2");
    let subnets = ec2.ok(&["describe-subnets", "--filters", "Name=default-for-az,Values=true"]);
    let subnet = |i: usize| subnets["Subnets"][i]["SubnetId"].as_str().expect("subnet").to_owned();
    // Registered in Cloud Map, found by name from a container of any host.
    let sd = support::Aws::new(&server, "servicediscovery");
    let vpc = ec2.ok(&["describe-vpcs"])["Vpcs"][0]["VpcId"].as_str().unwrap().to_owned();
    let op = sd.ok(&["create-private-dns-namespace", "--name", "rig.internal", "--vpc", &vpc]);
    let op = sd.ok(&["get-operation", "--operation-id", op["OperationId"].as_str().unwrap()]);
    let namespace = op["Operation"]["Targets"]["NAMESPACE"].as_str().unwrap().to_owned();
    let registry = sd.ok(&[
        "create-service",
        "--name",
        "web",
        "--namespace-id",
        &namespace,
        "--dns-config",
        "DnsRecords=[{Type=A,TTL=10}]",
        "--health-check-custom-config",
        "FailureThreshold=1",
    ]);
    let registry_arn = registry["Service"]["Arn"].as_str().unwrap().to_owned();
    ecs(
        &server,
        "CreateService",
        serde_json::json!({"cluster": "vpc-a", "serviceName": "web", "taskDefinition": "web",
            "desiredCount": 2,
            "networkConfiguration": {"awsvpcConfiguration": {"subnets": [subnet(0)]}},
            "loadBalancers": [{"targetGroupArn": tg, "containerName": "web", "containerPort": 80}],
            "serviceRegistries": [{"registryArn": registry_arn}]}),
    );
    let web = wait_for("two running awsvpc tasks", Duration::from_secs(90), || {
        let t = tasks(&server, "vpc-a", "RUNNING");
        (t.len() == 2
            && t.iter().all(|t| t["lastStatus"] == "RUNNING" && task_address(t).is_some()))
        .then_some(t)
    });
    let hosts_of: Vec<&support::hosts::Host> = web
        .iter()
        .map(|t| {
            let arn = t["taskArn"].as_str().unwrap();
            rig.hosts.iter().find(|h| !h.task_containers(arn).is_empty()).expect("a host runs it")
        })
        .collect();
    assert_ne!(hosts_of[0].index, hosts_of[1].index, "spread over the two hosts");
    let addresses: Vec<std::net::Ipv4Addr> = web.iter().map(|t| task_address(t).unwrap()).collect();
    let first_container =
        container_of(hosts_of[0], web[0]["taskArn"].as_str().unwrap(), "web").unwrap();
    let second_container =
        container_of(hosts_of[1], web[1]["taskArn"].as_str().unwrap(), "web").unwrap();

    // Task to task across hosts, and the other task sees the first one's own address.
    assert!(fetch_from(hosts_of[0], &first_container, addresses[1]), "task 1 reaches task 2");
    let logs = hosts_of[1].docker(&["logs", &second_container]);
    let seen = String::from_utf8_lossy(&logs.stderr).into_owned();
    assert!(
        seen.contains(&addresses[0].to_string()),
        "no NAT: task 2 saw task 1's address: {seen}"
    );
    // Each host's agent runs a resolver with the server's Cloud Map names: a
    // task on host 1 finds both tasks of the service by name.
    let found = wait_for("web.rig.internal from a task", Duration::from_secs(30), || {
        let out = hosts_of[0].docker(&["exec", &first_container, "nslookup", "web.rig.internal"]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        addresses.iter().all(|a| text.contains(&a.to_string())).then_some(text)
    });
    assert!(found.contains("169.254.170.2"), "asked the host's resolver: {found}");
    // When something takes away the route to a host's own slice (another
    // program's `ip route replace` over it, then a delete), its agent puts it
    // back, and the host answers its tasks again.
    let host_slice = instances(&server, "vpc-a")
        .iter()
        .find(|c| attribute(c, "wharf.address") == Some(hosts_of[0].address.to_string()))
        .and_then(|c| attribute(c, "wharf.subnet-cidr"))
        .expect("host 1's slice");
    let deleted = hosts_of[0]
        .command("ip")
        .args(["route", "del", &host_slice, "dev", "wharf-awsvpc"])
        .status()
        .expect("ip route del");
    assert!(deleted.success(), "the slice's route deleted on host {}", hosts_of[0].index);
    wait_for("the agent to put the slice's route back", Duration::from_secs(30), || {
        let out = hosts_of[0]
            .command("ip")
            .args(["-4", "route", "show", "exact", &host_slice])
            .output()
            .expect("ip route show");
        String::from_utf8_lossy(&out.stdout).contains("wharf-awsvpc").then_some(())
    });
    wait_for("web.rig.internal from a task again", Duration::from_secs(30), || {
        let out = hosts_of[0].docker(&["exec", &first_container, "nslookup", "web.rig.internal"]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        addresses.iter().all(|a| text.contains(&a.to_string())).then_some(())
    });
    // The server's host reaches both at their addresses, also while another
    // server runs on this host (its route keeping leaves this pool's routes alone).
    let neighbour = support::Server::start_with(&["--no-agent"]);
    wait_for("the other server's first pass over its routes", Duration::from_secs(20), || {
        neighbour.log().contains("routes to awsvpc slices applied").then_some(())
    });
    for a in &addresses {
        let got = wait_for("the server's host to reach a task", Duration::from_secs(20), || {
            get(std::net::SocketAddr::from((*a, 80)))
        });
        assert_eq!(got.0, 200);
    }
    // The load balancer reaches both ip targets.
    let listener = std::net::SocketAddr::from((rig.gateway, port));
    let mut answered = std::collections::BTreeSet::new();
    wait_for("both targets answering through the load balancer", Duration::from_secs(60), || {
        for _ in 0..6 {
            if let Some((200, body)) = get(listener) {
                answered.insert(body);
            }
        }
        (answered.len() == 2).then_some(())
    });

    // A task of the other cluster (another VPC) on host 3 reaches neither.
    ecs(
        &server,
        "RunTask",
        serde_json::json!({"cluster": "vpc-b", "taskDefinition": "web",
            "networkConfiguration": {"awsvpcConfiguration": {"subnets": [subnet(1)]}}}),
    );
    let other = wait_for("the other VPC's task running", Duration::from_secs(60), || {
        tasks(&server, "vpc-b", "RUNNING")
            .into_iter()
            .find(|t| t["lastStatus"] == "RUNNING" && task_address(t).is_some())
    });
    let other_container =
        container_of(rig.host(3), other["taskArn"].as_str().unwrap(), "web").unwrap();
    for a in &addresses {
        assert!(!fetch_from(rig.host(3), &other_container, *a), "another VPC reached {a}");
    }
    assert!(
        !fetch_from(hosts_of[0], &first_container, task_address(&other).unwrap()),
        "a task reached another VPC's task"
    );
}

/// One Logs call over HTTP; the answer's JSON.
fn logs(server: &support::Server, op: &str, body: serde_json::Value) -> serde_json::Value {
    let mut s = TcpStream::connect(server.addr).expect("connect to the server");
    let body = body.to_string();
    let req = format!(
        "POST / HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nX-Amz-Target: Logs_20140328.{op}\r\n\
         Content-Type: application/x-amz-json-1.1\r\nContent-Length: {}\r\n\r\n{body}",
        server.addr,
        body.len()
    );
    s.write_all(req.as_bytes()).expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    let body = out.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    serde_json::from_str(body).unwrap_or(serde_json::Value::Null)
}

/// Every event's message of a log stream, oldest first.
fn stream_messages(server: &support::Server, group: &str, stream: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut req = serde_json::json!({"logGroupName": group, "logStreamName": stream,
            "startFromHead": true});
        if let Some(t) = &token {
            req["nextToken"] = serde_json::json!(t);
        }
        let page = logs(server, "GetLogEvents", req);
        let events = page["events"].as_array().cloned().unwrap_or_default();
        out.extend(events.iter().filter_map(|e| e["message"].as_str().map(str::to_owned)));
        let next = page["nextForwardToken"].as_str().map(str::to_owned);
        if events.is_empty() || next == token {
            return out;
        }
        token = next;
    }
}

/// The value of `name{...task_id="id"...}` in a `/metrics` text, if it is there.
fn metric_for_task(text: &str, name: &str, task_id: &str) -> Option<f64> {
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")))
        .find(|l| l.contains(&format!("task_id=\"{task_id}\"")))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

fn scrape(server: &support::Server) -> String {
    let mut s = TcpStream::connect(server.addr).expect("connect");
    s.write_all(format!("GET /metrics HTTP/1.0\r\nHost: {}\r\n\r\n", server.addr).as_bytes())
        .expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    out
}

#[test]
fn hosts_every_host_serves_metadata_reports_stats_runs_daemons_and_ships_logs_through_an_outage() {
    let rig = Rig::up("parts", 3);
    let mut server = rig_server(&rig, &[]);
    let endpoint = server.endpoint();
    let agent = |i: usize| {
        rig.host(i).agent(
            &endpoint,
            &["--cluster", "parts", "--availability-zone", ZONES[i - 1], "--stats-interval", "1s"],
        )
    };
    let _first_two = [agent(1), agent(2)];
    wait_for("two hosts", Duration::from_secs(30), || {
        (instances(&server, "parts").len() == 2).then_some(())
    });
    // Each task says what its host's metadata endpoint told it, then counts.
    let script = "arn=$(timeout 5 wget -q -O- \"$ECS_CONTAINER_METADATA_URI_V4/task\" | \
                  grep -o '\"TaskARN\":\"[^\"]*\"'); echo \"meta $arn\"; i=0; \
                  while true; do i=$((i+1)); echo \"line $i\"; sleep 0.02; done";
    ecs(
        &server,
        "RegisterTaskDefinition",
        serde_json::json!({"family": "counter", "containerDefinitions": [{
            "name": "main", "image": support::TEST_IMAGE, "memory": 16, "stopTimeout": 1,
            "command": ["sh", "-c", script],
            "logConfiguration": {"logDriver": "awslogs", "options": {
                "awslogs-group": "/parts", "awslogs-region": "us-east-1",
                "awslogs-stream-prefix": "ecs", "awslogs-create-group": "true"}}}]}),
    );
    ecs(
        &server,
        "CreateService",
        serde_json::json!({"cluster": "parts", "serviceName": "d", "taskDefinition": "counter",
            "schedulingStrategy": "DAEMON"}),
    );
    wait_for("a daemon task on hosts 1 and 2", Duration::from_secs(60), || {
        let running = running_everywhere(&rig, "parts");
        let hosts: std::collections::BTreeSet<usize> = running.iter().map(|(h, _)| *h).collect();
        (hosts == [1, 2].into_iter().collect()).then_some(())
    });
    // Host 3 joins later and gets its daemon task too.
    let _third = agent(3);
    wait_for("a daemon task on host 3", Duration::from_secs(60), || {
        running_everywhere(&rig, "parts").iter().any(|(h, _)| *h == 3).then_some(())
    });
    let running = running_everywhere(&rig, "parts");
    assert_eq!(running.len(), 3, "one daemon task per host: {running:?}");

    for (_, arn) in &running {
        let id = arn.rsplit('/').next().unwrap();
        let stream = format!("ecs/main/{id}");
        // The metadata endpoint of its own host answered with its own ARN.
        let first = wait_for("the task's first log line", Duration::from_secs(30), || {
            stream_messages(&server, "/parts", &stream).into_iter().next()
        });
        assert_eq!(first, format!("meta \"TaskARN\":\"{arn}\""));
        // Its container's figures reach /metrics from its agent.
        wait_for("the task's container figures on /metrics", Duration::from_secs(30), || {
            metric_for_task(&scrape(&server), "wharf_container_memory_usage_bytes", id)
                .filter(|bytes| *bytes > 0.0)
        });
    }

    // The server goes away for a while; the tasks keep logging.
    let before: Vec<usize> = running
        .iter()
        .map(|(_, arn)| {
            let stream = format!("ecs/main/{}", arn.rsplit('/').next().unwrap());
            stream_messages(&server, "/parts", &stream).len()
        })
        .collect();
    server.kill();
    std::thread::sleep(Duration::from_secs(3));
    server.start_again();
    // Every line comes, once and in order, including those of the outage.
    for ((_, arn), seen_before) in running.iter().zip(before) {
        let stream = format!("ecs/main/{}", arn.rsplit('/').next().unwrap());
        let lines = wait_for("the outage's lines", Duration::from_secs(60), || {
            let m = stream_messages(&server, "/parts", &stream);
            (m.len() > seen_before + 100).then_some(m)
        });
        let counted: Vec<&String> = lines.iter().skip(1).collect();
        for (i, l) in counted.iter().enumerate() {
            assert_eq!(**l, format!("line {}", i + 1), "in order, nothing lost or twice: {arn}");
        }
    }
    // The agents went on with their tasks: nothing was stopped or started again.
    let again = running_everywhere(&rig, "parts");
    assert_eq!(
        again.iter().map(|(_, a)| a).collect::<std::collections::BTreeSet<_>>(),
        running.iter().map(|(_, a)| a).collect::<std::collections::BTreeSet<_>>()
    );
}

/// A host that joined as Fargate capacity only (`wharf agent --fargate`) is no
/// cluster's instance, runs the cluster's Fargate tasks (reached at their awsvpc
/// addresses from the server's host), and a custom capacity provider places on the
/// cluster's hosts of its group (`--auto-scaling-group`).
#[test]
fn hosts_a_fargate_host_runs_fargate_tasks_and_a_group_runs_its_providers() {
    let rig = Rig::up("fargate", 2);
    let server = rig_server(&rig, &[]);
    let endpoint = server.endpoint();
    let _ec2 = rig.host(1).agent(&endpoint, &["--cluster", "cap", "--auto-scaling-group", "blue"]);
    let _pool = rig.host(2).agent(&endpoint, &["--fargate"]);
    wait_for("host 1 to join", Duration::from_secs(30), || {
        let i = instances(&server, "cap");
        (i.len() == 1 && i[0]["agentConnected"] == true).then_some(())
    });
    let created = ecs(
        &server,
        "CreateCapacityProvider",
        serde_json::json!({"name": "blue", "autoScalingGroupProvider": {"autoScalingGroupArn":
            "arn:aws:autoscaling:us-east-1:000000000000:autoScalingGroup:1:autoScalingGroupName/blue"}}),
    );
    assert_eq!(created["capacityProvider"]["name"], "blue", "{created}");
    ecs(
        &server,
        "PutClusterCapacityProviders",
        serde_json::json!({"cluster": "cap", "capacityProviders": ["FARGATE", "FARGATE_SPOT", "blue"],
            "defaultCapacityProviderStrategy": []}),
    );
    let td = ecs(
        &server,
        "RegisterTaskDefinition",
        serde_json::json!({"family": "fg", "networkMode": "awsvpc", "cpu": "256", "memory": "512",
            "containerDefinitions": [{"name": "web", "image": support::TEST_IMAGE, "stopTimeout": 1,
                "portMappings": [{"containerPort": 80}],
                "command": ["sh", "-c", "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 80 -h /www"]}]}),
    );
    assert!(td["taskDefinition"]["revision"].is_number(), "{td}");
    let ec2 = support::Aws::new(&server, "ec2");
    let subnets = ec2.ok(&["describe-subnets", "--filters", "Name=default-for-az,Values=true"]);
    let subnet = subnets["Subnets"][0]["SubnetId"].as_str().expect("a default subnet").to_owned();
    let network = serde_json::json!({"awsvpcConfiguration": {"subnets": [subnet]}});
    // The pool's host took time to register: retry until the pool has room.
    let run = wait_for("the Fargate pool", Duration::from_secs(30), || {
        let r = ecs(
            &server,
            "RunTask",
            serde_json::json!({"cluster": "cap", "taskDefinition": "fg", "count": 2,
                "networkConfiguration": network,
                "capacityProviderStrategy": [{"capacityProvider": "FARGATE_SPOT", "weight": 1}]}),
        );
        (r["tasks"].as_array().is_some_and(|t| t.len() == 2)).then_some(r)
    });
    assert_eq!(instances(&server, "cap").len(), 1, "the Fargate host is listed by no cluster");
    let fargate: Vec<serde_json::Value> =
        wait_for("the Fargate tasks running", Duration::from_secs(60), || {
            let t = tasks(&server, "cap", "RUNNING");
            let f: Vec<serde_json::Value> = t
                .into_iter()
                .filter(|t| t["lastStatus"] == "RUNNING" && task_address(t).is_some())
                .collect();
            (f.len() == 2).then_some(f)
        });
    let arns: Vec<&str> =
        run["tasks"].as_array().unwrap().iter().filter_map(|t| t["taskArn"].as_str()).collect();
    for t in &fargate {
        let arn = t["taskArn"].as_str().unwrap();
        assert!(arns.contains(&arn));
        assert_eq!(t["capacityProviderName"], "FARGATE_SPOT");
        assert!(rig.host(1).task_containers(arn).is_empty(), "not on the EC2 host");
        assert!(!rig.host(2).task_containers(arn).is_empty(), "on the Fargate host");
        let address = task_address(t).unwrap();
        // Reached once the server routes the pool host's slice (it reads them every 2 s).
        wait_for("the server's host to reach a Fargate task", Duration::from_secs(20), || {
            get(std::net::SocketAddr::from((address, 80))).filter(|(status, _)| *status == 200)
        });
    }
    // The group's provider: on host 1, the group's only host.
    let run = ecs(
        &server,
        "RunTask",
        serde_json::json!({"cluster": "cap", "taskDefinition": "fg", "networkConfiguration": network,
            "capacityProviderStrategy": [{"capacityProvider": "blue", "weight": 1}]}),
    );
    let t = &run["tasks"][0];
    assert_eq!(t["capacityProviderName"], "blue", "{run}");
    assert_eq!(t["launchType"], "EC2");
    let arn = t["taskArn"].as_str().unwrap().to_owned();
    wait_for("the group's task on host 1", Duration::from_secs(60), || {
        (!rig.host(1).task_containers(&arn).is_empty()).then_some(())
    });
}

/// Managed scaling of a custom capacity provider: a service short of room asks the
/// scaling hook for another host (the test plays the Auto Scaling group: it starts an
/// agent on a rig host when told), the service's task lands there, and once the
/// service scales to zero the idle hosts are handed to the hook after the low alarm's
/// fifteen periods and deregistered.
#[test]
fn hosts_managed_scaling_asks_the_hook_for_hosts_and_gives_idle_ones_back() {
    let rig = Rig::up("scale", 2);
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("hook.log");
    let hook = format!(
        "printf '%s|%s|%s\\n' \"$WHARF_DESIRED_CAPACITY\" \"$WHARF_REMOVE_ADDRESSES\" \
         \"$WHARF_AUTO_SCALING_GROUP\" >> {}",
        log.display()
    );
    let server = rig_server(&rig, &["--metrics-period", "1s", "--scaling-hook", &hook]);
    let endpoint = server.endpoint();
    let _first = rig.host(1).agent(&endpoint, &["--cluster", "ms", "--auto-scaling-group", "grow"]);
    wait_for("host 1 to join", Duration::from_secs(30), || {
        (instances(&server, "ms").len() == 1).then_some(())
    });
    let cpu = instances(&server, "ms")[0]["registeredResources"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["name"] == "CPU"))
        .and_then(|r| r["integerValue"].as_i64())
        .unwrap();
    let created = ecs(
        &server,
        "CreateCapacityProvider",
        serde_json::json!({"name": "grow", "autoScalingGroupProvider": {
            "autoScalingGroupArn": "grow",
            "managedScaling": {"status": "ENABLED", "targetCapacity": 100, "instanceWarmupPeriod": 5},
            "managedTerminationProtection": "ENABLED"}}),
    );
    assert_eq!(created["capacityProvider"]["name"], "grow", "{created}");
    ecs(
        &server,
        "PutClusterCapacityProviders",
        serde_json::json!({"cluster": "ms", "capacityProviders": ["grow"],
            "defaultCapacityProviderStrategy": [{"capacityProvider": "grow", "weight": 1}]}),
    );
    // One task fills a host.
    let td = ecs(
        &server,
        "RegisterTaskDefinition",
        serde_json::json!({"family": "big", "containerDefinitions": [{"name": "app",
            "image": support::TEST_IMAGE, "cpu": cpu - 100, "memory": 16, "stopTimeout": 1,
            "command": ["sleep", "3600"]}]}),
    );
    assert!(td["taskDefinition"]["revision"].is_number(), "{td}");
    ecs(
        &server,
        "CreateService",
        serde_json::json!({"cluster": "ms", "serviceName": "big", "taskDefinition": "big",
            "desiredCount": 2}),
    );
    let hook_lines = || std::fs::read_to_string(&log).unwrap_or_default();
    wait_for("the hook asked for two hosts", Duration::from_secs(30), || {
        hook_lines().lines().any(|l| l == "2||grow").then_some(())
    });
    let scaling = || {
        let d = ecs(
            &server,
            "DescribeCapacityProviders",
            serde_json::json!({"capacityProviders": ["grow"]}),
        );
        d["capacityProviders"][0]["wharfManagedScaling"][0].clone()
    };
    let s = scaling();
    assert_eq!((s["needed"].as_i64(), s["current"].as_i64()), (Some(2), Some(1)), "{s}");
    assert_eq!(s["capacityProviderReservation"].as_f64(), Some(200.0));
    // The "group" grows: an agent on host 2.
    let _second =
        rig.host(2).agent(&endpoint, &["--cluster", "ms", "--auto-scaling-group", "grow"]);
    let running = wait_for("both tasks running, one per host", Duration::from_secs(60), || {
        let t = tasks(&server, "ms", "RUNNING");
        (t.len() == 2 && t.iter().all(|t| t["lastStatus"] == "RUNNING")).then_some(t)
    });
    for t in &running {
        assert_eq!(t["capacityProviderName"], "grow");
    }
    wait_for("the reservation at 100", Duration::from_secs(20), || {
        let s = scaling();
        (s["capacityProviderReservation"].as_f64() == Some(100.0) && s["desired"] == 2)
            .then_some(())
    });
    let arns: Vec<serde_json::Value> =
        instances(&server, "ms").iter().map(|i| i["containerInstanceArn"].clone()).collect();
    assert_eq!(arns.len(), 2);
    // Scaled to zero: the low alarm (15 periods of 1 s), then both idle hosts go.
    ecs(
        &server,
        "UpdateService",
        serde_json::json!({"cluster": "ms", "service": "big", "desiredCount": 0}),
    );
    let addresses: Vec<String> = rig.hosts.iter().map(|h| h.address.to_string()).collect();
    let line = wait_for("the hook told to remove both hosts", Duration::from_secs(60), || {
        hook_lines().lines().find(|l| l.starts_with("0|")).map(str::to_owned)
    });
    for a in &addresses {
        assert!(line.contains(a.as_str()), "{line}");
    }
    wait_for("the removed hosts deregistered", Duration::from_secs(20), || {
        let d = ecs(
            &server,
            "DescribeContainerInstances",
            serde_json::json!({"cluster": "ms", "containerInstances": arns}),
        );
        let all = d["containerInstances"].as_array().cloned().unwrap_or_default();
        (all.len() == 2 && all.iter().all(|i| i["status"] == "INACTIVE")).then_some(())
    });
}
