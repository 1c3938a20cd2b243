//! Step scaling, as Application Auto Scaling documents it. A step scaling
//! policy acts when a CloudWatch alarm whose actions name it is in ALARM
//! (once each evaluation while it stays there): the breach (the metric's
//! value minus the alarm's threshold) falls in one step adjustment's
//! interval (lower bound inclusive, upper exclusive; a missing bound is
//! infinite), whose `ScalingAdjustment` changes the capacity by a number
//! (`ChangeInCapacity`), a percentage (`PercentChangeInCapacity`, at least
//! `MinAdjustmentMagnitude`) or sets it (`ExactCapacity`).

use super::rules::null;
use super::shapes::{AdjustmentType, StepScalingPolicyConfiguration};
use super::ScalingError;

/// Checks a step scaling configuration as Application Auto Scaling does.
pub fn check(config: &StepScalingPolicyConfiguration) -> Result<(), ScalingError> {
    let kind = config
        .adjustment_type
        .as_ref()
        .ok_or_else(|| null("stepScalingPolicyConfiguration.adjustmentType"))?;
    if !kind.is_known() {
        return Err(ScalingError::validation(format!(
            "1 validation error detected: Value '{kind}' at \
             'stepScalingPolicyConfiguration.adjustmentType' failed to satisfy constraint: \
             Member must satisfy enum value set: [ChangeInCapacity, PercentChangeInCapacity, \
             ExactCapacity]"
        )));
    }
    let steps = config.step_adjustments.as_deref().unwrap_or_default();
    if steps.is_empty() {
        return Err(ScalingError::validation(
            "StepScalingPolicyConfiguration must have at least one step adjustment.",
        ));
    }
    if config.min_adjustment_magnitude.is_some() && *kind != AdjustmentType::PercentChangeInCapacity
    {
        return Err(ScalingError::validation(
            "MinAdjustmentMagnitude is only supported with the PercentChangeInCapacity \
             adjustment type.",
        ));
    }
    if config.min_adjustment_magnitude.is_some_and(|m| m < 0)
        || config.cooldown.is_some_and(|c| !(0..=86_400).contains(&c))
    {
        return Err(ScalingError::validation(
            "MinAdjustmentMagnitude must be non-negative and Cooldown between 0 and 86400.",
        ));
    }
    let mut intervals = Vec::with_capacity(steps.len());
    for s in steps {
        if s.scaling_adjustment.is_none() {
            return Err(null(
                "stepScalingPolicyConfiguration.stepAdjustments.member.scalingAdjustment",
            ));
        }
        let lo = s.metric_interval_lower_bound.unwrap_or(f64::NEG_INFINITY);
        let hi = s.metric_interval_upper_bound.unwrap_or(f64::INFINITY);
        if s.metric_interval_lower_bound.is_none()
            && s.metric_interval_upper_bound.is_none()
            && steps.len() > 1
        {
            return Err(ScalingError::validation(
                "Only one step adjustment may have neither a lower nor an upper bound, and then \
                 it must be the only one.",
            ));
        }
        if lo >= hi {
            return Err(ScalingError::validation(format!(
                "The lower bound ({lo}) of a step adjustment must be less than its upper bound \
                 ({hi})."
            )));
        }
        intervals.push((lo, hi));
    }
    intervals.sort_by(|a, b| a.0.total_cmp(&b.0));
    for pair in intervals.windows(2) {
        if pair[1].0 < pair[0].1 {
            return Err(ScalingError::validation("Step adjustments must not overlap."));
        }
        if pair[1].0 > pair[0].1 {
            return Err(ScalingError::validation(
                "Step adjustments must not leave a gap between their intervals.",
            ));
        }
    }
    Ok(())
}

