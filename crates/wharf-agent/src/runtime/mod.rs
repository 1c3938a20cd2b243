//! The runtime seam: what the agent needs from a container engine.
//!
//! [`Runtime`] is implemented by [`docker::DockerRuntime`] (Docker Engine
//! through its API, with bollard) and by [`fake::FakeRuntime`] (in memory, for
//! unit tests and scale simulation; never in an end-to-end test). Container
//! configuration is Docker's own create body: Docker is the runtime, and a
//! parallel copy of its configuration would buy nothing.
//!
//! Every call has its own timeout inside the implementation; a call that runs
//! out answers [`RuntimeError::Timeout`], which the agent reports as
//! `ContainerRuntimeTimeoutError`.

pub mod docker;
pub mod fake;

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::stream::BoxStream;

pub use bollard::models::ContainerCreateBody;

/// Label: the task's ARN (the ECS agent's own label name).
pub const LABEL_TASK_ARN: &str = "com.amazonaws.ecs.task-arn";
/// Label: the container's name in the task definition.
pub const LABEL_CONTAINER_NAME: &str = "com.amazonaws.ecs.container-name";
/// Label: the cluster, as the ECS agent writes it.
pub const LABEL_CLUSTER: &str = "com.amazonaws.ecs.cluster";
/// Label: the task definition family.
pub const LABEL_FAMILY: &str = "com.amazonaws.ecs.task-definition-family";
/// Label: the task definition revision.
pub const LABEL_REVISION: &str = "com.amazonaws.ecs.task-definition-version";
/// Label: the container instance whose agent made the container. An agent
/// that looks for containers of tasks stopped while it was away looks only
/// at its own: one Docker engine may serve agents of several servers whose
/// clusters share a name (a test suite's servers, say).
pub const LABEL_INSTANCE: &str = "dev.wharf.container-instance";
/// Label that marks everything Wharf created (containers, volumes, networks),
/// so that adoption and cleanup never touch anything else.
pub const LABEL_MANAGED: &str = "dev.wharf.managed";

/// Why a runtime call failed.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The image, container, volume or network does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The call did not finish within its timeout.
    #[error("{operation} timed out after {after:?}")]
    Timeout {
        /// The call, e.g. `create container`.
        operation: &'static str,
        /// How long it was given.
        after: Duration,
    },
    /// The engine refused the request (its message, as Docker wrote it).
    #[error("{0}")]
    Refused(String),
    /// The engine could not be reached.
    #[error("cannot reach the container engine: {0}")]
    Unavailable(String),
}

/// Credentials for a private registry (`repositoryCredentials`, resolved).
#[derive(Clone, PartialEq, Eq)]
pub struct RegistryAuth {
    /// User name.
    pub username: String,
    /// Password or token. Never printed.
    pub password: String,
}

impl std::fmt::Debug for RegistryAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryAuth").field("username", &self.username).finish_non_exhaustive()
    }
}

/// Progress of an image pull, for people watching (`wharf run`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullProgress {
    /// The layer, as Docker names it.
    pub layer: String,
    /// Docker's status line for the layer (`Downloading`, `Pull complete`, ...).
    pub status: String,
    /// Bytes done and in total, when Docker says.
    pub bytes: Option<(u64, u64)>,
}

/// Where a container stands, from an inspect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContainerState {
    /// Created, never started.
    Created,
    /// Running (or paused, or restarting).
    Running,
    /// Exited.
    Exited {
        /// `State.ExitCode`.
        exit_code: i32,
        /// `State.OOMKilled`.
        oom_killed: bool,
    },
}

/// Docker's health check state for a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// `starting`.
    Starting,
    /// `healthy`.
    Healthy,
    /// `unhealthy`.
    Unhealthy,
}

/// One published port, as Docker reports it after the start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortBinding {
    /// The port inside the container.
    pub container_port: u16,
    /// The port on the host.
    pub host_port: u16,
    /// The host address bound (`0.0.0.0`, `::`).
    pub host_ip: String,
    /// `tcp` or `udp`.
    pub protocol: String,
}

/// A container as the engine sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerInfo {
    /// The Docker container ID.
    pub id: String,
    /// Its labels.
    pub labels: HashMap<String, String>,
    /// Where it stands.
    pub state: ContainerState,
    /// Its health check state, if it has a health check.
    pub health: Option<Health>,
    /// Published ports.
    pub ports: Vec<PortBinding>,
    /// Its address on each network it is attached to, by network name.
    pub addresses: HashMap<String, String>,
    /// `State.StartedAt`, ms since the epoch, if it ever started.
    pub started_at_ms: Option<i64>,
    /// `State.FinishedAt`, ms since the epoch, if it ever finished.
    pub finished_at_ms: Option<i64>,
}

