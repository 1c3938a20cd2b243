//! Tags: TagResource, UntagResource, ListTagsForResource on clusters, task definitions and
//! capacity providers.

use wharf_sdk_tests::aws_sdk_ecs::types::{
    AutoScalingGroupProvider, CapacityProviderField, ClusterField, Tag, TaskDefinitionField,
};
use wharf_sdk_tests::aws_sdk_ecs::Client;
use wharf_sdk_tests::{
    capacity_provider_arn, cluster_arn, ok, service_error, task_definition_arn, Server,
};

use crate::support::{register_small, tag};

async fn tags_of(ecs: &Client, arn: &str) -> Vec<Tag> {
    let mut tags = ok(ecs.list_tags_for_resource().resource_arn(arn).send().await).tags().to_vec();
    tags.sort_by(|a, b| a.key().cmp(&b.key()));
    tags
}

/// Adds, overwrites and removes tags on `arn`, checking ListTagsForResource each time.
async fn exercise(ecs: &Client, arn: &str, initial: Vec<Tag>) {
    assert_eq!(tags_of(ecs, arn).await, initial, "initial tags of {arn}");

    ok(ecs
        .tag_resource()
        .resource_arn(arn)
        .tags(tag("team", "payments"))
        .tags(tag("tier", "web"))
        .tags(tag("empty", ""))
        .send()
        .await);
    let mut expected = initial.clone();
    expected.retain(|t| !["team", "tier", "empty"].contains(&t.key().unwrap_or_default()));
    expected.extend([tag("team", "payments"), tag("tier", "web"), tag("empty", "")]);
    expected.sort_by(|a, b| a.key().cmp(&b.key()));
    assert_eq!(tags_of(ecs, arn).await, expected, "after TagResource on {arn}");

    // Existing keys not named are left alone; a named key gets its new value.
    ok(ecs.tag_resource().resource_arn(arn).tags(tag("tier", "api")).send().await);
    for t in &mut expected {
        if t.key() == Some("tier") {
            *t = tag("tier", "api");
        }
    }
    assert_eq!(tags_of(ecs, arn).await, expected, "after overwriting a tag on {arn}");

    // Removing a key that is not there is not an error.
    ok(ecs.untag_resource().resource_arn(arn).tag_keys("team").tag_keys("never-set").send().await);
    expected.retain(|t| t.key() != Some("team"));
    assert_eq!(tags_of(ecs, arn).await, expected, "after UntagResource on {arn}");

    // Reserved prefix and too many tags are refused, and change nothing.
    let err = service_error(
        ecs.tag_resource().resource_arn(arn).tags(tag("aws:reserved", "x")).send().await,
    );
    assert_eq!((err.code.as_str(), err.status), ("InvalidParameterException", 400), "{err:?}");
    let mut too_many = ecs.tag_resource().resource_arn(arn);
    for i in 0..51 {
        too_many = too_many.tags(tag(&format!("k{i}"), "v"));
    }
    let err = service_error(too_many.send().await);
    assert_eq!(err.status, 400, "{err:?}");
    assert!(
        err.code == "InvalidParameterException" || err.code == "LimitExceededException",
        "{err:?}"
    );
    assert_eq!(tags_of(ecs, arn).await, expected, "a refused TagResource changed the tags");
}

#[tokio::test]
async fn cluster_tags() {
    let server = Server::start();
    let ecs = server.client().await;
    ok(ecs.create_cluster().cluster_name("tagged").tags(tag("owner", "ops")).send().await);
    exercise(&ecs, &cluster_arn("tagged"), vec![tag("owner", "ops")]).await;
    // DescribeClusters with include TAGS sees the same tags.
    let described =
        ok(ecs.describe_clusters().clusters("tagged").include(ClusterField::Tags).send().await);
    let mut seen = described.clusters()[0].tags().to_vec();
    seen.sort_by(|a, b| a.key().cmp(&b.key()));
    assert_eq!(seen, tags_of(&ecs, &cluster_arn("tagged")).await);
}

#[tokio::test]
async fn task_definition_tags() {
    let server = Server::start();
    let ecs = server.client().await;
    register_small(&ecs, "tagged-td").await;
    let arn = task_definition_arn("tagged-td", 1);
    exercise(&ecs, &arn, vec![]).await;
    let described = ok(ecs
        .describe_task_definition()
        .task_definition("tagged-td:1")
        .include(TaskDefinitionField::Tags)
        .send()
        .await);
    let mut seen = described.tags().to_vec();
    seen.sort_by(|a, b| a.key().cmp(&b.key()));
    assert_eq!(seen, tags_of(&ecs, &arn).await);
    // Each revision has its own tags.
    register_small(&ecs, "tagged-td").await;
    assert!(tags_of(&ecs, &task_definition_arn("tagged-td", 2)).await.is_empty());
}

