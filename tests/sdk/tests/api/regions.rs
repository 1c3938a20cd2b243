//! State is kept per region (the region of the SigV4 credential scope; `us-east-1` for
//! unsigned requests), and `POST /_wharf/reset` wipes it all when the server allows it.

use wharf_sdk_tests::aws_sdk_ecs::types::SettingName;
use wharf_sdk_tests::{cluster_arn, expect_error, ok, Server, ACCOUNT_ID};

use crate::support::{list_families, register_small, register_small_td};

const OTHER: &str = "eu-west-1";

#[tokio::test]
async fn regions_are_isolated() {
    let server = Server::start();
    let east = server.client().await;
    let west = server.client_in(OTHER).await;

    ok(east.create_cluster().cluster_name("east-only").send().await);
    register_small(&east, "east-family").await;
    register_small(&east, "east-family").await;

    // Not listed, not described, not usable in the other region.
    let listed = ok(west.list_clusters().send().await);
    assert!(
        listed.cluster_arns().iter().all(|a| !a.contains("east-only")),
        "{:?}",
        listed.cluster_arns()
    );
    let described = ok(west.describe_clusters().clusters("east-only").send().await);
    assert!(described.clusters().is_empty(), "{:?}", described.clusters());
    assert_eq!(described.failures().len(), 1);
    assert_eq!(
        described.failures()[0].arn(),
        Some(format!("arn:aws:ecs:{OTHER}:{ACCOUNT_ID}:cluster/east-only").as_str())
    );
    assert_eq!(described.failures()[0].reason(), Some("MISSING"));
    expect_error(
        "ClusterNotFoundException",
        west.delete_cluster().cluster("east-only").send().await,
    );
    expect_error(
        "ClientException",
        west.describe_task_definition().task_definition("east-family").send().await,
    );
    assert!(list_families(&west, None, None, None).await.is_empty());

    // The same names live separately in each region, with their own ARNs and revisions.
    let created = ok(west.create_cluster().cluster_name("east-only").send().await);
    assert_eq!(
        created.cluster().and_then(|c| c.cluster_arn()),
        Some(format!("arn:aws:ecs:{OTHER}:{ACCOUNT_ID}:cluster/east-only").as_str())
    );
    let td = register_small_td(&west, "east-family").await;
    assert_eq!(td.revision(), 1);
    assert_eq!(
        td.task_definition_arn(),
        Some(format!("arn:aws:ecs:{OTHER}:{ACCOUNT_ID}:task-definition/east-family:1").as_str())
    );
    ok(west.delete_cluster().cluster("east-only").send().await);
    // Deleting in one region leaves the other alone.
    let described = ok(east.describe_clusters().clusters("east-only").send().await);
    assert_eq!(described.clusters()[0].status(), Some("ACTIVE"));
    assert_eq!(register_small_td(&east, "east-family").await.revision(), 3);

    // Account settings are per region too.
    ok(east
        .put_account_setting()
        .name(SettingName::ContainerInsights)
        .value("enabled")
        .send()
        .await);
    let west_settings =
        ok(west.list_account_settings().name(SettingName::ContainerInsights).send().await);
    assert!(west_settings.settings().is_empty(), "{west_settings:?}");
}

#[tokio::test]
async fn unsigned_requests_are_us_east_1() {
    let server = Server::start();
    let east = server.client().await;
    ok(east.create_cluster().cluster_name("seen-unsigned").send().await);
    let (status, body) = server
        .raw_request(
            "POST",
            "/",
            &[
                ("Content-Type", "application/x-amz-json-1.1"),
                ("X-Amz-Target", "AmazonEC2ContainerServiceV20141113.ListClusters"),
            ],
            b"{}",
        )
        .expect("unsigned ListClusters");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(&cluster_arn("seen-unsigned")), "{body}");
}

#[tokio::test]
async fn reset_wipes_everything() {
    let server = Server::start();
    let east = server.client().await;
    let west = server.client_in(OTHER).await;
    ok(east.create_cluster().cluster_name("doomed").send().await);
    ok(west.create_cluster().cluster_name("doomed-too").send().await);
    register_small(&east, "doomed-family").await;
    ok(east
        .put_account_setting()
        .name(SettingName::ContainerInsights)
        .value("enabled")
        .send()
        .await);

    server.reset();

    for (client, name) in [(&east, "doomed"), (&west, "doomed-too")] {
        let listed = ok(client.list_clusters().send().await);
        assert!(
            listed.cluster_arns().iter().all(|a| !a.ends_with(&format!("/{name}"))),
            "{:?}",
            listed.cluster_arns()
        );
    }
    assert!(list_families(&east, None, None, None).await.is_empty());
    let settings =
        ok(east.list_account_settings().name(SettingName::ContainerInsights).send().await);
    assert!(settings.settings().is_empty(), "{settings:?}");
    // Revisions start again at 1.
    assert_eq!(register_small_td(&east, "doomed-family").await.revision(), 1);
    // The capacity providers every account has are back.
    let providers = ok(east.describe_capacity_providers().send().await);
    assert!(providers.capacity_providers().iter().any(|p| p.name() == Some("FARGATE")));
}

#[tokio::test]
async fn reset_does_not_exist_without_the_flag() {
    let server = Server::start_with(false);
    let ecs = server.client().await;
    ok(ecs.create_cluster().cluster_name("kept").send().await);
    let (status, body) = server.raw_request("POST", "/_wharf/reset", &[], b"").expect("request");
    assert!(!(200..300).contains(&status), "reset answered {status} without --allow-reset: {body}");
    let listed = ok(ecs.list_clusters().send().await);
    assert!(listed.cluster_arns().contains(&cluster_arn("kept")), "{listed:?}");
}
