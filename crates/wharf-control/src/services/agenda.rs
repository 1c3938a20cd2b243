//! Which services the scheduler looks at on its tick. A service still moving
//! (a deployment rolling, a task starting or draining, a launch throttled)
//! is looked at every tick, because one of its timers may come due any
//! second. A settled one ([`super::step::settled`]) waits for a change to
//! it, its tasks or their instances, and is otherwise looked at again once
//! within [`super::step::SETTLED_HORIZON_MS`], at a time spread by its name
//! so that services settling together do not come back together. A tick's
//! cost is then the moving services plus a bounded trickle of settled ones,
//! not every service of every cluster.

use std::collections::{BTreeMap, BTreeSet};
use std::hash::{Hash, Hasher};

use super::step::SETTLED_HORIZON_MS;

/// A service by region and store key (`<cluster>/<name>`).
pub type ServiceRef = (String, String);

/// What reconciling a service found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The service's record is gone.
    Gone,
    /// Reconciled.
    Seen {
        /// Nothing comes due by time alone within the horizon.
        settled: bool,
        /// A DAEMON service: a new or changed instance of its cluster
        /// concerns it.
        daemon: bool,
    },
}

/// The scheduler's record of the services it knows and when each is next
/// due.
#[derive(Debug, Default)]
pub struct Agenda {
    /// Looked at every tick.
    moving: BTreeSet<ServiceRef>,
    /// Settled, by the time (ms) each is next looked at regardless.
    settled: BTreeMap<ServiceRef, i64>,
    /// The DAEMON services among them.
    daemons: BTreeSet<ServiceRef>,
}

impl Agenda {
    /// Records what reconciling `service` at `now_ms` found.
    pub fn note(&mut self, service: ServiceRef, outcome: Outcome, now_ms: i64) {
        self.moving.remove(&service);
        self.settled.remove(&service);
        self.daemons.remove(&service);
        let Outcome::Seen { settled, daemon } = outcome else { return };
        if daemon {
            self.daemons.insert(service.clone());
        }
        if settled {
            let next = now_ms + SETTLED_HORIZON_MS / 2 + spread(&service);
            self.settled.insert(service, next);
        } else {
            self.moving.insert(service);
        }
    }

    /// Starts afresh from a pass over every service.
    pub fn replace(&mut self, seen: Vec<(ServiceRef, Outcome)>, now_ms: i64) {
        *self = Self::default();
        for (service, outcome) in seen {
            self.note(service, outcome, now_ms);
        }
    }

    /// The services a tick at `now_ms` looks at: the moving ones, and the
    /// settled ones whose time has come.
    pub fn due(&self, now_ms: i64) -> impl Iterator<Item = &ServiceRef> + '_ {
        let settled = self.settled.iter().filter(move |(_, at)| **at <= now_ms).map(|(s, _)| s);
        self.moving.iter().chain(settled)
    }

    /// The DAEMON services of `cluster` in `region`.
    pub fn daemons_in<'a>(
        &'a self,
        region: &'a str,
        cluster: &'a str,
    ) -> impl Iterator<Item = &'a ServiceRef> + 'a {
        self.daemons.iter().filter(move |(r, key)| {
            r == region && key.strip_prefix(cluster).is_some_and(|rest| rest.starts_with('/'))
        })
    }

    /// How many services are moving (for tests and tracing).
    pub fn moving(&self) -> usize {
        self.moving.len()
    }
}

/// A stable offset in [0, horizon / 2) for a service.
fn spread(service: &ServiceRef) -> i64 {
    let mut h = std::hash::DefaultHasher::new();
    service.hash(&mut h);
    let half = (SETTLED_HORIZON_MS / 2).max(1) as u64;
    (h.finish() % half) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc(key: &str) -> ServiceRef {
        ("us-east-1".into(), key.into())
    }

    const SETTLED: Outcome = Outcome::Seen { settled: true, daemon: false };
    const MOVING: Outcome = Outcome::Seen { settled: false, daemon: false };

    #[test]
    fn a_moving_service_is_due_every_tick_and_a_settled_one_only_when_its_time_comes() {
        let mut a = Agenda::default();
        a.note(svc("prod/web"), MOVING, 0);
        a.note(svc("prod/api"), SETTLED, 0);
        let due: Vec<_> = a.due(1_000).cloned().collect();
        assert_eq!(due, [svc("prod/web")]);
        let all: BTreeSet<_> = a.due(SETTLED_HORIZON_MS).cloned().collect();
        assert_eq!(all, [svc("prod/web"), svc("prod/api")].into_iter().collect());
        // Not before half the horizon.
        assert_eq!(a.due(SETTLED_HORIZON_MS / 2 - 1).count(), 1);
    }

    #[test]
    fn services_settling_together_come_back_at_different_times() {
        let mut a = Agenda::default();
        for i in 0..100 {
            a.note(svc(&format!("prod/s{i}")), SETTLED, 0);
        }
        let times: BTreeSet<i64> = a.settled.values().copied().collect();
        assert!(times.len() > 90, "only {} distinct times", times.len());
        assert!(times.iter().all(|t| (SETTLED_HORIZON_MS / 2..SETTLED_HORIZON_MS).contains(t)));
    }

    #[test]
    fn a_gone_service_is_forgotten_and_a_pass_starts_afresh() {
        let mut a = Agenda::default();
        a.note(svc("prod/web"), MOVING, 0);
        a.note(svc("prod/web"), Outcome::Gone, 0);
        assert_eq!(a.due(i64::MAX).count(), 0);
        a.note(svc("prod/old"), MOVING, 0);
        a.replace(vec![(svc("prod/new"), SETTLED)], 0);
        assert_eq!(a.moving(), 0);
        assert_eq!(a.due(i64::MAX).cloned().collect::<Vec<_>>(), [svc("prod/new")]);
    }

    #[test]
    fn daemons_are_found_by_their_cluster_alone() {
        let mut a = Agenda::default();
        let daemon = Outcome::Seen { settled: true, daemon: true };
        a.note(svc("prod/agent"), daemon, 0);
        a.note(svc("prod-2/agent"), daemon, 0);
        a.note(svc("prod/web"), SETTLED, 0);
        let found: Vec<_> = a.daemons_in("us-east-1", "prod").cloned().collect();
        assert_eq!(found, [svc("prod/agent")]);
        assert_eq!(a.daemons_in("eu-west-1", "prod").count(), 0);
    }
}
