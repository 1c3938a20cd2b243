//! [`Runtime`] in memory: deterministic, instant, scriptable. For unit tests
//! and scale simulation; never in place of Docker in an end-to-end test.
//!
//! # Driving it from a test
//!
//! ```
//! # use wharf_agent::runtime::{fake::FakeRuntime, Health, Runtime};
//! # async fn demo() {
//! let fake = FakeRuntime::new();
//! fake.add_image("web:1");               // present: no pull needed
//! fake.fail_pull("sidecar:1", "manifest unknown");
//! fake.exit_on_start("migrate", 0);      // `migrate` exits 0 as soon as it starts
//! fake.health_on_start("web", Health::Healthy);
//! let mut events = fake.events();        // Started / Died / Health, in order
//! // ... run the code under test against `fake` ...
//! fake.exit("web", 1);                   // `web` (ECS name, Docker name or ID) exits 1
//! fake.oom_kill("web");                  // or is killed for memory (137, OOMKilled)
//! let config = fake.config("web");       // the create body it was given
//! # }
//! ```
//!
//! Scripts are keyed by a container's ECS name (its
//! `com.amazonaws.ecs.container-name` label), its Docker name or its ID, and
//! apply to every container that matches. One-shot failures for any call
//! ([`FakeRuntime::fail_next`]) simulate timeouts and a vanished engine.
//! Every call is recorded ([`FakeRuntime::calls`]). Time is a counter the
//! test sets ([`FakeRuntime::set_now_ms`]); nothing sleeps.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use futures_util::stream::{self, BoxStream, StreamExt};
use tokio::sync::{broadcast, watch};

use super::{
    ContainerCreateBody, ContainerInfo, ContainerState, Health, LogMessage, LogSource, PortBinding,
    PullProgress, RegistryAuth, Runtime, RuntimeError, RuntimeEvent, VolumeSpec,
    LABEL_CONTAINER_NAME, LABEL_MANAGED,
};

/// Exit code of a container stopped by its stop signal (128 + SIGTERM).
pub const SIGTERM_EXIT: i32 = 143;
/// Exit code of a container killed (128 + SIGKILL), as after an OOM kill.
pub const SIGKILL_EXIT: i32 = 137;
/// First host port handed out for a dynamic binding.
pub const FIRST_DYNAMIC_PORT: u16 = 49153;

/// A runtime call, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    /// `image_present(image)`.
    ImagePresent(String),
    /// `pull_image(image)`, with the user name if credentials were given.
    Pull(String, Option<String>),
    /// `create_container(name)`.
    Create(String),
    /// `start_container(id)`.
    Start(String),
    /// `stop_container(id, timeout)`.
    Stop(String, Duration),
    /// `inspect_container(id)`.
    Inspect(String),
    /// `stats(id)`.
    Stats(String),
    /// `remove_container(id)`.
    Remove(String),
    /// `list_managed()`.
    ListManaged,
    /// `create_volume(name)`.
    CreateVolume(String),
    /// `remove_volume(name)`.
    RemoveVolume(String),
}

/// Which call a one-shot failure applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// `image_present`.
    ImagePresent,
    /// `pull_image`.
    Pull,
    /// `create_container`.
    Create,
    /// `start_container`.
    Start,
    /// `stop_container`.
    Stop,
    /// `inspect_container`.
    Inspect,
    /// `stats`.
    Stats,
    /// `remove_container`.
    Remove,
    /// `list_managed`.
    ListManaged,
    /// `create_volume`.
    CreateVolume,
    /// `remove_volume`.
    RemoveVolume,
}

/// A container the fake holds.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeContainer {
    /// Its ID (`fake-0001`, ...).
    pub id: String,
    /// Its Docker name.
    pub name: String,
    /// The create body it was given (with [`LABEL_MANAGED`] added).
    pub config: ContainerCreateBody,
    /// Where it stands.
    pub state: ContainerState,
    /// Its health, once set.
    pub health: Option<Health>,
    /// Published ports, assigned at start.
    pub ports: Vec<PortBinding>,
    /// Addresses by network, assigned at start.
    pub addresses: HashMap<String, String>,
    /// When it started (the fake's clock).
    pub started_at_ms: Option<i64>,
    /// When it exited (the fake's clock).
    pub finished_at_ms: Option<i64>,
}

