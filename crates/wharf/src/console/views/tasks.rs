//! Tasks: the compact row a task table shows (and the live stream patches),
//! and the task page: containers with their status, health, exit code,
//! reason and ports, the task's stop code and reason and times, and where
//! its containers' awslogs output is.

use serde::{Deserialize, Serialize};
use wharf_model::ecs::shapes::{Container, DesiredStatus, HealthStatus, Task, TaskStopCode};
use wharf_model::ecs::status::{ContainerLastStatus, TaskStatus};
use wharf_model::wire::Timestamp;
use wharf_store::{Store, StoredTask, TaskQuery};

use super::{family_revision, ms, parse, ViewError, MAX_ROWS, PAGE};

/// One task as a table row shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskRow {
    /// The task ID.
    pub id: String,
    /// Its cluster.
    pub cluster: String,
    /// `lastStatus`.
    pub last_status: TaskStatus,
    /// `desiredStatus`.
    pub desired_status: DesiredStatus,
    /// `healthStatus`, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health: Option<HealthStatus>,
    /// `family:revision`.
    pub task_definition: String,
    /// `group` (`service:web`, `family:web`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// When it was created, ms since the epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<i64>,
    /// When it reached RUNNING.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<i64>,
    /// When it reached STOPPED.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped_at: Option<i64>,
    /// `stoppedReason`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped_reason: Option<String>,
    /// The container instance it is on (its ID).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// The host it is on: its instance's address (`wharf.address`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
}

/// Each container instance's host address, by instance ID, in a cluster.
pub async fn hosts(
    store: &dyn Store,
    region: &str,
    cluster: &str,
) -> Result<std::collections::HashMap<String, String>, ViewError> {
    use wharf_model::ecs::attributes::{value_of, ADDRESS};
    let mut out = std::collections::HashMap::new();
    for u in store.instances(region, cluster, None).await? {
        let Some(ci) = parse::<wharf_model::ecs::shapes::ContainerInstance>(
            "container instance",
            &u.instance.id,
            &u.instance.json,
        ) else {
            continue;
        };
        if let Some(a) = value_of(ci.attributes.as_deref().unwrap_or(&[]), ADDRESS) {
            out.insert(u.instance.id.clone(), a.to_owned());
        }
    }
    Ok(out)
}

/// Fills each row's `host` from its instance.
pub fn with_hosts(rows: &mut [TaskRow], hosts: &std::collections::HashMap<String, String>) {
    for r in rows {
        r.host = r.instance.as_ref().and_then(|i| hosts.get(i)).cloned();
    }
}

/// The fields of a stored task a row shows: read alone, a thousand rows
/// parse several times faster than as whole `Task`s.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RowFields {
    health_status: Option<HealthStatus>,
    task_definition_arn: Option<String>,
    group: Option<String>,
    created_at: Option<Timestamp>,
    started_at: Option<Timestamp>,
    stopped_at: Option<Timestamp>,
    stopped_reason: Option<String>,
}

impl TaskRow {
    /// The row of a stored task (`None` if its JSON no longer parses).
    pub fn of(stored: &StoredTask) -> Option<Self> {
        let f: RowFields = parse("task", &stored.id, &stored.json)?;
        Some(Self {
            id: stored.id.clone(),
            cluster: stored.cluster.clone(),
            last_status: stored.last_status,
            desired_status: stored.desired_status.clone(),
            health: f.health_status,
            task_definition: family_revision(f.task_definition_arn.as_deref().unwrap_or(""))
                .to_owned(),
            group: f.group,
            created_at: ms(f.created_at),
            started_at: ms(f.started_at),
            stopped_at: ms(f.stopped_at),
            stopped_reason: f.stopped_reason,
            instance: stored.instance_id.clone(),
            host: None,
        })
    }

