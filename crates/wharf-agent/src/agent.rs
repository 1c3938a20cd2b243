//! The agent: registers this host, takes the tasks placed on it, gives each
//! its own driver, and routes Docker's events to them.
//!
//! Nothing here waits by sleeping: assignments arrive through the link's
//! watch, container changes through Docker's event stream, and each driver
//! wakes only for its own events and deadlines. An idle agent does nothing.
//!
//! After a restart the agent registers as the same container instance (its
//! ARN is kept in its state directory), lists the containers it labelled,
//! and hands each task's containers to its new driver, which adopts them
//! instead of creating them again: nothing is started twice, and a container
//! that exited while the agent was away is reported with its exit code.

use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::mpsc;
use wharf_model::agent::{Assignment, Heartbeat, WatchEvent};
use wharf_model::clock::Clock;
use wharf_model::ecs::shapes::{DesiredStatus, HealthStatus, TaskStopCode};
use wharf_model::ecs::status::TaskStatus;

use crate::driver::{requested_stop, Route, Routes, Shared, TaskDriver};
use crate::event::Event;
use crate::host::{self, HostResources};
use crate::link::{LinkError, ServerLink};
use crate::runtime::{
    ContainerInfo, ContainerState, Health, Runtime, RuntimeEvent, LABEL_CONTAINER_NAME,
    LABEL_INSTANCE, LABEL_TASK_ARN,
};
use crate::stats::ContainerStats;
use crate::stop::StopReason;
use crate::{cleanup, hostnet, metadata};

/// How the agent is set up.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// The cluster to join (`ECS_CLUSTER`), created if missing.
    pub cluster: String,
    /// MiB of memory not offered to tasks (`ECS_RESERVED_MEMORY`).
    pub reserved_memory_mib: i64,
    /// Pull images even when present (`ECS_IMAGE_PULL_BEHAVIOR=always`).
    pub always_pull: bool,
    /// Where the agent keeps its container instance ARN across restarts.
    pub state_dir: Option<PathBuf>,
    /// How long a stopped task's containers stay before they are removed
    /// (`ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION`).
    pub cleanup_wait: Duration,
    /// The S3-compatible endpoint `environmentFiles` of type `s3` are read from.
    pub s3: Option<crate::s3::S3Endpoint>,
    /// The task metadata and credentials endpoints, if served.
    pub metadata: Option<MetadataConfig>,
    /// Containers' CPU and memory sampled in the background, if anyone reads them.
    pub stats: Option<StatsConfig>,
    /// The DNS servers containers use when their definition names none
    /// (`dnsServers`): Wharf's resolver, which answers Cloud Map private
    /// namespaces and forwards other names. Empty: Docker's default.
    pub dns_servers: Vec<String>,
    /// Where the agent runs a DNS resolver for its host's containers (its
    /// table of Cloud Map names fetched from the server), given to them when
    /// `dns_servers` is empty; `None` for none (the embedded agent's server
    /// runs one).
    pub dns_listen: Option<std::net::SocketAddr>,
    /// The host's Availability Zone, address and attributes.
    pub identity: host::HostIdentity,
    /// What the agent does to this host's network for awsvpc across hosts.
    pub host_network: HostNetworking,
    /// Whether its containers' samples ([`AgentConfig::stats`]) go to the
    /// server with each heartbeat (an agent on another host: the server's
    /// `/metrics` shows them).
    pub report_stats: bool,
}

/// How much of the server's network plan the agent applies to its host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostNetworking {
    /// Nothing: the engine is not on this host (`DOCKER_HOST` names another),
    /// or the host is not the agent's to change. awsvpc tasks still take
    /// their slice's addresses.
    Off,
    /// The filter and NAT rules, not the routes (the server routes its own
    /// host, where the embedded agent runs).
    Rules,
    /// Rules and routes to the other hosts' slices.
    Full,
}

/// Where and how often running containers' stats are sampled.
#[derive(Debug, Clone)]
pub struct StatsConfig {
    /// Where the samples are kept (the caller keeps a clone to read them).
    pub samples: ContainerStats,
    /// How long between two rounds of Docker stats calls.
    pub interval: Duration,
}