impl FakeContainer {
    /// Its ECS container name (label), if it has one.
    pub fn ecs_name(&self) -> Option<&str> {
        self.config.labels.as_ref()?.get(LABEL_CONTAINER_NAME).map(String::as_str)
    }

    fn matches(&self, key: &str) -> bool {
        self.id == key || self.name == key || self.ecs_name() == Some(key)
    }

    fn info(&self) -> ContainerInfo {
        ContainerInfo {
            id: self.id.clone(),
            labels: self.config.labels.clone().unwrap_or_default(),
            state: self.state.clone(),
            health: self.health,
            ports: self.ports.clone(),
            addresses: self.addresses.clone(),
            started_at_ms: self.started_at_ms,
            finished_at_ms: self.finished_at_ms,
        }
    }
}

#[derive(Debug)]
struct State {
    now_ms: i64,
    next_id: u64,
    next_port: u16,
    next_ip: u8,
    images: HashSet<String>,
    pull_failures: HashMap<String, String>,
    registry_auth: HashMap<String, RegistryAuth>,
    create_failures: HashMap<String, String>,
    start_failures: HashMap<String, String>,
    exit_on_start: HashMap<String, i32>,
    health_on_start: HashMap<String, Health>,
    stop_exit: HashMap<String, i32>,
    one_shot: HashMap<Op, VecDeque<RuntimeError>>,
    containers: BTreeMap<String, FakeContainer>,
    volumes: BTreeMap<String, VolumeSpec>,
    networks: std::collections::BTreeSet<String>,
    network_specs: HashMap<String, Option<crate::hostnet::NetworkSpec>>,
    resolvers: HashMap<String, Vec<String>>,
    calls: Vec<Call>,
    events: broadcast::Sender<RuntimeEvent>,
    /// Each container's output, by ID, in the order written.
    logs: HashMap<String, Vec<LogMessage>>,
    /// Bumped whenever output is written or a container exits, so that
    /// following readers wake up.
    log_signal: watch::Sender<u64>,
}

impl State {
    fn scripted<T: Clone>(map: &HashMap<String, T>, c: &FakeContainer) -> Option<T> {
        map.iter().find(|(k, _)| c.matches(k)).map(|(_, v)| v.clone())
    }

    /// The container a key names: ID, Docker name, or the latest created
    /// with that ECS name.
    fn find(&self, key: &str) -> Option<String> {
        if self.containers.contains_key(key) {
            return Some(key.to_owned());
        }
        self.containers
            .values()
            .rev()
            .find(|c| c.name == key || c.ecs_name() == Some(key))
            .map(|c| c.id.clone())
    }

