//! Targets: RegisterTargets, DeregisterTargets, DescribeTargetHealth.
//!
//! A deregistered target of a group in use drains for the group's
//! `deregistration_delay.timeout_seconds` from its deregistration time and
//! is gone after (state computed from the record and the clock; gone
//! records are removed by the next write to the group).

use wharf_model::elbv2::arn::ElbArnKind;
use wharf_model::elbv2::shapes::{
    DeregisterTargetsInput, DeregisterTargetsOutput, DescribeTargetHealthInput,
    DescribeTargetHealthOutput, RegisterTargetsInput, RegisterTargetsOutput, TargetDescription,
    TargetHealthDescription,
};
use wharf_model::elbv2::{health, validate, ElbError, TargetRecord};
use wharf_ops::elb_state::read;
use wharf_ops::targets::{self as ops_targets, IfMissing};

use super::{check_arn, required};
use crate::context::Ctx;

fn same(a: &TargetDescription, b: &TargetDescription) -> bool {
    a.id == b.id && a.port == b.port
}

/// RegisterTargets: new targets start `initial`; a draining one is
/// registered afresh.
pub(crate) async fn register_targets(
    ctx: &Ctx,
    req: RegisterTargetsInput,
) -> Result<RegisterTargetsOutput, ElbError> {
    let arn = required(req.target_group_arn, "targetGroupArn")?;
    check_arn(ElbArnKind::TargetGroup, &arn)?;
    let targets = required(req.targets, "targets")?;
    ops_targets::register_targets(ctx.ops(), &arn, targets).await?;
    Ok(RegisterTargetsOutput {})
}

/// DeregisterTargets: targets of a group in use drain; others go at once.
pub(crate) async fn deregister_targets(
    ctx: &Ctx,
    req: DeregisterTargetsInput,
) -> Result<DeregisterTargetsOutput, ElbError> {
    let arn = required(req.target_group_arn, "targetGroupArn")?;
    check_arn(ElbArnKind::TargetGroup, &arn)?;
    let targets = required(req.targets, "targets")?;
    ops_targets::deregister_targets(ctx.ops(), &arn, targets, IfMissing::Refuse).await?;
    Ok(DeregisterTargetsOutput {})
}

/// DescribeTargetHealth: the given targets (unregistered ones `unused`), or
/// every registered one.
pub(crate) async fn describe_target_health(
    ctx: &Ctx,
    req: DescribeTargetHealthInput,
) -> Result<DescribeTargetHealthOutput, ElbError> {
    let arn = required(req.target_group_arn, "targetGroupArn")?;
    check_arn(ElbArnKind::TargetGroup, &arn)?;
    let asked = req.targets.filter(|t| !t.is_empty());
    let now = ctx.state.ops.clock.now_millis();
    let out = read(ctx.store(), &ctx.region, move |elb| {
        let record = elb.target_group(&arn)?.ok_or_else(ElbError::target_group_not_found)?;
        let tg = &record.target_group;
        let delay = record.deregistration_delay_ms();
        let in_use = !elb.uses_of(&arn)?.is_empty();
        let stored: Vec<TargetRecord> =
            elb.targets(&arn)?.into_iter().filter(|t| !health::is_gone(t, delay, now)).collect();
        let pairs: Vec<(TargetDescription, Option<&TargetRecord>)> = match &asked {
            Some(asked) => {
                let mut v = Vec::with_capacity(asked.len());
                for t in asked {
                    let t = validate::target(tg, t)?;
                    let found = stored.iter().find(|s| same(&s.target, &t));
                    v.push((found.map_or(t, |f| f.target.clone()), found));
                }
                v
            }
            None => stored.iter().map(|s| (s.target.clone(), Some(s))).collect(),
        };
        Ok(pairs
            .into_iter()
            .map(|(target, rec)| {
                let port = match tg.health_check_port.as_deref() {
                    None | Some("traffic-port") => target.port.map(|p| p.to_string()),
                    Some(p) => Some(p.to_owned()),
                };
                TargetHealthDescription {
                    health_check_port: port,
                    target_health: Some(health::describe(rec, in_use, delay, now)),
                    target: Some(target),
                    ..Default::default()
                }
            })
            .collect::<Vec<_>>())
    })
    .await?;
    Ok(DescribeTargetHealthOutput { target_health_descriptions: Some(out) })
}
