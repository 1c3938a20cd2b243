//! The Docker runtime against the real engine (`scripts/docker-up` makes one:
//! Docker 20.10, API 1.41, image `wharf-test/busybox:1`, a registry on
//! 127.0.0.1:5000 with user `wharf` / password `wharf-test`).
//!
//! These tests never skip: an unreachable engine fails them, with a message
//! saying how to start it.

use std::collections::HashMap;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bollard::query_parameters::{
    InspectContainerOptions, PushImageOptions, RemoveImageOptions, TagImageOptions,
};
use futures_util::stream::{BoxStream, StreamExt};
use serde_json::json;
use wharf_agent::runtime::docker::DockerRuntime;
use wharf_agent::runtime::{
    ContainerCreateBody, ContainerState, Health, RegistryAuth, Runtime, RuntimeError, RuntimeEvent,
    VolumeSpec, LABEL_CONTAINER_NAME, LABEL_MANAGED, LABEL_TASK_ARN,
};
use wharf_agent::spec::{self, NetworkAttachment, TaskContext};
use wharf_model::ecs::shapes::{ContainerDefinition, TaskDefinition};

const IMAGE: &str = "wharf-test/busybox:1";
const REGISTRY: &str = "127.0.0.1:5000";

async fn runtime() -> DockerRuntime {
    match DockerRuntime::connect().await {
        Ok(r) => r,
        Err(e) => panic!(
            "the Docker engine is unreachable ({e}); start it with `bash scripts/docker-up` \
             (these tests need a real engine and do not skip)"
        ),
    }
}

/// A name no other test (or run) uses.
fn unique(what: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    format!(
        "wharf-rt-{what}-{}-{nanos:x}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Removes the container when the test ends, passed or not.
struct Cleanup(String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["rm", "-f", "-v", &self.0]).output();
    }
}

fn busybox(cmd: &[&str]) -> ContainerCreateBody {
    ContainerCreateBody {
        image: Some(IMAGE.to_owned()),
        cmd: Some(cmd.iter().map(|s| (*s).to_owned()).collect()),
        labels: Some(HashMap::from([(LABEL_TASK_ARN.to_owned(), "test".to_owned())])),
        ..Default::default()
    }
}

/// Creates and registers for cleanup.
async fn create(rt: &DockerRuntime, what: &str, config: ContainerCreateBody) -> (String, Cleanup) {
    let name = unique(what);
    let id = rt.create_container(&name, config).await.expect("create container");
    (id.clone(), Cleanup(id))
}

/// The next event for `id`, within `within`.
async fn next_event(
    events: &mut BoxStream<'static, Result<RuntimeEvent, RuntimeError>>,
    id: &str,
    within: Duration,
    want: impl Fn(&RuntimeEvent) -> bool,
) -> RuntimeEvent {
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let event = match tokio::time::timeout(left, events.next()).await {
            Ok(Some(Ok(e))) => e,
            Ok(Some(Err(e))) => panic!("event stream error: {e}"),
            Ok(None) => panic!("event stream ended"),
            Err(_) => panic!("no matching event for {id} within {within:?}"),
        };
        let event_id = match &event {
            RuntimeEvent::Started { id }
            | RuntimeEvent::Died { id, .. }
            | RuntimeEvent::Health { id, .. } => id,
        };
        if event_id == id && want(&event) {
            return event;
        }
    }
}

#[tokio::test]
async fn negotiates_the_engine_api_version() {
    let rt = runtime().await;
    let server = rt.client().version().await.expect("version");
    assert_eq!(
        Some(rt.api_version()),
        server.api_version,
        "client must speak the engine's version"
    );
}