    fn fail(&mut self, op: Op) -> Result<(), RuntimeError> {
        match self.one_shot.get_mut(&op).and_then(VecDeque::pop_front) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn emit(&self, event: RuntimeEvent) {
        // No subscriber is fine: events are not stored.
        let _ = self.events.send(event);
    }

    /// Moves a running container to exited and emits `Died`.
    fn exit(&mut self, id: &str, exit_code: i32, oom_killed: bool) -> bool {
        let now = self.now_ms;
        let Some(c) = self.containers.get_mut(id) else { return false };
        if c.state != ContainerState::Running {
            return false;
        }
        c.state = ContainerState::Exited { exit_code, oom_killed };
        c.finished_at_ms = Some(now);
        self.emit(RuntimeEvent::Died { id: id.to_owned(), exit_code, oom_killed });
        self.log_signal.send_modify(|n| *n += 1);
        true
    }
}

/// The in-memory runtime. Clones share the same state.
#[derive(Debug, Clone)]
pub struct FakeRuntime {
    state: Arc<Mutex<State>>,
}

impl Default for FakeRuntime {
    fn default() -> Self {
        Self::new()
    }
}

impl FakeRuntime {
    /// An empty engine: no images, no containers, clock at 0.
    pub fn new() -> Self {
        let (events, _) = broadcast::channel(4096);
        let state = State {
            now_ms: 0,
            next_id: 1,
            next_port: FIRST_DYNAMIC_PORT,
            next_ip: 2,
            images: HashSet::new(),
            pull_failures: HashMap::new(),
            registry_auth: HashMap::new(),
            create_failures: HashMap::new(),
            start_failures: HashMap::new(),
            exit_on_start: HashMap::new(),
            health_on_start: HashMap::new(),
            stop_exit: HashMap::new(),
            one_shot: HashMap::new(),
            containers: BTreeMap::new(),
            volumes: BTreeMap::new(),
            networks: std::collections::BTreeSet::new(),
            network_specs: HashMap::new(),
            resolvers: HashMap::new(),
            calls: Vec::new(),
            events,
            logs: HashMap::new(),
            log_signal: watch::Sender::new(0),
        };
        Self { state: Arc::new(Mutex::new(state)) }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A test that panicked while holding the lock has failed already.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    // --- scripting -------------------------------------------------------

    /// Makes an image present locally.
    pub fn add_image(&self, image: &str) {
        self.lock().images.insert(image.to_owned());
    }

    /// Removes a local image (the next start of a task must pull it).
    pub fn remove_image(&self, image: &str) {
        self.lock().images.remove(image);
    }

    /// Pulls of `image` fail with `Refused(message)`. (Otherwise a pull
    /// succeeds and makes the image present.)
    pub fn fail_pull(&self, image: &str, message: &str) {
        self.lock().pull_failures.insert(image.to_owned(), message.to_owned());
    }

    /// Pulls of `image` need exactly these credentials; other or no
    /// credentials fail with `Refused("unauthorized ...")`.
    pub fn require_auth(&self, image: &str, auth: RegistryAuth) {
        self.lock().registry_auth.insert(image.to_owned(), auth);
    }

    /// Creating a matching container fails with `Refused(message)`.
    pub fn fail_create(&self, container: &str, message: &str) {
        self.lock().create_failures.insert(container.to_owned(), message.to_owned());
    }

    /// Starting a matching container fails with `Refused(message)` (it stays
    /// created, as with Docker).
    pub fn fail_start(&self, container: &str, message: &str) {
        self.lock().start_failures.insert(container.to_owned(), message.to_owned());
    }

    /// A matching container exits with `exit_code` right after it starts:
    /// `Started` then `Died` are emitted, and `start_container` reports it
    /// exited.
    pub fn exit_on_start(&self, container: &str, exit_code: i32) {
        self.lock().exit_on_start.insert(container.to_owned(), exit_code);
    }

    /// A matching container reports `health` right after it starts.
    pub fn health_on_start(&self, container: &str, health: Health) {
        self.lock().health_on_start.insert(container.to_owned(), health);
    }

    /// The exit code a matching container ends with when stopped (default
    /// [`SIGTERM_EXIT`]; [`SIGKILL_EXIT`] for one that ignores SIGTERM).
    pub fn exit_on_stop(&self, container: &str, exit_code: i32) {
        self.lock().stop_exit.insert(container.to_owned(), exit_code);
    }

    /// The next call of `op` fails with `error` (queue several for several
    /// calls), e.g. `RuntimeError::Timeout` or `RuntimeError::Unavailable`.
    pub fn fail_next(&self, op: Op, error: RuntimeError) {
        self.lock().one_shot.entry(op).or_default().push_back(error);
    }

    /// Sets the clock that stamps starts and exits.
    pub fn set_now_ms(&self, now_ms: i64) {
        self.lock().now_ms = now_ms;
    }

    // --- acting on running containers ------------------------------------

    /// A running container (ID, Docker name or ECS name) exits with
    /// `exit_code`; emits `Died`. False if it is not running.
    pub fn exit(&self, container: &str, exit_code: i32) -> bool {
        let mut s = self.lock();
        let Some(id) = s.find(container) else { return false };
        s.exit(&id, exit_code, false)
    }

    /// A running container is killed for memory: exit 137, `OOMKilled`.
    pub fn oom_kill(&self, container: &str) -> bool {
        let mut s = self.lock();
        let Some(id) = s.find(container) else { return false };
        s.exit(&id, SIGKILL_EXIT, true)
    }

    /// A container's health changes; emits `Health`. False if unknown.
    pub fn set_health(&self, container: &str, health: Health) -> bool {
        let mut s = self.lock();
        let Some(id) = s.find(container) else { return false };
        if let Some(c) = s.containers.get_mut(&id) {
            c.health = Some(health);
        }
        s.emit(RuntimeEvent::Health { id, health });
        true
    }

    /// A container (ID, Docker name or ECS name) writes `text` as one
    /// message to `source`, stamped with the fake's clock (to the
    /// millisecond, so messages written in the same millisecond share a
    /// timestamp). End it with `\n` to end a line. False if unknown.
    pub fn write_log(&self, container: &str, source: LogSource, text: &str) -> bool {
        let mut s = self.lock();
        let Some(id) = s.find(container) else { return false };
        let message = LogMessage {
            timestamp_ns: s.now_ms * 1_000_000,
            source,
            bytes: bytes::Bytes::copy_from_slice(text.as_bytes()),
        };
        s.logs.entry(id).or_default().push(message);
        s.log_signal.send_modify(|n| *n += 1);
        true
    }

    /// Emits any event, as the engine would.
    pub fn emit(&self, event: RuntimeEvent) {
        self.lock().emit(event);
    }

    /// Ends every open events stream (as when the engine restarts); later
    /// [`Runtime::events`] calls get a fresh stream.
    pub fn end_event_streams(&self) {
        let (events, _) = broadcast::channel(4096);
        self.lock().events = events;
    }

    // --- observing ---------------------------------------------------------

    /// Every call made so far, in order.
    pub fn calls(&self) -> Vec<Call> {
        self.lock().calls.clone()
    }

    /// Every container ever created and not removed, by ID order.
    pub fn containers(&self) -> Vec<FakeContainer> {
        self.lock().containers.values().cloned().collect()
    }

    /// One container by ID, Docker name or ECS name (the latest created).
    pub fn container(&self, container: &str) -> Option<FakeContainer> {
        let s = self.lock();
        let id = s.find(container)?;
        s.containers.get(&id).cloned()
    }

    /// The create body of a container (ID, Docker name or ECS name).
    pub fn config(&self, container: &str) -> Option<ContainerCreateBody> {
        self.container(container).map(|c| c.config)
    }

    /// The volumes that exist, by name.
    pub fn volumes(&self) -> Vec<VolumeSpec> {
        self.lock().volumes.values().cloned().collect()
    }

    /// How the network `name` was last asked for, if it was.
    pub fn network_spec(&self, name: &str) -> Option<Option<crate::hostnet::NetworkSpec>> {
        self.lock().network_specs.get(name).cloned()
    }

    /// The DNS servers [`Runtime::set_resolvers`] gave a container, if any.
    pub fn resolvers(&self, id: &str) -> Option<Vec<String>> {
        self.lock().resolvers.get(id).cloned()
    }

    /// Whether the image is present.
    pub fn has_image(&self, image: &str) -> bool {
        self.lock().images.contains(image)
    }
}

#[async_trait]
impl Runtime for FakeRuntime {
    async fn ping(&self) -> Result<(), RuntimeError> {
        Ok(())
    }

