//! [`TaskMachine`]: one ECS task's lifecycle as a pure step function.
//!
//! Each call to [`TaskMachine::handle`] runs the ECS agent's `managedTask`
//! loop once, without the waiting: apply the event to the known statuses;
//! settle what follows from it (an essential container down stops the task, a
//! stopping task stops its containers, a dependency that can never be met
//! stops its dependent, a container that is not running stops at once); ask
//! for every container step that is now allowed; derive the task's status and
//! timestamps; report what the API would show differently.

use wharf_model::ecs::shapes::{ContainerDefinition, DesiredStatus, HealthStatus};
use wharf_model::ecs::status::{ContainerStatus, TaskStatus};

use crate::container::Container;
use crate::dependencies::{self, Gate};
use crate::event::{Action, Event};
use crate::report::{ContainerReport, TaskReport, TaskTimes};
use crate::stop::{NamedError, StopReason};

/// The exit code the agent gives a container that will never start because a
/// dependency can never be met: Docker's code for SIGTERM
/// (AG:agent/engine/task_manager.go `handleTerminalDependencyError`).
const NEVER_STARTED_EXIT_CODE: i32 = 143;

/// A task definition the machine cannot run. Registration validation refuses
/// all of these first; the machine checks again rather than panic.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DefinitionError {
    /// The task has no containers.
    #[error("a task needs at least one container")]
    NoContainers,
    /// A container has no name.
    #[error("containerDefinitions[{index}] has no name")]
    MissingName {
        /// Its position in `containerDefinitions`.
        index: usize,
    },
    /// Two containers share a name.
    #[error("container name '{name}' is used twice")]
    DuplicateName {
        /// The name.
        name: String,
    },
    /// A required member of a reference is missing.
    #[error("container '{container}' has no {field}")]
    MissingField {
        /// The container holding the reference.
        container: String,
        /// The missing member.
        field: &'static str,
    },
    /// A reference names a container the task does not have.
    #[error("container '{container}' refers in {field} to '{target}', which is not in the task")]
    UnknownContainer {
        /// The container holding the reference.
        container: String,
        /// `dependsOn`, `links` or `volumesFrom`.
        field: &'static str,
        /// The name that points nowhere.
        target: String,
    },
    /// A `dependsOn` condition ECS does not have.
    #[error("container '{container}' has an unknown dependsOn condition '{condition}'")]
    UnknownCondition {
        /// The container holding the dependency.
        container: String,
        /// The condition as written.
        condition: String,
    },
    /// Containers wait on each other in a circle.
    #[error("container '{container}' is part of a dependency cycle")]
    Cycle {
        /// One container on the cycle.
        container: String,
    },
}

/// Where a task-level request to the runtime stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    NotAsked,
    Asked,
    Done,
}

/// One ECS task: its containers' statuses, where it is going, and what has
/// been asked of the runtime. The only thing that changes them is
/// [`TaskMachine::handle`].
#[derive(Debug)]
pub struct TaskMachine {
    containers: Vec<Container>,
    status: TaskStatus,
    started: bool,
    desired_stopped: bool,
    stop: Option<StopReason>,
    provision: Step,
    cleanup: Step,
    times: TaskTimes,
    health: HealthStatus,
    reported: TaskReport,
}

impl TaskMachine {
    /// A machine for a task of these containers, in `PROVISIONING`, waiting
    /// for [`Event::Start`]. `desired` is the task's desired status: `STOPPED`
    /// for a task stopped before the agent got to it; anything else runs it.
    pub fn new(
        definitions: &[ContainerDefinition],
        desired: DesiredStatus,
    ) -> Result<Self, DefinitionError> {
        if definitions.is_empty() {
            return Err(DefinitionError::NoContainers);
        }
        let mut names: Vec<String> = Vec::with_capacity(definitions.len());
        for (index, definition) in definitions.iter().enumerate() {
            let name = definition.name.clone().filter(|name| !name.is_empty());
            let name = name.ok_or(DefinitionError::MissingName { index })?;
            if names.contains(&name) {
                return Err(DefinitionError::DuplicateName { name });
            }
            names.push(name);
        }
        let graph = dependencies::graph(definitions, &names)?;
        let containers = definitions
            .iter()
            .zip(names)
            .zip(graph)
            .map(|((definition, name), deps)| Container::new(definition, name, deps))
            .collect();
        let desired_stopped = desired == DesiredStatus::Stopped;
        let reported = TaskReport {
            status: TaskStatus::Provisioning,
            desired_status: if desired_stopped {
                DesiredStatus::Stopped
            } else {
                DesiredStatus::Running
            },
            health_status: HealthStatus::Unknown,
            stop: None,
            times: TaskTimes::default(),
        };
        Ok(Self {
            containers,
            status: reported.status,
            started: false,
            desired_stopped,
            stop: None,
            provision: Step::NotAsked,
            cleanup: Step::NotAsked,
            times: reported.times,
            health: HealthStatus::Unknown,
            reported,
        })
    }

