//! The task metadata and credentials endpoints over real HTTP: every route
//! against the fake runtime, then a real bridge-mode container on Docker
//! reading its own metadata and credentials at `169.254.170.2`
//! (`scripts/docker-up` makes the engine; that test does not skip).

use std::collections::{BTreeSet, HashMap};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use wharf_agent::metadata::{self, CredentialsSource, Registry, RoleCredentials};
use wharf_agent::runtime::docker::DockerRuntime;
use wharf_agent::runtime::fake::{FakeRuntime, Op};
use wharf_agent::runtime::{
    ContainerCreateBody, ContainerState, Runtime, RuntimeError, LABEL_CONTAINER_NAME,
    LABEL_TASK_ARN,
};
use wharf_agent::spec::{self, NetworkAttachment, TaskContext};
use wharf_model::agent::Assignment;
use wharf_model::ecs::shapes::Task;

const TASK_ARN: &str =
    "arn:aws:ecs:us-east-1:000000000000:task/default/0123456789abcdef0123456789abcdef";
const ROLE: &str = "arn:aws:iam::000000000000:role/app";

/// An answer: status, `Content-Type`, body.
struct Answer {
    status: u16,
    content_type: String,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }
}

/// `GET path` over a fresh connection, HTTP/1.1, read to the end.
async fn get(addr: std::net::SocketAddr, path: &str) -> Answer {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut raw))
        .await
        .expect("answer within 10 s")
        .expect("read");
    let text = String::from_utf8(raw).expect("UTF-8 answer");
    let (head, body) = text.split_once("\r\n\r\n").expect("head and body");
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let mut content_type = String::new();
    let mut chunked = false;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else { continue };
        match name.trim().to_ascii_lowercase().as_str() {
            "content-type" => value.trim().clone_into(&mut content_type),
            "transfer-encoding" => chunked = value.trim().eq_ignore_ascii_case("chunked"),
            _ => {}
        }
    }
    let body = if chunked { dechunk(body) } else { body.to_owned() };
    Answer { status, content_type, body }
}

fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).expect("chunk size");
        if n == 0 {
            break;
        }
        out.push_str(&after[..n]);
        rest = &after[n + 2..];
    }
    out
}

fn assignment(role: &str, containers: Value) -> Assignment {
    serde_json::from_value(json!({
        "cluster": "default",
        "task": {
            "taskArn": TASK_ARN, "lastStatus": "PROVISIONING", "desiredStatus": "RUNNING",
            "launchType": "EC2", "group": "service:web",
            "tags": [{"key": "team", "value": "wharf"}],
            "containers": [{"name": "web"}, {"name": "side"}, {"name": "late"}]
        },
        "definition": {
            "family": "meta", "revision": 3, "networkMode": "bridge", "taskRoleArn": role,
            "containerDefinitions": containers
        }
    }))
    .expect("assignment")
}

async fn start(fake: &FakeRuntime, registry: &Registry, name: &str) -> String {
    let docker_name = format!("ecs-meta-3-{name}-0123");
    let body = ContainerCreateBody {
        image: Some("web:1".to_owned()),
        labels: Some(HashMap::from([
            (LABEL_TASK_ARN.to_owned(), TASK_ARN.to_owned()),
            (LABEL_CONTAINER_NAME.to_owned(), name.to_owned()),
        ])),
        ..Default::default()
    };
    let id = fake.create_container(&docker_name, body).await.expect("create");
    registry.container_created(TASK_ARN, name, &id, &docker_name);
    let info = fake.start_container(&id).await.expect("start");
    registry.container_started(TASK_ARN, name, &info, &docker_name);
    id
}

