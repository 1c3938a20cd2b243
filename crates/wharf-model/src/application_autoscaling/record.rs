//! What is kept per scalable target: the target as DescribeScalableTargets
//! shows it, its policies with the alarms target tracking made for them, its
//! scheduled actions, its recent scaling activities, and what the scaling
//! step remembers (the last scale out and in, each scheduled action's last
//! run). One document per target, so a change to any of them is one write.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::shapes::{ScalableTarget, ScalingActivity, ScalingPolicy, ScheduledAction};

/// A scalable target and everything that hangs off it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetRecord {
    /// The target, as DescribeScalableTargets shows it.
    pub target: ScalableTarget,
    /// Its scaling policies.
    #[serde(default)]
    pub policies: Vec<PolicyRecord>,
    /// Its scheduled actions.
    #[serde(default)]
    pub scheduled: Vec<ScheduledAction>,
    /// Its scaling activities, newest first (at most
    /// [`super::rules::MAX_ACTIVITIES`]).
    #[serde(default)]
    pub activities: Vec<ScalingActivity>,
    /// What the step remembers.
    #[serde(default)]
    pub memory: Memory,
}

/// What the scaling step remembers between passes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Memory {
    /// When it last scaled out (ms), and to what.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scaled_out_ms: Option<i64>,
    /// The capacity the last scale out set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scaled_out_to: Option<i32>,
    /// When it last scaled in (ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scaled_in_ms: Option<i64>,
    /// Each scheduled action's last run (ms), by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub scheduled_runs: BTreeMap<String, i64>,
}

/// A scaling policy and its alarms.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyRecord {
    /// The policy, as DescribeScalingPolicies shows it.
    pub policy: ScalingPolicy,
    /// The alarms target tracking made for it.
    #[serde(default)]
    pub alarms: Vec<AlarmRecord>,
}

/// An alarm a target tracking policy made, as DescribeAlarms shows it, and
/// its state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlarmRecord {
    /// Its name (`TargetTracking-<resource>-AlarmHigh-<id>`).
    pub name: String,
    /// Its ARN.
    pub arn: String,
    /// Whether it is the high alarm (scale out) or the low one (scale in).
    pub high: bool,
    /// The metric's namespace.
    pub namespace: String,
    /// The metric's name.
    pub metric_name: String,
    /// The metric's dimensions.
    pub dimensions: Vec<(String, String)>,
    /// The statistic compared.
    pub statistic: String,
    /// The metric's unit, if named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// The threshold.
    pub threshold: f64,
    /// `GreaterThanThreshold` or `LessThanThreshold`.
    pub comparison: String,
    /// Periods looked at.
    pub evaluation_periods: u32,
    /// Periods that must breach.
    pub datapoints_to_alarm: u32,
    /// The period, seconds.
    pub period_s: u32,
    /// `OK`, `ALARM` or `INSUFFICIENT_DATA`.
    pub state: String,
    /// Why it is in that state.
    #[serde(default)]
    pub state_reason: String,
    /// When the state last changed (ms).
    #[serde(default)]
    pub state_changed_ms: i64,
    /// When the alarm was last evaluated or changed (ms).
    #[serde(default)]
    pub updated_ms: i64,
    /// The latest value of the statistic, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_value: Option<f64>,
}
