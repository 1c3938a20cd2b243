//! Why tasks and containers stop, in ECS's own words.
//!
//! A task that stops carries a `stopCode` (the model's generated
//! [`TaskStopCode`]) and a `stoppedReason`; a container that fails carries a
//! `reason`. The texts below are the ones ECS users search for, so they are
//! spelled exactly as ECS spells them, each with its source.

use std::fmt::Display;

use wharf_model::ecs::shapes::TaskStopCode;

/// `stoppedReason` of a task whose essential container stopped.
/// Source: DG:stopped-task-errors; repost.aws/knowledge-center/ecs-task-stopped.
pub const ESSENTIAL_CONTAINER_EXITED: &str = "Essential container in task exited";

/// `stoppedReason` of a StopTask call that gave no `reason`.
/// Source: repost.aws/knowledge-center/ecs-task-stopped.
pub const TASK_STOPPED_BY_USER: &str = "Task stopped by user";

/// Why a task stopped: its `stopCode` and `stoppedReason` together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StopReason {
    /// The `stopCode`.
    pub code: TaskStopCode,
    /// The `stoppedReason`.
    pub message: String,
}

impl StopReason {
    /// A stop for any reason the caller names (a service scale-in, a spot
    /// interruption, a host termination notice, ...).
    pub fn new(code: TaskStopCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }

    /// A StopTask call, with the caller's `reason` if it gave a non-blank one.
    pub fn user(reason: Option<&str>) -> Self {
        let message = reason.filter(|r| !r.trim().is_empty()).unwrap_or(TASK_STOPPED_BY_USER);
        Self::new(TaskStopCode::UserInitiated, message)
    }

    /// An essential container stopped (`EssentialContainerExited`).
    pub fn essential_container_exited() -> Self {
        Self::new(TaskStopCode::EssentialContainerExited, ESSENTIAL_CONTAINER_EXITED)
    }

    /// The task could not get started (`TaskFailedToStart`); the reason is the
    /// error that stopped it, as on Fargate, where `stoppedReason` reads
    /// `CannotPullContainerError: ...`.
    pub fn failed_to_start(error: &NamedError) -> Self {
        Self::new(TaskStopCode::TaskFailedToStart, error.to_string())
    }
}

/// A failure as the ECS agent names it: `<ErrorName>: <detail>`.
///
/// The runtime builds these for what it tried and could not do; the machine
/// builds the dependency ones. Displayed, one is the container's `reason` and,
/// when it stops the task, the task's `stoppedReason`.
///
/// Names: AG:agent/dockerclient/dockerapi/errors.go and agent/engine/errors.go;
/// docs.aws.amazon.com/AmazonECS/latest/userguide/stopped-task-error-codes.html.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NamedError {
    /// The image could not be pulled.
    /// Example: `CannotPullContainerError: pull access denied for x, repository does not exist`.
    #[error("CannotPullContainerError: {0}")]
    CannotPullContainer(String),
    /// The task's resources (network, volumes, secrets, registry auth) could
    /// not be set up. Example: `ResourceInitializationError: unable to pull
    /// secrets or registry auth: ...`.
    #[error("ResourceInitializationError: {0}")]
    ResourceInitialization(String),
    /// Docker refused to create the container.
    #[error("CannotCreateContainerError: {0}")]
    CannotCreateContainer(String),
    /// The container could not be started; also how the agent reports a
    /// dependency that can never be met (`handleTerminalDependencyError`).
    #[error("CannotStartContainerError: {0}")]
    CannotStartContainer(String),
    /// A runtime call did not finish in time. The docs' current name (platform
    /// 1.4 and later); the EC2 agent says `DockerTimeoutError`.
    /// Example: `ContainerRuntimeTimeoutError: Could not transition to running;
    /// timed out after waiting 1m: ...`.
    #[error("ContainerRuntimeTimeoutError: {0}")]
    ContainerRuntimeTimeout(String),
    /// The kernel killed the container for its memory use (`State.OOMKilled`).
    #[error("OutOfMemoryError: Container killed due to memory usage")]
    OutOfMemory,
    /// The container the agent had created is gone from the host (removed
    /// while no agent was watching).
    /// Source: AG:agent/engine/docker_task_engine.go `synchronizeContainerStatus`.
    #[error("ContainerVanishedError: No container matching saved ID found")]
    ContainerVanished,
}

