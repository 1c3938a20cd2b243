//! The server's half of the agent link: what an agent, embedded or remote,
//! asks of the control plane. It is ECS's own agent-facing surface in
//! miniature: register the instance, learn the tasks placed on it, report
//! what became of them.
//!
//! Reports are merged into the stored task under rules that make them safe
//! to repeat and to reorder: statuses only move forward, the first stop
//! reason and every timestamp are kept once set, and a report that changes
//! nothing writes nothing.

pub use wharf_model::agent::Assignment;
use wharf_model::ecs::shapes::{
    Container, ContainerInstance, CreateClusterRequest, RegisterContainerInstanceRequest, Task,
};
use wharf_model::EcsError;
use wharf_store::TaskUpdate;

use crate::context::{AppState, Ctx};
use crate::ecs::{cluster, container_instance, task};
use crate::protocol::ApiError;

/// The task statuses in the order a task goes through them.
const TASK_ORDER: [&str; 8] = [
    "PROVISIONING",
    "PENDING",
    "ACTIVATING",
    "RUNNING",
    "DEACTIVATING",
    "STOPPING",
    "DEPROVISIONING",
    "STOPPED",
];

fn task_rank(s: Option<&str>) -> usize {
    s.and_then(|s| TASK_ORDER.iter().position(|o| *o == s)).unwrap_or(0)
}

fn container_rank(s: Option<&str>) -> usize {
    match s {
        Some("RUNNING") => 1,
        Some("STOPPED") => 2,
        _ => 0,
    }
}

fn ctx(state: &AppState, region: &str) -> Ctx {
    Ctx { state: state.clone(), region: region.to_owned(), request_id: "agent".to_owned() }
}