    async fn image_present(&self, image: &str) -> Result<bool, RuntimeError> {
        let mut s = self.lock();
        s.calls.push(Call::ImagePresent(image.to_owned()));
        s.fail(Op::ImagePresent)?;
        Ok(s.images.contains(image))
    }

    async fn pull_image(
        &self,
        image: &str,
        auth: Option<&RegistryAuth>,
        progress: &(dyn Fn(PullProgress) + Send + Sync),
    ) -> Result<(), RuntimeError> {
        {
            let mut s = self.lock();
            s.calls.push(Call::Pull(image.to_owned(), auth.map(|a| a.username.clone())));
            s.fail(Op::Pull)?;
            if let Some(message) = s.pull_failures.get(image) {
                return Err(RuntimeError::Refused(message.clone()));
            }
            if let Some(required) = s.registry_auth.get(image) {
                if auth != Some(required) {
                    return Err(RuntimeError::Refused(format!(
                        "unauthorized: authentication required for {image}"
                    )));
                }
            }
            s.images.insert(image.to_owned());
        }
        // Called without the lock: the callback may call back in.
        progress(PullProgress {
            layer: "fake".to_owned(),
            status: "Pull complete".to_owned(),
            bytes: None,
        });
        Ok(())
    }

    async fn create_container(
        &self,
        name: &str,
        mut config: ContainerCreateBody,
    ) -> Result<String, RuntimeError> {
        let mut s = self.lock();
        s.calls.push(Call::Create(name.to_owned()));
        s.fail(Op::Create)?;
        if s.containers.values().any(|c| c.name == name) {
            return Err(RuntimeError::Refused(format!(
                "Conflict. The container name \"/{name}\" is already in use"
            )));
        }
        let image = config.image.clone().unwrap_or_default();
        if !s.images.contains(&image) {
            return Err(RuntimeError::NotFound(format!("No such image: {image}")));
        }
        config
            .labels
            .get_or_insert_with(HashMap::new)
            .insert(LABEL_MANAGED.to_owned(), "true".to_owned());
        let id = format!("fake-{:04}", s.next_id);
        s.next_id += 1;
        let container = FakeContainer {
            id: id.clone(),
            name: name.to_owned(),
            config,
            state: ContainerState::Created,
            health: None,
            ports: Vec::new(),
            addresses: HashMap::new(),
            started_at_ms: None,
            finished_at_ms: None,
        };
        if let Some(message) = State::scripted(&s.create_failures, &container) {
            return Err(RuntimeError::Refused(message));
        }
        s.containers.insert(id.clone(), container);
        Ok(id)
    }

