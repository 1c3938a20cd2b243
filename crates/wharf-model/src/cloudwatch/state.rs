//! An alarm's state: the one rule every reader of alarms goes through
//! (DescribeAlarms, and the ECS deployments that watch alarms).
//!
//! CloudWatch evaluates a metric alarm once per evaluation interval (its
//! period, at most a minute). A state set by SetAlarmState holds until the
//! next evaluation, which puts the alarm back to the state its data says.
//! The evaluated state is the verdict of the alarm's metric data
//! ([`super::evaluate::verdict`]); when no period has data, it is what
//! `TreatMissingData` makes of that (`missing`, the default:
//! `INSUFFICIENT_DATA`; `notBreaching`: `OK`; `breaching`: `ALARM`;
//! `ignore`: the state stays as it was).

use super::evaluate::Verdict;
use super::shapes::StateValue;
use super::AlarmRecord;

/// How long a state set by SetAlarmState lasts at most, in ms: CloudWatch
/// evaluates alarms at least once a minute.
pub const MAX_EVALUATION_INTERVAL_MS: i64 = 60_000;

/// An alarm's state at a moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlarmState {
    /// `StateValue`.
    pub value: StateValue,
    /// `StateReason`.
    pub reason: String,
    /// `StateReasonData`, when the state was set with some.
    pub reason_data: Option<String>,
    /// `StateUpdatedTimestamp`, ms.
    pub updated_ms: i64,
}

/// The evaluation interval of an alarm, ms: its period, at most a minute.
pub fn evaluation_interval_ms(record: &AlarmRecord) -> i64 {
    let period = i64::from(record.alarm.period.unwrap_or(60).max(1)) * 1000;
    period.min(MAX_EVALUATION_INTERVAL_MS)
}

/// How long an alarm looks back when it is evaluated, ms: `Period` ×
/// `EvaluationPeriods`. ECS bakes a rolling deployment that watches alarms
/// for the longest of them.
pub fn window_ms(record: &AlarmRecord) -> i64 {
    let period = i64::from(record.alarm.period.unwrap_or(60).max(1));
    let periods = i64::from(record.alarm.evaluation_periods.unwrap_or(1).max(1));
    period * periods * 1000
}

/// The state of `record` at `now_ms`. `evaluated` is the verdict of its
/// metric data when there is some (`None`: no data in its periods).
pub fn state(record: &AlarmRecord, evaluated: Option<&Verdict>, now_ms: i64) -> AlarmState {
    let a = &record.alarm;
    let created_ms = a.state_updated_timestamp.map_or(0, |t| t.as_millis());
    let stored = AlarmState {
        value: a.state_value.clone().unwrap_or(StateValue::InsufficientData),
        reason: a.state_reason.clone().unwrap_or_default(),
        reason_data: None,
        updated_ms: created_ms,
    };
    let (before, since_ms) = match &record.set {
        Some(set) => {
            let until = set.at_ms + evaluation_interval_ms(record);
            let held = AlarmState {
                value: set.value.clone(),
                reason: set.reason.clone(),
                reason_data: set.reason_data.clone(),
                updated_ms: set.at_ms,
            };
            if now_ms < until {
                return held;
            }
            (held, until)
        }
        None => {
            let first_evaluation = created_ms + evaluation_interval_ms(record);
            if now_ms < first_evaluation {
                return stored;
            }
            (stored, first_evaluation)
        }
    };
    if let Some(v) = evaluated {
        if v.value == before.value && record.set.is_none() {
            return before;
        }
        return AlarmState {
            value: v.value.clone(),
            reason: v.reason.clone(),
            reason_data: None,
            updated_ms: since_ms,
        };
    }
    let value = match a.treat_missing_data.as_deref().unwrap_or("missing") {
        "notBreaching" => StateValue::Ok,
        "breaching" => StateValue::Alarm,
        "ignore" => return before,
        _ => StateValue::InsufficientData,
    };
    if value == before.value && record.set.is_none() {
        return before;
    }
    let periods = a.evaluation_periods.unwrap_or(1).max(1);
    let reason = match value {
        StateValue::InsufficientData => format!(
            "Insufficient Data: {periods} datapoint{} {} unknown.",
            if periods == 1 { "" } else { "s" },
            if periods == 1 { "was" } else { "were" }
        ),
        StateValue::Ok => format!("Threshold Crossed: no datapoints were received for {periods} period{} and {periods} missing datapoint{} {} treated as [NonBreaching].", s(periods), s(periods), were(periods)),
        _ => format!("Threshold Crossed: no datapoints were received for {periods} period{} and {periods} missing datapoint{} {} treated as [Breaching].", s(periods), s(periods), were(periods)),
    };
    AlarmState { value, reason, reason_data: None, updated_ms: since_ms }
}