#[tokio::test]
async fn create_start_inspect_a_mapped_container() {
    let rt = runtime().await;
    let def: TaskDefinition = serde_json::from_value(json!({
        "family": "rt-test", "revision": 4, "networkMode": "bridge", "memory": "64",
        "containerDefinitions": []
    }))
    .expect("task definition");
    let container: ContainerDefinition = serde_json::from_value(json!({
        "name": "web", "image": IMAGE,
        "command": ["httpd", "-f", "-p", "8080"],
        "environment": [{"name": "GREETING", "value": "hello"}],
        "portMappings": [{"containerPort": 8080}, {"containerPort": 9090, "protocol": "udp"}],
        "dockerLabels": {"team": "wharf"},
        "healthCheck": {"command": ["CMD-SHELL", "true"], "interval": 5},
        "linuxParameters": {"initProcessEnabled": true, "tmpfs": [{"containerPath": "/scratch", "size": 8}]},
        "ulimits": [{"name": "nofile", "softLimit": 1024, "hardLimit": 2048}]
    }))
    .expect("container definition");
    let names = HashMap::new();
    let volumes = HashMap::new();
    let extra =
        vec![("ECS_CONTAINER_METADATA_URI_V4".to_owned(), "http://169.254.170.2/v4/x".to_owned())];
    let arn = format!("arn:aws:ecs:us-east-1:000000000000:task/default/{}", unique("task"));
    let ctx = TaskContext {
        task_arn: &arn,
        cluster: "default",
        instance_arn: "arn:aws:ecs:us-east-1:000000000000:container-instance/default/i1",
        definition: &def,
        docker_names: &names,
        volume_names: &volumes,
        extra_env: &extra,
        network: NetworkAttachment::Bridge,
        cgroup_parent: None,
        default_dns: &[],
    };
    let config = spec::container_config(&ctx, &container).expect("maps");
    let (id, _cleanup) = create(&rt, "mapped", config).await;

    let created = rt.inspect_container(&id).await.expect("inspect");
    assert_eq!(created.state, ContainerState::Created);
    assert_eq!(created.labels.get(LABEL_MANAGED).map(String::as_str), Some("true"));

    let info = rt.start_container(&id).await.expect("start");
    assert_eq!(info.state, ContainerState::Running);
    assert_eq!(info.labels.get(LABEL_CONTAINER_NAME).map(String::as_str), Some("web"));
    assert_eq!(info.labels.get(LABEL_TASK_ARN), Some(&arn));
    assert_eq!(info.labels.get("team").map(String::as_str), Some("wharf"));
    assert!(info.started_at_ms.is_some_and(|t| t > 1_600_000_000_000), "{:?}", info.started_at_ms);
    let tcp: Vec<_> =
        info.ports.iter().filter(|p| p.container_port == 8080 && p.protocol == "tcp").collect();
    assert!(!tcp.is_empty(), "8080/tcp published: {:?}", info.ports);
    assert!(tcp.iter().all(|p| p.host_port > 0), "dynamic host port assigned: {:?}", info.ports);
    assert!(
        info.ports.iter().any(|p| p.container_port == 9090 && p.protocol == "udp"),
        "{:?}",
        info.ports
    );
    let ip = info.addresses.get("bridge").expect("bridge address");
    assert!(ip.parse::<std::net::Ipv4Addr>().is_ok(), "{ip}");

    // The engine took the mapped configuration as given.
    let raw = rt
        .client()
        .inspect_container(&id, None::<InspectContainerOptions>)
        .await
        .expect("raw inspect");
    let env = raw.config.as_ref().and_then(|c| c.env.clone()).unwrap_or_default();
    assert!(env.contains(&"GREETING=hello".to_owned()), "{env:?}");
    assert!(
        env.contains(&"ECS_CONTAINER_METADATA_URI_V4=http://169.254.170.2/v4/x".to_owned()),
        "{env:?}"
    );
    let host = raw.host_config.expect("host config");
    assert_eq!(host.memory, Some(64 * 1024 * 1024));
    assert_eq!(host.cpu_shares, Some(2));
    assert_eq!(host.init, Some(true));
    assert_eq!(host.tmpfs.unwrap_or_default().get("/scratch").map(String::as_str), Some("size=8m"));

    // The published port answers.
    let port = tcp[0].host_port;
    let mut answered = false;
    for _ in 0..50 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            answered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(answered, "nothing answers on 127.0.0.1:{port}");

    let managed = rt.list_managed(&[]).await.expect("list");
    let listed = managed.iter().find(|c| c.id == id).expect("listed as managed");
    assert_eq!(listed.state, ContainerState::Running);
    assert_eq!(listed.ports, info.ports);
    // Listed by its task's label, as an agent finds a task's containers to adopt.
    let of_task = rt.list_managed(&[(LABEL_TASK_ARN, &arn)]).await.expect("list by label");
    assert_eq!(of_task.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), [id.as_str()]);
    let other = rt.list_managed(&[(LABEL_TASK_ARN, "arn:aws:ecs:us-east-1:0:task/default/none")]);
    assert!(other.await.expect("list by label").is_empty());

    rt.stop_container(&id, Duration::from_secs(1)).await.expect("stop");
    rt.remove_container(&id).await.expect("remove");
    rt.remove_container(&id).await.expect("removing a removed container is fine");
    assert!(matches!(rt.inspect_container(&id).await, Err(RuntimeError::NotFound(_))));
    assert!(!rt.list_managed(&[]).await.expect("list").iter().any(|c| c.id == id));
}

