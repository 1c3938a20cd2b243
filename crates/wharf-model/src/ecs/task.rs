//! Rules about tasks that the API and the reconcilers share.

use super::shapes::{DesiredStatus, Task, TaskStopCode};
use super::status::{ContainerLastStatus, TaskStatus};
use crate::wire::Timestamp;

/// Asks a task to stop, as StopTask and the service scheduler do: its desired
/// status becomes STOPPED, with the stop code and reason unless it already
/// has them, and its version moves on. `false` if it was already asked.
pub fn request_stop(task: &mut Task, code: TaskStopCode, reason: String) -> bool {
    if task.desired_status == Some(DesiredStatus::Stopped) {
        return false;
    }
    task.desired_status = Some(DesiredStatus::Stopped);
    task.stop_code.get_or_insert(code);
    task.stopped_reason.get_or_insert(reason);
    task.version = Some(task.version.unwrap_or(0) + 1);
    true
}

/// Records a task as stopped by the control plane itself, when no agent can
/// report it (its instance was declared lost, or deregistered by force): asked
/// to stop with `code` and `reason` (unless it already was), `lastStatus`
/// STOPPED with its containers, and its stop times set once. `false` if it was
/// already STOPPED.
pub fn declare_stopped(task: &mut Task, code: TaskStopCode, reason: String, now_ms: i64) -> bool {
    if task.last_status == Some(TaskStatus::Stopped) {
        return false;
    }
    if !request_stop(task, code.clone(), reason.clone()) {
        task.version = Some(task.version.unwrap_or(0) + 1);
    }
    // A StopTask before the loss named its own reason; the loss is what stopped it.
    task.stop_code = Some(code);
    task.stopped_reason = Some(reason);
    task.last_status = Some(TaskStatus::Stopped);
    let now = Timestamp::from_millis(now_ms);
    task.stopping_at.get_or_insert(now);
    task.execution_stopped_at.get_or_insert(now);
    task.stopped_at.get_or_insert(now);
    for c in task.containers.iter_mut().flatten() {
        c.last_status = Some(ContainerLastStatus::Stopped);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_declared_stopped_is_stopped_with_the_given_reason() {
        let mut t: Task = serde_json::from_value(serde_json::json!({
            "lastStatus": "RUNNING", "desiredStatus": "RUNNING", "version": 3,
            "containers": [{"name": "web", "lastStatus": "RUNNING"}]
        }))
        .unwrap();
        assert!(declare_stopped(&mut t, TaskStopCode::TerminationNotice, "lost".into(), 5_000));
        assert_eq!(
            (t.last_status, t.desired_status.clone()),
            (Some(TaskStatus::Stopped), Some(DesiredStatus::Stopped))
        );
        assert_eq!(t.stop_code, Some(TaskStopCode::TerminationNotice));
        assert_eq!(t.stopped_reason.as_deref(), Some("lost"));
        assert_eq!(t.stopped_at.map(|s| s.as_millis()), Some(5_000));
        assert_eq!(
            t.containers.as_ref().unwrap()[0].last_status,
            Some(ContainerLastStatus::Stopped)
        );
        assert_eq!(t.version, Some(4));
        let mut again = t.clone();
        again.containers = None;
        assert!(!declare_stopped(&mut again, TaskStopCode::UserInitiated, "x".into(), 9_000));
    }

    #[test]
    fn a_stop_is_asked_once_and_keeps_the_first_reason() {
        let mut t = Task {
            desired_status: Some(DesiredStatus::Running),
            version: Some(2),
            ..Default::default()
        };
        assert!(request_stop(&mut t, TaskStopCode::UserInitiated, "first".into()));
        assert!(!request_stop(&mut t, TaskStopCode::ServiceSchedulerInitiated, "second".into()));
        assert_eq!(t.stopped_reason.as_deref(), Some("first"));
        assert_eq!(t.stop_code, Some(TaskStopCode::UserInitiated));
        assert_eq!((t.desired_status, t.version), (Some(DesiredStatus::Stopped), Some(3)));
    }
}
