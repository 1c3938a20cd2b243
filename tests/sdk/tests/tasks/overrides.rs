//! RunTask's overrides reach the container, and the task reports them.

use wharf_sdk_tests::aws_sdk_ecs::types::{ContainerOverride, KeyValuePair, TaskOverride};
use wharf_sdk_tests::ok;

use crate::support::{container, sh_builder, Ctx};

fn env(name: &str, value: &str) -> KeyValuePair {
    KeyValuePair::builder().name(name).value(value).build()
}

#[tokio::test]
async fn command_environment_and_memory_overrides_apply() {
    let ctx = Ctx::start("overrides").await;
    let main = sh_builder("main", "exit 9")
        .environment(env("BASE", "from-definition"))
        .environment(env("KEEP", "kept"))
        .build();
    let out = ok(ctx
        .ecs
        .register_task_definition()
        .family("overrides")
        .memory("256")
        .container_definitions(main)
        .send()
        .await);
    let td = out.task_definition().unwrap().task_definition_arn().unwrap().to_owned();

    // Exit 42 only if the override command runs and sees the merged environment.
    let check = "test \"$BASE\" = from-override && test \"$KEEP\" = kept && test \"$ADDED\" = yes \
                 && exit 42; exit 1";
    let overrides = TaskOverride::builder()
        .memory("512")
        .container_overrides(
            ContainerOverride::builder()
                .name("main")
                .command(check)
                .environment(env("BASE", "from-override"))
                .environment(env("ADDED", "yes"))
                .build(),
        )
        .build();
    let run = ok(ctx
        .ecs
        .run_task()
        .cluster(&ctx.cluster)
        .task_definition(&td)
        .overrides(overrides)
        .send()
        .await);
    assert!(run.failures().is_empty(), "{run:?}");
    let placed = &run.tasks()[0];
    assert_eq!(placed.memory(), Some("512"), "the task's memory is the override: {placed:#?}");
    let arn = placed.task_arn().unwrap().to_owned();

    let task = ctx.stopped(&arn).await;
    assert_eq!(container(&task, "main").exit_code(), Some(42), "the checks passed: {task:#?}");
    assert_eq!(task.memory(), Some("512"), "{task:#?}");
    let o = task.overrides().expect("overrides");
    assert_eq!(o.memory(), Some("512"), "{o:#?}");
    let co = &o.container_overrides()[0];
    assert_eq!(co.name(), Some("main"));
    assert_eq!(co.command(), [check]);
}

#[tokio::test]
async fn a_task_memory_override_bounds_the_containers() {
    let ctx = Ctx::start("memoverride").await;
    // No container limit: the task's memory bounds the container. Exit 0 only if the
    // container's cgroup allows the override's 1 GiB (or is unbounded under a task cgroup).
    let check = "limit=$(cat /sys/fs/cgroup/memory.max 2>/dev/null \
                 || cat /sys/fs/cgroup/memory/memory.limit_in_bytes); echo \"limit $limit\"; \
                 test \"$limit\" = 1073741824 || test \"$limit\" = max";
    let main = wharf_sdk_tests::aws_sdk_ecs::types::ContainerDefinition::builder()
        .name("main")
        .image(crate::support::BUSYBOX)
        .entry_point("sh")
        .entry_point("-c")
        .command(check)
        .build();
    let out = ok(ctx
        .ecs
        .register_task_definition()
        .family("memoverride")
        .memory("256")
        .container_definitions(main)
        .send()
        .await);
    let td = out.task_definition().unwrap().task_definition_arn().unwrap().to_owned();
    let run = ok(ctx
        .ecs
        .run_task()
        .cluster(&ctx.cluster)
        .task_definition(&td)
        .overrides(TaskOverride::builder().memory("1024").build())
        .send()
        .await);
    assert!(run.failures().is_empty(), "{run:?}");
    let arn = run.tasks()[0].task_arn().unwrap().to_owned();
    let task = ctx.stopped(&arn).await;
    assert_eq!(task.memory(), Some("1024"), "{task:#?}");
    let main = container(&task, "main");
    let limit = crate::support::inspect(main.runtime_id().unwrap(), "{{.HostConfig.Memory}}");
    assert_eq!(main.exit_code(), Some(0), "the container's limit is 1 GiB, Docker has {limit}");
}
