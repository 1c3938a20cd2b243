//! Service auto scaling and the evaluation of CloudWatch alarms, once a
//! metric period on the leading server.
//!
//! Each pass first evaluates every alarm of the region on the metric data
//! this server holds (`wharf_ops::alarms`: the verdict of its periods fed to
//! the one state rule) and writes each change of state into the alarm; then
//! it steps each scalable target. [`step`] is pure: from a target's record,
//! the service as it is (its desired count, whether it is deploying), the
//! alarms as the policies read them and the step scaling policies' asks, it
//! runs the scheduled actions that are due (new minimum and maximum), keeps
//! the desired count within them, and lets the policies scale
//! (`wharf_model::application_autoscaling::policy::decide`); each change is
//! a scaling activity. The loop steps inside the record's atomic update,
//! then sets the service's desired count as UpdateService does and adds the
//! activity to its events.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use wharf_model::application_autoscaling::policy::{
    self, AlarmView, AlarmViews, Decision, StepAsk,
};
use wharf_model::application_autoscaling::record::TargetRecord;
use wharf_model::application_autoscaling::rules::{self, DEFAULT_COOLDOWN_S, MAX_ACTIVITIES};
use wharf_model::application_autoscaling::shapes::{
    PolicyType, ScalableDimension, ScalingActivity, ScalingActivityStatusCode, ServiceNamespace,
};
use wharf_model::application_autoscaling::{schedule, step as steps};
use wharf_model::cloudwatch::evaluate;
use wharf_model::cloudwatch::shapes::StateValue;
use wharf_model::cloudwatch::state;
use wharf_model::ecs::service::deployment::{Names, ServiceUpdate};
use wharf_model::ecs::status::ServiceStatus;
use wharf_model::wire::Timestamp;
use wharf_model::EcsError;
use wharf_ops::{Ops, OpsError};
use wharf_store::{Kind, Write};

/// The service a target scales, as the step sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceView {
    /// Its desired count (the target's current capacity).
    pub desired: i32,
    /// Whether a deployment is under way (no scale in then).
    pub deploying: bool,
}

/// A change to make to the service.
#[derive(Debug, Clone, PartialEq)]
pub struct SetDesired {
    /// The new desired count.
    pub to: i32,
    /// The activity to record (its status decided when applied).
    pub activity: ScalingActivity,
}

/// What each step scaling policy of `rec` whose alarm is in ALARM asks for
/// at `capacity`: the alarms that name the policy in their actions. While
/// the policy's cooldown after a scale out lasts, a scale out counts from
/// the capacity before it (the capacity it added counts toward the next
/// one, as Application Auto Scaling documents).
pub fn step_asks(
    rec: &TargetRecord,
    alarms: &[(String, Vec<String>, AlarmView)],
    capacity: i32,
    now_ms: i64,
) -> Vec<StepAsk> {
    let mut out = Vec::new();
    for p in &rec.policies {
        let (Some(PolicyType::StepScaling), Some(config), Some(arn)) = (
            &p.policy.policy_type,
            &p.policy.step_scaling_policy_configuration,
            &p.policy.policy_arn,
        ) else {
            continue;
        };
        let name = p.policy.policy_name.clone().unwrap_or_default();
        for (alarm, actions, view) in alarms {
            if !view.in_alarm || !actions.contains(arn) {
                continue;
            }
            let Some(value) = view.last_value else { continue };
            let cooldown_ms = i64::from(config.cooldown.unwrap_or(DEFAULT_COOLDOWN_S)) * 1000;
            let Some(mut to) = steps::capacity(config, capacity, value, view.threshold) else {
                continue;
            };
            let m = &rec.memory;
            if to > capacity && m.scaled_out_ms.is_some_and(|at| now_ms - at < cooldown_ms) {
                let from = m.scaled_out_from.unwrap_or(capacity);
                to = steps::capacity(config, from, value, view.threshold).unwrap_or(to);
            }
            out.push(StepAsk {
                capacity: to,
                cause: format!("monitor alarm {alarm} in state ALARM triggered policy {name}"),
                cooldown_ms,
            });
        }
    }
    out
}