#[tokio::test]
async fn die_event_carries_the_exit_code() {
    let rt = runtime().await;
    let mut events = rt.events();
    let (id, _cleanup) = create(&rt, "exit", busybox(&["sh", "-c", "sleep 0.3; exit 7"])).await;
    rt.start_container(&id).await.expect("start");
    next_event(&mut events, &id, Duration::from_secs(20), |e| {
        matches!(e, RuntimeEvent::Started { .. })
    })
    .await;
    let died = next_event(&mut events, &id, Duration::from_secs(20), |e| {
        matches!(e, RuntimeEvent::Died { .. })
    })
    .await;
    assert_eq!(died, RuntimeEvent::Died { id: id.clone(), exit_code: 7, oom_killed: false });
    let info = rt.inspect_container(&id).await.expect("inspect");
    assert_eq!(info.state, ContainerState::Exited { exit_code: 7, oom_killed: false });
    assert!(info.finished_at_ms >= info.started_at_ms);
    // Stopping an exited container is not an error.
    rt.stop_container(&id, Duration::from_secs(1)).await.expect("stop exited");
}

#[tokio::test]
async fn oom_kill_is_reported() {
    let rt = runtime().await;
    let mut events = rt.events();
    let mut config =
        busybox(&["sh", "-c", "x=$(head -c 100000000 /dev/zero | tr '\\0' a); echo ${#x}"]);
    config.host_config = Some(bollard::models::HostConfig {
        memory: Some(6 * 1024 * 1024),
        // No swap either, so the limit bites at once.
        memory_swap: Some(6 * 1024 * 1024),
        ..Default::default()
    });
    let (id, _cleanup) = create(&rt, "oom", config).await;
    rt.start_container(&id).await.expect("start");
    let died = next_event(&mut events, &id, Duration::from_secs(60), |e| {
        matches!(e, RuntimeEvent::Died { .. })
    })
    .await;
    let RuntimeEvent::Died { exit_code, oom_killed, .. } = died else { unreachable!() };
    assert!(oom_killed, "expected an OOM kill, got exit {exit_code}");
    assert_eq!(exit_code, 137);
    let info = rt.inspect_container(&id).await.expect("inspect");
    assert_eq!(info.state, ContainerState::Exited { exit_code: 137, oom_killed: true });
}

#[tokio::test]
async fn health_events() {
    let rt = runtime().await;
    let mut events = rt.events();
    let mut config = busybox(&["sh", "-c", "touch /tmp/ok; sleep 60"]);
    config.healthcheck = Some(bollard::models::HealthConfig {
        test: Some(vec!["CMD-SHELL".to_owned(), "test -e /tmp/ok".to_owned()]),
        interval: Some(500_000_000),
        timeout: Some(2_000_000_000),
        retries: Some(1),
        start_period: Some(0),
        start_interval: None,
    });
    let (id, _cleanup) = create(&rt, "health", config).await;
    let info = rt.start_container(&id).await.expect("start");
    assert_eq!(info.health, Some(Health::Starting));
    let healthy = next_event(&mut events, &id, Duration::from_secs(20), |e| {
        matches!(e, RuntimeEvent::Health { .. })
    })
    .await;
    assert_eq!(healthy, RuntimeEvent::Health { id: id.clone(), health: Health::Healthy });
    assert_eq!(rt.inspect_container(&id).await.expect("inspect").health, Some(Health::Healthy));
    // Break the check: unhealthy follows.
    let status =
        Command::new("docker").args(["exec", &id, "rm", "/tmp/ok"]).status().expect("docker exec");
    assert!(status.success());
    let unhealthy = next_event(&mut events, &id, Duration::from_secs(20), |e| {
        matches!(e, RuntimeEvent::Health { health: Health::Unhealthy, .. })
    })
    .await;
    assert_eq!(unhealthy, RuntimeEvent::Health { id: id.clone(), health: Health::Unhealthy });
}