    fn from_task(stored: &StoredTask, task: &Task) -> Self {
        Self {
            id: stored.id.clone(),
            cluster: stored.cluster.clone(),
            last_status: stored.last_status,
            desired_status: stored.desired_status.clone(),
            health: task.health_status.clone(),
            task_definition: family_revision(task.task_definition_arn.as_deref().unwrap_or(""))
                .to_owned(),
            group: task.group.clone(),
            created_at: ms(task.created_at),
            started_at: ms(task.started_at),
            stopped_at: ms(task.stopped_at),
            stopped_reason: task.stopped_reason.clone(),
            instance: stored.instance_id.clone(),
            host: None,
        }
    }
}

/// Reads the rows of the tasks `query` matches (all pages, at most
/// [`MAX_ROWS`]), unstopped first, then newest first. The flag says whether
/// the list was cut.
pub async fn rows(
    store: &dyn Store,
    region: &str,
    mut query: TaskQuery,
) -> Result<(Vec<TaskRow>, bool), ViewError> {
    let mut rows = Vec::new();
    let truncated = loop {
        query.limit = PAGE.min(MAX_ROWS - rows.len());
        let page = store.list_tasks(region, query.clone()).await?;
        let full = page.len() == query.limit;
        query.after = page.last().map(|t| t.id.clone());
        rows.extend(page.iter().filter_map(TaskRow::of));
        if !full {
            break false;
        }
        if rows.len() >= MAX_ROWS {
            break true;
        }
    };
    rows.sort_by(|a, b| {
        let stopped = |r: &TaskRow| r.last_status == TaskStatus::Stopped;
        stopped(a).cmp(&stopped(b)).then(b.created_at.cmp(&a.created_at)).then(a.id.cmp(&b.id))
    });
    with_hosts(&mut rows, &hosts(store, region, &query.cluster).await?);
    Ok((rows, truncated))
}

/// One container of a task, as the task page shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerView {
    /// Its name.
    pub name: String,
    /// Its image.
    pub image: String,
    /// `lastStatus`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_status: Option<ContainerLastStatus>,
    /// `healthStatus`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health: Option<HealthStatus>,
    /// `exitCode`, once it exited.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// `reason`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Its port bindings, `0.0.0.0:32768->80/tcp`, and awsvpc addresses.
    pub ports: Vec<String>,
    /// The Docker container ID, shortened.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runtime_id: Option<String>,
}

impl ContainerView {
    fn of(c: &Container) -> Self {
        let mut ports: Vec<String> = c
            .network_bindings
            .iter()
            .flatten()
            .map(|b| {
                let protocol = b.protocol.as_ref().map_or("tcp", |p| p.as_str());
                let host = b.host_port.map(|p| p.to_string()).or(b.host_port_range.clone());
                let container =
                    b.container_port.map(|p| p.to_string()).or(b.container_port_range.clone());
                format!(
                    "{}:{}->{}/{protocol}",
                    b.bind_ip.as_deref().unwrap_or("0.0.0.0"),
                    host.unwrap_or_default(),
                    container.unwrap_or_default()
                )
            })
            .collect();
        ports.extend(
            c.network_interfaces
                .iter()
                .flatten()
                .filter_map(|n| n.private_ipv4_address.as_ref().map(|ip| format!("ip {ip}"))),
        );
        Self {
            name: c.name.clone().unwrap_or_default(),
            image: c.image.clone().unwrap_or_default(),
            last_status: c.last_status,
            health: c.health_status.clone(),
            exit_code: c.exit_code,
            reason: c.reason.clone(),
            ports,
            runtime_id: c.runtime_id.as_ref().map(|id| id.chars().take(12).collect()),
        }
    }
}

/// Where one container's awslogs output is kept.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogSource {
    /// The container's name.
    pub container: String,
    /// The region the log group is in.
    pub region: String,
    /// `awslogs-group`.
    pub group: String,
    /// The stream: `awslogs-stream`, else `<prefix>/<container>/<task id>`,
    /// else the container's runtime ID.
    pub stream: String,
}

