//! A service's auto scaling as its page shows it: the scalable target
//! (minimum, maximum, what is suspended), its policies and scheduled
//! actions by name, and its latest scaling activities.

use serde::Serialize;
use wharf_model::application_autoscaling::record::TargetRecord;
use wharf_model::application_autoscaling::rules;
use wharf_store::{Kind, Store};

use super::{ms, parse, ViewError};

/// How many activities the page lists, newest first.
const ACTIVITIES: usize = 10;

/// A service's scalable target (`ecs:service:DesiredCount`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScalingView {
    /// `MinCapacity`.
    pub min: i32,
    /// `MaxCapacity`.
    pub max: i32,
    /// What is suspended: `scale in`, `scale out`, `scheduled` (empty when
    /// nothing is).
    pub suspended: Vec<&'static str>,
    /// Its scaling policies.
    pub policies: Vec<PolicyView>,
    /// Its scheduled actions' names.
    pub scheduled: Vec<String>,
    /// Its latest activities, newest first.
    pub activities: Vec<ActivityView>,
}

/// A scaling policy by name and type.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyView {
    /// `PolicyName`.
    pub name: String,
    /// `TargetTrackingScaling` or `StepScaling`.
    pub kind: String,
}

/// A scaling activity as DescribeScalingActivities has it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActivityView {
    /// `Description`: `Setting desired count to 3.`
    pub description: String,
    /// `Cause`.
    pub cause: String,
    /// `StatusCode`: `Successful`, `InProgress`, ...
    pub status: String,
    /// `StartTime`, ms since the epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<i64>,
}

/// The scalable target of `cluster`/`service`, if one is registered.
pub async fn scaling(
    store: &dyn Store,
    region: &str,
    cluster: &str,
    service: &str,
) -> Result<Option<ScalingView>, ViewError> {
    let key = rules::key(&format!("service/{cluster}/{service}"));
    let Some(json) = store.get(Kind::ScalableTarget, region, &key).await? else {
        return Ok(None);
    };
    Ok(parse::<TargetRecord>("scalable target", &key, &json).map(|r| view(&r)))
}

/// The view of a stored target.
fn view(r: &TargetRecord) -> ScalingView {
    let t = &r.target;
    let suspended = t.suspended_state.as_ref().map_or_else(Vec::new, |s| {
        [
            (s.dynamic_scaling_in_suspended, "scale in"),
            (s.dynamic_scaling_out_suspended, "scale out"),
            (s.scheduled_scaling_suspended, "scheduled"),
        ]
        .into_iter()
        .filter(|(on, _)| *on == Some(true))
        .map(|(_, what)| what)
        .collect()
    });
    ScalingView {
        min: t.min_capacity.unwrap_or(0),
        max: t.max_capacity.unwrap_or(0),
        suspended,
        policies: r
            .policies
            .iter()
            .map(|p| PolicyView {
                name: p.policy.policy_name.clone().unwrap_or_default(),
                kind: p.policy.policy_type.as_ref().map(|k| k.to_string()).unwrap_or_default(),
            })
            .collect(),
        scheduled: r
            .scheduled
            .iter()
            .map(|s| s.scheduled_action_name.clone().unwrap_or_default())
            .collect(),
        activities: r
            .activities
            .iter()
            .take(ACTIVITIES)
            .map(|a| ActivityView {
                description: a.description.clone().unwrap_or_default(),
                cause: a.cause.clone().unwrap_or_default(),
                status: a.status_code.as_ref().map(|c| c.to_string()).unwrap_or_default(),
                at: ms(a.start_time),
            })
            .collect(),
    }
}
