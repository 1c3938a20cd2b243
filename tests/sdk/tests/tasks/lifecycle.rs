//! How tasks end: an essential container's exit, a non-essential one's, and StopTask with
//! `stopTimeout` (SIGTERM, then SIGKILL).

use std::time::{Duration, Instant};

use wharf_sdk_tests::aws_sdk_ecs::types::{DesiredStatus, TaskStopCode};
use wharf_sdk_tests::ok;

use crate::support::{container, secs, sh, sh_builder, Ctx};

#[tokio::test]
async fn an_essential_exit_stops_the_task_and_a_sidecar_exit_does_not() {
    let ctx = Ctx::start("essential").await;
    let sidecar = sh_builder("sidecar", "sleep 1; exit 5").essential(false).build();
    let main = sh("main", "sleep 4; exit 3");
    let td = ctx.register("essential", vec![main, sidecar]).await;
    let arn = ctx.run(&td).await.task_arn().unwrap().to_owned();

    // The sidecar exits first: the task goes on.
    let task = ctx
        .wait(&arn, "with its sidecar stopped", |t| {
            container(t, "sidecar").last_status() == Some("STOPPED")
                || t.last_status() == Some("STOPPED")
        })
        .await;
    assert_eq!(container(&task, "sidecar").exit_code(), Some(5), "{task:#?}");
    assert_eq!(task.last_status(), Some("RUNNING"), "a non-essential exit: {task:#?}");
    assert_eq!(task.desired_status(), Some("RUNNING"), "a non-essential exit: {task:#?}");
    assert_eq!(container(&task, "main").last_status(), Some("RUNNING"), "{task:#?}");

    // Then the essential one: the task stops, as ECS says.
    let task = ctx.stopped(&arn).await;
    assert_eq!(task.stop_code(), Some(&TaskStopCode::EssentialContainerExited), "{task:#?}");
    assert_eq!(task.stopped_reason(), Some("Essential container in task exited"));
    assert_eq!(task.desired_status(), Some("STOPPED"));
    let main = container(&task, "main");
    assert_eq!(main.exit_code(), Some(3), "{task:#?}");
    assert_eq!(main.last_status(), Some("STOPPED"));
    assert_eq!(container(&task, "sidecar").exit_code(), Some(5), "{task:#?}");
    let stopped_at = secs(task.stopped_at());
    assert!(secs(task.started_at()) <= stopped_at, "startedAt ≤ stoppedAt: {task:#?}");
    assert!(
        secs(task.execution_stopped_at()) <= stopped_at,
        "executionStoppedAt ≤ stoppedAt: {task:#?}"
    );
}

#[tokio::test]
async fn stop_task_honours_stop_timeout_and_the_reason() {
    let ctx = Ctx::start("stop").await;
    // PID 1 gets no default signal action: `sleep` ignores SIGTERM and must be killed.
    let stubborn = sh_builder("stubborn", "exec sleep 600").stop_timeout(3).build();
    // This one traps TERM and leaves at once, long before its 30 s.
    let graceful = sh_builder("graceful", "trap 'exit 0' TERM; while :; do sleep 0.1; done")
        .stop_timeout(30)
        .build();
    let stubborn_td = ctx.register("stubborn", vec![stubborn]).await;
    let graceful_td = ctx.register("graceful", vec![graceful]).await;
    let stubborn = ctx.run(&stubborn_td).await.task_arn().unwrap().to_owned();
    let graceful = ctx.run(&graceful_td).await.task_arn().unwrap().to_owned();
    ctx.running(&stubborn).await;
    ctx.running(&graceful).await;

    let asked = Instant::now();
    let answer = ctx.stop(&stubborn, "maintenance window 42").await;
    assert_eq!(answer.desired_status(), Some("STOPPED"), "{answer:#?}");
    let answer = ctx.stop(&graceful, "maintenance window 43").await;
    assert_eq!(answer.desired_status(), Some("STOPPED"), "{answer:#?}");

    let task = ctx.stopped(&graceful).await;
    let graceful_took = asked.elapsed();
    let exit = container(&task, "graceful").exit_code();
    assert!(matches!(exit, Some(0 | 143)), "graceful exit: {task:#?}");
    assert!(graceful_took < Duration::from_secs(10), "graceful took {graceful_took:?}");
    assert_eq!(task.stop_code(), Some(&TaskStopCode::UserInitiated), "{task:#?}");
    assert_eq!(task.stopped_reason(), Some("maintenance window 43"));

    let task = ctx.stopped(&stubborn).await;
    let stubborn_took = asked.elapsed();
    assert_eq!(container(&task, "stubborn").exit_code(), Some(137), "SIGKILL: {task:#?}");
    assert!(
        stubborn_took >= Duration::from_millis(2900),
        "killed only after its stopTimeout of 3 s, took {stubborn_took:?}"
    );
    assert!(stubborn_took < Duration::from_secs(20), "stubborn took {stubborn_took:?}");
    assert_eq!(task.stop_code(), Some(&TaskStopCode::UserInitiated), "{task:#?}");
    assert_eq!(task.stopped_reason(), Some("maintenance window 42"));
    assert!(
        secs(task.stopping_at()) <= secs(task.stopped_at()),
        "stoppingAt ≤ stoppedAt: {task:#?}"
    );
    assert!(
        secs(task.stopped_at()) - secs(task.stopping_at()) >= 2.9,
        "stoppingAt to stoppedAt spans the stopTimeout: {task:#?}"
    );

    // Listed as stopped, not as running.
    let stopped = ok(ctx
        .ecs
        .list_tasks()
        .cluster(&ctx.cluster)
        .desired_status(DesiredStatus::Stopped)
        .send()
        .await);
    for arn in [&stubborn, &graceful] {
        assert!(stopped.task_arns().contains(arn), "{arn} in {stopped:?}");
    }
    let running = ok(ctx.ecs.list_tasks().cluster(&ctx.cluster).send().await);
    assert!(running.task_arns().is_empty(), "nothing is listed as running: {running:?}");
}