fn activity(
    rec: &TargetRecord,
    id: String,
    description: String,
    cause: String,
    now_ms: i64,
) -> ScalingActivity {
    ScalingActivity {
        activity_id: Some(id),
        service_namespace: Some(ServiceNamespace::Ecs),
        resource_id: rec.target.resource_id.clone(),
        scalable_dimension: Some(ScalableDimension::EcsServiceDesiredCount),
        description: Some(description),
        cause: Some(cause),
        start_time: Some(Timestamp::from_millis(now_ms)),
        end_time: Some(Timestamp::from_millis(now_ms)),
        status_code: Some(ScalingActivityStatusCode::InProgress),
        ..ScalingActivity::default()
    }
}

fn push_activity(rec: &mut TargetRecord, a: ScalingActivity) {
    rec.activities.insert(0, a);
    rec.activities.truncate(MAX_ACTIVITIES);
}

/// One pass over one target: its record afterwards and the desired count
/// to set, if any. `new_id` names new activities.
pub fn step(
    rec: &TargetRecord,
    service: ServiceView,
    alarms: &AlarmViews,
    steps: &[StepAsk],
    now_ms: i64,
    new_id: &mut dyn FnMut() -> String,
) -> (TargetRecord, Option<SetDesired>) {
    let mut rec = rec.clone();
    let suspended = rec.target.suspended_state.clone();
    // Scheduled actions that are due: new bounds.
    if !suspended.as_ref().and_then(|s| s.scheduled_scaling_suspended).unwrap_or(false) {
        let mut due = Vec::new();
        for a in &rec.scheduled {
            let name = a.scheduled_action_name.clone().unwrap_or_default();
            let Some(Ok(s)) = a.schedule.as_deref().map(schedule::parse) else { continue };
            let created = a.creation_time.map_or(now_ms, Timestamp::as_millis);
            let start = a.start_time.map_or(created, Timestamp::as_millis);
            let last = rec.memory.scheduled_runs.get(&name).copied().unwrap_or(created.min(start));
            let Some(next) = s.next_after(last, start) else { continue };
            let ended = a.end_time.is_some_and(|e| next > e.as_millis());
            if next <= now_ms && next >= start && !ended {
                due.push((name, a.scalable_target_action.clone().unwrap_or_default()));
            }
        }
        for (name, action) in due {
            rec.memory.scheduled_runs.insert(name.clone(), now_ms);
            let t = &mut rec.target;
            let min = action.min_capacity.unwrap_or(t.min_capacity.unwrap_or(0));
            let max = action.max_capacity.unwrap_or(t.max_capacity.unwrap_or(0)).max(min);
            t.min_capacity = Some(min);
            t.max_capacity = Some(max);
            let mut a = activity(
                &rec,
                new_id(),
                format!("Setting min capacity to {min} and max capacity to {max}"),
                format!("scheduled action name {name} was triggered"),
                now_ms,
            );
            a.status_code = Some(ScalingActivityStatusCode::Successful);
            a.status_message =
                Some(format!("Successfully set min capacity to {min} and max capacity to {max}"));
            push_activity(&mut rec, a);
        }
    }
    let (min, max) = (rec.target.min_capacity.unwrap_or(0), rec.target.max_capacity.unwrap_or(0));
    let current = service.desired;
    // Outside the bounds: back within them first.
    let (to, cause, out) = if current < min {
        (min, format!("minimum capacity was set to {min}"), true)
    } else if current > max {
        (max, format!("maximum capacity was set to {max}"), false)
    } else {
        match policy::decide(
            &rec.policies,
            alarms,
            steps,
            current,
            (min, max),
            &rec.memory,
            suspended.as_ref(),
            service.deploying,
            now_ms,
        ) {
            Decision::Scale { to, cause, out } => (to, cause, out),
            Decision::Hold => return (rec, None),
        }
    };
    if to == current {
        return (rec, None);
    }
    if out {
        rec.memory.scaled_out_ms = Some(now_ms);
        rec.memory.scaled_out_to = Some(to);
        rec.memory.scaled_out_from = Some(current);
    } else {
        rec.memory.scaled_in_ms = Some(now_ms);
    }
    let a = activity(&rec, new_id(), format!("Setting desired count to {to}."), cause, now_ms);
    (rec, Some(SetDesired { to, activity: a }))
}

