//! Metric alarms: PutMetricAlarm, DescribeAlarms, SetAlarmState, DeleteAlarms.

use wharf_model::cloudwatch::shapes::{
    AlarmType, DeleteAlarmsInput, DescribeAlarmsInput, DescribeAlarmsOutput, MetricAlarm,
    PutMetricAlarmInput, SetAlarmStateInput, StateValue,
};
use wharf_model::cloudwatch::{
    self as rules, AlarmRecord, CloudWatchError as Error, CloudWatchErrorKind as ErrorKind,
    SetState,
};
use wharf_model::Timestamp;
use wharf_store::Kind;

use crate::context::Ctx;
use crate::pagination;
use crate::records::{self, Change};

fn not_found(name: &str) -> Error {
    Error::new(ErrorKind::ResourceNotFound, format!("Alarm {name} not found"))
}

fn alarm_name(value: Option<String>) -> Result<String, Error> {
    let name = value.ok_or_else(|| Error::missing("AlarmName"))?;
    if name.is_empty() || name.len() > rules::MAX_NAME_LEN {
        return Err(Error::invalid(format!(
            "The parameter AlarmName must be between 1 and {} characters long.",
            rules::MAX_NAME_LEN
        )));
    }
    Ok(name)
}

/// The alarm as DescribeAlarms shows it at `now_ms`.
fn shown(
    metrics: &wharf_ops::metrics::MetricStore,
    region: &str,
    record: &AlarmRecord,
    now_ms: i64,
) -> MetricAlarm {
    let s = wharf_ops::alarms::current(metrics, region, record, now_ms);
    let mut alarm = record.alarm.clone();
    alarm.state_value = Some(s.value);
    alarm.state_reason = Some(s.reason);
    alarm.state_reason_data = s.reason_data;
    alarm.state_updated_timestamp = Some(Timestamp::from_millis(s.updated_ms));
    alarm.state_transitioned_timestamp = Some(Timestamp::from_millis(s.updated_ms));
    alarm
}

/// Checks PutMetricAlarm's settings as CloudWatch does.
fn check(req: &PutMetricAlarmInput) -> Result<(), Error> {
    let combination = |m: &str| Error::new(ErrorKind::InvalidParameterCombinationException, m);
    if req.metrics.as_ref().is_some_and(|m| !m.is_empty()) {
        if req.metric_name.is_some() || req.namespace.is_some() || req.statistic.is_some() {
            return Err(combination(
                "The parameters MetricName, Namespace and Statistic cannot be used with Metrics.",
            ));
        }
    } else {
        if req.metric_name.is_none() {
            return Err(Error::missing("MetricName"));
        }
        if req.namespace.is_none() {
            return Err(Error::missing("Namespace"));
        }
        match (&req.statistic, &req.extended_statistic) {
            (Some(_), Some(_)) => return Err(combination(
                "Exactly one of the parameters Statistic and ExtendedStatistic must be specified.",
            )),
            (None, None) => return Err(Error::missing("Statistic")),
            (Some(s), None) if !s.is_known() => {
                return Err(Error::invalid(format!(
                    "The parameter Statistic has an invalid value: {s}."
                )))
            }
            _ => {}
        }
        let period = req.period.ok_or_else(|| Error::missing("Period"))?;
        if !(matches!(period, 10 | 20 | 30) || (period >= 60 && period % 60 == 0)) {
            return Err(Error::invalid(
                "The parameter Period must be 10, 20, 30 or a multiple of 60.",
            ));
        }
    }
    let periods = req.evaluation_periods.ok_or_else(|| Error::missing("EvaluationPeriods"))?;
    if periods < 1 {
        return Err(Error::invalid("The parameter EvaluationPeriods must be at least 1."));
    }
    if let Some(period) = req.period {
        if i64::from(period) * i64::from(periods) > 86_400 {
            return Err(Error::invalid(
                "The evaluation period of an alarm (Period × EvaluationPeriods) cannot exceed one day.",
            ));
        }
    }
    if req.datapoints_to_alarm.is_some_and(|d| d < 1 || d > periods) {
        return Err(Error::invalid(
            "The parameter DatapointsToAlarm must be between 1 and EvaluationPeriods.",
        ));
    }
    let op =
        req.comparison_operator.as_ref().ok_or_else(|| Error::missing("ComparisonOperator"))?;
    if !op.is_known() {
        return Err(Error::invalid(format!(
            "The parameter ComparisonOperator has an invalid value: {op}."
        )));
    }
    if req.threshold.is_none() && req.threshold_metric_id.is_none() {
        return Err(Error::missing("Threshold"));
    }
    if let Some(t) = &req.treat_missing_data {
        if !["breaching", "notBreaching", "ignore", "missing"].contains(&t.as_str()) {
            return Err(Error::invalid(
                "The parameter TreatMissingData must be one of breaching, notBreaching, ignore, missing.",
            ));
        }
    }
    Ok(())
}