    async fn start_container(&self, id: &str) -> Result<ContainerInfo, RuntimeError> {
        let mut s = self.lock();
        s.calls.push(Call::Start(id.to_owned()));
        s.fail(Op::Start)?;
        let Some(c) = s.containers.get(id).cloned() else {
            return Err(RuntimeError::NotFound(format!("No such container: {id}")));
        };
        if let Some(message) = State::scripted(&s.start_failures, &c) {
            return Err(RuntimeError::Refused(message));
        }
        if c.state == ContainerState::Running {
            return Ok(c.info());
        }
        let host = c.config.host_config.clone().unwrap_or_default();
        let mut ports = Vec::new();
        let mut bindings: Vec<_> = host.port_bindings.unwrap_or_default().into_iter().collect();
        bindings.sort_by(|a, b| a.0.cmp(&b.0));
        for (key, list) in bindings {
            let (port, protocol) = key.split_once('/').unwrap_or((key.as_str(), "tcp"));
            let Ok(container_port) = port.parse::<u16>() else { continue };
            for b in list.unwrap_or_default() {
                let host_port = match b.host_port.as_deref().and_then(|p| p.parse::<u16>().ok()) {
                    Some(p) if p > 0 => p,
                    _ => {
                        let p = s.next_port;
                        s.next_port = s.next_port.checked_add(1).unwrap_or(FIRST_DYNAMIC_PORT);
                        p
                    }
                };
                ports.push(PortBinding {
                    container_port,
                    host_port,
                    host_ip: b
                        .host_ip
                        .filter(|ip| !ip.is_empty())
                        .unwrap_or_else(|| "0.0.0.0".to_owned()),
                    protocol: protocol.to_owned(),
                });
            }
        }
        let mut addresses = HashMap::new();
        match host.network_mode.as_deref() {
            Some("host") | Some("none") => {}
            Some(mode) if mode.starts_with("container:") => {}
            mode => {
                let network = mode.filter(|m| !m.is_empty() && *m != "default").unwrap_or("bridge");
                addresses.insert(network.to_owned(), format!("172.17.0.{}", s.next_ip));
                s.next_ip = s.next_ip.checked_add(1).unwrap_or(2);
            }
        }
        let now = s.now_ms;
        let exit_code = State::scripted(&s.exit_on_start, &c);
        let health = State::scripted(&s.health_on_start, &c);
        if let Some(entry) = s.containers.get_mut(id) {
            entry.state = ContainerState::Running;
            entry.ports = ports;
            entry.addresses = addresses;
            entry.started_at_ms = Some(now);
            entry.finished_at_ms = None;
        }
        s.emit(RuntimeEvent::Started { id: id.to_owned() });
        if let Some(health) = health {
            if let Some(entry) = s.containers.get_mut(id) {
                entry.health = Some(health);
            }
            s.emit(RuntimeEvent::Health { id: id.to_owned(), health });
        }
        if let Some(code) = exit_code {
            s.exit(id, code, false);
        }
        s.containers
            .get(id)
            .map(FakeContainer::info)
            .ok_or_else(|| RuntimeError::NotFound(format!("No such container: {id}")))
    }

