//! Task definitions: RegisterTaskDefinition, DescribeTaskDefinition, ListTaskDefinitions,
//! ListTaskDefinitionFamilies, DeregisterTaskDefinition, DeleteTaskDefinitions.

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

use wharf_sdk_tests::aws_sdk_ecs::primitives::DateTime;
use wharf_sdk_tests::aws_sdk_ecs::types::{
    Compatibility, ContainerDefinition, SortOrder, TaskDefinitionFamilyStatus, TaskDefinitionField,
    TaskDefinitionStatus,
};
use wharf_sdk_tests::{expect_error, ok, service_error, task_definition_arn, ACCOUNT_ID};

use crate::support::{
    list_families, list_task_definitions, register_small, register_small_td, small_container,
    sorted, tag,
};

fn assert_recent(time: Option<&DateTime>, what: &str) {
    let time = time.unwrap_or_else(|| panic!("{what} is missing"));
    let now = DateTime::from(SystemTime::now()).secs();
    let slack = Duration::from_secs(300).as_secs() as i64;
    assert!(
        (now - slack..=now + slack).contains(&time.secs()),
        "{what} = {time} is not close to now"
    );
}

#[tokio::test]
async fn register_and_describe_revisions() {
    let server = wharf_sdk_tests::Server::start();
    let ecs = server.client().await;

    let first = register_small(&ecs, "web").await;
    let td = first.task_definition().expect("taskDefinition");
    assert_eq!(td.family(), Some("web"));
    assert_eq!(td.revision(), 1);
    assert_eq!(td.task_definition_arn(), Some(task_definition_arn("web", 1).as_str()));
    assert_eq!(td.status(), Some(&TaskDefinitionStatus::Active));
    assert_recent(td.registered_at(), "registeredAt");
    assert!(td.deregistered_at().is_none());
    let registered_by = td.registered_by().expect("registeredBy");
    assert!(
        registered_by.starts_with(&format!("arn:aws:iam::{ACCOUNT_ID}:")),
        "registeredBy {registered_by:?} is not a principal of the account"
    );
    // No networkMode means bridge, which only EC2 (and EXTERNAL) can run: not Fargate.
    assert!(td.compatibilities().contains(&Compatibility::Ec2), "{:?}", td.compatibilities());
    assert!(!td.compatibilities().contains(&Compatibility::Fargate), "{:?}", td.compatibilities());
    assert_eq!(td.container_definitions().len(), 1);
    let container = &td.container_definitions()[0];
    assert_eq!(container.name(), Some("main"));
    assert_eq!(container.image(), small_container("main").image());
    assert_eq!(container.memory(), Some(64));
    assert_eq!(container.command(), &["sleep", "3600"]);
    assert_eq!(container.essential(), Some(true));

    let second = register_small_td(&ecs, "web").await;
    assert_eq!(second.revision(), 2);
    assert_eq!(second.task_definition_arn(), Some(task_definition_arn("web", 2).as_str()));

    // Family alone: the latest ACTIVE revision.
    let latest = ok(ecs.describe_task_definition().task_definition("web").send().await);
    assert_eq!(latest.task_definition().map(|t| t.revision()), Some(2));
    // family:revision.
    let one = ok(ecs.describe_task_definition().task_definition("web:1").send().await);
    let one = one.task_definition().expect("taskDefinition");
    assert_eq!(one.revision(), 1);
    assert_eq!(one, td, "DescribeTaskDefinition differs from what RegisterTaskDefinition said");
    // Full ARN.
    let by_arn = ok(ecs
        .describe_task_definition()
        .task_definition(task_definition_arn("web", 2))
        .send()
        .await);
    assert_eq!(by_arn.task_definition(), Some(&second));
}

#[tokio::test]
async fn describe_unknown_task_definition() {
    let server = wharf_sdk_tests::Server::start();
    let ecs = server.client().await;
    for reference in ["nope", "nope:1", &task_definition_arn("nope", 1)] {
        let message = expect_error(
            "ClientException",
            ecs.describe_task_definition().task_definition(reference).send().await,
        );
        assert_eq!(message, "Unable to describe task definition.", "for {reference}");
    }
    register_small(&ecs, "known").await;
    expect_error(
        "ClientException",
        ecs.describe_task_definition().task_definition("known:2").send().await,
    );
}

