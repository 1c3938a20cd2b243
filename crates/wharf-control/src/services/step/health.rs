//! Health: which tasks count as healthy, the tasks that ended since the last step
//! (circuit breaker failures, launch throttling), tasks turning healthy, and
//! tasks stopped for failing their container or target group health checks.

use super::*;

impl Step<'_> {
    /// Whether a task counts as healthy: RUNNING, its essential containers'
    /// health checks passing (or, with none and no load balancer, RUNNING for
    /// 40 s), and every target it holds healthy.
    pub(super) fn healthy(&self, t: &ObservedTask) -> bool {
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

    pub(super) fn grace_over(&self, t: &ObservedTask) -> bool {
        let grace = i64::from(self.rec.service.health_check_grace_period_seconds.unwrap_or(0));
        let since = t.started_ms.unwrap_or(t.created_ms);
        self.now - since >= grace.saturating_mul(1000)
    }

    /// Counts tasks that ended since the last step and were not stopped by
    /// the scheduler or a user: circuit breaker failures, and launch
    /// throttling for those that never reached RUNNING.
    pub(super) fn account_ended(&mut self) {
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
    pub(super) fn note_health(&mut self) {
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
    pub(super) fn stop_unhealthy(&mut self) {
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
}