/// Everything the loop works with.
#[derive(Debug, Clone)]
pub struct ServiceScaling {
    /// The operations (the store, the clock and the metric data among them).
    pub ops: Ops,
}

fn unreadable() -> EcsError {
    EcsError::server("A stored scalable target could not be read.")
}

impl ServiceScaling {
    /// One pass: every region's alarms, then its scalable targets.
    pub async fn pass(&self) -> Result<(), OpsError> {
        let mut regions = self.ops.store.regions(Kind::ScalableTarget).await?;
        regions.extend(self.ops.store.regions(Kind::MetricAlarm).await?);
        regions.sort();
        regions.dedup();
        for region in regions {
            let alarms = self.evaluate_alarms(&region).await?;
            let r = self.ops.region(&region);
            for rec in wharf_ops::autoscaling::all(r).await? {
                if let Err(e) = self.one(&region, rec, &alarms).await {
                    tracing::warn!(error = %e, "a scalable target was not evaluated");
                }
            }
        }
        Ok(())
    }

    /// Evaluates every alarm of the region on this server's metric data,
    /// writes the changes of state, and returns each alarm as the policies
    /// read it, with its actions.
    pub async fn evaluate_alarms(
        &self,
        region: &str,
    ) -> Result<Vec<(String, Vec<String>, AlarmView)>, OpsError> {
        let r = self.ops.region(region);
        let now = self.ops.clock.now_millis();
        let mut out = Vec::new();
        for record in wharf_ops::alarms::all(r).await? {
            let name = record.alarm.alarm_name.clone().unwrap_or_default();
            let periods = wharf_ops::alarms::periods(&self.ops.metrics, region, &record.alarm, now)
                .unwrap_or_default();
            let verdict = evaluate::verdict(&record.alarm, &periods);
            let st = state::state(&record, verdict.as_ref(), now);
            if st.value != record.alarm.state_value.clone().unwrap_or(StateValue::InsufficientData)
                || record.set.is_some()
            {
                wharf_ops::alarms::persist(r, &name, verdict, now).await?;
            }
            let view = AlarmView {
                in_alarm: st.value == StateValue::Alarm,
                last_value: periods.iter().rev().flatten().next().copied(),
                threshold: record.alarm.threshold.unwrap_or(0.0),
            };
            out.push((name, record.alarm.alarm_actions.clone().unwrap_or_default(), view));
        }
        Ok(out)
    }

    async fn one(
        &self,
        region: &str,
        rec: TargetRecord,
        alarms: &[(String, Vec<String>, AlarmView)],
    ) -> Result<(), OpsError> {
        let r = self.ops.region(region);
        let resource_id = rec.target.resource_id.clone().unwrap_or_default();
        let Ok((cluster, service)) = rules::service_of(&resource_id) else { return Ok(()) };
        let names = Names::new(&r.scope(), cluster, service);
        let Some(svc) = wharf_ops::service::load(r, &names).await? else { return Ok(()) };
        if svc.service.status != Some(ServiceStatus::Active) {
            return Ok(());
        }
        let view = ServiceView {
            desired: svc.service.desired_count.unwrap_or(0),
            deploying: svc.service.deployments.as_ref().is_some_and(|d| d.len() > 1),
        };
        let now = self.ops.clock.now_millis();
        let views: AlarmViews = alarms.iter().map(|(n, _, v)| (n.clone(), v.clone())).collect();
        let asks = step_asks(&rec, alarms, view.desired, now);
        let decided: Arc<Mutex<Option<SetDesired>>> = Arc::new(Mutex::new(None));
        let out = decided.clone();
        let entropy = self.ops.entropy.clone();
        let key = rules::key(&resource_id);
        self.ops
            .store
            .update(
                Kind::ScalableTarget,
                region,
                &key,
                Box::new(move |current| {
                    let Some(current) = current else { return Ok(Write::Keep) };
                    let stored: TargetRecord =
                        serde_json::from_str(&current).map_err(|_| unreadable())?;
                    let mut new_id = || uuid_from(entropy.next_u64(), entropy.next_u64());
                    let (after, set) = step(&stored, view, &views, &asks, now, &mut new_id);
                    if let Ok(mut o) = out.lock() {
                        *o = set;
                    }
                    if after == stored {
                        return Ok(Write::Keep);
                    }
                    serde_json::to_string(&after).map(Write::Put).map_err(|_| unreadable())
                }),
            )
            .await?;
        let set = decided.lock().ok().and_then(|mut d| d.take());
        let Some(set) = set else { return Ok(()) };
        let (status, message) = match self.set_desired(region, &names, &set, now).await {
            Ok(()) => (
                ScalingActivityStatusCode::Successful,
                format!(
                    "Successfully set desired count to {}. Change successfully fulfilled by ecs.",
                    set.to
                ),
            ),
            Err(e) => (
                ScalingActivityStatusCode::Failed,
                format!("Failed to set desired count to {}: {e}", set.to),
            ),
        };
        let mut done = set.activity.clone();
        done.status_code = Some(status);
        done.status_message = Some(message);
        wharf_ops::autoscaling::update(r, &resource_id, move |cur| {
            let Some(mut rec) = cur else { return Ok(None) };
            rec.activities.insert(0, done.clone());
            rec.activities.truncate(MAX_ACTIVITIES);
            Ok(Some(rec))
        })
        .await?;
        Ok(())
    }