#[tokio::test]
async fn tags_only_with_include() {
    let server = wharf_sdk_tests::Server::start();
    let ecs = server.client().await;
    let registered = ok(ecs
        .register_task_definition()
        .family("tagged")
        .container_definitions(small_container("main"))
        .tags(tag("team", "platform"))
        .tags(tag("cost-center", "42"))
        .send()
        .await);
    let expected = sorted(&[tag("team", "platform"), tag("cost-center", "42")]);
    assert_eq!(sorted(registered.tags()), expected);

    let plain = ok(ecs.describe_task_definition().task_definition("tagged").send().await);
    assert!(plain.tags().is_empty(), "tags without include TAGS: {:?}", plain.tags());

    let with_tags = ok(ecs
        .describe_task_definition()
        .task_definition("tagged:1")
        .include(TaskDefinitionField::Tags)
        .send()
        .await);
    assert_eq!(sorted(with_tags.tags()), expected);
}

#[tokio::test]
async fn deregister_makes_inactive_and_revisions_keep_counting() {
    let server = wharf_sdk_tests::Server::start();
    let ecs = server.client().await;
    for _ in 0..3 {
        register_small(&ecs, "app").await;
    }

    let deregistered = ok(ecs.deregister_task_definition().task_definition("app:1").send().await);
    let td = deregistered.task_definition().expect("taskDefinition");
    assert_eq!(td.revision(), 1);
    assert_eq!(td.status(), Some(&TaskDefinitionStatus::Inactive));
    assert_recent(td.deregistered_at(), "deregisteredAt");

    // By ARN too.
    let deregistered = ok(ecs
        .deregister_task_definition()
        .task_definition(task_definition_arn("app", 3))
        .send()
        .await);
    assert_eq!(
        deregistered.task_definition().and_then(|t| t.status()),
        Some(&TaskDefinitionStatus::Inactive)
    );

    // An INACTIVE revision can still be described by family:revision.
    let described = ok(ecs.describe_task_definition().task_definition("app:1").send().await);
    assert_eq!(
        described.task_definition().and_then(|t| t.status()),
        Some(&TaskDefinitionStatus::Inactive)
    );
    // The family alone names the latest ACTIVE revision: 2, not 3.
    let described = ok(ecs.describe_task_definition().task_definition("app").send().await);
    let latest = described.task_definition().expect("taskDefinition");
    assert_eq!(latest.revision(), 2);
    assert_eq!(latest.status(), Some(&TaskDefinitionStatus::Active));

    // Listing: ACTIVE by default, INACTIVE on request.
    assert_eq!(
        list_task_definitions(&ecs, Some("app"), None, None, None).await,
        vec![task_definition_arn("app", 2)]
    );
    assert_eq!(
        list_task_definitions(&ecs, Some("app"), Some(TaskDefinitionStatus::Active), None, None)
            .await,
        vec![task_definition_arn("app", 2)]
    );
    assert_eq!(
        list_task_definitions(&ecs, Some("app"), Some(TaskDefinitionStatus::Inactive), None, None)
            .await,
        vec![task_definition_arn("app", 1), task_definition_arn("app", 3)]
    );

    // Revisions never go back, even when the newest was deregistered.
    assert_eq!(register_small_td(&ecs, "app").await.revision(), 4);

    // A revision is required.
    let err = service_error(ecs.deregister_task_definition().task_definition("app").send().await);
    assert_eq!(err.status, 400, "{err:?}");
    assert!(
        err.code == "ClientException" || err.code == "InvalidParameterException",
        "unexpected error {err:?}"
    );
    // An unknown revision is refused.
    let err =
        service_error(ecs.deregister_task_definition().task_definition("app:99").send().await);
    assert_eq!(err.status, 400, "{err:?}");
    assert!(
        err.code == "ClientException" || err.code == "InvalidParameterException",
        "unexpected error {err:?}"
    );
    // And nothing else changed.
    assert_eq!(
        list_task_definitions(&ecs, Some("app"), None, None, None).await,
        vec![task_definition_arn("app", 2), task_definition_arn("app", 4)]
    );
}

