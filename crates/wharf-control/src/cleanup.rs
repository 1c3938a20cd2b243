//! Forgetting stopped tasks. ECS returns a stopped task from DescribeTasks
//! and ListTasks "for at least 1 hour after the task stops", then it expires;
//! Wharf keeps each for exactly that hour.

use std::sync::Arc;
use std::time::Duration;

use wharf_model::clock::Clock;
use wharf_store::Store;

/// How long a stopped task stays visible.
pub const STOPPED_TASK_RETENTION: Duration = Duration::from_secs(3600);

/// How often the cleanup runs.
pub const INTERVAL: Duration = Duration::from_secs(60);

/// The step: tasks that stopped before this moment (ms since the epoch) are
/// forgotten.
pub fn stopped_task_cutoff(now_ms: i64) -> i64 {
    now_ms - STOPPED_TASK_RETENTION.as_millis() as i64
}

/// Runs the cleanup every [`INTERVAL`] until `shutdown` changes to `true`.
pub async fn run(
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
        match store.purge_stopped_tasks(stopped_task_cutoff(clock.now_millis())).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(tasks = n, "forgot tasks stopped over an hour ago"),
            Err(e) => tracing::warn!(error = %e, "stopped tasks not purged"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_hour_back() {
        assert_eq!(stopped_task_cutoff(10_000_000), 10_000_000 - 3_600_000);
    }
}
