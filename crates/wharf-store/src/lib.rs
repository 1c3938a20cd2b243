//! Wharf's durable state.
//!
//! Everything the API accepts is written here before the answer goes out; the
//! reconcilers read their snapshots from here. [`Store`] is the seam: the SQLite
//! implementation ([`SqliteStore`]) keeps one server's state in its data
//! directory; the etcd implementation ([`EtcdStore`]) keeps it in an etcd
//! cluster that any number of servers share ([`etcd`]).
//!
//! Invariants every implementation keeps:
//! - A write is durable when its future resolves `Ok`; a crash at any moment
//!   loses no acknowledged write and leaves no half-written record (each
//!   write is one transaction).
//! - Concurrent writes may share a commit (group commit) but never each
//!   other's failure: one write refused by its own check does not affect the
//!   others committed with it.
//! - Reads see every write acknowledged before the read began.
//! - Values read are snapshots (owned JSON text), never live references.
//!
//! Records are kept as the JSON of their wire shape: the wire types are the
//! model (DESIGN.md), and describing a resource is then a matter of sending
//! back what was stored.
#![warn(missing_docs)]

mod candidates;
mod checkpoint;
mod columns;
pub mod elb;
mod error;
pub mod etcd;
pub mod leadership;
pub mod logs;
mod pool;
mod schema;
mod sqlite;
mod sqlite_elb;
mod sqlite_tasks;
pub mod tasks;
mod td_cache;
mod writer;

use async_trait::async_trait;
use wharf_model::ecs::launch::{Launch, Placement};
use wharf_model::ecs::shapes::{TaskDefinitionFamilyStatus, TaskDefinitionStatus};
use wharf_model::EcsError;

pub use error::StoreError;
pub use etcd::{EtcdConfig, EtcdStore};
pub use leadership::{Lead, Leadership, Solo};
pub use logs::LogStore;
pub use sqlite::SqliteStore;
pub use tasks::{
    DecideInstance, DecideTask, InstanceChanged, InstanceFeed, InstanceStatusCount, InstanceUsage,
    NewTask, Reservation, StatusCounts, StoredInstance, StoredTask, TaskChanged, TaskFeed,
    TaskQuery, TaskStatusCount, TaskUpdate,
};

/// A kind of simple resource kept as one JSON document per key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// ECS clusters, keyed by name.
    Cluster,
    /// ECS capacity providers, keyed by name.
    CapacityProvider,
    /// ECS account settings, keyed by `<principal>\n<name>`.
    AccountSetting,
    /// SSM parameters, keyed by name as given (`/a/b` or `a`); one document
    /// holds every kept version of the parameter and its tags.
    Parameter,
    /// Secrets Manager secrets, keyed by name; one document holds the
    /// secret's metadata, tags and every kept version.
    Secret,
    /// ECS services, keyed by `<cluster>/<name>`; the document is the
    /// service's `wharf_model::ecs::service::ServiceRecord`.
    Service,
    /// CodeDeploy applications, keyed by name; one document holds the
    /// application, its tags and its deployment groups.
    CodeDeployApplication,
    /// CodeDeploy custom deployment configurations, keyed by name.
    CodeDeployConfig,
    /// CodeDeploy deployments, keyed by deployment id.
    CodeDeployDeployment,
    /// The awsvpc ranges given to clusters and instances: one document,
    /// `wharf_model::ecs::network::VpcAllocations`, in region `*`.
    Network,
    /// ACM certificates, keyed by certificate id; the document is a
    /// `wharf_model::acm::CertificateRecord` (certificate, chain, key, tags).
    Certificate,
    /// CloudWatch metric alarms, keyed by name; the document is a
    /// `wharf_model::cloudwatch::AlarmRecord`.
    MetricAlarm,
    /// Keys every server of a control plane must share (the STS key that
    /// seals temporary credentials), keyed by name, in region `*`.
    ServerKey,
    /// A region's EC2 network (VPCs, subnets, security groups): one
    /// document, `wharf_model::ec2::network::Network`, keyed `network`.
    Ec2Network,
    /// A region's Cloud Map namespaces, services, instances and operations:
    /// one document, `wharf_model::servicediscovery::Registry`, keyed
    /// `registry`.
    Discovery,
    /// A custom capacity provider's managed scaling in one cluster
    /// (`wharf_model::ecs::capacity::scaling::Status`), keyed
    /// `<cluster>/<provider>`.
    CapacityScaling,
    /// Application Auto Scaling's scalable targets with their policies,
    /// scheduled actions and activities
    /// (`wharf_model::application_autoscaling::record::TargetRecord`), keyed
    /// `<resource id>|<scalable dimension>`.
    ScalableTarget,
    /// CloudWatch data points, one document per write
    /// (`wharf_model::cloudwatch::series::MetricBatch`), keyed
    /// `<ms since the epoch, 13 digits>-<random>` so that keys sort by the
    /// time of the write.
    MetricBatch,
}

