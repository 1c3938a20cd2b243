//! What RegisterTargets and DeregisterTargets do to one target's record, as
//! pure rules, so that the API and the service scheduler register and drain
//! targets the same way.

use super::shapes::TargetDescription;
use super::TargetRecord;

/// The record to store when `target` is registered, given its current one:
/// `None` when it is already registered (and not draining), else a fresh
/// record (a draining target is registered afresh).
pub fn register(
    current: Option<&TargetRecord>,
    target: TargetDescription,
    now_ms: i64,
) -> Option<TargetRecord> {
    if current.is_some_and(|c| c.deregistered_ms.is_none()) {
        return None;
    }
    Some(TargetRecord { target, registered_ms: now_ms, deregistered_ms: None, health: None })
}

/// What deregistering a target does to its record.
#[derive(Debug, Clone, PartialEq)]
pub enum Deregistered {
    /// Nothing: it is already draining.
    Keep,
    /// It drains: store this record (deregistered now).
    Drain(TargetRecord),
    /// It goes at once: its group receives no traffic, or has no delay.
    Remove,
}

/// Deregisters a registered target: it drains for the group's delay when
/// the group is in use, else it goes at once.
pub fn deregister(
    current: &TargetRecord,
    in_use: bool,
    delay_ms: i64,
    now_ms: i64,
) -> Deregistered {
    if current.deregistered_ms.is_some() {
        return Deregistered::Keep;
    }
    if in_use && delay_ms > 0 {
        return Deregistered::Drain(TargetRecord {
            deregistered_ms: Some(now_ms),
            ..current.clone()
        });
    }
    Deregistered::Remove
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(deregistered_ms: Option<i64>) -> TargetRecord {
        TargetRecord {
            target: TargetDescription {
                id: Some("i-1".into()),
                port: Some(80),
                ..Default::default()
            },
            registered_ms: 1,
            deregistered_ms,
            health: None,
        }
    }

    #[test]
    fn registering_keeps_a_registered_target_and_renews_a_draining_one() {
        let t = record(None).target;
        assert_eq!(register(Some(&record(None)), t.clone(), 5), None);
        let again = register(Some(&record(Some(3))), t.clone(), 5).unwrap();
        assert_eq!((again.registered_ms, again.deregistered_ms), (5, None));
        assert_eq!(register(None, t, 5).unwrap().registered_ms, 5);
    }

    #[test]
    fn deregistering_drains_only_in_a_group_in_use_with_a_delay() {
        assert_eq!(deregister(&record(Some(3)), true, 1000, 5), Deregistered::Keep);
        assert_eq!(deregister(&record(None), false, 1000, 5), Deregistered::Remove);
        assert_eq!(deregister(&record(None), true, 0, 5), Deregistered::Remove);
        assert_eq!(deregister(&record(None), true, 1000, 5), Deregistered::Drain(record(Some(5))));
    }
}
