//! Fargate Spot interruptions. AWS takes Fargate Spot capacity back with a
//! two-minute warning; Wharf cannot lose capacity that way, so a command of
//! its own sends the interruption. The task is asked to stop with ECS's
//! stop code `SpotInterruption` and reason: its agent sends its containers
//! SIGTERM (and SIGKILL after their `stopTimeout`), and a service replaces
//! it without counting it as a failure.

use wharf_model::ecs::capacity::{FARGATE_SPOT, SPOT_INTERRUPTED_REASON};
use wharf_model::ecs::shapes::{DesiredStatus, Task, TaskStopCode};
use wharf_model::EcsError;
use wharf_store::StoredTask;

use crate::stop::stop_task;
use crate::{OpsError, Region};

/// Interrupts task `id` of `cluster`, which must run on `FARGATE_SPOT` and
/// not be stopping already. The task as stored afterwards; `None` if there
/// is no such task.
pub async fn interrupt(
    r: Region<'_>,
    cluster: &str,
    id: &str,
) -> Result<Option<StoredTask>, OpsError> {
    let Some(stored) = r.store().get_task(r.name, cluster, id).await? else { return Ok(None) };
    let task: Task = serde_json::from_str(&stored.json)
        .map_err(|_| EcsError::server("A stored task could not be read."))?;
    if task.capacity_provider_name.as_deref() != Some(FARGATE_SPOT) {
        return Err(EcsError::invalid_parameter(format!(
            "Task {id} does not run on the FARGATE_SPOT capacity provider: only Fargate Spot \
             tasks can be interrupted."
        ))
        .into());
    }
    if stored.desired_status == DesiredStatus::Stopped {
        return Err(EcsError::invalid_parameter(format!(
            "Task {id} is already stopping or stopped."
        ))
        .into());
    }
    stop_task(r, cluster, id, TaskStopCode::SpotInterruption, SPOT_INTERRUPTED_REASON.to_owned())
        .await
}
