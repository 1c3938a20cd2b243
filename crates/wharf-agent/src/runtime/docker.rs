//! [`Runtime`] on Docker Engine, through its HTTP API (bollard).
//!
//! The client negotiates the API version at connection: bollard speaks 1.53
//! by default and Debian's Docker 20.10 only 1.41 (it refuses a newer
//! client). Every call used here exists in 1.41 and is exercised by
//! `tests/docker.rs` against that engine.
//!
//! Each call has its own deadline ([`Timeouts`]), enforced here with
//! `tokio::time::timeout`; bollard's own whole-client timeout (which only
//! covers the response head) is set beyond all of them so that it never cuts
//! a long `stop` or `pull` short.

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use bollard::container::LogOutput;
use bollard::errors::Error as DockerError;
use bollard::models::{ContainerInspectResponse, EventMessage, VolumeCreateRequest};
use bollard::query_parameters::{
    CreateContainerOptions, CreateImageOptions, EventsOptions, InspectContainerOptions,
    ListContainersOptions, LogsOptions, RemoveContainerOptions, RemoveVolumeOptions, StatsOptions,
    StopContainerOptions,
};
use bollard::Docker;
use futures_util::stream::{BoxStream, StreamExt};

use super::{
    ContainerCreateBody, ContainerInfo, ContainerState, ExecIo, ExecOutput, ExecSpec, Health,
    LogMessage, LogSource, PortBinding, PullProgress, RegistryAuth, Runtime, RuntimeError,
    RuntimeEvent, VolumeSpec, LABEL_MANAGED,
};

/// How long each Docker call may take. The defaults are the ECS agent's
/// where it has one (create 4 min, start 3 min, pull 2 h).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Connecting and negotiating the API version.
    pub connect: Duration,
    /// Image inspect (is it present?).
    pub image_inspect: Duration,
    /// A whole image pull, progress included.
    pub pull: Duration,
    /// Container create.
    pub create: Duration,
    /// Container start (and the inspect after it).
    pub start: Duration,
    /// Added to a stop's own grace period (Docker answers only once the
    /// container is down).
    pub stop_margin: Duration,
    /// Container inspect.
    pub inspect: Duration,
    /// Container remove.
    pub remove: Duration,
    /// Listing managed containers (list and the inspects).
    pub list: Duration,
    /// Volume create or remove.
    pub volume: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(10),
            image_inspect: Duration::from_secs(30),
            pull: Duration::from_secs(2 * 3600),
            create: Duration::from_secs(4 * 60),
            start: Duration::from_secs(3 * 60),
            stop_margin: Duration::from_secs(30),
            inspect: Duration::from_secs(30),
            remove: Duration::from_secs(5 * 60),
            list: Duration::from_secs(60),
            volume: Duration::from_secs(5 * 60),
        }
    }
}

/// The Docker Engine runtime.
#[derive(Debug, Clone)]
pub struct DockerRuntime {
    docker: Docker,
    timeouts: Timeouts,
    /// The engine's data directory (`DockerRootDir`), asked for once, in
    /// the background when the first container is created; `None` inside
    /// when the engine would not say. Its containers' `json-file` logs are found under it without an
    /// inspect, which waits on the container's lock while the engine
    /// tears a container down (about 90 ms for one that just exited).
    root_dir: Arc<tokio::sync::OnceCell<Option<PathBuf>>>,
    /// Where task cgroups are made ([`crate::task_cgroup`]), learned on the
    /// first one: `None` inside when the engine is elsewhere or does not
    /// use the `cgroupfs` driver.
    cgroups: Arc<tokio::sync::OnceCell<Option<crate::task_cgroup::Hierarchy>>>,
    /// Whether the engine runs on this host (a unix socket).
    local: bool,
    /// Held while a network is looked at and made: two tasks starting at
    /// once on a fresh host would both create the awsvpc network, and the
    /// second fail ("Pool overlaps with other one on this address space").
    networks: Arc<tokio::sync::Mutex<()>>,
}

impl DockerRuntime {
    /// Connects to the engine `DOCKER_HOST` names (the local socket,
    /// `unix:///var/run/docker.sock`, when unset) and negotiates the API
    /// version, with the default [`Timeouts`].
    pub async fn connect() -> Result<Self, RuntimeError> {
        Self::connect_with(None, Timeouts::default()).await
    }