/// Where and with what the agent serves the endpoints inside tasks.
#[derive(Debug, Clone)]
pub struct MetadataConfig {
    /// The address to listen on: ECS's `169.254.170.2:80` (put on the
    /// loopback interface first), or another for tests.
    pub listen: std::net::SocketAddr,
    /// The task roles' credentials.
    pub credentials: metadata::CredentialsSource,
}

/// Why the agent stopped.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// Registration failed for good.
    #[error("could not register this host: {0}")]
    Register(LinkError),
}

/// The agent.
#[derive(Debug)]
pub struct Agent {
    shared: Shared,
    config: AgentConfig,
    /// Where the network plan's awsvpc network spec is published to drivers.
    network: tokio::sync::watch::Sender<Option<hostnet::NetworkSpec>>,
    /// Tells the log shippers that the agent stops.
    stopping: tokio::sync::watch::Sender<bool>,
    /// This agent's container instance ARN, once registered (the exec
    /// service reads it).
    instance: Arc<std::sync::OnceLock<String>>,
}

/// A running task's handle.
#[derive(Debug)]
struct Running {
    inbox: mpsc::UnboundedSender<Event>,
    desired_stopped: bool,
}

const INSTANCE_FILE: &str = "agent-instance-arn";
/// The heartbeat interval until the server names its own.
const FIRST_HEARTBEAT_INTERVAL: Duration = Duration::from_secs(1);
/// Why the agent stops a task the server no longer has on this instance.
const NO_LONGER_ASSIGNED: &str =
    "Task stopped by the agent: the server no longer has it on this instance (the instance was \
     declared lost while the agent was away, and the task was replaced)";
/// How many finished tasks the agent remembers, to ignore late assignments.
const FINISHED_REMEMBERED: usize = 4096;
/// How long after start the agent looks for finished containers to clean
/// up: their waits are hours long, and inspecting a host's hundreds of
/// containers would slow the engine just as the first tasks start.
const CLEANUP_SWEEP_DELAY: Duration = Duration::from_secs(10);

/// The tasks whose drivers have finished lately, oldest forgotten first (the
/// agent's and the simulator's hosts).
#[derive(Debug)]
pub(crate) struct Finished {
    set: HashSet<String>,
    order: VecDeque<String>,
    keep: usize,
}

impl Finished {
    /// None yet; remembers the last `keep`.
    pub(crate) fn new(keep: usize) -> Self {
        Self { set: HashSet::new(), order: VecDeque::new(), keep: keep.max(1) }
    }

    pub(crate) fn insert(&mut self, arn: String) {
        if self.set.insert(arn.clone()) {
            self.order.push_back(arn);
            if self.order.len() > self.keep {
                if let Some(old) = self.order.pop_front() {
                    self.set.remove(&old);
                }
            }
        }
    }

    pub(crate) fn contains(&self, arn: &str) -> bool {
        self.set.contains(arn)
    }
}

impl Agent {
    /// An agent on this runtime, talking to the server through `link`.
    pub fn new(
        runtime: Arc<dyn Runtime>,
        link: Arc<dyn ServerLink>,
        clock: Arc<dyn Clock>,
        config: AgentConfig,
    ) -> Self {
        let (stopping, stopping_rx) = tokio::sync::watch::channel(false);
        let (network, network_rx) = tokio::sync::watch::channel(None);
        let shared = Shared {
            runtime,
            link,
            clock,
            routes: Routes::default(),
            always_pull: config.always_pull,
            cleanup_wait: config.cleanup_wait,
            s3: config.s3.clone(),
            metadata: None,
            stats: config.stats.as_ref().map(|s| s.samples.clone()),
            dns_servers: config.dns_servers.clone().into(),
            instance_arn: String::new(),
            stopping: stopping_rx,
            network: network_rx,
        };
        let instance = Arc::default();
        Self { shared, config, stopping, network, instance }
    }

    /// The ECS Exec service of this agent: its WebSocket routes, which the
    /// program serves at `config.identity.exec_endpoint` (the address the
    /// instance reports). Sessions open once the agent has registered.
    pub fn exec_service(&self) -> crate::exec::ExecService {
        crate::exec::ExecService::new(
            self.shared.runtime.clone(),
            self.shared.link.clone(),
            self.shared.clock.clone(),
            self.config.cluster.clone(),
            self.instance.clone(),
        )
    }

