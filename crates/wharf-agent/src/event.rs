//! The machine's vocabulary: [`Event`]s in, [`Action`]s out.
//!
//! Containers are named as in the task definition. Every action the runtime
//! is asked to perform is answered with an event (`Provision` with
//! `Provisioned` or `ProvisionFailed`, `Pull` with `ImagePulled` or
//! `PullFailed`, ...); a `StopContainer` is answered by the container's
//! `Exited`. Reports need no answer.

use std::time::Duration;

use wharf_model::ecs::shapes::{HealthStatus, NetworkBinding};

use crate::report::{ContainerReport, TaskReport};
use crate::stop::{NamedError, StopReason};

/// Something that happened to the task. Any event may arrive at any time, twice, or late: one
/// that no longer fits (a pull result for a container already stopped, a second `Start`) changes
/// nothing and produces no action.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The agent has taken the task on and has room for it: begin.
    Start,
    /// The task should stop (StopTask, a service scale-in, a host draining).
    /// The first reason given is the one reported.
    StopRequested {
        /// The `stopCode` and `stoppedReason` to report.
        reason: StopReason,
    },
    /// The task's own resources are ready (answers [`Action::Provision`]).
    Provisioned,
    /// The task's resources could not be set up (answers [`Action::Provision`]);
    /// the task stops with `TaskFailedToStart`.
    ProvisionFailed {
        /// Usually a [`NamedError::ResourceInitialization`].
        error: NamedError,
    },
    /// The container's image is present (answers [`Action::Pull`]).
    ImagePulled {
        /// The container's name.
        container: String,
    },
    /// No usable image: the pull failed and no cached image may stand in.
    /// The task stops with `TaskFailedToStart`, essential container or not
    /// (the agent's behaviour under `ECS_IMAGE_PULL_BEHAVIOR=always|once`).
    PullFailed {
        /// The container's name.
        container: String,
        /// Usually a [`NamedError::CannotPullContainer`].
        error: NamedError,
    },
    /// The Docker container exists (answers [`Action::Create`]).
    Created {
        /// The container's name.
        container: String,
        /// The Docker container ID.
        runtime_id: String,
    },
    /// The container could not be created; it will not run. If it is
    /// essential, the task stops with `TaskFailedToStart`.
    CreateFailed {
        /// The container's name.
        container: String,
        /// Usually a [`NamedError::CannotCreateContainer`].
        error: NamedError,
    },
    /// The container is running (answers [`Action::StartContainer`], or
    /// reports a start Docker saw).
    Started {
        /// The container's name.
        container: String,
        /// Its port bindings as Docker reports them after the start.
        network_bindings: Vec<NetworkBinding>,
    },
    /// The container could not be started and is not running. If it is
    /// essential, the task stops with `TaskFailedToStart`.
    StartFailed {
        /// The container's name.
        container: String,
        /// Usually a [`NamedError::CannotStartContainer`].
        error: NamedError,
    },
    /// The container stopped, on its own or because it was told to. If it is
    /// essential and the task was not already stopping, the task stops with
    /// `EssentialContainerExited`.
    Exited {
        /// The container's name.
        container: String,
        /// Docker's `State.ExitCode`.
        exit_code: i32,
        /// Docker's `State.OOMKilled`: the reason becomes `OutOfMemoryError`.
        oom_killed: bool,
    },
    /// The container was created and run by an earlier agent and is gone from
    /// the host (answers [`Action::Pull`] for such a container after a
    /// restart): it counts as having run and stopped, with
    /// `ContainerVanishedError`, and is never created again.
    Vanished {
        /// The container's name.
        container: String,
    },
    /// Docker's `start` event: the container's process runs, though the
    /// start call may not have answered yet. Only the driver acts on it (it
    /// starts shipping the container's output); the machine waits for
    /// [`Event::Started`].
    ProcessStarted {
        /// The container's name.
        container: String,
    },
    /// The container's Docker health check changed (`starting` counts as
    /// `UNKNOWN`). Ignored for a container that has no `healthCheck` or is not
    /// running.
    Health {
        /// The container's name.
        container: String,
        /// `HEALTHY`, `UNHEALTHY` or `UNKNOWN`.
        status: HealthStatus,
    },
    /// The task's resources have been released (answers [`Action::Cleanup`]);
    /// the task is `STOPPED`.
    CleanedUp,
    /// Time has passed: send one at [`crate::TaskMachine::next_deadline`] so
    /// that `startTimeout`s expire.
    Tick,
}

/// Something the runtime or the link should do now. Each is asked once.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Set up the task's own resources before any image is pulled: the task
    /// network (and awsvpc's pause container), task-scoped volumes, secrets
    /// and registry credentials.
    Provision,
    /// Make the container's image present, honouring the pull behaviour and
    /// `repositoryCredentials`.
    Pull {
        /// The container's name.
        container: String,
    },
    /// Create the Docker container.
    Create {
        /// The container's name.
        container: String,
    },
    /// Start the created Docker container.
    StartContainer {
        /// The container's name.
        container: String,
    },
    /// Stop the running container: SIGTERM (or the image's STOPSIGNAL), then
    /// SIGKILL after `timeout`.
    StopContainer {
        /// The container's name.
        container: String,
        /// The container's `stopTimeout`, else 30 s.
        timeout: Duration,
    },
    /// Tell the server how a container now looks.
    ReportContainer(ContainerReport),
    /// Tell the server how the task now looks.
    ReportTask(TaskReport),
    /// Every container has stopped: release what [`Action::Provision`] set
    /// up. Stopped containers stay for inspection; removing them later is the
    /// runtime's business.
    Cleanup,
}
