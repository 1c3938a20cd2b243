//! Clusters: CreateCluster, DescribeClusters, ListClusters, UpdateCluster,
//! UpdateClusterSettings, PutClusterCapacityProviders, DeleteCluster.

use std::collections::BTreeSet;

use wharf_sdk_tests::aws_sdk_ecs::types::{
    CapacityProviderStrategyItem, ClusterConfiguration, ClusterField, ClusterSetting,
    ClusterSettingName, ExecuteCommandConfiguration, ExecuteCommandLogConfiguration,
    ExecuteCommandLogging, Tag,
};
use wharf_sdk_tests::aws_sdk_ecs::Client;
use wharf_sdk_tests::{cluster_arn, expect_error, ok, service_error, Server};

fn tag(key: &str, value: &str) -> Tag {
    Tag::builder().key(key).value(value).build()
}

fn insights(value: &str) -> ClusterSetting {
    ClusterSetting::builder().name(ClusterSettingName::ContainerInsights).value(value).build()
}

fn strategy(provider: &str, base: i32, weight: i32) -> CapacityProviderStrategyItem {
    CapacityProviderStrategyItem::builder()
        .capacity_provider(provider)
        .base(base)
        .weight(weight)
        .build()
        .expect("strategy item")
}

fn exec_config(group: &str) -> ClusterConfiguration {
    ClusterConfiguration::builder()
        .execute_command_configuration(
            ExecuteCommandConfiguration::builder()
                .kms_key_id("arn:aws:kms:us-east-1:000000000000:key/1234abcd")
                .logging(ExecuteCommandLogging::Override)
                .log_configuration(
                    ExecuteCommandLogConfiguration::builder()
                        .cloud_watch_log_group_name(group)
                        .cloud_watch_encryption_enabled(true)
                        .s3_bucket_name("exec-logs")
                        .s3_encryption_enabled(true)
                        .s3_key_prefix("exec/")
                        .build(),
                )
                .build(),
        )
        .build()
}

async fn list_all_clusters(client: &Client) -> Vec<String> {
    let mut arns = Vec::new();
    let mut token = None;
    loop {
        let page = ok(client.list_clusters().set_next_token(token).send().await);
        arns.extend(page.cluster_arns().iter().cloned());
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            return arns;
        }
    }
}

