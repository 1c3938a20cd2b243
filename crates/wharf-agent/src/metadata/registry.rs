//! The agent's view of its tasks, as the endpoints serve them.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use wharf_model::agent::{merge, Assignment};
use wharf_model::ecs::resolved::ResolvedTask;
use wharf_model::ecs::shapes::{ContainerDefinition, HealthStatus, Task, TaskDefinition};
use wharf_model::ecs::status::ContainerLastStatus;

use super::DEFAULT_BASE_URL;
use crate::pause::{PAUSE_CONTAINER_NAME, PAUSE_IMAGE};
use crate::runtime::{ContainerInfo, ContainerState, Health, PortBinding};

/// `Type` of a task definition's container.
pub(super) const TYPE_NORMAL: &str = "NORMAL";
/// `Type` of the container holding an awsvpc task's network namespace.
pub(super) const TYPE_CNI_PAUSE: &str = "CNI_PAUSE";

/// What [`Registry::add_task`] hands out for one task: the endpoint token of
/// each container and the task's credentials ID. Each is a capability: who
/// knows it reads the metadata or the role's credentials, so they are not
/// printed by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct TaskTokens {
    /// Container name (as in the task definition) → its endpoint token, the
    /// `<id>` of `/v4/<id>` and `/v3/<id>`.
    pub containers: BTreeMap<String, String>,
    /// The `<id>` of `/v2/credentials/<id>`, when the task has a role
    /// (`taskRoleArn`, from the definition or RunTask's overrides).
    pub credentials_id: Option<String>,
}

impl std::fmt::Debug for TaskTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskTokens")
            .field("containers", &self.containers.keys().collect::<Vec<_>>())
            .field("credentials_id", &self.credentials_id.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// One container of a task, as the endpoints know it.
#[derive(Debug, Clone)]
pub(super) struct ContainerRecord {
    /// Its name in the task definition (or the pause container's name).
    pub(super) name: String,
    /// Its endpoint token; `None` for the pause container, which gets none.
    pub(super) token: Option<String>,
    /// Its definition with RunTask's overrides applied; `None` for the pause
    /// container.
    pub(super) definition: Option<ContainerDefinition>,
    /// `NORMAL` or `CNI_PAUSE`.
    pub(super) kind: &'static str,
    pub(super) docker_id: Option<String>,
    pub(super) docker_name: Option<String>,
    /// Docker's labels, once the container was seen started.
    pub(super) labels: Option<HashMap<String, String>>,
    pub(super) ports: Vec<PortBinding>,
    /// Address by Docker network name.
    pub(super) addresses: HashMap<String, String>,
    pub(super) created_at_ms: Option<i64>,
    pub(super) started_at_ms: Option<i64>,
    pub(super) finished_at_ms: Option<i64>,
    pub(super) exit_code: Option<i32>,
    pub(super) running: bool,
    /// `HEALTHY` / `UNHEALTHY` / `UNKNOWN`, and since when (ms).
    pub(super) health: Option<(String, i64)>,
}

impl ContainerRecord {
    fn new(name: &str, token: Option<String>, definition: Option<ContainerDefinition>) -> Self {
        let kind = if name == PAUSE_CONTAINER_NAME { TYPE_CNI_PAUSE } else { TYPE_NORMAL };
        Self {
            name: name.to_owned(),
            token,
            definition,
            kind,
            docker_id: None,
            docker_name: None,
            labels: None,
            ports: Vec::new(),
            addresses: HashMap::new(),
            created_at_ms: None,
            started_at_ms: None,
            finished_at_ms: None,
            exit_code: None,
            running: false,
            health: None,
        }
    }

    /// The image reference, as the task definition gives it.
    pub(super) fn image(&self) -> String {
        match &self.definition {
            Some(d) => d.image.clone().unwrap_or_default(),
            None if self.kind == TYPE_CNI_PAUSE => PAUSE_IMAGE.to_owned(),
            None => String::new(),
        }
    }

    fn set_health(&mut self, status: &str, now: i64) {
        if self.health.as_ref().map(|(s, _)| s.as_str()) != Some(status) {
            self.health = Some((status.to_owned(), now));
        }
    }

    fn stopped(&mut self, exit_code: Option<i32>, finished_at_ms: Option<i64>, now: i64) {
        self.running = false;
        if exit_code.is_some() {
            self.exit_code = exit_code;
        }
        if self.finished_at_ms.is_none() {
            self.finished_at_ms = finished_at_ms.or(Some(now));
        }
    }
}

/// One task, as the endpoints know it.
#[derive(Debug, Clone)]
pub(super) struct TaskRecord {
    /// The cluster, as the assignment names it.
    pub(super) cluster: String,
    /// The task as assigned, with every report merged in.
    pub(super) task: Task,
    pub(super) definition: TaskDefinition,
    /// The definition's containers in order, then the pause container once
    /// it is known.
    pub(super) containers: Vec<ContainerRecord>,
    pub(super) credentials_id: Option<String>,
    /// The task's role (`taskRoleArn`, RunTask's override first).
    pub(super) role_arn: Option<String>,
}

impl TaskRecord {
    pub(super) fn task_arn(&self) -> &str {
        self.task.task_arn.as_deref().unwrap_or_default()
    }

    fn container_mut(&mut self, name: &str) -> Option<&mut ContainerRecord> {
        self.containers.iter_mut().find(|c| c.name == name)
    }

    /// The record of `name`; the pause container is added on first sight.
    fn container_or_pause(&mut self, name: &str) -> Option<&mut ContainerRecord> {
        if name == PAUSE_CONTAINER_NAME && !self.containers.iter().any(|c| c.name == name) {
            self.containers.push(ContainerRecord::new(name, None, None));
        }
        self.container_mut(name)
    }
}

#[derive(Debug, Default)]
pub(super) struct State {
    /// Task ARN → task.
    pub(super) tasks: HashMap<String, TaskRecord>,
    /// Endpoint token → (task ARN, container name).
    pub(super) tokens: HashMap<String, (String, String)>,
    /// Credentials ID → task ARN.
    pub(super) credentials: HashMap<String, String>,
}

struct Inner {
    base_url: String,
    key: [u8; 32],
    state: RwLock<State>,
}

/// The agent's view of its tasks for the task metadata and credentials
/// endpoints: which token belongs to which container, and what each task and
/// container looks like now. Cheap to clone (clones share one registry);
/// its lock is never held across an `.await`.
///
/// The task driver registers a task when it starts ([`Registry::add_task`]),
/// puts [`Registry::container_env`] into each container's environment,
/// tells it about each container it creates and starts
/// ([`Registry::container_created`], [`Registry::container_started`]),
/// passes it every report it sends to the server ([`Registry::report`]) and
/// removes the task once it is cleaned up ([`Registry::remove_task`]).
///
/// Tokens and credentials IDs are HMAC-SHA256 of the task ARN and container
/// name under a 256-bit key, shaped like UUIDs: unguessable, and the same
/// for the same task and container as long as the key is. The key is random
/// per registry unless given ([`Registry::with_secret`]); an agent that keeps
/// its key across restarts keeps serving the containers it adopts.
#[derive(Clone)]
pub struct Registry {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let tasks = self.read().tasks.len();
        f.debug_struct("Registry")
            .field("base_url", &self.inner.base_url)
            .field("tasks", &tasks)
            .finish_non_exhaustive()
    }
}