#[tokio::test]
async fn stop_kills_after_the_timeout_when_sigterm_is_ignored() {
    let rt = runtime().await;
    let mut events = rt.events();
    let (id, _cleanup) =
        create(&rt, "stop", busybox(&["sh", "-c", "trap '' TERM; while true; do sleep 0.2; done"]))
            .await;
    rt.start_container(&id).await.expect("start");
    let started = Instant::now();
    rt.stop_container(&id, Duration::from_secs(2)).await.expect("stop");
    let took = started.elapsed();
    assert!(took >= Duration::from_secs(2), "stop returned after {took:?}, before the timeout");
    assert!(took < Duration::from_secs(15), "stop took {took:?}");
    let died = next_event(&mut events, &id, Duration::from_secs(20), |e| {
        matches!(e, RuntimeEvent::Died { .. })
    })
    .await;
    assert_eq!(died, RuntimeEvent::Died { id: id.clone(), exit_code: 137, oom_killed: false });

    // One that honours SIGTERM stops at once, with 143.
    let (id, _cleanup) = create(
        &rt,
        "stop-term",
        busybox(&["sh", "-c", "trap 'exit 143' TERM; while true; do sleep 0.2; done"]),
    )
    .await;
    rt.start_container(&id).await.expect("start");
    let started = Instant::now();
    rt.stop_container(&id, Duration::from_secs(10)).await.expect("stop");
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    let info = rt.inspect_container(&id).await.expect("inspect");
    assert_eq!(info.state, ContainerState::Exited { exit_code: 143, oom_killed: false });
}

#[tokio::test]
async fn unknown_things_are_not_found() {
    let rt = runtime().await;
    let ghost = unique("ghost");
    assert!(matches!(rt.inspect_container(&ghost).await, Err(RuntimeError::NotFound(_))));
    assert!(matches!(rt.start_container(&ghost).await, Err(RuntimeError::NotFound(_))));
    assert!(matches!(
        rt.stop_container(&ghost, Duration::from_secs(1)).await,
        Err(RuntimeError::NotFound(_))
    ));
    rt.remove_container(&ghost).await.expect("removing nothing is fine");
    rt.remove_volume(&ghost).await.expect("removing no volume is fine");
    assert!(rt.image_present(IMAGE).await.expect("image inspect"));
    assert!(!rt.image_present("wharf-test/absent:0").await.expect("image inspect"));
    let missing = busybox(&["true"]);
    let missing = ContainerCreateBody { image: Some("wharf-test/absent:0".to_owned()), ..missing };
    assert!(matches!(rt.create_container(&ghost, missing).await, Err(RuntimeError::NotFound(_))));
    // A name in use is refused.
    let (_, _cleanup) = create(&rt, "dup", busybox(&["true"])).await;
    let name = unique("dup2");
    let (id, _c2) = {
        let id = rt.create_container(&name, busybox(&["true"])).await.expect("create");
        (id.clone(), Cleanup(id))
    };
    assert!(matches!(
        rt.create_container(&name, busybox(&["true"])).await,
        Err(RuntimeError::Refused(_))
    ));
    rt.remove_container(&id).await.expect("remove");
}

#[tokio::test]
async fn volumes_are_created_labelled_and_removed() {
    let rt = runtime().await;
    let name = unique("vol");
    let spec = VolumeSpec {
        name: name.clone(),
        driver: None,
        driver_opts: HashMap::new(),
        labels: HashMap::from([(LABEL_TASK_ARN.to_owned(), "arn:test".to_owned())]),
    };
    rt.create_volume(spec.clone()).await.expect("create volume");
    rt.create_volume(spec).await.expect("creating it again keeps it");
    let volume = rt.client().inspect_volume(&name).await.expect("inspect volume");
    assert_eq!(volume.driver, "local");
    assert_eq!(volume.labels.get(LABEL_MANAGED).map(String::as_str), Some("true"));
    assert_eq!(volume.labels.get(LABEL_TASK_ARN).map(String::as_str), Some("arn:test"));

    // A container writes into it, another reads it back.
    let mut write = busybox(&["sh", "-c", "echo data > /v/file"]);
    write.host_config = Some(bollard::models::HostConfig {
        binds: Some(vec![format!("{name}:/v")]),
        ..Default::default()
    });
    let mut events = rt.events();
    let (id, _c) = create(&rt, "vol-writer", write).await;
    rt.start_container(&id).await.expect("start");
    let died = next_event(&mut events, &id, Duration::from_secs(20), |e| {
        matches!(e, RuntimeEvent::Died { .. })
    })
    .await;
    assert!(matches!(died, RuntimeEvent::Died { exit_code: 0, .. }), "{died:?}");
    let mut read = busybox(&["sh", "-c", "test \"$(cat /v/file)\" = data"]);
    read.host_config = Some(bollard::models::HostConfig {
        binds: Some(vec![format!("{name}:/v:ro")]),
        ..Default::default()
    });
    let (reader, _c2) = create(&rt, "vol-reader", read).await;
    rt.start_container(&reader).await.expect("start");
    let died = next_event(&mut events, &reader, Duration::from_secs(20), |e| {
        matches!(e, RuntimeEvent::Died { .. })
    })
    .await;
    assert!(matches!(died, RuntimeEvent::Died { exit_code: 0, .. }), "{died:?}");
    rt.remove_container(&id).await.expect("remove");
    rt.remove_container(&reader).await.expect("remove");

    rt.remove_volume(&name).await.expect("remove volume");
    rt.remove_volume(&name).await.expect("removing it again is fine");
    assert!(rt.client().inspect_volume(&name).await.is_err());
}

