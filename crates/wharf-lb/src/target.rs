//! Live target groups and targets: health state and in-flight counts in atomics, and the
//! routable set behind an `ArcSwap`, so that picking a target takes no lock.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use http::uri::Authority;

use crate::config::Algorithm;
use crate::health::{Reason, TargetState};
use crate::pool::{Connection, Pool};
use crate::report::HealthReport;
use crate::select;

/// A registered target as the proxy sees it.
#[derive(Debug)]
pub struct LiveTarget {
    /// The target group's ARN.
    pub group_arn: Arc<str>,
    /// The target's ID.
    pub id: String,
    /// Its port.
    pub port: u16,
    /// Where to connect.
    pub addr: SocketAddr,
    /// `addr` as a URI authority, built once.
    pub authority: Authority,
    in_flight: AtomicU32,
    state: AtomicU8,
    /// Keep-alive connections to it, one pool per proxy worker (and one for other threads).
    pools: Box<[Pool]>,
    last_report: Mutex<Option<(TargetState, Option<Reason>)>>,
}

const STATES: [TargetState; 6] = [
    TargetState::Initial,
    TargetState::Healthy,
    TargetState::Unhealthy,
    TargetState::Draining,
    TargetState::Unused,
    TargetState::Unavailable,
];

fn state_index(state: TargetState) -> u8 {
    STATES.iter().position(|s| *s == state).unwrap_or(0) as u8
}

impl LiveTarget {
    /// A target in the `initial` state with nothing in flight.
    /// `workers` is the number of proxy workers, each of which gets its own connection pool.
    pub fn new(
        group_arn: Arc<str>,
        id: String,
        addr: SocketAddr,
        workers: usize,
    ) -> Result<Self, http::Error> {
        let authority = Authority::try_from(addr.to_string())?;
        Ok(Self {
            group_arn,
            id,
            port: addr.port(),
            addr,
            authority,
            in_flight: AtomicU32::new(0),
            pools: (0..=workers).map(|_| Pool::default()).collect(),
            state: AtomicU8::new(state_index(TargetState::Initial)),
            last_report: Mutex::new(None),
        })
    }

    /// The connection pool of the worker running on this thread.
    pub fn pool(&self) -> &Pool {
        let last = self.pools.len() - 1;
        &self.pools[crate::workers::current().map_or(last, |w| w.min(last))]
    }

    /// Requests sent to this target whose responses have not finished.
    pub fn in_flight(&self) -> u32 {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// The current health state.
    pub fn state(&self) -> TargetState {
        STATES
            .get(usize::from(self.state.load(Ordering::Relaxed)))
            .copied()
            .unwrap_or(TargetState::Initial)
    }

    /// Sets the state; returns the report to send when state or reason changed since the last.
    pub fn set_health(&self, state: TargetState, reason: Option<Reason>) -> Option<HealthReport> {
        self.state.store(state_index(state), Ordering::Relaxed);
        let changed = {
            let mut last = self.last_report.lock().unwrap_or_else(|e| e.into_inner());
            let changed = *last != Some((state, reason));
            *last = Some((state, reason));
            changed
        };
        changed.then(|| HealthReport {
            target_group_arn: self.group_arn.to_string(),
            target_id: self.id.clone(),
            port: self.port,
            state,
            reason,
            description: reason.map(Reason::description),
        })
    }
}

/// A request in flight to a target: counted from when the target is picked until the
/// response body has been sent or dropped, when the connection it used goes back to the pool.
#[derive(Debug)]
pub struct InFlight {
    target: Arc<LiveTarget>,
    connection: Option<Connection>,
}

impl InFlight {
    /// Counts one more request in flight to `target`.
    pub fn start(target: Arc<LiveTarget>) -> Self {
        target.in_flight.fetch_add(1, Ordering::Relaxed);
        Self { target, connection: None }
    }

    /// The target.
    pub fn target(&self) -> &LiveTarget {
        &self.target
    }

    /// The connection to give back to the target's pool when the request is over.
    pub fn hold(&mut self, connection: Connection) {
        self.connection = Some(connection);
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.target.in_flight.fetch_sub(1, Ordering::Relaxed);
        if let Some(connection) = self.connection.take() {
            self.target.pool().put(connection);
        }
    }
}

#[derive(Debug, Default)]
struct Routable {
    algorithm: Algorithm,
    targets: Vec<Arc<LiveTarget>>,
}

/// A live target group: its members and the subset that may receive requests.
#[derive(Debug)]
pub struct LiveGroup {
    /// The target group's ARN.
    pub arn: Arc<str>,
    members: Mutex<(Algorithm, Vec<Arc<LiveTarget>>)>,
    routable: ArcSwap<Routable>,
    counter: AtomicUsize,
}

impl LiveGroup {
    /// An empty group.
    pub fn new(arn: &str) -> Self {
        Self {
            arn: Arc::from(arn),
            members: Mutex::new((Algorithm::RoundRobin, Vec::new())),
            routable: ArcSwap::from_pointee(Routable::default()),
            counter: AtomicUsize::new(0),
        }
    }

    /// Replaces the members and the algorithm, then recomputes the routable set.
    pub fn set_members(&self, algorithm: Algorithm, members: Vec<Arc<LiveTarget>>) {
        let mut guard = self.members.lock().unwrap_or_else(|e| e.into_inner());
        *guard = (algorithm, members);
        self.store_routable(&guard);
    }

    /// Recomputes the routable set after a member's health changed.
    pub fn refresh(&self) {
        let guard = self.members.lock().unwrap_or_else(|e| e.into_inner());
        self.store_routable(&guard);
    }

    // Called with the members lock held so that concurrent refreshes cannot store a stale set.
    fn store_routable(&self, (algorithm, members): &(Algorithm, Vec<Arc<LiveTarget>>)) {
        let states: Vec<TargetState> = members.iter().map(|t| t.state()).collect();
        let targets = select::routable(&states).into_iter().map(|i| members[i].clone()).collect();
        self.routable.store(Arc::new(Routable { algorithm: *algorithm, targets }));
    }

    /// Picks a target for a new request, or `None` when none may receive one.
    pub fn pick(&self) -> Option<InFlight> {
        let routable = self.routable.load();
        let turn = self.counter.fetch_add(1, Ordering::Relaxed);
        let targets = &routable.targets;
        let index = match routable.algorithm {
            Algorithm::RoundRobin => select::round_robin(targets.len(), turn),
            Algorithm::LeastOutstandingRequests => {
                select::least_outstanding(targets.iter().map(|t| t.in_flight()), turn)
            }
        }?;
        targets.get(index).map(|t| InFlight::start(t.clone()))
    }
}