/// PutMetricAlarm: creates an alarm (`INSUFFICIENT_DATA`), or replaces one's
/// configuration and keeps its state.
pub(crate) async fn put_metric_alarm(ctx: &Ctx, req: PutMetricAlarmInput) -> Result<(), Error> {
    let name = alarm_name(req.alarm_name.clone())?;
    check(&req)?;
    let now = ctx.state.ops.clock.now();
    let arn = rules::alarm_arn(&ctx.region, &ctx.state.ops.account_id, &name);
    let key = name.clone();
    records::update(
        ctx.store(),
        Kind::MetricAlarm,
        &ctx.region,
        &key,
        move |cur: Option<AlarmRecord>| {
            let req = req.clone();
            let alarm = MetricAlarm {
                alarm_name: Some(name.clone()),
                alarm_arn: Some(arn.clone()),
                alarm_description: req.alarm_description,
                alarm_configuration_updated_timestamp: Some(now),
                actions_enabled: Some(req.actions_enabled.unwrap_or(true)),
                ok_actions: Some(req.ok_actions.unwrap_or_default()),
                alarm_actions: Some(req.alarm_actions.unwrap_or_default()),
                insufficient_data_actions: Some(req.insufficient_data_actions.unwrap_or_default()),
                metric_name: req.metric_name,
                namespace: req.namespace,
                statistic: req.statistic,
                extended_statistic: req.extended_statistic,
                dimensions: Some(req.dimensions.unwrap_or_default()),
                period: req.period,
                unit: req.unit,
                evaluation_periods: req.evaluation_periods,
                datapoints_to_alarm: req.datapoints_to_alarm,
                threshold: req.threshold,
                comparison_operator: req.comparison_operator,
                treat_missing_data: req.treat_missing_data,
                evaluate_low_sample_count_percentile: req.evaluate_low_sample_count_percentile,
                metrics: req.metrics,
                threshold_metric_id: req.threshold_metric_id,
                ..Default::default()
            };
            let record = match cur {
                Some(mut old) => {
                    let (value, reason, at) = (
                        old.alarm.state_value.take(),
                        old.alarm.state_reason.take(),
                        old.alarm.state_updated_timestamp,
                    );
                    old.alarm = MetricAlarm {
                        state_value: value,
                        state_reason: reason,
                        state_updated_timestamp: at,
                        ..alarm
                    };
                    old
                }
                None => AlarmRecord {
                    alarm: MetricAlarm {
                        state_value: Some(StateValue::InsufficientData),
                        state_reason: Some("Unchecked: Initial alarm creation".into()),
                        state_updated_timestamp: Some(now),
                        ..alarm
                    },
                    set: None,
                    tags: req.tags.clone().unwrap_or_default(),
                },
            };
            Ok((Change::Put(record), ()))
        },
    )
    .await
}