    /// Sets the service's desired count and tells its events why.
    async fn set_desired(
        &self,
        region: &str,
        names: &Names,
        set: &SetDesired,
        now: i64,
    ) -> Result<(), OpsError> {
        let r = self.ops.region(region);
        let random = self.ops.entropy.next_u64();
        let event_id = uuid_from(self.ops.entropy.next_u64(), self.ops.entropy.next_u64());
        let (to, cause) = (set.to, set.activity.cause.clone().unwrap_or_default());
        let names2 = names.clone();
        wharf_ops::service::update_active(r, names, move |rec| {
            let name = rec.service.service_name.clone().unwrap_or_default();
            let from = rec.service.desired_count.unwrap_or(0);
            ServiceUpdate { desired: Some(to), ..ServiceUpdate::default() }
                .apply(rec, &names2, now, random);
            let msg = format!(
                "(service {name}) Application Auto Scaling set its desired count from {from} to \
                 {to}: {cause}."
            );
            crate::services::events::emit(rec, msg, now, event_id.clone());
            Ok(())
        })
        .await?;
        Ok(())
    }
}

fn uuid_from(a: u64, b: u64) -> String {
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        (b >> 48) & 0x3fff | 0x8000,
        b & 0xffff_ffff_ffff
    )
}

/// Runs a pass a quarter of a period after each period ends (the server's
/// metric gatherer writes the period's values a tenth of a period after
/// its end), until `shutdown` turns `true`.
pub async fn run(
    scaling: ServiceScaling,
    period: Duration,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let period_ms = i64::try_from(period.as_millis()).unwrap_or(60_000).max(1);
    loop {
        let now = scaling.ops.clock.now_millis();
        let wait =
            Duration::from_millis(u64::try_from(next_pass(now, period_ms) - now).unwrap_or(0));
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
        if let Err(e) = scaling.pass().await {
            tracing::warn!(error = %e, "service auto scaling pass failed");
        }
    }
}

/// When the pass after `now_ms` runs: a quarter of a period after the next
/// period boundary.
pub fn next_pass(now_ms: i64, period_ms: i64) -> i64 {
    let boundary = (now_ms - period_ms / 4).div_euclid(period_ms) * period_ms;
    boundary + period_ms + period_ms / 4
}

#[cfg(test)]
mod tests {
    use super::*;
    use wharf_model::application_autoscaling::record::PolicyRecord;
    use wharf_model::application_autoscaling::shapes::{
        AdjustmentType, Alarm, ScalableTarget, ScalableTargetAction, ScalingPolicy,
        ScheduledAction, StepAdjustment, StepScalingPolicyConfiguration,
        TargetTrackingScalingPolicyConfiguration,
    };

    const HIGH: &str = "TargetTracking-service/c/web-AlarmHigh-1";
    const LOW: &str = "TargetTracking-service/c/web-AlarmLow-2";