    async fn stop_container(&self, id: &str, timeout: Duration) -> Result<(), RuntimeError> {
        let mut s = self.lock();
        s.calls.push(Call::Stop(id.to_owned(), timeout));
        s.fail(Op::Stop)?;
        let Some(c) = s.containers.get(id).cloned() else {
            return Err(RuntimeError::NotFound(format!("No such container: {id}")));
        };
        let code = State::scripted(&s.stop_exit, &c).unwrap_or(SIGTERM_EXIT);
        s.exit(id, code, false);
        Ok(())
    }

    async fn inspect_container(&self, id: &str) -> Result<ContainerInfo, RuntimeError> {
        let mut s = self.lock();
        s.calls.push(Call::Inspect(id.to_owned()));
        s.fail(Op::Inspect)?;
        s.containers
            .get(id)
            .map(FakeContainer::info)
            .ok_or_else(|| RuntimeError::NotFound(format!("No such container: {id}")))
    }

    /// Stats shaped as Docker's one-shot answer: the container's ID and
    /// name, memory usage while running, and a counter (`cpu_stats` total
    /// usage grows by one per call) so that a test can tell answers apart.
    async fn stats(&self, id: &str) -> Result<serde_json::Value, RuntimeError> {
        let mut s = self.lock();
        s.calls.push(Call::Stats(id.to_owned()));
        s.fail(Op::Stats)?;
        let calls = s.calls.iter().filter(|c| matches!(c, Call::Stats(_))).count();
        let c = s
            .containers
            .get(id)
            .ok_or_else(|| RuntimeError::NotFound(format!("No such container: {id}")))?;
        let running = c.state == ContainerState::Running;
        let memory = if running {
            serde_json::json!({ "usage": 1_048_576, "limit": 2_147_483_648_u64 })
        } else {
            serde_json::json!({})
        };
        Ok(serde_json::json!({
            "read": "1970-01-01T00:00:00Z",
            "preread": "0001-01-01T00:00:00Z",
            "id": c.id,
            "name": format!("/{}", c.name),
            "pids_stats": { "current": u32::from(running) },
            "num_procs": 0,
            "cpu_stats": {
                "cpu_usage": {
                    "total_usage": calls, "usage_in_kernelmode": 0, "usage_in_usermode": 0
                },
                "system_cpu_usage": 0,
                "online_cpus": 1,
                "throttling_data": { "periods": 0, "throttled_periods": 0, "throttled_time": 0 }
            },
            "precpu_stats": { "cpu_usage": { "total_usage": 0 }, "throttling_data": {} },
            "memory_stats": memory,
            "blkio_stats": {},
            "storage_stats": {},
            "networks": {
                "eth0": { "rx_bytes": 0, "rx_packets": 0, "tx_bytes": 0, "tx_packets": 0 }
            }
        }))
    }

    async fn remove_container(&self, id: &str) -> Result<(), RuntimeError> {
        let mut s = self.lock();
        s.calls.push(Call::Remove(id.to_owned()));
        s.fail(Op::Remove)?;
        // Forced, as Docker's: a running container is killed first.
        s.exit(id, SIGKILL_EXIT, false);
        s.containers.remove(id);
        Ok(())
    }

    async fn list_managed(
        &self,
        labels: &[(&str, &str)],
    ) -> Result<Vec<ContainerInfo>, RuntimeError> {
        let mut s = self.lock();
        s.calls.push(Call::ListManaged);
        s.fail(Op::ListManaged)?;
        let carries = |l: &HashMap<String, String>| {
            l.contains_key(LABEL_MANAGED)
                && labels.iter().all(|(k, v)| l.get(*k).is_some_and(|have| have == v))
        };
        Ok(s.containers
            .values()
            .filter(|c| c.config.labels.as_ref().is_some_and(carries))
            .map(FakeContainer::info)
            .collect())
    }

    async fn create_volume(&self, mut spec: VolumeSpec) -> Result<(), RuntimeError> {
        let mut s = self.lock();
        s.calls.push(Call::CreateVolume(spec.name.clone()));
        s.fail(Op::CreateVolume)?;
        spec.labels.insert(LABEL_MANAGED.to_owned(), "true".to_owned());
        s.volumes.entry(spec.name.clone()).or_insert(spec);
        Ok(())
    }