/// DescribeAlarms: by names or name prefix, state and action prefix, paged
/// in name order; metric alarms only unless `AlarmTypes` asks.
pub(crate) async fn describe_alarms(
    ctx: &Ctx,
    req: DescribeAlarmsInput,
) -> Result<DescribeAlarmsOutput, Error> {
    if req.alarm_names.is_some() && req.alarm_name_prefix.is_some() {
        return Err(Error::new(
            ErrorKind::InvalidParameterCombinationException,
            "AlarmNames and AlarmNamePrefix cannot be used together.",
        ));
    }
    let limit = match req.max_records {
        None => 50,
        Some(n) if (1..=rules::MAX_RECORDS).contains(&n) => n as usize,
        Some(_) => {
            return Err(Error::invalid("The parameter MaxRecords must be between 1 and 100."))
        }
    };
    let types = req.alarm_types.clone().unwrap_or_else(|| vec![AlarmType::MetricAlarm]);
    let after =
        match req.next_token.as_deref() {
            Some(t) => Some(pagination::decode(t).map_err(|_| {
                Error::new(ErrorKind::InvalidNextToken, "The NextToken is not valid.")
            })?),
            None => None,
        };
    let now = ctx.state.ops.clock.now_millis();
    let mut out: Vec<(String, MetricAlarm)> = Vec::new();
    let mut next = None;
    if types.contains(&AlarmType::MetricAlarm) {
        let mut cursor = after;
        'pages: loop {
            let page: Vec<(String, AlarmRecord)> =
                records::list(ctx.store(), Kind::MetricAlarm, &ctx.region, cursor.as_deref(), 100)
                    .await?;
            let full = page.len() == 100;
            for (key, record) in page {
                cursor = Some(key.clone());
                if let Some(names) = &req.alarm_names {
                    if !names.contains(&key) {
                        continue;
                    }
                }
                if req.alarm_name_prefix.as_deref().is_some_and(|p| !key.starts_with(p)) {
                    continue;
                }
                let alarm = shown(&ctx.state.ops.metrics, &ctx.region, &record, now);
                if req.state_value.as_ref().is_some_and(|v| alarm.state_value.as_ref() != Some(v)) {
                    continue;
                }
                if let Some(prefix) = &req.action_prefix {
                    let actions = alarm.alarm_actions.iter().flatten();
                    let all = actions
                        .chain(alarm.ok_actions.iter().flatten())
                        .chain(alarm.insufficient_data_actions.iter().flatten());
                    if !all.into_iter().any(|a| a.starts_with(prefix.as_str())) {
                        continue;
                    }
                }
                if out.len() == limit {
                    next = out.last().map(|(k, _)| pagination::encode(k));
                    break 'pages;
                }
                out.push((key, alarm));
            }
            if !full {
                break;
            }
        }
    }
    Ok(DescribeAlarmsOutput {
        metric_alarms: Some(out.into_iter().map(|(_, a)| a).collect()),
        composite_alarms: types.contains(&AlarmType::CompositeAlarm).then(Vec::new),
        next_token: next,
    })
}

/// SetAlarmState: the alarm takes this state until its next evaluation.
pub(crate) async fn set_alarm_state(ctx: &Ctx, req: SetAlarmStateInput) -> Result<(), Error> {
    let name = alarm_name(req.alarm_name)?;
    let value = req.state_value.ok_or_else(|| Error::missing("StateValue"))?;
    if !value.is_known() {
        return Err(Error::invalid(format!(
            "The parameter StateValue has an invalid value: {value}."
        )));
    }
    let reason = req.state_reason.ok_or_else(|| Error::missing("StateReason"))?;
    if reason.len() > 1023 {
        return Err(Error::invalid(
            "The parameter StateReason must be at most 1023 characters long.",
        ));
    }
    if let Some(data) = &req.state_reason_data {
        if serde_json::from_str::<serde_json::Value>(data).is_err() {
            return Err(Error::new(
                ErrorKind::InvalidFormatFault,
                "The parameter StateReasonData must be JSON.",
            ));
        }
    }
    let at_ms = ctx.state.ops.clock.now_millis();
    let data = req.state_reason_data;
    let key = name.clone();
    records::update(
        ctx.store(),
        Kind::MetricAlarm,
        &ctx.region,
        &key,
        move |cur: Option<AlarmRecord>| {
            let mut record = cur.ok_or_else(|| not_found(&name))?;
            record.set = Some(SetState {
                value: value.clone(),
                reason: reason.clone(),
                reason_data: data.clone(),
                at_ms,
            });
            Ok((Change::Put(record), ()))
        },
    )
    .await
}

/// DeleteAlarms: all of them, or none when one does not exist.
pub(crate) async fn delete_alarms(ctx: &Ctx, req: DeleteAlarmsInput) -> Result<(), Error> {
    let names = req.alarm_names.ok_or_else(|| Error::missing("AlarmNames"))?;
    if names.len() > rules::MAX_DELETE {
        return Err(Error::invalid("At most 100 alarms can be deleted at once."));
    }
    for name in &names {
        let found: Option<AlarmRecord> =
            records::get(ctx.store(), Kind::MetricAlarm, &ctx.region, name).await?;
        if found.is_none() {
            return Err(not_found(name));
        }
    }
    for name in names {
        records::update(
            ctx.store(),
            Kind::MetricAlarm,
            &ctx.region,
            &name,
            |_: Option<AlarmRecord>| Ok::<_, Error>((Change::Delete, ())),
        )
        .await?;
    }
    Ok(())
}
