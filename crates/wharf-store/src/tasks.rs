//! Types for tasks and container instances: the rows the store keeps for them,
//! the queries, and the decisions callers hand to a write.
//!
//! A task's resource reservation is stored beside it; what an instance has
//! left is computed from the tasks on it that are not `STOPPED`, inside the
//! same transaction that places new ones. There is no second counter to
//! drift: a task reported `STOPPED` frees its resources by that write alone.

use wharf_model::ecs::capacity;
use wharf_model::ecs::launch::{Launch, PlacedTask};
use wharf_model::ecs::placement::{Candidate, Registered, TaskGroups, Used};
use wharf_model::ecs::shapes::{ContainerInstance, DesiredStatus};
use wharf_model::ecs::status::{InstanceStatus, TaskStatus};
use wharf_model::EcsError;

use crate::StoreError;

/// A container instance as stored: its wire JSON (`ContainerInstance`) and
/// the columns queries need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredInstance {
    /// The cluster's name.
    pub cluster: String,
    /// The instance ID (the last part of its ARN).
    pub id: String,
    /// `ACTIVE`, `DRAINING`, `INACTIVE`, ...
    pub status: InstanceStatus,
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
    /// The `group`s of the tasks not yet `STOPPED`, counted (for spreading
    /// and for `task:group` in `memberOf` expressions).
    pub task_groups: TaskGroups,
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
    /// The cluster that instance is registered in: the task's own, or
    /// another's for a task on the Fargate pool (which serves every
    /// cluster).
    pub instance_cluster: Option<String>,
    /// `lastStatus`.
    pub last_status: TaskStatus,
    /// `desiredStatus`.
    pub desired_status: DesiredStatus,
    /// The service that owns it (ListTasks `serviceName`).
    pub service: Option<String>,
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
    /// What it holds on its instance.
    pub reservation: Reservation,
    /// Its tags.
    pub tags: Vec<(String, String)>,
}

/// A change to a stored task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskUpdate {
    /// The new `lastStatus`.
    pub last_status: TaskStatus,
    /// The new `desiredStatus`.
    pub desired_status: DesiredStatus,
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
    pub desired_status: Option<DesiredStatus>,
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
    /// The cluster that instance is registered in (see
    /// [`StoredTask::instance_cluster`]).
    pub instance_cluster: Option<String>,
    /// The service that owns it, if any: the service scheduler looks at
    /// that service alone.
    pub service: Option<String>,
}

/// A container instance whose status changed (registered, drained,
/// activated, deregistered): the service scheduler replaces the tasks of an
/// instance that stops taking them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceChanged {
    /// The region.
    pub region: String,
    /// The cluster it is registered in.
    pub cluster: String,
    /// The instance ID.
    pub id: String,
    /// Its status now (`None`: its record is gone).
    pub status: Option<InstanceStatus>,
}

/// A subscription to task changes ([`crate::Store::task_changes`]).
pub type TaskFeed = tokio::sync::broadcast::Receiver<std::sync::Arc<TaskChanged>>;

/// A subscription to instance status changes
/// ([`crate::Store::instance_changes`]).
pub type InstanceFeed = tokio::sync::broadcast::Receiver<std::sync::Arc<InstanceChanged>>;

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
    pub last_status: TaskStatus,
    /// `desiredStatus`.
    pub desired_status: DesiredStatus,
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
    pub status: InstanceStatus,
    /// How many instances.
    pub count: i64,
}

/// The placement candidates for a cluster's instances (and, for a launch
/// that needs it, the Fargate pool's), each with what its unstopped tasks
/// hold. Instances that report no Availability Zone are in `default_zone`.
/// Every store implementation places through this.
pub fn candidates(
    usage: &[InstanceUsage],
    default_zone: &str,
) -> Result<Vec<Candidate>, StoreError> {
    usage.iter().map(|u| Ok(candidate(u, default_zone)?.0)).collect()
}

/// The Availability Zone of a region's instances that report none: the
/// region's first (`us-east-1a`).
pub fn default_zone(region: &str) -> String {
    format!("{region}a")
}

/// One instance's candidate, and what it registered.
pub(crate) fn candidate(
    u: &InstanceUsage,
    default_zone: &str,
) -> Result<(Candidate, Registered), StoreError> {
    let ci: ContainerInstance = serde_json::from_str(&u.instance.json).map_err(|e| {
        StoreError::Database(format!("container instance {} unreadable: {e}", u.instance.id))
    })?;
    let registered = Registered::of(&ci);
    let mut candidate = Candidate::of_instance(&ci, default_zone);
    candidate.set_usage(registered, used(u));
    Ok((candidate, registered))
}

/// What an instance's unstopped tasks hold, as placement counts it.
pub(crate) fn used(u: &InstanceUsage) -> Used {
    Used {
        cpu: u.cpu,
        memory: u.memory,
        ports: u.ports.clone(),
        running_tasks: u.running_tasks,
        pending_tasks: u.pending_tasks,
        task_groups: u.task_groups.clone(),
    }
}

/// Whether a stored instance may take part in a launch: one of the launch's
/// cluster, or one of the Fargate pool's when the launch needs the pool.
/// `json` is read only for instances of other clusters.
pub fn takes_part(launch: &Launch, instance: &StoredInstance) -> bool {
    if instance.cluster == launch.template.cluster {
        return true;
    }
    if !launch.needs_pool() {
        return false;
    }
    instance.cluster == capacity::FARGATE_POOL
        || serde_json::from_str::<ContainerInstance>(&instance.json).is_ok_and(|ci| {
            ci.attributes
                .iter()
                .flatten()
                .any(|a| a.name.as_deref() == Some(capacity::FARGATE_ATTRIBUTE))
        })
}

/// The rows to insert for the tasks a launch placed on `usage`'s instances.
pub fn new_tasks(
    launch: &Launch,
    usage: &[InstanceUsage],
    placed: &[PlacedTask],
) -> Result<Vec<NewTask>, StoreError> {
    let demand = launch.demand();
    let template = &launch.template;
    let tags: Vec<(String, String)> = template
        .tags
        .iter()
        .filter_map(|t| Some((t.key.clone()?, t.value.clone().unwrap_or_default())))
        .collect();
    placed
        .iter()
        .map(|p| {
            let json = serde_json::to_string(&p.task)
                .map_err(|e| StoreError::Database(format!("task not written: {e}")))?;
            Ok(NewTask {
                task: StoredTask {
                    cluster: template.cluster.clone(),
                    id: p.id.clone(),
                    arn: p.task.task_arn.clone().unwrap_or_default(),
                    instance_id: usage.get(p.instance).map(|u| u.instance.id.clone()),
                    instance_cluster: usage.get(p.instance).map(|u| u.instance.cluster.clone()),
                    last_status: TaskStatus::Provisioning,
                    desired_status: DesiredStatus::Running,
                    service: template.service.clone(),
                    json,
                },
                family: template.family().to_owned(),
                started_by: template.started_by.clone(),
                reservation: Reservation {
                    cpu: demand.cpu,
                    memory: demand.memory,
                    ports: demand.ports.clone(),
                },
                tags: tags.clone(),
            })
        })
        .collect()
}
