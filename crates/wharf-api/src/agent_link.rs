//! The server's half of the agent link: what an agent, embedded or remote,
//! asks of the control plane. It is ECS's own agent-facing surface in
//! miniature: register the instance, learn the tasks placed on it, report
//! what became of them.
//!
//! Reports are merged into the stored task under rules that make them safe
//! to repeat and to reorder: statuses only move forward, the first stop
//! reason and every timestamp are kept once set, and a report that changes
//! nothing writes nothing.

use tokio::sync::mpsc;
use wharf_model::agent::{Heartbeat, HeartbeatReply, WatchEvent};
use wharf_model::ecs::capacity;
use wharf_model::ecs::shapes::{
    ContainerInstance, ContainerInstanceHealthStatus, CreateClusterRequest,
    InstanceHealthCheckResult, InstanceHealthCheckState, InstanceHealthCheckType,
    RegisterContainerInstanceRequest, Task, TaskDefinition,
};
use wharf_model::ecs::status::InstanceStatus;
use wharf_model::ecs::status::TaskStatus;
use wharf_model::EcsError;
use wharf_ops::lookup::DEFAULT_CLUSTER;
use wharf_store::TaskUpdate;

use crate::context::{AppState, Ctx};
use crate::ecs::{cluster, container_instance, task};
use crate::instance_changes::Routed;
use crate::protocol::ApiError;

pub use wharf_model::agent::{merge, Assignment};

fn ctx(state: &AppState, region: &str) -> Ctx {
    Ctx {
        state: state.clone(),
        region: region.to_owned(),
        request_id: "agent".to_owned(),
        caller: None,
        host: None,
    }
}

/// Creates the cluster if it does not exist (as the ECS agent does for its
/// configured cluster) and registers the instance in it; an agent that
/// joined as Fargate capacity only registers in the Fargate pool.
pub async fn register(
    state: &AppState,
    region: &str,
    req: RegisterContainerInstanceRequest,
) -> Result<ContainerInstance, ApiError> {
    let ctx = ctx(state, region);
    let name = req.cluster.clone().unwrap_or_else(|| DEFAULT_CLUSTER.to_owned());
    let answer = if name == capacity::FARGATE_POOL {
        // A host that joined as Fargate capacity only: no cluster's.
        container_instance::register_in(&ctx, name, req).await?
    } else {
        cluster::create_cluster(
            &ctx,
            CreateClusterRequest { cluster_name: Some(name), ..Default::default() },
        )
        .await?;
        container_instance::register_container_instance(&ctx, req).await?
    };
    answer
        .container_instance
        .ok_or_else(|| EcsError::server("The instance was not registered.").into())
}

/// The task with its definition, if it exists.
pub async fn assignment(
    state: &AppState,
    region: &str,
    cluster: &str,
    task_id: &str,
) -> Result<Option<Assignment>, ApiError> {
    let Some(stored) = state.ops.store.get_task(region, cluster, task_id).await? else {
        return Ok(None);
    };
    Ok(Some(with_definition(state, region, cluster, task::parse(&stored)?).await?))
}

async fn with_definition(
    state: &AppState,
    region: &str,
    cluster: &str,
    task: Task,
) -> Result<Assignment, ApiError> {
    let arn = task.task_definition_arn.clone().unwrap_or_default();
    let missing = || EcsError::server(format!("The task definition {arn} of a task is missing."));
    let (family, revision) = match wharf_model::arn::task_definition_ref(&arn) {
        Some(wharf_model::arn::TaskDefinitionRef::Revision(f, r)) => (f, r),
        _ => return Err(missing().into()),
    };
    let stored = state
        .ops
        .store
        .get_task_definition(region, family, Some(i32::try_from(revision).map_err(|_| missing())?))
        .await?
        .ok_or_else(missing)?;
    let mut definition: TaskDefinition = serde_json::from_str(&stored.json)
        .map_err(|_| EcsError::server("A stored task definition could not be read."))?;
    render_log_driver_mode(&ctx(state, region), &mut definition).await?;
    Ok(Assignment { cluster: cluster.to_owned(), task, definition })
}

/// Gives every container that logs without a `mode` the account's
/// `defaultLogDriverMode`, as the ECS backend renders it for the agent.
async fn render_log_driver_mode(
    ctx: &Ctx,
    definition: &mut TaskDefinition,
) -> Result<(), ApiError> {
    let containers = definition.container_definitions.iter_mut().flatten();
    let mut unset: Vec<&mut std::collections::BTreeMap<String, String>> = containers
        .filter_map(|c| c.log_configuration.as_mut())
        .filter(|l| l.log_driver.is_some())
        .map(|l| l.options.get_or_insert_with(Default::default))
        .filter(|o| !o.contains_key("mode"))
        .collect();
    if unset.is_empty() {
        return Ok(());
    }
    let mode = crate::ecs::account_setting::account_value(ctx, "defaultLogDriverMode").await?;
    for options in &mut unset {
        options.insert("mode".to_owned(), mode.clone());
    }
    Ok(())
}

