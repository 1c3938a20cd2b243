//! How target tracking decides, as Application Auto Scaling documents it.
//! A policy's high alarm (the metric above the target for three periods)
//! asks for `ceil(capacity × metric / target)` tasks, at least one more;
//! its low alarm (below 90% of the target for fifteen periods) asks for as
//! many, fewer. The target scales out when any policy asks (the largest
//! capacity asked wins) and in only when every policy that may scale in
//! asks (again the largest). Capacities stay within the target's minimum
//! and maximum; a scale out waits for the scale-out cooldown unless it asks
//! for more than the last one did; a scale in waits for the scale-in
//! cooldown and for the scale-out cooldown after a scale out, and never
//! happens while the service is deploying. Suspended scaling does nothing.
//! Step scaling policies whose alarms are in ALARM ask too ([`StepAsk`],
//! each with its own cooldown); the largest capacity asked wins, for scale
//! out as for scale in.

use std::collections::BTreeMap;

use super::record::{Memory, PolicyRecord};
use super::rules::DEFAULT_COOLDOWN_S;
use super::shapes::{PolicyType, SuspendedState};

/// An alarm as the policies read it: in ALARM or not, and the latest
/// value of its metric's statistic.
#[derive(Debug, Clone, PartialEq)]
pub struct AlarmView {
    /// Whether it is in ALARM.
    pub in_alarm: bool,
    /// The statistic of its latest period with data.
    pub last_value: Option<f64>,
    /// Its threshold.
    pub threshold: f64,
}

/// The alarms of a region as the policies read them, by name.
pub type AlarmViews = BTreeMap<String, AlarmView>;

/// Whether a target tracking alarm is the high one (scale out), by the name
/// Application Auto Scaling gives it.
pub fn is_high(name: &str) -> bool {
    name.contains("-AlarmHigh-")
}

/// What one policy asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct Ask {
    /// The capacity.
    pub capacity: i32,
    /// Why: `monitor alarm <name> in state ALARM triggered policy <policy>`.
    pub cause: String,
}

/// What a step scaling policy whose alarm is in ALARM asks for
/// ([`super::step::capacity`]).
#[derive(Debug, Clone, PartialEq)]
pub struct StepAsk {
    /// The capacity.
    pub capacity: i32,
    /// Why: `monitor alarm <name> in state ALARM triggered policy <policy>`.
    pub cause: String,
    /// The policy's cooldown, ms.
    pub cooldown_ms: i64,
}

/// What the policies decide for one target.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Set the capacity.
    Scale {
        /// The new capacity.
        to: i32,
        /// Why.
        cause: String,
        /// Whether it is a scale out.
        out: bool,
    },
    /// Nothing.
    Hold,
}

fn cooldown_ms(v: Option<i32>) -> i64 {
    i64::from(v.unwrap_or(DEFAULT_COOLDOWN_S)) * 1000
}

/// `ceil(capacity × value / target)`.
pub fn proportional(capacity: i32, value: f64, target: f64) -> i32 {
    let want = (f64::from(capacity) * value / target).ceil();
    if want.is_finite() {
        want.clamp(0.0, f64::from(i32::MAX)) as i32
    } else {
        capacity
    }
}

/// What one target tracking policy asks for, given its alarms' states and
/// latest values, at `capacity`: (scale out, scale in).
pub fn ask(p: &PolicyRecord, capacity: i32, alarms: &AlarmViews) -> (Option<Ask>, Option<Ask>) {
    let (Some(config), Some(PolicyType::TargetTrackingScaling)) =
        (&p.policy.target_tracking_scaling_policy_configuration, &p.policy.policy_type)
    else {
        return (None, None);
    };
    let target = config.target_value.unwrap_or(0.0);
    let name = p.policy.policy_name.clone().unwrap_or_default();
    let alarmed = |high: bool| {
        p.policy.alarms.iter().flatten().find_map(|a| {
            let alarm = a.alarm_name.as_deref()?;
            let view = alarms.get(alarm)?;
            (is_high(alarm) == high && view.in_alarm).then(|| {
                let cause = format!("monitor alarm {alarm} in state ALARM triggered policy {name}");
                (view.last_value, cause)
            })
        })
    };
    let out = alarmed(true).and_then(|(v, cause)| {
        Some(Ask { capacity: proportional(capacity, v?, target).max(capacity + 1), cause })
    });
    let scale_in = !config.disable_scale_in.unwrap_or(false);
    let inward = alarmed(false).filter(|_| scale_in).and_then(|(v, cause)| {
        let to = proportional(capacity, v?, target);
        (to < capacity).then_some(Ask { capacity: to, cause })
    });
    (out, inward)
}

