//! Targets: RegisterTargets, DeregisterTargets, DescribeTargetHealth.
//!
//! A deregistered target of a group in use drains for the group's
//! `deregistration_delay.timeout_seconds` from its deregistration time and
//! is gone after (state computed from the record and the clock; gone
//! records are removed by the next write to the group).

use wharf_model::elbv2::arn::ElbArnKind;
use wharf_model::elbv2::registration::{self, Deregistered};
use wharf_model::elbv2::shapes::{
    DeregisterTargetsInput, DeregisterTargetsOutput, DescribeTargetHealthInput,
    DescribeTargetHealthOutput, RegisterTargetsInput, RegisterTargetsOutput, TargetDescription,
    TargetGroup, TargetHealthDescription,
};
use wharf_model::elbv2::{
    self as elb, health, validate, ElbError, ElbErrorKind, TargetGroupRecord, TargetRecord,
};
use wharf_store::elb::ElbTx;

use super::state::{read, write, Elb};
use super::{check_arn, required};
use crate::context::Ctx;

fn same(a: &TargetDescription, b: &TargetDescription) -> bool {
    a.id == b.id && a.port == b.port
}

/// Checks the request's targets against the group's type and fills ports.
fn checked(
    tg: &TargetGroup,
    targets: &[TargetDescription],
) -> Result<Vec<TargetDescription>, ElbError> {
    if targets.is_empty() {
        return Err(ElbError::missing("targets"));
    }
    targets.iter().map(|t| validate::target(tg, t)).collect()
}

/// Removes the group's targets that finished draining; returns the rest.
fn live<S: ElbTx + ?Sized>(
    elb: &Elb<'_, S>,
    tg: &str,
    delay_ms: i64,
    now: i64,
) -> Result<Vec<TargetRecord>, ElbError> {
    let mut out = Vec::new();
    for t in elb.targets(tg)? {
        if health::is_gone(&t, delay_ms, now) {
            elb.delete_target(
                tg,
                t.target.id.as_deref().unwrap_or_default(),
                t.target.port.unwrap_or(0),
            )?;
        } else {
            out.push(t);
        }
    }
    Ok(out)
}

/// A write's view of a group: its record, the request's targets checked
/// against it, and its targets still registered or draining.
type Group = (TargetGroupRecord, Vec<TargetDescription>, Vec<TargetRecord>);

fn group<S: ElbTx + ?Sized>(
    elb: &Elb<'_, S>,
    arn: &str,
    targets: &[TargetDescription],
    now: i64,
) -> Result<Group, ElbError> {
    let record = elb.target_group(arn)?.ok_or_else(ElbError::target_group_not_found)?;
    let targets = checked(&record.target_group, targets)?;
    let current = live(elb, arn, record.deregistration_delay_ms(), now)?;
    Ok((record, targets, current))
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
    let now = ctx.state.clock.now_millis();
    write(ctx.store(), &ctx.region, move |elb| {
        let (_, targets, current) = group(elb, &arn, &targets, now)?;
        let added = targets.iter().filter(|t| !current.iter().any(|c| same(&c.target, t))).count();
        if current.len() + added > elb::MAX_TARGETS {
            return Err(ElbError::new(
                ElbErrorKind::TooManyTargets,
                format!("A target group can have at most {} targets", elb::MAX_TARGETS),
            ));
        }
        for t in targets {
            let existing = current.iter().find(|c| same(&c.target, &t));
            if let Some(record) = registration::register(existing, t, now) {
                elb.put_target(&arn, &record)?;
            }
        }
        Ok(())
    })
    .await?;
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
    let now = ctx.state.clock.now_millis();
    write(ctx.store(), &ctx.region, move |elb| {
        let (record, targets, current) = group(elb, &arn, &targets, now)?;
        let in_use = !elb.uses_of(&arn)?.is_empty();
        let missing: Vec<String> = targets
            .iter()
            .filter(|t| !current.iter().any(|c| same(&c.target, t)))
            .map(|t| t.id.clone().unwrap_or_default())
            .collect();
        if !missing.is_empty() {
            return Err(ElbError::new(
                ElbErrorKind::InvalidTarget,
                format!(
                    "The following targets are not registered in target group '{arn}': '{}'",
                    missing.join("', '")
                ),
            ));
        }
        for t in &targets {
            let Some(c) = current.iter().find(|c| same(&c.target, t)) else { continue };
            match registration::deregister(c, in_use, record.deregistration_delay_ms(), now) {
                Deregistered::Keep => {}
                Deregistered::Drain(drained) => elb.put_target(&arn, &drained)?,
                Deregistered::Remove => elb.delete_target(
                    &arn,
                    t.id.as_deref().unwrap_or_default(),
                    t.port.unwrap_or(0),
                )?,
            }
        }
        Ok(())
    })
    .await?;
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
    let now = ctx.state.clock.now_millis();
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
