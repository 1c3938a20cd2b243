//! The verdict of a metric alarm's recent periods, as CloudWatch documents
//! it: the statistic of each of the last `EvaluationPeriods` periods is
//! compared with the threshold; `DatapointsToAlarm` of them (by default all)
//! breaching make it ALARM, fewer make it OK. A period with no data counts
//! as `TreatMissingData` says (`missing` and `ignore` leave it out,
//! `breaching` and `notBreaching` count it so). When no period has data
//! there is no verdict: the state rule ([`super::state`]) treats the
//! missing data.

use super::series::MetricKey;
use super::shapes::{ComparisonOperator, MetricAlarm, StateValue, Statistic};

/// What an alarm's data says, with the reason CloudWatch gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// `ALARM` or `OK`.
    pub value: StateValue,
    /// `StateReason`.
    pub reason: String,
}

/// The metric an alarm watches, its statistic and period (ms); `None` for
/// an alarm on metric math (which Wharf does not evaluate).
pub fn watched(alarm: &MetricAlarm) -> Option<(MetricKey, Statistic, i64)> {
    if alarm.metrics.as_ref().is_some_and(|m| !m.is_empty()) {
        return None;
    }
    let key = MetricKey::of(
        alarm.namespace.as_deref()?,
        alarm.metric_name.as_deref()?,
        alarm.dimensions.as_deref().unwrap_or_default(),
    );
    let statistic = alarm.statistic.clone()?;
    let period = i64::from(alarm.period.unwrap_or(60).max(1)) * 1000;
    Some((key, statistic, period))
}

/// Whether `value` breaches the alarm's threshold.
pub fn breaches(alarm: &MetricAlarm, value: f64) -> bool {
    let threshold = alarm.threshold.unwrap_or(0.0);
    match alarm.comparison_operator.as_ref() {
        Some(ComparisonOperator::GreaterThanThreshold) => value > threshold,
        Some(ComparisonOperator::GreaterThanOrEqualToThreshold) => value >= threshold,
        Some(ComparisonOperator::LessThanThreshold) => value < threshold,
        Some(ComparisonOperator::LessThanOrEqualToThreshold) => value <= threshold,
        _ => false,
    }
}

fn phrase(op: Option<&ComparisonOperator>) -> &'static str {
    match op {
        Some(ComparisonOperator::GreaterThanThreshold) => "greater than",
        Some(ComparisonOperator::GreaterThanOrEqualToThreshold) => "greater than or equal to",
        Some(ComparisonOperator::LessThanThreshold) => "less than",
        Some(ComparisonOperator::LessThanOrEqualToThreshold) => "less than or equal to",
        _ => "compared with",
    }
}

/// The verdict of the statistic of each of the alarm's last periods, oldest
/// first (`None`: no data in that period); `None` when no period in the
/// window has data.
pub fn verdict(alarm: &MetricAlarm, periods: &[Option<f64>]) -> Option<Verdict> {
    let n = usize::try_from(alarm.evaluation_periods.unwrap_or(1).max(1)).unwrap_or(1);
    let m =
        alarm.datapoints_to_alarm.and_then(|m| usize::try_from(m).ok()).unwrap_or(n).clamp(1, n);
    let window = &periods[periods.len().saturating_sub(n)..];
    if window.iter().all(Option::is_none) {
        return None;
    }
    let treat = alarm.treat_missing_data.as_deref().unwrap_or("missing");
    let breaching = window
        .iter()
        .filter(|v| match v {
            Some(v) => breaches(alarm, *v),
            None => treat == "breaching",
        })
        .count();
    let shown: Vec<String> = window.iter().rev().flatten().map(|v| format!("{v:?}")).collect();
    let threshold = alarm.threshold.unwrap_or(0.0);
    let op = phrase(alarm.comparison_operator.as_ref());
    let (value, reason) = if breaching >= m {
        (
            StateValue::Alarm,
            format!(
                "Threshold Crossed: {breaching} out of the last {n} datapoints [{}] were {op} \
                 the threshold ({threshold:?}) (minimum {m} datapoints for OK -> ALARM \
                 transition).",
                shown.join(", ")
            ),
        )
    } else {
        (
            StateValue::Ok,
            format!(
                "Threshold Crossed: {} datapoint{} [{}] {} not {op} the threshold \
                 ({threshold:?}).",
                shown.len(),
                if shown.len() == 1 { "" } else { "s" },
                shown.join(", "),
                if shown.len() == 1 { "was" } else { "were" },
            ),
        )
    };
    Some(Verdict { value, reason })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn high() -> MetricAlarm {
        MetricAlarm {
            threshold: Some(50.0),
            comparison_operator: Some(ComparisonOperator::GreaterThanThreshold),
            evaluation_periods: Some(3),
            ..MetricAlarm::default()
        }
    }

    fn value(a: &MetricAlarm, periods: &[Option<f64>]) -> Option<StateValue> {
        verdict(a, periods).map(|v| v.value)
    }

    #[test]
    fn m_of_n_breaching_periods_alarm() {
        let a = high();
        assert_eq!(value(&a, &[Some(90.0), Some(80.0), Some(70.0)]), Some(StateValue::Alarm));
        assert_eq!(value(&a, &[Some(10.0), Some(80.0), Some(70.0)]), Some(StateValue::Ok));
        // Only the last three count.
        assert_eq!(
            value(&a, &[Some(10.0), Some(90.0), Some(80.0), Some(70.0)]),
            Some(StateValue::Alarm)
        );
        let two_of_three = MetricAlarm { datapoints_to_alarm: Some(2), ..high() };
        assert_eq!(
            value(&two_of_three, &[Some(10.0), Some(80.0), Some(70.0)]),
            Some(StateValue::Alarm)
        );
        let reason = verdict(&a, &[Some(90.0), Some(80.0), Some(70.0)]).unwrap().reason;
        assert!(reason.starts_with("Threshold Crossed: 3 out of the last 3 datapoints [70.0, 80.0, 90.0] were greater than the threshold (50.0)"), "{reason}");
    }

    #[test]
    fn missing_data() {
        let a = high();
        assert_eq!(value(&a, &[None, None, None]), None, "the state rule treats it");
        assert_eq!(value(&a, &[None, Some(90.0), Some(90.0)]), Some(StateValue::Ok));
        let breaching = MetricAlarm { treat_missing_data: Some("breaching".into()), ..high() };
        assert_eq!(value(&breaching, &[None, Some(90.0), Some(90.0)]), Some(StateValue::Alarm));
        // A metric-math alarm watches no one metric.
        let math = MetricAlarm { metrics: Some(vec![Default::default()]), ..high() };
        assert_eq!(watched(&math), None);
    }
}
