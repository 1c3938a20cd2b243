//! Stopping a task: StopTask and the service scheduler ask the same way.
//! Only the desired status changes (with the stop code and reason, once);
//! the task's agent stops its containers and reports `STOPPED`.

use wharf_model::ecs::shapes::{DesiredStatus, Task, TaskStopCode};
use wharf_model::ecs::task::request_stop;
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
