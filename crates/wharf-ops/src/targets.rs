//! Registering and deregistering load balancer targets: RegisterTargets and
//! DeregisterTargets, and the service scheduler registering its tasks and
//! draining them before it stops them, all write here.
//!
//! A deregistered target of a group in use drains for the group's
//! `deregistration_delay.timeout_seconds` from its deregistration time and
//! is gone after (its state computed from the record and the clock); gone
//! records are removed by the next write to the group.

use wharf_model::elbv2::registration::{self, Deregistered};
use wharf_model::elbv2::shapes::{TargetDescription, TargetGroup};
use wharf_model::elbv2::{
    self as elb, health, validate, ElbError, ElbErrorKind, TargetGroupRecord, TargetRecord,
};
use wharf_store::elb::ElbTx;

use crate::elb_state::{write, Elb};
use crate::Region;

/// What deregistering a target that is not registered does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IfMissing {
    /// ELBv2's `InvalidTarget` (DeregisterTargets).
    Refuse,
    /// Nothing: it is gone already (the scheduler, whose view may lag).
    Skip,
}

fn same(a: &TargetDescription, b: &TargetDescription) -> bool {
    a.id == b.id && a.port == b.port
}

/// Checks targets against the group's type and fills their ports.
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

/// A write's view of a group: its record, the targets checked against it,
/// and its targets still registered or draining.
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

/// Registers targets in group `arn`: new ones start `initial`, a
/// draining one is registered afresh; a group holds at most ELBv2's
/// limit of targets.
pub async fn register_targets(
    r: Region<'_>,
    arn: &str,
    targets: Vec<TargetDescription>,
) -> Result<(), ElbError> {
    let now = r.now_ms();
    let arn = arn.to_owned();
    write(r.store(), r.name, move |elb| {
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
    .await
}

/// Deregisters targets from group `arn`: in a group in use they drain,
/// in one that is not they go at once.
pub async fn deregister_targets(
    r: Region<'_>,
    arn: &str,
    targets: Vec<TargetDescription>,
    if_missing: IfMissing,
) -> Result<(), ElbError> {
    let now = r.now_ms();
    let arn = arn.to_owned();
    write(r.store(), r.name, move |elb| {
        let (record, targets, current) = group(elb, &arn, &targets, now)?;
        let in_use = !elb.uses_of(&arn)?.is_empty();
        let missing: Vec<String> = targets
            .iter()
            .filter(|t| !current.iter().any(|c| same(&c.target, t)))
            .map(|t| t.id.clone().unwrap_or_default())
            .collect();
        if !missing.is_empty() && if_missing == IfMissing::Refuse {
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
    .await
}
