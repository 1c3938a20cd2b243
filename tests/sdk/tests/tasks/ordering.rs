//! `dependsOn`: containers start in the order their conditions give, and a condition that
//! can never hold stops the task.

use wharf_sdk_tests::aws_sdk_ecs::types::{
    ContainerCondition, ContainerDependency, HealthStatus, MountPoint, TaskStopCode, Volume,
};

use crate::support::{container, health_check, health_is, sh_builder, Ctx};

fn depends_on(container: &str, condition: ContainerCondition) -> ContainerDependency {
    ContainerDependency::builder()
        .container_name(container)
        .condition(condition)
        .build()
        .expect("a dependency")
}

fn shared() -> MountPoint {
    MountPoint::builder().source_volume("shared").container_path("/shared").build()
}

#[tokio::test]
async fn app_starts_after_init_succeeded_and_db_is_healthy() {
    let ctx = Ctx::start("depends").await;
    let init = sh_builder("init", "sleep 1; touch /shared/init-done")
        .essential(false)
        .mount_points(shared())
        .build();
    // Healthy once its first check has run, which leaves a mark behind.
    let db = sh_builder("db", "exec sleep 600")
        .health_check(health_check("touch /shared/db-healthy", 3))
        .mount_points(shared())
        .stop_timeout(1)
        .build();
    // Exits 1 (and, being essential, stops the task) if it starts before either mark.
    let app = sh_builder(
        "app",
        "test -f /shared/init-done && test -f /shared/db-healthy && touch /shared/app-started \
         && exec sleep 600; exit 1",
    )
    .depends_on(depends_on("init", ContainerCondition::Success))
    .depends_on(depends_on("db", ContainerCondition::Healthy))
    .mount_points(shared())
    .stop_timeout(1)
    .build();
    let out = wharf_sdk_tests::ok(
        ctx.ecs
            .register_task_definition()
            .family("depends")
            .volumes(Volume::builder().name("shared").build())
            .container_definitions(app)
            .container_definitions(db)
            .container_definitions(init)
            .send()
            .await,
    );
    let td = out.task_definition().unwrap().task_definition_arn().unwrap().to_owned();
    let arn = ctx.run(&td).await.task_arn().unwrap().to_owned();

    let task = ctx
        .wait(&arn, "with app running", |t| {
            container(t, "app").last_status() == Some("RUNNING")
                || t.last_status() == Some("STOPPED")
        })
        .await;
    let app = container(&task, "app");
    assert_eq!(app.last_status(), Some("RUNNING"), "app started in order: {task:#?}");
    let init = container(&task, "init");
    assert_eq!(init.last_status(), Some("STOPPED"), "{task:#?}");
    assert_eq!(init.exit_code(), Some(0), "{task:#?}");
    assert!(health_is(container(&task, "db"), HealthStatus::Healthy), "{task:#?}");
    let task = ctx.running(&arn).await;
    assert_eq!(task.desired_status(), Some("RUNNING"), "{task:#?}");
}

#[tokio::test]
async fn a_success_dependency_that_fails_stops_the_task() {
    let ctx = Ctx::start("depfail").await;
    let init = sh_builder("init", "exit 1").essential(false).build();
    let app = sh_builder("app", "exec sleep 600")
        .depends_on(depends_on("init", ContainerCondition::Success))
        .build();
    let td = ctx.register("depfail", vec![init, app]).await;
    let arn = ctx.run(&td).await.task_arn().unwrap().to_owned();
    let task = ctx.stopped(&arn).await;
    let expected = "dependency graph: failed to resolve container ordering dependency [init] for \
                    target [app]";
    assert_eq!(container(&task, "init").exit_code(), Some(1), "{task:#?}");
    let app = container(&task, "app");
    // Never created; ECS still reports 143, "as if SIGTERMed"
    // (AG:agent/engine/task_manager.go `handleTerminalDependencyError`).
    assert_eq!(app.runtime_id(), None, "app was never created: {task:#?}");
    assert_eq!(app.exit_code(), Some(143), "{task:#?}");
    assert!(app.reason().unwrap_or_default().contains(expected), "app's reason: {task:#?}");
    assert_eq!(task.stop_code(), Some(&TaskStopCode::TaskFailedToStart), "{task:#?}");
    let reason = task.stopped_reason().unwrap_or_default();
    assert!(reason.contains(expected), "stoppedReason {reason:?}");
    assert!(task.started_at().is_none(), "the task never ran: {task:#?}");
}
