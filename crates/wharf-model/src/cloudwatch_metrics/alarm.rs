//! How a metric alarm decides its state, as CloudWatch documents it: the
//! statistic of each of the last `EvaluationPeriods` periods against the
//! threshold; `DatapointsToAlarm` of them breaching make it ALARM; with
//! fewer it is OK, unless no period has data (INSUFFICIENT_DATA).
//! `TreatMissingData` says what a period with no data counts as (`missing`,
//! the default, leaves it out; `breaching`, `notBreaching`, `ignore` keeps
//! the state).

use super::shapes::{ComparisonOperator, StateValue};

/// What an alarm compares.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// The threshold.
    pub threshold: f64,
    /// How the statistic is compared to it.
    pub comparison: ComparisonOperator,
    /// How many periods are looked at.
    pub evaluation_periods: usize,
    /// How many of them must breach.
    pub datapoints_to_alarm: usize,
    /// `TreatMissingData`: `missing`, `breaching`, `notBreaching`, `ignore`.
    pub treat_missing: String,
}

/// Whether a value breaches the rule.
pub fn breaches(rule: &Rule, value: f64) -> bool {
    match rule.comparison {
        ComparisonOperator::GreaterThanThreshold => value > rule.threshold,
        ComparisonOperator::GreaterThanOrEqualToThreshold => value >= rule.threshold,
        ComparisonOperator::LessThanThreshold => value < rule.threshold,
        ComparisonOperator::LessThanOrEqualToThreshold => value <= rule.threshold,
        _ => false,
    }
}

/// The alarm's state from the statistic of each of its last periods,
/// oldest first (`None`: no data in that period); `current` is kept when
/// missing data is to be ignored and nothing else decides.
pub fn evaluate(rule: &Rule, periods: &[Option<f64>], current: &StateValue) -> StateValue {
    let n = rule.evaluation_periods.max(1);
    let window = &periods[periods.len().saturating_sub(n)..];
    let (mut breaching, mut present) = (0usize, 0usize);
    for v in window {
        match v {
            Some(v) => {
                present += 1;
                breaching += usize::from(breaches(rule, *v));
            }
            None => match rule.treat_missing.as_str() {
                "breaching" => breaching += 1,
                "notBreaching" => present += 1,
                _ => {}
            },
        }
    }
    let all_missing = window.iter().all(Option::is_none);
    if breaching >= rule.datapoints_to_alarm.max(1) {
        StateValue::Alarm
    } else if all_missing && matches!(rule.treat_missing.as_str(), "missing" | "") {
        StateValue::InsufficientData
    } else if all_missing && rule.treat_missing == "ignore" {
        current.clone()
    } else if present == 0 && breaching == 0 {
        StateValue::InsufficientData
    } else {
        StateValue::Ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn high() -> Rule {
        Rule {
            threshold: 50.0,
            comparison: ComparisonOperator::GreaterThanThreshold,
            evaluation_periods: 3,
            datapoints_to_alarm: 3,
            treat_missing: "missing".into(),
        }
    }

    #[test]
    fn m_of_n_breaching_periods_alarm() {
        let r = high();
        assert_eq!(
            evaluate(&r, &[Some(90.0), Some(80.0), Some(70.0)], &StateValue::Ok),
            StateValue::Alarm
        );
        assert_eq!(
            evaluate(&r, &[Some(10.0), Some(80.0), Some(70.0)], &StateValue::Ok),
            StateValue::Ok
        );
        // Only the last three count.
        assert_eq!(
            evaluate(&r, &[Some(10.0), Some(90.0), Some(80.0), Some(70.0)], &StateValue::Ok),
            StateValue::Alarm
        );
        let two_of_three = Rule { datapoints_to_alarm: 2, ..high() };
        assert_eq!(
            evaluate(&two_of_three, &[Some(10.0), Some(80.0), Some(70.0)], &StateValue::Ok),
            StateValue::Alarm
        );
    }

    #[test]
    fn missing_data() {
        let r = high();
        assert_eq!(
            evaluate(&r, &[None, None, None], &StateValue::Ok),
            StateValue::InsufficientData
        );
        assert_eq!(evaluate(&r, &[None, Some(90.0), Some(90.0)], &StateValue::Ok), StateValue::Ok);
        let breaching = Rule { treat_missing: "breaching".into(), ..high() };
        assert_eq!(
            evaluate(&breaching, &[None, Some(90.0), Some(90.0)], &StateValue::Ok),
            StateValue::Alarm
        );
        let ignore = Rule { treat_missing: "ignore".into(), ..high() };
        assert_eq!(evaluate(&ignore, &[None, None, None], &StateValue::Alarm), StateValue::Alarm);
    }
}