#[tokio::test]
async fn list_task_definitions_sorts_filters_and_paginates() {
    let server = wharf_sdk_tests::Server::start();
    let ecs = server.client().await;
    // Register out of family order; 11 revisions so numeric order (…9, 10, 11) differs from
    // string order (1, 10, 11, 2, …).
    let plan = [("pg-b", 4), ("pg-a", 11), ("pg-c", 3)];
    for (family, count) in plan {
        for _ in 0..count {
            register_small(&ecs, family).await;
        }
    }
    let mut expected = Vec::new();
    for family in ["pg-a", "pg-b", "pg-c"] {
        let count = plan.iter().find(|(f, _)| *f == family).map(|(_, n)| *n).unwrap_or(0);
        expected.extend((1..=count).map(|r| task_definition_arn(family, r)));
    }

    // Default: ASC by family, then by revision number.
    assert_eq!(list_task_definitions(&ecs, None, None, None, None).await, expected);
    assert_eq!(list_task_definitions(&ecs, None, None, Some(SortOrder::Asc), None).await, expected);
    // In pages of 5 (the last one shorter), same order, nothing lost or repeated.
    assert_eq!(list_task_definitions(&ecs, None, None, None, Some(5)).await, expected);
    assert_eq!(list_task_definitions(&ecs, None, None, None, Some(1)).await, expected);
    // DESC reverses both the family order and the revision order, also across pages.
    let reversed: Vec<String> = expected.iter().rev().cloned().collect();
    assert_eq!(
        list_task_definitions(&ecs, None, None, Some(SortOrder::Desc), None).await,
        reversed
    );
    assert_eq!(
        list_task_definitions(&ecs, None, None, Some(SortOrder::Desc), Some(4)).await,
        reversed
    );

    // familyPrefix is the full family name in ListTaskDefinitions (not a prefix).
    let pg_a: Vec<String> = (1..=11).map(|r| task_definition_arn("pg-a", r)).collect();
    assert_eq!(list_task_definitions(&ecs, Some("pg-a"), None, None, Some(4)).await, pg_a);
    assert_eq!(
        list_task_definitions(&ecs, Some("pg-a"), None, Some(SortOrder::Desc), Some(4)).await,
        pg_a.iter().rev().cloned().collect::<Vec<_>>()
    );
    assert!(list_task_definitions(&ecs, Some("pg"), None, None, None).await.is_empty());
    assert!(list_task_definitions(&ecs, Some("nothing"), None, None, None).await.is_empty());

    // A single page of 100 holds all 18 with no token.
    let page = ok(ecs.list_task_definitions().max_results(100).send().await);
    assert_eq!(page.task_definition_arns(), expected.as_slice());
    assert_eq!(page.next_token(), None);
    // A page of 5 has a token.
    let page = ok(ecs.list_task_definitions().max_results(5).send().await);
    assert_eq!(page.task_definition_arns(), &expected[..5]);
    assert!(page.next_token().is_some());
}

#[tokio::test]
async fn list_task_definition_families() {
    let server = wharf_sdk_tests::Server::start();
    let ecs = server.client().await;
    for family in ["svc-api", "svc-worker", "batch", "svc-api"] {
        register_small(&ecs, family).await;
    }
    ok(ecs.deregister_task_definition().task_definition("batch:1").send().await);
    // svc-worker keeps one ACTIVE revision out of two.
    register_small(&ecs, "svc-worker").await;
    ok(ecs.deregister_task_definition().task_definition("svc-worker:1").send().await);

    let set = |v: Vec<String>| {
        let unique: BTreeSet<String> = v.iter().cloned().collect();
        assert_eq!(unique.len(), v.len(), "a family was listed twice: {v:?}");
        unique
    };
    let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();

    // By default both families with and without ACTIVE revisions.
    assert_eq!(
        set(list_families(&ecs, None, None, None).await),
        names(&["batch", "svc-api", "svc-worker"])
    );
    assert_eq!(
        set(list_families(&ecs, None, Some(TaskDefinitionFamilyStatus::All), None).await),
        names(&["batch", "svc-api", "svc-worker"])
    );
    assert_eq!(
        set(list_families(&ecs, None, Some(TaskDefinitionFamilyStatus::Active), None).await),
        names(&["svc-api", "svc-worker"])
    );
    assert_eq!(
        set(list_families(&ecs, None, Some(TaskDefinitionFamilyStatus::Inactive), None).await),
        names(&["batch"])
    );
    // Here familyPrefix is a real prefix.
    assert_eq!(
        set(list_families(&ecs, Some("svc"), None, None).await),
        names(&["svc-api", "svc-worker"])
    );
    assert_eq!(set(list_families(&ecs, Some("svc-w"), None, None).await), names(&["svc-worker"]));
    assert!(list_families(&ecs, Some("zzz"), None, None).await.is_empty());
    // One per page.
    assert_eq!(
        set(list_families(&ecs, None, None, Some(1)).await),
        names(&["batch", "svc-api", "svc-worker"])
    );
    let page = ok(ecs.list_task_definition_families().max_results(2).send().await);
    assert_eq!(page.families().len(), 2);
    assert!(page.next_token().is_some());
}

