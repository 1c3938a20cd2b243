//! Elastic Load Balancing v2 (Application Load Balancers) on the AWS Query
//! protocol: one handler per operation, grouped by resource. Control plane
//! only: desired state is stored (see [`wharf_store::elb`]) for the data
//! plane to serve; target health is what it observes, `initial` until then.

mod listeners;
mod load_balancers;
mod rules;
mod tags;
mod target_groups;
mod targets;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use wharf_model::elbv2::arn::{self, ElbArnKind};
use wharf_model::elbv2::shapes::TargetGroup;
use wharf_model::elbv2::{ElbError, ElbErrorKind, TargetGroupRecord, XML_NAMESPACE};
use wharf_ops::elb_state::Elb;
use wharf_store::elb::ElbView;

use crate::context::Ctx;
use crate::pagination;
use crate::query;

/// Whether `action` is an ELBv2 operation Wharf serves.
pub fn serves(action: &str) -> bool {
    OPERATIONS.contains(&action)
}

/// The operations Wharf serves.
pub const OPERATIONS: &[&str] = &[
    "CreateLoadBalancer",
    "DescribeLoadBalancers",
    "DeleteLoadBalancer",
    "ModifyLoadBalancerAttributes",
    "DescribeLoadBalancerAttributes",
    "CreateTargetGroup",
    "DescribeTargetGroups",
    "ModifyTargetGroup",
    "ModifyTargetGroupAttributes",
    "DescribeTargetGroupAttributes",
    "DeleteTargetGroup",
    "CreateListener",
    "DescribeListeners",
    "ModifyListener",
    "DeleteListener",
    "AddListenerCertificates",
    "RemoveListenerCertificates",
    "DescribeListenerCertificates",
    "CreateRule",
    "DescribeRules",
    "ModifyRule",
    "SetRulePriorities",
    "DeleteRule",
    "RegisterTargets",
    "DeregisterTargets",
    "DescribeTargetHealth",
    "AddTags",
    "RemoveTags",
    "DescribeTags",
];

/// Runs one ELBv2 operation on a request's parameter tree; the XML answer
/// or the error.
pub async fn handle(ctx: &Ctx, action: &str, params: &Value) -> Result<String, ElbError> {
    macro_rules! ops {
        ($($name:literal => $handler:path,)*) => {
            match action {
                $($name => call(ctx, action, params, $handler).await,)*
                _ => Err(ElbError::new(
                    ElbErrorKind::InvalidAction,
                    format!("The action {action} is not valid for this web service."),
                )),
            }
        };
    }
    ops! {
        "CreateLoadBalancer" => load_balancers::create_load_balancer,
        "DescribeLoadBalancers" => load_balancers::describe_load_balancers,
        "DeleteLoadBalancer" => load_balancers::delete_load_balancer,
        "ModifyLoadBalancerAttributes" => load_balancers::modify_load_balancer_attributes,
        "DescribeLoadBalancerAttributes" => load_balancers::describe_load_balancer_attributes,
        "CreateTargetGroup" => target_groups::create_target_group,
        "DescribeTargetGroups" => target_groups::describe_target_groups,
        "ModifyTargetGroup" => target_groups::modify_target_group,
        "ModifyTargetGroupAttributes" => target_groups::modify_target_group_attributes,
        "DescribeTargetGroupAttributes" => target_groups::describe_target_group_attributes,
        "DeleteTargetGroup" => target_groups::delete_target_group,
        "CreateListener" => listeners::create_listener,
        "DescribeListeners" => listeners::describe_listeners,
        "ModifyListener" => listeners::modify_listener,
        "DeleteListener" => listeners::delete_listener,
        "AddListenerCertificates" => listeners::add_listener_certificates,
        "RemoveListenerCertificates" => listeners::remove_listener_certificates,
        "DescribeListenerCertificates" => listeners::describe_listener_certificates,
        "CreateRule" => rules::create_rule,
        "DescribeRules" => rules::describe_rules,
        "ModifyRule" => rules::modify_rule,
        "SetRulePriorities" => rules::set_rule_priorities,
        "DeleteRule" => rules::delete_rule,
        "RegisterTargets" => targets::register_targets,
        "DeregisterTargets" => targets::deregister_targets,
        "DescribeTargetHealth" => targets::describe_target_health,
        "AddTags" => tags::add_tags,
        "RemoveTags" => tags::remove_tags,
        "DescribeTags" => tags::describe_tags,
    }
}

