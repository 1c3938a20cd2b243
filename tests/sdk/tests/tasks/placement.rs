//! Placement on the one container instance: resources that do not fit give ECS's
//! `failures[].reason`, and StartTask places on the instance it is given.

use std::net::TcpListener;

use wharf_sdk_tests::aws_sdk_ecs::types::PortMapping;
use wharf_sdk_tests::ok;

use crate::support::{container, sh_builder, Ctx};

/// A TCP port that is free on every address now, outside the kernel's ephemeral range (so no
/// agent picks it as a dynamic port meanwhile).
fn free_static_port() -> u16 {
    let seed = std::process::id() as usize
        + std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .subsec_nanos() as usize;
    (0..10_000)
        .map(|i| 20_000 + ((seed + i * 7919) % 10_000) as u16)
        .find(|p| TcpListener::bind(("0.0.0.0", *p)).is_ok())
        .expect("a free port in 20000..30000")
}

#[tokio::test]
async fn a_task_larger_than_the_instance_gets_resource_memory() {
    let ctx = Ctx::start("bigtask").await;
    let instance = ctx.instance().await;
    let registered = instance
        .registered_resources()
        .iter()
        .find(|r| r.name() == Some("MEMORY"))
        .map(|r| r.integer_value())
        .expect("registered MEMORY");
    let out = ok(ctx
        .ecs
        .register_task_definition()
        .family("bigtask")
        .memory((registered + 1).to_string())
        .container_definitions(sh_builder("main", "exec sleep 600").memory(16).build())
        .send()
        .await);
    let td = out.task_definition().unwrap().task_definition_arn().unwrap().to_owned();
    let run = ok(ctx.ecs.run_task().cluster(&ctx.cluster).task_definition(&td).send().await);
    assert!(run.tasks().is_empty(), "nothing placed: {run:?}");
    assert_eq!(run.failures().len(), 1, "{run:?}");
    assert_eq!(run.failures()[0].reason(), Some("RESOURCE:MEMORY"), "{run:?}");
    assert_eq!(run.failures()[0].arn(), instance.container_instance_arn(), "{run:?}");
}

#[tokio::test]
async fn a_static_host_port_is_held_by_its_task() {
    let ctx = Ctx::start("ports").await;
    let port = free_static_port();
    let main = sh_builder("main", "exec httpd -f -p 8080 -h /tmp")
        .stop_timeout(1)
        .port_mappings(
            PortMapping::builder().container_port(8080).host_port(i32::from(port)).build(),
        )
        .build();
    let td = ctx.register("ports", vec![main]).await;
    let first = ctx.run(&td).await.task_arn().unwrap().to_owned();
    let task = ctx.running(&first).await;
    let bindings = container(&task, "main").network_bindings();
    assert!(
        !bindings.is_empty() && bindings.iter().all(|b| b.host_port() == Some(i32::from(port))),
        "bound to {port}: {bindings:?}"
    );
    let instance = ctx.instance().await;
    let ports = instance
        .remaining_resources()
        .iter()
        .find(|r| r.name() == Some("PORTS"))
        .map(|r| r.string_set_value().to_vec())
        .unwrap_or_default();
    assert!(ports.contains(&port.to_string()), "{port} is reserved: {ports:?}");

    let second = ok(ctx.ecs.run_task().cluster(&ctx.cluster).task_definition(&td).send().await);
    assert!(second.tasks().is_empty(), "not placed twice: {second:?}");
    assert_eq!(second.failures().len(), 1, "{second:?}");
    assert_eq!(second.failures()[0].reason(), Some("RESOURCE:PORTS"), "{second:?}");

    // Once the first stops, the port is free again.
    ctx.stop(&first, "free the port").await;
    ctx.stopped(&first).await;
    let third = ctx.run(&td).await.task_arn().unwrap().to_owned();
    ctx.running(&third).await;
}

#[tokio::test]
async fn ten_tasks_at_once_all_run() {
    let ctx = Ctx::start("ten").await;
    let td = ctx
        .register(
            "ten",
            vec![sh_builder("main", "exec sleep 600").memory(16).stop_timeout(1).build()],
        )
        .await;
    let run =
        ok(ctx.ecs.run_task().cluster(&ctx.cluster).task_definition(&td).count(10).send().await);
    assert!(run.failures().is_empty(), "{run:?}");
    assert_eq!(run.tasks().len(), 10, "{run:?}");
    for task in run.tasks() {
        ctx.running(task.task_arn().unwrap()).await;
    }
    let instance = ctx.instance().await;
    assert_eq!(instance.running_tasks_count(), 10, "{instance:#?}");
    let listed = ok(ctx.ecs.list_tasks().cluster(&ctx.cluster).send().await);
    assert_eq!(listed.task_arns().len(), 10, "{listed:?}");
}

#[tokio::test]
async fn start_task_places_on_the_instance_it_names() {
    let ctx = Ctx::start("starttask").await;
    let instance = ctx.instance_arn().await;
    let td = ctx
        .register("starttask", vec![sh_builder("main", "exec sleep 600").stop_timeout(1).build()])
        .await;
    let out = ok(ctx
        .ecs
        .start_task()
        .cluster(&ctx.cluster)
        .task_definition(&td)
        .container_instances(&instance)
        .started_by("sdk-test")
        .send()
        .await);
    assert!(out.failures().is_empty(), "{out:?}");
    assert_eq!(out.tasks().len(), 1, "{out:?}");
    let placed = &out.tasks()[0];
    assert_eq!(placed.container_instance_arn(), Some(instance.as_str()));
    assert_eq!(placed.started_by(), Some("sdk-test"));
    let task = ctx.running(placed.task_arn().unwrap()).await;
    assert_eq!(task.container_instance_arn(), Some(instance.as_str()));

    let bogus = format!(
        "arn:aws:ecs:us-east-1:000000000000:container-instance/{}/0123456789abcdef0123456789abcdef",
        ctx.cluster
    );
    let out = ok(ctx
        .ecs
        .start_task()
        .cluster(&ctx.cluster)
        .task_definition(&td)
        .container_instances(&bogus)
        .send()
        .await);
    assert!(out.tasks().is_empty(), "{out:?}");
    assert_eq!(out.failures().len(), 1, "{out:?}");
    assert_eq!(out.failures()[0].arn(), Some(bogus.as_str()), "{out:?}");
    assert_eq!(out.failures()[0].reason(), Some("MISSING"), "{out:?}");
}
