//! JSON shapes against the ECS documentation's examples
//! (`task-metadata-endpoint-v4-examples`, `task-iam-roles`) and the ECS
//! agent's response types; tokens; the registry's bookkeeping.

use std::collections::{BTreeSet, HashMap};

use serde_json::{json, Value};
use wharf_model::agent::Assignment;
use wharf_model::ecs::shapes::Task;

use super::credentials::{CredentialsSource, RoleCredentials};
use super::registry::Registry;
use super::response::{self, rfc3339, rfc3339_seconds, Version};
use crate::pause::PAUSE_CONTAINER_NAME;
use crate::runtime::{ContainerInfo, ContainerState, Health, PortBinding};

const TASK_ARN: &str =
    "arn:aws:ecs:us-west-2:111122223333:task/default/8f03e41243824aea923aca126495f665";

fn assignment(network_mode: &str) -> Assignment {
    serde_json::from_value(json!({
        "cluster": "default",
        "task": {
            "taskArn": TASK_ARN,
            "clusterArn": "arn:aws:ecs:us-west-2:111122223333:cluster/default",
            "lastStatus": "PROVISIONING", "desiredStatus": "RUNNING",
            "launchType": "EC2", "availabilityZone": "us-west-2d",
            "group": "service:MyService",
            "tags": [{"key": "team", "value": "web"}],
            "containers": [
                {"name": "curl", "containerArn": "arn:aws:ecs:us-west-2:111122223333:container/0206b271-b33f-47ab-86c6-a0ba208a70a9", "lastStatus": "PENDING"},
                {"name": "side", "lastStatus": "PENDING"}
            ]
        },
        "definition": {
            "family": "curltest", "revision": 24, "networkMode": network_mode,
            "taskRoleArn": "arn:aws:iam::111122223333:role/app",
            "cpu": "512", "memory": "1 GB",
            "containerDefinitions": [
                {
                    "name": "curl", "image": "111122223333.dkr.ecr.us-west-2.amazonaws.com/curltest:latest",
                    "cpu": 10, "memory": 128,
                    "portMappings": [{"containerPort": 80, "protocol": "tcp"}],
                    "logConfiguration": {"logDriver": "awslogs", "options": {
                        "awslogs-group": "/ecs/metadata", "awslogs-region": "us-west-2",
                        "awslogs-stream-prefix": "ecs"}},
                    "healthCheck": {"command": ["CMD-SHELL", "true"]}
                },
                {"name": "side", "image": "busybox", "memoryReservation": 32}
            ]
        }
    }))
    .expect("fixture")
}

