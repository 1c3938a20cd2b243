//! ECS's status vocabulary as types: a task's and a container's `lastStatus`,
//! the statuses of services, deployments, task sets, container instances,
//! clusters and attachments. The wire shapes carry these types (see
//! `tools/gen_shapes.py`), so a status is compared as a value everywhere:
//! store, API, reconcilers, agent and CLI.
//!
//! Task and container statuses are ordered the way progress runs. Two
//! vocabularies meet there, as they do in ECS: [`TaskStatus`] is what
//! `DescribeTasks` shows; [`ContainerStatus`] is the ECS agent's finer
//! internal ladder for a container, which the API folds into
//! [`ContainerLastStatus`]. A status may only be replaced by a later one,
//! which is what makes a late or repeated report harmless.
//!
//! Sources: `ecs-agent/api/task/status/taskstatus.go`,
//! `ecs-agent/api/container/status/containerstatus.go` and
//! `statusmapping.go` in aws/amazon-ecs-agent; the Developer Guide's task
//! lifecycle page; the API Reference for the other resources.

use std::fmt;
use std::str::FromStr;

/// A status name that is not one of a vocabulary's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{value}' is not a {kind} status")]
pub struct ParseStatusError {
    kind: &'static str,
    value: String,
}

/// Defines a closed vocabulary: the enum, its wire spellings, `ALL` in
/// order, `as_str`, `Display`, `FromStr` and serde as the wire string.
macro_rules! vocabulary {
    (
        $(#[$meta:meta])*
        $name:ident ($kind:literal) {
            $( $(#[$vmeta:meta])* $variant:ident = $wire:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// Every value, in order.
            pub const ALL: &'static [$name] = &[$( $name::$variant, )+];

            /// The wire spelling.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $wire, )+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = ParseStatusError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $( $wire => Ok($name::$variant), )+
                    _ => Err(ParseStatusError { kind: $kind, value: s.to_owned() }),
                }
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

vocabulary! {
    /// A task's `lastStatus`, in ECS's order.
    ///
    /// Which of these the agent produces, and when: `PROVISIONING` until the
    /// task's own resources (network, volumes, secrets) are ready; `PENDING`
    /// while images are pulled and containers wait for their dependencies;
    /// `ACTIVATING` once every container is created and they are being
    /// started; `RUNNING` once every container is running; `STOPPING` from
    /// the moment the task is meant to stop until its last container has;
    /// `DEPROVISIONING` while the task's resources are released; `STOPPED`.
    /// `DEACTIVATING` (load balancer deregistration before a stop) belongs to
    /// the control plane.
    TaskStatus ("task") {
        /// Extra steps before launch, such as the task's network.
        Provisioning = "PROVISIONING",
        /// Waiting on the agent: pulling images, waiting on dependencies.
        Pending = "PENDING",
        /// Launched but not yet running: containers created and being started.
        Activating = "ACTIVATING",
        /// Every container has reached its steady state.
        Running = "RUNNING",
        /// Steps before the stop, such as load balancer deregistration.
        Deactivating = "DEACTIVATING",
        /// Containers are being stopped (SIGTERM, then SIGKILL after `stopTimeout`).
        Stopping = "STOPPING",
        /// Every container has stopped; the task's resources are being released.
        Deprovisioning = "DEPROVISIONING",
        /// The task has stopped. Terminal.
        Stopped = "STOPPED",
    }
}

impl TaskStatus {
    /// Whether the task can go no further.
    pub fn is_terminal(self) -> bool {
        self == Self::Stopped
    }

    /// Whether the task is on its way up: neither `RUNNING` nor past it.
    pub fn is_pending(self) -> bool {
        self < Self::Running
    }

    /// Whether `next` may replace this status: only later statuses may.
    pub fn can_transition_to(self, next: TaskStatus) -> bool {
        next > self
    }

    /// The status of a provisioned task whose earliest container is at
    /// `earliest`, the way the agent derives a task's status from its
    /// containers (`getEarliestKnownTaskStatusForContainers`, then
    /// `MapContainerToTaskStatus`), with `stopping` set once the task is
    /// meant to stop.
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

vocabulary! {
    /// A container's status as the ECS agent tracks it (its `known` status),
    /// in order.
    ///
    /// Wharf's agent walks `NONE → PULLED → CREATED → RUNNING → STOPPED`.
    /// `MANIFEST_PULLED` (a separate manifest fetch) and
    /// `RESOURCES_PROVISIONED` (the awsvpc pause container's steady state)
    /// exist for the runtime slices; `ZOMBIE` is the agent's "impossible"
    /// maximum and is never entered.
    ContainerStatus ("container") {
        /// Nothing done yet; the image may be being pulled.
        None = "NONE",
        /// The image manifest has been fetched.
        ManifestPulled = "MANIFEST_PULLED",
        /// The image is present.
        Pulled = "PULLED",
        /// The Docker container exists.
        Created = "CREATED",
        /// The container has started.
        Running = "RUNNING",
        /// The container's resources are ready (pause containers only).
        ResourcesProvisioned = "RESOURCES_PROVISIONED",
        /// The container has stopped, or will never run.
        Stopped = "STOPPED",
        /// An impossible maximum, kept for ordering like the agent's.
        Zombie = "ZOMBIE",
    }
}

impl ContainerStatus {
    /// The container's `lastStatus` in the API: `RUNNING` for the running
    /// states, `STOPPED` once stopped, `PENDING` for everything before
    /// (`BackendStatusString`, with either running state as the steady one).
    pub fn last_status(self) -> ContainerLastStatus {
        match self {
            Self::Running | Self::ResourcesProvisioned => ContainerLastStatus::Running,
            Self::Stopped | Self::Zombie => ContainerLastStatus::Stopped,
            _ => ContainerLastStatus::Pending,
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

vocabulary! {
    /// A container's `lastStatus` as the API shows it.
    ContainerLastStatus ("container") {
        /// Not running yet.
        Pending = "PENDING",
        /// Running.
        Running = "RUNNING",
        /// Stopped. Terminal.
        Stopped = "STOPPED",
    }
}

vocabulary! {
    /// A service's `status`.
    ServiceStatus ("service") {
        /// Running normally.
        Active = "ACTIVE",
        /// Deleted, its tasks still stopping.
        Draining = "DRAINING",
        /// Deleted and all its tasks stopped.
        Inactive = "INACTIVE",
    }
}

vocabulary! {
    /// `status` of a deployment in a service's `deployments[]`.
    DeploymentStatus ("deployment") {
        /// The most recent deployment.
        Primary = "PRIMARY",
        /// An older deployment whose tasks are being replaced.
        Active = "ACTIVE",
        /// Completely replaced.
        Inactive = "INACTIVE",
    }
}

vocabulary! {
    /// A task set's `status`.
    TaskSetStatus ("task set") {
        /// The task set serving production traffic.
        Primary = "PRIMARY",
        /// A task set not serving production traffic.
        Active = "ACTIVE",
        /// Its tasks are being stopped and its targets deregistered.
        Draining = "DRAINING",
    }
}

vocabulary! {
    /// A container instance's `status`.
    InstanceStatus ("container instance") {
        /// Takes tasks.
        Active = "ACTIVE",
        /// Takes no new tasks; its service tasks are moved off.
        Draining = "DRAINING",
        /// Deregistered.
        Inactive = "INACTIVE",
        /// Registering (instances with trunk ENIs).
        Registering = "REGISTERING",
        /// Its registration failed.
        RegistrationFailed = "REGISTRATION_FAILED",
        /// Deregistering.
        Deregistering = "DEREGISTERING",
    }
}

vocabulary! {
    /// A cluster's `status`.
    ClusterStatus ("cluster") {
        /// Takes tasks and services.
        Active = "ACTIVE",
        /// Its capacity providers are being created.
        Provisioning = "PROVISIONING",
        /// Its capacity providers are being deleted.
        Deprovisioning = "DEPROVISIONING",
        /// Creating its capacity providers failed.
        Failed = "FAILED",
        /// Deleted.
        Inactive = "INACTIVE",
    }
}

vocabulary! {
    /// An attachment's `status` (an `awsvpc` task's ENI).
    AttachmentStatus ("attachment") {
        /// Made, not yet attached.
        Precreated = "PRECREATED",
        /// Created.
        Created = "CREATED",
        /// Being attached.
        Attaching = "ATTACHING",
        /// Attached.
        Attached = "ATTACHED",
        /// Being detached.
        Detaching = "DETACHING",
        /// Detached.
        Detached = "DETACHED",
        /// Deleted.
        Deleted = "DELETED",
        /// Failed.
        Failed = "FAILED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_order_follows_the_lists() {
        for (i, status) in TaskStatus::ALL.iter().copied().enumerate() {
            assert_eq!(status.as_str().parse::<TaskStatus>(), Ok(status));
            assert!(TaskStatus::ALL[..i].iter().all(|earlier| *earlier < status));
        }
        for (i, status) in ContainerStatus::ALL.iter().copied().enumerate() {
            assert_eq!(status.as_str().parse::<ContainerStatus>(), Ok(status));
            assert!(ContainerStatus::ALL[..i].iter().all(|earlier| *earlier < status));
        }
        let err = "DELETED".parse::<TaskStatus>().unwrap_err();
        assert_eq!(err.to_string(), "'DELETED' is not a task status");
        let json = serde_json::to_string(&InstanceStatus::RegistrationFailed).unwrap();
        assert_eq!(json, "\"REGISTRATION_FAILED\"");
        assert_eq!(
            serde_json::from_str::<InstanceStatus>(&json).unwrap(),
            InstanceStatus::RegistrationFailed
        );
        assert!(serde_json::from_str::<ServiceStatus>("\"GONE\"").is_err());
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
        use ContainerLastStatus as L;
        let expected = [
            (ContainerStatus::None, L::Pending),
            (ContainerStatus::ManifestPulled, L::Pending),
            (ContainerStatus::Pulled, L::Pending),
            (ContainerStatus::Created, L::Pending),
            (ContainerStatus::Running, L::Running),
            (ContainerStatus::ResourcesProvisioned, L::Running),
            (ContainerStatus::Stopped, L::Stopped),
            (ContainerStatus::Zombie, L::Stopped),
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
