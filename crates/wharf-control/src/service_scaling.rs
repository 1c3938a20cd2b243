//! Service auto scaling: Application Auto Scaling's scalable targets for
//! ECS services, evaluated once a metric period on the leading server.
//!
//! [`step`] is pure: from a target's record, the service as it is (its
//! desired count, whether it is deploying), the statistic of each alarm's
//! recent periods and the time, it decides the alarms' states, runs the
//! scheduled actions that are due (new minimum and maximum), keeps the
//! desired count within them, and lets target tracking scale
//! (`wharf_model::application_autoscaling::policy::decide`); each change is
//! a scaling activity. The loop gathers the metrics (`Ops::metrics`, fed by
//! the server's metric gatherer), steps inside the record's atomic update,
//! then sets the service's desired count as UpdateService does and adds the
//! activity to its events.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use wharf_model::application_autoscaling::policy::{self, Decision};
use wharf_model::application_autoscaling::record::{AlarmRecord, TargetRecord};
use wharf_model::application_autoscaling::rules::{self, MAX_ACTIVITIES};
use wharf_model::application_autoscaling::schedule;
use wharf_model::application_autoscaling::shapes::{
    ScalableDimension, ScalingActivity, ScalingActivityStatusCode, ServiceNamespace,
};
use wharf_model::cloudwatch_metrics::alarm::{self, Rule};
use wharf_model::cloudwatch_metrics::series::MetricKey;
use wharf_model::cloudwatch_metrics::shapes::{ComparisonOperator, StateValue, Statistic};
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

/// The statistic of each of an alarm's recent periods, oldest first
/// (`None`: no data), by alarm name.
pub type AlarmData = BTreeMap<String, Vec<Option<f64>>>;

/// A change to make to the service.
#[derive(Debug, Clone, PartialEq)]
pub struct SetDesired {
    /// The new desired count.
    pub to: i32,
    /// The activity to record (its status decided when applied).
    pub activity: ScalingActivity,
}

fn state_name(s: &StateValue) -> &'static str {
    match s {
        StateValue::Alarm => "ALARM",
        StateValue::Ok => "OK",
        _ => "INSUFFICIENT_DATA",
    }
}

/// An alarm's new state from its periods.
fn evaluate(a: &mut AlarmRecord, data: &[Option<f64>], now_ms: i64) {
    let rule = Rule {
        threshold: a.threshold,
        comparison: ComparisonOperator::from(a.comparison.as_str()),
        evaluation_periods: a.evaluation_periods as usize,
        datapoints_to_alarm: a.datapoints_to_alarm as usize,
        treat_missing: "missing".into(),
    };
    let current = match a.state.as_str() {
        "ALARM" => StateValue::Alarm,
        "OK" => StateValue::Ok,
        _ => StateValue::InsufficientData,
    };
    let next = alarm::evaluate(&rule, data, &current);
    a.last_value = data.iter().rev().flatten().next().copied();
    a.updated_ms = now_ms;
    if next != current {
        let shown: Vec<String> = data
            .iter()
            .rev()
            .take(a.evaluation_periods as usize)
            .map(|v| v.map_or("missing".to_owned(), |v| format!("{v:.3}")))
            .collect();
        a.state = state_name(&next).to_owned();
        a.state_reason = match next {
            StateValue::InsufficientData => {
                format!("Insufficient Data: {} datapoints were unknown.", a.evaluation_periods)
            }
            _ => format!(
                "Threshold Crossed: {} datapoint(s) [{}] {} the threshold ({}).",
                shown.len(),
                shown.join(", "),
                if next == StateValue::Alarm { "breached" } else { "did not breach" },
                a.threshold
            ),
        };
        a.state_changed_ms = now_ms;
    }
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
    data: &AlarmData,
    steps: &[policy::StepAsk],
    now_ms: i64,
    new_id: &mut dyn FnMut() -> String,
) -> (TargetRecord, Option<SetDesired>) {
    let mut rec = rec.clone();
    for p in &mut rec.policies {
        for a in &mut p.alarms {
            let periods = data.get(&a.name).map(Vec::as_slice).unwrap_or(&[]);
            evaluate(a, periods, now_ms);
        }
    }
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
    } else {
        rec.memory.scaled_in_ms = Some(now_ms);
    }
    let a = activity(&rec, new_id(), format!("Setting desired count to {to}."), cause, now_ms);
    (rec, Some(SetDesired { to, activity: a }))
}

