//! CloudWatch metric alarms: the records (one store document per alarm,
//! keyed by name) and their state, read through one function for every
//! reader (DescribeAlarms, the deployments that watch alarms, the scaling
//! policies that act on them): the model's rule
//! ([`wharf_model::cloudwatch::state`]) fed with the verdict of the alarm's
//! metric data as this server holds it ([`crate::metrics`]).
//!
//! The leader's evaluation ([`persist`]) writes each change of state into
//! the record, so that `StateUpdatedTimestamp` says when it happened.

use std::collections::BTreeMap;

use wharf_model::cloudwatch::evaluate::{self, Verdict};
use wharf_model::cloudwatch::shapes::MetricAlarm;
use wharf_model::cloudwatch::state::{self, AlarmState};
use wharf_model::cloudwatch::AlarmRecord;
use wharf_model::wire::Timestamp;
use wharf_store::{Kind, Store, StoreError, Write};

use crate::docs::{self, Change};
use crate::metrics::MetricStore;
use crate::{OpsError, Region};

/// One alarm as a deployment sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchedAlarm {
    /// Its state now.
    pub state: AlarmState,
    /// `Period` × `EvaluationPeriods`, ms: how long a deployment bakes
    /// while it watches this alarm.
    pub window_ms: i64,
}

/// The statistic of each of the alarm's last `EvaluationPeriods` whole
/// periods before `now_ms`, oldest first (`None`: no data); `None` for an
/// alarm on metric math.
pub fn periods(
    metrics: &MetricStore,
    region: &str,
    alarm: &MetricAlarm,
    now_ms: i64,
) -> Option<Vec<Option<f64>>> {
    let (key, statistic, period) = evaluate::watched(alarm)?;
    let n = i64::from(alarm.evaluation_periods.unwrap_or(1).max(1));
    let end = now_ms.div_euclid(period) * period;
    let start = end - n * period;
    let got = metrics.query(region, &key, start, end, period);
    Some(
        (0..n)
            .map(|i| {
                let at = start + i * period;
                got.iter().find(|(t, _)| *t == at).and_then(|(_, s)| s.statistic(&statistic))
            })
            .collect(),
    )
}

/// The verdict of the alarm's data at `now_ms`, if any period has data.
pub fn verdict(
    metrics: &MetricStore,
    region: &str,
    record: &AlarmRecord,
    now_ms: i64,
) -> Option<Verdict> {
    let data = periods(metrics, region, &record.alarm, now_ms)?;
    evaluate::verdict(&record.alarm, &data)
}

/// The state of alarm `record` at `now_ms`, as DescribeAlarms shows it,
/// deployments watch it and scaling policies act on it.
pub fn current(
    metrics: &MetricStore,
    region: &str,
    record: &AlarmRecord,
    now_ms: i64,
) -> AlarmState {
    state::state(record, verdict(metrics, region, record, now_ms).as_ref(), now_ms)
}

/// The states of the named alarms of `region` at `now_ms`; an alarm that
/// does not exist is left out.
pub async fn watched(
    store: &dyn Store,
    metrics: &MetricStore,
    region: &str,
    names: &[String],
    now_ms: i64,
) -> Result<BTreeMap<String, WatchedAlarm>, StoreError> {
    let mut out = BTreeMap::new();
    for name in names {
        let Some(json) = store.get(Kind::MetricAlarm, region, name).await? else { continue };
        let Ok(record) = serde_json::from_str::<AlarmRecord>(&json) else {
            tracing::warn!(alarm = %name, "a stored alarm could not be read");
            continue;
        };
        let watched = WatchedAlarm {
            state: current(metrics, region, &record, now_ms),
            window_ms: state::window_ms(&record),
        };
        out.insert(name.clone(), watched);
    }
    Ok(out)
}

/// Every alarm of the region, in name order.
pub async fn all(r: Region<'_>) -> Result<Vec<AlarmRecord>, OpsError> {
    Ok(docs::list_all::<AlarmRecord>(r, Kind::MetricAlarm)
        .await?
        .into_iter()
        .map(|(_, a)| a)
        .collect())
}

/// Creates or replaces alarm `alarm` (named by its `AlarmName`), as
/// PutMetricAlarm does: a new alarm starts INSUFFICIENT_DATA, a replaced one
/// keeps its state and tags.
pub async fn put(r: Region<'_>, alarm: MetricAlarm, now: Timestamp) -> Result<(), OpsError> {
    let name = alarm.alarm_name.clone().unwrap_or_default();
    docs::update::<AlarmRecord, _>(r, Kind::MetricAlarm, &name, move |cur| {
        let alarm = alarm.clone();
        Ok(Change::Put(match cur {
            Some(mut old) => {
                old.alarm = MetricAlarm {
                    state_value: old.alarm.state_value.take(),
                    state_reason: old.alarm.state_reason.take(),
                    state_updated_timestamp: old.alarm.state_updated_timestamp,
                    ..alarm
                };
                old
            }
            None => AlarmRecord {
                alarm: MetricAlarm {
                    state_value: Some(
                        wharf_model::cloudwatch::shapes::StateValue::InsufficientData,
                    ),
                    state_reason: Some("Unchecked: Initial alarm creation".into()),
                    state_updated_timestamp: Some(now),
                    ..alarm
                },
                set: None,
                tags: vec![],
            },
        }))
    })
    .await?;
    Ok(())
}

/// Deletes alarm `name`, if it exists.
pub async fn delete(r: Region<'_>, name: &str) -> Result<(), OpsError> {
    r.store().update(Kind::MetricAlarm, r.name, name, Box::new(|_| Ok(Write::Delete))).await?;
    Ok(())
}

/// Writes alarm `name`'s state at `now_ms` into its record when it changed
/// (and forgets a SetAlarmState whose time is over), so that its
/// `StateUpdatedTimestamp` is when it changed. What it wrote, if anything.
pub async fn persist(
    r: Region<'_>,
    name: &str,
    verdict: Option<Verdict>,
    now_ms: i64,
) -> Result<Option<AlarmState>, OpsError> {
    let written = std::sync::Arc::new(std::sync::Mutex::new(None));
    let out = written.clone();
    docs::update::<AlarmRecord, _>(r, Kind::MetricAlarm, name, move |cur| {
        let Some(mut record) = cur else { return Ok(Change::Keep) };
        let set_over = match &record.set {
            // A state SetAlarmState gave holds until the next evaluation.
            Some(set) if now_ms < set.at_ms + state::evaluation_interval_ms(&record) => {
                return Ok(Change::Keep)
            }
            Some(_) => true,
            None => false,
        };
        let mut s = state::state(&record, verdict.as_ref(), now_ms);
        s.updated_ms = now_ms;
        let changed = record.alarm.state_value.as_ref() != Some(&s.value);
        if !changed && !set_over {
            return Ok(Change::Keep);
        }
        if set_over {
            record.set = None;
        }
        if changed {
            record.alarm.state_value = Some(s.value.clone());
            record.alarm.state_reason = Some(s.reason.clone());
            record.alarm.state_updated_timestamp = Some(Timestamp::from_millis(s.updated_ms));
            if let Ok(mut o) = out.lock() {
                *o = Some(s);
            }
        }
        Ok(Change::Put(record))
    })
    .await?;
    let got = written.lock().ok().and_then(|mut w| w.take());
    Ok(got)
}
