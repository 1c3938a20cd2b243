//! Small builders shared by the test modules.

use wharf_sdk_tests::aws_sdk_ecs::operation::register_task_definition::RegisterTaskDefinitionOutput;
use wharf_sdk_tests::aws_sdk_ecs::types::{ContainerDefinition, Tag, TaskDefinition};
use wharf_sdk_tests::aws_sdk_ecs::Client;
use wharf_sdk_tests::ok;

/// A tag.
pub fn tag(key: &str, value: &str) -> Tag {
    Tag::builder().key(key).value(value).build()
}

/// Tags sorted by key, for comparisons that do not depend on the order ECS lists them in.
pub fn sorted(tags: &[Tag]) -> Vec<Tag> {
    let mut tags = tags.to_vec();
    tags.sort_by(|a, b| a.key().cmp(&b.key()));
    tags
}

/// A minimal container that ECS accepts on EC2 (bridge mode, hard memory limit).
pub fn small_container(name: &str) -> ContainerDefinition {
    ContainerDefinition::builder()
        .name(name)
        .image("public.ecr.aws/docker/library/busybox:1.36")
        .memory(64)
        .essential(true)
        .command("sleep")
        .command("3600")
        .build()
}

/// Registers a one-container task definition in `family` and returns the response.
pub async fn register_small(ecs: &Client, family: &str) -> RegisterTaskDefinitionOutput {
    ok(ecs
        .register_task_definition()
        .family(family)
        .container_definitions(small_container("main"))
        .send()
        .await)
}

/// Registers and returns the task definition.
pub async fn register_small_td(ecs: &Client, family: &str) -> TaskDefinition {
    register_small(ecs, family).await.task_definition.expect("taskDefinition in the response")
}

/// Follows `nextToken` through ListTaskDefinitions with the given filters.
pub async fn list_task_definitions(
    ecs: &Client,
    family: Option<&str>,
    status: Option<wharf_sdk_tests::aws_sdk_ecs::types::TaskDefinitionStatus>,
    sort: Option<wharf_sdk_tests::aws_sdk_ecs::types::SortOrder>,
    page_size: Option<i32>,
) -> Vec<String> {
    let mut arns = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..1000 {
        let page = ok(ecs
            .list_task_definitions()
            .set_family_prefix(family.map(str::to_owned))
            .set_status(status.clone())
            .set_sort(sort.clone())
            .set_max_results(page_size)
            .set_next_token(token.clone())
            .send()
            .await);
        if let Some(size) = page_size {
            assert!(
                page.task_definition_arns().len() <= size as usize,
                "page larger than maxResults {size}: {page:?}"
            );
        }
        arns.extend(page.task_definition_arns().iter().cloned());
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            return arns;
        }
    }
    panic!("ListTaskDefinitions pagination does not end");
}

/// Follows `nextToken` through ListTaskDefinitionFamilies with the given filters.
pub async fn list_families(
    ecs: &Client,
    prefix: Option<&str>,
    status: Option<wharf_sdk_tests::aws_sdk_ecs::types::TaskDefinitionFamilyStatus>,
    page_size: Option<i32>,
) -> Vec<String> {
    let mut families = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..1000 {
        let page = ok(ecs
            .list_task_definition_families()
            .set_family_prefix(prefix.map(str::to_owned))
            .set_status(status.clone())
            .set_max_results(page_size)
            .set_next_token(token.clone())
            .send()
            .await);
        if let Some(size) = page_size {
            assert!(page.families().len() <= size as usize, "page larger than {size}: {page:?}");
        }
        families.extend(page.families().iter().cloned());
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            return families;
        }
    }
    panic!("ListTaskDefinitionFamilies pagination does not end");
}