#[tokio::test]
async fn capacity_provider_tags() {
    let server = Server::start();
    let ecs = server.client().await;
    ok(ecs
        .create_capacity_provider()
        .name("tagged-cp")
        .auto_scaling_group_provider(
            AutoScalingGroupProvider::builder()
                .auto_scaling_group_arn(
                    "arn:aws:autoscaling:us-east-1:000000000000:autoScalingGroup:\
                     11111111-2222-3333-4444-555555555555:autoScalingGroupName/tagged",
                )
                .build()
                .expect("asg provider"),
        )
        .tags(tag("owner", "ops"))
        .send()
        .await);
    exercise(&ecs, &capacity_provider_arn("tagged-cp"), vec![tag("owner", "ops")]).await;
    let described = ok(ecs
        .describe_capacity_providers()
        .capacity_providers("tagged-cp")
        .include(CapacityProviderField::Tags)
        .send()
        .await);
    let mut seen = described.capacity_providers()[0].tags().to_vec();
    seen.sort_by(|a, b| a.key().cmp(&b.key()));
    assert_eq!(seen, tags_of(&ecs, &capacity_provider_arn("tagged-cp")).await);
}

#[tokio::test]
async fn tags_on_missing_or_malformed_resources() {
    let server = Server::start();
    let ecs = server.client().await;

    let err = service_error(ecs.list_tags_for_resource().resource_arn("not-an-arn").send().await);
    assert_eq!((err.code.as_str(), err.status), ("InvalidParameterException", 400), "{err:?}");
    let err = service_error(
        ecs.tag_resource().resource_arn("not-an-arn").tags(tag("a", "b")).send().await,
    );
    assert_eq!((err.code.as_str(), err.status), ("InvalidParameterException", 400), "{err:?}");

    // A cluster that never existed, and one that was deleted. ListTagsForResource models
    // ClusterNotFoundException (and InvalidParameterException, which ECS gives for an
    // INACTIVE cluster); TagResource and UntagResource also model ResourceNotFoundException.
    ok(ecs.create_cluster().cluster_name("short-lived").send().await);
    ok(ecs.delete_cluster().cluster("short-lived").send().await);
    for name in ["never-existed", "short-lived"] {
        let arn = cluster_arn(name);
        let list = service_error(ecs.list_tags_for_resource().resource_arn(&arn).send().await);
        assert_eq!(list.status, 400, "ListTagsForResource {name}: {list:?}");
        assert!(
            ["ClusterNotFoundException", "InvalidParameterException"].contains(&list.code.as_str()),
            "ListTagsForResource {name}: {list:?}"
        );
        for (op, err) in [
            (
                "TagResource",
                service_error(
                    ecs.tag_resource().resource_arn(&arn).tags(tag("a", "b")).send().await,
                ),
            ),
            (
                "UntagResource",
                service_error(ecs.untag_resource().resource_arn(&arn).tag_keys("a").send().await),
            ),
        ] {
            assert_eq!(err.status, 400, "{op} {name}: {err:?}");
            assert!(
                [
                    "ClusterNotFoundException",
                    "InvalidParameterException",
                    "ResourceNotFoundException"
                ]
                .contains(&err.code.as_str()),
                "{op} {name}: {err:?}"
            );
        }
    }

    // A task definition that does not exist.
    let arn = task_definition_arn("never-registered", 1);
    let list = service_error(ecs.list_tags_for_resource().resource_arn(&arn).send().await);
    assert_eq!(list.status, 400, "{list:?}");
    assert!(
        ["ClientException", "InvalidParameterException"].contains(&list.code.as_str()),
        "ListTagsForResource: {list:?}"
    );
    let tag_err =
        service_error(ecs.tag_resource().resource_arn(&arn).tags(tag("a", "b")).send().await);
    assert_eq!(tag_err.status, 400, "{tag_err:?}");
    assert!(
        ["ClientException", "InvalidParameterException", "ResourceNotFoundException"]
            .contains(&tag_err.code.as_str()),
        "TagResource: {tag_err:?}"
    );
}
