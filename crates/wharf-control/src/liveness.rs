//! Instance liveness: an instance whose agent has been silent for longer than
//! `--instance-lost-after` is declared lost. Its agent is marked disconnected
//! (so nothing more is placed on it) and every task on it not yet `STOPPED` is
//! recorded as stopped, with a reason that says the host was lost: no agent
//! will ever report them, and the service scheduler replaces its own.
//!
//! ECS leaves the tasks of a silent instance as they were; a self-hosted
//! cluster must heal instead. When the agent comes back, its watch no longer
//! names those tasks and it stops them (a task never keeps running twice).
//!
//! An agent is heard from by its heartbeats, which the API stores as the
//! instance's container runtime health (`healthStatus.details[].lastUpdated`).
//! Instances that never sent one (registered by hand, with no Wharf agent)
//! are not watched. Silence is counted from the later of the last heartbeat
//! and the moment the loop started: a server that was down for a while gives
//! every agent its full grace period again.
//!
//! [`step`] is the pure decision; [`run`] the thin loop that reads every
//! registered instance, steps, and applies.

use std::sync::Arc;
use std::time::Duration;

use wharf_model::ecs::shapes::{ContainerInstance, InstanceHealthCheckType, TaskStopCode};
use wharf_model::ecs::status::InstanceStatus;
use wharf_model::EcsError;
use wharf_ops::{Ops, OpsError};
use wharf_store::{Kind, StoredInstance};

/// How long an agent may be silent before its instance is declared lost,
/// unless the server says otherwise.
pub const DEFAULT_LOST_AFTER: Duration = Duration::from_secs(30);

/// An instance as the step sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceView {
    /// Its region.
    pub region: String,
    /// Its cluster's name.
    pub cluster: String,
    /// Its ID.
    pub id: String,
    /// Its EC2 instance ID, for the reason.
    pub ec2_instance_id: String,
    /// `agentConnected`.
    pub agent_connected: bool,
    /// Its last heartbeat (ms); `None` if its agent never sent one.
    pub last_heard_ms: Option<i64>,
    /// Its tasks not yet `STOPPED` (running and pending). Counted only for
    /// an instance whose agent is marked disconnected: the step needs no
    /// count for a connected one, and counting every instance's tasks every
    /// tick would cost a read of every task's reservation.
    pub unstopped_tasks: i64,
}

/// What the loop must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Declare the instance lost: its agent disconnected, its tasks stopped
    /// with `reason` (unless a heartbeat arrived since `heard_ms`).
    DeclareLost {
        /// Its region.
        region: String,
        /// Its cluster's name.
        cluster: String,
        /// Its ID.
        id: String,
        /// The heartbeat the decision saw last (ms).
        heard_ms: i64,
        /// The tasks' `stoppedReason`.
        reason: String,
    },
}

/// The `stoppedReason` of a lost instance's tasks.
pub fn lost_reason(ec2_instance_id: &str, lost_after: Duration) -> String {
    format!(
        "Host EC2 (instance {ec2_instance_id}) was declared lost: its agent was silent for \
         longer than {}s (--instance-lost-after).",
        lost_after.as_secs_f64()
    )
}

/// The step: every watched instance silent for `lost_after` or longer (since
/// its last heartbeat, or since `since_ms` when that is later) that still has
/// its agent marked connected or tasks not yet stopped is declared lost.
pub fn step(
    instances: &[InstanceView],
    now_ms: i64,
    since_ms: i64,
    lost_after: Duration,
) -> Vec<Action> {
    let grace = i64::try_from(lost_after.as_millis()).unwrap_or(i64::MAX);
    instances
        .iter()
        .filter_map(|i| {
            let heard = i.last_heard_ms?;
            let silent_since = heard.max(since_ms);
            let lost = now_ms.saturating_sub(silent_since) >= grace;
            (lost && (i.agent_connected || i.unstopped_tasks > 0)).then(|| Action::DeclareLost {
                region: i.region.clone(),
                cluster: i.cluster.clone(),
                id: i.id.clone(),
                heard_ms: heard,
                reason: lost_reason(&i.ec2_instance_id, lost_after),
            })
        })
        .collect()
}

