//! Services: the row a cluster's service table shows (counts and rollout
//! state), and the service page: deployments with their rollout state and
//! reason, the latest events, each load balancer's targets with their health
//! (and the task each belongs to), the service's tasks, and its auto
//! scaling ([`super::scaling`]).

use std::collections::BTreeMap;

use serde::Serialize;
use wharf_model::ecs::service::ServiceRecord;
use wharf_model::ecs::shapes::{DeploymentRolloutState, Service};
use wharf_model::ecs::status::DeploymentStatus;
use wharf_store::{Kind, Store, TaskQuery};

use super::load_balancers::{target_group_health, TargetGroupHealth};
use super::scaling::{scaling, ScalingView};
use super::tasks::{rows, TaskRow};
use super::{family_revision, ms, parse, ViewError, PAGE};

/// One service as a table row shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceRow {
    /// Its name.
    pub name: String,
    /// Its cluster.
    pub cluster: String,
    /// `ACTIVE`, `DRAINING` or `INACTIVE`.
    pub status: String,
    /// `desiredCount`.
    pub desired: i32,
    /// `runningCount`.
    pub running: i32,
    /// `pendingCount`.
    pub pending: i32,
    /// The primary deployment's `rolloutState`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollout: Option<DeploymentRolloutState>,
    /// How many deployments are under way (PRIMARY and ACTIVE ones).
    pub deployments: usize,
    /// The service's `family:revision`.
    pub task_definition: String,
    /// `launchType`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub launch_type: Option<String>,
}

impl ServiceRow {
    /// The row of a service.
    pub fn of(cluster: &str, s: &Service) -> Self {
        let primary =
            s.deployments.iter().flatten().find(|d| d.status == Some(DeploymentStatus::Primary));
        Self {
            name: s.service_name.clone().unwrap_or_default(),
            cluster: cluster.to_owned(),
            status: s.status.map(|s| s.to_string()).unwrap_or_default(),
            desired: s.desired_count.unwrap_or(0),
            running: s.running_count.unwrap_or(0),
            pending: s.pending_count.unwrap_or(0),
            rollout: primary.and_then(|d| d.rollout_state.clone()),
            deployments: s.deployments.as_ref().map_or(0, Vec::len),
            task_definition: family_revision(s.task_definition.as_deref().unwrap_or("")).to_owned(),
            launch_type: s.launch_type.as_ref().map(|l| l.as_str().to_owned()),
        }
    }
}

/// The services of a cluster, in name order.
pub async fn services_of(
    store: &dyn Store,
    region: &str,
    cluster: &str,
) -> Result<Vec<ServiceRecord>, ViewError> {
    let prefix = format!("{cluster}/");
    let mut after = prefix.clone();
    let mut out = Vec::new();
    loop {
        let page = store.list(Kind::Service, region, Some(&after), PAGE).await?;
        let full = page.len() == PAGE;
        for (key, json) in &page {
            if !key.starts_with(&prefix) {
                return Ok(out);
            }
            out.extend(parse::<ServiceRecord>("service", key, json));
        }
        match page.last() {
            Some((key, _)) if full => after.clone_from(key),
            _ => return Ok(out),
        }
    }
}

/// One service's record.
pub async fn record(
    store: &dyn Store,
    region: &str,
    cluster: &str,
    name: &str,
) -> Result<Option<ServiceRecord>, ViewError> {
    let key = format!("{cluster}/{name}");
    Ok(store.get(Kind::Service, region, &key).await?.and_then(|j| parse("service", &key, &j)))
}

/// One deployment of a service.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentView {
    /// Its id (`ecs-svc/...`).
    pub id: String,
    /// `PRIMARY`, `ACTIVE` or `INACTIVE`.
    pub status: String,
    /// Its `family:revision`.
    pub task_definition: String,
    /// `desiredCount`.
    pub desired: i32,
    /// `pendingCount`.
    pub pending: i32,
    /// `runningCount`.
    pub running: i32,
    /// `failedTasks`.
    pub failed: i32,
    /// `rolloutState`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollout: Option<DeploymentRolloutState>,
    /// `rolloutStateReason`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When it was created, ms since the epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<i64>,
    /// When it last changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<i64>,
}

