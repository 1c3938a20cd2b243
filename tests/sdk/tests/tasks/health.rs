//! Health checks and the kernel's OOM killer, as DescribeTasks reports them.

use std::time::Duration;

use wharf_sdk_tests::aws_sdk_ecs::types::{HealthStatus, TaskStopCode};

use crate::support::{container, health_check, health_is, sh_builder, Ctx};

#[tokio::test]
async fn a_failing_health_check_makes_the_task_unhealthy_but_leaves_it_running() {
    let ctx = Ctx::start("unhealthy").await;
    let main = sh_builder("main", "exec sleep 600")
        .health_check(health_check("exit 1", 1))
        .stop_timeout(1)
        .build();
    let td = ctx.register("unhealthy", vec![main]).await;
    let arn = ctx.run(&td).await.task_arn().unwrap().to_owned();

    let task = ctx.running(&arn).await;
    assert!(
        matches!(task.health_status(), Some(HealthStatus::UnknownValue) | None),
        "UNKNOWN before the first check: {task:#?}"
    );
    let task = ctx
        .wait(&arn, "UNHEALTHY", |t| {
            t.health_status() == Some(&HealthStatus::Unhealthy)
                || t.last_status() == Some("STOPPED")
        })
        .await;
    assert!(health_is(container(&task, "main"), HealthStatus::Unhealthy), "{task:#?}");
    assert_eq!(task.health_status(), Some(&HealthStatus::Unhealthy), "{task:#?}");
    assert_eq!(task.last_status(), Some("RUNNING"), "a standalone task keeps running");

    // And it stays running: a task outside a service is not replaced for its health.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let task = ctx.describe(&arn).await;
    assert_eq!(task.last_status(), Some("RUNNING"), "{task:#?}");
    assert_eq!(task.desired_status(), Some("RUNNING"), "{task:#?}");
    assert_eq!(task.health_status(), Some(&HealthStatus::Unhealthy), "{task:#?}");
}

#[tokio::test]
async fn a_container_over_its_memory_limit_is_out_of_memory() {
    let ctx = Ctx::start("oom").await;
    // 50 MB held in a shell variable, in a 6 MiB cgroup.
    let hog = sh_builder("hog", "x=$(head -c 50000000 /dev/zero | tr '\\0' a); echo ${#x}")
        .memory(6)
        .build();
    let td = ctx.register("oom", vec![hog]).await;
    let arn = ctx.run(&td).await.task_arn().unwrap().to_owned();
    let task = ctx.stopped(&arn).await;
    let hog = container(&task, "hog");
    assert_eq!(hog.exit_code(), Some(137), "{task:#?}");
    let reason = hog.reason().unwrap_or_default();
    assert!(reason.starts_with("OutOfMemoryError"), "container reason {reason:?}: {task:#?}");
    assert_eq!(task.stop_code(), Some(&TaskStopCode::EssentialContainerExited), "{task:#?}");
    assert_eq!(task.stopped_reason(), Some("Essential container in task exited"));
}

#[tokio::test]
async fn only_essential_containers_count_for_task_health() {
    let ctx = Ctx::start("health").await;
    let main = sh_builder("main", "exec sleep 600")
        .health_check(health_check("true", 1))
        .stop_timeout(1)
        .build();
    let side = sh_builder("side", "exec sleep 600")
        .essential(false)
        .health_check(health_check("exit 1", 1))
        .stop_timeout(1)
        .build();
    let td = ctx.register("health", vec![main, side]).await;
    let arn = ctx.run(&td).await.task_arn().unwrap().to_owned();
    let task = ctx
        .wait(&arn, "with both checks run", |t| {
            health_is(container(t, "main"), HealthStatus::Healthy)
                && health_is(container(t, "side"), HealthStatus::Unhealthy)
        })
        .await;
    assert_eq!(task.health_status(), Some(&HealthStatus::Healthy), "{task:#?}");
    assert_eq!(task.last_status(), Some("RUNNING"), "{task:#?}");
}
