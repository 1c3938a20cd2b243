//! Removing what a stopped task leaves on the host. As the ECS agent does
//! after `ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION` (3 hours by default), a
//! stopped task's containers stay for inspection (`docker logs`, `docker
//! inspect`) and are removed, with its task-scoped volumes, once the wait is
//! over. Each removal is one timer, not a sweep.

use std::sync::Arc;
use std::time::Duration;

use crate::runtime::Runtime;

/// The ECS agent's default wait before a stopped task's containers go.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(3 * 3600);

/// Removes the containers, then the volumes, once `wait` has passed.
pub fn schedule(
    runtime: Arc<dyn Runtime>,
    wait: Duration,
    containers: Vec<String>,
    volumes: Vec<String>,
) {
    if containers.is_empty() && volumes.is_empty() {
        return;
    }
    tokio::spawn(async move {
        tokio::time::sleep(wait).await;
        for id in &containers {
            if let Err(e) = runtime.remove_container(id).await {
                tracing::warn!(error = %e, container = %id, "a stopped task's container was not removed");
            }
        }
        for name in &volumes {
            if let Err(e) = runtime.remove_volume(name).await {
                tracing::warn!(error = %e, volume = %name, "a stopped task's volume was not removed");
            }
        }
    });
}

/// Parses a wait as the ECS agent's setting is written: a number with a unit
/// (`90s`, `30m`, `3h`), or plain seconds.
pub fn parse_wait(s: &str) -> Option<Duration> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let n: u64 = number.parse().ok()?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n.checked_mul(60)?,
        "h" => n.checked_mul(3600)?,
        _ => return None,
    };
    Some(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_parse_like_the_agent_setting() {
        assert_eq!(parse_wait("3h"), Some(Duration::from_secs(10800)));
        assert_eq!(parse_wait("90s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_wait("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_wait("5"), Some(Duration::from_secs(5)));
        assert_eq!(parse_wait("h"), None);
        assert_eq!(parse_wait("1d"), None);
    }

    #[tokio::test(start_paused = true)]
    async fn removal_waits_then_removes_containers_and_volumes() {
        let fake = crate::runtime::fake::FakeRuntime::new();
        let runtime: Arc<dyn Runtime> = Arc::new(fake.clone());
        schedule(runtime, Duration::from_secs(60), vec!["c1".into()], vec!["v1".into()]);
        tokio::time::sleep(Duration::from_secs(59)).await;
        assert!(fake.calls().is_empty());
        tokio::time::sleep(Duration::from_secs(2)).await;
        let calls = format!("{:?}", fake.calls());
        assert!(calls.contains("c1") && calls.contains("v1"), "{calls}");
    }
}