/// Every task on the instance (of `cluster`) that is not yet `STOPPED`, of
/// whatever cluster (a host of the Fargate pool runs every cluster's).
pub async fn assigned(
    state: &AppState,
    region: &str,
    cluster: &str,
    instance_id: &str,
) -> Result<Vec<Assignment>, ApiError> {
    let stored = state.ops.store.unstopped_tasks_on(region, cluster, instance_id).await?;
    let mut out = Vec::with_capacity(stored.len());
    for s in stored {
        out.push(with_definition(state, region, &s.cluster, task::parse(&s)?).await?);
    }
    Ok(out)
}

/// How many assignments may wait for an agent before the watch waits.
const WATCH_BUFFER: usize = 1024;

/// The refusal an agent of a deregistered (`INACTIVE`) or unknown instance
/// gets, as ECS's agent gets `InactiveInstanceException`.
fn inactive(instance_id: &str) -> ApiError {
    ApiError {
        type_name: "InactiveInstanceException".into(),
        message: format!(
            "The container instance {instance_id} is not registered (or was deregistered): \
             register the host again."
        ),
        status: http::StatusCode::BAD_REQUEST,
    }
}

/// Whether the instance is registered (not `INACTIVE`).
async fn registered(
    state: &AppState,
    region: &str,
    cluster: &str,
    instance_id: &str,
) -> Result<bool, ApiError> {
    // The record alone: summing what the instance's tasks hold is work this
    // check, run on every heartbeat and task change routed here, never needs.
    let found = state
        .ops
        .store
        .instance_records(region, cluster, Some(vec![instance_id.to_owned()]))
        .await?;
    Ok(found.first().is_some_and(|i| i.status != InstanceStatus::Inactive))
}

/// The tasks placed on an instance: first every one not yet `STOPPED`, then
/// [`WatchEvent::Synced`], then each task again whenever it changes, until
/// the receiver is dropped or the instance is deregistered.
pub async fn watch(
    state: &AppState,
    region: &str,
    cluster: &str,
    instance_id: &str,
) -> Result<mpsc::Receiver<WatchEvent>, ApiError> {
    if !registered(state, region, cluster, instance_id).await? {
        return Err(inactive(instance_id));
    }
    // Subscribe before reading, so no change falls between the two.
    let store = &state.ops.store;
    let changes =
        state.instance_changes.subscribe(|| store.task_changes(), region, cluster, instance_id);
    let initial = assigned(state, region, cluster, instance_id).await?;
    let (tx, rx) = mpsc::channel(WATCH_BUFFER);
    let (state, region, cluster, instance_id) =
        (state.clone(), region.to_owned(), cluster.to_owned(), instance_id.to_owned());
    set_connected(&state, &region, &cluster, &instance_id, true).await;
    tokio::spawn(async move {
        forward(&state, &region, &cluster, &instance_id, initial, changes, tx).await;
        // The agent stopped listening: it is disconnected until it watches again.
        set_connected(&state, &region, &cluster, &instance_id, false).await;
    });
    Ok(rx)
}

/// Records whether the instance's agent is connected (`agentConnected`).
async fn set_connected(state: &AppState, region: &str, cluster: &str, instance_id: &str, up: bool) {
    let result = state
        .ops
        .store
        .update_instance(
            region,
            cluster,
            instance_id,
            Box::new(move |current| {
                let Some(u) = current else { return Ok(None) };
                let mut ci = container_instance::parse(&u.instance)?;
                if ci.agent_connected == Some(up) {
                    return Ok(None);
                }
                ci.agent_connected = Some(up);
                let json = serde_json::to_string(&ci)
                    .map_err(|e| EcsError::server(format!("instance not written: {e}")))?;
                Ok(Some(wharf_store::StoredInstance { json, ..u.instance.clone() }))
            }),
        )
        .await;
    if let Err(e) = result {
        tracing::warn!(error = %e, instance = instance_id, "agentConnected not recorded");
    }
}

