//! The service scheduler's step: from a service's record, what its tasks and
//! targets look like, and the time, to the record's new form and the actions
//! that converge the world on it. Pure: no I/O, no clock, no randomness
//! (event ids come from the caller).
//!
//! A "unit" is what owns tasks: a deployment for the ECS deployment
//! controller, a task set for the EXTERNAL one. Each step:
//! 1. counts the tasks that ended since the last step (circuit breaker
//!    failures, launch throttling),
//! 2. stops tasks that fail their container or target group health checks
//!    once the grace period is over,
//! 3. trips the circuit breaker (and rolls back) when a deployment has
//!    failed too many tasks, or one of the CloudWatch alarms it watches
//!    went off (see [`alarms`]),
//! 4. moves a blue/green, linear or canary deployment through its lifecycle
//!    stages (see [`shift`]),
//! 5. starts and stops tasks within the deployment's bounds (rolling update,
//!    blue and green side by side, scale out and in, one task per instance
//!    for DAEMON services),
//! 6. registers running tasks with their target groups, and deregisters and
//!    drains tasks it is about to stop, stopping them when the drain ends,
//!    and sets the blue/green listener rules' forward weights,
//! 7. keeps the counts, the rollout states, the events and the steady state.

use std::collections::{BTreeMap, BTreeSet};

use wharf_model::ecs::service::{
    self, circuit_breaker, completed_reason, failure_threshold, rolling_bounds, ServiceRecord,
    Stopping, TargetRef, TaskNotes, Throttle, FAILED_REASON, INACTIVE_KEPT_MS,
    UNCHECKED_HEALTHY_AFTER_MS,
};
use wharf_model::ecs::shapes::{
    DeploymentRolloutState, DesiredStatus, HealthStatus, SchedulingStrategy,
    ServiceDeploymentStatus, StabilityStatus, TaskStopCode,
};
use wharf_model::ecs::status::{DeploymentStatus, ServiceStatus, TaskSetStatus, TaskStatus};
use wharf_model::wire::Timestamp;

use super::events;

mod alarms;
mod breaker;
mod health;
mod lifecycle;
mod schedule;
mod shift;
mod targets;

/// One task of the service as the scheduler sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedTask {
    /// The task ID.
    pub id: String,
    /// `startedBy`: the deployment or task set that launched it.
    pub unit: Option<String>,
    /// `lastStatus`.
    pub last_status: TaskStatus,
    /// `desiredStatus`.
    pub desired_status: DesiredStatus,
    /// `healthStatus`.
    pub health: Option<HealthStatus>,
    /// When it reached RUNNING (ms), if it did.
    pub started_ms: Option<i64>,
    /// When it was created (ms).
    pub created_ms: i64,
    /// `stopCode`, once set.
    pub stop_code: Option<TaskStopCode>,
    /// The container instance it is on.
    pub instance_id: Option<String>,
    /// Where its unit's target groups reach it, once its ports or address
    /// are known (empty before).
    pub targets: Vec<TargetRef>,
}

impl ObservedTask {
    fn stopped(&self) -> bool {
        self.last_status == TaskStatus::Stopped
    }
    fn running(&self) -> bool {
        self.last_status == TaskStatus::Running
    }
}

/// What a target group says of one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetState {
    /// Registered, checks not passed yet.
    Initial,
    /// Passing its health checks.
    Healthy,
    /// Failing them, with the reason ECS quotes.
    Unhealthy(String),
    /// Anything else (draining, unused, not registered).
    Other,
}

/// A container instance, for DAEMON services.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedInstance {
    /// Its ID.
    pub id: String,
    /// Whether it takes tasks (`ACTIVE`).
    pub active: bool,
}

/// Everything the step looks at besides the record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observed {
    /// The service's tasks, stopped ones included while the store keeps them.
    pub tasks: Vec<ObservedTask>,
    /// Target health by target.
    pub targets: BTreeMap<TargetRef, TargetState>,
    /// Each target group's deregistration delay (ms).
    pub delays: BTreeMap<String, i64>,
    /// The cluster's container instances (DAEMON services place on them).
    pub instances: Vec<ObservedInstance>,
    /// The forward target groups and weights of the listener rules named by
    /// the service's `advancedConfiguration`s, by rule ARN (absent: the
    /// rule does not exist or forwards nowhere).
    pub forwards: BTreeMap<String, Vec<(String, u32)>>,
    /// The CloudWatch alarms the deployment watches, by name (an alarm that
    /// does not exist is absent).
    pub alarms: BTreeMap<String, ObservedAlarm>,
}

/// A watched CloudWatch alarm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedAlarm {
    /// Whether it is in the `ALARM` state.
    pub in_alarm: bool,
    /// `Period` × `EvaluationPeriods` (ms): how long a deployment bakes under it.
    pub window_ms: i64,
}

