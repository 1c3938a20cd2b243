//! Wakes `wharf run`'s follow loop as soon as the server says one of its
//! tasks changed or one of its log groups got events
//! (`GET /_wharf/v1/changes`), so a container's line is read the moment it
//! is stored rather than at the next poll. Polling stays as the safety net:
//! against a server without the stream, or once it breaks, the loop just
//! polls as before.

use std::collections::BTreeMap;
use std::sync::Arc;

use http_body_util::BodyExt;
use serde_json::Value;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::api_client::{encode, ApiClient};

/// The open change streams; dropping it closes them.
#[derive(Debug)]
pub struct Wakeups {
    notify: Arc<Notify>,
    readers: Vec<JoinHandle<()>>,
}

impl Drop for Wakeups {
    fn drop(&mut self) {
        self.readers.iter().for_each(JoinHandle::abort);
    }
}

impl Wakeups {
    /// Returns once something changed since the last return (at once if
    /// it already has: a notice that comes during a read is kept).
    pub async fn changed(&self) {
        self.notify.notified().await;
    }

    /// Whether every stream is still open (else the loop must poll).
    pub fn live(&self) -> bool {
        !self.readers.is_empty() && self.readers.iter().all(|r| !r.is_finished())
    }
}

/// The log groups the definition's `awslogs` containers write to, by
/// region (`awslogs-region`, else `region`).
pub fn log_groups(definition: &Value, region: &str) -> BTreeMap<String, Vec<String>> {
    let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for c in definition["containerDefinitions"].as_array().into_iter().flatten() {
        let config = &c["logConfiguration"];
        if config["logDriver"] != "awslogs" {
            continue;
        }
        let options = &config["options"];
        let Some(group) = options["awslogs-group"].as_str() else { continue };
        let region = options["awslogs-region"].as_str().unwrap_or(region).to_owned();
        let list = groups.entry(region).or_default();
        if !list.iter().any(|g| g == group) {
            list.push(group.to_owned());
        }
    }
    groups
}

/// Opens a change stream per region for these tasks (in the client's
/// region) and log groups; `None` when the server has none (an older
/// server), so the loop polls. Returns once the server listens: nothing
/// that changes after this returns is missed.
pub async fn listen(
    client: &ApiClient,
    task_arns: &[String],
    groups: &BTreeMap<String, Vec<String>>,
) -> Option<Wakeups> {
    let mut queries: BTreeMap<String, String> = BTreeMap::new();
    let mut add = |region: &str, key: &str, value: &str| {
        let q = queries
            .entry(region.to_owned())
            .or_insert_with(|| format!("region={}", encode(region)));
        q.push_str(&format!("&{key}={}", encode(value)));
    };
    for arn in task_arns {
        add(client.region(), "task", arn);
    }
    for (region, names) in groups {
        for name in names {
            add(region, "group", name);
        }
    }
    // Built first, so a failure below closes the streams already open.
    let mut wakeups = Wakeups { notify: Arc::new(Notify::new()), readers: Vec::new() };
    for query in queries.values() {
        let mut body = match client.open_wharf_stream("/_wharf/v1/changes", query).await {
            Ok(body) => body,
            Err(e) => {
                tracing::debug!(error = %e, "no change stream; polling");
                return None;
            }
        };
        let notify = wakeups.notify.clone();
        wakeups.readers.push(tokio::spawn(async move {
            // Any bytes are a notice; what changed is read through the APIs.
            while let Some(Ok(frame)) = body.frame().await {
                if frame.data_ref().is_some_and(|d| !d.is_empty()) {
                    notify.notify_one();
                }
            }
            // Closed: wake the loop, which polls from now on.
            notify.notify_one();
        }));
    }
    Some(wakeups)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn awslogs_groups_by_region_once_each() {
        let definition = json!({"containerDefinitions": [
            {"name": "a", "logConfiguration": {"logDriver": "awslogs",
                "options": {"awslogs-group": "/ecs/web"}}},
            {"name": "b", "logConfiguration": {"logDriver": "awslogs",
                "options": {"awslogs-group": "/ecs/web"}}},
            {"name": "c", "logConfiguration": {"logDriver": "awslogs",
                "options": {"awslogs-group": "/far", "awslogs-region": "eu-west-1"}}},
            {"name": "d", "logConfiguration": {"logDriver": "json-file"}},
            {"name": "e"},
        ]});
        let groups = log_groups(&definition, "us-east-1");
        assert_eq!(groups.len(), 2);
        assert_eq!(groups["us-east-1"], ["/ecs/web"]);
        assert_eq!(groups["eu-west-1"], ["/far"]);
    }
}