/// The decision for a target at `capacity` (the service's desired count)
/// within `min`..=`max`, from its target tracking policies and the step
/// scaling policies whose alarms are in ALARM (`steps`).
#[allow(clippy::too_many_arguments)]
pub fn decide(
    policies: &[PolicyRecord],
    alarms: &AlarmViews,
    steps: &[StepAsk],
    capacity: i32,
    (min, max): (i32, i32),
    memory: &Memory,
    suspended: Option<&SuspendedState>,
    deploying: bool,
    now_ms: i64,
) -> Decision {
    let tracking: Vec<&PolicyRecord> = policies
        .iter()
        .filter(|p| p.policy.policy_type == Some(PolicyType::TargetTrackingScaling))
        .collect();
    let asks: Vec<(Option<Ask>, Option<Ask>)> =
        tracking.iter().map(|p| ask(p, capacity, alarms)).collect();
    let out_suspended = suspended.and_then(|s| s.dynamic_scaling_out_suspended).unwrap_or(false);
    let in_suspended = suspended.and_then(|s| s.dynamic_scaling_in_suspended).unwrap_or(false);
    let cooldowns = |f: fn(&PolicyRecord) -> Option<i32>| {
        tracking.iter().map(|p| cooldown_ms(f(p))).max().unwrap_or(0)
    };
    let out_cooldown = cooldowns(|p| {
        p.policy.target_tracking_scaling_policy_configuration.as_ref()?.scale_out_cooldown
    });
    let in_cooldown = cooldowns(|p| {
        p.policy.target_tracking_scaling_policy_configuration.as_ref()?.scale_in_cooldown
    });
    // Scale out: any policy; the largest capacity.
    let outs = asks
        .iter()
        .filter_map(|(o, _)| o.as_ref())
        .map(|a| (a.capacity, &a.cause, out_cooldown))
        .chain(
            steps
                .iter()
                .filter(|s| s.capacity > capacity)
                .map(|s| (s.capacity, &s.cause, s.cooldown_ms)),
        );
    if let Some((want, cause, cooldown)) = outs.max_by_key(|(c, _, _)| *c) {
        let to = want.clamp(min, max);
        let cooling = memory.scaled_out_ms.is_some_and(|at| now_ms - at < cooldown);
        let beyond_last = memory.scaled_out_to.is_none_or(|last| to > last);
        if !out_suspended && to > capacity && (!cooling || beyond_last) {
            return Decision::Scale { to, cause: cause.clone(), out: true };
        }
        return Decision::Hold;
    }
    // Scale in: every target tracking policy that may scale in asks (the
    // largest capacity), or a step policy asks; the largest capacity.
    let may_scale_in: Vec<&(Option<Ask>, Option<Ask>)> = tracking
        .iter()
        .zip(&asks)
        .filter(|(p, _)| {
            !p.policy
                .target_tracking_scaling_policy_configuration
                .as_ref()
                .and_then(|c| c.disable_scale_in)
                .unwrap_or(false)
        })
        .map(|(_, a)| a)
        .collect();
    let tracking_in = if !may_scale_in.is_empty() && may_scale_in.iter().all(|(_, i)| i.is_some()) {
        may_scale_in
            .iter()
            .filter_map(|(_, i)| i.as_ref())
            .max_by_key(|a| a.capacity)
            .map(|a| (a.capacity, &a.cause, in_cooldown, out_cooldown))
    } else {
        None
    };
    let step_in = steps
        .iter()
        .filter(|s| s.capacity < capacity)
        .map(|s| (s.capacity, &s.cause, s.cooldown_ms, s.cooldown_ms))
        .max_by_key(|(c, _, _, _)| *c);
    let Some((want, cause, in_cooldown, out_cooldown)) =
        tracking_in.into_iter().chain(step_in).max_by_key(|(c, _, _, _)| *c)
    else {
        return Decision::Hold;
    };
    let to = want.clamp(min, max);
    let cooling_in = memory.scaled_in_ms.is_some_and(|at| now_ms - at < in_cooldown);
    let cooling_out = memory.scaled_out_ms.is_some_and(|at| now_ms - at < out_cooldown);
    if in_suspended || deploying || cooling_in || cooling_out || to >= capacity {
        return Decision::Hold;
    }
    Decision::Scale { to, cause: cause.clone(), out: false }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::application_autoscaling::shapes::{
        Alarm, ScalingPolicy, TargetTrackingScalingPolicyConfiguration,
    };

    fn policy(
        name: &str,
        target: f64,
        high: Option<f64>,
        low: Option<f64>,
        no_in: bool,
    ) -> (PolicyRecord, AlarmViews) {
        let alarm = |which: &str| format!("TargetTracking-service/c/w-{which}-{name}");
        let view =
            |v: Option<f64>| AlarmView { in_alarm: v.is_some(), last_value: v, threshold: 0.0 };
        let views =
            AlarmViews::from([(alarm("AlarmHigh"), view(high)), (alarm("AlarmLow"), view(low))]);
        let record = PolicyRecord {
            policy: ScalingPolicy {
                policy_name: Some(name.into()),
                policy_type: Some(PolicyType::TargetTrackingScaling),
                target_tracking_scaling_policy_configuration: Some(
                    TargetTrackingScalingPolicyConfiguration {
                        target_value: Some(target),
                        scale_out_cooldown: Some(60),
                        scale_in_cooldown: Some(120),
                        disable_scale_in: Some(no_in),
                        ..Default::default()
                    },
                ),
                alarms: Some(
                    ["AlarmHigh", "AlarmLow"]
                        .iter()
                        .map(|w| Alarm { alarm_name: Some(alarm(w)), alarm_arn: None })
                        .collect(),
                ),
                ..Default::default()
            },
        };
        (record, views)
    }

    /// `decide` over policies made by [`policy`].
    #[allow(clippy::too_many_arguments)]
    fn decide_all(
        policies: &[(PolicyRecord, AlarmViews)],
        steps: &[StepAsk],
        capacity: i32,
        bounds: (i32, i32),
        memory: &Memory,
        suspended: Option<&SuspendedState>,
        deploying: bool,
        now_ms: i64,
    ) -> Decision {
        let records: Vec<PolicyRecord> = policies.iter().map(|(p, _)| p.clone()).collect();
        let views: AlarmViews = policies.iter().flat_map(|(_, v)| v.clone()).collect();
        decide(&records, &views, steps, capacity, bounds, memory, suspended, deploying, now_ms)
    }

    const NOW: i64 = 1_000_000;

    #[test]
    fn a_high_alarm_scales_out_proportionally_within_the_maximum() {
        let p = [policy("cpu", 50.0, Some(100.0), None, false)];
        let d = decide_all(&p, &[], 1, (1, 10), &Memory::default(), None, false, NOW);
        assert_eq!(
            d,
            Decision::Scale {
                to: 2,
                cause: "monitor alarm TargetTracking-service/c/w-AlarmHigh-cpu in state ALARM triggered policy cpu".into(),
                out: true
            }
        );
        let hot = [policy("cpu", 50.0, Some(400.0), None, false)];
        assert!(matches!(
            decide_all(&hot, &[], 2, (1, 10), &Memory::default(), None, false, NOW),
            Decision::Scale { to: 10, .. }
        ));
        assert!(matches!(
            decide_all(&hot, &[], 2, (1, 5), &Memory::default(), None, false, NOW),
            Decision::Scale { to: 5, .. }
        ));
        // Just above the target still adds one.
        let warm = [policy("cpu", 50.0, Some(51.0), None, false)];
        assert!(matches!(
            decide_all(&warm, &[], 4, (1, 10), &Memory::default(), None, false, NOW),
            Decision::Scale { to: 5, .. }
        ));
    }

    #[test]
    fn the_scale_out_cooldown_lets_only_a_larger_scale_out_through() {
        let hot = [policy("cpu", 50.0, Some(100.0), None, false)];
        let m = Memory {
            scaled_out_ms: Some(NOW - 10_000),
            scaled_out_to: Some(4),
            ..Memory::default()
        };
        assert_eq!(
            decide_all(&hot, &[], 2, (1, 10), &m, None, false, NOW),
            Decision::Hold,
            "4 asked already"
        );
        let hotter = [policy("cpu", 50.0, Some(150.0), None, false)];
        assert!(matches!(
            decide_all(&hotter, &[], 2, (1, 10), &m, None, false, NOW),
            Decision::Scale { to: 6, .. }
        ));
        assert!(matches!(
            decide_all(&hot, &[], 2, (1, 10), &m, None, false, NOW + 60_000),
            Decision::Scale { to: 4, .. }
        ));
    }

    #[test]
    fn a_scale_in_needs_every_policy_and_waits() {
        let cold = [policy("cpu", 50.0, None, Some(10.0), false)];
        assert!(matches!(
            decide_all(&cold, &[], 10, (1, 20), &Memory::default(), None, false, NOW),
            Decision::Scale { to: 2, out: false, .. }
        ));
        // Never below the minimum.
        assert!(matches!(
            decide_all(&cold, &[], 10, (4, 20), &Memory::default(), None, false, NOW),
            Decision::Scale { to: 4, .. }
        ));
        // Another policy not ready: no scale in.
        let mixed =
            [policy("cpu", 50.0, None, Some(10.0), false), policy("mem", 50.0, None, None, false)];
        assert_eq!(
            decide_all(&mixed, &[], 10, (1, 20), &Memory::default(), None, false, NOW),
            Decision::Hold
        );
        // Scale-in disabled on one: the other decides alone.
        let off =
            [policy("cpu", 50.0, None, Some(10.0), false), policy("mem", 50.0, None, None, true)];
        assert!(matches!(
            decide_all(&off, &[], 10, (1, 20), &Memory::default(), None, false, NOW),
            Decision::Scale { to: 2, .. }
        ));
        // Cooldowns, deployments and suspension.
        let m = Memory { scaled_in_ms: Some(NOW - 60_000), ..Memory::default() };
        assert_eq!(decide_all(&cold, &[], 10, (1, 20), &m, None, false, NOW), Decision::Hold);
        let m = Memory { scaled_out_ms: Some(NOW - 30_000), ..Memory::default() };
        assert_eq!(decide_all(&cold, &[], 10, (1, 20), &m, None, false, NOW), Decision::Hold);
        assert_eq!(
            decide_all(&cold, &[], 10, (1, 20), &Memory::default(), None, true, NOW),
            Decision::Hold
        );
        let s = SuspendedState { dynamic_scaling_in_suspended: Some(true), ..Default::default() };
        assert_eq!(
            decide_all(&cold, &[], 10, (1, 20), &Memory::default(), Some(&s), false, NOW),
            Decision::Hold
        );
        // A disabled scale in never scales in.
        let never = [policy("cpu", 50.0, None, Some(10.0), true)];
        assert_eq!(
            decide_all(&never, &[], 10, (1, 20), &Memory::default(), None, false, NOW),
            Decision::Hold
        );
    }

    #[test]
    fn step_policies_ask_beside_target_tracking_and_the_largest_wins() {
        let step = |capacity: i32| StepAsk {
            capacity,
            cause: format!("step to {capacity}"),
            cooldown_ms: 30_000,
        };
        // A step alone scales out, and in.
        assert!(matches!(
            decide_all(&[], &[step(4)], 2, (1, 10), &Memory::default(), None, false, NOW),
            Decision::Scale { to: 4, out: true, .. }
        ));
        assert!(matches!(
            decide_all(&[], &[step(1)], 3, (1, 10), &Memory::default(), None, false, NOW),
            Decision::Scale { to: 1, out: false, .. }
        ));
        // Beside a target tracking scale out, the larger wins.
        let hot = [policy("cpu", 50.0, Some(100.0), None, false)];
        let d = decide_all(&hot, &[step(7)], 2, (1, 10), &Memory::default(), None, false, NOW);
        assert_eq!(d, Decision::Scale { to: 7, cause: "step to 7".into(), out: true });
        let d = decide_all(&hot, &[step(3)], 2, (1, 10), &Memory::default(), None, false, NOW);
        assert!(matches!(d, Decision::Scale { to: 4, .. }), "{d:?}");
        // A step scale in waits for its own cooldown after a scale in.
        let m = Memory { scaled_in_ms: Some(NOW - 10_000), ..Memory::default() };
        assert_eq!(decide_all(&[], &[step(1)], 3, (1, 10), &m, None, false, NOW), Decision::Hold);
        assert!(matches!(
            decide_all(&[], &[step(1)], 3, (1, 10), &m, None, false, NOW + 20_000),
            Decision::Scale { to: 1, .. }
        ));
        // Never beyond the bounds.
        assert!(matches!(
            decide_all(&[], &[step(0)], 3, (2, 10), &Memory::default(), None, false, NOW),
            Decision::Scale { to: 2, .. }
        ));
    }
}
