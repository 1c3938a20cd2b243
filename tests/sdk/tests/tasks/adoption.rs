//! After a crash of the server (and its embedded agent), running containers are adopted by
//! their labels: nothing is started twice, and what happened meanwhile is reported.

use std::time::Duration;

use wharf_sdk_tests::aws_sdk_ecs::types::TaskStopCode;
use wharf_sdk_tests::{containers_labelled, docker_ok, LABEL_TASK_ARN};

use crate::support::{container, inspect, sh_builder, Ctx};

#[tokio::test]
async fn a_running_task_is_adopted_after_a_crash_and_stops_on_request() {
    let mut ctx = Ctx::start("adopt").await;
    let td = ctx
        .register(
            "adopt",
            vec![
                sh_builder("main", "exec sleep 600").stop_timeout(1).build(),
                sh_builder("side", "exec sleep 600").stop_timeout(1).build(),
            ],
        )
        .await;
    let arn = ctx.run(&td).await.task_arn().unwrap().to_owned();
    let before = ctx.running(&arn).await;
    let mut ids: Vec<String> =
        before.containers().iter().map(|c| c.runtime_id().expect("runtimeId").to_owned()).collect();
    ids.sort();

    ctx.server.sigkill();
    ctx.server.restart();
    ctx.reconnect().await;

    // Give the new agent time to take the task up (and to do anything wrong it would do).
    tokio::time::sleep(Duration::from_secs(2)).await;
    let task = ctx.describe(&arn).await;
    assert_eq!(task.last_status(), Some("RUNNING"), "{task:#?}");
    assert_eq!(task.desired_status(), Some("RUNNING"), "{task:#?}");
    let mut after: Vec<String> = containers_labelled(LABEL_TASK_ARN, &arn);
    after.sort();
    assert_eq!(after, ids, "the same containers, none started again");
    for c in task.containers() {
        assert!(ids.contains(&c.runtime_id().unwrap().to_owned()), "{task:#?}");
        assert_eq!(c.last_status(), Some("RUNNING"), "{task:#?}");
    }

    ctx.stop(&arn, "after the restart").await;
    let task = ctx.stopped(&arn).await;
    assert_eq!(task.stop_code(), Some(&TaskStopCode::UserInitiated), "{task:#?}");
    assert_eq!(task.stopped_reason(), Some("after the restart"));
    for id in &ids {
        assert_eq!(inspect(id, "{{.State.Running}}"), "false", "container {id} was stopped");
    }
    assert_eq!(containers_labelled(LABEL_TASK_ARN, &arn).len(), 2, "still exactly two");
}

#[tokio::test]
async fn a_container_that_died_while_the_server_was_down_stops_its_task() {
    let mut ctx = Ctx::start("diedmeanwhile").await;
    let td = ctx
        .register("died", vec![sh_builder("main", "exec sleep 600").stop_timeout(1).build()])
        .await;
    let arn = ctx.run(&td).await.task_arn().unwrap().to_owned();
    let task = ctx.running(&arn).await;
    let id = container(&task, "main").runtime_id().expect("runtimeId").to_owned();

    ctx.server.sigkill();
    docker_ok(&["kill", &id]);
    ctx.server.restart();
    ctx.reconnect().await;

    let task = ctx.stopped(&arn).await;
    assert_eq!(task.stop_code(), Some(&TaskStopCode::EssentialContainerExited), "{task:#?}");
    assert_eq!(task.stopped_reason(), Some("Essential container in task exited"));
    assert_eq!(container(&task, "main").exit_code(), Some(137), "{task:#?}");
    assert_eq!(containers_labelled(LABEL_TASK_ARN, &arn), vec![id], "not started again");
}

#[tokio::test]
async fn a_sidecar_that_died_while_the_server_was_down_leaves_the_task_running() {
    let mut ctx = Ctx::start("sidecardied").await;
    let td = ctx
        .register(
            "sidecardied",
            vec![
                sh_builder("main", "exec sleep 600").stop_timeout(1).build(),
                sh_builder("side", "exec sleep 600").essential(false).stop_timeout(1).build(),
            ],
        )
        .await;
    let arn = ctx.run(&td).await.task_arn().unwrap().to_owned();
    let task = ctx.running(&arn).await;
    let side = container(&task, "side").runtime_id().expect("runtimeId").to_owned();

    ctx.server.sigkill();
    docker_ok(&["kill", &side]);
    ctx.server.restart();
    ctx.reconnect().await;

    let task = ctx
        .wait(&arn, "with side stopped", |t| container(t, "side").last_status() == Some("STOPPED"))
        .await;
    assert_eq!(container(&task, "side").exit_code(), Some(137), "{task:#?}");
    assert_eq!(task.last_status(), Some("RUNNING"), "a non-essential exit: {task:#?}");
    assert_eq!(container(&task, "main").last_status(), Some("RUNNING"), "{task:#?}");
    assert_eq!(containers_labelled(LABEL_TASK_ARN, &arn).len(), 2, "nothing started again");
}