impl NamedError {
    /// The error's name, the part before the colon.
    pub fn name(&self) -> &'static str {
        match self {
            Self::CannotPullContainer(_) => "CannotPullContainerError",
            Self::ResourceInitialization(_) => "ResourceInitializationError",
            Self::CannotCreateContainer(_) => "CannotCreateContainerError",
            Self::CannotStartContainer(_) => "CannotStartContainerError",
            Self::ContainerRuntimeTimeout(_) => "ContainerRuntimeTimeoutError",
            Self::OutOfMemory => "OutOfMemoryError",
            Self::ContainerVanished => "ContainerVanishedError",
        }
    }

    /// Secrets or private registry credentials could not be fetched.
    /// Source: DG:stopped-task-error-codes, "unable to pull secrets or registry auth".
    pub fn secrets(detail: impl Display) -> Self {
        Self::ResourceInitialization(format!("unable to pull secrets or registry auth: {detail}"))
    }

    /// `dependency` started more than its `startTimeout` ago without meeting
    /// `target`'s COMPLETE, SUCCESS or HEALTHY condition.
    /// Source: AG:agent/engine/dependencygraph/graph.go `verifyContainerOrderingStatusResolvable`.
    pub fn dependency_timed_out(dependency: &str, target: &str) -> Self {
        Self::CannotStartContainer(format!(
            "dependency graph: container ordering dependency [{dependency}] for target \
             [{target}] has timed out."
        ))
    }

    /// `dependency` exited non-zero, so `target`'s SUCCESS condition can never
    /// hold. Source: as [`NamedError::dependency_timed_out`].
    pub fn dependency_failed(dependency: &str, target: &str) -> Self {
        Self::CannotStartContainer(format!(
            "dependency graph: failed to resolve container ordering dependency [{dependency}] \
             for target [{target}] as dependency did not exit successfully."
        ))
    }

    /// `dependency` is stopped without ever having run, so no condition of
    /// `target`'s on it can hold. Source: as [`NamedError::dependency_timed_out`].
    pub fn dependency_never_started(dependency: &str, target: &str) -> Self {
        Self::CannotStartContainer(format!(
            "dependency graph: failed to resolve container ordering dependency [{dependency}] \
             for target [{target}] because dependency will never start"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_read_as_ecs_writes_them() {
        let cases = [
            (
                NamedError::CannotPullContainer("manifest unknown".into()),
                "CannotPullContainerError: manifest unknown",
            ),
            (
                NamedError::secrets("parameter /db/password not found"),
                "ResourceInitializationError: unable to pull secrets or registry auth: \
                 parameter /db/password not found",
            ),
            (
                NamedError::CannotStartContainer("port is already allocated".into()),
                "CannotStartContainerError: port is already allocated",
            ),
            (NamedError::OutOfMemory, "OutOfMemoryError: Container killed due to memory usage"),
            (
                NamedError::dependency_timed_out("db", "app"),
                "CannotStartContainerError: dependency graph: container ordering dependency \
                 [db] for target [app] has timed out.",
            ),
            (
                NamedError::dependency_failed("migrate", "app"),
                "CannotStartContainerError: dependency graph: failed to resolve container \
                 ordering dependency [migrate] for target [app] as dependency did not exit \
                 successfully.",
            ),
        ];
        for (error, text) in cases {
            assert_eq!(error.to_string(), text);
            assert!(text.starts_with(error.name()), "{text}");
        }
    }

    #[test]
    fn stop_reasons_carry_code_and_message() {
        let cases = [
            (StopReason::user(None), TaskStopCode::UserInitiated, TASK_STOPPED_BY_USER),
            (StopReason::user(Some("  ")), TaskStopCode::UserInitiated, TASK_STOPPED_BY_USER),
            (StopReason::user(Some("deploy 42")), TaskStopCode::UserInitiated, "deploy 42"),
            (
                StopReason::essential_container_exited(),
                TaskStopCode::EssentialContainerExited,
                "Essential container in task exited",
            ),
            (
                StopReason::failed_to_start(&NamedError::CannotPullContainer("denied".into())),
                TaskStopCode::TaskFailedToStart,
                "CannotPullContainerError: denied",
            ),
        ];
        for (reason, code, message) in cases {
            assert_eq!(reason, StopReason::new(code, message));
        }
    }
}
