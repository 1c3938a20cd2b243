//! [`LoadBalancer`]: reconciles live listeners, target groups and per-target tasks with a
//! configuration, and answers what the binary asks (in-flight counts, current states).

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpSocket;
use tokio::runtime::Handle;
use tokio::task::JoinHandle;
use wharf_model::clock::Clock;

use crate::checker::{CheckSettings, Mode, TargetTask};
use crate::config::{Action, HealthCheck, LbConfig, Listener, TargetGroup};
use crate::error::LbError;
use crate::health::{CodeMatcher, TargetState};
use crate::listener;
use crate::proxy::{Forward, ListenerShared, RouteAction, Routes, Transport};
use crate::report::HealthSink;
use crate::respond::Fixed;
use crate::rules::{sort_rules, CompiledRule, Matcher};
use crate::target::{LiveGroup, LiveTarget};
use crate::traffic::{load_balancer_dimension, target_group_dimension, Traffic};
use crate::workers::Workers;

/// The ALB data plane. Create it inside a Tokio runtime, then call [`LoadBalancer::apply`]
/// with each new configuration. Dropping it closes every listener and stops every task.
#[derive(Debug)]
pub struct LoadBalancer {
    handle: Handle,
    clock: Arc<dyn Clock>,
    sink: Arc<dyn HealthSink>,
    workers: Workers,
    traffic: Arc<Traffic>,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    listeners: HashMap<SocketAddr, LiveListener>,
    groups: HashMap<String, GroupSlot>,
}

#[derive(Debug)]
struct LiveListener {
    shared: Arc<ListenerShared>,
    tasks: Vec<AbortOnDrop>,
}

#[derive(Debug)]
struct GroupSlot {
    live: Arc<LiveGroup>,
    targets: HashMap<(String, u16), TargetSlot>,
}

#[derive(Debug)]
struct TargetSlot {
    live: Arc<LiveTarget>,
    mode: Mode,
    _task: AbortOnDrop,
}

#[derive(Debug)]
struct AbortOnDrop(Option<JoinHandle<()>>);

impl AbortOnDrop {
    fn spawn(task: impl std::future::Future<Output = ()> + Send + 'static) -> Self {
        Self(Some(tokio::spawn(task)))
    }

    fn spawn_on(
        handle: &Handle,
        task: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Self {
        Self(Some(handle.spawn(task)))
    }

    /// Aborts the task and waits until it is gone (and what it owned dropped).
    async fn stop(mut self) {
        if let Some(handle) = self.0.take() {
            handle.abort();
            let _ = handle.await;
        }
    }
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(handle) = &self.0 {
            handle.abort();
        }
    }
}

/// How a listener takes connections: HTTP, or HTTPS with its certificates
/// (problems loading them are reported; an HTTPS listener never falls back
/// to HTTP).
fn transport(listener: &Listener, errors: &mut Vec<LbError>) -> Transport {
    let Some(tls) = &listener.tls else { return Transport::Plain };
    match crate::tls::server_config(tls) {
        Ok((config, problems)) => {
            for p in problems {
                errors.push(LbError::InvalidConfig(format!("listener {}: {p}", listener.arn)));
            }
            Transport::Tls(tokio_rustls::TlsAcceptor::from(config))
        }
        Err(e) => {
            errors.push(LbError::InvalidConfig(format!("listener {}: {e}", listener.arn)));
            Transport::Refuse
        }
    }
}