fn info(id: &str, state: ContainerState) -> ContainerInfo {
    ContainerInfo {
        id: id.to_owned(),
        labels: HashMap::from([
            ("com.amazonaws.ecs.task-arn".to_owned(), TASK_ARN.to_owned()),
            ("com.amazonaws.ecs.container-name".to_owned(), "curl".to_owned()),
            ("dev.wharf.managed".to_owned(), "true".to_owned()),
        ]),
        state,
        health: Some(Health::Healthy),
        ports: vec![PortBinding {
            container_port: 80,
            host_port: 49153,
            host_ip: "0.0.0.0".to_owned(),
            protocol: "tcp".to_owned(),
        }],
        addresses: HashMap::from([("bridge".to_owned(), "172.17.0.2".to_owned())]),
        started_at_ms: Some(1_601_597_708_062),
        finished_at_ms: None,
    }
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

fn container_json(registry: &Registry, name: &str, version: Version) -> Value {
    let state = registry.read();
    let record = state.tasks.get(TASK_ARN).expect("registered");
    let c = record.containers.iter().find(|c| c.name == name).expect("container");
    serde_json::to_value(response::container(record, c, version)).expect("json")
}

fn task_json(registry: &Registry, version: Version, tags: bool) -> Value {
    let state = registry.read();
    let record = state.tasks.get(TASK_ARN).expect("registered");
    serde_json::to_value(response::task(record, version, tags)).expect("json")
}

fn started(network_mode: &str) -> Registry {
    let registry = Registry::new();
    registry.add_task(
        &assignment(network_mode),
        "arn:aws:ecs:us-west-2:111122223333:container-instance/default/1",
    );
    registry.container_created(TASK_ARN, "curl", "ea32192c8553", "ecs-curltest-24-curl-8f03e412");
    registry.container_started(
        TASK_ARN,
        "curl",
        &info("ea32192c8553", ContainerState::Running),
        "/ecs-curltest-24-curl-8f03e412",
    );
    registry
}

#[test]
fn times_are_rfc3339_utc_as_go_writes_them() {
    assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    assert_eq!(rfc3339(1_601_597_707_620), "2020-10-02T00:15:07.62Z");
    assert_eq!(rfc3339(1_601_597_708_062), "2020-10-02T00:15:08.062Z");
    assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00Z");
    assert_eq!(rfc3339(-1), "1969-12-31T23:59:59.999Z");
    assert_eq!(rfc3339_seconds(1_495_499_782), "2017-05-23T00:36:22Z");
    assert_eq!(rfc3339_seconds(4_102_444_800), "2100-01-01T00:00:00Z");
}

#[test]
fn container_metadata_has_the_documented_fields() {
    let registry = started("bridge");
    let v = container_json(&registry, "curl", Version::V4);
    // The documented EC2 example's fields, with Ports and Health (this
    // container publishes a port and has a health check); Networks carries
    // the bridge's address.
    assert_eq!(
        keys(&v),
        set(&[
            "DockerId",
            "Name",
            "DockerName",
            "Image",
            "ImageID",
            "Labels",
            "DesiredStatus",
            "KnownStatus",
            "Limits",
            "CreatedAt",
            "StartedAt",
            "Type",
            "LogDriver",
            "LogOptions",
            "ContainerARN",
            "Networks",
            "Ports",
            "Health",
        ])
    );
    assert_eq!(v["DockerId"], "ea32192c8553");
    assert_eq!(v["Name"], "curl");
    assert_eq!(v["DockerName"], "ecs-curltest-24-curl-8f03e412");
    assert_eq!(v["Image"], "111122223333.dkr.ecr.us-west-2.amazonaws.com/curltest:latest");
    assert_eq!(v["ImageID"], "");
    assert_eq!(v["DesiredStatus"], "RUNNING");
    assert_eq!(v["KnownStatus"], "RUNNING");
    assert_eq!(v["Limits"], json!({"CPU": 10, "Memory": 128}));
    // Whole numbers as Go writes them.
    assert!(serde_json::to_string(&v)
        .expect("json")
        .contains(r#""Limits":{"CPU":10,"Memory":128}"#));
    assert_eq!(v["StartedAt"], "2020-10-02T00:15:08.062Z");
    assert_eq!(v["Type"], "NORMAL");
    assert_eq!(v["LogDriver"], "awslogs");
    assert_eq!(v["LogOptions"]["awslogs-group"], "/ecs/metadata");
    assert_eq!(
        v["ContainerARN"],
        "arn:aws:ecs:us-west-2:111122223333:container/0206b271-b33f-47ab-86c6-a0ba208a70a9"
    );
    assert_eq!(v["Networks"], json!([{"NetworkMode": "bridge", "IPv4Addresses": ["172.17.0.2"]}]));
    assert_eq!(
        v["Ports"],
        json!([{"ContainerPort": 80, "Protocol": "tcp", "HostPort": 49153, "HostIp": "0.0.0.0"}])
    );
    assert_eq!(v["Health"]["status"], "HEALTHY");
    assert!(v["Health"]["statusSince"].is_string());
    // Docker's labels, without Wharf's own marker.
    assert_eq!(v["Labels"]["com.amazonaws.ecs.container-name"], "curl");
    assert!(v["Labels"].get("dev.wharf.managed").is_none());
}

#[test]
fn v3_container_metadata_lacks_the_v4_additions() {
    let registry = started("bridge");
    let v = container_json(&registry, "curl", Version::V3);
    for field in ["LogDriver", "LogOptions", "ContainerARN"] {
        assert!(v.get(field).is_none(), "{field} in v3");
    }
    assert_eq!(v["Networks"], json!([{"NetworkMode": "bridge", "IPv4Addresses": ["172.17.0.2"]}]));
}

#[test]
fn task_metadata_has_the_documented_fields() {
    let registry = started("bridge");
    registry.report(
        TASK_ARN,
        &serde_json::from_value::<Task>(json!({
            "lastStatus": "RUNNING", "pullStartedAt": 1601599386.202, "pullStoppedAt": 1601599386.312
        }))
        .expect("report"),
    );
    let v = task_json(&registry, Version::V4, false);
    // The documented EC2 example's fields, less VPCID, ClockDrift and
    // EphemeralStorageMetrics (no VPC, no clock source, not Fargate), plus
    // Limits (the task has task-level cpu and memory) and the agent's
    // FaultInjectionEnabled.
    assert_eq!(
        keys(&v),
        set(&[
            "Cluster",
            "TaskARN",
            "Family",
            "ServiceName",
            "Revision",
            "DesiredStatus",
            "KnownStatus",
            "PullStartedAt",
            "PullStoppedAt",
            "AvailabilityZone",
            "LaunchType",
            "Containers",
            "Limits",
            "FaultInjectionEnabled",
        ])
    );
    assert_eq!(v["Cluster"], "default");
    assert_eq!(v["TaskARN"], TASK_ARN);
    assert_eq!(v["Family"], "curltest");
    assert_eq!(v["Revision"], "24");
    assert_eq!(v["ServiceName"], "MyService");
    assert_eq!(v["KnownStatus"], "RUNNING");
    assert_eq!(v["PullStartedAt"], "2020-10-02T00:43:06.202Z");
    assert_eq!(v["LaunchType"], "EC2");
    assert_eq!(v["AvailabilityZone"], "us-west-2d");
    assert_eq!(v["Limits"], json!({"CPU": 0.5, "Memory": 1024}));
    assert_eq!(v["FaultInjectionEnabled"], false);
    // Only the containers Docker has, as the ECS agent lists them.
    let containers = v["Containers"].as_array().expect("containers");
    assert_eq!(containers.len(), 1);
    assert_eq!(containers[0], container_json(&registry, "curl", Version::V4));

    let v3 = task_json(&registry, Version::V3, false);
    for field in ["LaunchType", "ServiceName", "FaultInjectionEnabled", "TaskTags"] {
        assert!(v3.get(field).is_none(), "{field} in v3");
    }
    let tagged = task_json(&registry, Version::V4, true);
    assert_eq!(tagged["TaskTags"], json!({"team": "web"}));
}

#[test]
fn awsvpc_networks_come_from_the_eni_attachment_and_the_pause_container_is_listed() {
    let registry = Registry::new();
    registry.add_task(&assignment("awsvpc"), "ci");
    registry.report(
        TASK_ARN,
        &serde_json::from_value::<Task>(json!({
            "attachments": [{"id": "a", "type": "ElasticNetworkInterface", "status": "ATTACHED",
                "details": [
                    {"name": "privateIPv4Address", "value": "10.0.2.100"},
                    {"name": "macAddress", "value": "0e:9e:32:c7:48:85"},
                    {"name": "privateDnsName", "value": "ip-10-0-2-100.us-west-2.compute.internal"}
                ]}]
        }))
        .expect("report"),
    );
    let mut pause = info("pause0001", ContainerState::Running);
    pause.health = None;
    registry.container_started(
        TASK_ARN,
        PAUSE_CONTAINER_NAME,
        &pause,
        "ecs-curltest-24-internalecspause-x",
    );
    let mut curl = info("curl0001", ContainerState::Running);
    curl.ports.clear();
    curl.addresses.clear();
    registry.container_started(TASK_ARN, "curl", &curl, "ecs-curltest-24-curl-x");
    let v = container_json(&registry, "curl", Version::V4);
    assert_eq!(
        v["Networks"],
        json!([{
            "NetworkMode": "awsvpc", "IPv4Addresses": ["10.0.2.100"], "AttachmentIndex": 0,
            "MACAddress": "0e:9e:32:c7:48:85",
            "PrivateDNSName": "ip-10-0-2-100.us-west-2.compute.internal"
        }])
    );
    assert_eq!(v["Ports"], json!([{"ContainerPort": 80, "Protocol": "tcp", "HostPort": 80}]));
    assert_eq!(
        container_json(&registry, "curl", Version::V3)["Networks"],
        json!([{"NetworkMode": "awsvpc", "IPv4Addresses": ["10.0.2.100"]}])
    );
    let task = task_json(&registry, Version::V4, false);
    let types: Vec<(&str, &str)> = task["Containers"]
        .as_array()
        .expect("containers")
        .iter()
        .map(|c| (c["Name"].as_str().unwrap_or(""), c["Type"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(types, [("curl", "NORMAL"), (PAUSE_CONTAINER_NAME, "CNI_PAUSE")]);
    // The pause container has no token.
    assert_eq!(registry.tokens(TASK_ARN).expect("tokens").containers.len(), 2);
}

#[test]
fn host_mode_lists_the_host_network_as_docker_does() {
    let registry = Registry::new();
    registry.add_task(&assignment("host"), "i");
    let mut host = info("h1", ContainerState::Running);
    host.addresses.clear();
    host.ports.clear();
    registry.container_started(TASK_ARN, "curl", &host, "ecs-curltest-24-curl-x");
    let v = container_json(&registry, "curl", Version::V4);
    assert_eq!(v["Networks"], json!([{"NetworkMode": "host", "IPv4Addresses": [""]}]));
    assert_eq!(v["Ports"], json!([{"ContainerPort": 80, "Protocol": "tcp"}]));
}

#[test]
fn reports_stop_containers_with_their_exit_codes() {
    let registry = started("bridge");
    registry.report(
        TASK_ARN,
        &serde_json::from_value::<Task>(json!({
            "lastStatus": "STOPPED", "desiredStatus": "STOPPED",
            "executionStoppedAt": 1601599400.0,
            "containers": [{"name": "curl", "lastStatus": "STOPPED", "exitCode": 3, "healthStatus": "UNHEALTHY"}]
        }))
        .expect("report"),
    );
    let v = container_json(&registry, "curl", Version::V4);
    assert_eq!(v["KnownStatus"], "STOPPED");
    assert_eq!(v["DesiredStatus"], "STOPPED");
    assert_eq!(v["ExitCode"], 3);
    assert!(v["FinishedAt"].is_string());
    assert_eq!(v["Health"]["status"], "UNHEALTHY");
    let t = task_json(&registry, Version::V4, false);
    assert_eq!(t["KnownStatus"], "STOPPED");
    assert_eq!(t["ExecutionStoppedAt"], "2020-10-02T00:43:20Z");
    // A later, out-of-order report changes nothing.
    registry.report(
        TASK_ARN,
        &serde_json::from_value::<Task>(json!({"lastStatus": "RUNNING",
            "containers": [{"name": "curl", "lastStatus": "RUNNING"}]}))
        .expect("report"),
    );
    assert_eq!(container_json(&registry, "curl", Version::V4)["KnownStatus"], "STOPPED");
    // A container with no health check has no Health, and no ExitCode
    // before it stops.
    let side = container_json(&registry, "side", Version::V4);
    assert!(side.get("Health").is_none());
    assert!(side.get("ExitCode").is_none());
    assert_eq!(side["Limits"], json!({"CPU": 0, "Memory": 32}));
    // Created but not seen started: no address yet.
    registry.container_created(TASK_ARN, "side", "side0001", "ecs-curltest-24-side-x");
    assert!(container_json(&registry, "side", Version::V4).get("Networks").is_none());
}

#[test]
fn tokens_are_unguessable_distinct_and_stable_under_a_secret() {
    let a = Registry::new().add_task(&assignment("bridge"), "i");
    let b = Registry::new().add_task(&assignment("bridge"), "i");
    assert_ne!(a, b, "random keys give different tokens");
    let tokens: BTreeSet<&String> = a.containers.values().collect();
    assert_eq!(tokens.len(), 2);
    for t in a.containers.values().chain(a.credentials_id.as_ref()) {
        let parsed = uuid::Uuid::parse_str(t).expect("uuid-shaped");
        assert_eq!(parsed.get_version_num(), 4);
    }
    assert!(!a.containers.values().any(|t| Some(t) == a.credentials_id.as_ref()));
    let s1 = Registry::new().with_secret(b"agent key").add_task(&assignment("bridge"), "i");
    let s2 = Registry::new().with_secret(b"agent key").add_task(&assignment("bridge"), "i");
    assert_eq!(s1, s2);
    assert!(!format!("{s1:?}").contains(&s1.containers["curl"]), "Debug hides tokens");
}

#[test]
fn container_env_points_at_the_endpoints() {
    let registry = Registry::with_base_url("http://127.0.0.1:8080/");
    let tokens = registry.add_task(&assignment("bridge"), "i");
    let env: HashMap<String, String> =
        registry.container_env(TASK_ARN, "curl").into_iter().collect();
    let token = &tokens.containers["curl"];
    let id = tokens.credentials_id.as_ref().expect("role");
    assert_eq!(env["ECS_CONTAINER_METADATA_URI_V4"], format!("http://127.0.0.1:8080/v4/{token}"));
    assert_eq!(env["ECS_CONTAINER_METADATA_URI"], format!("http://127.0.0.1:8080/v3/{token}"));
    assert_eq!(env["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"], format!("/v2/credentials/{id}"));
    assert_eq!(env.len(), 3);
    assert!(registry.container_env(TASK_ARN, "nope").is_empty());
    assert!(registry.container_env("arn:other", "curl").is_empty());

    // No role: no credentials variable. RunTask's override gives one.
    let mut a = assignment("bridge");
    a.definition.task_role_arn = None;
    let registry = Registry::new();
    assert!(registry.add_task(&a, "i").credentials_id.is_none());
    assert_eq!(registry.container_env(TASK_ARN, "curl").len(), 2);
    let mut a = assignment("bridge");
    a.definition.task_role_arn = None;
    a.task.overrides = serde_json::from_value(json!({"taskRoleArn": "arn:aws:iam::1:role/o"})).ok();
    let registry = Registry::new();
    registry.add_task(&a, "i");
    assert_eq!(registry.container_env(TASK_ARN, "curl").len(), 3);
}

#[test]
fn removing_a_task_forgets_its_tokens() {
    let registry = started("bridge");
    let tokens = registry.tokens(TASK_ARN).expect("tokens");
    // Registering again keeps what is known.
    assert_eq!(registry.add_task(&assignment("bridge"), "i"), tokens);
    assert_eq!(container_json(&registry, "curl", Version::V4)["KnownStatus"], "RUNNING");
    registry.remove_task(TASK_ARN);
    let state = registry.read();
    assert!(state.tasks.is_empty() && state.tokens.is_empty() && state.credentials.is_empty());
}

#[test]
fn credentials_files_parse_and_never_echo_values() {
    let source = CredentialsSource::from_json(
        r#"{"arn:aws:iam::1:role/a": {"AccessKeyId": "AKIDA", "SecretAccessKey": "s3cr3t", "Token": "tok"},
            "*": {"AccessKeyId": "AKIDANY", "SecretAccessKey": "other"}}"#,
    )
    .expect("parses");
    assert_eq!(
        source.lookup("arn:aws:iam::1:role/a").map(|c| c.access_key_id.as_str()),
        Some("AKIDA")
    );
    assert_eq!(
        source.lookup("arn:aws:iam::1:role/b").map(|c| c.access_key_id.as_str()),
        Some("AKIDANY")
    );
    let debug = format!("{source:?} {:?}", source.lookup("arn:aws:iam::1:role/a"));
    assert!(!debug.contains("s3cr3t") && !debug.contains("tok\""), "{debug}");
    assert!(CredentialsSource::none().lookup("arn:aws:iam::1:role/a").is_none());

    let wrong_type =
        CredentialsSource::from_json(r#"{"r": "s3cr3t-where-a-map-goes"}"#).expect_err("invalid");
    assert!(!wrong_type.to_string().contains("s3cr3t"), "{wrong_type}");
    let unknown = CredentialsSource::from_json(
        r#"{"r": {"AccessKeyId": "a", "SecretAccessKey": "b", "SessionToken": "c"}}"#,
    )
    .expect_err("unknown field");
    assert!(unknown.to_string().contains("unknown field `SessionToken`"), "{unknown}");
    let missing =
        CredentialsSource::from_json(r#"{"r": {"AccessKeyId": "a"}}"#).expect_err("missing");
    assert!(missing.to_string().contains("missing field `SecretAccessKey`"), "{missing}");
    let role = RoleCredentials {
        access_key_id: "AKID".to_owned(),
        secret_access_key: "hidden".to_owned(),
        token: Some("hidden-too".to_owned()),
        expiration: None,
    };
    assert!(!format!("{role:?}").contains("hidden"));
}

#[test]
fn credentials_answer_has_the_agents_fields() {
    let body = response::CredentialsResponse {
        role_arn: "arn:aws:iam::1:role/a".to_owned(),
        access_key_id: "AKID".to_owned(),
        secret_access_key: "s".to_owned(),
        token: String::new(),
        expiration: "2017-05-23T00:36:22Z".to_owned(),
    };
    let v = serde_json::to_value(&body).expect("json");
    assert_eq!(
        keys(&v),
        set(&["RoleArn", "AccessKeyId", "SecretAccessKey", "Token", "Expiration"])
    );
}