/// The capacity the policy asks for at `capacity` when its alarm (of
/// threshold `threshold`) saw `value`; `None` when no step takes the
/// breach. Not yet within the target's minimum and maximum.
pub fn capacity(
    config: &StepScalingPolicyConfiguration,
    capacity: i32,
    value: f64,
    threshold: f64,
) -> Option<i32> {
    let breach = value - threshold;
    let step = config.step_adjustments.as_deref()?.iter().find(|s| {
        s.metric_interval_lower_bound.is_none_or(|lo| breach >= lo)
            && s.metric_interval_upper_bound.is_none_or(|hi| breach < hi)
    })?;
    let adjustment = step.scaling_adjustment?;
    let wanted = match config.adjustment_type.as_ref()? {
        AdjustmentType::ChangeInCapacity => i64::from(capacity) + i64::from(adjustment),
        AdjustmentType::ExactCapacity => i64::from(adjustment),
        AdjustmentType::PercentChangeInCapacity => {
            let raw = f64::from(capacity) * f64::from(adjustment) / 100.0;
            // Above 1 rounds down, between 0 and 1 up to 1 (and so for
            // negatives); then at least the minimum magnitude.
            let mut change = if raw.abs() >= 1.0 {
                raw.trunc()
            } else if raw > 0.0 {
                1.0
            } else if raw < 0.0 {
                -1.0
            } else {
                0.0
            } as i64;
            let floor = i64::from(config.min_adjustment_magnitude.unwrap_or(0));
            if change != 0 && change.abs() < floor {
                change = floor * change.signum();
            }
            i64::from(capacity) + change
        }
        AdjustmentType::Unlisted(_) => return None,
    };
    Some(wanted.clamp(0, i64::from(i32::MAX)) as i32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::application_autoscaling::shapes::StepAdjustment;

    fn step(lo: Option<f64>, hi: Option<f64>, n: i32) -> StepAdjustment {
        StepAdjustment {
            metric_interval_lower_bound: lo,
            metric_interval_upper_bound: hi,
            scaling_adjustment: Some(n),
        }
    }

    fn config(kind: AdjustmentType, steps: Vec<StepAdjustment>) -> StepScalingPolicyConfiguration {
        StepScalingPolicyConfiguration {
            adjustment_type: Some(kind),
            step_adjustments: Some(steps),
            ..Default::default()
        }
    }

    #[test]
    fn the_breach_picks_the_step() {
        // Threshold 50: 50-60 adds 1, 60-80 adds 2, 80+ adds 4.
        let c = config(
            AdjustmentType::ChangeInCapacity,
            vec![
                step(Some(0.0), Some(10.0), 1),
                step(Some(10.0), Some(30.0), 2),
                step(Some(30.0), None, 4),
            ],
        );
        check(&c).unwrap();
        assert_eq!(capacity(&c, 3, 55.0, 50.0), Some(4));
        assert_eq!(capacity(&c, 3, 60.0, 50.0), Some(5), "lower bounds are inclusive");
        assert_eq!(capacity(&c, 3, 95.0, 50.0), Some(7));
        assert_eq!(capacity(&c, 3, 45.0, 50.0), None, "below every step");
        let exact = config(AdjustmentType::ExactCapacity, vec![step(None, Some(0.0), 2)]);
        assert_eq!(capacity(&exact, 9, 10.0, 50.0), Some(2));
    }

    #[test]
    fn percentages_round_as_documented() {
        let out = config(AdjustmentType::PercentChangeInCapacity, vec![step(Some(0.0), None, 50)]);
        assert_eq!(capacity(&out, 5, 60.0, 50.0), Some(7), "2.5 rounds down to 2");
        assert_eq!(capacity(&out, 1, 60.0, 50.0), Some(2), "0.5 rounds up to 1");
        let inward =
            config(AdjustmentType::PercentChangeInCapacity, vec![step(None, Some(0.0), -10)]);
        assert_eq!(capacity(&inward, 4, 10.0, 50.0), Some(3), "-0.4 is -1");
        let magnitude = StepScalingPolicyConfiguration { min_adjustment_magnitude: Some(3), ..out };
        assert_eq!(capacity(&magnitude, 4, 60.0, 50.0), Some(7), "2 raised to 3");
    }

    #[test]
    fn configurations_are_checked() {
        let overlap = config(
            AdjustmentType::ChangeInCapacity,
            vec![step(Some(0.0), Some(20.0), 1), step(Some(10.0), None, 2)],
        );
        assert!(check(&overlap).unwrap_err().message.contains("overlap"));
        let gap = config(
            AdjustmentType::ChangeInCapacity,
            vec![step(Some(0.0), Some(10.0), 1), step(Some(20.0), None, 2)],
        );
        assert!(check(&gap).is_err());
        let empty = config(AdjustmentType::ChangeInCapacity, vec![]);
        assert!(check(&empty).is_err());
        let magnitude = StepScalingPolicyConfiguration {
            min_adjustment_magnitude: Some(1),
            ..config(AdjustmentType::ChangeInCapacity, vec![step(Some(0.0), None, 1)])
        };
        assert!(check(&magnitude).is_err());
        let unbounded = config(AdjustmentType::ChangeInCapacity, vec![step(None, None, 1)]);
        check(&unbounded).unwrap();
        let bad = config(AdjustmentType::from("Sideways"), vec![step(Some(0.0), None, 1)]);
        assert!(check(&bad).unwrap_err().message.contains("adjustmentType"));
    }
}