/// What the loop must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Launch `count` tasks of `unit`, on `instance` if given.
    Start {
        /// The deployment or task set.
        unit: String,
        /// How many.
        count: usize,
        /// The instance (DAEMON).
        instance: Option<String>,
    },
    /// Set a task's desired status to STOPPED.
    Stop {
        /// The task ID.
        task: String,
        /// `stoppedReason`.
        reason: String,
        /// `stopCode`.
        code: TaskStopCode,
    },
    /// Register targets.
    Register(Vec<TargetRef>),
    /// Deregister targets (they drain).
    Deregister(Vec<TargetRef>),
    /// Make a listener rule forward to these target groups with these
    /// weights (blue/green traffic shifting).
    Forward {
        /// The rule's ARN (a listener's default rule included).
        rule: String,
        /// Target groups and their weights.
        groups: Vec<(String, u32)>,
    },
    /// Remove the record: the service has been INACTIVE for an hour.
    Forget,
}

/// The step's working view of one unit.
#[derive(Debug, Clone)]
struct Unit {
    id: String,
    primary: bool,
    desired: i64,
    failed: bool,
    /// When the deployment or task set was created (ms).
    since_ms: i64,
}

/// Which of `units` owns `t`: the unit its `startedBy` names. Should two
/// rows carry the same id (ids are unique by construction, so only a
/// damaged record does), a task belongs to the newest of them created no
/// later than the task, so a new deployment never takes an old one's tasks
/// for its own, and never completes on them.
fn owner(units: &[Unit], t: &ObservedTask) -> Option<usize> {
    let id = t.unit.as_deref()?;
    let mut named = units.iter().enumerate().filter(|(_, u)| u.id == id);
    let first = named.next()?;
    let Some(second) = named.next() else { return Some(first.0) };
    [first, second]
        .into_iter()
        .chain(named)
        .filter(|(_, u)| u.since_ms <= t.created_ms)
        .max_by_key(|(i, u)| (u.since_ms, std::cmp::Reverse(*i)))
        .or(Some(first))
        .map(|(i, _)| i)
}

struct Step<'a> {
    rec: &'a mut ServiceRecord,
    obs: &'a Observed,
    now: i64,
    new_id: &'a mut dyn FnMut() -> String,
    actions: Vec<Action>,
    stopped_now: Vec<String>,
    name: String,
}

/// Runs one step on `rec` (changed in place) and returns the actions.
pub fn step(
    rec: &mut ServiceRecord,
    obs: &Observed,
    now_ms: i64,
    new_id: &mut dyn FnMut() -> String,
) -> Vec<Action> {
    let name = rec.service.service_name.clone().unwrap_or_default();
    let mut s =
        Step { rec, obs, now: now_ms, new_id, actions: Vec::new(), stopped_now: vec![], name };
    if s.rec.service.status == Some(ServiceStatus::Inactive) {
        if s.rec.inactive_ms.is_some_and(|at| now_ms - at >= INACTIVE_KEPT_MS) {
            return vec![Action::Forget];
        }
        return vec![];
    }
    s.prune_notes();
    s.account_ended();
    s.note_health();
    s.stop_unhealthy();
    s.circuit_breaker();
    s.alarms();
    s.shift();
    s.schedule();
    s.release_drained();
    s.register();
    s.traffic();
    s.counts();
    s.lifecycle();
    if !s.stopped_now.is_empty() {
        let msg = events::stopped(&s.name, &s.stopped_now);
        s.emit(msg);
    }
    s.actions
}
/// How far ahead [`settled`] looks for a timer coming due.
pub const SETTLED_HORIZON_MS: i64 = 300_000;

/// Whether the service will stay as it is until `now_ms` +
/// [`SETTLED_HORIZON_MS`] unless what it observes changes: a step then would
/// take no action and leave the record alone. Every timer the step keeps (a
/// drain ending, the 40 s health rule, a grace period, launch throttling, a
/// bake time, the six-hourly steady-state event, a deleted service's hour)
/// comes due by time alone, so a service that is not settled is looked at
/// again at the scheduler's next tick.
pub fn settled(rec: &ServiceRecord, obs: &Observed, now_ms: i64) -> bool {
    let mut trial = rec.clone();
    let later = now_ms.saturating_add(SETTLED_HORIZON_MS);
    step(&mut trial, obs, later, &mut String::new).is_empty() && trial == *rec
}