impl LoadBalancer {
    /// A load balancer serving nothing yet, proxying on one worker thread per core; health
    /// changes go to `sink`, and `clock` times deregistration delays. Health checks run on the
    /// caller's runtime: this fails outside a Tokio runtime.
    pub fn new(clock: Arc<dyn Clock>, sink: Arc<dyn HealthSink>) -> Result<Self, LbError> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self::with_workers(clock, sink, cores)
    }

    /// As [`LoadBalancer::new`], with this many proxy worker threads.
    pub fn with_workers(
        clock: Arc<dyn Clock>,
        sink: Arc<dyn HealthSink>,
        workers: usize,
    ) -> Result<Self, LbError> {
        let handle = Handle::try_current().map_err(|_| LbError::NoRuntime)?;
        let workers = Workers::start(workers).map_err(LbError::Workers)?;
        let traffic = Arc::new(Traffic::new());
        Ok(Self { handle, clock, sink, workers, traffic, state: Mutex::new(State::default()) })
    }

    /// Counts traffic into `traffic` instead of a registry of its own (call before the
    /// first [`LoadBalancer::apply`]), so that whoever serves `/metrics` can read it.
    pub fn with_traffic(mut self, traffic: Arc<Traffic>) -> Self {
        self.traffic = traffic;
        self
    }

    /// What the listeners have served, by load balancer and target group.
    pub fn traffic(&self) -> &Arc<Traffic> {
        &self.traffic
    }

    /// Makes the live data plane match `config`: binds new listeners, closes removed ones,
    /// swaps rules atomically (requests in flight finish on the rules they started with),
    /// starts health checks for new targets and drains deregistering ones. Everything that
    /// can be applied is; the first problem met is returned. When it returns, removed
    /// listeners' ports are closed (connections already accepted run on).
    pub async fn apply(&self, config: LbConfig) -> Result<(), LbError> {
        let (closed, errors) = self.reconcile(config);
        for listener in closed {
            for task in listener.tasks {
                task.stop().await;
            }
        }
        self.traffic.forget_unused();
        for error in &errors {
            tracing::warn!(%error, "load balancer configuration not fully applied");
        }
        errors.into_iter().next().map_or(Ok(()), Err)
    }

    /// Everything `apply` does that needs no waiting; returns the listeners to close.
    fn reconcile(&self, config: LbConfig) -> (Vec<LiveListener>, Vec<LbError>) {
        let _runtime = self.handle.enter();
        let mut errors = Vec::new();
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let used: HashSet<&str> = config
            .listeners
            .iter()
            .flat_map(|l| l.rules.iter().map(|r| &r.action).chain([&l.default_action]))
            .filter_map(|a| match a {
                Action::Forward(groups) => Some(groups.iter().map(|g| g.arn.as_str())),
                _ => None,
            })
            .flatten()
            .collect();

        state.groups.retain(|arn, _| config.target_groups.iter().any(|g| &g.arn == arn));
        for group in &config.target_groups {
            let slot = state.groups.entry(group.arn.clone()).or_insert_with(|| GroupSlot {
                live: Arc::new(LiveGroup::new(&group.arn)),
                targets: HashMap::new(),
            });
            self.apply_group(slot, group, used.contains(group.arn.as_str()), &mut errors);
        }

        let mut wanted = HashSet::new();
        for listener in &config.listeners {
            let addr = SocketAddr::new(listener.bind_address, listener.port);
            wanted.insert(addr);
            let routes = compile_routes(listener, &state.groups, &self.traffic, &mut errors);
            let transport = transport(listener, &mut errors);
            match state.listeners.get(&addr) {
                Some(live) => {
                    live.shared.routes.store(Arc::new(routes));
                    live.shared.transport.store(Arc::new(transport));
                }
                None => match self.bind(addr) {
                    Ok(sockets) => {
                        let shared = Arc::new(ListenerShared::new(addr.port(), routes, transport));
                        let tasks = sockets
                            .into_iter()
                            .zip(self.workers.handles())
                            .map(|(socket, worker)| {
                                AbortOnDrop::spawn_on(
                                    worker,
                                    listener::serve(socket, shared.clone()),
                                )
                            })
                            .collect();
                        state.listeners.insert(addr, LiveListener { shared, tasks });
                    }
                    Err(source) => errors.push(LbError::Bind { address: addr, source }),
                },
            }
        }
        let gone: Vec<SocketAddr> =
            state.listeners.keys().filter(|a| !wanted.contains(a)).copied().collect();
        let closed = gone.iter().filter_map(|addr| state.listeners.remove(addr)).collect();
        (closed, errors)
    }

    fn apply_group(
        &self,
        slot: &mut GroupSlot,
        group: &TargetGroup,
        used: bool,
        errors: &mut Vec<LbError>,
    ) {
        let hc = &group.health_check;
        let matcher = CodeMatcher::parse(&hc.matcher).unwrap_or_else(|e| {
            errors.push(e);
            CodeMatcher::default()
        });
        // ELBv2 validates the ranges; here only what would break the loop is guarded.
        let interval = hc.interval.max(Duration::from_millis(10));
        let config = HealthCheck {
            path: if hc.path.starts_with('/') { hc.path.clone() } else { format!("/{}", hc.path) },
            interval,
            timeout: hc.timeout.min(interval),
            ..hc.clone()
        };
        let settings = CheckSettings { config, matcher };
        let mut members = Vec::with_capacity(group.targets.len());
        let mut kept = HashMap::with_capacity(group.targets.len());
        for target in &group.targets {
            let port = target.port.unwrap_or(group.port);
            let key = (target.id.clone(), port);
            let addr = SocketAddr::new(target.address, port);
            let mode = match target.deregistering_since {
                Some(since) => Mode::Drain { since, delay: group.deregistration_delay },
                None if !used => Mode::NotInUse,
                None if !hc.enabled => Mode::Unchecked,
                None => Mode::Check(settings.clone()),
            };
            let slot = match slot.targets.remove(&key) {
                Some(existing) if existing.live.addr == addr && existing.mode == mode => existing,
                existing => {
                    let live = match existing {
                        Some(e) if e.live.addr == addr => e.live.clone(),
                        _ => {
                            match LiveTarget::new(
                                slot.live.arn.clone(),
                                target.id.clone(),
                                addr,
                                self.workers.handles().len(),
                            ) {
                                Ok(live) => Arc::new(live),
                                Err(e) => {
                                    errors.push(LbError::InvalidConfig(format!(
                                        "target {addr}: {e}"
                                    )));
                                    continue;
                                }
                            }
                        }
                    };
                    let task = TargetTask {
                        group: slot.live.clone(),
                        target: live.clone(),
                        sink: self.sink.clone(),
                        clock: self.clock.clone(),
                    };
                    let task = AbortOnDrop::spawn(task.run(mode.clone()));
                    TargetSlot { live, mode, _task: task }
                }
            };
            members.push(slot.live.clone());
            kept.insert(key, slot);
        }
        slot.targets = kept;
        slot.live.set_members(group.algorithm, members);
    }

    /// Requests in flight to a target (0 once idle), or `None` if the target is not known.
    /// A draining target with 0 in flight is idle and may be stopped.
    pub fn in_flight(&self, target_group_arn: &str, target_id: &str, port: u16) -> Option<u32> {
        self.with_target(target_group_arn, target_id, port, |t| t.in_flight())
    }

    /// A target's current health state, or `None` if the target is not known.
    pub fn target_state(
        &self,
        target_group_arn: &str,
        target_id: &str,
        port: u16,
    ) -> Option<TargetState> {
        self.with_target(target_group_arn, target_id, port, |t| t.state())
    }

    fn with_target<T>(
        &self,
        group: &str,
        id: &str,
        port: u16,
        f: impl FnOnce(&LiveTarget) -> T,
    ) -> Option<T> {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let slot = state.groups.get(group)?.targets.get(&(id.to_owned(), port))?;
        Some(f(&slot.live))
    }

    /// One socket per worker on `addr` (`SO_REUSEPORT`: the kernel spreads connections),
    /// each registered with its worker's runtime.
    fn bind(&self, addr: SocketAddr) -> std::io::Result<Vec<tokio::net::TcpListener>> {
        self.workers
            .handles()
            .iter()
            .map(|worker| {
                let _runtime = worker.enter();
                let socket =
                    if addr.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
                socket.set_reuseaddr(true)?;
                socket.set_reuseport(true)?;
                socket.set_nodelay(true)?;
                socket.bind(addr)?;
                socket.listen(1024)
            })
            .collect()
    }

    /// The addresses listeners are bound to.
    pub fn listener_addrs(&self) -> Vec<SocketAddr> {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.listeners.keys().copied().collect()
    }
}

