//! Clusters: the list with their counts, and a cluster's page: its services,
//! its tasks and its container instances.

use serde::Serialize;
use wharf_model::ecs::service::ServiceRecord;
use wharf_model::ecs::shapes::{Cluster, ContainerInstance};
use wharf_model::ecs::status::{InstanceStatus, ServiceStatus};
use wharf_store::{InstanceUsage, Kind, Store, TaskQuery};

use super::services::{services_of, ServiceRow};
use super::tasks::{rows, TaskRow};
use super::{parse, ViewError, PAGE};

/// One cluster as the list shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterRow {
    /// Its name.
    pub name: String,
    /// `ACTIVE`, `INACTIVE`, ...
    pub status: String,
    /// Tasks whose `lastStatus` is RUNNING.
    pub running: i64,
    /// Tasks neither RUNNING nor STOPPED.
    pub pending: i64,
    /// ACTIVE services.
    pub services: usize,
    /// Registered (ACTIVE or DRAINING) container instances.
    pub instances: usize,
}

/// One container instance of a cluster.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceRow {
    /// Its ID.
    pub id: String,
    /// `ACTIVE`, `DRAINING`, ...
    pub status: String,
    /// Whether its agent is connected.
    pub agent_connected: bool,
    /// Tasks RUNNING on it.
    pub running: i64,
    /// Tasks on their way there.
    pub pending: i64,
    /// CPU units reserved / registered.
    pub cpu: String,
    /// MiB reserved / registered.
    pub memory: String,
    /// The host's address (`wharf.address`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Its Availability Zone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
}

/// A cluster's page.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterPage {
    /// The row fields.
    #[serde(flatten)]
    pub row: ClusterRow,
    /// Its services, in name order.
    pub service_rows: Vec<ServiceRow>,
    /// Its tasks, unstopped first, newest first.
    pub tasks: Vec<TaskRow>,
    /// Whether `tasks` was cut at [`super::MAX_ROWS`].
    pub truncated: bool,
    /// Its container instances.
    pub instance_rows: Vec<InstanceRow>,
}

/// The regions that hold clusters, with `current` among them.
pub async fn regions(store: &dyn Store, current: &str) -> Result<Vec<String>, ViewError> {
    let mut regions = store.regions(Kind::Cluster).await?;
    if !regions.iter().any(|r| r == current) {
        regions.push(current.to_owned());
    }
    regions.sort();
    Ok(regions)
}

async fn cluster_record(
    store: &dyn Store,
    region: &str,
    name: &str,
) -> Result<Option<Cluster>, ViewError> {
    Ok(store.get(Kind::Cluster, region, name).await?.and_then(|j| parse("cluster", name, &j)))
}

fn registered(usage: &InstanceUsage) -> bool {
    matches!(usage.instance.status, InstanceStatus::Active | InstanceStatus::Draining)
}

/// A cluster's row, with the services and instances it was counted from.
async fn row(
    store: &dyn Store,
    region: &str,
    c: &Cluster,
) -> Result<(ClusterRow, Vec<ServiceRecord>, Vec<InstanceUsage>), ViewError> {
    let name = c.cluster_name.clone().unwrap_or_default();
    let (running, pending) = store.task_counts(region, &name).await?;
    let services = services_of(store, region, &name).await?;
    let instances = store.instances(region, &name, None).await?;
    let row = ClusterRow {
        status: c.status.map(|s| s.to_string()).unwrap_or_default(),
        running,
        pending,
        services: services
            .iter()
            .filter(|s| s.service.status == Some(ServiceStatus::Active))
            .count(),
        instances: instances.iter().filter(|i| registered(i)).count(),
        name,
    };
    Ok((row, services, instances))
}

/// Every cluster of the region with its counts, in name order.
pub async fn clusters(store: &dyn Store, region: &str) -> Result<Vec<ClusterRow>, ViewError> {
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = store.list(Kind::Cluster, region, after.as_deref(), PAGE).await?;
        for (key, json) in &page {
            if let Some(c) = parse::<Cluster>("cluster", key, json) {
                out.push(row(store, region, &c).await?.0);
            }
        }
        match page.last() {
            Some((key, _)) if page.len() == PAGE => after = Some(key.clone()),
            _ => return Ok(out),
        }
    }
}

fn resource(instance: &ContainerInstance, name: &str) -> i64 {
    instance
        .registered_resources
        .iter()
        .flatten()
        .find(|r| r.name.as_deref() == Some(name))
        .and_then(|r| r.integer_value)
        .map_or(0, i64::from)
}

fn instance_row(usage: &InstanceUsage) -> InstanceRow {
    let i = &usage.instance;
    let wire: Option<ContainerInstance> = parse("container instance", &i.id, &i.json);
    let (cpu, memory, connected) = match &wire {
        Some(w) => (resource(w, "CPU"), resource(w, "MEMORY"), w.agent_connected.unwrap_or(false)),
        None => (0, 0, false),
    };
    let attribute = |name: &str| {
        wire.as_ref().and_then(|w| {
            wharf_model::ecs::attributes::value_of(w.attributes.as_deref().unwrap_or(&[]), name)
                .map(str::to_owned)
        })
    };
    InstanceRow {
        address: attribute(wharf_model::ecs::attributes::ADDRESS),
        zone: attribute(wharf_model::ecs::attributes::AVAILABILITY_ZONE),
        id: i.id.clone(),
        status: i.status.to_string(),
        agent_connected: connected,
        running: usage.running_tasks,
        pending: usage.pending_tasks,
        cpu: format!("{} / {cpu}", usage.cpu),
        memory: format!("{} / {memory}", usage.memory),
    }
}

/// The page of the cluster `name`.
pub async fn cluster(
    store: &dyn Store,
    region: &str,
    name: &str,
) -> Result<ClusterPage, ViewError> {
    let c = cluster_record(store, region, name)
        .await?
        .ok_or_else(|| ViewError::NotFound(format!("Cluster {name} not found.")))?;
    let (row, services, instances) = row(store, region, &c).await?;
    let (tasks, truncated) =
        rows(store, region, TaskQuery { cluster: name.to_owned(), ..Default::default() }).await?;
    Ok(ClusterPage {
        row,
        service_rows: services.iter().map(|s| ServiceRow::of(name, &s.service)).collect(),
        tasks,
        truncated,
        instance_rows: instances.iter().map(instance_row).collect(),
    })
}
