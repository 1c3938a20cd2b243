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
use wharf_model::agent::Assignment;
use wharf_model::clock::Clock;
use wharf_model::ecs::shapes::{DesiredStatus, HealthStatus};
use wharf_model::ecs::status::TaskStatus;

use crate::driver::{requested_stop, Route, Routes, Shared, TaskDriver};
use crate::event::Event;
use crate::host::{self, HostResources};
use crate::link::{LinkError, ServerLink};
use crate::runtime::{
    ContainerInfo, ContainerState, Health, Runtime, RuntimeEvent, LABEL_CONTAINER_NAME,
    LABEL_TASK_ARN,
};
use crate::stats::ContainerStats;
use crate::{cleanup, metadata};

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
    /// Tells the log shippers that the agent stops.
    stopping: tokio::sync::watch::Sender<bool>,
}

/// A running task's handle.
#[derive(Debug)]
struct Running {
    inbox: mpsc::UnboundedSender<Event>,
    desired_stopped: bool,
}

const INSTANCE_FILE: &str = "agent-instance-arn";
/// How many finished tasks the agent remembers, to ignore late assignments.
const FINISHED_REMEMBERED: usize = 4096;
/// How long after start the agent looks for finished containers to clean
/// up: their waits are hours long, and inspecting a host's hundreds of
/// containers would slow the engine just as the first tasks start.
const CLEANUP_SWEEP_DELAY: Duration = Duration::from_secs(10);

/// The tasks whose drivers have finished lately, oldest forgotten first.
#[derive(Debug, Default)]
struct Finished {
    set: HashSet<String>,
    order: VecDeque<String>,
}

impl Finished {
    fn insert(&mut self, arn: String) {
        if self.set.insert(arn.clone()) {
            self.order.push_back(arn);
            if self.order.len() > FINISHED_REMEMBERED {
                if let Some(old) = self.order.pop_front() {
                    self.set.remove(&old);
                }
            }
        }
    }

    fn contains(&self, arn: &str) -> bool {
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
        };
        Self { shared, config, stopping }
    }

    /// Registers this host and returns its container instance ARN, reusing
    /// the one from a previous run.
    pub async fn register(&self) -> Result<String, AgentError> {
        let previous = self.config.state_dir.as_ref().and_then(|d| {
            std::fs::read_to_string(d.join(INSTANCE_FILE)).ok().map(|s| s.trim().to_owned())
        });
        let resources = HostResources::detect(self.config.reserved_memory_mib);
        let request = host::registration(&self.config.cluster, &resources, None, previous);
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
        self.shared.metadata = self.start_metadata().await;
        if let Some(stats) = &self.config.stats {
            let (runtime, stopping) = (self.shared.runtime.clone(), self.stopping.subscribe());
            tokio::spawn(stats.samples.clone().run(runtime, stats.interval, stopping));
        }
        // In the background: tasks are not held up by a host full of
        // finished containers. Each task finds its own containers to adopt.
        tokio::spawn(schedule_cleanups(self.shared.clone()));
        let mut events = self.shared.runtime.events();
        let mut watch = self.watch(&instance_arn).await;
        let mut tasks: HashMap<String, Running> = HashMap::new();
        let mut finished = Finished::default();
        let (done_tx, mut done_rx) = mpsc::unbounded_channel::<String>();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => {
                    let _ = self.stopping.send(true);
                    break;
                }
                assignment = watch.recv() => match assignment {
                    // A task whose driver has finished never runs again: a
                    // late assignment of it (queued before its STOPPED report
                    // was stored) must not start a second driver.
                    Some(a) if finished.contains(a.task.task_arn.as_deref().unwrap_or_default()) => {}
                    Some(a) => self.assign(a, &mut tasks, &done_tx),
                    None => {
                        tracing::warn!("the assignment watch ended; watching again");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        watch = self.watch(&instance_arn).await;
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
            }
        }
        Ok(())
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
    async fn watch(&self, instance_arn: &str) -> mpsc::Receiver<Assignment> {
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
        let mut finished = Finished::default();
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