async fn call<'a, Req, Resp, F, Fut>(
    ctx: &'a Ctx,
    action: &str,
    params: &Value,
    handler: F,
) -> Result<String, ElbError>
where
    Req: DeserializeOwned,
    Resp: Serialize,
    F: FnOnce(&'a Ctx, Req) -> Fut,
    Fut: std::future::Future<Output = Result<Resp, ElbError>> + 'a,
{
    let req: Req = query::parse(params).map_err(|e| {
        if e.path.is_empty() {
            ElbError::validation(e.message)
        } else {
            ElbError::validation(format!("Invalid value for '{}': {}", e.path, e.message))
        }
    })?;
    let resp = handler(ctx, req).await?;
    query::answer(action, XML_NAMESPACE, &ctx.request_id, &resp).map_err(|e| {
        tracing::error!(error = %e, "ELBv2 answer serialisation failed");
        ElbError::internal()
    })
}

/// A new resource ID: 16 hex digits, as ELBv2's.
fn new_id() -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    id[..16].to_owned()
}

/// Checks that a member holds an ARN of `kind`.
fn check_arn(kind: ElbArnKind, value: &str) -> Result<(), ElbError> {
    if arn::is(kind, value) {
        return Ok(());
    }
    let what = match kind {
        ElbArnKind::LoadBalancer => "load balancer",
        ElbArnKind::TargetGroup => "target group",
        ElbArnKind::Listener => "listener",
        ElbArnKind::Rule => "listener rule",
    };
    Err(ElbError::validation(format!("'{value}' is not a valid {what} ARN")))
}

/// A required member.
fn required<T>(value: Option<T>, member: &str) -> Result<T, ElbError> {
    value.ok_or_else(|| ElbError::missing(member))
}

/// Where a Describe call resumes: the decoded `Marker`.
fn resume(marker: Option<&str>) -> Result<Option<String>, ElbError> {
    marker
        .map(|m| pagination::decode(m).map_err(|_| ElbError::validation("The marker is not valid")))
        .transpose()
}

/// One page of `items` (already after the marker, up to `size + 1` of them)
/// and the `NextMarker` if there is more.
fn page<T>(mut items: Vec<(String, T)>, size: usize) -> (Vec<T>, Option<String>) {
    let next = if items.len() > size {
        items.truncate(size);
        items.last().map(|(k, _)| pagination::encode(k))
    } else {
        None
    };
    (items.into_iter().map(|(_, v)| v).collect(), next)
}

/// A target group as DescribeTargetGroups gives it: with `LoadBalancerArns`,
/// the load balancers whose listeners or rules forward to it.
fn with_load_balancers<S: ElbView + ?Sized>(
    elb: &Elb<'_, S>,
    record: TargetGroupRecord,
) -> Result<TargetGroup, ElbError> {
    let mut tg = record.target_group;
    let arn = tg.target_group_arn.clone().unwrap_or_default();
    let mut lbs: Vec<String> =
        elb.uses_of(&arn)?.into_iter().map(|u| u.load_balancer_arn).collect();
    lbs.sort();
    lbs.dedup();
    tg.load_balancer_arns = Some(lbs);
    Ok(tg)
}

/// Checks the target groups some actions forward to: each exists and is
/// used by no load balancer other than `lb`.
fn check_forwards<S: ElbView + ?Sized>(
    elb: &Elb<'_, S>,
    lb: &str,
    target_groups: &[String],
) -> Result<(), ElbError> {
    for tg in target_groups {
        if elb.target_group(tg)?.is_none() {
            return Err(ElbError::new(
                ElbErrorKind::TargetGroupNotFound,
                format!("Target group '{tg}' not found"),
            ));
        }
        if elb.uses_of(tg)?.iter().any(|u| u.load_balancer_arn != lb) {
            return Err(ElbError::new(
                ElbErrorKind::TargetGroupAssociationLimit,
                format!(
                    "The following target groups cannot be associated with more than one load \
                     balancer: {tg}"
                ),
            ));
        }
    }
    Ok(())
}
