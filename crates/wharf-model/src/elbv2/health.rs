//! A target's health as DescribeTargetHealth reports it, computed from its
//! record, whether its group receives traffic, and the time.

use super::shapes::{
    TargetHealth, TargetHealthReasonEnum as Reason, TargetHealthStateEnum as State,
};
use super::TargetRecord;

/// The description of a target in a group no listener or rule forwards to.
pub const NOT_IN_USE: &str =
    "Target group is not configured to receive traffic from the load balancer";
/// The description of a target not registered in the group.
pub const NOT_REGISTERED: &str = "Target is not registered to the target group";
/// The description of a newly registered target.
pub const REGISTRATION_IN_PROGRESS: &str = "Target registration is in progress";
/// The description of a draining target.
pub const DEREGISTRATION_IN_PROGRESS: &str = "Target deregistration is in progress";

fn health(state: State, reason: Reason, description: &str) -> TargetHealth {
    TargetHealth {
        state: Some(state),
        reason: Some(reason),
        description: Some(description.to_owned()),
    }
}

/// Whether a deregistered target has finished draining at `now_ms` (and is
/// no longer reported or counted).
pub fn is_gone(record: &TargetRecord, delay_ms: i64, now_ms: i64) -> bool {
    record.deregistered_ms.is_some_and(|at| now_ms >= at.saturating_add(delay_ms))
}

/// The health of a target: `None` for one not registered (or gone), else
/// draining while it drains, `unused` while no listener or rule forwards to
/// its group, else what the data plane observed, else `initial`.
pub fn describe(
    record: Option<&TargetRecord>,
    in_use: bool,
    delay_ms: i64,
    now_ms: i64,
) -> TargetHealth {
    let Some(record) = record.filter(|r| !is_gone(r, delay_ms, now_ms)) else {
        return health(State::Unused, Reason::TargetNotRegistered, NOT_REGISTERED);
    };
    if record.deregistered_ms.is_some() {
        return health(
            State::Draining,
            Reason::TargetDeregistrationInProgress,
            DEREGISTRATION_IN_PROGRESS,
        );
    }
    if !in_use {
        return health(State::Unused, Reason::TargetNotInUse, NOT_IN_USE);
    }
    match &record.health {
        Some(observed) => TargetHealth {
            state: Some(observed.state.clone()),
            reason: observed.reason.clone(),
            description: observed.description.clone(),
        },
        None => health(State::Initial, Reason::ElbRegistrationInProgress, REGISTRATION_IN_PROGRESS),
    }
}

#[cfg(test)]
mod tests {
    use super::super::shapes::TargetDescription;
    use super::*;

    fn record(deregistered_ms: Option<i64>) -> TargetRecord {
        TargetRecord {
            target: TargetDescription {
                id: Some("10.0.0.1".into()),
                port: Some(80),
                ..Default::default()
            },
            registered_ms: 0,
            deregistered_ms,
            health: None,
        }
    }

    #[test]
    fn states_follow_record_use_and_time() {
        let r = record(None);
        assert_eq!(describe(Some(&r), false, 300_000, 1).state, Some(State::Unused));
        assert_eq!(
            describe(Some(&r), true, 300_000, 1).reason,
            Some(Reason::ElbRegistrationInProgress)
        );
        let d = record(Some(1000));
        assert_eq!(describe(Some(&d), true, 5000, 5999).state, Some(State::Draining));
        assert!(!is_gone(&d, 5000, 5999));
        assert!(is_gone(&d, 5000, 6000));
        assert_eq!(describe(Some(&d), true, 5000, 6000).reason, Some(Reason::TargetNotRegistered));
    }
}