#[tokio::test]
async fn create_describe_list_delete() {
    let server = Server::start();
    let ecs = server.client().await;

    let created = ok(ecs
        .create_cluster()
        .cluster_name("alpha")
        .tags(tag("team", "platform"))
        .settings(insights("enabled"))
        .configuration(exec_config("/ecs/exec"))
        .send()
        .await);
    let cluster = created.cluster().expect("cluster in CreateCluster response");
    assert_eq!(cluster.cluster_name(), Some("alpha"));
    assert_eq!(cluster.cluster_arn(), Some(cluster_arn("alpha").as_str()));
    assert_eq!(cluster.status(), Some("ACTIVE"));
    assert_eq!(cluster.registered_container_instances_count(), 0);
    assert_eq!(cluster.running_tasks_count(), 0);
    assert_eq!(cluster.pending_tasks_count(), 0);
    assert_eq!(cluster.active_services_count(), 0);
    assert_eq!(cluster.settings(), &[insights("enabled")]);
    assert_eq!(cluster.configuration(), Some(&exec_config("/ecs/exec")));
    assert_eq!(cluster.tags(), &[tag("team", "platform")]);

    // Plain describe, by name: no tags unless asked for.
    let described = ok(ecs.describe_clusters().clusters("alpha").send().await);
    assert!(described.failures().is_empty(), "{:?}", described.failures());
    assert_eq!(described.clusters().len(), 1);
    let plain = &described.clusters()[0];
    assert_eq!(plain.cluster_arn(), Some(cluster_arn("alpha").as_str()));
    assert_eq!(plain.status(), Some("ACTIVE"));
    assert!(plain.tags().is_empty(), "tags only come with include TAGS: {:?}", plain.tags());

    // By ARN, with everything included.
    let described = ok(ecs
        .describe_clusters()
        .clusters(cluster_arn("alpha"))
        .include(ClusterField::Tags)
        .include(ClusterField::Settings)
        .include(ClusterField::Configurations)
        .include(ClusterField::Statistics)
        .include(ClusterField::Attachments)
        .send()
        .await);
    assert_eq!(described.clusters().len(), 1);
    let full = &described.clusters()[0];
    assert_eq!(full.cluster_name(), Some("alpha"));
    assert_eq!(full.tags(), &[tag("team", "platform")]);
    assert_eq!(full.settings(), &[insights("enabled")]);
    assert_eq!(full.configuration(), Some(&exec_config("/ecs/exec")));

    // A missing cluster is a failure entry, not an exception.
    let described = ok(ecs.describe_clusters().clusters("alpha").clusters("nope").send().await);
    assert_eq!(described.clusters().len(), 1);
    assert_eq!(described.failures().len(), 1);
    assert_eq!(described.failures()[0].arn(), Some(cluster_arn("nope").as_str()));
    assert_eq!(described.failures()[0].reason(), Some("MISSING"));

    assert!(list_all_clusters(&ecs).await.contains(&cluster_arn("alpha")));

    let deleted = ok(ecs.delete_cluster().cluster("alpha").send().await);
    let cluster = deleted.cluster().expect("cluster in DeleteCluster response");
    assert_eq!(cluster.cluster_arn(), Some(cluster_arn("alpha").as_str()));
    assert_eq!(cluster.status(), Some("INACTIVE"));
    assert!(!list_all_clusters(&ecs).await.contains(&cluster_arn("alpha")));

    // ECS may keep an INACTIVE cluster discoverable for a while, or report it missing.
    let described = ok(ecs.describe_clusters().clusters("alpha").send().await);
    match (described.clusters(), described.failures()) {
        ([c], []) => assert_eq!(c.status(), Some("INACTIVE")),
        ([], [f]) => assert_eq!(f.reason(), Some("MISSING")),
        other => panic!("unexpected DescribeClusters answer for a deleted cluster: {other:?}"),
    }

    // The name can be used again.
    let again = ok(ecs.create_cluster().cluster_name("alpha").send().await);
    assert_eq!(again.cluster().and_then(|c| c.status()), Some("ACTIVE"));
    assert!(list_all_clusters(&ecs).await.contains(&cluster_arn("alpha")));
}

#[tokio::test]
async fn create_cluster_is_idempotent() {
    let server = Server::start();
    let ecs = server.client().await;
    let first = ok(ecs.create_cluster().cluster_name("twice").send().await);
    let second = ok(ecs.create_cluster().cluster_name("twice").send().await);
    assert_eq!(
        first.cluster().and_then(|c| c.cluster_arn()),
        second.cluster().and_then(|c| c.cluster_arn())
    );
    let arns = list_all_clusters(&ecs).await;
    assert_eq!(arns.iter().filter(|a| **a == cluster_arn("twice")).count(), 1, "{arns:?}");
}

#[tokio::test]
async fn default_cluster() {
    let server = Server::start();
    let ecs = server.client().await;
    // No name: the cluster is called `default`.
    let created = ok(ecs.create_cluster().send().await);
    let cluster = created.cluster().expect("cluster");
    assert_eq!(cluster.cluster_name(), Some("default"));
    assert_eq!(cluster.cluster_arn(), Some(cluster_arn("default").as_str()));
    // DescribeClusters without clusters describes the default cluster.
    let described = ok(ecs.describe_clusters().send().await);
    assert!(described.failures().is_empty(), "{:?}", described.failures());
    assert_eq!(described.clusters().len(), 1);
    assert_eq!(described.clusters()[0].cluster_name(), Some("default"));
    assert_eq!(described.clusters()[0].status(), Some("ACTIVE"));
    assert!(list_all_clusters(&ecs).await.contains(&cluster_arn("default")));
}