/// The recent periods' statistic of an alarm's metric, oldest first, from
/// this server's metric data: `evaluation_periods` whole periods ending at
/// the last period boundary before `now_ms`.
pub fn alarm_periods(ops: &Ops, region: &str, a: &AlarmRecord, now_ms: i64) -> Vec<Option<f64>> {
    let period = i64::from(a.period_s.max(1)) * 1000;
    let end = now_ms.div_euclid(period) * period;
    let start = end - i64::from(a.evaluation_periods.max(1)) * period;
    let dims: Vec<(&str, &str)> =
        a.dimensions.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    let key = MetricKey::new(&a.namespace, &a.metric_name, &dims);
    let got = ops.metrics.query(region, &key, start, end, period);
    let statistic = Statistic::from(a.statistic.as_str());
    (0..a.evaluation_periods.max(1))
        .map(|i| {
            let at = start + i64::from(i) * period;
            got.iter().find(|(t, _)| *t == at).and_then(|(_, s)| s.statistic(&statistic))
        })
        .collect()
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
    /// One pass over every scalable target of every region.
    pub async fn pass(&self) -> Result<(), OpsError> {
        for region in self.ops.store.regions(Kind::ScalableTarget).await? {
            let r = self.ops.region(&region);
            for rec in wharf_ops::autoscaling::all(r).await? {
                if let Err(e) = self.one(&region, rec).await {
                    tracing::warn!(error = %e, "a scalable target was not evaluated");
                }
            }
        }
        Ok(())
    }

    async fn one(&self, region: &str, rec: TargetRecord) -> Result<(), OpsError> {
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
        let mut data = AlarmData::new();
        for p in &rec.policies {
            for a in &p.alarms {
                data.insert(a.name.clone(), alarm_periods(&self.ops, region, a, now));
            }
        }
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
                    let (after, set) = step(&stored, view, &data, &[], now, &mut new_id);
                    if let Ok(mut o) = out.lock() {
                        *o = set;
                    }
                    if unchanged_but_readings(&after, &stored) {
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

/// Whether `after` differs from `stored` only in what each pass reads
/// afresh (the alarms' latest values and evaluation times): then nothing
/// is written, so a pass over targets whose alarms keep their state costs
/// no store write.
fn unchanged_but_readings(after: &TargetRecord, stored: &TargetRecord) -> bool {
    let mut a = after.clone();
    for (p, sp) in a.policies.iter_mut().zip(&stored.policies) {
        for (alarm, kept) in p.alarms.iter_mut().zip(&sp.alarms) {
            alarm.last_value = kept.last_value;
            alarm.updated_ms = kept.updated_ms;
        }
    }
    a == *stored
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
        PolicyType, ScalableTarget, ScalableTargetAction, ScalingPolicy, ScheduledAction,
        TargetTrackingScalingPolicyConfiguration,
    };

    fn alarm(name: &str, high: bool, threshold: f64, periods: u32) -> AlarmRecord {
        AlarmRecord {
            name: name.into(),
            high,
            threshold,
            comparison: if high { "GreaterThanThreshold" } else { "LessThanThreshold" }.into(),
            evaluation_periods: periods,
            datapoints_to_alarm: periods,
            period_s: 60,
            state: "INSUFFICIENT_DATA".into(),
            ..AlarmRecord::default()
        }
    }

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
                    ..ScalingPolicy::default()
                },
                alarms: vec![alarm("high", true, 50.0, 3), alarm("low", false, 45.0, 15)],
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

    fn data(high: &[Option<f64>], low: &[Option<f64>]) -> AlarmData {
        AlarmData::from([("high".to_owned(), high.to_vec()), ("low".to_owned(), low.to_vec())])
    }

    const SERVICE: ServiceView = ServiceView { desired: 1, deploying: false };

    #[test]
    fn passes_run_after_the_gatherer() {
        assert_eq!(next_pass(0, 60_000), 15_000);
        assert_eq!(next_pass(14_999, 60_000), 15_000);
        assert_eq!(next_pass(15_000, 60_000), 75_000);
        assert_eq!(next_pass(70_000, 60_000), 75_000);
    }

    #[test]
    fn three_hot_periods_scale_out_proportionally() {
        let rec = record(false);
        // Two hot periods: not yet.
        let d = data(&[None, Some(95.0), Some(95.0)], &[None; 15]);
        let (after, set) = step(&rec, SERVICE, &d, &[], 180_000, &mut ids());
        assert_eq!(set, None);
        assert_eq!(after.policies[0].alarms[0].state, "OK");
        let d = data(&[Some(95.0), Some(95.0), Some(100.0)], &[None; 15]);
        let (after, set) = step(&rec, SERVICE, &d, &[], 240_000, &mut ids());
        let set = set.expect("a scale out");
        assert_eq!(set.to, 2, "ceil(1 × 100 / 50)");
        assert_eq!(after.policies[0].alarms[0].state, "ALARM");
        assert_eq!(
            set.activity.cause.as_deref(),
            Some("monitor alarm high in state ALARM triggered policy cpu50")
        );
        assert_eq!(set.activity.description.as_deref(), Some("Setting desired count to 2."));
        assert_eq!(after.memory.scaled_out_to, Some(2));
        // Hotter at 2 tasks: 2 × 180 / 50 = 7.2 → 8.
        let d = data(&[Some(180.0); 3], &[None; 15]);
        let (_, set) = step(
            &after,
            ServiceView { desired: 2, deploying: false },
            &d,
            &[],
            300_000,
            &mut ids(),
        );
        assert_eq!(set.map(|s| s.to), Some(8));
    }

    #[test]
    fn fifteen_cool_periods_scale_in_to_the_minimum_at_most() {
        let rec = record(false);
        let cool = vec![Some(5.0); 15];
        let d = data(&[Some(5.0); 3], &cool);
        let (_, set) = step(
            &rec,
            ServiceView { desired: 6, deploying: false },
            &d,
            &[],
            1_000_000,
            &mut ids(),
        );
        assert_eq!(set.map(|s| s.to), Some(1), "ceil(6 × 5 / 50) = 1");
        // Fourteen are not enough.
        let mut fourteen = cool.clone();
        fourteen[0] = None;
        let d = data(&[Some(5.0); 3], &fourteen);
        assert_eq!(
            step(
                &rec,
                ServiceView { desired: 6, deploying: false },
                &d,
                &[],
                1_000_000,
                &mut ids()
            )
            .1,
            None
        );
        // Scale in disabled: nothing.
        let d = data(&[Some(5.0); 3], &cool);
        assert_eq!(
            step(
                &record(true),
                ServiceView { desired: 6, deploying: false },
                &d,
                &[],
                1_000_000,
                &mut ids()
            )
            .1,
            None
        );
        // No data: no scaling, no scale in.
        let d = data(&[None; 3], &[None; 15]);
        let (after, set) = step(
            &rec,
            ServiceView { desired: 6, deploying: false },
            &d,
            &[],
            1_000_000,
            &mut ids(),
        );
        assert_eq!(set, None);
        assert_eq!(after.policies[0].alarms[1].state, "INSUFFICIENT_DATA");
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
        let d = data(&[None; 3], &[None; 15]);
        let (before, set) = step(&rec, SERVICE, &d, &[], 599_000, &mut ids());
        assert_eq!((before.target.min_capacity, set), (Some(1), None));
        let (after, set) = step(&rec, SERVICE, &d, &[], 600_000, &mut ids());
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
        let (again, _) = step(
            &after,
            ServiceView { desired: 3, deploying: false },
            &d,
            &[],
            700_000,
            &mut ids(),
        );
        assert_eq!(again.activities.len(), after.activities.len());
    }
}
