//! What the agent tells the server: snapshots of a task and its containers.
//!
//! The machine emits a report only when something the API shows has changed
//! (a status, an exit code, a reason, a health status, the stop), so the link
//! can forward every report as it comes. Timestamps and network bindings ride
//! along with the report of the change that set them.

use wharf_model::ecs::shapes::{DesiredStatus, HealthStatus, NetworkBinding};
use wharf_model::ecs::status::{ContainerLastStatus, ContainerStatus, TaskStatus};

use crate::stop::{NamedError, StopReason};

/// A task as the agent sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskReport {
    /// `lastStatus`.
    pub status: TaskStatus,
    /// `desiredStatus`: `RUNNING` or `STOPPED`. The agent may decide a stop on
    /// its own (an essential container exited), and says so here.
    pub desired_status: DesiredStatus,
    /// `healthStatus`, from the essential containers' health checks.
    pub health_status: HealthStatus,
    /// `stopCode` and `stoppedReason`, once the agent knows why the task
    /// stops. `None` for a task the server asked to stop without a reason.
    pub stop: Option<StopReason>,
    /// The task's timestamps.
    pub times: TaskTimes,
}

impl TaskReport {
    /// Whether `other` shows the API anything different.
    pub(crate) fn same_state(&self, other: &TaskReport) -> bool {
        self.status == other.status
            && self.desired_status == other.desired_status
            && self.health_status == other.health_status
            && self.stop == other.stop
    }
}

/// A task's timestamps, in milliseconds since the Unix epoch, each set once.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TaskTimes {
    /// `pullStartedAt`: the first image pull was asked for.
    pub pull_started_at: Option<i64>,
    /// `pullStoppedAt`: the last image pull finished.
    pub pull_stopped_at: Option<i64>,
    /// `startedAt`: the task reached `RUNNING`.
    pub started_at: Option<i64>,
    /// `stoppingAt`: the task began to stop.
    pub stopping_at: Option<i64>,
    /// `executionStoppedAt`: the first essential container stopped (the
    /// agent's `RecordExecutionStoppedAt`).
    pub execution_stopped_at: Option<i64>,
    /// `stoppedAt`: the task reached `STOPPED`.
    pub stopped_at: Option<i64>,
}

/// A container as the agent sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerReport {
    /// The container's name in the task definition.
    pub name: String,
    /// The agent's status; [`ContainerReport::last_status`] is the API's.
    pub status: ContainerStatus,
    /// `exitCode`, once the container has stopped.
    pub exit_code: Option<i32>,
    /// `reason`, when the container failed or was killed.
    pub reason: Option<NamedError>,
    /// `healthStatus`: `UNKNOWN` without a health check.
    pub health_status: HealthStatus,
    /// `runtimeId`: the Docker container ID, once created.
    pub runtime_id: Option<String>,
    /// `networkBindings`, as Docker reported them at start.
    pub network_bindings: Vec<NetworkBinding>,
}

impl ContainerReport {
    /// The container's `lastStatus`: `PENDING`, `RUNNING` or `STOPPED`.
    pub fn last_status(&self) -> ContainerLastStatus {
        self.status.last_status()
    }

    /// Whether `other` shows the API anything different. Internal steps
    /// (`PULLED`, `CREATED`) show nothing: the agent reports a container only
    /// at its steady state and when it stops (`ShouldReportToBackend`).
    pub(crate) fn same_state(&self, other: &ContainerReport) -> bool {
        self.last_status() == other.last_status()
            && self.exit_code == other.exit_code
            && self.reason == other.reason
            && self.health_status == other.health_status
    }
}
