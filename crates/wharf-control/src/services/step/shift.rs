//! Blue/green, linear and canary deployments (ECS's own strategies): the
//! lifecycle stages of the PRIMARY deployment, blue and green side by side,
//! and the listener rules' forward weights.
//!
//! The stages, as ServiceDeployment's `lifecycleStage` names them:
//! PRE_SCALE_UP → SCALE_UP (green starts; on to the next stage once every
//! green task is healthy, in its target group too) → POST_SCALE_UP →
//! TEST_TRAFFIC_SHIFT (the test listener rule forwards to green) →
//! POST_TEST_TRAFFIC_SHIFT → PRODUCTION_TRAFFIC_SHIFT (the production rule's
//! weights move to green: all at once, in equal steps, or a canary share
//! and then the rest, each step held for its bake time) →
//! POST_PRODUCTION_TRAFFIC_SHIFT → BAKE_TIME (`bakeTimeInMinutes`, blue
//! still running) → CLEAN_UP (blue is scaled down; the deployment completes
//! once its tasks are gone). A stage that moves traffic is over only once
//! the rules forward as it wants. A service's first deployment has no blue:
//! it skips the test and bake stages.
//!
//! The weights are a function of the record: while the PRIMARY deployment
//! shifts, blue's group gets what green does not; otherwise (the deployment
//! done, or rolled back to blue) the PRIMARY's group gets everything. The
//! step compares that with what the rules say and asks for the difference,
//! so a rollback restores the weights in the step that decides it, and a
//! lost write is made again.

use wharf_model::ecs::service::shift::{self as bg, Shift, WHOLE};
use wharf_model::ecs::shapes::{LoadBalancer, ServiceDeploymentLifecycleStage as Stage};

use super::*;

/// One listener rule and the forward it should have.
pub(super) type Route = (String, Vec<(String, u32)>);

