//! A task runs: statuses, timestamps, a dynamic host port that really answers, and the
//! container instance's accounting.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use wharf_sdk_tests::aws_sdk_ecs::types::{ContainerInstance, PortMapping, TransportProtocol};

use crate::support::{container, inspect, secs, sh_builder, Ctx};

/// `GET /` on 127.0.0.1:`port`, HTTP/1.0; the whole answer, or `None` if nothing answers.
fn http_get(port: u16) -> Option<String> {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    s.write_all(b"GET /index.html HTTP/1.0\r\nHost: test\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    (!out.is_empty()).then_some(out)
}

/// A resource's integer value, by name (`CPU`, `MEMORY`).
fn resource(resources: &[wharf_sdk_tests::aws_sdk_ecs::types::Resource], name: &str) -> i32 {
    resources
        .iter()
        .find(|r| r.name() == Some(name))
        .map(|r| r.integer_value())
        .unwrap_or_else(|| panic!("no {name} in {resources:?}"))
}

fn memory(instance: &ContainerInstance) -> (i32, i32) {
    (
        resource(instance.registered_resources(), "MEMORY"),
        resource(instance.remaining_resources(), "MEMORY"),
    )
}

#[tokio::test]
async fn a_task_runs_and_answers_on_its_dynamic_host_port() {
    let ctx = Ctx::start("runs").await;
    let before = ctx.instance().await;
    let (registered, remaining) = memory(&before);
    assert_eq!(registered, remaining, "nothing runs yet: {before:#?}");
    assert_eq!(before.running_tasks_count(), 0);
    assert_eq!(before.pending_tasks_count(), 0);

    let web = sh_builder(
        "web",
        "echo hello-from-wharf > /tmp/index.html && exec httpd -f -p 8080 -h /tmp",
    )
    .memory(48)
    .cpu(64)
    // httpd as PID 1 ignores SIGTERM: do not wait the default 30 s for it.
    .stop_timeout(1)
    .port_mappings(
        PortMapping::builder().container_port(8080).protocol(TransportProtocol::Tcp).build(),
    )
    .build();
    let td = ctx.register("web", vec![web]).await;
    let placed = ctx.run(&td).await;
    assert_eq!(placed.desired_status(), Some("RUNNING"));
    assert_eq!(placed.container_instance_arn(), before.container_instance_arn());
    let arn = placed.task_arn().expect("a task ARN").to_owned();

    let task = ctx.running(&arn).await;
    let web = container(&task, "web");
    assert_eq!(web.last_status(), Some("RUNNING"));
    let runtime_id = web.runtime_id().expect("the container's runtimeId");
    assert_eq!(
        inspect(runtime_id, "{{index .Config.Labels \"com.amazonaws.ecs.task-arn\"}}"),
        arn,
        "runtimeId names the task's Docker container"
    );

    // The binding: container port 8080, a host port the agent chose (none was asked for).
    let bindings = web.network_bindings();
    assert!(!bindings.is_empty(), "no networkBindings: {web:#?}");
    let host_port = bindings[0].host_port().expect("a host port") as u16;
    for b in bindings {
        assert_eq!(b.container_port(), Some(8080), "{b:?}");
        assert_eq!(b.host_port(), Some(i32::from(host_port)), "one host port: {bindings:?}");
        assert_eq!(b.protocol(), Some(&TransportProtocol::Tcp));
    }
    assert!(host_port >= 1024, "an ephemeral host port, got {host_port}");

    let deadline = Instant::now() + Duration::from_secs(20);
    let page = loop {
        match http_get(host_port) {
            Some(page) if page.contains("hello-from-wharf") => break page,
            other => {
                assert!(
                    Instant::now() < deadline,
                    "httpd never answered on {host_port}: {other:?}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    assert!(page.starts_with("HTTP/1."), "{page}");

    // Timestamps, in lifecycle order.
    let created = secs(task.created_at());
    let pull_started = secs(task.pull_started_at());
    let pull_stopped = secs(task.pull_stopped_at());
    let started = secs(task.started_at());
    assert!(
        created <= pull_started && pull_started <= pull_stopped && pull_stopped <= started,
        "createdAt {created} ≤ pullStartedAt {pull_started} ≤ pullStoppedAt {pull_stopped} ≤ \
         startedAt {started}: {task:#?}"
    );
    assert!(task.stopped_at().is_none() && task.stop_code().is_none(), "{task:#?}");

    // The instance counts the task and what it holds.
    let after = ctx.instance().await;
    assert_eq!(after.running_tasks_count(), 1, "{after:#?}");
    assert_eq!(after.pending_tasks_count(), 0, "{after:#?}");
    let (_, remaining_after) = memory(&after);
    assert_eq!(remaining_after, registered - 48, "48 MiB held by the task: {after:#?}");
    assert_eq!(
        resource(after.remaining_resources(), "CPU"),
        resource(after.registered_resources(), "CPU") - 64,
        "64 CPU units held by the task: {after:#?}"
    );

    // Stopped, it gives everything back.
    ctx.stop(&arn, "done").await;
    ctx.stopped(&arn).await;
    let released = ctx.instance().await;
    assert_eq!(released.running_tasks_count(), 0, "{released:#?}");
    assert_eq!(memory(&released), (registered, registered), "{released:#?}");
}