#[tokio::test]
async fn every_route_over_http_on_the_fake_runtime() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let registry = Registry::with_base_url(&format!("http://{addr}"));
    let fake = FakeRuntime::new();
    fake.add_image("web:1");
    let credentials = CredentialsSource::from_roles(HashMap::from([(
        ROLE.to_owned(),
        RoleCredentials {
            access_key_id: "AKIDWHARF".to_owned(),
            secret_access_key: "wharf-secret".to_owned(),
            token: Some("session".to_owned()),
            expiration: Some("2030-01-01T00:00:00Z".to_owned()),
        },
    )]));
    let runtime: Arc<dyn Runtime> = Arc::new(fake.clone());
    tokio::spawn(metadata::serve(listener, registry.clone(), runtime, credentials));

    let a = assignment(
        ROLE,
        json!([
            {"name": "web", "image": "web:1", "cpu": 128, "memory": 64,
             "portMappings": [{"containerPort": 8080, "hostPort": 0}]},
            {"name": "side", "image": "web:1"},
            {"name": "late", "image": "web:1"}
        ]),
    );
    let tokens =
        registry.add_task(&a, "arn:aws:ecs:us-east-1:000000000000:container-instance/default/i");
    let web_id = start(&fake, &registry, "web").await;
    let side_id = start(&fake, &registry, "side").await;
    let web = &tokens.containers["web"];
    let late = &tokens.containers["late"];
    let creds = tokens.credentials_id.clone().expect("the task has a role");

    // The environment points at this server.
    let env: HashMap<String, String> =
        registry.container_env(TASK_ARN, "web").into_iter().collect();
    assert_eq!(env["ECS_CONTAINER_METADATA_URI_V4"], format!("http://{addr}/v4/{web}"));
    assert_eq!(env["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"], format!("/v2/credentials/{creds}"));

    // v4 container.
    let answer = get(addr, &format!("/v4/{web}")).await;
    assert_eq!((answer.status, answer.content_type.as_str()), (200, "application/json"));
    let c = answer.json();
    assert_eq!(c["DockerId"], web_id);
    assert_eq!(c["Name"], "web");
    assert_eq!(c["DockerName"], "ecs-meta-3-web-0123");
    assert_eq!(c["KnownStatus"], "RUNNING");
    assert_eq!(c["Type"], "NORMAL");
    assert_eq!(c["Limits"], json!({"CPU": 128, "Memory": 64}));
    assert_eq!(c["Networks"][0]["NetworkMode"], "bridge");
    assert!(c["Networks"][0]["IPv4Addresses"][0]
        .as_str()
        .is_some_and(|ip| ip.starts_with("172.17.")));
    assert!(c["StartedAt"].as_str().is_some_and(|t| t.ends_with('Z')));

    // v4 task, with and without tags.
    let t = get(addr, &format!("/v4/{web}/task")).await.json();
    assert_eq!(t["TaskARN"], TASK_ARN);
    assert_eq!(t["Cluster"], "default");
    assert_eq!(t["Family"], "meta");
    assert_eq!(t["Revision"], "3");
    assert_eq!(t["ServiceName"], "web");
    assert_eq!(t["LaunchType"], "EC2");
    let ids: BTreeSet<&str> = t["Containers"]
        .as_array()
        .expect("containers")
        .iter()
        .filter_map(|c| c["DockerId"].as_str())
        .collect();
    assert_eq!(ids, BTreeSet::from([web_id.as_str(), side_id.as_str()]));
    assert!(t.get("TaskTags").is_none());
    let tagged = get(addr, &format!("/v4/{web}/taskWithTags")).await.json();
    assert_eq!(tagged["TaskTags"], json!({"team": "wharf"}));

    // A report reaches the metadata.
    registry.report(
        TASK_ARN,
        &serde_json::from_value::<Task>(
            json!({"lastStatus": "RUNNING", "pullStartedAt": 1700000000.5}),
        )
        .expect("report"),
    );
    let t = get(addr, &format!("/v4/{web}/task")).await.json();
    assert_eq!(t["KnownStatus"], "RUNNING");
    assert_eq!(t["PullStartedAt"], "2023-11-14T22:13:20.5Z");

    // Stats: the container's, and the task's by Docker ID.
    let s = get(addr, &format!("/v4/{web}/stats")).await;
    assert_eq!(s.status, 200);
    assert_eq!(s.json()["id"], web_id);
    let ts = get(addr, &format!("/v4/{web}/task/stats")).await.json();
    let keys: BTreeSet<&str> = ts.as_object().expect("map").keys().map(String::as_str).collect();
    assert_eq!(keys, BTreeSet::from([web_id.as_str(), side_id.as_str()]));
    assert_eq!(ts[&side_id]["id"], side_id);

    // v3: the same data, without the v4 additions.
    let c3 = get(addr, &format!("/v3/{web}")).await.json();
    assert_eq!(c3["DockerId"], web_id);
    assert!(c3.get("ContainerARN").is_none() && c3.get("LogDriver").is_none());
    let t3 = get(addr, &format!("/v3/{web}/task")).await.json();
    assert_eq!(t3["TaskARN"], TASK_ARN);
    assert!(t3.get("LaunchType").is_none());
    assert_eq!(get(addr, &format!("/v3/{web}/stats")).await.json()["id"], web_id);
    assert_eq!(
        get(addr, &format!("/v3/{web}/task/stats")).await.json().as_object().map(|m| m.len()),
        Some(2)
    );

    // Credentials, v2 and v1.
    let cr = get(addr, &format!("/v2/credentials/{creds}")).await;
    assert_eq!((cr.status, cr.content_type.as_str()), (200, "application/json"));
    assert_eq!(
        cr.json(),
        json!({"RoleArn": ROLE, "AccessKeyId": "AKIDWHARF", "SecretAccessKey": "wharf-secret",
               "Token": "session", "Expiration": "2030-01-01T00:00:00Z"})
    );
    assert_eq!(
        get(addr, &format!("/v1/credentials?id={creds}")).await.json()["AccessKeyId"],
        "AKIDWHARF"
    );

    // Errors, as the ECS agent answers them.
    let e = get(addr, "/v2/credentials/not-an-id").await;
    assert_eq!(e.status, 400);
    assert_eq!(
        e.json(),
        json!({"code": "InvalidIdInRequest", "message": "CredentialsV2Request: Credentials not found"})
    );
    let e = get(addr, "/v2/credentials/").await;
    assert_eq!((e.status, e.json()["code"].clone()), (400, json!("NoIdInRequest")));
    let e = get(addr, "/v1/credentials").await;
    assert_eq!(
        (e.status, e.json()["message"].clone()),
        (400, json!("CredentialsV1Request: No Credential ID in the request"))
    );
    let e = get(addr, "/v4/nope").await;
    assert_eq!(e.status, 404);
    assert_eq!(
        e.json(),
        json!("V4 container metadata handler: unable to get container ID from request: unable to get docker ID from v3 endpoint ID: nope")
    );
    let e = get(addr, "/v4/nope/task").await;
    assert_eq!(
        (e.status, e.json()),
        (404, json!("V4 task metadata handler: unable to get task arn from request: unable to get task Arn from v3 endpoint ID: nope"))
    );
    assert_eq!(get(addr, "/v4/nope/stats").await.status, 404);
    assert_eq!(get(addr, "/v4/nope/task/stats").await.status, 404);
    assert_eq!(get(addr, "/v3/nope").await.status, 400);
    assert_eq!(get(addr, "/v3/nope/task").await.status, 400);
    let e = get(addr, "/latest/meta-data").await;
    assert_eq!((e.status, e.body.as_str()), (404, "404 page not found\n"));

    // A container Docker does not have yet: no container metadata or
    // stats, but its task's metadata.
    assert_eq!(get(addr, &format!("/v4/{late}")).await.status, 404);
    assert_eq!(get(addr, &format!("/v4/{late}/stats")).await.status, 404);
    assert_eq!(get(addr, &format!("/v4/{late}/task")).await.json()["TaskARN"], TASK_ARN);

    // Started, but the driver has not said so yet: the server asks Docker.
    let late_id = fake
        .create_container(
            "ecs-meta-3-late-0123",
            ContainerCreateBody { image: Some("web:1".to_owned()), ..Default::default() },
        )
        .await
        .expect("create");
    registry.container_created(TASK_ARN, "late", &late_id, "ecs-meta-3-late-0123");
    let c = get(addr, &format!("/v4/{late}")).await.json();
    assert_eq!(
        (c["DockerId"].as_str(), c["KnownStatus"].as_str()),
        (Some(late_id.as_str()), Some("CREATED"))
    );
    assert!(c.get("Networks").is_none() && c.get("StartedAt").is_none());
    fake.start_container(&late_id).await.expect("start");
    let c = get(addr, &format!("/v4/{late}")).await.json();
    assert_eq!(c["KnownStatus"], "RUNNING");
    assert!(c["Networks"][0]["IPv4Addresses"][0]
        .as_str()
        .is_some_and(|ip| ip.starts_with("172.17.")));
    assert!(c["StartedAt"].is_string());
    fake.remove_container(&late_id).await.expect("remove");

    // Docker failing: 500 for the container, `{}` in the task's map.
    fake.fail_next(Op::Stats, RuntimeError::Unavailable("gone".to_owned()));
    let e = get(addr, &format!("/v4/{web}/stats")).await;
    assert_eq!(
        (e.status, e.json()),
        (500, json!(format!("Unable to get container stats for: {web_id}")))
    );
    fake.remove_container(&side_id).await.expect("remove");
    let ts = get(addr, &format!("/v4/{web}/task/stats")).await.json();
    assert_eq!(ts[&side_id], json!({}));
    assert_eq!(ts[&web_id]["id"], web_id);

    // Once removed, the task's tokens and credentials ID stop working.
    registry.remove_task(TASK_ARN);
    assert_eq!(get(addr, &format!("/v4/{web}")).await.status, 404);
    assert_eq!(
        get(addr, &format!("/v2/credentials/{creds}")).await.json()["code"],
        "InvalidIdInRequest"
    );

    // A role the source has nothing for.
    let other = registry.add_task(
        &assignment(
            "arn:aws:iam::000000000000:role/none",
            json!([{"name": "web", "image": "web:1"}]),
        ),
        "i",
    );
    let e = get(addr, &format!("/v2/credentials/{}", other.credentials_id.expect("role"))).await;
    assert_eq!(e.status, 400);
    assert_eq!(e.json()["code"], "NoCredentialsAssociated");
    assert!(!e.body.contains("wharf-secret"));
}