/// The task page.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskPage {
    /// The row fields.
    #[serde(flatten)]
    pub row: TaskRow,
    /// The task's ARN.
    pub arn: String,
    /// The container instance it runs on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_instance: Option<String>,
    /// `launchType`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub launch_type: Option<String>,
    /// Task-level `cpu`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu: Option<String>,
    /// Task-level `memory`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
    /// `startedBy`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_by: Option<String>,
    /// `stopCode`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_code: Option<TaskStopCode>,
    /// When stopping began.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopping_at: Option<i64>,
    /// When its image pulls began.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pull_started_at: Option<i64>,
    /// When its image pulls ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pull_stopped_at: Option<i64>,
    /// Its containers.
    pub containers: Vec<ContainerView>,
    /// Its containers' awslogs streams.
    pub logs: Vec<LogSource>,
}

/// The task page of `cluster`/`id`.
pub async fn task(
    store: &dyn Store,
    region: &str,
    cluster: &str,
    id: &str,
) -> Result<TaskPage, ViewError> {
    let not_found = || ViewError::NotFound(format!("Task {id} not found in cluster {cluster}."));
    let stored = store.get_task(region, cluster, id).await?.ok_or_else(not_found)?;
    let task: Task = parse("task", id, &stored.json).ok_or_else(not_found)?;
    let logs = log_sources(store, region, &task).await?;
    let mut row = TaskRow::from_task(&stored, &task);
    with_hosts(std::slice::from_mut(&mut row), &hosts(store, region, cluster).await?);
    Ok(TaskPage {
        row,
        arn: stored.arn.clone(),
        container_instance: stored.instance_id.clone(),
        launch_type: task.launch_type.as_ref().map(|l| l.as_str().to_owned()),
        cpu: task.cpu.clone(),
        memory: task.memory.clone(),
        started_by: task.started_by.clone(),
        stop_code: task.stop_code.clone(),
        stopping_at: ms(task.stopping_at),
        pull_started_at: ms(task.pull_started_at),
        pull_stopped_at: ms(task.pull_stopped_at),
        containers: task.containers.iter().flatten().map(ContainerView::of).collect(),
        logs,
    })
}

/// The awslogs streams of a task's containers, read from its task
/// definition's `logConfiguration`s, in container definition order.
pub async fn log_sources(
    store: &dyn Store,
    region: &str,
    task: &Task,
) -> Result<Vec<LogSource>, ViewError> {
    use wharf_model::arn::{task_definition_ref, TaskDefinitionRef};
    let arn = task.task_definition_arn.as_deref().unwrap_or("");
    let Some(TaskDefinitionRef::Revision(family, revision)) = task_definition_ref(arn) else {
        return Ok(Vec::new());
    };
    let revision = i32::try_from(revision).unwrap_or(i32::MAX);
    let Some(stored) = store.get_task_definition(region, family, Some(revision)).await? else {
        return Ok(Vec::new());
    };
    let Some(definition) = parse::<serde_json::Value>("task definition", arn, &stored.json) else {
        return Ok(Vec::new());
    };
    let task_id = super::short_id(task.task_arn.as_deref().unwrap_or(""));
    let runtime_id = |name: &str| {
        task.containers
            .iter()
            .flatten()
            .find(|c| c.name.as_deref() == Some(name))
            .and_then(|c| c.runtime_id.clone())
    };
    let mut sources = Vec::new();
    for def in definition["containerDefinitions"].as_array().into_iter().flatten() {
        let name = def["name"].as_str().unwrap_or_default();
        let config = &def["logConfiguration"];
        if config["logDriver"] != "awslogs" {
            continue;
        }
        let opt = |k: &str| config["options"][k].as_str().map(str::to_owned);
        let Some(group) = opt("awslogs-group") else { continue };
        let stream = match (opt("awslogs-stream"), opt("awslogs-stream-prefix")) {
            (Some(s), _) => s,
            (None, Some(prefix)) => format!("{prefix}/{name}/{task_id}"),
            (None, None) => match runtime_id(name) {
                Some(id) => id,
                None => continue,
            },
        };
        let region = opt("awslogs-region").unwrap_or_else(|| region.to_owned());
        sources.push(LogSource { container: name.to_owned(), region, group, stream });
    }
    Ok(sources)
}