    /// Connects to `host` (`unix:///path` or `tcp://host:port`; `None`:
    /// `DOCKER_HOST`, else the local socket) and negotiates the API version.
    pub async fn connect_with(
        host: Option<&str>,
        timeouts: Timeouts,
    ) -> Result<Self, RuntimeError> {
        let docker = match host {
            Some(h) => Docker::connect_with_host(h),
            None => Docker::connect_with_defaults(),
        }
        .map_err(|e| RuntimeError::Unavailable(e.to_string()))?;
        // Beyond every per-call deadline: ours are the ones that count.
        let ceiling = [timeouts.pull, timeouts.create, timeouts.start, timeouts.remove]
            .into_iter()
            .max()
            .unwrap_or_default()
            + Duration::from_secs(3600);
        let docker = docker.with_timeout(ceiling);
        let docker = match tokio::time::timeout(timeouts.connect, docker.negotiate_version()).await
        {
            Ok(Ok(d)) => d,
            Ok(Err(e)) => return Err(RuntimeError::Unavailable(e.to_string())),
            Err(_) => {
                return Err(RuntimeError::Timeout { operation: "connect", after: timeouts.connect })
            }
        };
        let given = host.map(str::to_owned).or_else(|| std::env::var("DOCKER_HOST").ok());
        let local = given.is_none_or(|h| h.is_empty() || h.starts_with("unix://"));
        Ok(Self {
            docker,
            timeouts,
            root_dir: Arc::new(tokio::sync::OnceCell::new()),
            cgroups: Arc::new(tokio::sync::OnceCell::new()),
            local,
            networks: Arc::new(tokio::sync::Mutex::new(())),
        })
    }

    /// Asks for the engine's data directory in the background, if not yet
    /// known: called on a container's create, so that it is known by the
    /// time the container's output is read.
    fn learn_root_dir(&self) {
        if self.root_dir.initialized() {
            return;
        }
        let (docker, cell, after) =
            (self.docker.clone(), self.root_dir.clone(), self.timeouts.inspect);
        tokio::spawn(async move {
            cell.get_or_init(|| engine_root_dir(docker, after)).await;
        });
    }

    /// Where the engine keeps container `id`'s `json-file` log, if that is
    /// a file this process can read: the engine runs on this host.
    async fn local_json_log(&self, id: &str) -> Option<PathBuf> {
        self.local_container_file(id, &format!("{id}-json.log")).await
    }

    /// A file of the engine's directory for a container (`resolv.conf`,
    /// `<id>-json.log`), when it exists on this host.
    async fn local_container_file(&self, id: &str, name: &str) -> Option<PathBuf> {
        // A full container ID, never a name or a path.
        if id.len() != 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let timeout = self.timeouts.inspect;
        let root = self
            .root_dir
            .get_or_init(|| engine_root_dir(self.docker.clone(), timeout))
            .await
            .as_ref()?;
        let path = root.join("containers").join(id).join(name);
        std::fs::File::open(&path).is_ok().then_some(path)
    }

    /// The cgroup hierarchy task cgroups are made in, if this engine's
    /// containers can be put in one: it runs here with the `cgroupfs` driver.
    async fn task_cgroups(&self) -> Option<&crate::task_cgroup::Hierarchy> {
        self.cgroups
            .get_or_init(|| async {
                if !self.local {
                    return None;
                }
                let info = timed("info", self.timeouts.inspect, self.docker.info()).await.ok()?;
                if info.cgroup_driver.map(|d| d.to_string()).as_deref() != Some("cgroupfs") {
                    tracing::warn!("the engine's cgroup driver is not cgroupfs: Fargate task sizes are not enforced as a task cgroup");
                    return None;
                }
                crate::task_cgroup::Hierarchy::detect(std::path::Path::new("/sys/fs/cgroup"))
            })
            .await
            .as_ref()
    }

    /// The negotiated Engine API version, e.g. `1.41`.
    pub fn api_version(&self) -> String {
        self.docker.client_version().to_string()
    }

    /// The bollard client, for what the [`Runtime`] trait does not cover
    /// (tests, diagnostics).
    pub fn client(&self) -> &Docker {
        &self.docker
    }

    async fn inspect(&self, id: &str, after: Duration) -> Result<ContainerInfo, RuntimeError> {
        let response = timed("inspect container", after, async {
            self.docker.inspect_container(id, None::<InspectContainerOptions>).await
        })
        .await?;
        Ok(container_info(response))
    }
}

/// Runs one Docker call under its deadline and maps its error.
async fn timed<T>(
    operation: &'static str,
    after: Duration,
    call: impl Future<Output = Result<T, DockerError>>,
) -> Result<T, RuntimeError> {
    match tokio::time::timeout(after, call).await {
        Ok(result) => result.map_err(|e| map_error(operation, after, e)),
        Err(_) => Err(RuntimeError::Timeout { operation, after }),
    }
}

/// The engine's `DockerRootDir`, or `None` if it would not say in time.
async fn engine_root_dir(docker: Docker, after: Duration) -> Option<PathBuf> {
    match timed("info", after, docker.info()).await {
        Ok(info) => info.docker_root_dir.filter(|d| !d.is_empty()).map(PathBuf::from),
        Err(e) => {
            tracing::debug!(error = %e, "the engine's data directory is unknown; logs are found by inspect");
            None
        }
    }
}

