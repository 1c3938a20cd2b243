//! The agent link when the agent runs inside `wharf server`: direct calls
//! into the control plane's agent surface, and assignments from the store's
//! task watch. An agent on another host uses the same [`ServerLink`] over the
//! network.

use async_trait::async_trait;
use tokio::sync::mpsc;
use wharf_agent::link::{LinkError, ServerLink};
use wharf_api::protocol::ApiError;
use wharf_api::AppState;
use wharf_api::{agent_link, logs, secrets};
use wharf_model::agent::{
    ExecGrant, Heartbeat, HeartbeatReply, LogBatch, LogDestination, PullProgressReport, RoleKind,
    TaskRoleCredentials, WatchEvent,
};
use wharf_model::ecs::shapes::{ContainerInstance, RegisterContainerInstanceRequest, Task};

/// The in-process link.
#[derive(Debug, Clone)]
pub struct EmbeddedLink {
    state: AppState,
    region: String,
}

impl EmbeddedLink {
    /// A link for an agent serving `region` of this server.
    pub fn new(state: AppState, region: impl Into<String>) -> Self {
        Self { state, region: region.into() }
    }
}

fn link_error(e: ApiError) -> LinkError {
    if e.status.is_server_error() {
        LinkError::Unavailable(format!("{}: {}", e.type_name, e.message))
    } else {
        LinkError::Refused(format!("{}: {}", e.type_name, e.message))
    }
}

/// The cluster a (long-format) task ARN names.
fn cluster_of(task_arn: &str) -> &str {
    wharf_model::arn::resource_id(task_arn, "task").1.unwrap_or("default")
}

/// A refusal of the task-role calls: their message alone (it is already the
/// ECS agent's wording), a server failure as unavailable.
fn role_error(e: ApiError) -> LinkError {
    if e.status.is_server_error() {
        LinkError::Unavailable(e.message)
    } else {
        LinkError::Refused(e.message)
    }
}

#[async_trait]
impl ServerLink for EmbeddedLink {
    async fn resolve_task_secret(
        &self,
        task_arn: &str,
        value_from: &str,
    ) -> Result<String, LinkError> {
        let cluster = cluster_of(task_arn);
        wharf_api::task_roles::resolve_task_secret(
            &self.state,
            &self.region,
            cluster,
            task_arn,
            value_from,
        )
        .await
        .map_err(role_error)
    }

    async fn check_execution_role(
        &self,
        task_arn: &str,
        action: &str,
        resource: &str,
    ) -> Result<(), LinkError> {
        let cluster = cluster_of(task_arn);
        wharf_api::task_roles::check_execution_role(
            &self.state,
            &self.region,
            cluster,
            task_arn,
            action,
            resource,
        )
        .await
        .map_err(role_error)
    }

    async fn role_credentials(
        &self,
        task_arn: &str,
        kind: RoleKind,
    ) -> Result<TaskRoleCredentials, LinkError> {
        let cluster = cluster_of(task_arn);
        wharf_api::task_roles::role_credentials(&self.state, &self.region, cluster, task_arn, kind)
            .await
            .map_err(role_error)
    }

    async fn dns_table(&self) -> Result<wharf_model::servicediscovery::dns::Table, LinkError> {
        wharf_ops::discovery::dns_table(&self.state.ops)
            .await
            .map_err(|e| LinkError::Unavailable(e.message))
    }

    async fn open_exec(
        &self,
        _cluster: &str,
        instance_arn: &str,
        session_id: &str,
        token: &str,
    ) -> Result<ExecGrant, LinkError> {
        wharf_api::exec::open(&self.state, &self.region, instance_arn, session_id, token)
            .await
            .map_err(link_error)
    }

    async fn register(
        &self,
        request: RegisterContainerInstanceRequest,
    ) -> Result<ContainerInstance, LinkError> {
        agent_link::register(&self.state, &self.region, request).await.map_err(link_error)
    }

    async fn watch(
        &self,
        cluster: &str,
        instance_arn: &str,
    ) -> Result<mpsc::Receiver<WatchEvent>, LinkError> {
        let (instance_id, _) = wharf_model::arn::resource_id(instance_arn, "container-instance");
        agent_link::watch(&self.state, &self.region, cluster, instance_id).await.map_err(link_error)
    }

    async fn heartbeat(
        &self,
        cluster: &str,
        instance_arn: &str,
        heartbeat: Heartbeat,
    ) -> Result<HeartbeatReply, LinkError> {
        let (instance_id, _) = wharf_model::arn::resource_id(instance_arn, "container-instance");
        agent_link::heartbeat(&self.state, &self.region, cluster, instance_id, heartbeat)
            .await
            .map_err(link_error)
    }

    async fn report(&self, cluster: &str, change: Task) -> Result<(), LinkError> {
        agent_link::report(&self.state, &self.region, cluster, change).await.map_err(link_error)
    }

    async fn resolve_secret(&self, value_from: &str) -> Result<String, LinkError> {
        let now = self.state.ops.clock.now();
        secrets::resolve(&*self.state.ops.store, &self.region, value_from, now).await.map_err(|e| {
            match e {
                secrets::ResolveError::Internal(m) => LinkError::Unavailable(m),
                secrets::ResolveError::NotFound(m) | secrets::ResolveError::Invalid(m) => {
                    LinkError::Refused(m)
                }
            }
        })
    }

    async fn prepare_log_stream(
        &self,
        destination: &LogDestination,
        create_group: bool,
    ) -> Result<(), LinkError> {
        logs::agent::prepare_stream(&self.state, destination, create_group)
            .await
            .map_err(link_error)
    }

    async fn ship_logs(&self, batch: LogBatch) -> Result<(), LinkError> {
        let events = batch.events.into_iter().map(|e| (e.timestamp, e.message)).collect();
        logs::agent::append(&self.state, &batch.destination, events, batch.cursor, batch.after)
            .await
            .map_err(link_error)
    }

    async fn log_cursor(&self, destination: &LogDestination) -> Result<Option<String>, LinkError> {
        logs::agent::cursor(&self.state, destination).await.map_err(link_error)
    }

    async fn pull_progress(&self, report: PullProgressReport) -> Result<(), LinkError> {
        self.state.pulls.record(report, self.state.ops.clock.now_millis());
        Ok(())
    }
}
