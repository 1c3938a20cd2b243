//! The agent link when the agent runs inside `wharf server`: direct calls
//! into the control plane's agent surface, and assignments from the store's
//! task watch. An agent on another host uses the same [`ServerLink`] over the
//! network.

use async_trait::async_trait;
use tokio::sync::{broadcast, mpsc};
use wharf_agent::link::{LinkError, ServerLink};
use wharf_api::protocol::ApiError;
use wharf_api::AppState;
use wharf_api::{agent_link, secrets};
use wharf_model::agent::Assignment;
use wharf_model::ecs::shapes::{ContainerInstance, RegisterContainerInstanceRequest, Task};

/// How many assignments may wait for the agent before the watch waits.
const WATCH_BUFFER: usize = 1024;

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

#[async_trait]
impl ServerLink for EmbeddedLink {
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
    ) -> Result<mpsc::Receiver<Assignment>, LinkError> {
        let instance_id = instance_arn.rsplit('/').next().unwrap_or_default().to_owned();
        // Subscribe before reading, so no change falls between the two.
        let mut changes = self.state.store.task_changes();
        let initial = agent_link::assigned(&self.state, &self.region, cluster, &instance_id)
            .await
            .map_err(link_error)?;
        let (tx, rx) = mpsc::channel(WATCH_BUFFER);
        let (state, region, cluster) =
            (self.state.clone(), self.region.clone(), cluster.to_owned());
        tokio::spawn(async move {
            for a in initial {
                if tx.send(a).await.is_err() {
                    return;
                }
            }
            loop {
                let resend = match changes.recv().await {
                    Ok(c) => {
                        if c.region != region
                            || c.cluster != cluster
                            || c.instance_id.as_deref() != Some(instance_id.as_str())
                        {
                            continue;
                        }
                        match agent_link::assignment(&state, &region, &cluster, &c.id).await {
                            Ok(Some(a)) => vec![a],
                            Ok(None) => vec![],
                            Err(e) => {
                                tracing::warn!(error = %e.message, "an assignment could not be read");
                                vec![]
                            }
                        }
                    }
                    // Fell behind: everything that is not stopped, again.
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        match agent_link::assigned(&state, &region, &cluster, &instance_id).await {
                            Ok(all) => all,
                            Err(_) => return,
                        }
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                };
                for a in resend {
                    if tx.send(a).await.is_err() {
                        return;
                    }
                }
            }
        });
        Ok(rx)
    }

    async fn report(&self, cluster: &str, change: Task) -> Result<(), LinkError> {
        let arn = change.task_arn.clone().unwrap_or_default();
        let task_id = arn.rsplit('/').next().unwrap_or_default().to_owned();
        agent_link::report(&self.state, &self.region, cluster, &task_id, change)
            .await
            .map_err(link_error)
    }

    async fn resolve_secret(&self, value_from: &str) -> Result<String, LinkError> {
        let now = self.state.clock.now();
        secrets::resolve(&*self.state.store, &self.region, value_from, now).await.map_err(|e| {
            match e {
                secrets::ResolveError::Internal(m) => LinkError::Unavailable(m),
                secrets::ResolveError::NotFound(m) | secrets::ResolveError::Invalid(m) => {
                    LinkError::Refused(m)
                }
            }
        })
    }
}