    /// Takes in one event that happened at `now_ms` (milliseconds since the
    /// epoch) and returns what to do about it, in order: requests to the
    /// runtime, then container reports, then the task report, then cleanup.
    pub fn handle(&mut self, event: Event, now_ms: i64) -> Vec<Action> {
        let mut actions = Vec::new();
        if self.status.is_terminal() {
            return actions;
        }
        self.apply(event, now_ms);
        if !self.started && !self.desired_stopped {
            return actions;
        }
        self.settle(now_ms);
        self.ask(now_ms, &mut actions);
        self.record(now_ms);
        self.report_changes(&mut actions);
        actions
    }

    /// The task's `lastStatus`.
    pub fn status(&self) -> TaskStatus {
        self.status
    }

    /// The task as it would be reported now.
    pub fn report(&self) -> TaskReport {
        TaskReport {
            status: self.status,
            desired_status: if self.desired_stopped {
                DesiredStatus::Stopped
            } else {
                DesiredStatus::Running
            },
            health_status: self.health.clone(),
            stop: self.stop.clone(),
            times: self.times,
        }
    }

    /// A container as it would be reported now.
    pub fn container(&self, name: &str) -> Option<ContainerReport> {
        self.containers.iter().find(|c| c.name == name).map(Container::report)
    }

