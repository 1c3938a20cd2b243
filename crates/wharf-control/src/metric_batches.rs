//! CloudWatch's stored data points (`wharf_ops::metrics`): every server
//! applies the batches the others wrote about once a second ([`follow`]),
//! and the leader deletes those older than the retention ([`expire`]).

use std::time::Duration;

use wharf_ops::Ops;

/// How often a server applies the batches other servers wrote.
pub const FOLLOW_INTERVAL: Duration = Duration::from_secs(1);

/// How often the leader deletes expired batches.
pub const EXPIRE_INTERVAL: Duration = Duration::from_secs(60);

/// Applies the stored batches (all the store keeps, at once, then those
/// written since) every [`FOLLOW_INTERVAL`] until `shutdown` turns `true`.
pub async fn follow(ops: Ops, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(FOLLOW_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
        if let Err(e) = wharf_ops::metrics::catch_up(&ops).await {
            tracing::warn!(error = %e, "stored metric data not applied");
        }
    }
}

/// Deletes the batches older than the retention every [`EXPIRE_INTERVAL`]
/// until `shutdown` turns `true`.
pub async fn expire(ops: Ops, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(EXPIRE_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
        match wharf_ops::metrics::expire(&ops).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(batches = n, "expired metric data deleted"),
            Err(e) => tracing::warn!(error = %e, "expired metric data not deleted"),
        }
    }
}
