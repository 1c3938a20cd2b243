//! Rules about tasks that the API and the reconcilers share.

use super::shapes::{DesiredStatus, Task, TaskStopCode};

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

#[cfg(test)]
mod tests {
    use super::*;

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