impl Step<'_> {
    fn emit(&mut self, message: String) -> bool {
        let id = (self.new_id)();
        events::emit(self.rec, message, self.now, id)
    }

    /// Whether the service's units are task sets (EXTERNAL and CODE_DEPLOY).
    fn external(&self) -> bool {
        service::uses_task_sets(&self.rec.service)
    }

    fn daemon(&self) -> bool {
        self.rec.service.scheduling_strategy == Some(SchedulingStrategy::Daemon)
    }

    fn draining_service(&self) -> bool {
        self.rec.service.status != Some(ServiceStatus::Active)
    }

    fn notes(&mut self, task: &str) -> &mut TaskNotes {
        self.rec.tasks.entry(task.to_owned()).or_default()
    }

    /// The units, primary first.
    fn units(&self) -> Vec<Unit> {
        let service_desired = i64::from(self.rec.service.desired_count.unwrap_or(0).max(0));
        let draining = self.draining_service();
        if self.external() {
            return self
                .rec
                .service
                .task_sets
                .iter()
                .flatten()
                .map(|ts| {
                    let scale = ts.scale.as_ref().and_then(|s| s.value).unwrap_or(100.0);
                    let gone = draining || ts.status == Some(TaskSetStatus::Draining);
                    let desired = if gone {
                        0
                    } else {
                        (service_desired as f64 * scale / 100.0).ceil() as i64
                    };
                    Unit {
                        id: ts.id.clone().unwrap_or_default(),
                        primary: ts.status == Some(TaskSetStatus::Primary),
                        desired,
                        failed: false,
                        since_ms: ts.created_at.map_or(0, |t| t.as_millis()),
                    }
                })
                .collect();
        }
        self.rec
            .service
            .deployments
            .iter()
            .flatten()
            .map(|d| {
                let primary = d.status == Some(DeploymentStatus::Primary);
                Unit {
                    id: d.id.clone().unwrap_or_default(),
                    primary,
                    desired: if primary && !draining { service_desired } else { 0 },
                    failed: d.rollout_state == Some(DeploymentRolloutState::Failed),
                    since_ms: d.created_at.map_or(0, |t| t.as_millis()),
                }
            })
            .collect()
    }

    fn is_stopping(&self, t: &ObservedTask) -> bool {
        t.desired_status == DesiredStatus::Stopped
            || self.rec.tasks.get(&t.id).is_some_and(|n| n.stopping.is_some())
    }

    fn has_lb(&self, unit: Option<&str>) -> bool {
        unit.and_then(|u| self.rec.deployments.get(u)).is_some_and(|n| !n.load_balancers.is_empty())
    }

    fn prune_notes(&mut self) {
        let seen: BTreeSet<&str> = self.obs.tasks.iter().map(|t| t.id.as_str()).collect();
        self.rec.tasks.retain(|id, n| {
            // Keep targets that still have to be deregistered.
            seen.contains(id.as_str()) || !n.targets.is_empty()
        });
        // Targets of tasks the store no longer has: deregister them.
        let orphans: Vec<String> =
            self.rec.tasks.keys().filter(|id| !seen.contains(id.as_str())).cloned().collect();
        for id in orphans {
            if let Some(n) = self.rec.tasks.remove(&id) {
                self.actions.push(Action::Deregister(n.targets));
            }
        }
        let units: BTreeSet<String> = self.units().into_iter().map(|u| u.id).collect();
        let keep_completed = self.rec.last_completed.as_ref().and_then(|d| d.id.clone());
        // A failed deployment's notes stay until the rollback away from it
        // ends, so its ServiceDeployment can say how it ended.
        let rolling_back: BTreeSet<String> = self
            .rec
            .history
            .iter()
            .filter(|h| h.status == Some(ServiceDeploymentStatus::RollbackInProgress))
            .filter_map(|h| h.service_deployment_arn.clone())
            .collect();
        self.rec.deployments.retain(|id, n| {
            units.contains(id)
                || Some(id) == keep_completed.as_ref()
                || rolling_back.contains(&n.service_deployment_arn)
        });
    }

    fn deployment(&self, id: &str) -> Option<&wharf_model::ecs::shapes::Deployment> {
        self.rec.service.deployments.iter().flatten().find(|d| d.id.as_deref() == Some(id))
    }

    fn deployment_mut(&mut self, id: &str) -> Option<&mut wharf_model::ecs::shapes::Deployment> {
        self.rec.service.deployments.iter_mut().flatten().find(|d| d.id.as_deref() == Some(id))
    }
}

/// The tasks not yet STOPPED.
fn live(obs: &Observed) -> impl Iterator<Item = &ObservedTask> + '_ {
    obs.tasks.iter().filter(|t| !t.stopped())
}

/// Up to `n` tasks to stop, least useful first: not running, then not
/// healthy, then the newest.
fn pick_to_stop<'a>(
    tasks: &[&'a ObservedTask],
    n: usize,
    healthy: impl Fn(&ObservedTask) -> bool,
) -> Vec<&'a ObservedTask> {
    let mut v: Vec<&ObservedTask> = tasks.to_vec();
    v.sort_by_key(|t| (t.running(), healthy(t), std::cmp::Reverse(t.created_ms)));
    v.truncate(n);
    v
}

fn newest_first(mut v: Vec<&ObservedTask>) -> Vec<&ObservedTask> {
    v.sort_by_key(|t| std::cmp::Reverse(t.created_ms));
    v
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_alarms;
#[cfg(test)]
mod tests_shift;