#[tokio::test]
async fn a_task_waiting_on_a_dependency_resumes_after_a_crash() {
    let mut ctx = Ctx::start("resume").await;
    // `db` turns healthy only once the test says so (a file in its container); `app` counts
    // its starts in the shared volume.
    let shared = wharf_sdk_tests::aws_sdk_ecs::types::MountPoint::builder()
        .source_volume("shared")
        .container_path("/shared")
        .build();
    let db = sh_builder("db", "exec sleep 600")
        .health_check(crate::support::health_check("test -f /shared/ready", 10))
        .mount_points(shared.clone())
        .stop_timeout(1)
        .build();
    let app = sh_builder("app", "echo started >> /shared/app-starts; exec sleep 600")
        .depends_on(
            wharf_sdk_tests::aws_sdk_ecs::types::ContainerDependency::builder()
                .container_name("db")
                .condition(wharf_sdk_tests::aws_sdk_ecs::types::ContainerCondition::Healthy)
                .build()
                .unwrap(),
        )
        .mount_points(shared)
        .stop_timeout(1)
        .build();
    let out = wharf_sdk_tests::ok(
        ctx.ecs
            .register_task_definition()
            .family("resume")
            .volumes(wharf_sdk_tests::aws_sdk_ecs::types::Volume::builder().name("shared").build())
            .container_definitions(db)
            .container_definitions(app)
            .send()
            .await,
    );
    let td = out.task_definition().unwrap().task_definition_arn().unwrap().to_owned();
    let arn = ctx.run(&td).await.task_arn().unwrap().to_owned();
    let task = ctx
        .wait(&arn, "with db running", |t| container(t, "db").last_status() == Some("RUNNING"))
        .await;
    assert_eq!(task.last_status(), Some("PENDING"), "app waits for db: {task:#?}");
    let instance = ctx.instance().await;
    assert_eq!(instance.pending_tasks_count(), 1, "a PENDING task: {instance:#?}");
    assert_eq!(instance.running_tasks_count(), 0, "{instance:#?}");
    let db = container(&task, "db").runtime_id().expect("db's runtimeId").to_owned();

    ctx.server.sigkill();
    docker_ok(&["exec", &db, "touch", "/shared/ready"]);
    ctx.server.restart();
    ctx.reconnect().await;

    let task = ctx.running(&arn).await;
    assert_eq!(container(&task, "db").runtime_id(), Some(db.as_str()), "db adopted: {task:#?}");
    assert_eq!(container(&task, "app").last_status(), Some("RUNNING"), "{task:#?}");
    assert_eq!(containers_labelled(LABEL_TASK_ARN, &arn).len(), 2, "one container each");
    assert_eq!(docker_ok(&["exec", &db, "cat", "/shared/app-starts"]), "started", "app ran once");
}

#[tokio::test]
async fn a_container_removed_while_the_server_was_down_is_not_started_again() {
    let mut ctx = Ctx::start("vanished").await;
    let td = ctx
        .register("vanished", vec![sh_builder("main", "exec sleep 600").stop_timeout(1).build()])
        .await;
    let arn = ctx.run(&td).await.task_arn().unwrap().to_owned();
    let task = ctx.running(&arn).await;
    let id = container(&task, "main").runtime_id().expect("runtimeId").to_owned();

    ctx.server.sigkill();
    docker_ok(&["rm", "-f", &id]);
    ctx.server.restart();
    ctx.reconnect().await;

    // The ECS agent knows the container's ID; when inspecting it finds nothing, the
    // container is STOPPED with `ContainerVanishedError` (AG:agent/engine/docker_task_engine.go
    // `synchronizeContainerStatus`), and, being essential, it stops the task.
    let task = ctx
        .wait(&arn, "STOPPED, or running a container again", |t| {
            t.last_status() == Some("STOPPED")
                || container(t, "main").runtime_id().is_some_and(|r| r != id)
        })
        .await;
    assert!(
        containers_labelled(LABEL_TASK_ARN, &arn).is_empty(),
        "no container is created again: {task:#?}"
    );
    assert_eq!(task.last_status(), Some("STOPPED"), "{task:#?}");
    assert_eq!(task.stop_code(), Some(&TaskStopCode::EssentialContainerExited), "{task:#?}");
    let reason = container(&task, "main").reason().unwrap_or_default();
    assert!(reason.starts_with("ContainerVanishedError"), "container reason {reason:?}");
}
