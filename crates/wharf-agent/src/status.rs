//! Task and container statuses, ordered the way progress runs.
//!
//! Two vocabularies meet here, as they do in ECS. [`TaskStatus`] is what
//! `DescribeTasks` shows (`lastStatus`). [`ContainerStatus`] is the ECS agent's
//! finer internal ladder for a container, which the API folds into `PENDING`,
//! `RUNNING` and `STOPPED`. Both are ordered enums: a status may only be
//! replaced by a later one, which is what makes a late or repeated event
//! harmless.
//!
//! Sources: `ecs-agent/api/task/status/taskstatus.go`,
//! `ecs-agent/api/container/status/containerstatus.go` and `statusmapping.go`
//! in aws/amazon-ecs-agent; the Developer Guide's task lifecycle page.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A task's `lastStatus`, in ECS's order.
///
/// Which of these the agent's machine produces, and when:
/// `PROVISIONING` until the task's own resources (network, volumes, secrets)
/// are ready; `PENDING` while images are pulled and containers wait for their
/// dependencies; `ACTIVATING` once every container is created and they are
/// being started; `RUNNING` once every container is running; `STOPPING` from
/// the moment the task is meant to stop until its last container has;
/// `DEPROVISIONING` while the task's resources are released; `STOPPED`.
/// `DEACTIVATING` (load balancer deregistration before a stop) belongs to the
/// control plane and is never produced by the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TaskStatus {
    /// Extra steps before launch, such as the task's network.
    Provisioning,
    /// Waiting on the agent: pulling images, waiting on dependencies.
    Pending,
    /// Launched but not yet running: containers created and being started.
    Activating,
    /// Every container has reached its steady state.
    Running,
    /// Steps before the stop, such as load balancer deregistration.
    Deactivating,
    /// Containers are being stopped (SIGTERM, then SIGKILL after `stopTimeout`).
    Stopping,
    /// Every container has stopped; the task's resources are being released.
    Deprovisioning,
    /// The task has stopped. Terminal.
    Stopped,
}

impl TaskStatus {
    /// Every status, in order.
    pub const ALL: [TaskStatus; 8] = [
        Self::Provisioning,
        Self::Pending,
        Self::Activating,
        Self::Running,
        Self::Deactivating,
        Self::Stopping,
        Self::Deprovisioning,
        Self::Stopped,
    ];

    /// The wire spelling, as in `lastStatus`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Provisioning => "PROVISIONING",
            Self::Pending => "PENDING",
            Self::Activating => "ACTIVATING",
            Self::Running => "RUNNING",
            Self::Deactivating => "DEACTIVATING",
            Self::Stopping => "STOPPING",
            Self::Deprovisioning => "DEPROVISIONING",
            Self::Stopped => "STOPPED",
        }
    }

    /// Whether the task can go no further.
    pub fn is_terminal(self) -> bool {
        self == Self::Stopped
    }

    /// Whether `next` may replace this status: only later statuses may.
    pub fn can_transition_to(self, next: TaskStatus) -> bool {
        next > self
    }

    /// The status of a provisioned task whose earliest container is at
    /// `earliest`, the way the agent derives a task's status from its
    /// containers (`getEarliestKnownTaskStatusForContainers`, then
    /// `MapContainerToTaskStatus`), with `stopping` set once the task is meant
    /// to stop.
    pub fn from_earliest_container(earliest: ContainerStatus, stopping: bool) -> Self {
        match earliest {
            ContainerStatus::Stopped | ContainerStatus::Zombie => Self::Deprovisioning,
            _ if stopping => Self::Stopping,
            ContainerStatus::None | ContainerStatus::ManifestPulled | ContainerStatus::Pulled => {
                Self::Pending
            }
            ContainerStatus::Created => Self::Activating,
            ContainerStatus::Running | ContainerStatus::ResourcesProvisioned => Self::Running,
        }
    }
}

/// A container's status as the ECS agent tracks it (`known` status), in order.
///
/// Wharf's machine walks `NONE → PULLED → CREATED → RUNNING → STOPPED`.
/// `MANIFEST_PULLED` (a separate manifest fetch) and `RESOURCES_PROVISIONED`
/// (the awsvpc pause container's steady state) exist for the runtime slices;
/// `ZOMBIE` is the agent's "impossible" maximum and is never entered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ContainerStatus {
    /// Nothing done yet; the image may be being pulled.
    None,
    /// The image manifest has been fetched.
    ManifestPulled,
    /// The image is present.
    Pulled,
    /// The Docker container exists.
    Created,
    /// The container has started.
    Running,
    /// The container's resources are ready (pause containers only).
    ResourcesProvisioned,
    /// The container has stopped, or will never run.
    Stopped,
    /// An impossible maximum, kept for ordering like the agent's.
    Zombie,
}

impl ContainerStatus {
    /// Every status, in order.
    pub const ALL: [ContainerStatus; 8] = [
        Self::None,
        Self::ManifestPulled,
        Self::Pulled,
        Self::Created,
        Self::Running,
        Self::ResourcesProvisioned,
        Self::Stopped,
        Self::Zombie,
    ];

