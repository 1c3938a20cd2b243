//! How `wharf run` ends: its exit code, from how the tasks' essential
//! containers ended, as `docker run` takes its container's.

use serde_json::Value;

/// The exit code when a task stopped without its essential containers
/// having run (an image that cannot be pulled, a refused placement): the
/// code `docker run` uses when the daemon fails it.
pub const DID_NOT_RUN: u8 = 125;

/// Whether the definition marks this container essential (the default).
fn essential(definition: &Value, container: &str) -> bool {
    definition["containerDefinitions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["name"] == container)
        .is_none_or(|c| c["essential"].as_bool().unwrap_or(true))
}

/// One stopped task's code: the exit code of the first essential container
/// (in the task's order) that ended non-zero, else 0; [`DID_NOT_RUN`] when
/// an essential container never ran.
pub fn task_exit_code(task: &Value, definition: &Value) -> u8 {
    let mut code = 0;
    for c in task["containers"].as_array().into_iter().flatten() {
        let name = c["name"].as_str().unwrap_or_default();
        if !essential(definition, name) {
            continue;
        }
        match c["exitCode"].as_i64() {
            Some(0) => {}
            Some(n) => return u8::try_from(n.rem_euclid(256)).unwrap_or(1).max(1),
            None => code = DID_NOT_RUN,
        }
    }
    code
}

/// The run's code: the first task's that is not 0.
pub fn exit_code(tasks: &[Value], definition: &Value) -> u8 {
    tasks.iter().map(|t| task_exit_code(t, definition)).find(|c| *c != 0).unwrap_or(0)
}

/// A line saying how a stopped task ended: its stoppedReason and each
/// container's exit code (or reason).
pub fn summary(task: &Value) -> String {
    let id = task["taskArn"].as_str().and_then(|a| a.rsplit('/').next()).unwrap_or("?");
    let reason = task["stoppedReason"].as_str().unwrap_or("stopped");
    let containers: Vec<String> = task["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            let name = c["name"].as_str().unwrap_or("?");
            match (c["exitCode"].as_i64(), c["reason"].as_str()) {
                (Some(code), _) => format!("{name} exited {code}"),
                (None, Some(reason)) => format!("{name}: {reason}"),
                (None, None) => format!("{name} did not run"),
            }
        })
        .collect();
    format!("task {} stopped: {reason} ({})", short_id(id), containers.join(", "))
}

/// The first 8 characters of a task id, as `docker ps` shortens.
pub fn short_id(id: &str) -> &str {
    &id[..id.len().min(8)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn task(containers: Value) -> Value {
        json!({"taskArn": "arn:aws:ecs:us-east-1:0:task/default/abcdef0123456789",
               "stoppedReason": "Essential container in task exited", "containers": containers})
    }

    #[test]
    fn the_essential_container_decides() {
        let def = json!({"containerDefinitions": [
            {"name": "app"}, {"name": "sidecar", "essential": false}]});
        let t = task(json!([{"name": "app", "exitCode": 3}, {"name": "sidecar", "exitCode": 0}]));
        assert_eq!(task_exit_code(&t, &def), 3);
        let t = task(json!([{"name": "app", "exitCode": 0}, {"name": "sidecar", "exitCode": 9}]));
        assert_eq!(task_exit_code(&t, &def), 0, "a non-essential container does not count");
        let t = task(json!([{"name": "app", "exitCode": 137}]));
        assert_eq!(task_exit_code(&t, &def), 137);
        let t = task(json!([{"name": "app", "reason": "CannotPullContainerError: no"}]));
        assert_eq!(task_exit_code(&t, &def), DID_NOT_RUN);
        let t = task(json!([{"name": "app", "exitCode": 256}]));
        assert_eq!(task_exit_code(&t, &def), 1, "a code past 255 still fails");
    }

    #[test]
    fn the_first_failing_task_decides_the_run() {
        let def = json!({"containerDefinitions": [{"name": "app"}]});
        let ok = task(json!([{"name": "app", "exitCode": 0}]));
        let bad = task(json!([{"name": "app", "exitCode": 2}]));
        assert_eq!(exit_code(&[ok.clone(), bad.clone()], &def), 2);
        assert_eq!(exit_code(&[ok.clone(), ok.clone()], &def), 0);
        assert_eq!(exit_code(&[], &def), 0);
    }

    #[test]
    fn summaries_say_how_each_container_ended() {
        let t = task(json!([{"name": "app", "exitCode": 0}, {"name": "db", "reason": "OOM"}]));
        assert_eq!(
            summary(&t),
            "task abcdef01 stopped: Essential container in task exited (app exited 0, db: OOM)"
        );
    }
}
