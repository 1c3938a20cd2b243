//! Log retention and upkeep. CloudWatch deletes a group's events once they
//! are older than its retention period; here the step turns each group's
//! policy and the time into a cutoff, and the loop deletes what lies before
//! it (in batches, see [`wharf_store::logs`]), then removes the events of
//! deleted groups and streams and holds the store to its disk budget.

use std::sync::Arc;
use std::time::Duration;

use wharf_model::clock::Clock;
use wharf_model::logs::DAY_MS;
use wharf_store::logs::RetentionPolicy;
use wharf_store::LogStore;

/// How often retention runs by default.
pub const INTERVAL: Duration = Duration::from_secs(60);

/// Delete a group's events with timestamps before `cutoff_ms`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expire {
    /// The store's id of the group.
    pub group_id: i64,
    /// Its name, for the log.
    pub name: String,
    /// Events before this moment (ms since the epoch) go.
    pub cutoff_ms: i64,
}

/// The step: one [`Expire`] per group with a retention policy.
pub fn step(policies: &[RetentionPolicy], now_ms: i64) -> Vec<Expire> {
    policies
        .iter()
        .map(|p| Expire {
            group_id: p.group_id,
            name: p.name.clone(),
            cutoff_ms: now_ms - i64::from(p.days) * DAY_MS,
        })
        .collect()
}

/// One pass: retention, then purges of deleted groups and streams, then the
/// disk budget. Returns how many events were deleted past retention.
pub async fn run_once(logs: &LogStore, now_ms: i64) -> usize {
    let policies = match logs.retention_policies() {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(error = %e, "log retention not applied");
            return 0;
        }
    };
    let mut expired = 0;
    for action in step(&policies, now_ms) {
        match logs.delete_before(action.group_id, action.cutoff_ms).await {
            Ok(0) => {}
            Ok(n) => {
                expired += n;
                tracing::info!(group = %action.name, events = n, "deleted log events past retention");
            }
            Err(e) => tracing::warn!(group = %action.name, error = %e, "log retention not applied"),
        }
    }
    if let Err(e) = logs.purge_deleted().await {
        tracing::warn!(error = %e, "events of deleted log groups not purged yet");
    }
    let usage = logs.usage();
    if usage.stored_bytes > usage.max_bytes {
        match logs.trim_to_budget().await {
            Ok(n) => tracing::warn!(
                deleted = n,
                stored_bytes = usage.stored_bytes,
                max_bytes = usage.max_bytes,
                "the log store was over its budget: deleted the oldest events"
            ),
            Err(e) => tracing::error!(error = %e, "the log store is over its budget"),
        }
    }
    expired
}

/// Runs [`run_once`] every `interval` until `shutdown` changes to `true`.
pub async fn run(
    logs: Arc<LogStore>,
    clock: Arc<dyn Clock>,
    interval: Duration,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // With logs in etcd, appends do not trim (every server appends, one
    // trims): the leader trims as soon as an append takes the logs over
    // their budget, so they exceed it by at most the appends of one trim.
    let mut appends = logs.appends();
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            appended = appends.recv(), if logs.is_replicated() => {
                if matches!(appended, Err(tokio::sync::broadcast::error::RecvError::Closed)) {
                    return;
                }
                let usage = logs.usage();
                if usage.stored_bytes > usage.max_bytes {
                    if let Err(e) = logs.trim_to_budget().await {
                        tracing::error!(error = %e, "the log store is over its budget");
                    }
                }
                continue;
            }
            () = wharf_store::leadership::until_true(&mut shutdown) => return,
        }
        run_once(&logs, clock.now_millis()).await;
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use wharf_model::clock::FakeClock;
    use wharf_store::logs::{Append, NewGroup, ReadFrom, StreamRead};

    use super::*;

    const T0: i64 = 1_700_000_000_000;

    #[test]
    fn cutoffs_are_retention_days_back() {
        let p = |id, days| RetentionPolicy { group_id: id, name: format!("g{id}"), days };
        let actions = step(&[p(1, 1), p(2, 30)], T0);
        assert_eq!(actions[0].cutoff_ms, T0 - DAY_MS);
        assert_eq!(actions[1].cutoff_ms, T0 - 30 * DAY_MS);
        assert!(step(&[], T0).is_empty());
    }

    #[tokio::test]
    async fn logs_retention_deletes_what_the_clock_has_aged() {
        let dir = tempfile::tempdir().unwrap();
        let logs = LogStore::open(&dir.path().join("logs.sqlite3"), i64::MAX).unwrap();
        let clock = FakeClock::at(T0);
        let group = NewGroup {
            name: "/g".into(),
            created: T0,
            class: "STANDARD".into(),
            kms_key_id: None,
            tags: BTreeMap::new(),
        };
        let events = vec![(T0 - 2 * DAY_MS, "old".into()), (T0 - 1000, "new".into())];
        let append = Append {
            group,
            stream: "s".into(),
            create_group: true,
            create_stream: true,
            events,
            ingested: T0,
            cursor: None,
        };
        logs.append("us-east-1", append).await.unwrap();
        assert_eq!(run_once(&logs, clock.now_millis()).await, 0, "no policy, nothing goes");
        logs.set_retention("us-east-1", "/g", Some(1)).await.unwrap();
        assert_eq!(run_once(&logs, clock.now_millis()).await, 1);
        clock.advance_millis(DAY_MS);
        assert_eq!(run_once(&logs, clock.now_millis()).await, 1);
        let read = StreamRead { start: None, end: None, from: ReadFrom::Head, limit: 10 };
        assert!(logs.read_stream("us-east-1", "/g", "s", &read).unwrap().is_empty());
        assert_eq!(logs.usage().stored_bytes, 0);
    }
}
