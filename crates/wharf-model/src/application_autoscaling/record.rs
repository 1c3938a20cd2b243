//! What is kept per scalable target: the target as DescribeScalableTargets
//! shows it, its policies, its
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
    /// The capacity the last scale out started from: while its cooldown
    /// lasts, a step policy's change counts from there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scaled_out_from: Option<i32>,
    /// When it last scaled in (ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scaled_in_ms: Option<i64>,
    /// Each scheduled action's last run (ms), by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub scheduled_runs: BTreeMap<String, i64>,
}

/// A scaling policy. Target tracking's alarms are ordinary CloudWatch
/// alarms (`wharf_model::cloudwatch::AlarmRecord`), named in the policy's
/// `alarms`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyRecord {
    /// The policy, as DescribeScalingPolicies shows it.
    pub policy: ScalingPolicy,
}