/// Something that happened to a container, from the engine's event stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuntimeEvent {
    /// The container started.
    Started {
        /// The Docker container ID.
        id: String,
    },
    /// The container exited (Docker's `die`).
    Died {
        /// The Docker container ID.
        id: String,
        /// Its exit code.
        exit_code: i32,
        /// Whether the kernel killed it for memory (from an inspect, as `die`
        /// does not say).
        oom_killed: bool,
    },
    /// Its health check state changed.
    Health {
        /// The Docker container ID.
        id: String,
        /// The new state.
        health: Health,
    },
}

/// Which of a container's output streams a message came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LogSource {
    /// Standard output (or the terminal, for a container with a TTY).
    Stdout,
    /// Standard error.
    Stderr,
}

/// One message of a container's output, as the engine logged it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogMessage {
    /// When the engine read it, in nanoseconds since the epoch.
    pub timestamp_ns: i64,
    /// The stream it came from.
    pub source: LogSource,
    /// Its bytes, ending in `\n` when it ends a line; a message without one
    /// is part of a longer line that the next message continues.
    pub bytes: bytes::Bytes,
}

/// A Docker volume to create.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VolumeSpec {
    /// The volume's name.
    pub name: String,
    /// The driver (`local` when `None`).
    pub driver: Option<String>,
    /// Driver options.
    pub driver_opts: HashMap<String, String>,
    /// Labels; [`LABEL_MANAGED`] is added by the runtime.
    pub labels: HashMap<String, String>,
}

/// A command to run in a running container (`docker exec`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecSpec {
    /// The command and its arguments.
    pub cmd: Vec<String>,
    /// Allocate a pseudo-terminal (`-t`): output comes as one stream.
    pub tty: bool,
    /// Attach standard input (`-i`).
    pub stdin: bool,
}

/// Output of an exec, by stream (a pseudo-terminal's is all `Stdout`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecOutput {
    /// Standard output (or the terminal).
    Stdout(bytes::Bytes),
    /// Standard error.
    Stderr(bytes::Bytes),
}

/// A started exec: its output until the command ends, and its input.
pub struct ExecIo {
    /// The engine's exec ID (for [`Runtime::resize_exec`] and
    /// [`Runtime::exec_exit_code`]).
    pub id: String,
    /// What the command writes, until it exits.
    pub output: BoxStream<'static, Result<ExecOutput, RuntimeError>>,
    /// The command's standard input; shutting it down is end of input.
    pub input: std::pin::Pin<Box<dyn tokio::io::AsyncWrite + Send>>,
}

impl std::fmt::Debug for ExecIo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecIo").field("id", &self.id).finish_non_exhaustive()
    }
}

