//! Nothing acknowledged is lost: after SIGKILL and a restart on the same data directory,
//! every write the SDK saw succeed is there.

use wharf_sdk_tests::aws_sdk_ecs::types::{ClusterField, SettingName, TaskDefinitionField};
use wharf_sdk_tests::{cluster_arn, ok, task_definition_arn, Server};

use crate::support::{list_task_definitions, small_container, tag};

#[tokio::test]
async fn acknowledged_writes_survive_kill_9() {
    let mut server = Server::start();
    let ecs = server.client().await;

    ok(ecs.create_cluster().cluster_name("durable").tags(tag("k", "v")).send().await);
    ok(ecs
        .put_account_setting()
        .name(SettingName::ContainerInsights)
        .value("enabled")
        .send()
        .await);
    // Concurrent registrations in one family: each gets its own revision, all durable.
    let mut handles = Vec::new();
    for _ in 0..32 {
        let ecs = ecs.clone();
        handles.push(tokio::spawn(async move {
            ok(ecs
                .register_task_definition()
                .family("durable")
                .container_definitions(small_container("main"))
                .tags(tag("k", "v"))
                .send()
                .await)
            .task_definition()
            .map(|t| t.revision())
            .expect("revision")
        }));
    }
    let mut revisions = Vec::new();
    for handle in handles {
        revisions.push(handle.await.expect("task"));
    }
    revisions.sort_unstable();
    assert_eq!(revisions, (1..=32).collect::<Vec<_>>(), "revisions are not 1..=32");
    ok(ecs.deregister_task_definition().task_definition("durable:7").send().await);

    server.kill_and_restart();
    let ecs = server.client().await;

    let described =
        ok(ecs.describe_clusters().clusters("durable").include(ClusterField::Tags).send().await);
    assert_eq!(described.clusters().len(), 1, "{described:?}");
    assert_eq!(described.clusters()[0].cluster_arn(), Some(cluster_arn("durable").as_str()));
    assert_eq!(described.clusters()[0].tags(), &[tag("k", "v")]);

    let expected: Vec<String> =
        (1..=32).filter(|r| *r != 7).map(|r| task_definition_arn("durable", r)).collect();
    assert_eq!(list_task_definitions(&ecs, Some("durable"), None, None, None).await, expected);
    let td = ok(ecs
        .describe_task_definition()
        .task_definition("durable:32")
        .include(TaskDefinitionField::Tags)
        .send()
        .await);
    assert_eq!(td.tags(), &[tag("k", "v")]);
    assert_eq!(
        ok(ecs.describe_task_definition().task_definition("durable:7").send().await)
            .task_definition()
            .and_then(|t| t.status())
            .map(|s| s.as_str()),
        Some("INACTIVE")
    );
    let settings =
        ok(ecs.list_account_settings().name(SettingName::ContainerInsights).send().await);
    assert_eq!(settings.settings().len(), 1, "{settings:?}");
    assert_eq!(settings.settings()[0].value(), Some("enabled"));

    // And the next revision continues from there.
    let next = ok(ecs
        .register_task_definition()
        .family("durable")
        .container_definitions(small_container("main"))
        .send()
        .await);
    assert_eq!(next.task_definition().map(|t| t.revision()), Some(33));
}