    fn record(disable_in: bool) -> TargetRecord {
        TargetRecord {
            target: ScalableTarget {
                resource_id: Some("service/c/web".into()),
                min_capacity: Some(1),
                max_capacity: Some(10),
                ..ScalableTarget::default()
            },
            policies: vec![PolicyRecord {
                policy: ScalingPolicy {
                    policy_name: Some("cpu50".into()),
                    policy_type: Some(PolicyType::TargetTrackingScaling),
                    target_tracking_scaling_policy_configuration: Some(
                        TargetTrackingScalingPolicyConfiguration {
                            target_value: Some(50.0),
                            scale_out_cooldown: Some(0),
                            scale_in_cooldown: Some(0),
                            disable_scale_in: Some(disable_in),
                            ..Default::default()
                        },
                    ),
                    alarms: Some(
                        [HIGH, LOW]
                            .iter()
                            .map(|n| Alarm { alarm_name: Some((*n).into()), alarm_arn: None })
                            .collect(),
                    ),
                    ..ScalingPolicy::default()
                },
            }],
            ..TargetRecord::default()
        }
    }

    fn ids() -> impl FnMut() -> String {
        let mut n = 0;
        move || {
            n += 1;
            format!("a{n}")
        }
    }

    /// The two alarms: in ALARM when given a value.
    fn views(high: Option<f64>, low: Option<f64>) -> AlarmViews {
        let view =
            |v: Option<f64>| AlarmView { in_alarm: v.is_some(), last_value: v, threshold: 0.0 };
        AlarmViews::from([(HIGH.to_owned(), view(high)), (LOW.to_owned(), view(low))])
    }

    fn at(desired: i32) -> ServiceView {
        ServiceView { desired, deploying: false }
    }

    #[test]
    fn passes_run_after_the_gatherer() {
        assert_eq!(next_pass(0, 60_000), 15_000);
        assert_eq!(next_pass(14_999, 60_000), 15_000);
        assert_eq!(next_pass(15_000, 60_000), 75_000);
        assert_eq!(next_pass(70_000, 60_000), 75_000);
    }

    #[test]
    fn the_high_alarm_scales_out_proportionally() {
        let rec = record(false);
        let (_, set) = step(&rec, at(1), &views(None, None), &[], 180_000, &mut ids());
        assert_eq!(set, None, "no alarm, no scaling");
        let (after, set) = step(&rec, at(1), &views(Some(100.0), None), &[], 240_000, &mut ids());
        let set = set.expect("a scale out");
        assert_eq!(set.to, 2, "ceil(1 × 100 / 50)");
        assert_eq!(
            set.activity.cause.as_deref(),
            Some(format!("monitor alarm {HIGH} in state ALARM triggered policy cpu50").as_str())
        );
        assert_eq!(set.activity.description.as_deref(), Some("Setting desired count to 2."));
        assert_eq!(after.memory.scaled_out_to, Some(2));
        // Hotter at 2 tasks: 2 × 180 / 50 = 7.2 → 8.
        let (_, set) = step(&after, at(2), &views(Some(180.0), None), &[], 300_000, &mut ids());
        assert_eq!(set.map(|s| s.to), Some(8));
    }

    #[test]
    fn the_low_alarm_scales_in_to_the_minimum_at_most() {
        let rec = record(false);
        let (_, set) = step(&rec, at(6), &views(None, Some(5.0)), &[], 1_000_000, &mut ids());
        assert_eq!(set.map(|s| s.to), Some(1), "ceil(6 × 5 / 50) = 1");
        // Scale in disabled: nothing.
        let (_, set) =
            step(&record(true), at(6), &views(None, Some(5.0)), &[], 1_000_000, &mut ids());
        assert_eq!(set, None);
        // Deploying: nothing.
        let deploying = ServiceView { desired: 6, deploying: true };
        assert_eq!(
            step(&rec, deploying, &views(None, Some(5.0)), &[], 1_000_000, &mut ids()).1,
            None
        );
    }