/// Removes the container when the test ends, passed or not.
struct Cleanup(String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["rm", "-f", "-v", &self.0]).output();
    }
}

#[tokio::test]
async fn a_bridge_container_reads_its_metadata_and_credentials_at_the_link_local_address() {
    metadata::ensure_link_local_address().expect("169.254.170.2 on lo (this test runs as root)");
    let listener = TcpListener::bind((metadata::LINK_LOCAL_ADDRESS, 0)).await.expect("bind");
    let port = listener.local_addr().expect("address").port();
    let rt = match DockerRuntime::connect().await {
        Ok(r) => r,
        Err(e) => {
            panic!("the Docker engine is unreachable ({e}); start it with `bash scripts/docker-up`")
        }
    };
    let registry =
        Registry::with_base_url(&format!("http://{}:{port}", metadata::LINK_LOCAL_ADDRESS));
    let credentials = CredentialsSource::from_json(&format!(
        r#"{{"{ROLE}": {{"AccessKeyId": "AKIDDOCKER", "SecretAccessKey": "docker-secret"}}}}"#
    ))
    .expect("credentials");
    let runtime: Arc<dyn Runtime> = Arc::new(rt.clone());
    tokio::spawn(metadata::serve(listener, registry.clone(), runtime, credentials));

    // Each check prints what it got, so that a failure shows it.
    let script = format!(
        r#"set -e
m=$(timeout 5 wget -qO- "$ECS_CONTAINER_METADATA_URI_V4"); echo "container: $m"
echo "$m" | grep -q "\"DockerId\":\"$HOSTNAME"
echo "$m" | grep -q '"Name":"probe"'
echo "$m" | grep -q '"KnownStatus":"RUNNING"'
echo "$m" | grep -q '"NetworkMode":"bridge","IPv4Addresses":\["[0-9]'
t=$(timeout 5 wget -qO- "$ECS_CONTAINER_METADATA_URI_V4/task"); echo "task: $t"
echo "$t" | grep -q '"TaskARN":"{TASK_ARN}"'
v3=$(timeout 5 wget -qO- "$ECS_CONTAINER_METADATA_URI"); echo "v3: $v3"
echo "$v3" | grep -q "\"DockerId\":\"$HOSTNAME"
s=$(timeout 5 wget -qO- "$ECS_CONTAINER_METADATA_URI_V4/stats"); echo "stats: $s"
echo "$s" | grep -q '"cpu_stats"'
c=$(timeout 5 wget -qO- "http://169.254.170.2:$METADATA_PORT$AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
echo "$c" | grep -q '"AccessKeyId":"AKIDDOCKER"'
echo ok"#
    );
    let a = assignment(
        ROLE,
        json!([{
            "name": "probe", "image": "wharf-test/busybox:1", "memory": 32,
            "command": ["sh", "-c", script],
            "environment": [{"name": "METADATA_PORT", "value": port.to_string()}]
        }]),
    );
    registry.add_task(&a, "i");
    let env = registry.container_env(TASK_ARN, "probe");
    let definition = a.definition.container_definitions.as_deref().expect("containers")[0].clone();
    let ctx = TaskContext {
        task_arn: TASK_ARN,
        cluster: "default",
        instance_arn: "arn:aws:ecs:us-east-1:000000000000:container-instance/default/i1",
        definition: &a.definition,
        docker_names: &HashMap::new(),
        volume_names: &HashMap::new(),
        extra_env: &env,
        network: NetworkAttachment::Bridge,
        cgroup_parent: None,
        default_dns: &[],
    };
    let body = spec::container_config(&ctx, &definition).expect("docker config");
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let docker_name = format!("wharf-metadata-probe-{}-{nanos:x}", std::process::id());
    let id = rt.create_container(&docker_name, body).await.expect("create");
    let _cleanup = Cleanup(id.clone());
    registry.container_created(TASK_ARN, "probe", &id, &docker_name);
    let info = rt.start_container(&id).await.expect("start");
    registry.container_started(TASK_ARN, "probe", &info, &docker_name);

    let deadline = Instant::now() + Duration::from_secs(40);
    let exit_code = loop {
        match rt.inspect_container(&id).await.expect("inspect").state {
            ContainerState::Exited { exit_code, .. } => break exit_code,
            _ if Instant::now() > deadline => panic!("the probe container did not finish in 40 s"),
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    };
    let logs = Command::new("docker").args(["logs", &id]).output().expect("docker logs");
    let logs = format!(
        "{}{}",
        String::from_utf8_lossy(&logs.stdout),
        String::from_utf8_lossy(&logs.stderr)
    );
    eprintln!("probe output:\n{logs}");
    assert_eq!(exit_code, 0, "the probe failed; its output:\n{logs}");
    assert!(logs.trim_end().ends_with("ok"), "{logs}");
}
