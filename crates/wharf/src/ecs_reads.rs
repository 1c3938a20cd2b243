//! The ECS reads the commands for people share: every page of a list
//! operation, tasks and services described in the batches ECS allows (100
//! tasks, 10 services) while the next page is still being listed, a task
//! named by a short id, and the short names people read (`family:rev`, the
//! id at the end of an ARN).

use std::collections::HashSet;
use std::sync::Arc;

use anyhow::{bail, Context};
use serde_json::{json, Value};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use wharf_model::ecs::shapes::DesiredStatus;

use crate::api_client::{ApiClient, Service};

/// The most tasks one DescribeTasks call takes (ECS's limit).
pub const DESCRIBE_TASKS_BATCH: usize = 100;
/// The most services one DescribeServices call takes (ECS's limit).
pub const DESCRIBE_SERVICES_BATCH: usize = 10;
/// How many Describe calls are in flight at once (connections to the server).
const IN_FLIGHT: usize = 8;

/// The part of an ARN after its last `/` (a task's id, a service's name).
pub fn short_name(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// `family:revision` of a task definition ARN (or the text itself).
pub fn family_revision(arn: &str) -> &str {
    arn.split_once(":task-definition/").map_or(arn, |(_, rest)| rest)
}

/// A DescribeX failure as a sentence: `<arn>: <reason> (<detail>)`.
pub fn failure_text(failure: &Value) -> String {
    let arn = failure["arn"].as_str().unwrap_or("?");
    let reason = failure["reason"].as_str().unwrap_or("?");
    match failure["detail"].as_str() {
        Some(detail) => format!("{arn}: {reason} ({detail})"),
        None => format!("{arn}: {reason}"),
    }
}

/// One page of a list operation: its ARNs and the next page's token.
async fn list_page(
    client: &ApiClient,
    operation: &str,
    input: &Value,
    field: &str,
    token: Option<String>,
) -> anyhow::Result<(Vec<String>, Option<String>)> {
    let mut input = input.clone();
    input["maxResults"] = json!(100);
    if let Some(token) = token {
        input["nextToken"] = json!(token);
    }
    let answer: Value = client.call(Service::Ecs, operation, &input).await?;
    let arns = answer[field]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a.as_str().map(str::to_owned))
        .collect();
    let next = answer["nextToken"].as_str().filter(|t| !t.is_empty()).map(str::to_owned);
    Ok((arns, next))
}

/// Every ARN a list operation answers, following `nextToken`.
pub async fn list_all(
    client: &ApiClient,
    operation: &str,
    input: &Value,
    field: &str,
) -> anyhow::Result<Vec<String>> {
    let mut all = Vec::new();
    let mut token = None;
    loop {
        let (arns, next) = list_page(client, operation, input, field, token).await?;
        all.extend(arns);
        match next {
            Some(next) => token = Some(next),
            None => return Ok(all),
        }
    }
}

/// DescribeTasks of up to [`DESCRIBE_TASKS_BATCH`] tasks: the tasks and the failures.
pub async fn describe_tasks(
    client: &ApiClient,
    cluster: &str,
    arns: &[String],
) -> anyhow::Result<(Vec<Value>, Vec<Value>)> {
    let mut answer: Value = client
        .call(Service::Ecs, "DescribeTasks", &json!({"cluster": cluster, "tasks": arns}))
        .await?;
    let tasks = answer["tasks"].take().as_array().cloned().unwrap_or_default();
    let failures = answer["failures"].take().as_array().cloned().unwrap_or_default();
    Ok((tasks, failures))
}

/// Every task of `cluster` whose desiredStatus is one of `desired`
/// (`RUNNING`, `STOPPED`), described; each page of ListTasks is described
/// while the next is listed. A task seen twice (it moved from one listing to
/// the other meanwhile) is kept once.
pub async fn all_tasks(
    client: &ApiClient,
    cluster: &str,
    desired: &[DesiredStatus],
) -> anyhow::Result<Vec<Value>> {
    let mut describing: JoinSet<anyhow::Result<(Vec<Value>, Vec<Value>)>> = JoinSet::new();
    let in_flight = Arc::new(Semaphore::new(IN_FLIGHT));
    for status in desired {
        let input = json!({"cluster": cluster, "desiredStatus": status.as_str()});
        let mut token = None;
        loop {
            let (arns, next) = list_page(client, "ListTasks", &input, "taskArns", token).await?;
            for batch in arns.chunks(DESCRIBE_TASKS_BATCH) {
                let (client, cluster, batch) = (client.clone(), cluster.to_owned(), batch.to_vec());
                let in_flight = in_flight.clone();
                describing.spawn(async move {
                    let _permit = in_flight.acquire_owned().await?;
                    describe_tasks(&client, &cluster, &batch).await
                });
            }
            match next {
                Some(next) => token = Some(next),
                None => break,
            }
        }
    }
    let mut seen = HashSet::new();
    let mut tasks = Vec::new();
    while let Some(done) = describing.join_next().await {
        let (batch, _failures) = done.context("a DescribeTasks call panicked")??;
        for task in batch {
            if seen.insert(task["taskArn"].as_str().unwrap_or_default().to_owned()) {
                tasks.push(task);
            }
        }
    }
    Ok(tasks)
}

