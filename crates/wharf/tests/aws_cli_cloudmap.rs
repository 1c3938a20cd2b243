//! The real `aws` CLI against a real `wharf server` with its embedded agent on
//! Docker: Cloud Map namespaces, services and instances; an ECS service with
//! `serviceRegistries` registering its awsvpc tasks as they turn healthy and
//! deregistering them as they go; and a container of the service resolving
//! the service's name through Wharf's DNS resolver.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::{Aws, ClusterServer};

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}")).to_owned()
}

fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A link-local address of this test's own for the resolver (servers of the
/// suite run side by side).
fn dns_address() -> String {
    format!("169.254.171.{}:53", 10 + std::process::id() % 200)
}

#[test]
fn cloud_map_api_and_an_ecs_service_found_by_dns() {
    let cluster = format!("cloudmap-{}", std::process::id());
    let dns = dns_address();
    let world = ClusterServer::launch(
        cluster.clone(),
        &["--metadata-address", "off", "--listener-address", "off", "--dns-address", &dns],
    );
    let sd = Aws::new(&world.server, "servicediscovery");
    let ec2 = Aws::new(&world.server, "ec2");
    let ecs = Aws::new(&world.server, "ecs");

    // A private DNS namespace in the default VPC, and an HTTP one.
    let vpc = s(&ec2.ok(&["describe-vpcs"])["Vpcs"][0]["VpcId"]);
    let zone = format!("internal{}", std::process::id());
    let op = sd.ok(&["create-private-dns-namespace", "--name", &zone, "--vpc", &vpc]);
    let op = sd.ok(&["get-operation", "--operation-id", &s(&op["OperationId"])]);
    assert_eq!(op["Operation"]["Status"], "SUCCESS");
    assert_eq!(op["Operation"]["Type"], "CREATE_NAMESPACE");
    let ns_id = s(&op["Operation"]["Targets"]["NAMESPACE"]);
    let missing_vpc = sd.fails(&[
        "create-private-dns-namespace",
        "--name",
        "x.internal",
        "--vpc",
        "vpc-12345678",
    ]);
    assert!(missing_vpc.contains("InvalidInput"), "{missing_vpc}");
    sd.ok(&["create-http-namespace", "--name", "apps"]);
    let again = sd.fails(&["create-http-namespace", "--name", "apps"]);
    assert!(again.contains("NamespaceAlreadyExists"), "{again}");
    let listed =
        sd.ok(&["list-namespaces", "--filters", "Name=TYPE,Values=DNS_PRIVATE,Condition=EQ"]);
    assert_eq!(listed["Namespaces"].as_array().map(Vec::len), Some(1), "{listed}");
    let ns = sd.ok(&["get-namespace", "--id", &ns_id]);
    assert_eq!(ns["Namespace"]["Name"], zone.as_str());
    assert_eq!(ns["Namespace"]["Type"], "DNS_PRIVATE");

    let service = sd.ok(&[
        "create-service",
        "--name",
        "web",
        "--namespace-id",
        &ns_id,
        "--dns-config",
        "DnsRecords=[{Type=A,TTL=10}]",
        "--health-check-custom-config",
        "FailureThreshold=1",
    ]);
    let srv_id = s(&service["Service"]["Id"]);
    let srv_arn = s(&service["Service"]["Arn"]);
    assert_eq!(service["Service"]["DnsConfig"]["RoutingPolicy"], "MULTIVALUE");
    let busy = sd.fails(&["delete-namespace", "--id", &ns_id]);
    assert!(busy.contains("ResourceInUse"), "{busy}");

    // A hand-registered instance, listed and found, then gone.
    let bad = sd.fails(&[
        "register-instance",
        "--service-id",
        &srv_id,
        "--instance-id",
        "i1",
        "--attributes",
        "x=1",
    ]);
    assert!(bad.contains("AWS_INSTANCE_IPV4"), "{bad}");
    sd.ok(&[
        "register-instance",
        "--service-id",
        &srv_id,
        "--instance-id",
        "manual",
        "--attributes",
        "AWS_INSTANCE_IPV4=192.0.2.7,team=web",
    ]);
    let listed = sd.ok(&["list-instances", "--service-id", &srv_id]);
    assert_eq!(listed["Instances"][0]["Id"], "manual");
    // DiscoverInstances goes to `data-<host>` unless host prefixes are off,
    // which an endpoint on an IP address needs.
    let found = sd
        .command(&["discover-instances", "--namespace-name", &zone, "--service-name", "web"])
        .env("AWS_DISABLE_HOST_PREFIX_INJECTION", "true")
        .output()
        .expect("discover-instances");
    assert!(found.status.success(), "{}", String::from_utf8_lossy(&found.stderr));
    let found: Value = serde_json::from_slice(&found.stdout).expect("JSON");
    assert_eq!(found["Instances"][0]["InstanceId"], "manual", "{found}");
    assert_eq!(found["Instances"][0]["HealthStatus"], "HEALTHY");
    assert_eq!(found["Instances"][0]["Attributes"]["team"], "web");
    sd.ok(&["deregister-instance", "--service-id", &srv_id, "--instance-id", "manual"]);

    // An ECS service on awsvpc registering its tasks.
    let subnets = ec2.ok(&["describe-subnets", "--filters", "Name=default-for-az,Values=true"]);
    let subnet = s(&subnets["Subnets"][0]["SubnetId"]);
    let td = json!({
        "family": "found",
        "networkMode": "awsvpc",
        "containerDefinitions": [{
            "name": "web", "image": support::TEST_IMAGE, "memory": 32, "essential": true,
            "stopTimeout": 1,
            "portMappings": [{"containerPort": 80, "protocol": "tcp"}],
            "command": ["sh", "-c", "mkdir -p /w && echo hi > /w/index.html && exec httpd -f -p 80 -h /w"],
            "healthCheck": {"command": ["CMD-SHELL", "wget -q -O /dev/null http://127.0.0.1/"],
                            "interval": 5, "timeout": 2, "retries": 2}
        }]
    });
    ecs.ok(&["register-task-definition", "--cli-input-json", &td.to_string()]);
    let unknown = ecs.fails(&[
        "create-service",
        "--cluster",
        &cluster,
        "--service-name",
        "found",
        "--task-definition",
        "found",
        "--desired-count",
        "2",
        "--network-configuration",
        &format!("awsvpcConfiguration={{subnets=[{subnet}]}}"),
        "--service-registries",
        "registryArn=arn:aws:servicediscovery:us-east-1:000000000000:service/srv-aaaaaaaaaaaaaaaa",
    ]);
    assert!(unknown.contains("does not exist"), "{unknown}");
    ecs.ok(&[
        "create-service",
        "--cluster",
        &cluster,
        "--service-name",
        "found",
        "--task-definition",
        "found",
        "--desired-count",
        "2",
        "--network-configuration",
        &format!("awsvpcConfiguration={{subnets=[{subnet}]}}"),
        "--service-registries",
        &format!("registryArn={srv_arn}"),
    ]);
    let by_ns = ecs.ok(&["list-services-by-namespace", "--namespace", &zone]);
    assert_eq!(by_ns["serviceArns"].as_array().map(Vec::len), Some(1), "{by_ns}");

    let registered = wait_for("two registered tasks", Duration::from_secs(90), || {
        let l = sd.ok(&["list-instances", "--service-id", &srv_id]);
        let items = l["Instances"].as_array()?.clone();
        (items.len() == 2).then_some(items)
    });
    let tasks = ecs.ok(&["list-tasks", "--cluster", &cluster, "--service-name", "found"]);
    let task_ids: Vec<String> = tasks["taskArns"]
        .as_array()
        .expect("tasks")
        .iter()
        .map(|a| s(a).rsplit('/').next().unwrap_or_default().to_owned())
        .collect();
    let mut ips = Vec::new();
    for i in &registered {
        assert!(task_ids.contains(&s(&i["Id"])), "instance ids are task ids: {i}");
        assert_eq!(i["Attributes"]["ECS_SERVICE_NAME"], "found");
        assert_eq!(i["Attributes"]["ECS_CLUSTER_NAME"], cluster.as_str());
        ips.push(s(&i["Attributes"]["AWS_INSTANCE_IPV4"]));
    }
    ips.sort();

    // A container of the service resolves the name to both tasks.
    let container = {
        let out = Command::new("docker")
            .args(["ps", "-q", "--filter", &format!("label=com.amazonaws.ecs.cluster={cluster}")])
            .args(["--filter", "label=com.amazonaws.ecs.container-name=web"])
            .output()
            .expect("docker ps");
        String::from_utf8_lossy(&out.stdout).lines().next().expect("a task container").to_owned()
    };
    let name = format!("web.{zone}");
    let looked_up = Command::new("docker")
        .args(["exec", &container, "nslookup", &name])
        .output()
        .expect("docker exec nslookup");
    let text = String::from_utf8_lossy(&looked_up.stdout).into_owned();
    for ip in &ips {
        assert!(text.contains(ip.as_str()), "{name} answers {ip}:\n{text}");
    }
    // The awsvpc task asks Wharf's resolver directly, as an ECS task asks its
    // VPC's, not through Docker's embedded resolver.
    let resolv = Command::new("docker")
        .args(["exec", &container, "cat", "/etc/resolv.conf"])
        .output()
        .expect("docker exec cat");
    let resolv = String::from_utf8_lossy(&resolv.stdout).into_owned();
    let resolver_ip = dns.rsplit_once(':').map_or(dns.as_str(), |(ip, _)| ip);
    assert!(resolv.contains(&format!("nameserver {resolver_ip}\n")), "{resolv}");
    assert!(!resolv.contains("127.0.0.11"), "{resolv}");
    // Other names are forwarded, as Docker's resolver does: the answer is
    // the host's resolver's (here: whatever it says about a reserved name).
    let nx = Command::new("docker")
        .args(["exec", &container, "nslookup", &format!("nothing.{zone}")])
        .output()
        .expect("nslookup");
    let nx_text =
        String::from_utf8_lossy(&nx.stdout).into_owned() + &String::from_utf8_lossy(&nx.stderr);
    assert!(!nx.status.success() || nx_text.contains("NXDOMAIN"), "{nx_text}");

    // Scaled in: a task's record goes (before it stops) and DNS follows.
    ecs.ok(&[
        "update-service",
        "--cluster",
        &cluster,
        "--service",
        "found",
        "--desired-count",
        "1",
    ]);
    wait_for("one registered task", Duration::from_secs(30), || {
        let l = sd.ok(&["list-instances", "--service-id", &srv_id]);
        (l["Instances"].as_array()?.len() == 1).then_some(())
    });
    ecs.ok(&[
        "update-service",
        "--cluster",
        &cluster,
        "--service",
        "found",
        "--desired-count",
        "0",
    ]);
    wait_for("no registered task", Duration::from_secs(30), || {
        let l = sd.ok(&["list-instances", "--service-id", &srv_id]);
        l["Instances"].as_array()?.is_empty().then_some(())
    });
    ecs.ok(&["delete-service", "--cluster", &cluster, "--service", "found", "--force"]);
    sd.ok(&["delete-service", "--id", &srv_id]);
    let op = sd.ok(&["delete-namespace", "--id", &ns_id]);
    assert!(op["OperationId"].is_string());
    let gone = sd.fails(&["get-namespace", "--id", &ns_id]);
    assert!(gone.contains("NamespaceNotFound"), "{gone}");
}