#[tokio::test]
async fn delete_task_definitions_only_inactive() {
    let server = wharf_sdk_tests::Server::start();
    let ecs = server.client().await;
    for _ in 0..3 {
        register_small(&ecs, "gone").await;
    }

    // ACTIVE revisions are not deleted.
    match ecs.delete_task_definitions().task_definitions("gone:1").send().await {
        Ok(out) => {
            assert!(out.task_definitions().is_empty(), "deleted an ACTIVE revision: {out:?}");
            assert_eq!(out.failures().len(), 1, "{out:?}");
            // The ARN, or the family:revision as given (ECS's docs do not say which).
            let arn = out.failures()[0].arn().unwrap_or_default();
            assert!(
                arn == task_definition_arn("gone", 1) || arn == "gone:1",
                "failure names {arn:?}, not gone:1"
            );
            assert!(out.failures()[0].reason().is_some_and(|r| !r.is_empty()), "{out:?}");
        }
        Err(err) => {
            let err = service_error::<(), _>(Err(err));
            assert_eq!(err.code, "ClientException", "{err:?}");
        }
    }
    let still = ok(ecs.describe_task_definition().task_definition("gone:1").send().await);
    assert_eq!(
        still.task_definition().and_then(|t| t.status()),
        Some(&TaskDefinitionStatus::Active)
    );

    ok(ecs.deregister_task_definition().task_definition("gone:1").send().await);
    ok(ecs.deregister_task_definition().task_definition("gone:3").send().await);
    let out = ok(ecs
        .delete_task_definitions()
        .task_definitions("gone:1")
        .task_definitions(task_definition_arn("gone", 3))
        .send()
        .await);
    assert!(out.failures().is_empty(), "{:?}", out.failures());
    let mut deleted: Vec<_> = out.task_definitions().iter().collect();
    deleted.sort_by_key(|t| t.revision());
    assert_eq!(deleted.len(), 2);
    for (td, revision) in deleted.iter().zip([1, 3]) {
        assert_eq!(td.revision(), revision);
        assert_eq!(td.task_definition_arn(), Some(task_definition_arn("gone", revision).as_str()));
        assert_eq!(td.status(), Some(&TaskDefinitionStatus::DeleteInProgress));
        assert_recent(td.delete_requested_at(), "deleteRequestedAt");
    }
    // A deleted revision is either still visible as DELETE_IN_PROGRESS or gone.
    match ecs.describe_task_definition().task_definition("gone:1").send().await {
        Ok(out) => assert_eq!(
            out.task_definition().and_then(|t| t.status()),
            Some(&TaskDefinitionStatus::DeleteInProgress)
        ),
        Err(err) => assert_eq!(service_error::<(), _>(Err(err)).code, "ClientException"),
    }
    // Neither ACTIVE nor INACTIVE lists show them any more.
    assert_eq!(
        list_task_definitions(&ecs, Some("gone"), None, None, None).await,
        vec![task_definition_arn("gone", 2)]
    );
    assert!(list_task_definitions(
        &ecs,
        Some("gone"),
        Some(TaskDefinitionStatus::Inactive),
        None,
        None
    )
    .await
    .is_empty());

    // The family keeps counting: the next revision is 4.
    assert_eq!(register_small_td(&ecs, "gone").await.revision(), 4);

    // At most 10 per call.
    let mut request = ecs.delete_task_definitions();
    for revision in 1..=11 {
        request = request.task_definitions(format!("gone:{revision}"));
    }
    let err = service_error(request.send().await);
    assert_eq!(err.status, 400, "{err:?}");
    assert!(
        err.code == "ClientException" || err.code == "InvalidParameterException",
        "unexpected error {err:?}"
    );
}