/// The host each of `cluster`'s container instances is on (its `wharf.address`,
/// else its EC2 instance ID), by instance ARN. An instance that cannot be
/// described is left out: its tasks show no host.
pub async fn instance_hosts(
    client: &ApiClient,
    cluster: &str,
    arns: &[String],
) -> anyhow::Result<std::collections::HashMap<String, String>> {
    let mut out = std::collections::HashMap::new();
    for batch in arns.chunks(100) {
        let answer: Value = client
            .call(
                Service::Ecs,
                "DescribeContainerInstances",
                &json!({"cluster": cluster, "containerInstances": batch}),
            )
            .await?;
        for ci in answer["containerInstances"].as_array().into_iter().flatten() {
            let Some(arn) = ci["containerInstanceArn"].as_str() else { continue };
            let address = ci["attributes"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|a| a["name"] == "wharf.address")
                .and_then(|a| a["value"].as_str());
            if let Some(host) = address.or_else(|| ci["ec2InstanceId"].as_str()) {
                out.insert(arn.to_owned(), host.to_owned());
            }
        }
    }
    Ok(out)
}

/// Every service of `cluster`, described, in ListServices' order.
pub async fn all_services(client: &ApiClient, cluster: &str) -> anyhow::Result<Vec<Value>> {
    let arns =
        list_all(client, "ListServices", &json!({"cluster": cluster}), "serviceArns").await?;
    let mut describing = JoinSet::new();
    let in_flight = Arc::new(Semaphore::new(IN_FLIGHT));
    for (i, batch) in arns.chunks(DESCRIBE_SERVICES_BATCH).enumerate() {
        let (client, cluster, batch) = (client.clone(), cluster.to_owned(), batch.to_vec());
        let in_flight = in_flight.clone();
        describing.spawn(async move {
            let _permit = in_flight.acquire_owned().await;
            let answer: anyhow::Result<Value> = client
                .call(
                    Service::Ecs,
                    "DescribeServices",
                    &json!({"cluster": cluster, "services": batch}),
                )
                .await;
            (i, answer)
        });
    }
    let mut batches = Vec::new();
    while let Some(done) = describing.join_next().await {
        let (i, answer) = done.context("a DescribeServices call panicked")?;
        batches.push((i, answer?["services"].as_array().cloned().unwrap_or_default()));
    }
    batches.sort_by_key(|(i, _)| *i);
    Ok(batches.into_iter().flat_map(|(_, services)| services).collect())
}

/// Whether `text` could be the start of a task id (hex digits and dashes).
fn looks_like_task_id(text: &str) -> bool {
    !text.is_empty() && text.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
}

/// The tasks of `cluster` (running or stopped) whose id starts with
/// `prefix`, as `wharf ps` shows ids shortened; none when `prefix` cannot
/// be the start of a task id.
pub async fn task_matches(
    client: &ApiClient,
    cluster: &str,
    prefix: &str,
) -> anyhow::Result<Vec<String>> {
    if !looks_like_task_id(prefix) {
        return Ok(Vec::new());
    }
    let mut matches = Vec::new();
    for status in [DesiredStatus::Running, DesiredStatus::Stopped] {
        let input = json!({"cluster": cluster, "desiredStatus": status.as_str()});
        for arn in list_all(client, "ListTasks", &input, "taskArns").await? {
            if short_name(&arn).starts_with(prefix) && !matches.contains(&arn) {
                matches.push(arn);
            }
        }
    }
    Ok(matches)
}

/// The ARN of the task `reference` names: an ARN as it is, or the one task
/// whose id starts with it ([`task_matches`]).
pub async fn resolve_task(
    client: &ApiClient,
    cluster: &str,
    reference: &str,
) -> anyhow::Result<String> {
    if reference.starts_with("arn:") {
        return Ok(reference.to_owned());
    }
    let mut matches = task_matches(client, cluster, reference).await?;
    match matches.len() {
        1 => Ok(matches.remove(0)),
        0 => bail!("no task in cluster {cluster} has an id starting with {reference:?}"),
        n => bail!(
            "{n} tasks in cluster {cluster} have an id starting with {reference:?}: give more of it"
        ),
    }
}

/// DescribeTaskDefinition of `reference` (`family`, `family:rev` or an ARN):
/// the `taskDefinition` object.
pub async fn task_definition(client: &ApiClient, reference: &str) -> anyhow::Result<Value> {
    let mut answer: Value = client
        .call(Service::Ecs, "DescribeTaskDefinition", &json!({"taskDefinition": reference}))
        .await
        .with_context(|| format!("task definition {reference}"))?;
    Ok(answer["taskDefinition"].take())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names() {
        let task = "arn:aws:ecs:us-east-1:000000000000:task/default/0123abcd";
        assert_eq!(short_name(task), "0123abcd");
        assert_eq!(
            family_revision("arn:aws:ecs:us-east-1:000000000000:task-definition/web:3"),
            "web:3"
        );
        assert_eq!(family_revision("web:3"), "web:3");
        assert!(looks_like_task_id("0123ab"));
        assert!(!looks_like_task_id("web"));
        assert!(!looks_like_task_id(""));
    }
}