impl Step<'_> {
    /// The PRIMARY deployment and its shift, while it is an IN_PROGRESS
    /// blue/green, linear or canary deployment.
    pub(super) fn primary_shift(&self) -> Option<(String, Shift)> {
        if self.external() || self.draining_service() {
            return None;
        }
        let d = self
            .rec
            .service
            .deployments
            .iter()
            .flatten()
            .find(|d| d.status == Some(DeploymentStatus::Primary))?;
        if d.rollout_state != Some(DeploymentRolloutState::InProgress) {
            return None;
        }
        let id = d.id.clone()?;
        let shift = self.rec.deployments.get(&id)?.shift.clone()?;
        Some((id, shift))
    }

    /// Whether a deployment's traffic shift (if it has one) has reached
    /// CLEAN_UP.
    pub(super) fn shift_done(&self, id: &str) -> bool {
        self.rec.deployments.get(id).and_then(|n| n.shift.as_ref()).is_none_or(Shift::cleaning_up)
    }

    /// The blue deployment of a shift, while it is still listed.
    fn blue_of(&self, shift: &Shift) -> Option<String> {
        shift.blue.clone().filter(|b| self.deployment(b).is_some())
    }

    /// Moves the PRIMARY deployment through its lifecycle stages.
    pub(super) fn shift(&mut self) {
        let Some((id, mut shift)) = self.primary_shift() else { return };
        let config = self.rec.service.deployment_configuration.clone();
        let units = self.units();
        let Some(at) = units.iter().position(|u| u.id == id) else { return };
        let desired = units[at].desired;
        let green: Vec<&ObservedTask> = live(self.obs)
            .filter(|t| owner(&units, t) == Some(at) && !self.is_stopping(t))
            .collect();
        let ready = green.len() as i64 == desired && green.iter().all(|t| self.healthy(t));
        let has_blue = self.blue_of(&shift).is_some();
        // Each pass moves at most one stage per condition; bounded anyway.
        for _ in 0..16 {
            let mut stepped = false;
            let routed = self.routed();
            let since = self.now - shift.stage_ms;
            let next = match shift.stage {
                Stage::ReconcileService | Stage::PreScaleUp => Some(Stage::ScaleUp),
                Stage::ScaleUp if ready => Some(Stage::PostScaleUp),
                Stage::PostScaleUp if has_blue => Some(Stage::TestTrafficShift),
                Stage::PostScaleUp => Some(Stage::ProductionTrafficShift),
                Stage::TestTrafficShift if routed => Some(Stage::PostTestTrafficShift),
                Stage::PostTestTrafficShift => Some(Stage::ProductionTrafficShift),
                Stage::ProductionTrafficShift if routed && shift.green >= WHOLE => {
                    Some(Stage::PostProductionTrafficShift)
                }
                Stage::ProductionTrafficShift if routed => {
                    let wait = bg::step_wait_ms(config.as_ref());
                    if shift.green == 0 || self.now - shift.step_ms >= wait {
                        shift.green = if has_blue {
                            bg::next_share(config.as_ref(), shift.green)
                        } else {
                            WHOLE
                        };
                        shift.step_ms = self.now;
                        self.put_shift(&id, &shift);
                        let msg = events::production_shifted(&self.name, &id, shift.green);
                        self.emit(msg);
                        stepped = true;
                    }
                    None
                }
                Stage::PostProductionTrafficShift if has_blue => Some(Stage::BakeTime),
                Stage::PostProductionTrafficShift => Some(Stage::CleanUp),
                Stage::BakeTime if since >= bg::bake_ms(config.as_ref()) => Some(Stage::CleanUp),
                _ => None,
            };
            let Some(next) = next else {
                if stepped {
                    continue;
                }
                break;
            };
            let left = shift.stage.clone();
            shift.stage = next.clone();
            shift.stage_ms = self.now;
            self.put_shift(&id, &shift);
            if left == Stage::TestTrafficShift {
                let msg = events::test_shifted(&self.name, &id);
                self.emit(msg);
            }
            if matches!(next, Stage::ScaleUp | Stage::BakeTime | Stage::CleanUp) {
                let msg = events::lifecycle_stage(&self.name, &id, next.as_str());
                self.emit(msg);
            }
        }
    }

    /// Stores a deployment's shift and shows its stage in its
    /// ServiceDeployment.
    fn put_shift(&mut self, id: &str, shift: &Shift) {
        let Some(notes) = self.rec.deployments.get_mut(id) else { return };
        notes.shift = Some(shift.clone());
        let arn = notes.service_deployment_arn.clone();
        let now = Timestamp::from_millis(self.now);
        if let Some(h) =
            self.rec.history.iter_mut().find(|h| h.service_deployment_arn.as_deref() == Some(&arn))
        {
            h.lifecycle_stage = Some(shift.stage.clone());
            h.updated_at = Some(now);
        }
    }

    /// Blue and green side by side: green (the PRIMARY) starts all its tasks
    /// at once, blue keeps its tasks until CLEAN_UP, anything else stops.
    pub(super) fn schedule_side_by_side(&mut self, units: &[Unit], at: usize, shift: &Shift) {
        let primary = units[at].clone();
        let blue_at = shift.blue.as_deref().and_then(|b| units.iter().position(|u| u.id == b));
        let active: Vec<&ObservedTask> = live(self.obs).filter(|t| !self.is_stopping(t)).collect();
        let (mine, old): (Vec<&ObservedTask>, Vec<&ObservedTask>) =
            active.iter().copied().partition(|t| owner(units, t) == Some(at));
        let mut stops: Vec<&ObservedTask> = Vec::new();
        if mine.len() as i64 > primary.desired {
            let extra = mine.len() - primary.desired as usize;
            stops.extend(pick_to_stop(&mine, extra, |t| self.healthy(t)));
        }
        let keep_blue = !shift.cleaning_up();
        // Old tasks stop only once the rules forward as this step wants: until
        // then their group may still take requests.
        let old = if self.routed() { old } else { Vec::new() };
        for t in old {
            let is_blue = blue_at.is_some() && owner(units, t) == blue_at;
            if !(is_blue && keep_blue) {
                stops.push(t);
            }
        }
        for t in stops {
            let reason = events::scaling_reason(t.unit.as_deref().unwrap_or(&primary.id));
            self.stop(t, reason);
        }
        let lacking = primary.desired - mine.len().min(primary.desired as usize) as i64;
        if lacking > 0 && !primary.failed && self.may_launch() {
            self.actions.push(Action::Start {
                unit: primary.id.clone(),
                count: lacking as usize,
                instance: None,
            });
        }
    }

    /// The target group a deployment's tasks use for one of the service's
    /// load balancers.
    fn group_of(&self, id: &str, lb: &LoadBalancer) -> Option<String> {
        let main = lb.target_group_arn.as_deref()?;
        self.rec
            .deployments
            .get(id)?
            .load_balancers
            .iter()
            .filter(|n| {
                n.container_name == lb.container_name && n.container_port == lb.container_port
            })
            .filter_map(|n| n.target_group_arn.clone())
            .find(|g| g == main || bg::other_group(lb, g).is_some())
    }

    /// The forwards the blue/green listener rules should have now, while the
    /// PRIMARY deployment is IN_PROGRESS (shifting, or rolling back to
    /// blue); empty otherwise: once a deployment is done the rules are the
    /// user's again.
    pub(super) fn routes(&self) -> Vec<Route> {
        if self.external() || self.draining_service() {
            return vec![];
        }
        let Some(primary) = self
            .rec
            .service
            .deployments
            .iter()
            .flatten()
            .find(|d| d.status == Some(DeploymentStatus::Primary))
        else {
            return vec![];
        };
        let in_progress = primary.rollout_state == Some(DeploymentRolloutState::InProgress);
        let id = primary.id.clone().unwrap_or_default();
        let shift = self.rec.deployments.get(&id).and_then(|n| n.shift.clone());
        if !in_progress
            || (shift.is_none() && !bg::shifts(self.rec.service.deployment_configuration.as_ref()))
        {
            return vec![];
        }
        let blue = shift.as_ref().and_then(|s| self.blue_of(s));
        let mut out = Vec::new();
        for lb in self.rec.service.load_balancers.iter().flatten() {
            let Some(adv) = lb.advanced_configuration.as_ref() else { continue };
            let Some(green_group) = self.group_of(&id, lb) else { continue };
            let Some(other) = bg::other_group(lb, &green_group) else { continue };
            let blue_group =
                blue.as_deref().and_then(|b| self.group_of(b, lb)).unwrap_or_else(|| other.clone());
            let (production, test) = match (&shift, &blue) {
                (Some(s), Some(_)) if blue_group != green_group => {
                    let (wb, wg) = bg::weights(s.green);
                    let test = if s.test_on_green() { (0, 1) } else { (1, 0) };
                    (
                        vec![(blue_group.clone(), wb), (green_group.clone(), wg)],
                        vec![(blue_group.clone(), test.0), (green_group.clone(), test.1)],
                    )
                }
                _ => {
                    let all = vec![(green_group.clone(), 1), (other.clone(), 0)];
                    (all.clone(), all)
                }
            };
            if let Some(rule) = adv.production_listener_rule.clone() {
                out.push((rule, production));
            }
            if let Some(rule) = adv.test_listener_rule.clone() {
                out.push((rule, test));
            }
        }
        out
    }

    /// Whether every blue/green rule forwards as [`Step::routes`] wants.
    pub(super) fn routed(&self) -> bool {
        self.routes().iter().all(|(rule, want)| {
            self.obs
                .forwards
                .get(rule)
                .is_some_and(|have| bg::normalized(have) == bg::normalized(want))
        })
    }

    /// Asks for the forwards the rules lack.
    pub(super) fn traffic(&mut self) {
        for (rule, want) in self.routes() {
            let have = self.obs.forwards.get(&rule);
            if have.is_none_or(|h| bg::normalized(h) != bg::normalized(&want)) {
                self.actions.push(Action::Forward { rule, groups: want });
            }
        }
    }
}