#[tokio::test]
async fn validation_errors_are_client_exceptions() {
    let server = wharf_sdk_tests::Server::start();
    let ecs = server.client().await;

    let message = expect_error(
        "ClientException",
        ecs.register_task_definition()
            .family("empty")
            .set_container_definitions(Some(vec![]))
            .send()
            .await,
    );
    assert_eq!(message, "Container list cannot be empty.");

    let mut eleven = ecs.register_task_definition().family("crowded");
    for i in 0..11 {
        eleven = eleven.container_definitions(small_container(&format!("c{i}")));
    }
    let message = expect_error("ClientException", eleven.send().await);
    assert_eq!(message, "Too many containers.");

    let message = expect_error(
        "ClientException",
        ecs.register_task_definition()
            .family("bad family!")
            .container_definitions(small_container("main"))
            .send()
            .await,
    );
    assert!(message.contains("amily"), "message does not name the family: {message}");

    // EC2 without a task memory: each container needs memory or memoryReservation.
    let no_memory = ContainerDefinition::builder()
        .name("hungry")
        .image("public.ecr.aws/docker/library/busybox:1.36")
        .essential(true)
        .build();
    let message = expect_error(
        "ClientException",
        ecs.register_task_definition()
            .family("no-memory")
            .container_definitions(no_memory)
            .send()
            .await,
    );
    assert!(message.contains("hungry") && message.contains("memory"), "{message}");

    // Fargate needs awsvpc.
    let message = expect_error(
        "ClientException",
        ecs.register_task_definition()
            .family("fargate-bridge")
            .requires_compatibilities(Compatibility::Fargate)
            .network_mode(wharf_sdk_tests::aws_sdk_ecs::types::NetworkMode::Bridge)
            .cpu("256")
            .memory("512")
            .container_definitions(small_container("main"))
            .send()
            .await,
    );
    assert!(message.contains("awsvpc"), "{message}");

    // Fargate with a cpu/memory pair Fargate does not offer.
    let message = expect_error(
        "ClientException",
        ecs.register_task_definition()
            .family("fargate-size")
            .requires_compatibilities(Compatibility::Fargate)
            .network_mode(wharf_sdk_tests::aws_sdk_ecs::types::NetworkMode::Awsvpc)
            .cpu("256")
            .memory("4096")
            .container_definitions(small_container("main"))
            .send()
            .await,
    );
    assert!(message.contains("cpu") || message.contains("memory"), "{message}");

    // Two containers with one name.
    let err = service_error(
        ecs.register_task_definition()
            .family("twins")
            .container_definitions(small_container("same"))
            .container_definitions(small_container("same"))
            .send()
            .await,
    );
    assert_eq!(err.code, "ClientException", "{err:?}");

    // None of these was registered.
    assert!(list_families(&ecs, None, None, None).await.is_empty());
}

#[tokio::test]
async fn registered_task_definition_computes_compatibilities_and_attributes() {
    let server = wharf_sdk_tests::Server::start();
    let ecs = server.client().await;
    let td = crate::roundtrip::fargate_task_definition();
    let out = ok(crate::roundtrip::register(&ecs, &td).await);
    let got = out.task_definition().expect("taskDefinition");
    assert!(got.compatibilities().contains(&Compatibility::Fargate), "{:?}", got.compatibilities());
    assert!(got.compatibilities().contains(&Compatibility::Ec2), "{:?}", got.compatibilities());
    let attributes: BTreeSet<&str> = got.requires_attributes().iter().map(|a| a.name()).collect();
    for expected in [
        "com.amazonaws.ecs.capability.logging-driver.awslogs",
        "com.amazonaws.ecs.capability.task-iam-role",
        "ecs.capability.task-eni",
        "ecs.capability.container-health-check",
    ] {
        assert!(attributes.contains(expected), "{expected} missing from {attributes:?}");
    }
}