#[tokio::test]
async fn invalid_cluster_name_is_rejected() {
    let server = Server::start();
    let ecs = server.client().await;
    for name in ["has space", "semi;colon", &"x".repeat(256)] {
        let err = service_error(ecs.create_cluster().cluster_name(name).send().await);
        assert_eq!(err.status, 400, "{name:?}: {err:?}");
        assert!(
            err.code == "InvalidParameterException" || err.code == "ClientException",
            "{name:?}: {err:?}"
        );
    }
    assert!(list_all_clusters(&ecs).await.iter().all(|a| !a.contains("has space")));
}

#[tokio::test]
async fn operations_on_missing_cluster() {
    let server = Server::start();
    let ecs = server.client().await;
    expect_error("ClusterNotFoundException", ecs.delete_cluster().cluster("ghost").send().await);
    expect_error(
        "ClusterNotFoundException",
        ecs.update_cluster().cluster("ghost").settings(insights("enabled")).send().await,
    );
    expect_error(
        "ClusterNotFoundException",
        ecs.update_cluster_settings().cluster("ghost").settings(insights("enabled")).send().await,
    );
    expect_error(
        "ClusterNotFoundException",
        ecs.put_cluster_capacity_providers()
            .cluster("ghost")
            .capacity_providers("FARGATE")
            .default_capacity_provider_strategy(strategy("FARGATE", 0, 1))
            .send()
            .await,
    );
    // The failed calls created nothing.
    assert!(!list_all_clusters(&ecs).await.contains(&cluster_arn("ghost")));
}

#[tokio::test]
async fn update_cluster_and_settings() {
    let server = Server::start();
    let ecs = server.client().await;
    ok(ecs.create_cluster().cluster_name("upd").send().await);

    let updated = ok(ecs
        .update_cluster()
        .cluster("upd")
        .settings(insights("enhanced"))
        .configuration(exec_config("/ecs/updated"))
        .send()
        .await);
    let cluster = updated.cluster().expect("cluster");
    assert_eq!(cluster.settings(), &[insights("enhanced")]);
    assert_eq!(cluster.configuration(), Some(&exec_config("/ecs/updated")));

    let described = ok(ecs
        .describe_clusters()
        .clusters(cluster_arn("upd"))
        .include(ClusterField::Settings)
        .include(ClusterField::Configurations)
        .send()
        .await);
    assert_eq!(described.clusters()[0].settings(), &[insights("enhanced")]);
    assert_eq!(described.clusters()[0].configuration(), Some(&exec_config("/ecs/updated")));

    let updated = ok(ecs
        .update_cluster_settings()
        .cluster(cluster_arn("upd"))
        .settings(insights("disabled"))
        .send()
        .await);
    assert_eq!(updated.cluster().expect("cluster").settings(), &[insights("disabled")]);
    let described =
        ok(ecs.describe_clusters().clusters("upd").include(ClusterField::Settings).send().await);
    assert_eq!(described.clusters()[0].settings(), &[insights("disabled")]);
    // Settings changes leave the configuration alone.
    let described = ok(ecs
        .describe_clusters()
        .clusters("upd")
        .include(ClusterField::Configurations)
        .send()
        .await);
    assert_eq!(described.clusters()[0].configuration(), Some(&exec_config("/ecs/updated")));
}

