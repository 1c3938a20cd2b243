//! Stopping a task: StopTask and the service scheduler ask the same way.
//! Only the desired status changes (with the stop code and reason, once);
//! the task's agent stops its containers and reports `STOPPED`. When no
//! agent will ever report (its instance was lost, or deregistered by force),
//! the control plane records the tasks stopped itself.

use wharf_model::ecs::shapes::{DesiredStatus, Task, TaskStopCode};
use wharf_model::ecs::status::TaskStatus;
use wharf_model::ecs::task::{declare_stopped, request_stop};
use wharf_model::EcsError;
use wharf_store::{StoredTask, TaskUpdate};

use crate::{OpsError, Region};

/// Asks task `id` of `cluster` to stop with `code` and `reason` (kept
/// only if it has none yet). The task as stored afterwards; `None` if
/// there is no such task. A task already asked to stop is left as it is.
pub async fn stop_task(
    r: Region<'_>,
    cluster: &str,
    id: &str,
    code: TaskStopCode,
    reason: String,
) -> Result<Option<StoredTask>, OpsError> {
    let stored = r
        .store()
        .update_task(
            r.name,
            cluster,
            id,
            Box::new(move |stored| {
                let mut t: Task = serde_json::from_str(&stored.json).map_err(|e| {
                    tracing::error!(error = %e, task = %stored.id, "a stored task could not be read");
                    EcsError::server("A stored task could not be read.")
                })?;
                if stored.desired_status == DesiredStatus::Stopped
                    || !request_stop(&mut t, code.clone(), reason.clone())
                {
                    return Ok(None);
                }
                Ok(Some(TaskUpdate {
                    last_status: stored.last_status,
                    desired_status: DesiredStatus::Stopped,
                    json: serde_json::to_string(&t)
                        .map_err(|e| EcsError::server(format!("task not written: {e}")))?,
                    stopped_ms: None,
                }))
            }),
        )
        .await?;
    Ok(stored)
}

/// Records every task on `instance` of `cluster` not yet `STOPPED` (of
/// whatever cluster: a host of the Fargate pool runs every cluster's) as
/// stopped with `code` and `reason` (the instance's agent will not report
/// them: it was declared lost, or deregistered by force). How many are
/// now stopped.
pub async fn declare_stopped_on_instance(
    r: Region<'_>,
    cluster: &str,
    instance: &str,
    code: TaskStopCode,
    reason: &str,
) -> Result<usize, OpsError> {
    let mut stopped = 0;
    for t in r.store().unstopped_tasks_on(r.name, cluster, instance).await? {
        let now_ms = r.now_ms();
        let (code, reason) = (code.clone(), reason.to_owned());
        let changed = r
            .store()
            .update_task(
                r.name,
                &t.cluster,
                &t.id,
                Box::new(move |stored| {
                    let mut task: Task = serde_json::from_str(&stored.json).map_err(|e| {
                        tracing::error!(error = %e, task = %stored.id, "a stored task could not be read");
                        EcsError::server("A stored task could not be read.")
                    })?;
                    if !declare_stopped(&mut task, code.clone(), reason.clone(), now_ms) {
                        return Ok(None);
                    }
                    Ok(Some(TaskUpdate {
                        last_status: TaskStatus::Stopped,
                        desired_status: DesiredStatus::Stopped,
                        json: serde_json::to_string(&task)
                            .map_err(|e| EcsError::server(format!("task not written: {e}")))?,
                        stopped_ms: Some(now_ms),
                    }))
                }),
            )
            .await?;
        if changed.is_some_and(|s| s.last_status == TaskStatus::Stopped) {
            stopped += 1;
        }
    }
    Ok(stopped)
}