    /// The agent's spelling of this status.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "NONE",
            Self::ManifestPulled => "MANIFEST_PULLED",
            Self::Pulled => "PULLED",
            Self::Created => "CREATED",
            Self::Running => "RUNNING",
            Self::ResourcesProvisioned => "RESOURCES_PROVISIONED",
            Self::Stopped => "STOPPED",
            Self::Zombie => "ZOMBIE",
        }
    }

    /// The container's `lastStatus` in the API: `RUNNING` for the running
    /// states, `STOPPED` once stopped, `PENDING` for everything before
    /// (`BackendStatusString`, with either running state as the steady one).
    pub fn last_status(self) -> &'static str {
        match self {
            Self::Running | Self::ResourcesProvisioned => "RUNNING",
            Self::Stopped | Self::Zombie => "STOPPED",
            _ => "PENDING",
        }
    }

    /// Whether the container is running (`IsRunning` in the agent).
    pub fn is_running(self) -> bool {
        matches!(self, Self::Running | Self::ResourcesProvisioned)
    }

    /// Whether the container can go no further.
    pub fn is_terminal(self) -> bool {
        self >= Self::Stopped
    }

    /// Whether `next` may replace this status: only later statuses may, and
    /// never `ZOMBIE`.
    pub fn can_transition_to(self, next: ContainerStatus) -> bool {
        next > self && next != Self::Zombie
    }
}

/// A status name that is not one of ours.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{value}' is not a {kind} status")]
pub struct ParseStatusError {
    kind: &'static str,
    value: String,
}

impl FromStr for TaskStatus {
    type Err = ParseStatusError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| ParseStatusError { kind: "task", value: s.to_owned() })
    }
}

impl FromStr for ContainerStatus {
    type Err = ParseStatusError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| ParseStatusError { kind: "container", value: s.to_owned() })
    }
}

impl fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for ContainerStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_order_follows_the_lists() {
        for (i, status) in TaskStatus::ALL.into_iter().enumerate() {
            assert_eq!(status.as_str().parse::<TaskStatus>(), Ok(status));
            assert!(TaskStatus::ALL[..i].iter().all(|earlier| *earlier < status));
        }
        for (i, status) in ContainerStatus::ALL.into_iter().enumerate() {
            assert_eq!(status.as_str().parse::<ContainerStatus>(), Ok(status));
            assert!(ContainerStatus::ALL[..i].iter().all(|earlier| *earlier < status));
        }
        let err = "DELETED".parse::<TaskStatus>().unwrap_err();
        assert_eq!(err.to_string(), "'DELETED' is not a task status");
    }

    #[test]
    fn transitions_only_move_forward() {
        use ContainerStatus as C;
        use TaskStatus as T;
        let task = [
            (T::Provisioning, T::Pending, true),
            (T::Pending, T::Stopping, true),
            (T::Running, T::Running, false),
            (T::Stopping, T::Running, false),
            (T::Stopped, T::Provisioning, false),
        ];
        for (from, to, allowed) in task {
            assert_eq!(from.can_transition_to(to), allowed, "{from} -> {to}");
        }
        let container = [
            (C::None, C::Pulled, true),
            (C::Created, C::Stopped, true),
            (C::Running, C::Created, false),
            (C::Stopped, C::Stopped, false),
            (C::Stopped, C::Zombie, false),
        ];
        for (from, to, allowed) in container {
            assert_eq!(from.can_transition_to(to), allowed, "{from} -> {to}");
        }
    }

    #[test]
    fn container_statuses_fold_into_three_api_statuses() {
        let expected = [
            (ContainerStatus::None, "PENDING"),
            (ContainerStatus::ManifestPulled, "PENDING"),
            (ContainerStatus::Pulled, "PENDING"),
            (ContainerStatus::Created, "PENDING"),
            (ContainerStatus::Running, "RUNNING"),
            (ContainerStatus::ResourcesProvisioned, "RUNNING"),
            (ContainerStatus::Stopped, "STOPPED"),
            (ContainerStatus::Zombie, "STOPPED"),
        ];
        for (status, api) in expected {
            assert_eq!(status.last_status(), api, "{status}");
        }
    }

    #[test]
    fn task_status_follows_the_earliest_container() {
        use ContainerStatus as C;
        use TaskStatus as T;
        let expected = [
            (C::None, false, T::Pending),
            (C::Pulled, false, T::Pending),
            (C::Created, false, T::Activating),
            (C::Running, false, T::Running),
            (C::Stopped, false, T::Deprovisioning),
            (C::Pulled, true, T::Stopping),
            (C::Running, true, T::Stopping),
            (C::Stopped, true, T::Deprovisioning),
        ];
        for (earliest, stopping, status) in expected {
            assert_eq!(
                TaskStatus::from_earliest_container(earliest, stopping),
                status,
                "{earliest}, stopping: {stopping}"
            );
        }
    }
}