    /// Registers this host and returns its container instance ARN, reusing
    /// the one from a previous run.
    pub async fn register(&self) -> Result<String, AgentError> {
        let previous = self.config.state_dir.as_ref().and_then(|d| {
            std::fs::read_to_string(d.join(INSTANCE_FILE)).ok().map(|s| s.trim().to_owned())
        });
        let resources = HostResources::detect(self.config.reserved_memory_mib);
        let request = host::registration(
            &self.config.cluster,
            &resources,
            &self.config.identity,
            None,
            previous,
        );
        let mut backoff = Duration::from_millis(100);
        let instance = loop {
            match self.shared.link.register(request.clone()).await {
                Ok(i) => break i,
                Err(LinkError::Unavailable(e)) => {
                    tracing::warn!(error = %e, "registration failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
                Err(e) => return Err(AgentError::Register(e)),
            }
        };
        let arn = instance.container_instance_arn.unwrap_or_default();
        if let Some(dir) = &self.config.state_dir {
            if let Err(e) = std::fs::write(dir.join(INSTANCE_FILE), &arn) {
                tracing::warn!(error = %e, "could not keep the container instance ARN");
            }
        }
        tracing::info!(instance = %arn, cluster = %self.config.cluster, "registered");
        Ok(arn)
    }

    /// Runs until `shutdown` completes. Running containers are left running
    /// for the next agent to adopt.
    pub async fn run(mut self, shutdown: impl Future<Output = ()>) -> Result<(), AgentError> {
        let instance_arn = self.register().await?;
        self.shared.instance_arn = instance_arn.clone();
        let _ = self.instance.set(instance_arn.clone());
        self.start_resolver().await;
        self.shared.metadata = self.start_metadata().await;
        if let Some(stats) = &self.config.stats {
            let (runtime, stopping) = (self.shared.runtime.clone(), self.stopping.subscribe());
            tokio::spawn(stats.samples.clone().run(runtime, stats.interval, stopping));
        }
        // In the background: tasks are not held up by a host full of
        // finished containers. Each task finds its own containers to adopt.
        tokio::spawn(schedule_cleanups(self.shared.clone()));
        let mut beats = Heartbeats {
            shared: self.shared.clone(),
            cluster: self.config.cluster.clone(),
            instance_arn: instance_arn.clone(),
            host_network: self.config.host_network,
            network: self.network.clone(),
            applied: None,
            interval: FIRST_HEARTBEAT_INTERVAL,
            stats: if self.config.report_stats { self.shared.stats.clone() } else { None },
            warned: false,
        };
        // The first before any task: its answer says which addresses awsvpc
        // tasks take here.
        for _ in 0..3 {
            if beats.beat().await {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        tokio::spawn(beats.run(self.stopping.subscribe()));
        let mut events = self.shared.runtime.events();
        let mut watch = self.watch(&instance_arn).await;
        // The tasks the watch names before its `Synced` mark.
        let mut named: Option<HashSet<String>> = Some(HashSet::new());
        let mut tasks: HashMap<String, Running> = HashMap::new();
        let mut finished = Finished::new(FINISHED_REMEMBERED);
        let (done_tx, mut done_rx) = mpsc::unbounded_channel::<String>();
        let (strays_tx, mut strays_rx) = mpsc::unbounded_channel::<Strays>();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => {
                    let _ = self.stopping.send(true);
                    break;
                }
                event = watch.recv() => match event {
                    Some(WatchEvent::Assigned(a)) => {
                        let arn = a.task.task_arn.clone().unwrap_or_default();
                        if let Some(named) = named.as_mut() {
                            named.insert(arn.clone());
                        }
                        // A task whose driver has finished never runs again:
                        // a late assignment of it (queued before its STOPPED
                        // report was stored) must not start a second driver.
                        if !finished.contains(&arn) {
                            self.assign(*a, &mut tasks, &done_tx);
                        }
                    }
                    Some(WatchEvent::Synced) => {
                        let named = named.take().unwrap_or_default();
                        self.stop_unassigned(&named, &mut tasks, &strays_tx);
                    }
                    None => {
                        tracing::warn!("the assignment watch ended; watching again");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        watch = self.watch(&instance_arn).await;
                        named = Some(HashSet::new());
                    }
                },
                event = events.next() => match event {
                    Some(Ok(e)) => self.route(e),
                    Some(Err(e)) => tracing::warn!(error = %e, "Docker event stream error"),
                    None => {
                        tracing::warn!("the Docker event stream ended; subscribing again");
                        tokio::time::sleep(Duration::from_millis(500)).await;
                        events = self.shared.runtime.events();
                        self.catch_up();
                    }
                },
                Some(arn) = done_rx.recv() => {
                    tasks.remove(&arn);
                    finished.insert(arn);
                }
                Some(strays) = strays_rx.recv() => self.stop_strays(strays, &tasks),
            }
        }
        Ok(())
    }

    /// After the watch's `Synced` mark: every task this agent runs that the
    /// server did not name is no longer this instance's (it was stopped while
    /// the agent was away). Drivers of such tasks are told to stop; running
    /// containers of this cluster that belong to no driver are looked up in
    /// the background and stopped by [`Agent::stop_strays`].
    fn stop_unassigned(
        &self,
        named: &HashSet<String>,
        tasks: &mut HashMap<String, Running>,
        strays: &mpsc::UnboundedSender<Strays>,
    ) {
        for (arn, running) in tasks.iter_mut() {
            if named.contains(arn) || running.desired_stopped {
                continue;
            }
            tracing::warn!(task = %arn, "stopping a task the server no longer has here");
            running.desired_stopped = true;
            let reason = StopReason::new(TaskStopCode::TerminationNotice, NO_LONGER_ASSIGNED);
            let _ = running.inbox.send(Event::StopRequested { reason });
        }
        let runtime = self.shared.runtime.clone();
        let instance = self.shared.instance_arn.clone();
        let (named, strays) = (named.clone(), strays.clone());
        tokio::spawn(async move {
            // This instance's own containers only (of every cluster: a host of
            // the Fargate pool runs every cluster's tasks): another agent on
            // the same engine (another server's) runs its own.
            let mine = [(LABEL_INSTANCE, instance.as_str())];
            match runtime.list_managed(&mine).await {
                Ok(listed) => {
                    let running =
                        listed.into_iter().filter(|c| c.state == ContainerState::Running).collect();
                    let _ = strays.send(Strays { named, containers: running });
                }
                Err(e) => tracing::warn!(error = %e, "cannot look for containers of stopped tasks"),
            }
        });
    }

    /// Stops the running containers of tasks the server did not name and no
    /// driver runs: a task never keeps running on two hosts.
    fn stop_strays(&self, strays: Strays, tasks: &HashMap<String, Running>) {
        for c in strays.containers {
            let Some(arn) = c.labels.get(LABEL_TASK_ARN) else { continue };
            if strays.named.contains(arn) || tasks.contains_key(arn) {
                continue;
            }
            tracing::warn!(task = %arn, container = %c.id, "stopping a container of a task the server no longer has here");
            let runtime = self.shared.runtime.clone();
            tokio::spawn(async move {
                if let Err(e) = runtime.stop_container(&c.id, crate::DEFAULT_STOP_TIMEOUT).await {
                    tracing::warn!(error = %e, container = %c.id, "could not stop a stray container");
                }
            });
        }
    }

    /// Starts the host's DNS resolver when configured, and makes it the
    /// containers' DNS server unless `dns_servers` names others. Logged and
    /// left out when it cannot listen.
    async fn start_resolver(&mut self) {
        let Some(addr) = self.config.dns_listen else { return };
        let resolver = match crate::dns::Resolver::bind(addr).await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, %addr, "no DNS resolver for containers: cannot listen");
                return;
            }
        };
        let (tables, table) = tokio::sync::watch::channel(Arc::default());
        let stop = self.stopping.subscribe();
        tokio::spawn(crate::dns::follow_server(self.shared.link.clone(), tables, stop.clone()));
        if let Ok(bound) = resolver.local_addr() {
            tracing::info!(address = %bound, "DNS resolver for containers listening");
            if self.config.dns_servers.is_empty() {
                self.shared.dns_servers = vec![bound.ip().to_string()].into();
            }
        }
        tokio::spawn(resolver.run(table, stop));
    }

    /// Starts the task metadata and credentials endpoints; `None` (logged)
    /// when they are not configured or cannot be served here.
    async fn start_metadata(&self) -> Option<metadata::Registry> {
        let config = self.config.metadata.clone()?;
        if config.listen.ip().to_string() == metadata::LINK_LOCAL_ADDRESS {
            if let Err(e) = metadata::ensure_link_local_address() {
                tracing::warn!(error = %e, "no task metadata endpoint: cannot add 169.254.170.2");
                return None;
            }
        }
        let listener = match tokio::net::TcpListener::bind(config.listen).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, address = %config.listen, "no task metadata endpoint");
                return None;
            }
        };
        let bound = listener.local_addr().ok()?;
        let base = if bound.port() == 80 {
            format!("http://{}", bound.ip())
        } else {
            format!("http://{bound}")
        };
        let mut registry = metadata::Registry::with_base_url(&base);
        if let Some(secret) = self.metadata_secret() {
            registry = registry.with_secret(&secret);
        }
        let (served, runtime) = (registry.clone(), self.shared.runtime.clone());
        let credentials = config.credentials.minted_by(self.shared.link.clone());
        tokio::spawn(async move {
            if let Err(e) = metadata::serve(listener, served, runtime, credentials).await {
                tracing::error!(error = %e, "the task metadata endpoint stopped");
            }
        });
        tracing::info!(address = %bound, "serving task metadata and credentials");
        Some(registry)
    }

    /// The key metadata tokens derive from, kept in the state directory so
    /// adopted containers keep their tokens across restarts.
    fn metadata_secret(&self) -> Option<Vec<u8>> {
        let path = self.config.state_dir.as_ref()?.join("metadata-secret");
        if let Ok(secret) = std::fs::read(&path) {
            if secret.len() >= 32 {
                return Some(secret);
            }
        }
        let secret: Vec<u8> = [uuid::Uuid::new_v4(), uuid::Uuid::new_v4()]
            .iter()
            .flat_map(|u| u.as_bytes().to_vec())
            .collect();
        if let Err(e) = std::fs::write(&path, &secret) {
            tracing::warn!(error = %e, "the metadata key is not kept across restarts");
        }
        Some(secret)
    }

    /// Watches the instance's assignments, retrying until the server answers.
    async fn watch(&self, instance_arn: &str) -> mpsc::Receiver<WatchEvent> {
        let mut backoff = Duration::from_millis(100);
        loop {
            match self.shared.link.watch(&self.config.cluster, instance_arn).await {
                Ok(rx) => return rx,
                Err(e) => {
                    tracing::warn!(error = %e, "could not watch assignments; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
    }

    /// Takes in an assignment: a new task gets a driver; a task the server
    /// now wants stopped is told so.
    fn assign(
        &self,
        a: Assignment,
        tasks: &mut HashMap<String, Running>,
        done: &mpsc::UnboundedSender<String>,
    ) {
        let arn = a.task.task_arn.clone().unwrap_or_default();
        let wants_stop = a.task.desired_status == Some(DesiredStatus::Stopped);
        if let Some(running) = tasks.get_mut(&arn) {
            if wants_stop && !running.desired_stopped {
                running.desired_stopped = true;
                let _ =
                    running.inbox.send(Event::StopRequested { reason: requested_stop(&a.task) });
            }
            return;
        }
        if a.task.last_status == Some(TaskStatus::Stopped) {
            return;
        }
        // Its inbox gathers Docker's events while its containers are looked up.
        let (tx, rx) = mpsc::unbounded_channel();
        tasks.insert(arn.clone(), Running { inbox: tx.clone(), desired_stopped: wants_stop });
        let (shared, done) = (self.shared.clone(), done.clone());
        tokio::spawn(async move {
            let adopted = containers_of(&*shared.runtime, &arn).await;
            match TaskDriver::new(shared, a, tx, adopted) {
                Ok(driver) => driver.run(rx).await,
                Err(e) => {
                    tracing::error!(task = %arn, error = %e, "a task's definition cannot run")
                }
            }
            let _ = done.send(arn);
        });
    }

    /// After a gap in Docker's events, asks Docker how every routed container
    /// stands and tells its driver of those that exited meanwhile.
    fn catch_up(&self) {
        let routes: Vec<(String, Route)> = match self.shared.routes.lock() {
            Ok(r) => r.iter().map(|(id, route)| (id.clone(), route.clone())).collect(),
            Err(_) => return,
        };
        let runtime = self.shared.runtime.clone();
        tokio::spawn(async move {
            for (id, route) in routes {
                if let Ok(info) = runtime.inspect_container(&id).await {
                    if let ContainerState::Exited { exit_code, oom_killed } = info.state {
                        let container = route.container.clone();
                        let _ =
                            route.inbox.send(Event::Exited { container, exit_code, oom_killed });
                    }
                }
            }
        });
    }

    /// Sends a Docker event to the driver of the container's task.
    fn route(&self, event: RuntimeEvent) {
        let id = match &event {
            RuntimeEvent::Started { id }
            | RuntimeEvent::Died { id, .. }
            | RuntimeEvent::Health { id, .. } => id.clone(),
        };
        let route: Option<Route> = self.shared.routes.lock().ok().and_then(|r| r.get(&id).cloned());
        let Some(route) = route else { return };
        let container = route.container;
        let event = match event {
            RuntimeEvent::Died { exit_code, oom_killed, .. } => {
                Event::Exited { container, exit_code, oom_killed }
            }
            RuntimeEvent::Health { health, .. } => Event::Health {
                container,
                status: match health {
                    Health::Healthy => HealthStatus::Healthy,
                    Health::Unhealthy => HealthStatus::Unhealthy,
                    Health::Starting => HealthStatus::Unknown,
                },
            },
            RuntimeEvent::Started { .. } => Event::ProcessStarted { container },
        };
        let _ = route.inbox.send(event);
    }
}

/// Running containers found after a watch's `Synced` mark, with the tasks
/// the mark covered.
#[derive(Debug)]
struct Strays {
    named: HashSet<String>,
    containers: Vec<ContainerInfo>,
}

/// The heartbeat loop's state: who the agent is, and the network plan it
/// applied last.
struct Heartbeats {
    shared: Shared,
    cluster: String,
    instance_arn: String,
    host_network: HostNetworking,
    network: tokio::sync::watch::Sender<Option<hostnet::NetworkSpec>>,
    applied: Option<wharf_model::agent::NetworkPlan>,
    interval: Duration,
    /// The samples to send, if the server wants them.
    stats: Option<ContainerStats>,
    /// Whether the plan's failure to apply was logged already.
    warned: bool,
}

impl Heartbeats {
    /// Sends one heartbeat and applies the network plan of its answer when it
    /// changed; whether the server answered.
    async fn beat(&mut self) -> bool {
        let runtime_healthy = self.shared.runtime.ping().await.is_ok();
        let containers =
            self.stats.as_ref().map(|s| s.latest().iter().map(|c| c.to_wire()).collect());
        let beat = Heartbeat { runtime_healthy, containers };
        match self.shared.link.heartbeat(&self.cluster, &self.instance_arn, beat).await {
            Ok(reply) => {
                self.interval = Duration::from_millis(reply.interval_ms.max(100));
                if reply.network != self.applied {
                    self.apply(reply.network).await;
                } else if self.host_network != HostNetworking::Off {
                    self.keep_slice_route().await;
                }
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, "heartbeat failed");
                false
            }
        }
    }

    /// Puts back the route to this host's slice if something took it away
    /// (see [`hostnet::keep_slice_route`]); logged when it had to.
    async fn keep_slice_route(&self) {
        let Some(spec) = self.network.borrow().clone() else { return };
        let kept = tokio::task::spawn_blocking(move || hostnet::keep_slice_route(&spec)).await;
        if let Ok(Ok(true)) = kept {
            tracing::warn!("the route to this host's awsvpc slice was gone; put back");
        }
    }

    /// Applies the plan's rules and routes to this host, then publishes its
    /// awsvpc network to the drivers (masqueraded by Docker when this host's
    /// own NAT rules could not be set). The plan is kept as applied only if
    /// the rules were, so a failure is tried again at the next heartbeat; it
    /// is logged once.
    async fn apply(&mut self, plan: Option<wharf_model::agent::NetworkPlan>) {
        let Some(p) = plan.clone() else {
            self.network.send_replace(None);
            self.applied = None;
            return;
        };
        let routes = match self.host_network {
            HostNetworking::Off => {
                self.network.send_replace(hostnet::NetworkSpec::of(&p, true));
                self.applied = plan;
                return;
            }
            HostNetworking::Rules => false,
            HostNetworking::Full => true,
        };
        let done = tokio::task::spawn_blocking(move || hostnet::apply(&p, routes))
            .await
            .unwrap_or_else(|e| Err(hostnet::HostNetError::Plan(e.to_string())));
        let applied = match done {
            Ok(()) => {
                tracing::info!(slice = %plan.as_ref().map_or("", |p| p.slice.as_str()), "awsvpc network applied");
                self.warned = false;
                true
            }
            Err(e) => {
                if !self.warned {
                    tracing::warn!(error = %e, "the awsvpc routes and rules could not be set on this host: awsvpc tasks are masqueraded and not reachable from other hosts");
                    self.warned = true;
                }
                false
            }
        };
        self.network
            .send_replace(plan.as_ref().and_then(|p| hostnet::NetworkSpec::of(p, !applied)));
        if applied {
            self.applied = plan;
        }
    }

    /// Sends heartbeats at the interval the server names until the agent
    /// stops. A failed one is tried again at the same interval: the server
    /// declares the instance lost only after its own `--instance-lost-after`.
    async fn run(mut self, mut stopping: tokio::sync::watch::Receiver<bool>) {
        loop {
            tokio::select! {
                () = tokio::time::sleep(self.interval) => {}
                _ = stopping.wait_for(|s| *s) => return,
            }
            self.beat().await;
        }
    }
}

/// A task's containers already on the host (an earlier agent ran them), by
/// container name, to adopt. Retries while Docker cannot say: creating them
/// again would clash with those that are there.
async fn containers_of(runtime: &dyn Runtime, task_arn: &str) -> HashMap<String, ContainerInfo> {
    let mut backoff = Duration::from_millis(100);
    loop {
        match runtime.list_managed(&[(LABEL_TASK_ARN, task_arn)]).await {
            Ok(listed) => {
                return listed
                    .into_iter()
                    .filter_map(|c| Some((c.labels.get(LABEL_CONTAINER_NAME)?.clone(), c)))
                    .collect();
            }
            Err(e) => {
                tracing::warn!(error = %e, task = %task_arn, "cannot list the task's containers; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// Schedules the removal of the finished containers found on the host
/// [`CLEANUP_SWEEP_DELAY`] after start, each when its cleanup wait is over (whether or not a driver
/// adopts its task first: removing twice is harmless).
async fn schedule_cleanups(shared: Shared) {
    tokio::time::sleep(CLEANUP_SWEEP_DELAY).await;
    let listed = match shared.runtime.list_managed(&[]).await {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(error = %e, "cannot list finished containers to clean up");
            return;
        }
    };
    let now = shared.clock.now_millis();
    for info in listed {
        if let (ContainerState::Exited { .. }, Some(finished)) = (&info.state, info.finished_at_ms)
        {
            let elapsed = Duration::from_millis(now.saturating_sub(finished).max(0) as u64);
            let wait = shared.cleanup_wait.saturating_sub(elapsed);
            cleanup::schedule(shared.runtime.clone(), wait, vec![info.id], vec![]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finished_tasks_are_remembered_up_to_a_bound() {
        let mut finished = Finished::new(FINISHED_REMEMBERED);
        finished.insert("t0".into());
        finished.insert("t0".into());
        assert!(finished.contains("t0"));
        assert!(!finished.contains("t1"));
        for i in 1..=FINISHED_REMEMBERED {
            finished.insert(format!("t{i}"));
        }
        assert!(!finished.contains("t0"), "the oldest is forgotten");
        assert!(finished.contains("t1") && finished.contains(&format!("t{FINISHED_REMEMBERED}")));
        assert_eq!(finished.order.len(), FINISHED_REMEMBERED);
    }
}
