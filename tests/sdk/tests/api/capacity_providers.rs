//! Capacity providers: CreateCapacityProvider, DescribeCapacityProviders,
//! UpdateCapacityProvider, DeleteCapacityProvider, and their ties to clusters.

use std::collections::BTreeSet;

use wharf_sdk_tests::aws_sdk_ecs::types::{
    AutoScalingGroupProvider, AutoScalingGroupProviderUpdate, CapacityProvider,
    CapacityProviderStatus, CapacityProviderStrategyItem, CapacityProviderUpdateStatus,
    CreateManagedInstancesProviderConfiguration, InstanceLaunchTemplate, ManagedDraining,
    ManagedInstancesNetworkConfiguration, ManagedScaling, ManagedScalingStatus,
    ManagedTerminationProtection,
};
use wharf_sdk_tests::aws_sdk_ecs::Client;
use wharf_sdk_tests::{capacity_provider_arn, ok, service_error, Server};

fn asg_arn(name: &str) -> String {
    format!(
        "arn:aws:autoscaling:us-east-1:000000000000:autoScalingGroup:\
         11111111-2222-3333-4444-555555555555:autoScalingGroupName/{name}"
    )
}

fn asg_provider(name: &str) -> AutoScalingGroupProvider {
    AutoScalingGroupProvider::builder()
        .auto_scaling_group_arn(asg_arn(name))
        .managed_scaling(
            ManagedScaling::builder()
                .status(ManagedScalingStatus::Enabled)
                .target_capacity(90)
                .minimum_scaling_step_size(1)
                .maximum_scaling_step_size(100)
                .instance_warmup_period(300)
                .build(),
        )
        .managed_termination_protection(ManagedTerminationProtection::Disabled)
        .managed_draining(ManagedDraining::Enabled)
        .build()
        .expect("asg provider")
}

async fn create(ecs: &Client, name: &str) -> CapacityProvider {
    ok(ecs
        .create_capacity_provider()
        .name(name)
        .auto_scaling_group_provider(asg_provider(name))
        .send()
        .await)
    .capacity_provider
    .expect("capacityProvider")
}

async fn describe_all(ecs: &Client, page_size: Option<i32>) -> Vec<CapacityProvider> {
    let mut all = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..100 {
        let page = ok(ecs
            .describe_capacity_providers()
            .set_max_results(page_size)
            .set_next_token(token.clone())
            .send()
            .await);
        if let Some(size) = page_size {
            assert!(page.capacity_providers().len() <= size as usize, "page over {size}");
        }
        all.extend(page.capacity_providers().iter().cloned());
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            return all;
        }
    }
    panic!("DescribeCapacityProviders pagination does not end");
}

fn names(providers: &[CapacityProvider]) -> BTreeSet<String> {
    providers.iter().filter_map(|p| p.name().map(str::to_owned)).collect()
}

#[tokio::test]
async fn fargate_providers_always_exist() {
    let server = Server::start();
    let ecs = server.client().await;
    let all = describe_all(&ecs, None).await;
    for name in ["FARGATE", "FARGATE_SPOT"] {
        let provider = all
            .iter()
            .find(|p| p.name() == Some(name))
            .unwrap_or_else(|| panic!("{name} missing from {all:?}"));
        assert_eq!(provider.status(), Some(&CapacityProviderStatus::Active));
        assert_eq!(provider.capacity_provider_arn(), Some(capacity_provider_arn(name).as_str()));
    }
    let one = ok(ecs.describe_capacity_providers().capacity_providers("FARGATE_SPOT").send().await);
    assert_eq!(names(one.capacity_providers()), BTreeSet::from(["FARGATE_SPOT".to_owned()]));
    // They are reserved.
    let err =
        service_error(ecs.delete_capacity_provider().capacity_provider("FARGATE").send().await);
    assert_eq!(err.status, 400, "{err:?}");
    assert!(err.code == "ClientException" || err.code == "InvalidParameterException", "{err:?}");
    assert!(names(&describe_all(&ecs, None).await).contains("FARGATE"));
}