    async fn remove_volume(&self, name: &str) -> Result<(), RuntimeError> {
        let mut s = self.lock();
        s.calls.push(Call::RemoveVolume(name.to_owned()));
        s.fail(Op::RemoveVolume)?;
        s.volumes.remove(name);
        Ok(())
    }

    async fn ensure_network(
        &self,
        name: &str,
        spec: Option<&crate::hostnet::NetworkSpec>,
    ) -> Result<(), RuntimeError> {
        let mut s = self.lock();
        s.networks.insert(name.to_owned());
        s.network_specs.insert(name.to_owned(), spec.cloned());
        Ok(())
    }

    async fn import_image(
        &self,
        reference: &str,
        _rootfs_tar: Vec<u8>,
    ) -> Result<(), RuntimeError> {
        self.add_image(reference);
        Ok(())
    }

    async fn exec(&self, _id: &str, _spec: super::ExecSpec) -> Result<super::ExecIo, RuntimeError> {
        // Nothing runs in the fake's containers; exec is tested on Docker.
        Err(RuntimeError::Refused("the fake engine runs no commands in containers".into()))
    }

    async fn resize_exec(&self, exec_id: &str, _: u16, _: u16) -> Result<(), RuntimeError> {
        Err(RuntimeError::NotFound(format!("No such exec instance: {exec_id}")))
    }

    async fn exec_exit_code(&self, exec_id: &str) -> Result<Option<i64>, RuntimeError> {
        Err(RuntimeError::NotFound(format!("No such exec instance: {exec_id}")))
    }

    async fn set_resolvers(&self, id: &str, nameservers: &[String]) -> Result<bool, RuntimeError> {
        let mut s = self.lock();
        if !s.containers.contains_key(id) {
            return Err(RuntimeError::NotFound(format!("No such container: {id}")));
        }
        s.resolvers.insert(id.to_owned(), nameservers.to_vec());
        Ok(true)
    }

    async fn json_log_file(&self, _id: &str) -> Option<std::path::PathBuf> {
        // The fake keeps no files: its output is read through `logs`.
        None
    }

    fn logs(
        &self,
        id: &str,
        since_secs: i64,
        follow: bool,
    ) -> BoxStream<'static, Result<LogMessage, RuntimeError>> {
        let since_ns = since_secs.saturating_mul(1_000_000_000);
        let signal = self.lock().log_signal.subscribe();
        let start = (self.clone(), id.to_owned(), 0usize, signal);
        stream::unfold(start, move |(fake, id, mut next, mut signal)| async move {
            loop {
                {
                    let s = fake.lock();
                    let logged = s.logs.get(&id).map(Vec::as_slice).unwrap_or(&[]);
                    while let Some(m) = logged.get(next) {
                        next += 1;
                        if m.timestamp_ns >= since_ns {
                            let m = m.clone();
                            drop(s);
                            return Some((Ok(m), (fake, id, next, signal)));
                        }
                    }
                    let running =
                        s.containers.get(&id).is_some_and(|c| c.state == ContainerState::Running);
                    if !running || !follow {
                        return None;
                    }
                    signal.mark_unchanged();
                }
                if signal.changed().await.is_err() {
                    return None;
                }
            }
        })
        .boxed()
    }