fn compile_routes(
    listener: &Listener,
    groups: &HashMap<String, GroupSlot>,
    traffic: &Traffic,
    errors: &mut Vec<LbError>,
) -> Routes {
    let load_balancer = load_balancer_dimension(&listener.arn);
    let action = |action: &Action, errors: &mut Vec<LbError>| -> RouteAction {
        match action {
            Action::Forward(targets) => {
                let resolved = targets
                    .iter()
                    .filter_map(|t| match groups.get(&t.arn) {
                        Some(slot) => Some((
                            slot.live.clone(),
                            t.weight,
                            traffic.counters(load_balancer, target_group_dimension(&t.arn)),
                        )),
                        None => {
                            errors.push(LbError::InvalidConfig(format!(
                                "listener {} forwards to unknown target group {}",
                                listener.arn, t.arn
                            )));
                            None
                        }
                    })
                    .collect();
                RouteAction::Forward(Forward::new(resolved))
            }
            Action::FixedResponse(config) => match Fixed::compile(config) {
                Ok(fixed) => RouteAction::Fixed(fixed),
                Err(e) => {
                    errors.push(e);
                    RouteAction::Forward(Forward::new(Vec::new()))
                }
            },
            Action::Redirect(config) => RouteAction::Redirect(config.clone()),
        }
    };
    let mut rules = Vec::with_capacity(listener.rules.len());
    for rule in &listener.rules {
        let conditions =
            rule.conditions.iter().map(Matcher::compile).collect::<Result<Vec<_>, _>>();
        match conditions {
            Ok(conditions) => rules.push(CompiledRule {
                priority: rule.priority,
                conditions,
                action: action(&rule.action, errors),
            }),
            Err(e) => errors.push(e),
        }
    }
    sort_rules(&mut rules);
    let default = action(&listener.default_action, errors);
    let answers = traffic.counters(load_balancer, "");
    Routes { rules, default, idle_timeout: listener.idle_timeout, answers }
}
