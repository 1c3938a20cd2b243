//! Listener rules' forward weights, as ECS's blue/green, linear and canary
//! deployments read and set them (through the role in the service's
//! `advancedConfiguration`, in ECS): a rule is a stored rule or a
//! listener's default rule.

use std::collections::BTreeMap;

use wharf_model::elbv2::arn::ElbArn;
use wharf_model::elbv2::shapes::{Action, ActionTypeEnum, ForwardActionConfig, TargetGroupTuple};
use wharf_model::elbv2::{rules, ElbError, ListenerRecord};
use wharf_store::elb::{ElbTx, ElbView};
use wharf_store::Store;

use crate::elb_state::{read, write, Elb};
use crate::Region;

/// Weighted target groups.
pub type Forward = Vec<(String, u32)>;

/// A rule's actions, with the listener record when it is a default rule.
type Found = (Vec<Action>, Option<ListenerRecord>);

/// A rule's actions: a stored rule's, or a listener's default actions
/// (with the listener record); `None` if there is no such rule.
fn rule_actions<S: ElbView + ?Sized>(
    elb: &Elb<'_, S>,
    rule_arn: &str,
) -> Result<Option<Found>, ElbError> {
    if let Some(r) = elb.rule(rule_arn)? {
        return Ok(Some((r.actions.unwrap_or_default(), None)));
    }
    let Some(listener) = ElbArn::parse(rule_arn).and_then(|a| a.listener()) else {
        return Ok(None);
    };
    match elb.listener(&listener)? {
        Some(l) if l.default_rule_arn == rule_arn => {
            Ok(Some((l.listener.default_actions.clone().unwrap_or_default(), Some(l))))
        }
        _ => Ok(None),
    }
}

/// The target groups and weights a rule forwards to; `None` if the rule
/// does not exist.
pub fn forward_of<S: ElbView + ?Sized>(
    elb: &Elb<'_, S>,
    rule_arn: &str,
) -> Result<Option<Forward>, ElbError> {
    Ok(rule_actions(elb, rule_arn)?.map(|(actions, _)| {
        actions
            .iter()
            .filter_map(|a| a.forward_config.as_ref())
            .flat_map(|f| f.target_groups.iter().flatten())
            .filter_map(|g| {
                let w = u32::try_from(g.weight.unwrap_or(1)).unwrap_or(0);
                g.target_group_arn.clone().map(|arn| (arn, w))
            })
            .collect()
    }))
}

/// The forwards of several rules, read on one snapshot; rules that do not
/// exist are left out.
pub async fn forwards(
    store: &dyn Store,
    region: &str,
    rule_arns: Vec<String>,
) -> Result<BTreeMap<String, Forward>, ElbError> {
    if rule_arns.is_empty() {
        return Ok(BTreeMap::new());
    }
    read(store, region, move |elb| {
        let mut out = BTreeMap::new();
        for arn in rule_arns {
            if let Some(f) = forward_of(elb, &arn)? {
                out.insert(arn, f);
            }
        }
        Ok(out)
    })
    .await
}

/// Makes a rule forward to `groups` with their weights, keeping its other
/// settings (stickiness, order, conditions).
pub async fn set_forward(r: Region<'_>, rule_arn: &str, groups: Forward) -> Result<(), ElbError> {
    let arn = rule_arn.to_owned();
    write(r.store(), r.name, move |elb| put_forward(elb, &arn, &groups)).await
}

fn put_forward<S: ElbTx + ?Sized>(
    elb: &Elb<'_, S>,
    arn: &str,
    groups: &Forward,
) -> Result<(), ElbError> {
    let (actions, listener) = rule_actions(elb, arn)?.ok_or_else(ElbError::rule_not_found)?;
    let old = actions.into_iter().find(|a| a.r#type == Some(ActionTypeEnum::Forward));
    let stickiness = old
        .as_ref()
        .and_then(|a| a.forward_config.as_ref())
        .and_then(|f| f.target_group_stickiness_config.clone());
    let action = Action {
        r#type: Some(ActionTypeEnum::Forward),
        order: old.as_ref().and_then(|a| a.order),
        forward_config: Some(ForwardActionConfig {
            target_groups: Some(
                groups
                    .iter()
                    .map(|(g, w)| TargetGroupTuple {
                        target_group_arn: Some(g.clone()),
                        weight: Some(i32::try_from(*w).unwrap_or(999).min(999)),
                    })
                    .collect(),
            ),
            target_group_stickiness_config: stickiness,
        }),
        ..Action::default()
    };
    let forwards = rules::target_groups(std::slice::from_ref(&action));
    let parsed = ElbArn::parse(arn).ok_or_else(ElbError::rule_not_found)?;
    let lb = parsed.load_balancer().ok_or_else(ElbError::rule_not_found)?;
    match listener {
        Some(mut l) => {
            l.listener.default_actions = Some(vec![action]);
            elb.put_listener(&l, &forwards)
        }
        None => {
            let listener_arn = parsed.listener().ok_or_else(ElbError::rule_not_found)?;
            let mut rule = elb.rule(arn)?.ok_or_else(ElbError::rule_not_found)?;
            rule.actions = Some(vec![action]);
            elb.put_rule(&listener_arn, &lb, &rule, &forwards)
        }
    }
}