    /// Every container as it would be reported now, in definition order.
    pub fn containers(&self) -> impl Iterator<Item = ContainerReport> + '_ {
        self.containers.iter().map(Container::report)
    }

    /// When the next `startTimeout` expires, if one is running: the driver
    /// sends [`Event::Tick`] then, instead of polling.
    pub fn next_deadline(&self) -> Option<i64> {
        if !self.started || self.desired_stopped {
            return None;
        }
        dependencies::next_deadline(&self.containers)
    }

    fn apply(&mut self, event: Event, now_ms: i64) {
        let mut stop = None;
        match event {
            Event::Start => self.started = true,
            Event::StopRequested { reason } => stop = Some(reason),
            Event::Provisioned if self.provision == Step::Asked => self.provision = Step::Done,
            Event::ProvisionFailed { error } if self.provision == Step::Asked => {
                self.provision = Step::Done;
                stop = Some(StopReason::failed_to_start(&error));
            }
            Event::CleanedUp if self.cleanup == Step::Asked => self.cleanup = Step::Done,
            // Unasked, repeated or late answers; time passing is seen in settle.
            Event::Provisioned | Event::ProvisionFailed { .. } | Event::CleanedUp | Event::Tick => {
            }
            Event::ImagePulled { container } => {
                self.update(&container, ContainerStatus::Pulled, |c| {
                    c.known = ContainerStatus::Pulled
                });
            }
            Event::PullFailed { container, error } => {
                let reason = StopReason::failed_to_start(&error);
                if self.update(&container, ContainerStatus::Pulled, |c| c.fail(error)) {
                    stop = Some(reason);
                }
            }
            Event::Created { container, runtime_id } => {
                self.update(&container, ContainerStatus::Created, |c| {
                    c.known = ContainerStatus::Created;
                    c.runtime_id = Some(runtime_id);
                });
            }
            Event::CreateFailed { container, error } => {
                self.update(&container, ContainerStatus::Created, |c| c.fail(error));
            }
            Event::Started { container, network_bindings } => {
                self.update(&container, ContainerStatus::Running, |c| {
                    c.known = ContainerStatus::Running;
                    c.ran = true;
                    c.started_at = Some(now_ms);
                    c.network_bindings = network_bindings;
                });
            }
            Event::StartFailed { container, error } => {
                self.update(&container, ContainerStatus::Running, |c| c.fail(error));
            }
            Event::Exited { container, exit_code, oom_killed } => {
                self.update(&container, ContainerStatus::Stopped, |c| {
                    c.known = ContainerStatus::Stopped;
                    c.ran = true;
                    c.desired_stopped = true;
                    c.exit_code = Some(exit_code);
                    if oom_killed {
                        c.reason.get_or_insert(NamedError::OutOfMemory);
                    }
                });
            }
            Event::Vanished { container } => {
                self.update(&container, ContainerStatus::Stopped, |c| {
                    c.known = ContainerStatus::Stopped;
                    c.ran = true;
                    c.desired_stopped = true;
                    c.reason.get_or_insert(NamedError::ContainerVanished);
                });
            }
            Event::ProcessStarted { .. } => {}
            Event::Health { container, status } => {
                if let Some(c) = self.containers.iter_mut().find(|c| c.name == container) {
                    if c.has_health_check && c.known.is_running() {
                        c.health = status;
                    }
                }
            }
        }
        if let Some(reason) = stop {
            self.request_stop(Some(reason));
        }
    }

    /// Applies `change` to the named container unless it has already reached
    /// `reached` (the event is late or repeated) or nothing was ever asked of
    /// the runtime for it (the event is a stray); whether it applied.
    fn update(
        &mut self,
        name: &str,
        reached: ContainerStatus,
        change: impl FnOnce(&mut Container),
    ) -> bool {
        match self.containers.iter_mut().find(|c| c.name == name) {
            Some(c) if c.known < reached && c.applied > ContainerStatus::None => {
                change(c);
                true
            }
            _ => false,
        }
    }

    /// The task is to stop; the first reason known is the one kept.
    fn request_stop(&mut self, reason: Option<StopReason>) {
        self.desired_stopped = true;
        if self.stop.is_none() {
            self.stop = reason;
        }
    }

    /// Follows the consequences of the last event until nothing changes.
    fn settle(&mut self, now_ms: i64) {
        loop {
            let mut changed = false;
            if !self.desired_stopped {
                // An essential container down stops the task (task.go
                // `updateTaskDesiredStatusUnsafe`); so does every container down.
                if let Some(c) = self.containers.iter().find(|c| c.essential && c.desired_stopped) {
                    let reason = if c.ran {
                        Some(StopReason::essential_container_exited())
                    } else {
                        c.reason.as_ref().map(StopReason::failed_to_start)
                    };
                    self.request_stop(reason);
                    changed = true;
                } else if self.containers.iter().all(|c| c.known.is_terminal()) {
                    self.request_stop(None);
                    changed = true;
                }
            }
            let stopping = self.desired_stopped;
            for i in 0..self.containers.len() {
                let c = &self.containers[i];
                if stopping && !c.desired_stopped {
                    self.containers[i].desired_stopped = true;
                    changed = true;
                    continue;
                }
                if c.desired_stopped || c.known >= ContainerStatus::Running || c.awaiting_runtime()
                {
                    continue;
                }
                let step = c.next_start_step();
                if let Gate::Fail(error) = dependencies::gate(&self.containers, i, step, now_ms) {
                    let c = &mut self.containers[i];
                    c.fail(error);
                    c.exit_code = Some(NEVER_STARTED_EXIT_CODE);
                    changed = true;
                }
            }
            for c in &mut self.containers {
                // Nothing to stop: a container meant to stop that is not
                // running, and has no create or start under way, is stopped.
                if c.desired_stopped
                    && !c.known.is_terminal()
                    && !c.known.is_running()
                    && !c.awaiting_runtime()
                {
                    c.known = ContainerStatus::Stopped;
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        for c in &mut self.containers {
            c.applied = c.applied.max(c.known);
        }
    }

    /// Asks for every step the task and its containers may take now.
    fn ask(&mut self, now_ms: i64, actions: &mut Vec<Action>) {
        if self.started && !self.desired_stopped && self.provision == Step::NotAsked {
            self.provision = Step::Asked;
            actions.push(Action::Provision);
        }
        let provisioned = self.provision == Step::Done;
        for i in 0..self.containers.len() {
            let c = &self.containers[i];
            if c.known.is_terminal() || c.applied > c.known {
                continue;
            }
            let next = if c.desired_stopped {
                let may_stop =
                    c.known.is_running() && dependencies::dependents_stopped(&self.containers, i);
                may_stop.then_some(ContainerStatus::Stopped)
            } else if c.known == ContainerStatus::None {
                provisioned.then_some(ContainerStatus::Pulled)
            } else if c.known < ContainerStatus::Running {
                let step = c.next_start_step();
                let open = dependencies::gate(&self.containers, i, step, now_ms) == Gate::Open;
                open.then_some(step)
            } else {
                None
            };
            let Some(next) = next else { continue };
            let c = &mut self.containers[i];
            c.applied = next;
            let container = c.name.clone();
            actions.push(match next {
                ContainerStatus::Pulled => Action::Pull { container },
                ContainerStatus::Created => Action::Create { container },
                ContainerStatus::Running => Action::StartContainer { container },
                _ => Action::StopContainer { container, timeout: c.stop_timeout },
            });
            if next == ContainerStatus::Pulled {
                self.times.pull_started_at.get_or_insert(now_ms);
            }
        }
    }

    /// Derives the task's status, timestamps and health from its containers.
    fn record(&mut self, now_ms: i64) {
        let earliest =
            self.containers.iter().map(|c| c.known).min().unwrap_or(ContainerStatus::Stopped);
        let derived = if self.cleanup == Step::Done {
            TaskStatus::Stopped
        } else if earliest.is_terminal() && self.provision == Step::Asked {
            // Wait for the provisioning under way before releasing it.
            TaskStatus::Stopping
        } else if !self.desired_stopped && self.provision != Step::Done {
            TaskStatus::Provisioning
        } else {
            TaskStatus::from_earliest_container(earliest, self.desired_stopped)
        };
        if self.status.can_transition_to(derived) {
            self.status = derived;
        }
        let times = &mut self.times;
        if self.status == TaskStatus::Running {
            times.started_at.get_or_insert(now_ms);
        }
        if self.status >= TaskStatus::Stopping {
            times.stopping_at.get_or_insert(now_ms);
        }
        if self.status == TaskStatus::Stopped {
            times.stopped_at.get_or_insert(now_ms);
        }
        if self.containers.iter().any(|c| c.essential && c.known.is_terminal()) {
            times.execution_stopped_at.get_or_insert(now_ms);
        }
        let pulling = self
            .containers
            .iter()
            .any(|c| c.known == ContainerStatus::None && c.applied == ContainerStatus::Pulled);
        if times.pull_started_at.is_some() && !pulling {
            times.pull_stopped_at.get_or_insert(now_ms);
        }
        self.health = task_health(&self.containers);
    }

    /// Reports what the API would show differently, then asks for cleanup
    /// once every container has stopped.
    fn report_changes(&mut self, actions: &mut Vec<Action>) {
        for c in &mut self.containers {
            let report = c.report();
            if !report.same_state(&c.reported) {
                c.reported = report.clone();
                actions.push(Action::ReportContainer(report));
            }
        }
        let report = self.report();
        if !report.same_state(&self.reported) {
            self.reported = report.clone();
            actions.push(Action::ReportTask(report));
        }
        if self.status == TaskStatus::Deprovisioning && self.cleanup == Step::NotAsked {
            self.cleanup = Step::Asked;
            actions.push(Action::Cleanup);
        }
    }
}

/// A task's health from its essential containers' health checks: UNHEALTHY
/// if any is unhealthy, HEALTHY if all are healthy, else UNKNOWN
/// (DG:task_definition_parameters, `healthCheck`).
fn task_health(containers: &[Container]) -> HealthStatus {
    let mut checked = containers.iter().filter(|c| c.essential && c.has_health_check).peekable();
    if checked.peek().is_none() {
        return HealthStatus::Unknown;
    }
    let statuses: Vec<&HealthStatus> = checked.map(|c| &c.health).collect();
    if statuses.contains(&&HealthStatus::Unhealthy) {
        HealthStatus::Unhealthy
    } else if statuses.iter().all(|s| **s == HealthStatus::Healthy) {
        HealthStatus::Healthy
    } else {
        HealthStatus::Unknown
    }
}

#[cfg(test)]
mod tests;