/// Docker's answer as a [`RuntimeError`]: 404 is `NotFound`, another status
/// is `Refused` (with Docker's message), a transport failure `Unavailable`.
fn map_error(operation: &'static str, after: Duration, e: DockerError) -> RuntimeError {
    match e {
        DockerError::DockerResponseServerError { status_code: 404, message } => {
            RuntimeError::NotFound(message)
        }
        DockerError::DockerResponseServerError { message, .. } => RuntimeError::Refused(message),
        DockerError::DockerStreamError { error } => RuntimeError::Refused(error),
        DockerError::RequestTimeoutError => RuntimeError::Timeout { operation, after },
        e @ (DockerError::IOError { .. }
        | DockerError::HyperResponseError { .. }
        | DockerError::HttpClientError { .. }
        | DockerError::HyperLegacyError { .. }
        | DockerError::SocketNotFoundError(_)) => RuntimeError::Unavailable(e.to_string()),
        e => RuntimeError::Refused(format!("{operation}: {e}")),
    }
}

/// `name` → `name:latest` when the reference carries neither tag nor digest
/// (Docker would otherwise pull every tag of the repository).
fn with_default_tag(image: &str) -> String {
    let last = image.rsplit('/').next().unwrap_or(image);
    if last.contains(':') || last.contains('@') {
        image.to_owned()
    } else {
        format!("{image}:latest")
    }
}

/// The registry a reference points at, as Docker's auth config names it.
fn registry_of(image: &str) -> String {
    match image.split_once('/') {
        Some((first, _)) if first.contains('.') || first.contains(':') || first == "localhost" => {
            first.to_owned()
        }
        _ => "https://index.docker.io/v1/".to_owned(),
    }
}

#[async_trait]
impl Runtime for DockerRuntime {
    async fn ping(&self) -> Result<(), RuntimeError> {
        timed("ping", self.timeouts.inspect.min(Duration::from_secs(5)), self.docker.ping())
            .await
            .map(|_| ())
    }