impl Kind {
    /// The name this kind is stored under.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cluster => "cluster",
            Self::CapacityProvider => "capacity-provider",
            Self::AccountSetting => "account-setting",
            Self::Parameter => "ssm-parameter",
            Self::Secret => "secretsmanager-secret",
            Self::Service => "ecs-service",
            Self::CodeDeployApplication => "codedeploy-application",
            Self::CodeDeployConfig => "codedeploy-config",
            Self::CodeDeployDeployment => "codedeploy-deployment",
            Self::Network => "awsvpc-network",
            Self::ServerKey => "server-key",
            Self::Certificate => "acm-certificate",
            Self::MetricAlarm => "cloudwatch-alarm",
            Self::Ec2Network => "ec2-network",
            Self::Discovery => "servicediscovery-registry",
            Self::CapacityScaling => "capacity-scaling",
            Self::ScalableTarget => "scalable-target",
            Self::MetricBatch => "cloudwatch-metric-batch",
        }
    }
}

/// What an update decides to do with a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    /// Store this JSON as the document's new value.
    Put(String),
    /// Remove the document.
    Delete,
    /// Leave it as it is.
    Keep,
}

/// A pure decision about one document: given its current JSON (if any), what
/// to write. Returning an error refuses the write and nothing changes.
///
/// Decisions are `Fn`, not `FnOnce`: a store that checks what a write read
/// only when it commits (etcd's compare-and-swap) runs the decision again
/// on fresh state when another write got there first. Whatever a decision
/// reports through captured state must therefore be overwritten, not
/// accumulated, by each run.
pub type Decide = Box<dyn Fn(Option<String>) -> Result<Write, EcsError> + Send>;

/// Builds a new task definition revision once the store has allocated its
/// number: returns the record to store. May run more than once (see [`Decide`]).
pub type BuildRevision = Box<dyn Fn(i32) -> Result<NewTaskDefinition, EcsError> + Send>;

/// A pure decision about one task definition revision: given the stored
/// record, the new (status, JSON) to store, or `None` to leave it as it is.
/// May run more than once (see [`Decide`]).
pub type DecideRevision = Box<
    dyn Fn(&StoredTaskDefinition) -> Result<Option<(TaskDefinitionStatus, String)>, EcsError>
        + Send
        + 'static,
>;

/// A task definition revision ready to be stored.
#[derive(Debug, Clone, PartialEq)]
pub struct NewTaskDefinition {
    /// Its ARN (tags are kept by ARN).
    pub arn: String,
    /// Its status (`ACTIVE` for a new registration).
    pub status: TaskDefinitionStatus,
    /// The `TaskDefinition` JSON as DescribeTaskDefinition returns it.
    pub json: String,
    /// Tags given at registration.
    pub tags: Vec<(String, String)>,
}

/// A stored task definition revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredTaskDefinition {
    /// Its family.
    pub family: String,
    /// Its revision number.
    pub revision: i32,
    /// `ACTIVE`, `INACTIVE` or `DELETE_IN_PROGRESS`.
    pub status: TaskDefinitionStatus,
    /// The `TaskDefinition` JSON.
    pub json: String,
}

/// Which task definitions a listing wants.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskDefinitionQuery {
    /// Only revisions whose family is exactly this.
    pub family: Option<String>,
    /// Only revisions in this status; `None` for all.
    pub status: Option<TaskDefinitionStatus>,
    /// Newest family/revision first instead of oldest.
    pub descending: bool,
    /// Resume after this (family, revision), exclusive.
    pub after: Option<(String, i32)>,
    /// At most this many.
    pub limit: usize,
}