#[tokio::test]
async fn pulls_from_a_private_registry_with_credentials() {
    let rt = runtime().await;
    let auth = RegistryAuth { username: "wharf".to_owned(), password: "wharf-test".to_owned() };
    let credentials = bollard::auth::DockerCredentials {
        username: Some(auth.username.clone()),
        password: Some(auth.password.clone()),
        serveraddress: Some(REGISTRY.to_owned()),
        ..Default::default()
    };
    // Setup: push the test image under a tag of its own.
    let repo = format!("{REGISTRY}/wharf-test/agent-pull");
    let tag = unique("t");
    let reference = format!("{repo}:{tag}");
    let docker = rt.client();
    docker
        .tag_image(
            IMAGE,
            Some(TagImageOptions { repo: Some(repo.clone()), tag: Some(tag.clone()) }),
        )
        .await
        .expect("tag");
    let mut push = docker.push_image(
        &repo,
        Some(PushImageOptions { tag: Some(tag.clone()), ..Default::default() }),
        Some(credentials),
    );
    while let Some(item) = push.next().await {
        item.expect("push to the local registry (is scripts/docker-up's registry running?)");
    }
    let untag = || async {
        docker
            .remove_image(
                &reference,
                Some(RemoveImageOptions { force: true, ..Default::default() }),
                None,
            )
            .await
    };
    untag().await.expect("remove the local tag");
    assert!(!rt.image_present(&reference).await.expect("image inspect"));

    // Without credentials the registry refuses.
    let refused = rt.pull_image(&reference, None, &|_| {}).await;
    assert!(
        matches!(refused, Err(RuntimeError::Refused(_) | RuntimeError::NotFound(_))),
        "{refused:?}"
    );
    // With wrong ones too.
    let wrong = RegistryAuth { username: "wharf".to_owned(), password: "nope".to_owned() };
    assert!(rt.pull_image(&reference, Some(&wrong), &|_| {}).await.is_err());

    let seen = std::sync::Mutex::new(Vec::new());
    rt.pull_image(&reference, Some(&auth), &|p| seen.lock().expect("lock").push(p.status))
        .await
        .expect("pull with credentials");
    assert!(rt.image_present(&reference).await.expect("image inspect"));
    let seen = seen.into_inner().expect("lock");
    assert!(!seen.is_empty(), "no progress reported");
    untag().await.expect("clean up the pulled tag");
}

#[tokio::test]
async fn pulling_a_missing_image_fails() {
    let rt = runtime().await;
    let auth = RegistryAuth { username: "wharf".to_owned(), password: "wharf-test".to_owned() };
    let missing = format!("{REGISTRY}/wharf-test/{}:0", unique("missing"));
    let result = rt.pull_image(&missing, Some(&auth), &|_| {}).await;
    assert!(
        matches!(result, Err(RuntimeError::NotFound(_) | RuntimeError::Refused(_))),
        "{result:?}"
    );
}