/// The last heartbeat an instance record holds (its container runtime
/// check's `lastUpdated`), in ms.
pub fn last_heard_ms(ci: &ContainerInstance) -> Option<i64> {
    ci.health_status
        .as_ref()?
        .details
        .as_deref()?
        .iter()
        .find(|d| d.r#type == Some(InstanceHealthCheckType::ContainerRuntime))?
        .last_updated
        .map(|t| t.as_millis())
}

/// Everything the loop works with.
#[derive(Clone)]
pub struct Liveness {
    /// The operations (the store and the clock among them).
    pub ops: Ops,
    /// How long an agent may be silent.
    pub lost_after: Duration,
}

impl std::fmt::Debug for Liveness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Liveness").field("lost_after", &self.lost_after).finish_non_exhaustive()
    }
}

impl Liveness {
    /// Every registered (not `INACTIVE`) instance of every region.
    pub async fn observe(&self) -> Result<Vec<InstanceView>, OpsError> {
        let mut out = Vec::new();
        for region in self.ops.store.regions(Kind::Cluster).await? {
            let clusters = wharf_ops::lookup::instance_clusters(&*self.ops.store, &region).await?;
            for cluster in &clusters {
                let first = out.len();
                for i in self.ops.store.instance_records(&region, cluster, None).await? {
                    if i.status == InstanceStatus::Inactive {
                        continue;
                    }
                    let Ok(ci) = serde_json::from_str::<ContainerInstance>(&i.json) else {
                        continue;
                    };
                    out.push(InstanceView {
                        region: region.clone(),
                        cluster: cluster.clone(),
                        id: i.id,
                        ec2_instance_id: ci.ec2_instance_id.clone().unwrap_or_default(),
                        agent_connected: ci.agent_connected.unwrap_or(false),
                        last_heard_ms: last_heard_ms(&ci),
                        unstopped_tasks: 0,
                    });
                }
                let disconnected: Vec<String> = out[first..]
                    .iter()
                    .filter(|v| !v.agent_connected)
                    .map(|v| v.id.clone())
                    .collect();
                if disconnected.is_empty() {
                    continue;
                }
                let held = self.ops.store.instances(&region, cluster, Some(disconnected)).await?;
                let counts: std::collections::HashMap<String, i64> = held
                    .into_iter()
                    .map(|u| (u.instance.id, u.running_tasks + u.pending_tasks))
                    .collect();
                for v in &mut out[first..] {
                    if let Some(n) = counts.get(&v.id) {
                        v.unstopped_tasks = *n;
                    }
                }
            }
        }
        Ok(out)
    }

    /// Applies one action.
    pub async fn apply(&self, action: Action) -> Result<(), OpsError> {
        let Action::DeclareLost { region, cluster, id, heard_ms, reason } = action;
        // The mark first, on the condition that no heartbeat came meanwhile.
        let still_silent = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = still_silent.clone();
        self.ops
            .store
            .update_instance(
                &region,
                &cluster,
                &id,
                Box::new(move |current| {
                    let Some(u) = current else { return Ok(None) };
                    let mut ci: ContainerInstance = serde_json::from_str(&u.instance.json)
                        .map_err(|_| {
                            EcsError::server("A stored container instance could not be read.")
                        })?;
                    if last_heard_ms(&ci).is_some_and(|h| h > heard_ms) {
                        return Ok(None);
                    }
                    flag.store(true, std::sync::atomic::Ordering::SeqCst);
                    if ci.agent_connected == Some(false) {
                        return Ok(None);
                    }
                    ci.agent_connected = Some(false);
                    let json = serde_json::to_string(&ci)
                        .map_err(|e| EcsError::server(format!("instance not written: {e}")))?;
                    Ok(Some(StoredInstance { json, ..u.instance.clone() }))
                }),
            )
            .await?;
        if !still_silent.load(std::sync::atomic::Ordering::SeqCst) {
            return Ok(());
        }
        let stopped = wharf_ops::stop::declare_stopped_on_instance(
            self.ops.region(&region),
            &cluster,
            &id,
            TaskStopCode::TerminationNotice,
            &reason,
        )
        .await?;
        if stopped > 0 {
            tracing::warn!(instance = %id, cluster = %cluster, tasks = stopped, "instance declared lost: its tasks are stopped");
        }
        Ok(())
    }

