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
//!    failed too many tasks,
//! 4. starts and stops tasks within the deployment's bounds (rolling update,
//!    scale out and in, one task per instance for DAEMON services),
//! 5. registers running tasks with their target groups, and deregisters and
//!    drains tasks it is about to stop, stopping them when the drain ends,
//! 6. keeps the counts, the rollout states, the events and the steady state.

use std::collections::{BTreeMap, BTreeSet};

use wharf_model::ecs::service::{
    self, circuit_breaker, completed_reason, deployment_status, failure_threshold, rolling_bounds,
    status, ServiceRecord, Stopping, TargetRef, TaskNotes, Throttle, FAILED_REASON,
    INACTIVE_KEPT_MS, UNCHECKED_HEALTHY_AFTER_MS,
};
use wharf_model::ecs::shapes::{
    DeploymentControllerType, DeploymentRolloutState, HealthStatus, SchedulingStrategy,
    ServiceDeploymentStatus, StabilityStatus, TaskStopCode,
};
use wharf_model::wire::Timestamp;

use super::events;

/// One task of the service as the scheduler sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedTask {
    /// The task ID.
    pub id: String,
    /// `startedBy`: the deployment or task set that launched it.
    pub unit: Option<String>,
    /// `lastStatus`.
    pub last_status: String,
    /// `desiredStatus`.
    pub desired_status: String,
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
        self.last_status == "STOPPED"
    }
    fn running(&self) -> bool {
        self.last_status == "RUNNING"
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
    if s.rec.service.status.as_deref() == Some(status::INACTIVE) {
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
    s.schedule();
    s.release_drained();
    s.register();
    s.counts();
    s.lifecycle();
    if !s.stopped_now.is_empty() {
        let msg = events::stopped(&s.name, &s.stopped_now);
        s.emit(msg);
    }
    s.actions
}

impl Step<'_> {
    fn emit(&mut self, message: String) -> bool {
        let id = (self.new_id)();
        events::emit(self.rec, message, self.now, id)
    }

    fn external(&self) -> bool {
        self.rec
            .service
            .deployment_controller
            .as_ref()
            .and_then(|c| c.r#type.as_ref())
            .is_some_and(|t| *t == DeploymentControllerType::External)
    }

    fn daemon(&self) -> bool {
        self.rec.service.scheduling_strategy == Some(SchedulingStrategy::Daemon)
    }

    fn draining_service(&self) -> bool {
        self.rec.service.status.as_deref() != Some(status::ACTIVE)
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
                    let gone = draining || ts.status.as_deref() == Some("DRAINING");
                    let desired = if gone {
                        0
                    } else {
                        (service_desired as f64 * scale / 100.0).ceil() as i64
                    };
                    Unit {
                        id: ts.id.clone().unwrap_or_default(),
                        primary: ts.status.as_deref() == Some("PRIMARY"),
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
                let primary = d.status.as_deref() == Some(deployment_status::PRIMARY);
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
        t.desired_status == "STOPPED"
            || self.rec.tasks.get(&t.id).is_some_and(|n| n.stopping.is_some())
    }

    fn has_lb(&self, unit: Option<&str>) -> bool {
        unit.and_then(|u| self.rec.deployments.get(u)).is_some_and(|n| !n.load_balancers.is_empty())
    }

    /// Whether a task counts as healthy: RUNNING, its essential containers'
    /// health checks passing (or, with none and no load balancer, RUNNING for
    /// 40 s), and every target it holds healthy.
    fn healthy(&self, t: &ObservedTask) -> bool {
        if !t.running() {
            return false;
        }
        let notes = t.unit.as_deref().and_then(|u| self.rec.deployments.get(u));
        let checked = notes.is_some_and(|n| n.health_checked);
        let lb = notes.is_some_and(|n| !n.load_balancers.is_empty());
        let container_ok = if checked {
            t.health == Some(HealthStatus::Healthy)
        } else if lb {
            true
        } else {
            t.started_ms.is_some_and(|at| self.now - at >= UNCHECKED_HEALTHY_AFTER_MS)
        };
        if !container_ok {
            return false;
        }
        if !lb {
            return true;
        }
        let held = self.rec.tasks.get(&t.id).map(|n| n.targets.as_slice()).unwrap_or(&[]);
        !held.is_empty()
            && held.iter().all(|r| self.obs.targets.get(r) == Some(&TargetState::Healthy))
    }

    fn grace_over(&self, t: &ObservedTask) -> bool {
        let grace = i64::from(self.rec.service.health_check_grace_period_seconds.unwrap_or(0));
        let since = t.started_ms.unwrap_or(t.created_ms);
        self.now - since >= grace.saturating_mul(1000)
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
        self.rec
            .deployments
            .retain(|id, _| units.contains(id) || Some(id) == keep_completed.as_ref());
    }

    /// Counts tasks that ended since the last step and were not stopped by
    /// the scheduler or a user: circuit breaker failures, and launch
    /// throttling for those that never reached RUNNING.
    fn account_ended(&mut self) {
        let obs = self.obs;
        for t in &obs.tasks {
            if t.running() && !self.notes(&t.id).seen_running {
                self.notes(&t.id).seen_running = true;
                self.rec.throttle = Throttle::default();
            }
            if !t.stopped() || self.notes(&t.id).counted {
                continue;
            }
            let notes = self.notes(&t.id);
            notes.counted = true;
            let by_scheduler = notes.stopping.is_some();
            let by_user = t.stop_code == Some(TaskStopCode::UserInitiated);
            // A host lost or reclaimed is no failure of the deployment.
            let by_host = matches!(
                t.stop_code,
                Some(TaskStopCode::TerminationNotice | TaskStopCode::SpotInterruption)
            );
            // Its targets go with it.
            let targets = std::mem::take(&mut notes.targets);
            if !targets.is_empty() {
                self.deregister(targets);
            }
            if by_scheduler || by_user || by_host {
                continue;
            }
            if let Some(n) = t.unit.as_deref().and_then(|u| self.rec.deployments.get_mut(u)) {
                n.failures += 1;
            }
            if t.started_ms.is_none() {
                let th = &mut self.rec.throttle;
                th.consecutive += 1;
                let delay = Throttle::delay_ms(th.consecutive);
                th.not_before_ms = self.now + delay;
                if delay > 0 {
                    let msg = events::throttled(&self.name);
                    self.emit(msg);
                }
            }
        }
    }

    /// Notes tasks turning healthy; a healthy task of a deployment resets its
    /// failure count (`resetOnHealthyTask`, on by default).
    fn note_health(&mut self) {
        let obs = self.obs;
        for t in obs.tasks.iter().filter(|t| !t.stopped()) {
            if self.healthy(t) && !self.notes(&t.id).was_healthy {
                self.notes(&t.id).was_healthy = true;
                if let Some(n) = t.unit.as_deref().and_then(|u| self.rec.deployments.get_mut(u)) {
                    n.failures = 0;
                }
            }
        }
    }

    /// Stops RUNNING tasks whose container health check or target group says
    /// unhealthy, once the grace period is over; each counts as a failure.
    fn stop_unhealthy(&mut self) {
        let obs = self.obs;
        for t in obs.tasks.iter().filter(|t| t.running()) {
            if self.is_stopping(t) || !self.grace_over(t) {
                continue;
            }
            let checked = t
                .unit
                .as_deref()
                .and_then(|u| self.rec.deployments.get(u))
                .is_some_and(|n| n.health_checked);
            let held = self.rec.tasks.get(&t.id).map(|n| n.targets.clone()).unwrap_or_default();
            let bad_target = held.iter().find_map(|r| match self.obs.targets.get(r) {
                Some(TargetState::Unhealthy(reason)) => Some((r.clone(), reason.clone())),
                _ => None,
            });
            let reason = if checked && t.health == Some(HealthStatus::Unhealthy) {
                let msg = events::failed_container_health(&self.name, &t.id);
                self.emit(msg);
                events::FAILED_CONTAINER_HEALTH_REASON.to_owned()
            } else if let Some((r, why)) = bad_target {
                let msg =
                    events::unhealthy_target(&self.name, &t.id, r.port, &r.target_group_arn, &why);
                self.emit(msg);
                events::failed_elb_health_reason(&r.target_group_arn)
            } else {
                continue;
            };
            if let Some(n) = t.unit.as_deref().and_then(|u| self.rec.deployments.get_mut(u)) {
                n.failures += 1;
            }
            self.stop(t, reason);
        }
    }

    /// Fails the PRIMARY deployment once its failures reach the threshold,
    /// and rolls back to the last completed deployment when asked to.
    fn circuit_breaker(&mut self) {
        if self.external() || self.draining_service() {
            return;
        }
        let config = self.rec.service.deployment_configuration.clone();
        let (enabled, rollback) = circuit_breaker(config.as_ref());
        let Some(primary) = self.units().into_iter().find(|u| u.primary) else { return };
        let in_progress = self
            .deployment(&primary.id)
            .is_some_and(|d| d.rollout_state == Some(DeploymentRolloutState::InProgress));
        let failures = self.rec.deployments.get(&primary.id).map_or(0, |n| n.failures);
        let threshold = failure_threshold(self.rec.service.desired_count.unwrap_or(0));
        if !enabled || !in_progress || failures < threshold {
            return;
        }
        let now = Timestamp::from_millis(self.now);
        if let Some(d) = self.deployment_mut(&primary.id) {
            d.rollout_state = Some(DeploymentRolloutState::Failed);
            d.rollout_state_reason = Some(FAILED_REASON.to_owned());
            d.updated_at = Some(now);
        }
        let msg = events::deployment_failed(&self.name, &primary.id);
        self.emit(msg);
        let target = self
            .rec
            .last_completed
            .clone()
            .filter(|d| rollback && d.id.as_deref() != Some(&primary.id));
        let status_after = if target.is_some() {
            ServiceDeploymentStatus::RollbackInProgress
        } else {
            ServiceDeploymentStatus::Stopped
        };
        self.history_status(&primary.id, status_after, Some(FAILED_REASON));
        let Some(mut back) = target else { return };
        let back_id = back.id.clone().unwrap_or_default();
        let deployments = self.rec.service.deployments.get_or_insert_with(Vec::new);
        for d in deployments.iter_mut() {
            if d.status.as_deref() == Some(deployment_status::PRIMARY) {
                d.status = Some(deployment_status::ACTIVE.to_owned());
                d.desired_count = Some(0);
            }
        }
        deployments.retain(|d| d.id.as_deref() != Some(&back_id));
        back.status = Some(deployment_status::PRIMARY.to_owned());
        back.desired_count = self.rec.service.desired_count;
        back.rollout_state = Some(DeploymentRolloutState::InProgress);
        back.rollout_state_reason = Some(service::rollback_reason(&back_id));
        back.updated_at = Some(now);
        self.rec.service.task_definition = back.task_definition.clone();
        deployments.insert(0, back);
        self.rec.throttle = Throttle::default();
        let msg = events::rolling_back(&self.name, &back_id);
        self.emit(msg);
    }

    fn deployment(&self, id: &str) -> Option<&wharf_model::ecs::shapes::Deployment> {
        self.rec.service.deployments.iter().flatten().find(|d| d.id.as_deref() == Some(id))
    }

    fn deployment_mut(&mut self, id: &str) -> Option<&mut wharf_model::ecs::shapes::Deployment> {
        self.rec.service.deployments.iter_mut().flatten().find(|d| d.id.as_deref() == Some(id))
    }

    fn history_status(&mut self, unit: &str, st: ServiceDeploymentStatus, reason: Option<&str>) {
        let Some(arn) = self.rec.deployments.get(unit).map(|n| n.service_deployment_arn.clone())
        else {
            return;
        };
        let now = Timestamp::from_millis(self.now);
        if let Some(h) =
            self.rec.history.iter_mut().find(|h| h.service_deployment_arn.as_deref() == Some(&arn))
        {
            let done = matches!(
                st,
                ServiceDeploymentStatus::Successful
                    | ServiceDeploymentStatus::Stopped
                    | ServiceDeploymentStatus::RollbackSuccessful
                    | ServiceDeploymentStatus::RollbackFailed
            );
            if st == ServiceDeploymentStatus::Stopped {
                h.stopped_at = Some(now);
            } else if done {
                h.finished_at = Some(now);
            }
            if let Some(cb) = h.deployment_circuit_breaker.as_mut() {
                cb.failure_count = self.rec.deployments.get(unit).map(|n| n.failures as i32);
            }
            h.status = Some(st);
            h.status_reason = reason.map(str::to_owned);
            h.updated_at = Some(now);
        }
    }

    /// Decides to stop a task: deregisters its targets first and lets them
    /// drain for the groups' deregistration delay.
    fn stop(&mut self, t: &ObservedTask, reason: String) {
        if self.is_stopping(t) {
            return;
        }
        let targets = self.rec.tasks.get(&t.id).map(|n| n.targets.clone()).unwrap_or_default();
        let delay = targets
            .iter()
            .map(|r| self.obs.delays.get(&r.target_group_arn).copied().unwrap_or(300_000))
            .max()
            .unwrap_or(0);
        if !targets.is_empty() {
            let unit = t.unit.clone().unwrap_or_default();
            self.deregister(targets);
            let msg = events::draining(&self.name, &unit, 1);
            self.emit(msg);
        }
        let stop_after_ms = self.now + delay;
        let notes = self.notes(&t.id);
        notes.stopping = Some(Stopping {
            reason,
            stop_code: TaskStopCode::ServiceSchedulerInitiated,
            stop_after_ms,
            stop_sent: false,
        });
        self.stopped_now.push(t.id.clone());
    }

    fn deregister(&mut self, targets: Vec<wharf_model::ecs::service::TargetRef>) {
        let mut by_group: BTreeMap<&str, usize> = BTreeMap::new();
        for r in &targets {
            *by_group.entry(&r.target_group_arn).or_default() += 1;
        }
        let msgs: Vec<String> =
            by_group.iter().map(|(g, n)| events::deregistered(&self.name, *n, g)).collect();
        for m in msgs {
            let id = (self.new_id)();
            // Not de-duplicated: each names what happened now.
            self.rec.event_times.remove(&m);
            events::emit(self.rec, m, self.now, id);
        }
        self.actions.push(Action::Deregister(targets));
    }

    /// Starts and stops tasks so that each unit converges on its desired
    /// count within the deployment's bounds.
    fn schedule(&mut self) {
        if self.daemon() && !self.external() {
            return self.schedule_daemon();
        }
        let units = self.units();
        let primary = units.iter().position(|u| u.primary);
        let active: Vec<&ObservedTask> = live(self.obs).filter(|t| !self.is_stopping(t)).collect();
        let total = live(self.obs).count() as i64;

        if self.external() {
            // Task sets: each converges on its computed count, no rolling bounds.
            for (i, u) in units.iter().enumerate() {
                let mine: Vec<&ObservedTask> =
                    active.iter().copied().filter(|t| owner(&units, t) == Some(i)).collect();
                let have = mine.len() as i64;
                if have > u.desired {
                    for t in pick_to_stop(&mine, (have - u.desired) as usize, |t| self.healthy(t)) {
                        self.stop(t, events::scaling_reason(&u.id));
                    }
                } else if have < u.desired && self.may_launch() {
                    self.actions.push(Action::Start {
                        unit: u.id.clone(),
                        count: (u.desired - have) as usize,
                        instance: None,
                    });
                }
            }
            // Tasks of no task set.
            let orphans: Vec<&ObservedTask> =
                active.iter().copied().filter(|t| owner(&units, t).is_none()).collect();
            for t in orphans {
                let reason = events::scaling_reason(t.unit.as_deref().unwrap_or("unknown"));
                self.stop(t, reason);
            }
            return;
        }

        let Some(primary_at) = primary else {
            for t in active {
                let reason = events::scaling_reason(t.unit.as_deref().unwrap_or("unknown"));
                self.stop(t, reason);
            }
            return;
        };
        let primary = units[primary_at].clone();
        let desired = primary.desired;
        let (max_total, min_healthy) =
            rolling_bounds(desired as i32, self.rec.service.deployment_configuration.as_ref());
        // Tasks on a DRAINING instance are the primary's no longer: they are
        // replaced and stopped within the deployment's bounds, as old ones are.
        let (mine, old): (Vec<&ObservedTask>, Vec<&ObservedTask>) = active
            .iter()
            .copied()
            .partition(|t| owner(&units, t) == Some(primary_at) && !self.on_draining_instance(t));
        let mut stops: Vec<&ObservedTask> = Vec::new();
        // Scale in the primary.
        if mine.len() as i64 > desired {
            stops.extend(pick_to_stop(&mine, mine.len() - desired as usize, |t| self.healthy(t)));
        }
        // A failed deployment launches nothing and the old tasks stay.
        let old: Vec<&ObservedTask> = if primary.failed { Vec::new() } else { old };
        // Old tasks that never reached RUNNING hold no capacity: stop them.
        stops.extend(old.iter().copied().filter(|t| !t.running()));
        // Old running tasks, as far as the healthy minimum allows.
        let healthy_now = active.iter().filter(|t| self.healthy(t)).count() as i64;
        let old_running: Vec<&ObservedTask> = old.iter().copied().filter(|t| t.running()).collect();
        let unhealthy_old: Vec<&ObservedTask> =
            old_running.iter().copied().filter(|t| !self.healthy(t)).collect();
        let healthy_old: Vec<&ObservedTask> =
            old_running.iter().copied().filter(|t| self.healthy(t)).collect();
        stops.extend(unhealthy_old.iter().copied());
        let mut room = (healthy_now - min_healthy).max(0);
        for t in newest_first(healthy_old) {
            if room == 0 {
                break;
            }
            stops.push(t);
            room -= 1;
        }
        // Start what the primary lacks, within the maximum.
        let lacking = desired - mine.len().min(desired as usize) as i64;
        let start = lacking.min(max_total - total).max(0);
        let can_launch = !primary.failed && !self.draining_service() && self.may_launch();
        let stuck = !old.is_empty()
            && stops.is_empty()
            && start == 0
            && lacking > 0
            && can_launch
            && live(self.obs).all(|t| t.running() && !self.is_stopping(t));
        for t in stops {
            let reason = events::scaling_reason(t.unit.as_deref().unwrap_or(&primary.id));
            self.stop(t, reason);
        }
        if start > 0 && can_launch {
            self.actions.push(Action::Start {
                unit: primary.id.clone(),
                count: start as usize,
                instance: None,
            });
        }
        if stuck {
            let msg = events::stuck(&self.name);
            self.emit(msg);
        }
    }

    /// DAEMON: one task of the primary on each ACTIVE instance; an old task
    /// on an instance is stopped before the new one starts there (maximum
    /// 100%), and tasks on instances that are no longer ACTIVE are stopped.
    fn schedule_daemon(&mut self) {
        let units = self.units();
        let obs = self.obs;
        let Some(primary_at) = units.iter().position(|u| u.primary) else { return };
        let primary = units[primary_at].clone();
        let eligible: Vec<&ObservedInstance> = obs.instances.iter().filter(|i| i.active).collect();
        let desired = if self.draining_service() { 0 } else { eligible.len() as i32 };
        self.rec.service.desired_count = Some(desired);
        if let Some(d) = self.deployment_mut(&primary.id) {
            d.desired_count = Some(desired);
        }
        let active: Vec<&ObservedTask> = live(self.obs).filter(|t| !self.is_stopping(t)).collect();
        let mut stops = Vec::new();
        let mut starts = Vec::new();
        for t in &active {
            let on_eligible =
                t.instance_id.as_deref().is_some_and(|i| eligible.iter().any(|e| e.id == i));
            if !on_eligible || self.draining_service() {
                stops.push(*t);
            }
        }
        if !self.draining_service() {
            for inst in &eligible {
                let here: Vec<&ObservedTask> =
                    live(obs).filter(|t| t.instance_id.as_deref() == Some(&inst.id)).collect();
                let (mine, old): (Vec<&ObservedTask>, Vec<&ObservedTask>) = here
                    .iter()
                    .copied()
                    .filter(|t| !self.is_stopping(t))
                    .partition(|t| owner(&units, t) == Some(primary_at));
                if mine.len() > 1 {
                    stops.extend(pick_to_stop(&mine, mine.len() - 1, |t| self.healthy(t)));
                }
                if !mine.is_empty() && self.healthy(mine[0]) || mine.is_empty() {
                    stops.extend(old.iter().copied());
                }
                if here.is_empty() && !primary.failed && self.may_launch() {
                    starts.push(inst.id.clone());
                }
            }
        }
        for t in stops {
            let reason = events::scaling_reason(t.unit.as_deref().unwrap_or(&primary.id));
            self.stop(t, reason);
        }
        for instance in starts {
            self.actions.push(Action::Start {
                unit: primary.id.clone(),
                count: 1,
                instance: Some(instance),
            });
        }
    }

    /// Whether the task's instance is being drained (registered, not ACTIVE).
    fn on_draining_instance(&self, t: &ObservedTask) -> bool {
        let Some(id) = t.instance_id.as_deref() else { return false };
        self.obs.instances.iter().any(|i| i.id == id && !i.active)
    }

    fn may_launch(&self) -> bool {
        self.now >= self.rec.throttle.not_before_ms
    }

    /// Stops the tasks whose drain is over (or that had nothing to drain).
    fn release_drained(&mut self) {
        let obs = self.obs;
        for t in obs.tasks.iter().filter(|t| !t.stopped() && t.desired_status != "STOPPED") {
            let Some(notes) = self.rec.tasks.get_mut(&t.id) else { continue };
            let Some(stopping) = notes.stopping.as_mut() else { continue };
            if stopping.stop_sent && t.desired_status == "STOPPED" {
                continue;
            }
            if self.now >= stopping.stop_after_ms {
                stopping.stop_sent = true;
                self.actions.push(Action::Stop {
                    task: t.id.clone(),
                    reason: stopping.reason.clone(),
                    code: stopping.stop_code.clone(),
                });
            }
        }
        // Tasks stopped by someone else: their targets go at once.
        for t in obs.tasks.iter().filter(|t| t.desired_status == "STOPPED" && !t.stopped()) {
            let Some(notes) = self.rec.tasks.get_mut(&t.id) else { continue };
            if notes.stopping.is_none() && !notes.targets.is_empty() {
                let targets = std::mem::take(&mut notes.targets);
                self.deregister(targets);
            }
        }
    }

    /// Registers running tasks of units with load balancers.
    fn register(&mut self) {
        let obs = self.obs;
        let mut by_group: BTreeMap<String, usize> = BTreeMap::new();
        let mut all = Vec::new();
        for t in obs.tasks.iter().filter(|t| t.running() && !t.targets.is_empty()) {
            if self.is_stopping(t) || !self.has_lb(t.unit.as_deref()) {
                continue;
            }
            let notes = self.notes(&t.id);
            if !notes.targets.is_empty() {
                continue;
            }
            notes.targets = t.targets.clone();
            for r in &t.targets {
                *by_group.entry(r.target_group_arn.clone()).or_default() += 1;
            }
            all.extend(t.targets.iter().cloned());
        }
        if all.is_empty() {
            return;
        }
        for (g, n) in by_group {
            let msg = events::registered(&self.name, n, &g);
            self.rec.event_times.remove(&msg);
            self.emit(msg);
        }
        self.actions.push(Action::Register(all));
    }

    /// Running and pending counts of each unit and of the service.
    fn counts(&mut self) {
        let obs = self.obs;
        let units = self.units();
        // By the owning unit's place in the list (units follow the list).
        let mut per: BTreeMap<Option<usize>, (i32, i32)> = BTreeMap::new();
        for t in obs.tasks.iter().filter(|t| !t.stopped()) {
            let e = per.entry(owner(&units, t)).or_default();
            if t.running() {
                e.0 += 1;
            } else if t.desired_status == "RUNNING" {
                e.1 += 1;
            }
        }
        let (mut running, mut pending) = (0, 0);
        for (r, p) in per.values() {
            running += r;
            pending += p;
        }
        let now = Timestamp::from_millis(self.now);
        let service_desired = self.rec.service.desired_count.unwrap_or(0);
        let failures: BTreeMap<String, u32> =
            self.rec.deployments.iter().map(|(k, v)| (k.clone(), v.failures)).collect();
        let external = self.external();
        for (i, d) in self.rec.service.deployments.iter_mut().flatten().enumerate() {
            let id = d.id.clone().unwrap_or_default();
            let at = (!external).then_some(i);
            let (r, p) = per.get(&at).copied().unwrap_or_default();
            let f = failures.get(&id).copied().unwrap_or(0) as i32;
            let primary = d.status.as_deref() == Some(deployment_status::PRIMARY);
            let desired = if primary { service_desired } else { 0 };
            if d.running_count != Some(r)
                || d.pending_count != Some(p)
                || d.failed_tasks != Some(f)
                || d.desired_count != Some(desired)
            {
                d.running_count = Some(r);
                d.pending_count = Some(p);
                d.failed_tasks = Some(f);
                d.desired_count = Some(desired);
                d.updated_at = Some(now);
            }
        }
        for (i, ts) in self.rec.service.task_sets.iter_mut().flatten().enumerate() {
            let at = external.then_some(i);
            let (r, p) = per.get(&at).copied().unwrap_or_default();
            let computed = at.and_then(|i| units.get(i)).map_or(0, |u| u.desired as i32);
            let stable = r == computed && p == 0;
            let stability =
                if stable { StabilityStatus::SteadyState } else { StabilityStatus::Stabilizing };
            if ts.running_count != Some(r)
                || ts.pending_count != Some(p)
                || ts.computed_desired_count != Some(computed)
                || ts.stability_status.as_ref() != Some(&stability)
            {
                if ts.stability_status.as_ref() != Some(&stability) {
                    ts.stability_status_at = Some(now);
                }
                ts.running_count = Some(r);
                ts.pending_count = Some(p);
                ts.computed_desired_count = Some(computed);
                ts.stability_status = Some(stability);
                ts.updated_at = Some(now);
            }
        }
        self.rec.service.running_count = Some(running);
        self.rec.service.pending_count = Some(pending);
    }

    /// Drops deployments and task sets whose tasks are gone, completes the
    /// primary deployment when the service is steady, and retires a deleted
    /// service once its tasks have stopped.
    fn lifecycle(&mut self) {
        let units = self.units();
        let owning: BTreeSet<usize> = live(self.obs).filter_map(|t| owner(&units, t)).collect();
        let any_live = live(self.obs).next().is_some();
        let external = self.external();
        if let Some(ds) = self.rec.service.deployments.as_mut() {
            let mut i = 0;
            ds.retain(|d| {
                let keep = d.status.as_deref() == Some(deployment_status::PRIMARY)
                    || (!external && owning.contains(&i));
                i += 1;
                keep
            });
        }
        if let Some(ts) = self.rec.service.task_sets.as_mut() {
            let mut i = 0;
            ts.retain(|t| {
                let keep =
                    t.status.as_deref() != Some("DRAINING") || (external && owning.contains(&i));
                i += 1;
                keep
            });
        }
        if self.draining_service() {
            if !any_live {
                self.rec.service.status = Some(status::INACTIVE.to_owned());
                self.rec.inactive_ms = Some(self.now);
            }
            return;
        }
        let units = self.units();
        let Some(primary_at) = units.iter().position(|u| u.primary) else { return };
        let primary = units[primary_at].clone();
        self.stop_superseded(&primary.id);
        let mine: Vec<&ObservedTask> =
            live(self.obs).filter(|t| owner(&units, t) == Some(primary_at)).collect();
        let settled = live(self.obs).all(|t| owner(&units, t) == Some(primary_at))
            && mine.len() as i64 == primary.desired
            && mine.iter().all(|t| !self.is_stopping(t) && self.healthy(t));
        if self.external() {
            return;
        }
        let in_progress = self
            .deployment(&primary.id)
            .is_some_and(|d| d.rollout_state == Some(DeploymentRolloutState::InProgress));
        let mut just_completed = false;
        if in_progress && settled {
            let now = Timestamp::from_millis(self.now);
            let mut completed = None;
            if let Some(d) = self.deployment_mut(&primary.id) {
                d.rollout_state = Some(DeploymentRolloutState::Completed);
                d.rollout_state_reason = Some(completed_reason(&primary.id));
                d.updated_at = Some(now);
                completed = Some(d.clone());
            }
            self.rec.last_completed = completed;
            // A rollback that finished: the failed deployment's record says so.
            let rolled_back: Vec<String> = self
                .rec
                .deployments
                .iter()
                .filter(|(id, _)| **id != primary.id)
                .map(|(id, _)| id.clone())
                .collect();
            for id in rolled_back {
                let arn = self.rec.deployments.get(&id).map(|n| n.service_deployment_arn.clone());
                let rolling = self.rec.history.iter().any(|h| {
                    h.service_deployment_arn == arn
                        && h.status == Some(ServiceDeploymentStatus::RollbackInProgress)
                });
                if rolling {
                    self.history_status(&id, ServiceDeploymentStatus::RollbackSuccessful, None);
                }
            }
            let arn =
                self.rec.deployments.get(&primary.id).map(|n| n.service_deployment_arn.clone());
            let pending = self.rec.history.iter().any(|h| {
                h.service_deployment_arn == arn
                    && matches!(
                        h.status,
                        Some(
                            ServiceDeploymentStatus::InProgress | ServiceDeploymentStatus::Pending
                        )
                    )
            });
            if pending {
                self.history_status(&primary.id, ServiceDeploymentStatus::Successful, None);
            }
            let msg = events::deployment_completed(&self.name, &primary.id);
            self.rec.event_times.remove(&msg);
            self.emit(msg);
            just_completed = true;
        }
        let completed = self
            .deployment(&primary.id)
            .is_some_and(|d| d.rollout_state == Some(DeploymentRolloutState::Completed));
        let steady = completed && settled;
        if steady && (!self.rec.steady || just_completed) {
            let msg = events::steady_state(&self.name);
            self.rec.event_times.remove(&msg);
            self.emit(msg);
        } else if steady {
            // Repeated every six hours while nothing changes.
            let msg = events::steady_state(&self.name);
            self.emit(msg);
        }
        self.rec.steady = steady;
    }
}

impl Step<'_> {
    /// A service deployment still IN_PROGRESS when a newer one became the
    /// primary was stopped by it: its record says STOPPED.
    fn stop_superseded(&mut self, primary: &str) {
        let superseded: Vec<String> = self
            .rec
            .deployments
            .iter()
            .filter(|(id, _)| id.as_str() != primary)
            .filter(|(_, n)| {
                self.rec.history.iter().any(|h| {
                    h.service_deployment_arn.as_deref() == Some(n.service_deployment_arn.as_str())
                        && matches!(
                            h.status,
                            Some(
                                ServiceDeploymentStatus::InProgress
                                    | ServiceDeploymentStatus::Pending
                            )
                        )
                })
            })
            .map(|(id, _)| id.clone())
            .collect();
        for id in superseded {
            self.history_status(
                &id,
                ServiceDeploymentStatus::Stopped,
                Some("The service deployment was stopped by a newer service deployment."),
            );
        }
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
#[path = "step_tests.rs"]
mod tests;
