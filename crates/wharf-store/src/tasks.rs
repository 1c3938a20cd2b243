//! Types for tasks and container instances: the rows the store keeps for them,
//! the queries, and the decisions callers hand to a write.
//!
//! A task's resource reservation is stored beside it; what an instance has
//! left is computed from the tasks on it that are not `STOPPED`, inside the
//! same transaction that places new ones. There is no second counter to
//! drift: a task reported `STOPPED` frees its resources by that write alone.

use wharf_model::EcsError;

/// A container instance as stored: its wire JSON (`ContainerInstance`) and
/// the columns queries need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredInstance {
    /// The cluster's name.
    pub cluster: String,
    /// The instance ID (the last part of its ARN).
    pub id: String,
    /// `ACTIVE`, `DRAINING`, `INACTIVE`, ...
    pub status: String,
    /// The `ContainerInstance` wire JSON.
    pub json: String,
}

/// An instance with what its unstopped tasks hold: what placement and
/// DescribeContainerInstances need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceUsage {
    /// The instance.
    pub instance: StoredInstance,
    /// CPU units reserved by tasks not yet `STOPPED`.
    pub cpu: i64,
    /// MiB reserved by tasks not yet `STOPPED`.
    pub memory: i64,
    /// Host ports reserved, as `port/protocol` (`8080/tcp`).
    pub ports: Vec<String>,
    /// Tasks whose `lastStatus` is `RUNNING`.
    pub running_tasks: i64,
    /// Tasks neither `RUNNING` nor `STOPPED`.
    pub pending_tasks: i64,
    /// The `group` of each task not yet `STOPPED` (for `task:group` in
    /// `memberOf` expressions), read from the stored task.
    pub task_groups: Vec<String>,
}

/// What a task holds on its instance until it is `STOPPED`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reservation {
    /// CPU units.
    pub cpu: i64,
    /// MiB.
    pub memory: i64,
    /// Static host ports, as `port/protocol`.
    pub ports: Vec<String>,
}

/// A task as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredTask {
    /// The cluster's name.
    pub cluster: String,
    /// The task ID (the last part of its ARN).
    pub id: String,
    /// The task's ARN.
    pub arn: String,
    /// The container instance it was placed on.
    pub instance_id: Option<String>,
    /// `lastStatus`.
    pub last_status: String,
    /// `desiredStatus`.
    pub desired_status: String,
    /// The `Task` wire JSON.
    pub json: String,
}

/// A task to insert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTask {
    /// The task as stored.
    pub task: StoredTask,
    /// Its task definition family (ListTasks `family`).
    pub family: String,
    /// `startedBy` (ListTasks `startedBy`).
    pub started_by: Option<String>,
    /// The service that owns it (ListTasks `serviceName`).
    pub service: Option<String>,
    /// What it holds on its instance.
    pub reservation: Reservation,
    /// Its tags.
    pub tags: Vec<(String, String)>,
}

/// A change to a stored task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskUpdate {
    /// The new `lastStatus`.
    pub last_status: String,
    /// The new `desiredStatus`.
    pub desired_status: String,
    /// The new `Task` wire JSON.
    pub json: String,
    /// When it reached `STOPPED` (ms since the epoch), for expiry.
    pub stopped_ms: Option<i64>,
}

/// Which tasks to list. Results come in task ID order; `after` continues a
/// page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskQuery {
    /// The cluster's name.
    pub cluster: String,
    /// Only tasks of this family.
    pub family: Option<String>,
    /// Only tasks with this `startedBy`.
    pub started_by: Option<String>,
    /// Only tasks of this service.
    pub service: Option<String>,
    /// Only tasks on this container instance (its ID).
    pub instance_id: Option<String>,
    /// Only tasks with this `desiredStatus`.
    pub desired_status: Option<String>,
    /// Start after this task ID.
    pub after: Option<String>,
    /// At most this many.
    pub limit: usize,
}

/// Which tasks an agent must know about: every task on its instance that is
/// not yet `STOPPED`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskChanged {
    /// The region.
    pub region: String,
    /// The cluster's name.
    pub cluster: String,
    /// The task ID.
    pub id: String,
    /// The instance it is placed on.
    pub instance_id: Option<String>,
}

/// Decides the tasks to create given the cluster's instances and what they
/// hold; runs inside the write transaction, so no two placements can both
/// take the same resources. May run more than once (see [`crate::Decide`]).
pub type PlaceTasks =
    Box<dyn Fn(Vec<InstanceUsage>) -> Result<Vec<NewTask>, EcsError> + Send + 'static>;

/// Decides a task's change from its stored form: `None` keeps it. May run
/// more than once (see [`crate::Decide`]).
pub type DecideTask =
    Box<dyn Fn(&StoredTask) -> Result<Option<TaskUpdate>, EcsError> + Send + 'static>;

/// Decides an instance's new form from its stored one (`None`: not there):
/// `None` keeps it as it is. May run more than once (see [`crate::Decide`]).
pub type DecideInstance = Box<
    dyn Fn(Option<&InstanceUsage>) -> Result<Option<StoredInstance>, EcsError> + Send + 'static,
>;

/// How many tasks and container instances there are in each status: what `/metrics`
/// reports, counted by the database rather than by reading every record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusCounts {
    /// Tasks by region, cluster, `lastStatus` and `desiredStatus`, in that order.
    pub tasks: Vec<TaskStatusCount>,
    /// Container instances by region, cluster and status, in that order.
    pub instances: Vec<InstanceStatusCount>,
}

/// The number of a cluster's tasks with one pair of statuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskStatusCount {
    /// The region.
    pub region: String,
    /// The cluster's name.
    pub cluster: String,
    /// `lastStatus`.
    pub last_status: String,
    /// `desiredStatus`.
    pub desired_status: String,
    /// How many tasks.
    pub count: i64,
}

/// The number of a cluster's container instances in one status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceStatusCount {
    /// The region.
    pub region: String,
    /// The cluster's name.
    pub cluster: String,
    /// `ACTIVE`, `DRAINING`, ...
    pub status: String,
    /// How many instances.
    pub count: i64,
}
