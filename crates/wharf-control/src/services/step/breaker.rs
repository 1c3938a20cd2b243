//! The deployment circuit breaker: fails the primary deployment at ECS's
//! threshold and rolls back to the last completed one.

use super::*;

impl Step<'_> {
    /// Fails the PRIMARY deployment once its failures reach the threshold,
    /// and rolls back to the last completed deployment when asked to.
    pub(super) fn circuit_breaker(&mut self) {
        if self.external() || self.draining_service() {
            return;
        }
        let config = self.rec.service.deployment_configuration.clone();
        let (enabled, rollback) = circuit_breaker(config.as_ref());
        let Some(primary) = self.units().into_iter().find(|u| u.primary) else { return };
        if self.history_is(&primary.id, &ServiceDeploymentStatus::RollbackRequested) {
            // StopServiceDeployment asked for it, breaker or not.
            return self.roll_back(&primary.id, service::STOPPED_REASON, true);
        }
        let in_progress = self
            .deployment(&primary.id)
            .is_some_and(|d| d.rollout_state == Some(DeploymentRolloutState::InProgress));
        let failures = self.rec.deployments.get(&primary.id).map_or(0, |n| n.failures);
        let threshold = failure_threshold(self.rec.service.desired_count.unwrap_or(0));
        if !enabled || !in_progress || failures < threshold {
            return;
        }
        let msg = events::deployment_failed(&self.name, &primary.id);
        self.emit(msg);
        self.roll_back(&primary.id, FAILED_REASON, rollback);
    }

    /// Records on the failed deployment `id`'s ServiceDeployment that it is
    /// rolled back to `back_id`'s revision, why and since when.
    fn note_rollback(&mut self, id: &str, back_id: &str, reason: &str) {
        let revision = self.rec.deployments.get(back_id).map(|n| n.service_revision_arn.clone());
        let Some(arn) = self.rec.deployments.get(id).map(|n| n.service_deployment_arn.clone())
        else {
            return;
        };
        let now = Timestamp::from_millis(self.now);
        if let Some(h) =
            self.rec.history.iter_mut().find(|h| h.service_deployment_arn.as_deref() == Some(&arn))
        {
            h.rollback = Some(wharf_model::ecs::shapes::Rollback {
                reason: Some(reason.to_owned()),
                started_at: Some(now),
                service_revision_arn: revision.filter(|r| !r.is_empty()),
            });
        }
    }

    /// Whether a deployment's ServiceDeployment has this status.
    fn history_is(&self, id: &str, status: &ServiceDeploymentStatus) -> bool {
        let Some(arn) = self.rec.deployments.get(id).map(|n| &n.service_deployment_arn) else {
            return false;
        };
        self.rec.history.iter().any(|h| {
            h.service_deployment_arn.as_ref() == Some(arn) && h.status.as_ref() == Some(status)
        })
    }

    /// Fails the PRIMARY deployment `id` with `reason` and, when `rollback`
    /// and there is one, makes the last completed deployment PRIMARY again;
    /// a blue/green rollback puts the traffic back on it in this same step
    /// (see `traffic`).
    pub(super) fn roll_back(&mut self, id: &str, reason: &str, rollback: bool) {
        let requested = self.history_is(id, &ServiceDeploymentStatus::RollbackRequested);
        let now = Timestamp::from_millis(self.now);
        if let Some(d) = self.deployment_mut(id) {
            d.rollout_state = Some(DeploymentRolloutState::Failed);
            d.rollout_state_reason = Some(reason.to_owned());
            d.updated_at = Some(now);
        }
        let target =
            self.rec.last_completed.clone().filter(|d| rollback && d.id.as_deref() != Some(id));
        let status_after = match (&target, requested) {
            (Some(_), _) => ServiceDeploymentStatus::RollbackInProgress,
            (None, true) => ServiceDeploymentStatus::RollbackFailed,
            (None, false) => ServiceDeploymentStatus::Stopped,
        };
        self.history_status(id, status_after, Some(reason));
        let Some(mut back) = target else { return };
        let back_id = back.id.clone().unwrap_or_default();
        self.note_rollback(id, &back_id, reason);
        let deployments = self.rec.service.deployments.get_or_insert_with(Vec::new);
        for d in deployments.iter_mut() {
            if d.status == Some(DeploymentStatus::Primary) {
                d.status = Some(DeploymentStatus::Active);
                d.desired_count = Some(0);
            }
        }
        deployments.retain(|d| d.id.as_deref() != Some(&back_id));
        back.status = Some(DeploymentStatus::Primary);
        back.desired_count = self.rec.service.desired_count;
        back.rollout_state = Some(DeploymentRolloutState::InProgress);
        back.rollout_state_reason = Some(service::rollback_reason(&back_id));
        back.updated_at = Some(now);
        self.rec.service.task_definition = back.task_definition.clone();
        deployments.insert(0, back);
        self.rec.throttle = Throttle::default();
        let msg = events::rolling_back(&self.name, &back_id);
        self.emit(msg);
        let shifted_from_back = self
            .rec
            .deployments
            .get(id)
            .and_then(|n| n.shift.as_ref())
            .is_some_and(|s| s.blue.as_deref() == Some(&back_id));
        if shifted_from_back {
            let msg = events::traffic_restored(&self.name, &back_id);
            self.emit(msg);
        }
    }
}