#[tokio::test]
async fn cluster_capacity_providers() {
    let server = Server::start();
    let ecs = server.client().await;

    // At creation.
    let created = ok(ecs
        .create_cluster()
        .cluster_name("mixed")
        .capacity_providers("FARGATE")
        .capacity_providers("FARGATE_SPOT")
        .default_capacity_provider_strategy(strategy("FARGATE", 1, 1))
        .default_capacity_provider_strategy(strategy("FARGATE_SPOT", 0, 4))
        .send()
        .await);
    let cluster = created.cluster().expect("cluster");
    assert_eq!(cluster.capacity_providers(), &["FARGATE", "FARGATE_SPOT"]);
    assert_eq!(
        cluster.default_capacity_provider_strategy(),
        &[strategy("FARGATE", 1, 1), strategy("FARGATE_SPOT", 0, 4)]
    );

    // Replaced by PutClusterCapacityProviders.
    let put = ok(ecs
        .put_cluster_capacity_providers()
        .cluster("mixed")
        .capacity_providers("FARGATE_SPOT")
        .default_capacity_provider_strategy(strategy("FARGATE_SPOT", 2, 1))
        .send()
        .await);
    let cluster = put.cluster().expect("cluster");
    assert_eq!(cluster.capacity_providers(), &["FARGATE_SPOT"]);
    assert_eq!(cluster.default_capacity_provider_strategy(), &[strategy("FARGATE_SPOT", 2, 1)]);
    let described = ok(ecs.describe_clusters().clusters("mixed").send().await);
    assert_eq!(described.clusters()[0].capacity_providers(), &["FARGATE_SPOT"]);
    assert_eq!(
        described.clusters()[0].default_capacity_provider_strategy(),
        &[strategy("FARGATE_SPOT", 2, 1)]
    );

    // Emptied: both lists given as [].
    let put = ok(ecs
        .put_cluster_capacity_providers()
        .cluster(cluster_arn("mixed"))
        .set_capacity_providers(Some(vec![]))
        .set_default_capacity_provider_strategy(Some(vec![]))
        .send()
        .await);
    let cluster = put.cluster().expect("cluster");
    assert!(cluster.capacity_providers().is_empty(), "{:?}", cluster.capacity_providers());
    assert!(cluster.default_capacity_provider_strategy().is_empty());

    // A provider that does not exist is refused, and nothing changes.
    let err = service_error(
        ecs.put_cluster_capacity_providers()
            .cluster("mixed")
            .capacity_providers("no-such-provider")
            .set_default_capacity_provider_strategy(Some(vec![]))
            .send()
            .await,
    );
    assert_eq!(err.status, 400, "{err:?}");
    assert!(
        err.code == "InvalidParameterException" || err.code == "ClientException",
        "unexpected error {err:?}"
    );
    // A strategy naming a provider that is not associated with the cluster is refused.
    let err = service_error(
        ecs.put_cluster_capacity_providers()
            .cluster("mixed")
            .capacity_providers("FARGATE")
            .default_capacity_provider_strategy(strategy("FARGATE_SPOT", 0, 1))
            .send()
            .await,
    );
    assert_eq!(err.status, 400, "{err:?}");
    assert!(
        err.code == "InvalidParameterException" || err.code == "ClientException",
        "unexpected error {err:?}"
    );
    let described = ok(ecs.describe_clusters().clusters("mixed").send().await);
    assert!(described.clusters()[0].capacity_providers().is_empty());

    // A cluster holding only Fargate capacity providers can be deleted; deleting it
    // disassociates them.
    ok(ecs
        .put_cluster_capacity_providers()
        .cluster("mixed")
        .capacity_providers("FARGATE")
        .default_capacity_provider_strategy(strategy("FARGATE", 0, 1))
        .send()
        .await);
    let deleted = ok(ecs.delete_cluster().cluster("mixed").send().await);
    assert_eq!(deleted.cluster().and_then(|c| c.status()), Some("INACTIVE"));
}

#[tokio::test]
async fn list_clusters_paginates() {
    let server = Server::start();
    let ecs = server.client().await;
    let names: Vec<String> = (0..7).map(|i| format!("page-{i}")).collect();
    for name in &names {
        ok(ecs.create_cluster().cluster_name(name).send().await);
    }
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let page =
            ok(ecs.list_clusters().max_results(3).set_next_token(token.clone()).send().await);
        pages += 1;
        assert!(page.cluster_arns().len() <= 3, "page larger than maxResults: {page:?}");
        seen.extend(page.cluster_arns().iter().cloned());
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
        assert!(pages < 20, "pagination does not end");
    }
    assert!(pages >= 3, "7 clusters in pages of 3 need at least 3 pages, got {pages}");
    let unique: BTreeSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "a cluster was listed twice: {seen:?}");
    for name in &names {
        assert!(seen.contains(&cluster_arn(name)), "{name} missing from {seen:?}");
    }
    // The whole list in one call holds the same set.
    let all: BTreeSet<String> = list_all_clusters(&ecs).await.into_iter().collect();
    assert_eq!(all, seen.into_iter().collect());
}