impl Default for Registry {
    fn default() -> Self {
        Self::new()
    }
}

/// Milliseconds since the epoch, now.
pub(super) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn random_key() -> [u8; 32] {
    let mut key = [0u8; 32];
    key[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    key[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    key
}

/// Formats 16 bytes as a version-4 UUID (version and variant bits set).
fn uuid_shaped(mut b: [u8; 16]) -> String {
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    uuid::Uuid::from_bytes(b).hyphenated().to_string()
}

impl Registry {
    /// An empty registry whose containers reach the endpoints at ECS's
    /// address, `http://169.254.170.2`, with a random key.
    pub fn new() -> Self {
        Self::with_base_url(DEFAULT_BASE_URL)
    }

    /// An empty registry whose containers reach the endpoints at `base_url`
    /// (`http://169.254.170.2`, or `http://127.0.0.1:<port>` in tests), with
    /// a random key. A trailing `/` is dropped.
    pub fn with_base_url(base_url: &str) -> Self {
        Self::build(base_url, random_key())
    }

    /// The same base URL with a key derived from `secret` (any length), so
    /// that tokens stay the same across agent restarts. Call it before
    /// registering tasks: the registry it returns is a new, empty one.
    pub fn with_secret(self, secret: &[u8]) -> Self {
        let mut key = [0u8; 32];
        key.copy_from_slice(&hmac_sha256(b"wharf task metadata endpoint key", secret)[..32]);
        Self::build(&self.inner.base_url, key)
    }

    fn build(base_url: &str, key: [u8; 32]) -> Self {
        let base_url = base_url.trim_end_matches('/').to_owned();
        Self { inner: Arc::new(Inner { base_url, key, state: RwLock::new(State::default()) }) }
    }

    /// The URL containers reach the endpoints at, e.g. `http://169.254.170.2`.
    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }

    pub(super) fn read(&self) -> RwLockReadGuard<'_, State> {
        // Nothing panics while holding the lock; if it did, the data is
        // still consistent enough to serve.
        self.inner.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.inner.state.write().unwrap_or_else(PoisonError::into_inner)
    }

    fn derive(&self, purpose: &str, task_arn: &str, container: &str) -> String {
        let data = format!("{purpose}\0{task_arn}\0{container}");
        let mac = hmac_sha256(&self.inner.key, data.as_bytes());
        let mut b = [0u8; 16];
        b.copy_from_slice(&mac[..16]);
        uuid_shaped(b)
    }

    /// Registers a task when its driver starts, and returns its tokens. A
    /// task already registered keeps what the registry knows of it and gets
    /// the same tokens again.
    pub fn add_task(&self, assignment: &Assignment, instance_arn: &str) -> TaskTokens {
        let task_arn = assignment.task.task_arn.clone().unwrap_or_default();
        let resolved =
            ResolvedTask::new(&assignment.definition, assignment.task.overrides.as_ref());
        let role_arn = resolved.definition.task_role_arn.clone().filter(|r| !r.is_empty());
        let credentials_id = role_arn.as_ref().map(|_| self.derive("credentials", &task_arn, ""));
        let containers: Vec<ContainerRecord> = resolved
            .containers()
            .iter()
            .map(|d| {
                let name = d.name.clone().unwrap_or_default();
                let token = self.derive("container", &task_arn, &name);
                ContainerRecord::new(&name, Some(token), Some(d.clone()))
            })
            .collect();
        let tokens = TaskTokens {
            containers: containers
                .iter()
                .filter_map(|c| Some((c.name.clone(), c.token.clone()?)))
                .collect(),
            credentials_id: credentials_id.clone(),
        };
        let mut state = self.write();
        if !state.tasks.contains_key(&task_arn) {
            for (name, token) in &tokens.containers {
                state.tokens.insert(token.clone(), (task_arn.clone(), name.clone()));
            }
            if let Some(id) = &credentials_id {
                state.credentials.insert(id.clone(), task_arn.clone());
            }
            let record = TaskRecord {
                cluster: assignment.cluster.clone(),
                task: assignment.task.clone(),
                definition: assignment.definition.clone(),
                containers,
                credentials_id,
                role_arn,
            };
            state.tasks.insert(task_arn.clone(), record);
        }
        drop(state);
        tracing::debug!(task = %task_arn, instance = %instance_arn, "task metadata: task registered");
        tokens
    }

    /// The tokens of a registered task.
    pub fn tokens(&self, task_arn: &str) -> Option<TaskTokens> {
        let state = self.read();
        let record = state.tasks.get(task_arn)?;
        Some(TaskTokens {
            containers: record
                .containers
                .iter()
                .filter_map(|c| Some((c.name.clone(), c.token.clone()?)))
                .collect(),
            credentials_id: record.credentials_id.clone(),
        })
    }

    /// Merges a partial task report (the one sent to the server) into the
    /// registry's copy of the task, with [`wharf_model::agent::merge`]; its
    /// containers' exit codes, health and stops are noted too. A task not
    /// registered is ignored.
    pub fn report(&self, task_arn: &str, change: &Task) {
        let now = now_ms();
        let mut state = self.write();
        let Some(record) = state.tasks.get_mut(task_arn) else { return };
        merge(&mut record.task, change.clone());
        for c in change.containers.as_deref().unwrap_or_default() {
            let Some(name) = c.name.as_deref() else { continue };
            let Some(entry) = record.container_or_pause(name) else { continue };
            if entry.docker_id.is_none() {
                entry.docker_id.clone_from(&c.runtime_id);
            }
            if let Some(health) = &c.health_status {
                if entry.definition.as_ref().is_some_and(|d| d.health_check.is_some()) {
                    entry.set_health(health.as_str(), now);
                }
            }
            match c.last_status {
                Some(ContainerLastStatus::Stopped) => entry.stopped(c.exit_code, None, now),
                Some(ContainerLastStatus::Running)
                    if entry.exit_code.is_none() && entry.finished_at_ms.is_none() =>
                {
                    entry.running = true;
                    entry.started_at_ms.get_or_insert(now);
                }
                _ => {
                    if c.exit_code.is_some() {
                        entry.exit_code = c.exit_code;
                    }
                }
            }
        }
    }

    /// Records a container just created (before it starts, so that its
    /// metadata is there from its first instant): its Docker ID and name,
    /// and `CreatedAt`. Also takes the pause container
    /// ([`crate::pause::PAUSE_CONTAINER_NAME`]).
    pub fn container_created(
        &self,
        task_arn: &str,
        container: &str,
        docker_id: &str,
        docker_name: &str,
    ) {
        let now = now_ms();
        let mut state = self.write();
        let Some(record) = state.tasks.get_mut(task_arn) else { return };
        let Some(entry) = record.container_or_pause(container) else { return };
        entry.docker_id = Some(docker_id.to_owned());
        entry.docker_name = Some(docker_name.to_owned());
        entry.created_at_ms.get_or_insert(now);
    }

    /// Records how a container looks once started (or adopted after a
    /// restart): Docker ID and name, labels, ports, addresses, start and
    /// finish times, exit code, health. Also takes the pause container
    /// ([`crate::pause::PAUSE_CONTAINER_NAME`]).
    pub fn container_started(
        &self,
        task_arn: &str,
        container: &str,
        info: &ContainerInfo,
        docker_name: &str,
    ) {
        self.observe(task_arn, container, info, Some(docker_name));
    }

    /// Applies what an inspect says of a container (after its start, or
    /// asked by the server when a container it has not seen started is
    /// queried); `docker_name` when known.
    pub(super) fn observe(
        &self,
        task_arn: &str,
        container: &str,
        info: &ContainerInfo,
        docker_name: Option<&str>,
    ) {
        let now = now_ms();
        let mut state = self.write();
        let Some(record) = state.tasks.get_mut(task_arn) else { return };
        let Some(entry) = record.container_or_pause(container) else { return };
        entry.docker_id = Some(info.id.clone());
        if let Some(name) = docker_name {
            entry.docker_name = Some(name.trim_start_matches('/').to_owned());
        }
        entry.labels = Some(info.labels.clone());
        entry.ports.clone_from(&info.ports);
        entry.addresses.clone_from(&info.addresses);
        if info.state != ContainerState::Created {
            let started = info.started_at_ms.unwrap_or(now);
            entry.started_at_ms = Some(started);
            entry.created_at_ms = Some(entry.created_at_ms.map_or(started, |c| c.min(started)));
        }
        match &info.state {
            ContainerState::Exited { exit_code, .. } => {
                entry.stopped(Some(*exit_code), info.finished_at_ms, now);
            }
            ContainerState::Running => entry.running = true,
            ContainerState::Created => {}
        }
        if let Some(health) = info.health {
            let status = match health {
                Health::Starting => HealthStatus::Unknown,
                Health::Healthy => HealthStatus::Healthy,
                Health::Unhealthy => HealthStatus::Unhealthy,
            };
            entry.set_health(status.as_str(), now);
        }
    }

    /// Forgets a task: its tokens and credentials ID stop working.
    pub fn remove_task(&self, task_arn: &str) {
        let mut state = self.write();
        if let Some(record) = state.tasks.remove(task_arn) {
            for token in record.containers.iter().filter_map(|c| c.token.as_ref()) {
                state.tokens.remove(token);
            }
            if let Some(id) = &record.credentials_id {
                state.credentials.remove(id);
            }
        }
    }

    /// The variables the agent adds to a container's environment:
    /// `ECS_CONTAINER_METADATA_URI_V4` (`<base>/v4/<token>`),
    /// `ECS_CONTAINER_METADATA_URI` (`<base>/v3/<token>`) and, when the task
    /// has a role, `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`
    /// (`/v2/credentials/<id>`, which SDKs fetch from
    /// `http://169.254.170.2`). Empty for a task or container not
    /// registered.
    pub fn container_env(&self, task_arn: &str, container: &str) -> Vec<(String, String)> {
        let state = self.read();
        let Some(record) = state.tasks.get(task_arn) else { return Vec::new() };
        let Some(token) =
            record.containers.iter().find(|c| c.name == container).and_then(|c| c.token.as_ref())
        else {
            return Vec::new();
        };
        let base = &self.inner.base_url;
        let mut env = vec![
            ("ECS_CONTAINER_METADATA_URI_V4".to_owned(), format!("{base}/v4/{token}")),
            ("ECS_CONTAINER_METADATA_URI".to_owned(), format!("{base}/v3/{token}")),
        ];
        if let Some(id) = &record.credentials_id {
            env.push((
                "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI".to_owned(),
                format!("/v2/credentials/{id}"),
            ));
        }
        env
    }
}

/// HMAC-SHA256 of `data` under `key`.
fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    match <Hmac<Sha256> as KeyInit>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(data);
            mac.finalize().into_bytes().to_vec()
        }
        // HMAC takes keys of any length; should that ever change, a random
        // value is still a fine (if unstable) token.
        Err(_) => {
            let mut out = random_key().to_vec();
            out.extend_from_slice(&random_key());
            out
        }
    }
}
