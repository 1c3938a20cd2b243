//! Reading a task's container output back from the Logs API: which log
//! streams a task's `awslogs` containers write to, and what each has after
//! what was already read. Shared by `wharf logs` and `wharf run`.

use std::collections::BTreeMap;

use anyhow::Context;
use serde_json::{json, Value};

use crate::api_client::{ApiClient, Service};

/// ANSI colours given to containers in turn.
pub const COLOURS: [u8; 6] = [36, 33, 32, 35, 34, 31];

/// One log stream to read: a container of a task.
#[derive(Debug, Clone)]
pub struct Source {
    /// How its lines are labelled: the container's name (with the task's
    /// short id when several tasks are shown).
    pub label: String,
    /// Its ANSI colour.
    pub colour: u8,
    /// The region of its log group.
    pub region: String,
    /// `awslogs-group`.
    pub group: String,
    /// The stream in the group.
    pub stream: String,
    /// GetLogEvents' forward token after what was read.
    pub token: Option<String>,
}

/// The log streams of a task's `awslogs` containers, given the task (as
/// DescribeTasks has it) and its definition (as DescribeTaskDefinition has
/// it). Containers logging elsewhere have none. Colours are left at 0.
pub fn sources_of(
    task: &Value,
    definition: &Value,
    several_tasks: bool,
    default_region: &str,
) -> Vec<Source> {
    let task_arn = task["taskArn"].as_str().unwrap_or_default();
    let task_id = task_arn.rsplit('/').next().unwrap_or_default();
    let runtime_ids: BTreeMap<&str, &str> = task["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| Some((c["name"].as_str()?, c["runtimeId"].as_str()?)))
        .collect();
    let mut sources = Vec::new();
    let containers = definition["containerDefinitions"].as_array();
    for def in containers.into_iter().flatten() {
        let name = def["name"].as_str().unwrap_or_default();
        let config = &def["logConfiguration"];
        if config["logDriver"] != "awslogs" {
            continue;
        }
        let options = &config["options"];
        let opt = |k: &str| options[k].as_str().map(str::to_owned);
        let Some(group) = opt("awslogs-group") else { continue };
        let stream = match (opt("awslogs-stream"), opt("awslogs-stream-prefix")) {
            (Some(s), _) => s,
            (None, Some(prefix)) => format!("{prefix}/{name}/{task_id}"),
            (None, None) => match runtime_ids.get(name) {
                Some(id) => (*id).to_owned(),
                None => continue,
            },
        };
        let label = if several_tasks {
            format!("{}/{name}", &task_id[..task_id.len().min(8)])
        } else {
            name.to_owned()
        };
        let region = opt("awslogs-region").unwrap_or_else(|| default_region.to_owned());
        sources.push(Source { label, colour: 0, region, group, stream, token: None });
    }
    sources
}

/// A task definition as DescribeTaskDefinition answers it (`taskDefinition`).
pub async fn definition_of(client: &ApiClient, task: &Value) -> anyhow::Result<Value> {
    let arn = task["taskDefinitionArn"].as_str().context("a task without a definition")?;
    let described: Value = client
        .call(Service::Ecs, "DescribeTaskDefinition", &json!({"taskDefinition": arn}))
        .await?;
    Ok(described["taskDefinition"].clone())
}

/// What a stream has after what was read: (timestamp, message) in order.
/// A stream that does not exist yet (its container has not started) has
/// nothing.
pub async fn read(
    client: &ApiClient,
    source: &mut Source,
    start_ms: Option<i64>,
) -> anyhow::Result<Vec<(i64, String)>> {
    let regional;
    let client = if source.region == client.region() {
        client
    } else {
        regional = client.for_region(&source.region);
        &regional
    };
    let mut events = Vec::new();
    loop {
        let mut input = json!({
            "logGroupName": source.group, "logStreamName": source.stream, "startFromHead": true,
        });
        if let Some(token) = &source.token {
            input["nextToken"] = json!(token);
        } else if let Some(ms) = start_ms {
            input["startTime"] = json!(ms);
        }
        let answer: Value = match client.call(Service::Logs, "GetLogEvents", &input).await {
            Ok(a) => a,
            // Not created yet: the container has not started.
            Err(e) if e.to_string().starts_with("ResourceNotFoundException") => return Ok(events),
            Err(e) => return Err(e),
        };
        let page = answer["events"].as_array().cloned().unwrap_or_default();
        for e in &page {
            events.push((
                e["timestamp"].as_i64().unwrap_or_default(),
                e["message"].as_str().unwrap_or_default().to_owned(),
            ));
        }
        let next = answer["nextForwardToken"].as_str().map(str::to_owned);
        let same = next.is_none() || next == source.token;
        if next.is_some() {
            source.token = next;
        }
        if same || page.is_empty() {
            return Ok(events);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_follow_the_awslogs_options() {
        let task = json!({
            "taskArn": "arn:aws:ecs:us-east-1:000000000000:task/default/0123456789abcdef",
            "containers": [{"name": "bare", "runtimeId": "d0cker1d"}],
        });
        let definition = json!({"containerDefinitions": [
            {"name": "web", "logConfiguration": {"logDriver": "awslogs", "options": {
                "awslogs-group": "/ecs/app", "awslogs-stream-prefix": "ecs"}}},
            {"name": "bare", "logConfiguration": {"logDriver": "awslogs", "options": {
                "awslogs-group": "/ecs/app", "awslogs-region": "eu-west-1"}}},
            {"name": "quiet"},
            {"name": "files", "logConfiguration": {"logDriver": "json-file"}},
        ]});
        let sources = sources_of(&task, &definition, false, "us-east-1");
        let got: Vec<_> = sources
            .iter()
            .map(|s| (s.label.as_str(), s.region.as_str(), s.stream.as_str()))
            .collect();
        assert_eq!(
            got,
            [("web", "us-east-1", "ecs/web/0123456789abcdef"), ("bare", "eu-west-1", "d0cker1d")]
        );
        let several = sources_of(&task, &definition, true, "us-east-1");
        assert_eq!(several[0].label, "01234567/web");
    }
}