    #[test]
    fn a_step_policy_acts_on_the_alarms_that_name_it() {
        let mut rec = record(false);
        rec.policies.push(PolicyRecord {
            policy: ScalingPolicy {
                policy_name: Some("burst".into()),
                policy_arn: Some("arn:policy/burst".into()),
                policy_type: Some(PolicyType::StepScaling),
                step_scaling_policy_configuration: Some(StepScalingPolicyConfiguration {
                    adjustment_type: Some(AdjustmentType::ChangeInCapacity),
                    step_adjustments: Some(vec![
                        StepAdjustment {
                            metric_interval_lower_bound: Some(0.0),
                            metric_interval_upper_bound: Some(20.0),
                            scaling_adjustment: Some(1),
                        },
                        StepAdjustment {
                            metric_interval_lower_bound: Some(20.0),
                            metric_interval_upper_bound: None,
                            scaling_adjustment: Some(3),
                        },
                    ]),
                    cooldown: Some(60),
                    ..Default::default()
                }),
                ..ScalingPolicy::default()
            },
        });
        let alarm = |in_alarm: bool, value: f64| AlarmView {
            in_alarm,
            last_value: Some(value),
            threshold: 70.0,
        };
        let named = vec!["arn:policy/burst".to_owned()];
        let alarms = vec![
            ("busy".to_owned(), named.clone(), alarm(true, 95.0)),
            ("other".to_owned(), vec![], alarm(true, 95.0)),
        ];
        let asks = step_asks(&rec, &alarms, 2, 1_000_000);
        assert_eq!(asks.len(), 1, "only the alarm naming the policy");
        assert_eq!(asks[0].capacity, 5, "95 - 70 = 25: the second step adds 3");
        assert_eq!(asks[0].cause, "monitor alarm busy in state ALARM triggered policy burst");
        assert_eq!(asks[0].cooldown_ms, 60_000);
        let (after, set) = step(&rec, at(2), &views(None, None), &asks, 1_000_000, &mut ids());
        assert_eq!(set.map(|s| s.to), Some(5));
        // Within the cooldown the alarm still in ALARM adds nothing: its 3
        // count from the 2 before the scale out.
        let asks = step_asks(&after, &alarms, 5, 1_030_000);
        assert_eq!(asks[0].capacity, 5);
        assert_eq!(step(&after, at(5), &views(None, None), &asks, 1_030_000, &mut ids()).1, None);
        // After it, it adds again.
        let asks = step_asks(&after, &alarms, 5, 1_060_000);
        let (_, set) = step(&after, at(5), &views(None, None), &asks, 1_060_000, &mut ids());
        assert_eq!(set.map(|s| s.to), Some(8));
        // Not in ALARM: nothing.
        let quiet = vec![("busy".to_owned(), named, alarm(false, 95.0))];
        assert!(step_asks(&rec, &quiet, 2, 1_000_000).is_empty());
    }

    #[test]
    fn scheduled_actions_change_the_bounds_on_time() {
        let mut rec = record(false);
        rec.scheduled.push(ScheduledAction {
            scheduled_action_name: Some("night".into()),
            schedule: Some("at(1970-01-01T00:10:00)".into()),
            creation_time: Some(Timestamp::from_millis(0)),
            scalable_target_action: Some(ScalableTargetAction {
                min_capacity: Some(3),
                max_capacity: Some(5),
            }),
            ..ScheduledAction::default()
        });
        let none = views(None, None);
        let (before, set) = step(&rec, at(1), &none, &[], 599_000, &mut ids());
        assert_eq!((before.target.min_capacity, set), (Some(1), None));
        let (after, set) = step(&rec, at(1), &none, &[], 600_000, &mut ids());
        assert_eq!((after.target.min_capacity, after.target.max_capacity), (Some(3), Some(5)));
        assert_eq!(
            after.activities[0].cause.as_deref(),
            Some("scheduled action name night was triggered")
        );
        // The service is below the new minimum: up to it.
        let set = set.expect("back within the bounds");
        assert_eq!(set.to, 3);
        assert_eq!(set.activity.cause.as_deref(), Some("minimum capacity was set to 3"));
        // It ran once.
        let (again, _) = step(&after, at(3), &none, &[], 700_000, &mut ids());
        assert_eq!(again.activities.len(), after.activities.len());
    }
}