#[tokio::test]
async fn create_describe_update_delete() {
    let server = Server::start();
    let ecs = server.client().await;

    let created = create(&ecs, "asg-one").await;
    assert_eq!(created.name(), Some("asg-one"));
    assert_eq!(created.capacity_provider_arn(), Some(capacity_provider_arn("asg-one").as_str()));
    assert_eq!(created.status(), Some(&CapacityProviderStatus::Active));
    assert_eq!(created.auto_scaling_group_provider(), Some(&asg_provider("asg-one")));

    // By name and by ARN; unknown ones are failures.
    let described = ok(ecs
        .describe_capacity_providers()
        .capacity_providers("asg-one")
        .capacity_providers(capacity_provider_arn("asg-one"))
        .capacity_providers("missing-one")
        .send()
        .await);
    assert!(!described.capacity_providers().is_empty());
    for provider in described.capacity_providers() {
        assert_eq!(provider.name(), created.name());
        assert_eq!(provider.capacity_provider_arn(), created.capacity_provider_arn());
        assert_eq!(provider.status(), Some(&CapacityProviderStatus::Active));
        assert_eq!(provider.auto_scaling_group_provider(), Some(&asg_provider("asg-one")));
    }
    assert_eq!(described.failures().len(), 1, "{:?}", described.failures());
    assert_eq!(described.failures()[0].reason(), Some("MISSING"));
    assert!(
        described.failures()[0].arn().is_some_and(|a| a.contains("missing-one")),
        "{:?}",
        described.failures()
    );

    // Update the Auto Scaling group settings.
    let updated = ok(ecs
        .update_capacity_provider()
        .name("asg-one")
        .auto_scaling_group_provider(
            AutoScalingGroupProviderUpdate::builder()
                .managed_scaling(
                    ManagedScaling::builder()
                        .status(ManagedScalingStatus::Enabled)
                        .target_capacity(50)
                        .minimum_scaling_step_size(2)
                        .maximum_scaling_step_size(10)
                        .instance_warmup_period(60)
                        .build(),
                )
                .managed_termination_protection(ManagedTerminationProtection::Disabled)
                .managed_draining(ManagedDraining::Disabled)
                .build(),
        )
        .send()
        .await);
    let provider = updated.capacity_provider().expect("capacityProvider");
    let asg = provider.auto_scaling_group_provider().expect("autoScalingGroupProvider");
    assert_eq!(asg.auto_scaling_group_arn(), asg_arn("asg-one"));
    assert_eq!(asg.managed_scaling().and_then(|m| m.target_capacity()), Some(50));
    assert_eq!(asg.managed_scaling().and_then(|m| m.maximum_scaling_step_size()), Some(10));
    assert_eq!(asg.managed_draining(), Some(&ManagedDraining::Disabled));
    let described =
        ok(ecs.describe_capacity_providers().capacity_providers("asg-one").send().await);
    assert_eq!(
        described.capacity_providers()[0].auto_scaling_group_provider(),
        provider.auto_scaling_group_provider()
    );

    // Delete a provider no cluster uses.
    let deleted = ok(ecs.delete_capacity_provider().capacity_provider("asg-one").send().await);
    let provider = deleted.capacity_provider().expect("capacityProvider");
    assert_eq!(provider.name(), Some("asg-one"));
    assert!(
        matches!(
            provider.update_status(),
            Some(CapacityProviderUpdateStatus::DeleteInProgress)
                | Some(CapacityProviderUpdateStatus::DeleteComplete)
        ),
        "{provider:?}"
    );
    // Afterwards it is INACTIVE or missing, never ACTIVE.
    let described =
        ok(ecs.describe_capacity_providers().capacity_providers("asg-one").send().await);
    for p in described.capacity_providers() {
        assert_ne!(p.status(), Some(&CapacityProviderStatus::Active), "{p:?}");
    }
    assert!(describe_all(&ecs, None).await.iter().all(
        |p| p.name() != Some("asg-one") || p.status() != Some(&CapacityProviderStatus::Active)
    ));
}

#[tokio::test]
async fn invalid_capacity_providers_are_refused() {
    let server = Server::start();
    let ecs = server.client().await;
    create(&ecs, "taken").await;

    // Reserved prefixes.
    for name in ["aws-thing", "ecs-thing", "fargate-thing", "FARGATE"] {
        let err = service_error(
            ecs.create_capacity_provider()
                .name(name)
                .auto_scaling_group_provider(asg_provider(&format!("asg-{name}")))
                .send()
                .await,
        );
        assert_eq!(err.status, 400, "{name}: {err:?}");
        assert!(
            err.code == "ClientException" || err.code == "InvalidParameterException",
            "{name}: {err:?}"
        );
    }
    // A name already in use.
    let err = service_error(
        ecs.create_capacity_provider()
            .name("taken")
            .auto_scaling_group_provider(asg_provider("other-asg"))
            .send()
            .await,
    );
    assert_eq!(err.status, 400, "{err:?}");
    // An Auto Scaling group already used by another capacity provider.
    let err = service_error(
        ecs.create_capacity_provider()
            .name("second")
            .auto_scaling_group_provider(asg_provider("taken"))
            .send()
            .await,
    );
    assert_eq!((err.code.as_str(), err.status), ("ClientException", 400), "{err:?}");
    // Updating one that does not exist.
    let err = service_error(
        ecs.update_capacity_provider()
            .name("ghost")
            .auto_scaling_group_provider(
                AutoScalingGroupProviderUpdate::builder()
                    .managed_draining(ManagedDraining::Enabled)
                    .build(),
            )
            .send()
            .await,
    );
    assert_eq!(err.status, 400, "{err:?}");

    let all = names(&describe_all(&ecs, None).await);
    assert_eq!(
        all,
        ["FARGATE", "FARGATE_SPOT", "taken"].iter().map(|s| s.to_string()).collect(),
        "a refused request created something"
    );
}

