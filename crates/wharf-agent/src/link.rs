//! The agent's one narrow interface to the server. The embedded agent
//! implements it with direct calls into the control plane; an agent on
//! another host implements it over the network. Nothing else of the server
//! is visible to the agent.

use async_trait::async_trait;
use tokio::sync::mpsc;
use wharf_model::agent::{
    ExecGrant, Heartbeat, HeartbeatReply, LogBatch, LogDestination, PullProgressReport, RoleKind,
    TaskRoleCredentials, WatchEvent,
};
use wharf_model::ecs::shapes::{ContainerInstance, RegisterContainerInstanceRequest, Task};

/// Why a call to the server failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LinkError {
    /// The server refused the request; retrying the same request will not help.
    #[error("the server refused: {0}")]
    Refused(String),
    /// The server could not be reached or failed; the call may be retried.
    #[error("the server is unavailable: {0}")]
    Unavailable(String),
}

/// What the agent asks of the server.
#[async_trait]
pub trait ServerLink: Send + Sync + std::fmt::Debug + 'static {
    /// Registers this host as a container instance (creating the cluster if
    /// needed); with `containerInstanceArn` set, registers it again.
    async fn register(
        &self,
        request: RegisterContainerInstanceRequest,
    ) -> Result<ContainerInstance, LinkError>;

    /// The tasks placed on the instance: first every one not yet `STOPPED`,
    /// then [`WatchEvent::Synced`], then each task again whenever it changes.
    /// The same task may arrive many times; the receiver keeps what is new.
    /// The channel closes if the watch breaks (or, over a network, falls
    /// silent), and the agent watches again.
    async fn watch(
        &self,
        cluster: &str,
        instance_arn: &str,
    ) -> Result<mpsc::Receiver<WatchEvent>, LinkError>;

    /// Tells the server the instance's agent is alive (an instance silent for
    /// longer than the server's `--instance-lost-after` is declared lost);
    /// the answer says when the next heartbeat is due.
    async fn heartbeat(
        &self,
        cluster: &str,
        instance_arn: &str,
        heartbeat: Heartbeat,
    ) -> Result<HeartbeatReply, LinkError>;

    /// Reports a change to a task: a partial `Task` carrying its ARN and
    /// what changed (statuses, timestamps, stop code and reason, containers).
    async fn report(&self, cluster: &str, change: Task) -> Result<(), LinkError>;

    /// The value of a secret (`secrets[].valueFrom`: an SSM parameter or a
    /// Secrets Manager secret, with its selectors), resolved by the server.
    /// The error names what is missing and never carries a value.
    async fn resolve_secret(&self, value_from: &str) -> Result<String, LinkError>;

    /// Makes sure a container's log stream exists before the container
    /// starts, and its log group too when `create_group`. A missing group
    /// (without `create_group`) is `Refused` with the Logs API's error type
    /// and message.
    async fn prepare_log_stream(
        &self,
        destination: &LogDestination,
        create_group: bool,
    ) -> Result<(), LinkError>;

    /// Stores a batch of a container's log events together with the cursor
    /// it reaches, in one transaction.
    async fn ship_logs(&self, batch: LogBatch) -> Result<(), LinkError>;

    /// The cursor last stored with [`ServerLink::ship_logs`] for a stream.
    async fn log_cursor(&self, destination: &LogDestination) -> Result<Option<String>, LinkError>;

    /// [`ServerLink::resolve_secret`] for one task: a server that checks
    /// permissions reads the value with the task's execution role, and
    /// refuses (with IAM's words) what that role may not read.
    async fn resolve_task_secret(
        &self,
        task_arn: &str,
        value_from: &str,
    ) -> Result<String, LinkError> {
        let _ = task_arn;
        self.resolve_secret(value_from).await
    }

    /// Whether the task's execution role may perform `action` on `resource`
    /// (`s3:GetObject` on an environment file, say), asked before the agent
    /// reads it for the task. `Refused` with IAM's sentence when not.
    async fn check_execution_role(
        &self,
        task_arn: &str,
        action: &str,
        resource: &str,
    ) -> Result<(), LinkError> {
        let _ = (task_arn, action, resource);
        Ok(())
    }

    /// Temporary credentials for a task's role, minted by the server (its
    /// STS) for the credentials endpoint. `Refused` when the task has no
    /// such role or the role cannot be assumed by ECS tasks.
    async fn role_credentials(
        &self,
        task_arn: &str,
        kind: RoleKind,
    ) -> Result<TaskRoleCredentials, LinkError> {
        let _ = (task_arn, kind);
        Err(LinkError::Refused("this server mints no task role credentials".into()))
    }

    /// The DNS answers of Cloud Map's private namespaces, for the resolver
    /// this agent runs for its host's containers.
    async fn dns_table(&self) -> Result<wharf_model::servicediscovery::dns::Table, LinkError> {
        Err(LinkError::Refused("this server serves no DNS table".into()))
    }

    /// Opens the token of an ECS Exec session a client presented to this
    /// agent (the instance `instance_arn` of `cluster`) for `session_id`:
    /// what to run and where, when the server sealed it for this instance,
    /// it has not expired and the task still runs; `Refused` otherwise.
    async fn open_exec(
        &self,
        cluster: &str,
        instance_arn: &str,
        session_id: &str,
        token: &str,
    ) -> Result<ExecGrant, LinkError> {
        let _ = (cluster, instance_arn, session_id, token);
        Err(LinkError::Refused("this server grants no exec sessions".into()))
    }

    /// Tells how far an image pull has come, for people watching; sent a
    /// few times a second while a pull runs, and once when it ends. Losing
    /// one is harmless, so the agent does not retry.
    async fn pull_progress(&self, report: PullProgressReport) -> Result<(), LinkError> {
        let _ = report;
        Ok(())
    }
}