    fn events(&self) -> BoxStream<'static, Result<RuntimeEvent, RuntimeError>> {
        let receiver = self.lock().events.subscribe();
        stream::unfold(receiver, |mut receiver| async move {
            let item = match receiver.recv().await {
                Ok(event) => Ok(event),
                // A slow test reader lost events: say so, as a dropped
                // engine stream would make the caller reconcile.
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    Err(RuntimeError::Unavailable(format!("fake event stream lagged by {n}")))
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            };
            Some((item, receiver))
        })
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(ecs_name: &str, image: &str) -> ContainerCreateBody {
        ContainerCreateBody {
            image: Some(image.to_owned()),
            labels: Some(HashMap::from([(LABEL_CONTAINER_NAME.to_owned(), ecs_name.to_owned())])),
            host_config: Some(bollard::models::HostConfig {
                network_mode: Some("bridge".to_owned()),
                port_bindings: Some(HashMap::from([(
                    "80/tcp".to_owned(),
                    Some(vec![bollard::models::PortBinding {
                        host_ip: None,
                        host_port: Some(String::new()),
                    }]),
                )])),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn scripted_lifecycle() {
        let fake = FakeRuntime::new();
        let mut events = fake.events();
        assert!(!fake.image_present("web:1").await.unwrap());
        fake.pull_image("web:1", None, &|_| {}).await.unwrap();
        assert!(fake.has_image("web:1"));
        fake.health_on_start("web", Health::Healthy);
        let id = fake.create_container("ecs-f-1-web-t", body("web", "web:1")).await.unwrap();
        let info = fake.start_container(&id).await.unwrap();
        assert_eq!(info.state, ContainerState::Running);
        assert_eq!(info.ports[0].host_port, FIRST_DYNAMIC_PORT);
        assert_eq!(info.addresses.get("bridge").map(String::as_str), Some("172.17.0.2"));
        assert!(fake.exit("web", 3));
        assert_eq!(events.next().await.unwrap().unwrap(), RuntimeEvent::Started { id: id.clone() });
        assert_eq!(
            events.next().await.unwrap().unwrap(),
            RuntimeEvent::Health { id: id.clone(), health: Health::Healthy }
        );
        assert_eq!(
            events.next().await.unwrap().unwrap(),
            RuntimeEvent::Died { id: id.clone(), exit_code: 3, oom_killed: false }
        );
        assert_eq!(fake.list_managed(&[]).await.unwrap().len(), 1);
        fake.remove_container(&id).await.unwrap();
        assert!(fake.list_managed(&[]).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn failures() {
        let fake = FakeRuntime::new();
        fake.add_image("a:1");
        fake.fail_pull("b:1", "manifest unknown");
        assert!(
            matches!(fake.pull_image("b:1", None, &|_| {}).await, Err(RuntimeError::Refused(m)) if m == "manifest unknown")
        );
        fake.fail_create("bad", "no space");
        assert!(fake.create_container("x", body("bad", "a:1")).await.is_err());
        assert!(matches!(
            fake.create_container("y", body("ok", "missing:1")).await,
            Err(RuntimeError::NotFound(_))
        ));
        fake.fail_next(
            Op::Create,
            RuntimeError::Timeout { operation: "create container", after: Duration::ZERO },
        );
        assert!(matches!(
            fake.create_container("z", body("ok", "a:1")).await,
            Err(RuntimeError::Timeout { .. })
        ));
        let id = fake.create_container("z", body("ok", "a:1")).await.unwrap();
        fake.exit_on_start("ok", 0);
        let info = fake.start_container(&id).await.unwrap();
        assert_eq!(info.state, ContainerState::Exited { exit_code: 0, oom_killed: false });
        let auth = RegistryAuth { username: "u".into(), password: "p".into() };
        fake.require_auth("p:1", auth.clone());
        assert!(fake.pull_image("p:1", None, &|_| {}).await.is_err());
        fake.pull_image("p:1", Some(&auth), &|_| {}).await.unwrap();
    }

    #[tokio::test]
    async fn stop_and_oom() {
        let fake = FakeRuntime::new();
        fake.add_image("a:1");
        fake.exit_on_stop("stubborn", SIGKILL_EXIT);
        let a = fake.create_container("a", body("stubborn", "a:1")).await.unwrap();
        let b = fake.create_container("b", body("other", "a:1")).await.unwrap();
        fake.start_container(&a).await.unwrap();
        fake.start_container(&b).await.unwrap();
        fake.stop_container(&a, Duration::from_secs(1)).await.unwrap();
        assert!(fake.oom_kill("other"));
        let a = fake.inspect_container(&a).await.unwrap();
        let b = fake.inspect_container(&b).await.unwrap();
        assert_eq!(a.state, ContainerState::Exited { exit_code: SIGKILL_EXIT, oom_killed: false });
        assert_eq!(b.state, ContainerState::Exited { exit_code: SIGKILL_EXIT, oom_killed: true });
        // Stopping again is not an error.
        fake.stop_container(&a.id, Duration::from_secs(1)).await.unwrap();
    }
}
