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
/// balancers' listeners on the gateway too, with `extra` arguments.
fn rig_server(rig: &Rig, extra: &[&str]) -> support::Server {
    let gateway = rig.gateway.to_string();
    let mut args = vec!["--no-agent", "--listener-address", &gateway];
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
            "command": ["sh", "-c", "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 80 -h /www"]}]}),
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
