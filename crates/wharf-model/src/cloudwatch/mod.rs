//! Amazon CloudWatch, the subset Wharf serves: metric alarms
//! (PutMetricAlarm, DescribeAlarms, DeleteAlarms, SetAlarmState), which ECS
//! deployments watch and Application Auto Scaling's policies act on, and
//! metrics (PutMetricData, GetMetricData, GetMetricStatistics, ListMetrics)
//! over what Wharf gathers from what runs.
//!
//! The rules: metric series and their statistics ([`series`]), how ECS
//! computes a service's utilization ([`ecs`]), the verdict of an alarm's
//! recent periods ([`evaluate`]) and the one rule every reader of an
//! alarm's state goes through ([`state`]).

pub mod ecs;
pub mod error;
pub mod evaluate;
pub mod series;
pub mod shapes;
pub mod state;

use serde::{Deserialize, Serialize};

pub use error::{CloudWatchError, CloudWatchErrorKind};
use shapes::{MetricAlarm, StateValue};

/// The JSON 1.0 `X-Amz-Target` prefix of CloudWatch.
pub const TARGET_PREFIX: &str = "GraniteServiceVersion20100801";
/// The longest alarm name.
pub const MAX_NAME_LEN: usize = 255;
/// The most alarms DescribeAlarms returns in one page.
pub const MAX_RECORDS: i32 = 100;
/// The most alarms DeleteAlarms takes at once.
pub const MAX_DELETE: usize = 100;

/// What the store keeps for one metric alarm (keyed by its name).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlarmRecord {
    /// The alarm as PutMetricAlarm defined it, with the state it was
    /// given when created (`INSUFFICIENT_DATA`).
    pub alarm: MetricAlarm,
    /// A state SetAlarmState gave it, until the next evaluation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set: Option<SetState>,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<shapes::Tag>,
}

/// A state set by SetAlarmState.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SetState {
    /// The state.
    pub value: StateValue,
    /// `StateReason`.
    pub reason: String,
    /// `StateReasonData`, if given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason_data: Option<String>,
    /// When it was set (ms).
    pub at_ms: i64,
}

/// The ARN of alarm `name`.
pub fn alarm_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:cloudwatch:{region}:{account}:alarm:{name}")
}
