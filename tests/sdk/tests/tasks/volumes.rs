//! Volumes: a task volume that sidecars share, and a bind mount of a host directory.

use wharf_sdk_tests::aws_sdk_ecs::types::{
    ContainerCondition, ContainerDependency, HostVolumeProperties, MountPoint, TaskStopCode, Volume,
};

use crate::support::{container, sh_builder, Ctx};

fn mount(volume: &str, path: &str) -> MountPoint {
    MountPoint::builder().source_volume(volume).container_path(path).build()
}

#[tokio::test]
async fn a_sidecar_reads_what_another_wrote_to_a_task_volume() {
    let ctx = Ctx::start("sharedvol").await;
    let writer = sh_builder("writer", "echo token-4711 > /data/message")
        .essential(false)
        .mount_points(mount("data", "/data"))
        .build();
    let reader = sh_builder("reader", "test \"$(cat /in/message)\" = token-4711")
        .depends_on(
            ContainerDependency::builder()
                .container_name("writer")
                .condition(ContainerCondition::Complete)
                .build()
                .unwrap(),
        )
        .mount_points(mount("data", "/in"))
        .build();
    let out = wharf_sdk_tests::ok(
        ctx.ecs
            .register_task_definition()
            .family("sharedvol")
            .volumes(Volume::builder().name("data").build())
            .container_definitions(writer)
            .container_definitions(reader)
            .send()
            .await,
    );
    let td = out.task_definition().unwrap().task_definition_arn().unwrap().to_owned();
    let arn = ctx.run(&td).await.task_arn().unwrap().to_owned();
    let task = ctx.stopped(&arn).await;
    assert_eq!(container(&task, "writer").exit_code(), Some(0), "{task:#?}");
    assert_eq!(container(&task, "reader").exit_code(), Some(0), "reader saw the token: {task:#?}");
    assert_eq!(task.stop_code(), Some(&TaskStopCode::EssentialContainerExited), "{task:#?}");
}

#[tokio::test]
async fn a_host_source_path_is_bind_mounted() {
    let ctx = Ctx::start("bind").await;
    let dir = tempfile::Builder::new().prefix("wharf-bind-").tempdir().expect("a temp dir");
    std::fs::write(dir.path().join("in.txt"), "from-the-host\n").expect("in.txt");
    let worker = sh_builder(
        "worker",
        "test \"$(cat /host/in.txt)\" = from-the-host && echo from-the-task > /host/out.txt",
    )
    .mount_points(mount("hostdir", "/host"))
    .build();
    let out = wharf_sdk_tests::ok(
        ctx.ecs
            .register_task_definition()
            .family("bind")
            .volumes(
                Volume::builder()
                    .name("hostdir")
                    .host(
                        HostVolumeProperties::builder()
                            .source_path(dir.path().to_str().unwrap())
                            .build(),
                    )
                    .build(),
            )
            .container_definitions(worker)
            .send()
            .await,
    );
    let td = out.task_definition().unwrap().task_definition_arn().unwrap().to_owned();
    let arn = ctx.run(&td).await.task_arn().unwrap().to_owned();
    let task = ctx.stopped(&arn).await;
    assert_eq!(container(&task, "worker").exit_code(), Some(0), "it read the host file: {task:#?}");
    let written = std::fs::read_to_string(dir.path().join("out.txt")).expect("out.txt on the host");
    assert_eq!(written, "from-the-task\n");
}
