//! Counts, rollout states and the service's lifecycle: running and pending
//! counts, completed and superseded deployments, steady state, retiring a
//! deleted service.

use super::*;

impl Step<'_> {
    /// Running and pending counts of each unit and of the service.
    pub(super) fn counts(&mut self) {
        let obs = self.obs;
        let units = self.units();
        // By the owning unit's place in the list (units follow the list).
        let mut per: BTreeMap<Option<usize>, (i32, i32)> = BTreeMap::new();
        for t in obs.tasks.iter().filter(|t| !t.stopped()) {
            let e = per.entry(owner(&units, t)).or_default();
            if t.running() {
                e.0 += 1;
            } else if t.desired_status == DesiredStatus::Running {
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
            let primary = d.status == Some(DeploymentStatus::Primary);
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
    pub(super) fn lifecycle(&mut self) {
        let units = self.units();
        let owning: BTreeSet<usize> = live(self.obs).filter_map(|t| owner(&units, t)).collect();
        let any_live = live(self.obs).next().is_some();
        let external = self.external();
        if let Some(ds) = self.rec.service.deployments.as_mut() {
            let mut i = 0;
            ds.retain(|d| {
                let keep = d.status == Some(DeploymentStatus::Primary)
                    || (!external && owning.contains(&i));
                i += 1;
                keep
            });
        }
        if let Some(ts) = self.rec.service.task_sets.as_mut() {
            let mut i = 0;
            ts.retain(|t| {
                let keep =
                    t.status != Some(TaskSetStatus::Draining) || (external && owning.contains(&i));
                i += 1;
                keep
            });
        }
        if self.draining_service() {
            if !any_live {
                self.rec.service.status = Some(ServiceStatus::Inactive);
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
            && mine.iter().all(|t| !self.is_stopping(t) && self.healthy(t))
            && self.shift_done(&primary.id)
            && self.routed();
        if self.external() {
            return;
        }
        let in_progress = self
            .deployment(&primary.id)
            .is_some_and(|d| d.rollout_state == Some(DeploymentRolloutState::InProgress));
        let mut just_completed = false;
        let baked = in_progress && self.baked(&primary.id, settled);
        if in_progress && settled && baked {
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
                let done = wharf_model::ecs::shapes::ServiceDeploymentRollbackMonitorsStatus::MonitoringComplete;
                self.note_alarms(&primary.id, done, None);
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

    /// A service deployment still IN_PROGRESS when a newer one became the
    /// primary was stopped by it: its record says STOPPED.
    pub(super) fn stop_superseded(&mut self, primary: &str) {
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

    pub(super) fn history_status(
        &mut self,
        unit: &str,
        st: ServiceDeploymentStatus,
        reason: Option<&str>,
    ) {
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
}
