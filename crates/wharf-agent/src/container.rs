//! One container of a task, as the machine tracks it: what its definition
//! says (essential, dependencies, timeouts, health check) and where it stands
//! (the status the runtime confirmed, the status asked for, how it ended).

use std::time::Duration;

use wharf_model::ecs::shapes::{ContainerDefinition, HealthStatus, NetworkBinding};
use wharf_model::ecs::status::ContainerStatus;

use crate::dependencies::Dependency;
use crate::report::ContainerReport;
use crate::stop::NamedError;

/// The time between SIGTERM and SIGKILL for a container with no
/// `stopTimeout`: `ECS_CONTAINER_STOP_TIMEOUT`'s default (AG:agent/config/config.go).
pub const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// One container of the task: what its definition says, and where it stands.
#[derive(Debug)]
pub(crate) struct Container {
    pub(crate) name: String,
    pub(crate) essential: bool,
    pub(crate) deps: Vec<Dependency>,
    pub(crate) start_timeout_ms: Option<i64>,
    pub(crate) stop_timeout: Duration,
    pub(crate) has_health_check: bool,
    /// What the server was last told.
    pub(crate) reported: ContainerReport,
    /// The status the runtime has confirmed.
    pub(crate) known: ContainerStatus,
    /// The furthest status asked of the runtime (`AppliedStatus`); above
    /// `known` while a request is under way.
    pub(crate) applied: ContainerStatus,
    pub(crate) desired_stopped: bool,
    /// Whether the container has ever run.
    pub(crate) ran: bool,
    pub(crate) started_at: Option<i64>,
    pub(crate) exit_code: Option<i32>,
    pub(crate) reason: Option<NamedError>,
    pub(crate) health: HealthStatus,
    pub(crate) runtime_id: Option<String>,
    pub(crate) network_bindings: Vec<NetworkBinding>,
}

impl Container {
    pub(crate) fn new(
        definition: &ContainerDefinition,
        name: String,
        deps: Vec<Dependency>,
    ) -> Self {
        let positive_secs =
            |secs: Option<i32>| secs.and_then(|s| u64::try_from(s).ok()).filter(|s| *s > 0);
        Self {
            reported: ContainerReport {
                name: name.clone(),
                status: ContainerStatus::None,
                exit_code: None,
                reason: None,
                health_status: HealthStatus::Unknown,
                runtime_id: None,
                network_bindings: Vec::new(),
            },
            name,
            essential: definition.essential.unwrap_or(true),
            deps,
            start_timeout_ms: positive_secs(definition.start_timeout)
                .and_then(|s| i64::try_from(s * 1000).ok()),
            stop_timeout: positive_secs(definition.stop_timeout)
                .map_or(DEFAULT_STOP_TIMEOUT, Duration::from_secs),
            has_health_check: definition.health_check.is_some(),
            known: ContainerStatus::None,
            applied: ContainerStatus::None,
            desired_stopped: false,
            ran: false,
            started_at: None,
            exit_code: None,
            reason: None,
            health: HealthStatus::Unknown,
            runtime_id: None,
            network_bindings: Vec::new(),
        }
    }

    /// When this container's `startTimeout` runs out for those waiting on it.
    pub(crate) fn deadline(&self) -> Option<i64> {
        Some(self.started_at? + self.start_timeout_ms?)
    }

    /// Whether a create or a start is under way.
    pub(crate) fn awaiting_runtime(&self) -> bool {
        self.applied > self.known
            && matches!(self.applied, ContainerStatus::Created | ContainerStatus::Running)
    }

    /// The step after `PULLED` or `CREATED` on the way to running.
    pub(crate) fn next_start_step(&self) -> ContainerStatus {
        if self.known == ContainerStatus::Created {
            ContainerStatus::Running
        } else {
            ContainerStatus::Created
        }
    }

    /// The container will not run: `error` is why.
    pub(crate) fn fail(&mut self, error: NamedError) {
        self.desired_stopped = true;
        self.applied = self.known;
        self.reason.get_or_insert(error);
    }

    pub(crate) fn report(&self) -> ContainerReport {
        ContainerReport {
            name: self.name.clone(),
            status: self.known,
            exit_code: self.exit_code,
            reason: self.reason.clone(),
            health_status: self.health.clone(),
            runtime_id: self.runtime_id.clone(),
            network_bindings: self.network_bindings.clone(),
        }
    }
}