/// The engine's log API and the agent's own json-file reader give the same messages:
/// same bytes, streams and timestamps, partial lines included, so a cursor means the
/// same whichever read it.
#[tokio::test]
async fn the_log_api_and_the_json_file_reader_agree() {
    use wharf_agent::awslogs::jsonfile;
    let rt = runtime().await;
    let script =
        "echo one; echo two >&2; printf 'no newline'; head -c 20000 /dev/zero | tr '\\0' x; echo";
    let (id, _cleanup) = create(&rt, "logs", busybox(&["sh", "-c", script])).await;
    rt.start_container(&id).await.expect("start");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !matches!(
        rt.inspect_container(&id).await.expect("inspect").state,
        ContainerState::Exited { .. }
    ) {
        assert!(Instant::now() < deadline, "the container never exited");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let api: Vec<_> = rt.logs(&id, 0, false).map(|m| m.expect("message")).collect().await;
    let path = rt.json_log_file(&id).await.expect("a json-file log on this host");
    // Found under the engine's data directory, it is the file the engine names.
    let named = std::process::Command::new("docker")
        .args(["inspect", "-f", "{{.LogPath}}", &id])
        .output()
        .expect("docker inspect");
    assert_eq!(path.to_str(), Some(String::from_utf8_lossy(&named.stdout).trim()));
    let (_stop, stopped) = tokio::sync::watch::channel(true);
    let file: Vec<_> =
        jsonfile::follow(path, 0, false, stopped).map(|m| m.expect("message")).collect().await;
    assert!(api.len() >= 4, "{api:?}");
    assert_eq!(api, file);
    // stdout and stderr reach the log in either order; each keeps its own.
    use wharf_agent::runtime::LogSource;
    let of = |source: LogSource| -> Vec<u8> {
        api.iter().filter(|m| m.source == source).flat_map(|m| m.bytes.to_vec()).collect()
    };
    assert_eq!(of(LogSource::Stderr), b"two\n");
    let stdout = of(LogSource::Stdout);
    let expected = [&b"one\nno newline"[..], &[b'x'; 20_000][..], b"\n"].concat();
    assert_eq!(stdout, expected);
    // Docker splits the 20,000-byte line at 16 KiB: a message without its newline first.
    assert!(api.iter().any(|m| m.bytes.last() != Some(&b'\n')), "a partial message");
    // Following with the API ends by itself once the container has stopped.
    let followed: Vec<_> = rt.logs(&id, 0, true).collect().await;
    assert_eq!(followed.len(), api.len());
}

/// A Fargate task's size bounds its containers together: a container with
/// no limit of its own, in a task cgroup of 16 MiB, is killed when it
/// takes more. The cgroup carries the CPU quota too, and goes with the task.
#[tokio::test]
async fn a_task_cgroup_bounds_its_containers_together() {
    use wharf_agent::task_cgroup::TaskSize;
    let rt = runtime().await;
    let task_id = format!("{:x}", SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos());
    let size = TaskSize { cpu_units: 256, memory_mib: 16 };
    let parent = rt
        .create_task_cgroup(&task_id, size)
        .await
        .expect("task cgroup")
        .expect("this engine (local, cgroupfs driver) takes a task cgroup");
    assert_eq!(parent, format!("/wharf-tasks/{task_id}"));
    let limits = [
        (format!("/sys/fs/cgroup/memory/wharf-tasks/{task_id}/memory.limit_in_bytes"), "16777216"),
        (format!("/sys/fs/cgroup/cpu/wharf-tasks/{task_id}/cpu.cfs_quota_us"), "25000"),
        (format!("/sys/fs/cgroup/wharf-tasks/{task_id}/memory.max"), "16777216"),
    ];
    let found: Vec<_> = limits
        .iter()
        .filter_map(|(path, want)| std::fs::read_to_string(path).ok().map(|v| (v, *want)))
        .collect();
    assert!(!found.is_empty(), "no task cgroup file under /sys/fs/cgroup");
    for (value, want) in found {
        assert_eq!(value.trim(), want);
    }
    let mut events = rt.events();
    let mut config =
        busybox(&["sh", "-c", "x=$(head -c 100000000 /dev/zero | tr '\\0' a); echo ${#x}"]);
    config.host_config =
        Some(bollard::models::HostConfig { cgroup_parent: Some(parent), ..Default::default() });
    let (id, cleanup) = create(&rt, "sized", config).await;
    rt.start_container(&id).await.expect("start");
    let died = next_event(&mut events, &id, Duration::from_secs(60), |e| {
        matches!(e, RuntimeEvent::Died { .. })
    })
    .await;
    let RuntimeEvent::Died { exit_code, .. } = died else { unreachable!() };
    assert_eq!(exit_code, 137, "killed by the task's memory limit, not its own");
    drop(cleanup);
    rt.remove_container(&id).await.expect("remove");
    rt.remove_task_cgroup(&task_id).await;
    assert!(!std::path::Path::new(&format!("/sys/fs/cgroup/memory/wharf-tasks/{task_id}")).exists());
    assert!(!std::path::Path::new(&format!("/sys/fs/cgroup/wharf-tasks/{task_id}")).exists());
}
