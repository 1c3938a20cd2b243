//! The CloudWatch alarms ECS deployments watch, read through one function:
//! each named alarm's state at a moment, by the model's rule
//! ([`wharf_model::cloudwatch::state`]). Wharf has no metric data yet, so
//! the rule decides from missing data; when metrics exist, their verdict is
//! passed here and every reader (DescribeAlarms, the service scheduler)
//! sees the same state.

use std::collections::BTreeMap;

use wharf_model::cloudwatch::state::{self, AlarmState};
use wharf_model::cloudwatch::AlarmRecord;
use wharf_store::{Kind, Store, StoreError};

/// One alarm as a deployment sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchedAlarm {
    /// Its state now.
    pub state: AlarmState,
    /// `Period` × `EvaluationPeriods`, ms: how long a deployment bakes
    /// while it watches this alarm.
    pub window_ms: i64,
}

/// The state of alarm `record` at `now_ms`, as DescribeAlarms shows it and
/// deployments watch it. This is the seam where metric data feeds alarms:
/// once Wharf evaluates an alarm's metrics, their verdict is passed to the
/// rule here instead of `None` (no data), and every reader follows.
pub fn current(record: &AlarmRecord, now_ms: i64) -> AlarmState {
    state::state(record, None, now_ms)
}

/// The states of the named alarms of `region` at `now_ms`; an alarm that
/// does not exist is left out.
pub async fn watched(
    store: &dyn Store,
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
        let watched =
            WatchedAlarm { state: current(&record, now_ms), window_ms: state::window_ms(&record) };
        out.insert(name.clone(), watched);
    }
    Ok(out)
}