    /// One pass: observe, step, apply.
    pub async fn pass(&self, since_ms: i64) -> Result<(), OpsError> {
        let seen = self.observe().await?;
        for action in step(&seen, self.ops.clock.now_millis(), since_ms, self.lost_after) {
            self.apply(action).await?;
        }
        Ok(())
    }
}

/// How often the loop looks: a tenth of the grace, between 100 ms and 1 s.
pub fn tick(lost_after: Duration) -> Duration {
    (lost_after / 10).clamp(Duration::from_millis(100), Duration::from_secs(1))
}

/// The moment silence is counted from: `since_ms`, or now if the loop itself
/// was held up for half the grace or more (the server's process was suspended,
/// its host asleep): the agents could not be heard then either.
pub fn counted_from(
    since_ms: i64,
    previous_pass_ms: i64,
    now_ms: i64,
    lost_after: Duration,
) -> i64 {
    let half = i64::try_from(lost_after.as_millis() / 2).unwrap_or(i64::MAX);
    if now_ms.saturating_sub(previous_pass_ms) >= half {
        now_ms
    } else {
        since_ms
    }
}

/// Runs the loop until `shutdown` turns `true`.
pub async fn run(liveness: Liveness, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    let mut since_ms = liveness.ops.clock.now_millis();
    let mut previous_ms = since_ms;
    let mut tick = tokio::time::interval(tick(liveness.lost_after));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
        let now = liveness.ops.clock.now_millis();
        since_ms = counted_from(since_ms, previous_ms, now, liveness.lost_after);
        previous_ms = now;
        if let Err(e) = liveness.pass(since_ms).await {
            tracing::warn!(error = %e, "instance liveness pass failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(id: &str, connected: bool, heard: Option<i64>, tasks: i64) -> InstanceView {
        InstanceView {
            region: "us-east-1".into(),
            cluster: "c".into(),
            id: id.into(),
            ec2_instance_id: format!("wharf-{id}"),
            agent_connected: connected,
            last_heard_ms: heard,
            unstopped_tasks: tasks,
        }
    }

    #[test]
    fn silence_beyond_the_grace_declares_an_instance_lost_once() {
        let lost_after = Duration::from_secs(30);
        let all = [
            view("fresh", true, Some(90_000), 2),
            view("silent", true, Some(60_000), 2),
            view("done", false, Some(10_000), 0),
            view("never", true, None, 5),
            view("tasks-left", false, Some(10_000), 1),
        ];
        let acts = step(&all, 90_000, 0, lost_after);
        let ids: Vec<&str> = acts
            .iter()
            .map(|a| match a {
                Action::DeclareLost { id, .. } => id.as_str(),
            })
            .collect();
        assert_eq!(ids, ["silent", "tasks-left"]);
        let Action::DeclareLost { reason, heard_ms, .. } = &acts[0];
        assert_eq!(*heard_ms, 60_000);
        assert!(
            reason.starts_with("Host EC2 (instance wharf-silent) was declared lost"),
            "{reason}"
        );
        // Just short of the grace: nothing.
        assert!(step(&all[1..2], 89_999, 0, lost_after).is_empty());
    }

    #[test]
    fn silence_is_counted_from_when_the_loop_began_at_the_latest() {
        let all = [view("a", true, Some(1_000), 1)];
        // The server came up at 100 s: the agent gets the whole grace from then.
        assert!(step(&all, 120_000, 100_000, Duration::from_secs(30)).is_empty());
        assert_eq!(step(&all, 130_000, 100_000, Duration::from_secs(30)).len(), 1);
    }

    #[test]
    fn a_loop_held_up_for_half_the_grace_counts_silence_afresh() {
        let grace = Duration::from_secs(30);
        assert_eq!(counted_from(0, 100_000, 101_000, grace), 0);
        assert_eq!(counted_from(0, 100_000, 116_000, grace), 116_000, "suspended for 16 s");
    }

    #[test]
    fn the_tick_is_a_tenth_of_the_grace_within_bounds() {
        assert_eq!(tick(Duration::from_secs(30)), Duration::from_secs(1));
        assert_eq!(tick(Duration::from_secs(3)), Duration::from_millis(300));
        assert_eq!(tick(Duration::from_millis(200)), Duration::from_millis(100));
    }
}