fn s(n: i32) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn were(n: i32) -> &'static str {
    if n == 1 {
        "was"
    } else {
        "were"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloudwatch::shapes::MetricAlarm;
    use crate::cloudwatch::SetState;
    use crate::Timestamp;

    fn alarm(period: i32, treat: Option<&str>) -> AlarmRecord {
        AlarmRecord {
            alarm: MetricAlarm {
                alarm_name: Some("a".into()),
                period: Some(period),
                evaluation_periods: Some(1),
                treat_missing_data: treat.map(str::to_owned),
                state_value: Some(StateValue::InsufficientData),
                state_reason: Some("Unchecked: Initial alarm creation".into()),
                state_updated_timestamp: Some(Timestamp::from_millis(1_000)),
                ..Default::default()
            },
            set: None,
            tags: vec![],
        }
    }

    fn set(r: &mut AlarmRecord, value: StateValue, at_ms: i64) {
        r.set = Some(SetState { value, reason: "testing".into(), reason_data: None, at_ms });
    }

    #[test]
    fn a_new_alarm_without_data_is_insufficient_data() {
        let r = alarm(60, None);
        let s = state(&r, None, 500_000);
        assert_eq!(s.value, StateValue::InsufficientData);
        assert_eq!((s.reason.as_str(), s.updated_ms), ("Unchecked: Initial alarm creation", 1_000));
    }

    #[test]
    fn a_set_state_holds_until_the_next_evaluation() {
        let mut r = alarm(10, None);
        set(&mut r, StateValue::Alarm, 100_000);
        assert_eq!(state(&r, None, 100_000).value, StateValue::Alarm);
        assert_eq!(state(&r, None, 109_999).value, StateValue::Alarm);
        let back = state(&r, None, 110_000);
        assert_eq!(back.value, StateValue::InsufficientData);
        assert_eq!(back.updated_ms, 110_000);
        assert!(back.reason.starts_with("Insufficient Data"), "{}", back.reason);
        // A period over a minute is still evaluated every minute.
        let mut r = alarm(300, None);
        set(&mut r, StateValue::Alarm, 0);
        assert_eq!(state(&r, None, 59_999).value, StateValue::Alarm);
        assert_eq!(state(&r, None, 60_000).value, StateValue::InsufficientData);
    }

    #[test]
    fn missing_data_is_treated_as_the_alarm_says() {
        for (treat, want) in [
            (Some("notBreaching"), StateValue::Ok),
            (Some("breaching"), StateValue::Alarm),
            (Some("missing"), StateValue::InsufficientData),
            (None, StateValue::InsufficientData),
        ] {
            let mut r = alarm(60, treat);
            set(&mut r, StateValue::Ok, 0);
            assert_eq!(state(&r, None, 60_000).value, want, "{treat:?}");
        }
        // ignore: the state stays as it was set.
        let mut r = alarm(60, Some("ignore"));
        set(&mut r, StateValue::Alarm, 0);
        assert_eq!(state(&r, None, 3_600_000).value, StateValue::Alarm);
        // Evaluated metric data decides when there is some, from the first evaluation.
        let r = alarm(60, None);
        let alarm_verdict =
            Verdict { value: StateValue::Alarm, reason: "Threshold Crossed: ...".into() };
        assert_eq!(state(&r, Some(&alarm_verdict), 5_000).value, StateValue::InsufficientData);
        let s = state(&r, Some(&alarm_verdict), 61_000);
        assert_eq!((s.value, s.reason.as_str()), (StateValue::Alarm, "Threshold Crossed: ..."));
        let r = alarm(60, Some("notBreaching"));
        assert_eq!(state(&r, None, 60_999).value, StateValue::InsufficientData);
        assert_eq!(state(&r, None, 61_000).value, StateValue::Ok);
    }
}
