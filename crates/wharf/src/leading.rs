//! The reconcilers, on the one server that leads: the service scheduler, the
//! CodeDeploy deployer, the registration of service tasks in Cloud Map,
//! capacity providers' managed scaling, services' auto scaling, instance
//! liveness, stopped-task expiry, the purge of deleted task
//! definitions and log retention run only while this server's term
//! lasts, and write through the term's store, so that a server that lost
//! its term (its etcd lease expired while it was paused or cut off) has its
//! late writes refused. With SQLite the only server always leads.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use wharf_api::AppState;
use wharf_store::leadership::until_true;
use wharf_store::Leadership;

/// How often the periodic reconcilers run.
#[derive(Debug, Clone, Copy)]
pub struct Intervals {
    /// Log retention and the log store's budget.
    pub logs_retention: Duration,
    /// How long an agent may be silent before its instance is declared lost.
    pub instance_lost_after: Duration,
    /// The metric period (CloudWatch's 60 s unless `--metrics-period`).
    pub metrics_period: Duration,
}

/// What the reconcilers run beside the state.
#[derive(Debug, Clone, Default)]
pub struct Hooks {
    /// The capacity providers' scaling hook (`--scaling-hook`).
    pub scaling: Option<String>,
}

/// How often capacity providers' managed scaling is decided: a fifth of the
/// metric period, between 1 and 12 seconds.
fn scaling_tick(period: Duration) -> Duration {
    (period / 5).clamp(Duration::from_secs(1), Duration::from_secs(12))
}

/// Campaigns, runs the reconcilers for each term won, until `shutdown`;
/// `leading` says whether this server leads now.
pub async fn run(
    leadership: Arc<dyn Leadership>,
    state: AppState,
    intervals: Intervals,
    hooks: Hooks,
    leading: watch::Sender<bool>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let won = tokio::select! {
            won = leadership.acquire() => won,
            () = until_true(&mut shutdown) => return,
        };
        let mut lead = match won {
            Ok(lead) => lead,
            Err(e) => {
                tracing::warn!(error = %e, "cannot campaign for leadership; trying again");
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_secs(1)) => continue,
                    () = until_true(&mut shutdown) => return,
                }
            }
        };
        tracing::info!(term = lead.term, "leading: the reconcilers run here");
        leading.send_replace(true);
        let (stop, stopping) = watch::channel(false);
        // The operations of this term: every write fenced by its lease.
        let fenced = wharf_ops::Ops { store: lead.store.clone(), ..state.ops.clone() };
        let running = [
            tokio::spawn(wharf_control::cleanup::run(
                lead.store.clone(),
                state.ops.clock.clone(),
                stopping.clone(),
            )),
            tokio::spawn(wharf_control::logs_retention::run(
                state.logs.clone(),
                state.ops.clock.clone(),
                intervals.logs_retention,
                stopping.clone(),
            )),
            tokio::spawn(wharf_control::liveness::run(
                wharf_control::liveness::Liveness {
                    ops: fenced.clone(),
                    lost_after: intervals.instance_lost_after,
                },
                stopping.clone(),
            )),
            tokio::spawn(wharf_control::discovery::run(
                wharf_control::discovery::Registrar {
                    ops: fenced.clone(),
                    host_ip: crate::commands::server::host_address(),
                },
                stopping.clone(),
            )),
            tokio::spawn(wharf_control::task_definitions::run(
                wharf_control::task_definitions::Purge { ops: fenced.clone() },
                stopping.clone(),
            )),
            tokio::spawn(wharf_control::services::run(
                wharf_control::services::Scheduler { ops: fenced.clone() },
                stopping.clone(),
            )),
            tokio::spawn(wharf_control::capacity_scaling::run(
                Arc::new(wharf_control::capacity_scaling::CapacityScaling {
                    ops: fenced.clone(),
                    hook: hooks.scaling.clone(),
                    period: intervals.metrics_period,
                }),
                scaling_tick(intervals.metrics_period),
                stopping.clone(),
            )),
            tokio::spawn(wharf_control::service_scaling::run(
                wharf_control::service_scaling::ServiceScaling { ops: fenced.clone() },
                intervals.metrics_period,
                stopping.clone(),
            )),
            tokio::spawn(wharf_control::codedeploy::run(
                wharf_control::codedeploy::Deployer { ops: fenced },
                stopping,
            )),
        ];
        let quitting = tokio::select! {
            () = lead.until_ended() => false,
            () = until_true(&mut shutdown) => true,
        };
        let _ = stop.send(true);
        for r in running {
            let _ = r.await;
        }
        leading.send_replace(false);
        if quitting {
            lead.resign().await;
            return;
        }
        tracing::warn!(term = lead.term, "the term ended: the reconcilers stopped here");
    }
}