    async fn image_present(&self, image: &str) -> Result<bool, RuntimeError> {
        match timed("inspect image", self.timeouts.image_inspect, self.docker.inspect_image(image))
            .await
        {
            Ok(_) => Ok(true),
            Err(RuntimeError::NotFound(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn pull_image(
        &self,
        image: &str,
        auth: Option<&RegistryAuth>,
        progress: &(dyn Fn(PullProgress) + Send + Sync),
    ) -> Result<(), RuntimeError> {
        let reference = with_default_tag(image);
        let options = CreateImageOptions { from_image: Some(reference), ..Default::default() };
        let credentials = auth.map(|a| bollard::auth::DockerCredentials {
            username: Some(a.username.clone()),
            password: Some(a.password.clone()),
            serveraddress: Some(registry_of(image)),
            ..Default::default()
        });
        let pull = async {
            let mut stream = self.docker.create_image(Some(options), None, credentials);
            while let Some(item) = stream.next().await {
                let info = item?;
                if let Some(status) = info.status {
                    let bytes = info.progress_detail.and_then(|p| match (p.current, p.total) {
                        (Some(c), Some(t)) => {
                            Some((u64::try_from(c).ok()?, u64::try_from(t).ok()?))
                        }
                        _ => None,
                    });
                    progress(PullProgress { layer: info.id.unwrap_or_default(), status, bytes });
                }
            }
            Ok(())
        };
        timed("pull image", self.timeouts.pull, pull).await
    }

    async fn create_container(
        &self,
        name: &str,
        mut config: ContainerCreateBody,
    ) -> Result<String, RuntimeError> {
        self.learn_root_dir();
        config
            .labels
            .get_or_insert_with(HashMap::new)
            .insert(LABEL_MANAGED.to_owned(), "true".to_owned());
        pick_dynamic_host_ports(&mut config);
        let options = CreateContainerOptions { name: Some(name.to_owned()), ..Default::default() };
        let created = timed("create container", self.timeouts.create, async {
            self.docker.create_container(Some(options), config).await
        })
        .await?;
        Ok(created.id)
    }

    async fn start_container(&self, id: &str) -> Result<ContainerInfo, RuntimeError> {
        let started = tokio::time::Instant::now();
        timed("start container", self.timeouts.start, async {
            self.docker.start_container(id, None).await
        })
        .await?;
        let left = self.timeouts.start.saturating_sub(started.elapsed()).max(self.timeouts.inspect);
        self.inspect(id, left).await
    }

    async fn stop_container(&self, id: &str, timeout: Duration) -> Result<(), RuntimeError> {
        let secs = i32::try_from(timeout.as_secs()).unwrap_or(i32::MAX);
        // `signal` is API 1.42+: leave it out, the container's stop signal
        // (SIGTERM or the image's STOPSIGNAL) is what ECS sends.
        let options = StopContainerOptions { t: Some(secs), signal: None };
        timed("stop container", timeout + self.timeouts.stop_margin, async {
            self.docker.stop_container(id, Some(options)).await
        })
        .await
    }

    async fn inspect_container(&self, id: &str) -> Result<ContainerInfo, RuntimeError> {
        self.inspect(id, self.timeouts.inspect).await
    }

    async fn stats(&self, id: &str) -> Result<serde_json::Value, RuntimeError> {
        let options = StatsOptions { stream: false, one_shot: true };
        let stats = timed("container stats", self.timeouts.inspect, async {
            let mut stream = self.docker.stats(id, Some(options));
            match stream.next().await {
                Some(item) => item.map(Some),
                None => Ok(None),
            }
        })
        .await?;
        let stats = stats.ok_or_else(|| {
            RuntimeError::Refused(format!("container stats: no answer for container {id}"))
        })?;
        serde_json::to_value(stats)
            .map_err(|e| RuntimeError::Refused(format!("container stats: {e}")))
    }

    async fn remove_container(&self, id: &str) -> Result<(), RuntimeError> {
        let options = RemoveContainerOptions { v: true, force: true, link: false };
        match timed("remove container", self.timeouts.remove, async {
            self.docker.remove_container(id, Some(options)).await
        })
        .await
        {
            Ok(()) | Err(RuntimeError::NotFound(_)) => Ok(()),
            // Docker is already removing it.
            Err(RuntimeError::Refused(m)) if m.contains("already in progress") => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn list_managed(
        &self,
        labels: &[(&str, &str)],
    ) -> Result<Vec<ContainerInfo>, RuntimeError> {
        let list = async {
            let mut wanted = vec![LABEL_MANAGED.to_owned()];
            wanted.extend(labels.iter().map(|(k, v)| format!("{k}={v}")));
            let filters = HashMap::from([("label".to_owned(), wanted)]);
            let options =
                ListContainersOptions { all: true, filters: Some(filters), ..Default::default() };
            let summaries = self.docker.list_containers(Some(options)).await?;
            // A few inspects at a time: on a host with hundreds of
            // containers, one after another would take a while.
            let inspected: Vec<Result<Option<ContainerInfo>, DockerError>> =
                futures_util::stream::iter(summaries.into_iter().filter_map(|s| s.id))
                    .map(|id| async move {
                        match self
                            .docker
                            .inspect_container(&id, None::<InspectContainerOptions>)
                            .await
                        {
                            Ok(response) => Ok(Some(container_info(response))),
                            // Removed between the list and the inspect.
                            Err(DockerError::DockerResponseServerError {
                                status_code: 404,
                                ..
                            }) => Ok(None),
                            Err(e) => Err(e),
                        }
                    })
                    .buffered(8)
                    .collect()
                    .await;
            inspected.into_iter().filter_map(Result::transpose).collect()
        };
        timed("list containers", self.timeouts.list, list).await
    }

    async fn create_volume(&self, spec: VolumeSpec) -> Result<(), RuntimeError> {
        let mut labels = spec.labels;
        labels.insert(LABEL_MANAGED.to_owned(), "true".to_owned());
        let request = VolumeCreateRequest {
            name: Some(spec.name),
            driver: Some(spec.driver.unwrap_or_else(|| "local".to_owned())),
            driver_opts: Some(spec.driver_opts),
            labels: Some(labels),
            cluster_volume_spec: None,
        };
        timed("create volume", self.timeouts.volume, self.docker.create_volume(request))
            .await
            .map(|_| ())
    }

    async fn remove_volume(&self, name: &str) -> Result<(), RuntimeError> {
        match timed("remove volume", self.timeouts.volume, async {
            self.docker.remove_volume(name, None::<RemoveVolumeOptions>).await
        })
        .await
        {
            Ok(()) | Err(RuntimeError::NotFound(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn ensure_network(
        &self,
        name: &str,
        spec: Option<&crate::hostnet::NetworkSpec>,
    ) -> Result<(), RuntimeError> {
        let _one_at_a_time = self.networks.lock().await;
        let found = timed("inspect network", self.timeouts.volume, async {
            self.docker
                .inspect_network(name, None::<bollard::query_parameters::InspectNetworkOptions>)
                .await
        })
        .await;
        match found {
            Ok(n) => {
                let subnets: Vec<String> = n
                    .ipam
                    .and_then(|i| i.config)
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|c| c.subnet)
                    .collect();
                let masquerades = n
                    .options
                    .as_ref()
                    .and_then(|o| o.get("com.docker.network.bridge.enable_ip_masquerade"))
                    .is_none_or(|v| v != "false");
                let Some(spec) =
                    spec.filter(|s| !subnets.contains(&s.subnet) || s.masquerade != masquerades)
                else {
                    return Ok(());
                };
                if n.containers.is_some_and(|c| !c.is_empty()) {
                    tracing::warn!(
                        network = name,
                        have = ?subnets,
                        want = %spec.subnet,
                        "the awsvpc network has another subnet and containers on it; kept as it is"
                    );
                    return Ok(());
                }
                timed("remove network", self.timeouts.volume, self.docker.remove_network(name))
                    .await?;
            }
            Err(RuntimeError::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
        let mut request = bollard::models::NetworkCreateRequest {
            name: name.to_owned(),
            driver: Some("bridge".to_owned()),
            labels: Some(HashMap::from([(LABEL_MANAGED.to_owned(), "true".to_owned())])),
            ..Default::default()
        };
        if let Some(spec) = spec {
            request.ipam = Some(bollard::models::Ipam {
                config: Some(vec![bollard::models::IpamConfig {
                    subnet: Some(spec.subnet.clone()),
                    gateway: Some(spec.gateway.clone()),
                    ..Default::default()
                }]),
                ..Default::default()
            });
            request.options = Some(HashMap::from([
                ("com.docker.network.bridge.name".to_owned(), crate::hostnet::BRIDGE.to_owned()),
                (
                    "com.docker.network.bridge.enable_ip_masquerade".to_owned(),
                    spec.masquerade.to_string(),
                ),
            ]));
        }
        match timed("create network", self.timeouts.volume, self.docker.create_network(request))
            .await
        {
            Ok(_) => Ok(()),
            // Created meanwhile by another agent on this engine.
            Err(RuntimeError::Refused(m)) if m.contains("already exists") => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn import_image(&self, reference: &str, rootfs_tar: Vec<u8>) -> Result<(), RuntimeError> {
        if self.image_present(reference).await? {
            return Ok(());
        }
        let (repo, tag) = match reference.rsplit_once(':') {
            Some((r, t)) if !t.contains('/') => (r, t),
            _ => (reference, "latest"),
        };
        let options = bollard::query_parameters::CreateImageOptionsBuilder::new()
            .from_src("-")
            .repo(repo)
            .tag(tag)
            .build();
        let body = bollard::body_full(bytes::Bytes::from(rootfs_tar));
        timed("import image", self.timeouts.pull, async {
            let mut progress = self.docker.create_image(Some(options), Some(body), None);
            while let Some(item) = progress.next().await {
                item?;
            }
            Ok::<(), DockerError>(())
        })
        .await
    }

    async fn json_log_file(&self, id: &str) -> Option<std::path::PathBuf> {
        // Only the json-file driver writes `<id>-json.log` there.
        if let Some(path) = self.local_json_log(id).await {
            return Some(path);
        }
        let r = timed("inspect container", self.timeouts.inspect, async {
            self.docker.inspect_container(id, None::<InspectContainerOptions>).await
        })
        .await
        .ok()?;
        let driver = r.host_config.as_ref()?.log_config.as_ref()?.typ.clone()?;
        let path = std::path::PathBuf::from(r.log_path.filter(|p| !p.is_empty())?);
        // Readable here: an engine on another host, or one whose files this
        // process may not read, is read through its API instead.
        (driver == "json-file" && std::fs::File::open(&path).is_ok()).then_some(path)
    }

    async fn create_task_cgroup(
        &self,
        task_id: &str,
        size: crate::task_cgroup::TaskSize,
    ) -> Result<Option<String>, RuntimeError> {
        let Some(h) = self.task_cgroups().await else { return Ok(None) };
        h.create(task_id, size)
            .map(Some)
            .map_err(|e| RuntimeError::Unavailable(format!("cannot make the task's cgroup: {e}")))
    }

    async fn remove_task_cgroup(&self, task_id: &str) {
        if let Some(h) = self.task_cgroups().await {
            if let Err(e) = h.remove(task_id) {
                tracing::debug!(error = %e, task = task_id, "the task's cgroup was not removed");
            }
        }
    }

    async fn exec(&self, id: &str, spec: ExecSpec) -> Result<ExecIo, RuntimeError> {
        let config = bollard::models::ExecConfig {
            attach_stdin: Some(spec.stdin),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            tty: Some(spec.tty),
            cmd: Some(spec.cmd),
            ..Default::default()
        };
        let created = timed("create exec", self.timeouts.inspect, async {
            self.docker.create_exec(id, config).await
        })
        .await?;
        let options =
            bollard::exec::StartExecOptions { detach: false, tty: spec.tty, output_capacity: None };
        let started = timed("start exec", self.timeouts.start, async {
            self.docker.start_exec(&created.id, Some(options)).await
        })
        .await?;
        let bollard::exec::StartExecResults::Attached { output, input } = started else {
            return Err(RuntimeError::Refused("start exec: the engine did not attach".into()));
        };
        let output = output
            .filter_map(|item| async move {
                match item {
                    Ok(LogOutput::StdErr { message }) => Some(Ok(ExecOutput::Stderr(message))),
                    Ok(LogOutput::StdOut { message } | LogOutput::Console { message }) => {
                        Some(Ok(ExecOutput::Stdout(message)))
                    }
                    Ok(LogOutput::StdIn { .. }) => None,
                    Err(e) => Some(Err(RuntimeError::Unavailable(format!("exec output: {e}")))),
                }
            })
            .boxed();
        Ok(ExecIo { id: created.id, output, input })
    }

    async fn resize_exec(&self, exec_id: &str, cols: u16, rows: u16) -> Result<(), RuntimeError> {
        let size = bollard::exec::ResizeExecOptions { height: rows, width: cols };
        timed("resize exec", self.timeouts.inspect, self.docker.resize_exec(exec_id, size)).await
    }

    async fn exec_exit_code(&self, exec_id: &str) -> Result<Option<i64>, RuntimeError> {
        let r =
            timed("inspect exec", self.timeouts.inspect, self.docker.inspect_exec(exec_id)).await?;
        Ok(if r.running == Some(true) { None } else { r.exit_code })
    }

    async fn set_resolvers(&self, id: &str, nameservers: &[String]) -> Result<bool, RuntimeError> {
        let Some(path) = self.local_container_file(id, "resolv.conf").await else {
            return Ok(false);
        };
        let io = |e: std::io::Error| {
            RuntimeError::Refused(format!("cannot rewrite {}: {e}", path.display()))
        };
        let current = std::fs::read_to_string(&path).map_err(io)?;
        // In place: the container's bind mount holds this inode.
        let mut file =
            std::fs::OpenOptions::new().write(true).truncate(true).open(&path).map_err(io)?;
        std::io::Write::write_all(
            &mut file,
            super::with_nameservers(&current, nameservers).as_bytes(),
        )
        .map_err(io)?;
        Ok(true)
    }

    fn logs(
        &self,
        id: &str,
        since_secs: i64,
        follow: bool,
    ) -> BoxStream<'static, Result<LogMessage, RuntimeError>> {
        let options = LogsOptions {
            follow,
            stdout: true,
            stderr: true,
            since: i32::try_from(since_secs).unwrap_or(i32::MAX),
            until: 0,
            timestamps: true,
            tail: "all".to_owned(),
        };
        self.docker
            .logs(id, Some(options))
            .filter_map(|output| {
                std::future::ready(match output {
                    Ok(LogOutput::StdOut { message } | LogOutput::Console { message }) => {
                        Some(Ok(log_message(LogSource::Stdout, message)))
                    }
                    Ok(LogOutput::StdErr { message }) => {
                        Some(Ok(log_message(LogSource::Stderr, message)))
                    }
                    Ok(LogOutput::StdIn { .. }) => None,
                    Err(e) => Some(Err(map_error("container logs", Duration::ZERO, e))),
                })
            })
            .boxed()
    }

    fn events(&self) -> BoxStream<'static, Result<RuntimeEvent, RuntimeError>> {
        let filters = HashMap::from([
            ("type".to_owned(), vec!["container".to_owned()]),
            ("label".to_owned(), vec![LABEL_MANAGED.to_owned()]),
            // Docker matches `health_status` against `health_status: <state>`.
            (
                "event".to_owned(),
                vec!["start".to_owned(), "die".to_owned(), "health_status".to_owned()],
            ),
        ]);
        // bollard sends the request only when the stream is first polled;
        // `since` = now makes the stream start at this call whatever the
        // caller does in between (Docker replays from its event buffer).
        // It reads this host's clock: an engine elsewhere with a skewed
        // clock could replay a little more or less.
        let since = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| format!("{}.{:09}", d.as_secs(), d.subsec_nanos()))
            .ok();
        let options = EventsOptions { filters: Some(filters), since, until: None };
        let docker = self.docker.clone();
        let inspect_after = self.timeouts.inspect;
        self.docker
            .events(Some(options))
            .then(move |message| {
                let docker = docker.clone();
                async move {
                    match message {
                        Ok(m) => runtime_event(&docker, m, inspect_after).await.map(Ok),
                        Err(e) => Some(Err(map_error("container events", Duration::ZERO, e))),
                    }
                }
            })
            .filter_map(std::future::ready)
            .boxed()
    }
}

/// One Docker event as a [`RuntimeEvent`] (`None` for events Wharf ignores).
/// `die` carries the exit code in its `exitCode` attribute but not whether
/// the kernel killed the container for memory: an inspect tells that.
async fn runtime_event(
    docker: &Docker,
    m: EventMessage,
    inspect_after: Duration,
) -> Option<RuntimeEvent> {
    let action = m.action?;
    let actor = m.actor?;
    let id = actor.id?;
    let attributes = actor.attributes.unwrap_or_default();
    match action.as_str() {
        "start" => Some(RuntimeEvent::Started { id }),
        "die" => {
            let mut exit_code = attributes.get("exitCode").and_then(|c| c.parse().ok());
            let mut oom_killed = false;
            let inspect = tokio::time::timeout(inspect_after, async {
                docker.inspect_container(&id, None::<InspectContainerOptions>).await
            });
            if let Ok(Ok(response)) = inspect.await {
                if let Some(state) = response.state {
                    oom_killed = state.oom_killed.unwrap_or(false);
                    exit_code = exit_code.or(state.exit_code.and_then(|c| i32::try_from(c).ok()));
                }
            }
            Some(RuntimeEvent::Died { id, exit_code: exit_code.unwrap_or(-1), oom_killed })
        }
        other => {
            let status = other.strip_prefix("health_status:")?.trim();
            Some(RuntimeEvent::Health { id, health: health(status)? })
        }
    }
}

fn health(status: &str) -> Option<Health> {
    match status {
        "starting" => Some(Health::Starting),
        "healthy" => Some(Health::Healthy),
        "unhealthy" => Some(Health::Unhealthy),
        _ => None,
    }
}

/// What an inspect says, as a [`ContainerInfo`].
fn container_info(r: ContainerInspectResponse) -> ContainerInfo {
    let labels = r.config.and_then(|c| c.labels).unwrap_or_default();
    let state = r.state.unwrap_or_default();
    let started_at_ms = state.started_at.as_deref().and_then(rfc3339_ms);
    let finished_at_ms = state.finished_at.as_deref().and_then(rfc3339_ms);
    let container_state = if state.running.unwrap_or(false) {
        ContainerState::Running
    } else if started_at_ms.is_none() && finished_at_ms.is_none() {
        ContainerState::Created
    } else {
        ContainerState::Exited {
            exit_code: state.exit_code.and_then(|c| i32::try_from(c).ok()).unwrap_or(-1),
            oom_killed: state.oom_killed.unwrap_or(false),
        }
    };
    let health = state.health.and_then(|h| h.status).and_then(|s| self::health(s.as_ref()));
    let mut ports = Vec::new();
    let mut addresses = HashMap::new();
    if let Some(settings) = r.network_settings {
        for (key, bindings) in settings.ports.unwrap_or_default() {
            let (port, protocol) = key.split_once('/').unwrap_or((key.as_str(), "tcp"));
            let Ok(container_port) = port.parse::<u16>() else { continue };
            for b in bindings.unwrap_or_default() {
                let Some(host_port) = b.host_port.as_deref().and_then(|p| p.parse::<u16>().ok())
                else {
                    continue;
                };
                ports.push(PortBinding {
                    container_port,
                    host_port,
                    host_ip: b.host_ip.unwrap_or_default(),
                    protocol: protocol.to_owned(),
                });
            }
        }
        for (network, endpoint) in settings.networks.unwrap_or_default() {
            if let Some(ip) = endpoint.ip_address.filter(|ip| !ip.is_empty()) {
                addresses.insert(network, ip);
            }
        }
    }
    ports.sort_by(|a, b| {
        (a.container_port, &a.protocol, &a.host_ip).cmp(&(
            b.container_port,
            &b.protocol,
            &b.host_ip,
        ))
    });
    ContainerInfo {
        id: r.id.unwrap_or_default(),
        labels,
        state: container_state,
        health,
        ports,
        addresses,
        started_at_ms,
        finished_at_ms,
    }
}

/// One message of `logs?timestamps=1`: Docker's RFC 3339 time, a space, then
/// the bytes as the container wrote them. A message whose time cannot be read
/// keeps all its bytes and is stamped with this host's clock.
fn log_message(source: LogSource, message: bytes::Bytes) -> LogMessage {
    let space = message.iter().take(40).position(|b| *b == b' ');
    let stamped = space.and_then(|at| {
        let ns = std::str::from_utf8(&message[..at]).ok().and_then(rfc3339_ns)?;
        Some((ns, message.slice(at + 1..)))
    });
    let (timestamp_ns, bytes) = stamped.unwrap_or_else(|| {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        (i64::try_from(now.as_nanos()).unwrap_or(i64::MAX), message)
    });
    LogMessage { timestamp_ns, source, bytes }
}

/// Milliseconds since the epoch of an RFC 3339 time as Docker writes it
/// (`2024-05-01T12:00:00.123456789Z`, or with an offset). Docker's zero time
/// (year 1) is `None`.
fn rfc3339_ms(s: &str) -> Option<i64> {
    rfc3339_ns(s).map(|ns| ns.div_euclid(1_000_000))
}

/// Nanoseconds since the epoch of an RFC 3339 time as Docker writes it; see
/// [`rfc3339_ms`].
pub(crate) fn rfc3339_ns(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if year <= 1 {
        return None;
    }
    let mut rest = s.get(19..)?;
    let mut nanos = 0;
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        let first9: String =
            fraction[..digits].chars().chain("000000000".chars()).take(9).collect();
        nanos = first9.parse::<i64>().ok()?;
        rest = &fraction[digits..];
    }
    let offset_minutes = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let h: i64 = rest.get(1..3)?.parse().ok()?;
            let m: i64 = rest.get(4..6)?.parse().ok()?;
            sign * (h * 60 + m)
        }
    };
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
    Some(secs * 1_000_000_000 + nanos)
}

/// Has the engine choose each dynamic host port (`HostPort: ""`), on IPv4
/// (`HostIp: 0.0.0.0`): Docker 20.10 allocates the two families separately and
/// could publish one container port on two different host ports, so a dynamic
/// port is published once. The port is chosen where the engine runs, which
/// need not be where the agent runs (`DOCKER_HOST` may name another host's
/// engine); the agent reads it back from the started container.
fn pick_dynamic_host_ports(config: &mut ContainerCreateBody) {
    let Some(bindings) = config.host_config.as_mut().and_then(|h| h.port_bindings.as_mut()) else {
        return;
    };
    for list in bindings.values_mut() {
        for b in list.iter_mut().flatten() {
            let dynamic = b.host_port.as_deref().is_none_or(str::is_empty);
            if dynamic && b.host_ip.as_deref().is_none_or(str::is_empty) {
                b.host_ip = Some("0.0.0.0".to_owned());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(rfc3339_ms("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(rfc3339_ms("2024-05-01T12:00:00.123456789Z"), Some(1_714_564_800_123));
        assert_eq!(rfc3339_ms("2024-05-01T14:00:00.5+02:00"), Some(1_714_564_800_500));
        assert_eq!(rfc3339_ms("0001-01-01T00:00:00Z"), None);
        assert_eq!(rfc3339_ms(""), None);
        assert_eq!(rfc3339_ns("2024-05-01T12:00:00.123456789Z"), Some(1_714_564_800_123_456_789));
        assert_eq!(rfc3339_ns("2024-05-01T12:00:00.1Z"), Some(1_714_564_800_100_000_000));
    }

    #[test]
    fn dynamic_host_ports_are_left_to_the_engine_on_ipv4() {
        let binding = |p: &str| {
            Some(vec![bollard::models::PortBinding { host_ip: None, host_port: Some(p.into()) }])
        };
        let mut config = ContainerCreateBody {
            host_config: Some(bollard::models::HostConfig {
                port_bindings: Some(HashMap::from([
                    ("80/tcp".to_owned(), binding("")),
                    ("53/udp".to_owned(), binding("")),
                    ("443/tcp".to_owned(), binding("8443")),
                ])),
                ..Default::default()
            }),
            ..Default::default()
        };
        pick_dynamic_host_ports(&mut config);
        let bindings = config.host_config.unwrap().port_bindings.unwrap();
        let only = |k: &str| bindings[k].as_ref().unwrap()[0].clone();
        for k in ["80/tcp", "53/udp"] {
            assert_eq!(only(k).host_ip.as_deref(), Some("0.0.0.0"), "{k}: IPv4 only");
            assert_eq!(only(k).host_port.as_deref(), Some(""), "{k}: the engine picks");
        }
        assert_eq!(only("443/tcp").host_ip, None, "a static port is left as asked");
        assert_eq!(only("443/tcp").host_port.as_deref(), Some("8443"));
    }

    #[test]
    fn references() {
        assert_eq!(with_default_tag("busybox"), "busybox:latest");
        assert_eq!(with_default_tag("127.0.0.1:5000/a/b"), "127.0.0.1:5000/a/b:latest");
        assert_eq!(with_default_tag("127.0.0.1:5000/a/b:1"), "127.0.0.1:5000/a/b:1");
        assert_eq!(with_default_tag("a@sha256:00"), "a@sha256:00");
        assert_eq!(registry_of("127.0.0.1:5000/a/b:1"), "127.0.0.1:5000");
        assert_eq!(registry_of("library/busybox"), "https://index.docker.io/v1/");
        assert_eq!(registry_of("busybox"), "https://index.docker.io/v1/");
    }

    #[test]
    fn statuses() {
        assert_eq!(health("healthy"), Some(Health::Healthy));
        assert_eq!(health("none"), None);
    }
}