/// Creates the cluster if it does not exist (as the ECS agent does for its
/// configured cluster) and registers the instance in it.
pub async fn register(
    state: &AppState,
    region: &str,
    req: RegisterContainerInstanceRequest,
) -> Result<ContainerInstance, ApiError> {
    let ctx = ctx(state, region);
    let name = req.cluster.clone().unwrap_or_else(|| cluster::DEFAULT_CLUSTER.to_owned());
    cluster::create_cluster(
        &ctx,
        CreateClusterRequest { cluster_name: Some(name), ..Default::default() },
    )
    .await?;
    let answer = container_instance::register_container_instance(&ctx, req).await?;
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
    let Some(stored) = state.store.get_task(region, cluster, task_id).await? else {
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
        .store
        .get_task_definition(region, family, Some(i32::try_from(revision).map_err(|_| missing())?))
        .await?
        .ok_or_else(missing)?;
    let definition = serde_json::from_str(&stored.json)
        .map_err(|_| EcsError::server("A stored task definition could not be read."))?;
    Ok(Assignment { cluster: cluster.to_owned(), task, definition })
}

/// Every task on the instance that is not yet `STOPPED`.
pub async fn assigned(
    state: &AppState,
    region: &str,
    cluster: &str,
    instance_id: &str,
) -> Result<Vec<Assignment>, ApiError> {
    let stored = state.store.unstopped_tasks_on(region, cluster, instance_id).await?;
    let mut out = Vec::with_capacity(stored.len());
    for s in stored {
        out.push(with_definition(state, region, cluster, task::parse(&s)?).await?);
    }
    Ok(out)
}

/// Merges an agent's report about a task into the stored task.
pub async fn report(
    state: &AppState,
    region: &str,
    cluster: &str,
    task_id: &str,
    change: Task,
) -> Result<(), ApiError> {
    let now = state.clock.now_millis();
    state
        .store
        .update_task(
            region,
            cluster,
            task_id,
            Box::new(move |stored| {
                let mut t = task::parse(stored)?;
                if !merge(&mut t, change) {
                    return Ok(None);
                }
                let last = t.last_status.clone().unwrap_or_default();
                let stopped = last == "STOPPED";
                Ok(Some(TaskUpdate {
                    desired_status: t.desired_status.clone().unwrap_or_default(),
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

/// Applies a report to a task; whether anything changed. Statuses move only
/// forward; the stop reason, the stop code and each timestamp are kept once
/// set; a STOPPED desired status is never undone.
pub fn merge(t: &mut Task, r: Task) -> bool {
    let before = t.clone();
    if task_rank(r.last_status.as_deref()) > task_rank(t.last_status.as_deref()) {
        t.last_status = r.last_status;
    }
    if r.desired_status.as_deref() == Some("STOPPED") {
        t.desired_status = r.desired_status;
    }
    if t.stop_code.is_none() {
        t.stop_code = r.stop_code;
    }
    if t.stopped_reason.is_none() {
        t.stopped_reason = r.stopped_reason;
    }
    macro_rules! once {
        ($($f:ident),*) => { $( if t.$f.is_none() { t.$f = r.$f; } )* };
    }
    once!(
        pull_started_at,
        pull_stopped_at,
        started_at,
        connectivity_at,
        stopping_at,
        execution_stopped_at,
        stopped_at
    );
    if r.connectivity.is_some() {
        t.connectivity = r.connectivity;
    }
    if r.health_status.is_some() {
        t.health_status = r.health_status;
    }
    if r.attachments.is_some() {
        t.attachments = r.attachments;
    }
    let containers = t.containers.get_or_insert_with(Vec::new);
    for rc in r.containers.unwrap_or_default() {
        if let Some(c) = containers.iter_mut().find(|c| c.name == rc.name) {
            merge_container(c, rc);
        }
    }
    let changed = *t != before;
    if changed {
        t.version = Some(t.version.unwrap_or(0) + 1);
    }
    changed
}

fn merge_container(c: &mut Container, r: Container) {
    if container_rank(r.last_status.as_deref()) > container_rank(c.last_status.as_deref()) {
        c.last_status = r.last_status;
    }
    macro_rules! some {
        ($($f:ident),*) => { $( if r.$f.is_some() { c.$f = r.$f; } )* };
    }
    some!(
        exit_code,
        reason,
        runtime_id,
        network_bindings,
        network_interfaces,
        health_status,
        image_digest
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn task(v: serde_json::Value) -> Task {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn statuses_only_move_forward_and_first_reasons_stick() {
        let mut t = task(json!({
            "lastStatus": "PROVISIONING", "desiredStatus": "RUNNING", "version": 1,
            "containers": [{"name": "web", "lastStatus": "PENDING"}]
        }));
        assert!(merge(
            &mut t,
            task(json!({
                "lastStatus": "RUNNING", "startedAt": 10.0,
                "containers": [{"name": "web", "lastStatus": "RUNNING", "runtimeId": "abc"}]
            }))
        ));
        assert_eq!(t.version, Some(2));
        assert!(!merge(&mut t, task(json!({"lastStatus": "PENDING", "startedAt": 5.0}))));
        assert_eq!(t.last_status.as_deref(), Some("RUNNING"));
        assert_eq!(t.started_at.map(|s| s.as_millis()), Some(10_000));
        assert!(merge(
            &mut t,
            task(json!({
                "lastStatus": "STOPPED", "desiredStatus": "STOPPED",
                "stopCode": "EssentialContainerExited",
                "stoppedReason": "Essential container in task exited",
                "containers": [{"name": "web", "lastStatus": "STOPPED", "exitCode": 3}]
            }))
        ));
        assert!(!merge(
            &mut t,
            task(json!({"stoppedReason": "later", "desiredStatus": "RUNNING"}))
        ));
        assert_eq!(t.stopped_reason.as_deref(), Some("Essential container in task exited"));
        assert_eq!(t.desired_status.as_deref(), Some("STOPPED"));
        let c = &t.containers.as_ref().unwrap()[0];
        assert_eq!(
            (c.last_status.as_deref(), c.exit_code, c.runtime_id.as_deref()),
            (Some("STOPPED"), Some(3), Some("abc"))
        );
    }
}
