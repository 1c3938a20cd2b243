//! Deployments watched by CloudWatch alarms (`deploymentConfiguration.alarms`
//! with `enable`), as ECS watches them: from the moment one of the new
//! deployment's tasks runs until it completes, an alarm in `ALARM` fails the
//! deployment and, with `rollback`, rolls back to the last completed one
//! (restoring a blue/green deployment's traffic in the same step). A rolling
//! deployment that settles then bakes for its alarms' window (the longest
//! `Period` × `EvaluationPeriods` among them) before it is COMPLETED; a
//! blue/green, linear or canary one bakes for its own `bakeTimeInMinutes`,
//! watched all along. A rollback goes back to a revision that completed
//! and watches nothing (the alarm that failed the deployment is usually
//! still in ALARM while it runs).

use wharf_model::ecs::shapes::ServiceDeploymentRollbackMonitorsStatus as Monitor;

use super::*;

impl Step<'_> {
    /// The alarms deployment `id` watches and whether they roll it back:
    /// those of `deploymentConfiguration.alarms` while it rolls out (its
    /// service deployment PENDING or IN_PROGRESS); none for a task set
    /// service, a draining one, or a rollback.
    fn watching(&self, id: &str) -> Option<(Vec<String>, bool)> {
        if self.external() || self.draining_service() {
            return None;
        }
        let config = self.rec.service.deployment_configuration.as_ref();
        let (names, rollback) = service::watched_alarms(config)?;
        let arn = &self.rec.deployments.get(id)?.service_deployment_arn;
        let rolling_out = self.rec.history.iter().any(|h| {
            h.service_deployment_arn.as_ref() == Some(arn)
                && matches!(
                    h.status,
                    Some(ServiceDeploymentStatus::InProgress | ServiceDeploymentStatus::Pending)
                )
        });
        rolling_out.then(|| (names.to_vec(), rollback))
    }

    /// Fails (and rolls back) the PRIMARY deployment when a watched alarm is
    /// in ALARM while it is in progress and one of its tasks runs.
    pub(super) fn alarms(&mut self) {
        let units = self.units();
        let Some(primary_at) = units.iter().position(|u| u.primary) else { return };
        let primary = units[primary_at].clone();
        let Some((names, rollback)) = self.watching(&primary.id) else { return };
        let in_progress = self
            .deployment(&primary.id)
            .is_some_and(|d| d.rollout_state == Some(DeploymentRolloutState::InProgress));
        let watching = live(self.obs).any(|t| owner(&units, t) == Some(primary_at) && t.running());
        if !in_progress || !watching {
            return;
        }
        let firing: Vec<String> = names
            .into_iter()
            .filter(|n| self.obs.alarms.get(n).is_some_and(|a| a.in_alarm))
            .collect();
        if firing.is_empty() {
            return;
        }
        self.note_alarms(&primary.id, Monitor::Triggered, Some(firing.clone()));
        let msg = events::deployment_alarmed(&self.name, &primary.id);
        self.emit(msg);
        self.roll_back(&primary.id, &service::alarm_failed_reason(&firing), rollback);
    }

    /// Whether the settled PRIMARY deployment `id` has baked long enough
    /// under its alarms to complete (always, without watched alarms, and
    /// for traffic-shifting deployments, which bake by their own setting).
    /// Notes when it settled; `settled` false forgets it.
    pub(super) fn baked(&mut self, id: &str, settled: bool) -> bool {
        let now = self.now;
        let shifting = self.rec.deployments.get(id).is_some_and(|n| n.shift.is_some());
        let window = match self.watching(id) {
            Some((names, _)) if !shifting => names
                .iter()
                .filter_map(|n| self.obs.alarms.get(n))
                .map(|a| a.window_ms)
                .max()
                .unwrap_or(0),
            _ => 0,
        };
        let Some(notes) = self.rec.deployments.get_mut(id) else { return settled };
        if !settled {
            notes.settled_ms = None;
            return false;
        }
        let since = *notes.settled_ms.get_or_insert(now);
        now - since >= window
    }

    /// Sets what deployment `id`'s service deployment says of its alarms
    /// (`TRIGGERED` with the alarms that went off; `MONITORING_COMPLETE`
    /// once it completed), if it watched them.
    pub(super) fn note_alarms(
        &mut self,
        id: &str,
        status: Monitor,
        triggered: Option<Vec<String>>,
    ) {
        let Some(arn) = self.rec.deployments.get(id).map(|n| n.service_deployment_arn.clone())
        else {
            return;
        };
        let record = self.rec.history.iter_mut().find(|h| {
            h.service_deployment_arn.as_deref() == Some(arn.as_str())
                && h.alarms.as_ref().is_some_and(|a| a.status == Some(Monitor::Monitoring))
        });
        if let Some(alarms) = record.and_then(|h| h.alarms.as_mut()) {
            alarms.status = Some(status);
            if triggered.is_some() {
                alarms.triggered_alarm_names = triggered;
            }
        }
    }
}