/// One service event.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventView {
    /// When, ms since the epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<i64>,
    /// The message.
    pub message: String,
}

/// A load balancer of a service: where its tasks register, and their health.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceLoadBalancer {
    /// The container and port that receive traffic.
    pub container: String,
    /// The container port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_port: Option<i32>,
    /// The target group and its targets' health (`None` if it is gone).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_group: Option<TargetGroupHealth>,
    /// The target group's ARN as the service names it.
    pub target_group_arn: String,
}

/// The service page.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServicePage {
    /// The row fields.
    #[serde(flatten)]
    pub row: ServiceRow,
    /// Its ARN.
    pub arn: String,
    /// `schedulingStrategy`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduling_strategy: Option<String>,
    /// Its deployments, newest first.
    pub deployments: Vec<DeploymentView>,
    /// Its latest events, newest first.
    pub events: Vec<EventView>,
    /// Its load balancers.
    pub load_balancers: Vec<ServiceLoadBalancer>,
    /// Its tasks (unstopped first).
    pub tasks: Vec<TaskRow>,
    /// Its scalable target with its last activities, if auto scaling is on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scaling: Option<ScalingView>,
}

/// The service page of `cluster`/`name`.
pub async fn service(
    store: &dyn Store,
    region: &str,
    cluster: &str,
    name: &str,
    now_ms: i64,
) -> Result<ServicePage, ViewError> {
    let record = record(store, region, cluster, name).await?.ok_or_else(|| {
        ViewError::NotFound(format!("Service {name} not found in cluster {cluster}."))
    })?;
    let s = &record.service;
    let mut deployments: Vec<DeploymentView> = s
        .deployments
        .iter()
        .flatten()
        .map(|d| DeploymentView {
            id: d.id.clone().unwrap_or_default(),
            status: d.status.map(|s| s.to_string()).unwrap_or_default(),
            task_definition: family_revision(d.task_definition.as_deref().unwrap_or("")).to_owned(),
            desired: d.desired_count.unwrap_or(0),
            pending: d.pending_count.unwrap_or(0),
            running: d.running_count.unwrap_or(0),
            failed: d.failed_tasks.unwrap_or(0),
            rollout: d.rollout_state.clone(),
            reason: d.rollout_state_reason.clone(),
            created_at: ms(d.created_at),
            updated_at: ms(d.updated_at),
        })
        .collect();
    deployments.sort_by_key(|d| std::cmp::Reverse(d.created_at));
    let events = s
        .events
        .iter()
        .flatten()
        .map(|e| EventView { at: ms(e.created_at), message: e.message.clone().unwrap_or_default() })
        .collect();
    // Which task holds which target, from what the scheduler registered.
    let mut holders: BTreeMap<(String, String, i32), String> = BTreeMap::new();
    for (task, notes) in &record.tasks {
        for t in &notes.targets {
            holders.insert((t.target_group_arn.clone(), t.id.clone(), t.port), task.clone());
        }
    }
    let mut load_balancers = Vec::new();
    for lb in s.load_balancers.iter().flatten() {
        let arn = lb.target_group_arn.clone().unwrap_or_default();
        let mut target_group = target_group_health(store, region, &arn, now_ms).await?;
        if let Some(group) = &mut target_group {
            for t in &mut group.targets {
                t.task = holders.get(&(arn.clone(), t.id.clone(), t.port)).cloned();
            }
        }
        load_balancers.push(ServiceLoadBalancer {
            container: lb.container_name.clone().unwrap_or_default(),
            container_port: lb.container_port,
            target_group,
            target_group_arn: arn,
        });
    }
    let query = TaskQuery {
        cluster: cluster.to_owned(),
        service: Some(name.to_owned()),
        ..Default::default()
    };
    let (tasks, _) = rows(store, region, query).await?;
    let scaling = scaling(store, region, cluster, name).await?;
    Ok(ServicePage {
        row: ServiceRow::of(cluster, s),
        arn: s.service_arn.clone().unwrap_or_default(),
        scheduling_strategy: s.scheduling_strategy.as_ref().map(|x| x.as_str().to_owned()),
        deployments,
        events,
        load_balancers,
        tasks,
        scaling,
    })
}