/// Sends the initial assignments and the mark after them, then each change
/// of the instance's tasks, until the receiver is dropped or the instance is
/// deregistered (its tasks are orphaned, as ECS leaves them: its agent is
/// not told of them again).
async fn forward(
    state: &AppState,
    region: &str,
    cluster: &str,
    instance_id: &str,
    initial: Vec<Assignment>,
    mut changes: crate::instance_changes::Subscription,
    tx: mpsc::Sender<WatchEvent>,
) {
    {
        for a in initial {
            if tx.send(WatchEvent::Assigned(Box::new(a))).await.is_err() {
                return;
            }
        }
        if tx.send(WatchEvent::Synced).await.is_err() {
            return;
        }
        loop {
            let next = tokio::select! {
                () = tx.closed() => return,
                next = changes.recv() => next,
            };
            let resend = match next {
                // The instance's tasks, of whatever cluster.
                Some(Routed::Changed(c)) => {
                    if !registered(state, region, cluster, instance_id).await.unwrap_or(true) {
                        return;
                    }
                    match assignment(state, region, &c.cluster, &c.id).await {
                        Ok(Some(a)) => vec![a],
                        Ok(None) => vec![],
                        Err(e) => {
                            tracing::warn!(error = %e.message, "an assignment could not be read");
                            vec![]
                        }
                    }
                }
                // Fell behind: everything that is not stopped, again.
                Some(Routed::Resync) => match assigned(state, region, cluster, instance_id).await {
                    Ok(all) => all,
                    Err(_) => return,
                },
                None => return,
            };
            for a in resend {
                if tx.send(WatchEvent::Assigned(Box::new(a))).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// Records an agent's heartbeat: the instance's agent is connected, and its
/// container runtime's health (`healthStatus`, whose `lastUpdated` is the
/// heartbeat's time: the instance liveness reconciler reads it). Refused for
/// an instance that is not registered.
pub async fn heartbeat(
    state: &AppState,
    region: &str,
    cluster: &str,
    instance_id: &str,
    beat: Heartbeat,
) -> Result<HeartbeatReply, ApiError> {
    if !registered(state, region, cluster, instance_id).await? {
        return Err(inactive(instance_id));
    }
    if let Some(containers) = beat.containers.clone() {
        let key = format!("{region}/{cluster}/{instance_id}");
        state.agent_stats.record(key, containers, state.ops.clock.now_millis());
    }
    let now = state.ops.clock.now();
    state
        .ops
        .store
        .update_instance(
            region,
            cluster,
            instance_id,
            Box::new(move |current| {
                let Some(u) = current.filter(|u| u.instance.status != InstanceStatus::Inactive)
                else {
                    return Ok(None);
                };
                let mut ci = container_instance::parse(&u.instance)?;
                ci.agent_connected = Some(true);
                ci.health_status =
                    Some(runtime_health(ci.health_status.take(), beat.runtime_healthy, now));
                let json = serde_json::to_string(&ci)
                    .map_err(|e| EcsError::server(format!("instance not written: {e}")))?;
                Ok(Some(wharf_store::StoredInstance { json, ..u.instance.clone() }))
            }),
        )
        .await?;
    let network = crate::ecs::vpc::plan(state, region, cluster, instance_id).await?;
    Ok(HeartbeatReply { interval_ms: state.heartbeat_interval_ms, network })
}

/// The instance's health after a heartbeat: its container runtime's check,
/// updated now (its status change kept from before when it did not change).
fn runtime_health(
    before: Option<ContainerInstanceHealthStatus>,
    healthy: bool,
    now: wharf_model::wire::Timestamp,
) -> ContainerInstanceHealthStatus {
    let status =
        if healthy { InstanceHealthCheckState::Ok } else { InstanceHealthCheckState::Impaired };
    let previous = before.as_ref().and_then(|h| h.details.as_deref()).and_then(|d| {
        d.iter().find(|c| c.r#type == Some(InstanceHealthCheckType::ContainerRuntime)).cloned()
    });
    let changed_at = match &previous {
        Some(p) if p.status.as_ref() == Some(&status) => p.last_status_change.unwrap_or(now),
        _ => now,
    };
    ContainerInstanceHealthStatus {
        overall_status: Some(status.clone()),
        details: Some(vec![InstanceHealthCheckResult {
            r#type: Some(InstanceHealthCheckType::ContainerRuntime),
            status_reason: (!healthy).then(|| "The container runtime does not answer.".to_owned()),
            status: Some(status),
            last_updated: Some(now),
            last_status_change: Some(changed_at),
        }]),
    }
}

/// Merges an agent's report about a task (a partial `Task` carrying its
/// ARN) into the stored task.
pub async fn report(
    state: &AppState,
    region: &str,
    cluster: &str,
    change: Task,
) -> Result<(), ApiError> {
    let arn = change.task_arn.clone().unwrap_or_default();
    let (task_id, _) = wharf_model::arn::resource_id(&arn, "task");
    let task_id = task_id.to_owned();
    let now = state.ops.clock.now_millis();
    state
        .ops
        .store
        .update_task(
            region,
            cluster,
            &task_id,
            Box::new(move |stored| {
                let mut t = task::parse(stored)?;
                if !merge(&mut t, change.clone()) {
                    return Ok(None);
                }
                let last = t.last_status.unwrap_or(stored.last_status);
                let stopped = last == TaskStatus::Stopped;
                Ok(Some(TaskUpdate {
                    desired_status: t
                        .desired_status
                        .clone()
                        .unwrap_or_else(|| stored.desired_status.clone()),
                    json: serde_json::to_string(&t)
                        .map_err(|e| EcsError::server(format!("task not written: {e}")))?,
                    last_status: last,
                    stopped_ms: stopped.then(|| t.stopped_at.map_or(now, |s| s.as_millis())),
                }))
            }),
        )
        .await?;
    Ok(())
}
