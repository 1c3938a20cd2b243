//! Load balancer targets: registering running tasks, deregistering and
//! draining a task before it is stopped, and stopping it when the drain ends.

use super::*;

impl Step<'_> {
    /// Decides to stop a task: deregisters its targets first and lets them
    /// drain for the groups' deregistration delay.
    pub(super) fn stop(&mut self, t: &ObservedTask, reason: String) {
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

    pub(super) fn deregister(&mut self, targets: Vec<wharf_model::ecs::service::TargetRef>) {
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

    /// Stops the tasks whose drain is over (or that had nothing to drain).
    pub(super) fn release_drained(&mut self) {
        let obs = self.obs;
        for t in
            obs.tasks.iter().filter(|t| !t.stopped() && t.desired_status != DesiredStatus::Stopped)
        {
            let Some(notes) = self.rec.tasks.get_mut(&t.id) else { continue };
            let Some(stopping) = notes.stopping.as_mut() else { continue };
            if stopping.stop_sent && t.desired_status == DesiredStatus::Stopped {
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
        for t in
            obs.tasks.iter().filter(|t| t.desired_status == DesiredStatus::Stopped && !t.stopped())
        {
            let Some(notes) = self.rec.tasks.get_mut(&t.id) else { continue };
            if notes.stopping.is_none() && !notes.targets.is_empty() {
                let targets = std::mem::take(&mut notes.targets);
                self.deregister(targets);
            }
        }
    }

    /// Registers running tasks of units with load balancers.
    pub(super) fn register(&mut self) {
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
}
