//! Compacting etcd's history. etcd keeps every revision of every key until
//! it is compacted, so without compaction the database grows with every
//! write (log batches most of all) until etcd's quota stops all writes.
//! The leading server compacts every minute to the revision etcd had
//! [`KEEP_HISTORY`] ago, as Kubernetes' API server does: a watch (a cache,
//! a log mirror) that falls further behind than that loads afresh.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use super::client::EtcdError;
use super::wire;
use super::EtcdStore;

/// How much history is kept.
pub const KEEP_HISTORY: Duration = Duration::from_secs(300);

/// How often the leader looks.
const EVERY: Duration = Duration::from_secs(60);

/// The step: given (when, revision) samples oldest first, the newest
/// revision at least `keep` old at `now`, if any is newer than `done`.
pub fn compaction_target(
    samples: &VecDeque<(Duration, i64)>,
    now: Duration,
    keep: Duration,
    done: i64,
) -> Option<i64> {
    samples
        .iter()
        .rev()
        .find(|(at, _)| now.saturating_sub(*at) >= keep)
        .map(|(_, rev)| *rev)
        .filter(|rev| *rev > done)
}

/// Compacts until `ended` turns true.
pub(crate) async fn run(store: EtcdStore, mut ended: watch::Receiver<bool>) {
    let origin = Instant::now();
    let mut samples: VecDeque<(Duration, i64)> = VecDeque::new();
    let mut done = 0;
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = super::cache::stopped(&mut ended) => return,
        }
        let probe = wire::RangeRequest { key: "_".into(), count_only: true, ..Default::default() };
        let Ok(now_rev) = store.client().range(&probe).await.map(|r| r.header.revision) else {
            continue;
        };
        let now = origin.elapsed();
        samples.push_back((now, now_rev));
        let Some(target) = compaction_target(&samples, now, KEEP_HISTORY, done) else { continue };
        match store.client().compact(target).await {
            Ok(()) | Err(EtcdError::Compacted(_)) => {
                tracing::debug!(revision = target, "etcd history compacted");
                done = target;
            }
            Err(EtcdError::Refused { message, .. }) if message.contains("compacted") => {
                done = target;
            }
            Err(e) => tracing::warn!(error = %e, "etcd history not compacted"),
        }
        samples.retain(|(_, rev)| *rev > done);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compacts_what_is_old_enough_once() {
        let s = |v: &[(u64, i64)]| {
            v.iter().map(|(t, r)| (Duration::from_secs(*t), *r)).collect::<VecDeque<_>>()
        };
        let keep = Duration::from_secs(300);
        let samples = s(&[(0, 10), (60, 20), (300, 90)]);
        assert_eq!(compaction_target(&samples, Duration::from_secs(200), keep, 0), None);
        assert_eq!(compaction_target(&samples, Duration::from_secs(300), keep, 0), Some(10));
        assert_eq!(compaction_target(&samples, Duration::from_secs(400), keep, 0), Some(20));
        assert_eq!(compaction_target(&samples, Duration::from_secs(400), keep, 20), None);
    }
}