#[tokio::test]
async fn describe_capacity_providers_paginates() {
    let server = Server::start();
    let ecs = server.client().await;
    for i in 0..5 {
        create(&ecs, &format!("cp-{i}")).await;
    }
    let all = describe_all(&ecs, None).await;
    let paged = describe_all(&ecs, Some(2)).await;
    assert_eq!(paged.len(), all.len(), "paging lost or repeated providers");
    assert_eq!(names(&paged), names(&all));
    assert_eq!(names(&all).len(), 7, "{:?}", names(&all));
}

#[tokio::test]
async fn provider_associated_with_cluster() {
    let server = Server::start();
    let ecs = server.client().await;
    create(&ecs, "in-use").await;
    ok(ecs.create_cluster().cluster_name("ec2-capacity").send().await);
    let put = ok(ecs
        .put_cluster_capacity_providers()
        .cluster("ec2-capacity")
        .capacity_providers("in-use")
        .capacity_providers("FARGATE")
        .default_capacity_provider_strategy(
            CapacityProviderStrategyItem::builder()
                .capacity_provider("in-use")
                .weight(1)
                .build()
                .expect("strategy"),
        )
        .send()
        .await);
    assert_eq!(put.cluster().expect("cluster").capacity_providers(), &["in-use", "FARGATE"]);

    // Deleting a provider a cluster uses fails: ECS answers with updateStatus DELETE_FAILED
    // and leaves it ACTIVE.
    let attempt = ok(ecs.delete_capacity_provider().capacity_provider("in-use").send().await);
    let provider = attempt.capacity_provider().expect("capacityProvider");
    assert_eq!(provider.status(), Some(&CapacityProviderStatus::Active), "{provider:?}");
    assert_eq!(
        provider.update_status(),
        Some(&CapacityProviderUpdateStatus::DeleteFailed),
        "{provider:?}"
    );
    assert!(
        provider.update_status_reason().is_some_and(|r| r.contains("ec2-capacity")),
        "the reason should name the cluster: {provider:?}"
    );
    let described = ok(ecs.describe_capacity_providers().capacity_providers("in-use").send().await);
    assert_eq!(described.capacity_providers()[0].status(), Some(&CapacityProviderStatus::Active));

    // Deleting the cluster disassociates it; then the provider can go.
    ok(ecs.delete_cluster().cluster("ec2-capacity").send().await);
    let deleted = ok(ecs.delete_capacity_provider().capacity_provider("in-use").send().await);
    assert!(
        matches!(
            deleted.capacity_provider().and_then(|p| p.update_status()),
            Some(CapacityProviderUpdateStatus::DeleteInProgress)
                | Some(CapacityProviderUpdateStatus::DeleteComplete)
        ),
        "{deleted:?}"
    );
}

#[tokio::test]
async fn cluster_scoped_provider_blocks_delete_cluster() {
    let server = Server::start();
    let ecs = server.client().await;
    ok(ecs.create_cluster().cluster_name("managed").send().await);
    let template = InstanceLaunchTemplate::builder()
        .ec2_instance_profile_arn("arn:aws:iam::000000000000:instance-profile/ecsInstanceRole")
        .network_configuration(
            ManagedInstancesNetworkConfiguration::builder()
                .subnets("subnet-0123456789abcdef0")
                .security_groups("sg-0123456789abcdef0")
                .build(),
        )
        .build()
        .expect("launch template");
    let role = "arn:aws:iam::000000000000:role/ecsInfrastructureRole";
    let request = CreateManagedInstancesProviderConfiguration::builder()
        .infrastructure_role_arn(role)
        .instance_launch_template(template.clone())
        .build()
        .expect("managed instances provider");
    let created = ok(ecs
        .create_capacity_provider()
        .name("managed-cp")
        .cluster("managed")
        .managed_instances_provider(request)
        .send()
        .await);
    let created = created.capacity_provider().expect("capacityProvider");
    assert_eq!(created.cluster(), Some("managed"));
    let provider = created.managed_instances_provider().expect("managedInstancesProvider");
    assert_eq!(provider.infrastructure_role_arn(), Some(role));
    assert_eq!(provider.instance_launch_template(), Some(&template));

    // ECS refuses to delete a cluster while cluster-scoped capacity providers are attached.
    let err = service_error(ecs.delete_cluster().cluster("managed").send().await);
    assert_eq!((err.code.as_str(), err.status), ("ClientException", 400), "{err:?}");
    let described = ok(ecs.describe_clusters().clusters("managed").send().await);
    assert_eq!(described.clusters()[0].status(), Some("ACTIVE"));

    // Once the provider is gone, the cluster can be deleted.
    ok(ecs
        .delete_capacity_provider()
        .capacity_provider("managed-cp")
        .cluster("managed")
        .send()
        .await);
    let deleted = ok(ecs.delete_cluster().cluster("managed").send().await);
    assert_eq!(deleted.cluster().and_then(|c| c.status()), Some("INACTIVE"));
}