/// The container engine, as the agent uses it.
#[async_trait]
pub trait Runtime: Send + Sync + std::fmt::Debug + 'static {
    /// Whether the engine answers (the agent's heartbeat reports it).
    async fn ping(&self) -> Result<(), RuntimeError>;

    /// Whether the image is present locally.
    async fn image_present(&self, image: &str) -> Result<bool, RuntimeError>;

    /// Pulls the image, reporting progress as it goes.
    async fn pull_image(
        &self,
        image: &str,
        auth: Option<&RegistryAuth>,
        progress: &(dyn Fn(PullProgress) + Send + Sync),
    ) -> Result<(), RuntimeError>;

    /// Creates a container named `name` (Docker's name, which must be unique)
    /// and returns its ID. [`LABEL_MANAGED`] is added to its labels.
    async fn create_container(
        &self,
        name: &str,
        config: ContainerCreateBody,
    ) -> Result<String, RuntimeError>;

    /// Starts a created container and returns how it looks once started
    /// (ports, addresses).
    async fn start_container(&self, id: &str) -> Result<ContainerInfo, RuntimeError>;

    /// Stops a running container: its stop signal, then SIGKILL after
    /// `timeout`. Stopping a container that is not running is not an error.
    async fn stop_container(&self, id: &str, timeout: Duration) -> Result<(), RuntimeError>;

    /// Inspects one container.
    async fn inspect_container(&self, id: &str) -> Result<ContainerInfo, RuntimeError>;

    /// Docker's stats for one container, once (`stream=false`,
    /// `one-shot=true`), as the Engine API's JSON: what the task metadata
    /// endpoint serves at `${ECS_CONTAINER_METADATA_URI_V4}/stats`.
    async fn stats(&self, id: &str) -> Result<serde_json::Value, RuntimeError>;

    /// Removes a container (and its anonymous volumes). Removing one that is
    /// gone is not an error.
    async fn remove_container(&self, id: &str) -> Result<(), RuntimeError>;

    /// Every container carrying [`LABEL_MANAGED`] and each of `labels`
    /// (key, value), running or not.
    async fn list_managed(
        &self,
        labels: &[(&str, &str)],
    ) -> Result<Vec<ContainerInfo>, RuntimeError>;

    /// Creates a volume; an existing one of the same name is kept.
    async fn create_volume(&self, spec: VolumeSpec) -> Result<(), RuntimeError>;

    /// Removes a volume; one that is gone is not an error.
    async fn remove_volume(&self, name: &str) -> Result<(), RuntimeError>;

    /// Makes sure a bridge network of this name exists, creating it
    /// (labelled [`LABEL_MANAGED`]) if not. With a `spec`, the network has
    /// that subnet, no masquerading and the bridge interface
    /// [`crate::hostnet::BRIDGE`]; one with another subnet is made again when
    /// no container uses it.
    async fn ensure_network(
        &self,
        name: &str,
        spec: Option<&crate::hostnet::NetworkSpec>,
    ) -> Result<(), RuntimeError>;

    /// Makes sure the image `reference` exists, importing it from a root
    /// filesystem tarball (`docker import`) if not.
    async fn import_image(&self, reference: &str, rootfs_tar: Vec<u8>) -> Result<(), RuntimeError>;

    /// A container's output, oldest first, from the first message logged at
    /// or after `since_secs` (seconds since the epoch; 0 for all). With
    /// `follow`, then each new message as it is logged, until the container
    /// has stopped (Docker 20.10 may end a followed read early when the
    /// container stops while the reader lags: read once more without
    /// `follow` to be sure of the rest). Only for containers that have started.
    fn logs(
        &self,
        id: &str,
        since_secs: i64,
        follow: bool,
    ) -> BoxStream<'static, Result<LogMessage, RuntimeError>>;

    /// The file where the engine keeps a container's `json-file` log, when it
    /// is readable on this host: the agent then reads it itself
    /// ([`crate::awslogs::jsonfile`]) and spares the engine a second pass over
    /// every line. `None` for another driver, a remote engine, or no access.
    async fn json_log_file(&self, id: &str) -> Option<std::path::PathBuf>;

    /// Makes (or finds) a cgroup for task `task_id` bounding its containers
    /// together to `size` ([`crate::task_cgroup`]); the `CgroupParent` to
    /// create them with, or `None` when this engine's containers cannot be
    /// given one (another host's engine, the systemd cgroup driver).
    async fn create_task_cgroup(
        &self,
        task_id: &str,
        size: crate::task_cgroup::TaskSize,
    ) -> Result<Option<String>, RuntimeError> {
        let _ = (task_id, size);
        Ok(None)
    }

    /// Removes task `task_id`'s cgroup once its containers have stopped.
    async fn remove_task_cgroup(&self, task_id: &str) {
        let _ = task_id;
    }
    /// Gives a running container that has a network of its own these DNS
    /// servers in its `/etc/resolv.conf` (which the containers that join its
    /// network share), in place of the engine's: on a user-defined network
    /// Docker names its embedded resolver there, which only forwards to
    /// them. The `search` and `options` lines stay. `Ok(false)` when the
    /// engine's file cannot be written from this host (a remote engine).
    async fn set_resolvers(&self, id: &str, nameservers: &[String]) -> Result<bool, RuntimeError>;

    /// Runs a command in a running container, attached (`docker exec`).
    async fn exec(&self, id: &str, spec: ExecSpec) -> Result<ExecIo, RuntimeError>;

    /// Resizes an exec's pseudo-terminal.
    async fn resize_exec(&self, exec_id: &str, cols: u16, rows: u16) -> Result<(), RuntimeError>;

    /// An exec's exit code once its command has exited; `None` while it runs.
    async fn exec_exit_code(&self, exec_id: &str) -> Result<Option<i64>, RuntimeError>;

    /// The engine's container events for managed containers, from now on.
    /// The stream ends if the engine goes away; the caller subscribes again
    /// and reconciles with [`Runtime::list_managed`].
    fn events(&self) -> BoxStream<'static, Result<RuntimeEvent, RuntimeError>>;
}

/// A `resolv.conf` with `nameservers` in place of the ones `current` names;
/// its `search`, `domain` and `options` lines kept, comments dropped.
pub fn with_nameservers(current: &str, nameservers: &[String]) -> String {
    let mut out: String = nameservers.iter().map(|n| format!("nameserver {n}\n")).collect();
    for line in current.lines() {
        let word = line.split_whitespace().next().unwrap_or("");
        if matches!(word, "search" | "domain" | "options") {
            out.push_str(line.trim());
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolvers_are_replaced_and_search_and_options_kept() {
        let docker = "# Generated by Docker\nnameserver 127.0.0.11\nsearch corp.example\n\
                      options ndots:0\n# ExtServers: [169.254.170.2]\n";
        let servers = ["169.254.170.2".to_owned(), "10.0.0.2".to_owned()];
        assert_eq!(
            with_nameservers(docker, &servers),
            "nameserver 169.254.170.2\nnameserver 10.0.0.2\nsearch corp.example\noptions ndots:0\n"
        );
    }
}