/// Which task definition families a listing wants.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FamilyQuery {
    /// Only families starting with this.
    pub prefix: Option<String>,
    /// `ACTIVE`: families with an active revision; `INACTIVE`: families with
    /// none; `None` (or `ALL`): all.
    pub status: Option<TaskDefinitionFamilyStatus>,
    /// Resume after this family, exclusive.
    pub after: Option<String>,
    /// At most this many.
    pub limit: usize,
}

/// Wharf's durable state. See the crate documentation for the guarantees.
#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug + 'static {
    /// Reads one document.
    async fn get(&self, kind: Kind, region: &str, key: &str) -> Result<Option<String>, StoreError>;

    /// Lists documents of a kind in key order, after `after` (exclusive).
    async fn list(
        &self,
        kind: Kind,
        region: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, String)>, StoreError>;

    /// The regions that hold any document of `kind`.
    async fn regions(&self, kind: Kind) -> Result<Vec<String>, StoreError>;

    /// Hears of every committed write of a [`Kind::Service`] document, as
    /// (region, key), so that the service scheduler acts on it at once. A
    /// receiver that falls behind gets `Lagged` and should read every
    /// service afresh.
    fn service_changes(&self) -> tokio::sync::broadcast::Receiver<(String, String)>;

    /// Reads, decides and writes one document atomically. Returns the
    /// document's value after the write.
    async fn update(
        &self,
        kind: Kind,
        region: &str,
        key: &str,
        decide: Decide,
    ) -> Result<Option<String>, StoreError>;

    /// Registers the next revision of `family`: allocates its number, builds
    /// the record with it and stores record and tags in one transaction.
    async fn register_task_definition(
        &self,
        region: &str,
        family: &str,
        build: BuildRevision,
    ) -> Result<NewTaskDefinition, StoreError>;

    /// Reads a revision, or with `revision: None` the latest ACTIVE one.
    async fn get_task_definition(
        &self,
        region: &str,
        family: &str,
        revision: Option<i32>,
    ) -> Result<Option<StoredTaskDefinition>, StoreError>;

    /// Changes a revision's status and JSON atomically; the decision sees the
    /// current record. `Write::Delete` removes the revision.
    async fn update_task_definition(
        &self,
        region: &str,
        family: &str,
        revision: i32,
        decide: DecideRevision,
    ) -> Result<StoredTaskDefinition, StoreError>;

    /// Lists revisions as (family, revision) in (family, revision) order.
    async fn list_task_definitions(
        &self,
        region: &str,
        query: TaskDefinitionQuery,
    ) -> Result<Vec<(String, i32)>, StoreError>;

    /// Every revision in `DELETE_IN_PROGRESS`, of every region, as
    /// (region, revision).
    async fn task_definitions_in_deletion(
        &self,
    ) -> Result<Vec<(String, StoredTaskDefinition)>, StoreError>;

    /// Deletes a `DELETE_IN_PROGRESS` revision for good, with the tags of
    /// `arn` (its ARN); its number is never given again. `false` when the
    /// revision is gone or no longer in `DELETE_IN_PROGRESS`.
    async fn purge_task_definition(
        &self,
        region: &str,
        family: &str,
        revision: i32,
        arn: &str,
    ) -> Result<bool, StoreError>;

    /// Lists family names.
    async fn list_task_definition_families(
        &self,
        region: &str,
        query: FamilyQuery,
    ) -> Result<Vec<String>, StoreError>;

    /// The tags of a resource, in key order.
    async fn tags(&self, region: &str, arn: &str) -> Result<Vec<(String, String)>, StoreError>;

    /// Adds or overwrites tags on a resource, refusing if the result would
    /// hold more than `max` tags.
    async fn tag(
        &self,
        region: &str,
        arn: &str,
        tags: Vec<(String, String)>,
        max: usize,
    ) -> Result<(), StoreError>;

    /// Removes tags from a resource by key.
    async fn untag(&self, region: &str, arn: &str, keys: Vec<String>) -> Result<(), StoreError>;

    /// A cluster's container instances (or only those with the given IDs),
    /// each with what its unstopped tasks hold, in ID order.
    async fn instances(
        &self,
        region: &str,
        cluster: &str,
        ids: Option<Vec<String>>,
    ) -> Result<Vec<InstanceUsage>, StoreError>;

    /// A cluster's container instances (or only those with the given IDs)
    /// as stored, in ID order, without summing what their tasks hold: for
    /// readers that need only their status or document.
    async fn instance_records(
        &self,
        region: &str,
        cluster: &str,
        ids: Option<Vec<String>>,
    ) -> Result<Vec<StoredInstance>, StoreError>;

    /// A cluster's container instances whose status is not `ACTIVE`
    /// (DRAINING, REGISTERING, ...), as stored, in ID order: the few a
    /// service must move its tasks off, read without reading the others.
    async fn instances_not_active(
        &self,
        region: &str,
        cluster: &str,
    ) -> Result<Vec<StoredInstance>, StoreError>;

    /// Creates or changes one container instance; `decide` sees it as stored
    /// (with its usage) and returns its new form, or `None` to keep it.
    async fn update_instance(
        &self,
        region: &str,
        cluster: &str,
        id: &str,
        decide: DecideInstance,
    ) -> Result<Option<StoredInstance>, StoreError>;

    /// Launches tasks: places `launch` ([`wharf_model::ecs::launch::place`])
    /// on its cluster's instances (or the named ones) as they are inside the
    /// write transaction, and inserts the tasks placed, so no two launches
    /// take the same resources. Agents watching [`Store::task_changes`] hear
    /// of each task.
    async fn launch_tasks(&self, region: &str, launch: Launch) -> Result<Placement, StoreError>;

    /// One task by cluster name and task ID.
    async fn get_task(
        &self,
        region: &str,
        cluster: &str,
        id: &str,
    ) -> Result<Option<StoredTask>, StoreError>;

    /// Changes one task; `decide` sees it as stored. `Ok(None)` if there is no
    /// such task. Agents watching [`Store::task_changes`] hear of a change.
    async fn update_task(
        &self,
        region: &str,
        cluster: &str,
        id: &str,
        decide: DecideTask,
    ) -> Result<Option<StoredTask>, StoreError>;

    /// Tasks matching `query`, in task ID order.
    async fn list_tasks(
        &self,
        region: &str,
        query: TaskQuery,
    ) -> Result<Vec<StoredTask>, StoreError>;

    /// Every task on an instance that is not yet `STOPPED`: what its agent
    /// must act on.
    async fn unstopped_tasks_on(
        &self,
        region: &str,
        cluster: &str,
        instance_id: &str,
    ) -> Result<Vec<StoredTask>, StoreError>;

    /// A cluster's (running, pending) task counts.
    async fn task_counts(&self, region: &str, cluster: &str) -> Result<(i64, i64), StoreError>;

    /// Every region's tasks and container instances counted by cluster and status,
    /// without reading their records (for `/metrics`, which asks at every scrape).
    async fn status_counts(&self) -> Result<StatusCounts, StoreError>;

    /// Forgets tasks that stopped before `before_ms`; returns how many.
    async fn purge_stopped_tasks(&self, before_ms: i64) -> Result<usize, StoreError>;

    /// Hears of every task inserted or changed, after its commit. A receiver
    /// that falls behind gets `Lagged` and should read the state afresh.
    /// (Changes travel as `Arc`s: a broadcast ring holds thousands of slots
    /// from the start, and each receiver takes its own copy.)
    fn task_changes(&self) -> TaskFeed;

    /// Hears of every container instance whose status changed (created,
    /// drained, activated or removed), after its commit. A receiver that
    /// falls behind gets `Lagged` and should read the state afresh.
    fn instance_changes(&self) -> InstanceFeed;

    /// Runs an ELBv2 read on one consistent snapshot of `region`'s ELBv2 state.
    async fn elb_read(&self, region: &str, read: elb::ElbRead) -> Result<(), StoreError>;

    /// Runs an ELBv2 write on `region`'s ELBv2 state in one transaction: an
    /// `Err` from the closure rolls back all it wrote.
    async fn elb_write(&self, region: &str, write: elb::ElbWrite) -> Result<(), StoreError>;

    /// Hears of every committed ELBv2 write, by region, so that the load
    /// balancer's data plane applies what changed. A receiver that falls
    /// behind gets `Lagged` and should read every region afresh.
    fn elb_changes(&self) -> tokio::sync::broadcast::Receiver<String>;

    /// The regions that hold any ELBv2 resource.
    async fn elb_regions(&self) -> Result<Vec<String>, StoreError>;

    /// Wipes every record, atomically.
    async fn reset(&self) -> Result<(), StoreError>;
}
