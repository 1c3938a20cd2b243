//! Starting and stopping tasks within a deployment's bounds: the rolling
//! update, scaling out and in, task sets, and one task per instance for DAEMON
//! services.

use super::*;

impl Step<'_> {
    /// Starts and stops tasks so that each unit converges on its desired
    /// count within the deployment's bounds.
    pub(super) fn schedule(&mut self) {
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
        if let Some((_, shift)) = self.primary_shift().filter(|(id, _)| *id == primary.id) {
            return self.schedule_side_by_side(&units, primary_at, &shift);
        }
        let desired = primary.desired;
        let (max_total, min_healthy) =
            rolling_bounds(desired as i32, self.rec.service.deployment_configuration.as_ref());
        // Tasks on a DRAINING instance are the primary's no longer: they are
        // replaced and stopped within the deployment's bounds, as old ones are.
        let draining = self.draining_instances();
        let (mine, old): (Vec<&ObservedTask>, Vec<&ObservedTask>) =
            active.iter().copied().partition(|t| {
                let on_draining = t.instance_id.as_deref().is_some_and(|i| draining.contains(i));
                owner(&units, t) == Some(primary_at) && !on_draining
            });
        let mut stops: Vec<&ObservedTask> = Vec::new();
        // Scale in the primary.
        if mine.len() as i64 > desired {
            stops.extend(pick_to_stop(&mine, mine.len() - desired as usize, |t| self.healthy(t)));
        }
        // A failed deployment launches nothing and the old tasks stay; so do
        // they while a blue/green rule still forwards to their group (a
        // rollback moves the weights first, then stops green's tasks).
        let old: Vec<&ObservedTask> =
            if primary.failed || !self.routed() { Vec::new() } else { old };
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
    pub(super) fn schedule_daemon(&mut self) {
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
    /// The IDs of the observed instances that take no new tasks: a set, so
    /// that sorting a service's tasks costs one lookup each, not a scan of
    /// the instances.
    fn draining_instances(&self) -> BTreeSet<&str> {
        self.obs.instances.iter().filter(|i| !i.active).map(|i| i.id.as_str()).collect()
    }

    pub(super) fn may_launch(&self) -> bool {
        self.now >= self.rec.throttle.not_before_ms
    }
}
