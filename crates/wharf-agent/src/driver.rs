//! One ECS task on this host: the owner of its [`TaskMachine`].
//!
//! The driver feeds the machine three kinds of input: events the agent
//! routes to it (the server wants the task stopped, Docker says a container
//! died or changed health), the answers of the runtime calls it started, and
//! the deadline the machine asked to be woken at. Each action the machine
//! returns becomes one runtime call, run concurrently with the others; the
//! driver itself never waits on Docker, so a stop request is seen at once
//! even while an image pulls. Reports go out in order through one reporter.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio::sync::mpsc;
use wharf_model::agent::{Assignment, LogDestination};
use wharf_model::clock::Clock;
use wharf_model::ecs::resolved::ResolvedTask;
use wharf_model::ecs::shapes::{
    ContainerDefinition, DesiredStatus, NetworkBinding, Task, TaskStopCode, TransportProtocol,
};
use wharf_model::ecs::status::AttachmentStatus;

use crate::event::{Action, Event};
use crate::link::{LinkError, ServerLink};
use crate::machine::TaskMachine;
use crate::pause::PAUSE_CONTAINER_NAME;
use crate::provision::{self, Provisioned};
use crate::pull_progress::PullTally;
use crate::runtime::{ContainerInfo, ContainerState, Runtime, RuntimeError};
use crate::s3::S3Endpoint;
use crate::spec::{self, NetworkAttachment, TaskContext};
use crate::stats::{ContainerLabels, ContainerStats};
use crate::stop::{NamedError, StopReason};
use crate::{awslogs, awsvpc, cleanup, metadata, wire};

/// How long a stopping task waits for its containers' awslogs output to be stored.
const LOG_FLUSH_TIMEOUT: Duration = Duration::from_secs(10);
/// How often a running pull's progress is told to the server.
const PULL_PROGRESS_INTERVAL: Duration = Duration::from_millis(250);

/// Where Docker events for a container go: its task's driver, and its name
/// in the task definition.
#[derive(Debug, Clone)]
pub(crate) struct Route {
    /// The driver's inbox.
    pub(crate) inbox: mpsc::UnboundedSender<Event>,
    /// The container's name in the task definition.
    pub(crate) container: String,
}

/// Docker container ID → route, shared by the agent and its drivers.
pub(crate) type Routes = Arc<Mutex<HashMap<String, Route>>>;

/// What every driver shares.
#[derive(Debug, Clone)]
pub(crate) struct Shared {
    pub(crate) runtime: Arc<dyn Runtime>,
    pub(crate) link: Arc<dyn ServerLink>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) routes: Routes,
    /// Whether a present image is pulled again (`ECS_IMAGE_PULL_BEHAVIOR=always`).
    pub(crate) always_pull: bool,
    /// How long a stopped task's containers stay for inspection.
    pub(crate) cleanup_wait: Duration,
    /// Where `environmentFiles` of type `s3` are read from.
    pub(crate) s3: Option<S3Endpoint>,
    /// The task metadata endpoint's registry, when it is served.
    pub(crate) metadata: Option<metadata::Registry>,
    /// The containers whose stats are sampled, when anyone reads them.
    pub(crate) stats: Option<ContainerStats>,
    /// The DNS servers of containers whose definition names none.
    pub(crate) dns_servers: Arc<[String]>,
    /// This host's container instance ARN.
    pub(crate) instance_arn: String,
    /// How the awsvpc network is made (the instance's slice), once the
    /// server has said; `None`: Docker's own addresses.
    pub(crate) network: tokio::sync::watch::Receiver<Option<crate::hostnet::NetworkSpec>>,
    /// Turns true when the agent shuts down: log shippers stop (the next
    /// agent resumes them where the server's cursor says).
    pub(crate) stopping: tokio::sync::watch::Receiver<bool>,
}

/// The answer of one runtime call.
enum Outcome {
    Provisioned(Result<Provisioned, NamedError>),
    Pulled(String, Result<(), NamedError>),
    Created(String, Result<String, NamedError>),
    Started(String, Result<ContainerInfo, NamedError>),
    /// A container an earlier agent ran is gone from the host.
    Vanished(String),
    /// A stop finished; `Some` when the container turned out to be gone
    /// already, so no Docker event will say it exited.
    Stopped(String, Option<(i32, bool)>),
    CleanedUp,
}

type Call = Pin<Box<dyn Future<Output = Outcome> + Send>>;

/// The stop the server asked for, in the machine's terms.
pub(crate) fn requested_stop(task: &Task) -> StopReason {
    let code = task.stop_code.clone().unwrap_or(TaskStopCode::UserInitiated);
    match &task.stopped_reason {
        Some(message) => StopReason::new(code, message.clone()),
        None if code == TaskStopCode::UserInitiated => StopReason::user(None),
        None => StopReason::new(code, ""),
    }
}

/// One task's driver.
pub(crate) struct TaskDriver {
    shared: Shared,
    assignment: Assignment,
    task_arn: String,
    task_id: String,
    /// Container definitions with RunTask's overrides applied.
    definitions: Vec<ContainerDefinition>,
    machine: TaskMachine,
    docker_names: HashMap<String, String>,
    docker_ids: HashMap<String, String>,
    provisioned: Option<Provisioned>,
    reports: mpsc::UnboundedSender<Task>,
    /// A sender to this driver's own inbox, for routes.
    inbox: mpsc::UnboundedSender<Event>,
    /// Containers of this task found on the host after a restart, by name:
    /// adopted instead of created again.
    adopted: HashMap<String, ContainerInfo>,
    /// Containers an earlier agent created (the server knows their Docker
    /// ID) that are no longer on the host: reported vanished, never created
    /// again.
    vanished: Vec<String>,
    /// Containers whose `awslogs` output is being shipped, each with the
    /// signal that tells its shipper the container has stopped.
    shipping: HashMap<String, tokio::sync::watch::Sender<bool>>,
    /// The shippers themselves: the task is reported STOPPED only once they
    /// have stored the last of their containers' output (or
    /// [`LOG_FLUSH_TIMEOUT`] passed), as Docker's awslogs driver flushes
    /// when its container stops.
    shippers: Vec<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for TaskDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskDriver").field("task_arn", &self.task_arn).finish_non_exhaustive()
    }
}

impl TaskDriver {
    /// A driver for a newly assigned task whose events arrive on the
    /// receiver of `inbox`; or why the machine refuses its definition.
    pub(crate) fn new(
        shared: Shared,
        assignment: Assignment,
        inbox: mpsc::UnboundedSender<Event>,
        adopted: HashMap<String, ContainerInfo>,
    ) -> Result<Self, String> {
        // RunTask's overrides applied to the definition, read as placement
        // read them: the containers are bounded by what the task was placed
        // with.
        let mut assignment = assignment;
        assignment.definition =
            ResolvedTask::new(&assignment.definition, assignment.task.overrides.as_ref())
                .definition;
        let vanished = assignment
            .task
            .containers
            .as_deref()
            .unwrap_or(&[])
            .iter()
            .filter(|c| c.runtime_id.is_some())
            .filter_map(|c| c.name.clone())
            .filter(|name| !adopted.contains_key(name))
            .collect();
        let task_arn = assignment.task.task_arn.clone().unwrap_or_default();
        let task_id = wharf_model::arn::resource_id(&task_arn, "task").0.to_owned();
        let definitions: Vec<ContainerDefinition> =
            assignment.definition.container_definitions.clone().unwrap_or_default();
        let desired = if assignment.task.desired_status == Some(DesiredStatus::Stopped) {
            DesiredStatus::Stopped
        } else {
            DesiredStatus::Running
        };
        let machine = TaskMachine::new(&definitions, desired).map_err(|e| e.to_string())?;
        let family = assignment.definition.family.clone().unwrap_or_default();
        let revision = assignment.definition.revision.unwrap_or(0);
        let docker_names = definitions
            .iter()
            .filter_map(|d| d.name.clone())
            .map(|n| {
                let docker = spec::docker_name(&family, revision, &n, &task_id);
                (n, docker)
            })
            .collect();
        if let Some(registry) = &shared.metadata {
            registry.add_task(&assignment, &shared.instance_arn);
        }
        let reports = spawn_reporter(
            shared.link.clone(),
            shared.metadata.clone(),
            assignment.cluster.clone(),
        );
        Ok(Self {
            shared,
            assignment,
            task_arn,
            task_id,
            definitions,
            machine,
            docker_names,
            docker_ids: HashMap::new(),
            provisioned: None,
            reports,
            inbox,
            adopted,
            vanished,
            shipping: HashMap::new(),
            shippers: Vec::new(),
        })
    }

    /// Runs the task to `STOPPED`, taking events from `inbox`.
    pub(crate) async fn run(mut self, mut inbox: mpsc::UnboundedReceiver<Event>) {
        let mut calls: FuturesUnordered<Call> = FuturesUnordered::new();
        let first = if self.assignment.task.desired_status == Some(DesiredStatus::Stopped) {
            Event::StopRequested { reason: requested_stop(&self.assignment.task) }
        } else {
            Event::Start
        };
        self.step(first, &mut calls);
        loop {
            if self.machine.status().is_terminal() && calls.is_empty() {
                break;
            }
            let deadline = self.machine.next_deadline().map(|at| {
                let wait = at.saturating_sub(self.shared.clock.now_millis()).max(0);
                tokio::time::Instant::now() + Duration::from_millis(wait as u64)
            });
            let sleep = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                event = inbox.recv() => match event {
                    Some(event) => self.step(event, &mut calls),
                    // The agent is shutting down: leave the containers as
                    // they are, to be adopted by the next agent.
                    None => return,
                },
                Some(outcome) = calls.next(), if !calls.is_empty() => {
                    for event in self.absorb(outcome) {
                        self.step(event, &mut calls);
                    }
                }
                () = sleep => self.step(Event::Tick, &mut calls),
            }
        }
        if let Ok(mut routes) = self.shared.routes.lock() {
            routes.retain(|_, r| !r.inbox.same_channel(&self.inbox));
        }
        if let Some(registry) = &self.shared.metadata {
            registry.remove_task(&self.task_arn);
        }
        if let Some(stats) = &self.shared.stats {
            self.docker_ids.values().for_each(|id| stats.unwatch(id));
        }
        let containers: Vec<String> = self.docker_ids.values().cloned().collect();
        if self.provisioned.as_ref().is_some_and(|p| p.cgroup_parent.is_some()) {
            // Its containers have stopped: their cgroups are gone, and so can
            // the task's be.
            let (runtime, task_id) = (self.shared.runtime.clone(), self.task_id.clone());
            tokio::spawn(async move { runtime.remove_task_cgroup(&task_id).await });
        }
        let volumes = self.provisioned.map(|p| p.task_volumes).unwrap_or_default();
        cleanup::schedule(
            self.shared.runtime.clone(),
            self.shared.cleanup_wait,
            containers,
            volumes,
        );
    }

    /// Feeds one event to the machine and starts what it asks for.
    fn step(&mut self, event: Event, calls: &mut FuturesUnordered<Call>) {
        if let Event::ProcessStarted { container } | Event::Exited { container, .. } = &event {
            // Docker tells of a start (and of a quick container's exit)
            // before the start call answers: ship the output from then, so
            // its lines are not held back, and so the task's cleanup (which
            // an exit may start) waits for them.
            if let Some(id) = self.docker_ids.get(container).cloned() {
                self.ship_logs(container, &id);
            }
        }
        if let Event::Exited { container, .. } | Event::Vanished { container } = &event {
            if let Some(stop) = self.shipping.get(container) {
                let _ = stop.send(true);
            }
            if let (Some(stats), Some(id)) = (&self.shared.stats, self.docker_ids.get(container)) {
                stats.unwatch(id);
            }
        }
        let now = self.shared.clock.now_millis();
        let actions = self.machine.handle(event, now);
        let mut change: Option<Task> = None;
        for action in actions {
            match action {
                Action::ReportTask(report) => {
                    let t = wire::task_change(&self.task_arn, &report);
                    let containers = change.take().and_then(|c| c.containers);
                    change = Some(Task { containers, ..t });
                }
                Action::ReportContainer(report) => {
                    let c = wire::container_change(&report);
                    let t = change.get_or_insert_with(|| Task {
                        task_arn: Some(self.task_arn.clone()),
                        ..Task::default()
                    });
                    t.containers.get_or_insert_with(Vec::new).push(c);
                }
                other => {
                    if let Some(call) = self.call(other) {
                        calls.push(call);
                    }
                }
            }
        }
        if let Some(change) = change {
            let _ = self.reports.send(change);
        }
    }

    /// Takes in a runtime call's answer; the events it means for the machine.
    fn absorb(&mut self, outcome: Outcome) -> Vec<Event> {
        vec![match outcome {
            Outcome::Provisioned(Ok(p)) => {
                if let Some(network) = &p.network {
                    let _ = self.reports.send(awsvpc::report(
                        &self.assignment,
                        network,
                        AttachmentStatus::Attached,
                    ));
                }
                self.provisioned = Some(p);
                Event::Provisioned
            }
            Outcome::Provisioned(Err(error)) => Event::ProvisionFailed { error },
            Outcome::Pulled(container, Ok(())) => Event::ImagePulled { container },
            Outcome::Pulled(container, Err(error)) => Event::PullFailed { container, error },
            Outcome::Created(container, Ok(id)) => {
                self.route(&id, &container);
                if let Some(registry) = &self.shared.metadata {
                    let docker_name =
                        self.docker_names.get(&container).cloned().unwrap_or_default();
                    registry.container_created(&self.task_arn, &container, &id, &docker_name);
                }
                self.docker_ids.insert(container.clone(), id.clone());
                Event::Created { container, runtime_id: id }
            }
            Outcome::Created(container, Err(error)) => Event::CreateFailed { container, error },
            Outcome::Started(container, Ok(info)) => {
                self.ship_logs(&container, &info.id);
                self.sample_stats(&container, &info);
                if let Some(registry) = &self.shared.metadata {
                    let docker_name =
                        self.docker_names.get(&container).cloned().unwrap_or_default();
                    registry.container_started(&self.task_arn, &container, &info, &docker_name);
                }
                let started = Event::Started {
                    container: container.clone(),
                    network_bindings: bindings(&info),
                };
                // An adopted container that exited while no agent watched.
                if let ContainerState::Exited { exit_code, oom_killed } = info.state {
                    return vec![started, Event::Exited { container, exit_code, oom_killed }];
                }
                started
            }
            Outcome::Started(container, Err(error)) => Event::StartFailed { container, error },
            Outcome::Stopped(container, Some((exit_code, oom_killed))) => {
                Event::Exited { container, exit_code, oom_killed }
            }
            Outcome::Vanished(container) => Event::Vanished { container },
            Outcome::Stopped(_, None) => return vec![],
            Outcome::CleanedUp => Event::CleanedUp,
        }]
    }

    /// Has a running container's stats sampled, when anyone reads them.
    fn sample_stats(&self, container: &str, info: &ContainerInfo) {
        let Some(stats) = &self.shared.stats else { return };
        if info.state != ContainerState::Running || container == PAUSE_CONTAINER_NAME {
            return;
        }
        let family = self.assignment.definition.family.as_deref().unwrap_or_default();
        let revision = self.assignment.definition.revision.unwrap_or(0);
        let labels = ContainerLabels {
            cluster: self.assignment.cluster.clone(),
            task_id: self.task_id.clone(),
            container: container.to_owned(),
            task_definition: format!("{family}:{revision}"),
        };
        stats.watch(&info.id, labels);
    }

    /// Sends Docker's events for container `id` to this driver.
    fn route(&self, id: &str, container: &str) {
        if let Ok(mut routes) = self.shared.routes.lock() {
            routes.insert(
                id.to_owned(),
                Route { inbox: self.inbox.clone(), container: container.to_owned() },
            );
        }
    }

    /// The runtime call for an action.
    fn call(&mut self, action: Action) -> Option<Call> {
        let runtime = self.shared.runtime.clone();
        match action {
            Action::Provision => {
                let link = self.shared.link.clone();
                let (assignment, definitions, task_id) =
                    (self.assignment.clone(), self.definitions.clone(), self.task_id.clone());
                let pause = self.adopted.get(PAUSE_CONTAINER_NAME).cloned();
                let s3 = self.shared.s3.clone();
                let dns = self.shared.dns_servers.clone();
                let network = self.shared.network.borrow().clone();
                let instance_arn = self.shared.instance_arn.clone();
                Some(Box::pin(async move {
                    let r = provision::provision(
                        &*runtime,
                        &*link,
                        &assignment,
                        &definitions,
                        &task_id,
                        pause.as_ref(),
                        provision::Settings {
                            s3: s3.as_ref(),
                            dns: &dns,
                            network: network.as_ref(),
                            instance_arn: &instance_arn,
                        },
                    )
                    .await;
                    Outcome::Provisioned(r)
                }))
            }
            Action::Pull { container } if self.vanished.contains(&container) => {
                Some(Box::pin(async move { Outcome::Vanished(container) }))
            }
            Action::Pull { container } if self.adopted.contains_key(&container) => {
                Some(Box::pin(async move { Outcome::Pulled(container, Ok(())) }))
            }
            Action::Create { container } if self.adopted.contains_key(&container) => {
                let id = self.adopted[&container].id.clone();
                Some(Box::pin(async move { Outcome::Created(container, Ok(id)) }))
            }
            Action::StartContainer { container }
                if self
                    .adopted
                    .get(&container)
                    .is_some_and(|i| i.state != ContainerState::Created) =>
            {
                let id = self.adopted[&container].id.clone();
                Some(Box::pin(async move {
                    // Inspect again: it may have exited since it was listed.
                    let r = runtime
                        .inspect_container(&id)
                        .await
                        .map_err(|e| NamedError::CannotStartContainer(e.to_string()));
                    Outcome::Started(container, r)
                }))
            }
            Action::Pull { container } => {
                let def = self.definition(&container)?.clone();
                let (link, always) = (self.shared.link.clone(), self.shared.always_pull);
                let task_arn = self.assignment.task.task_arn.clone().unwrap_or_default();
                Some(Box::pin(async move {
                    let r = pull(&*runtime, &*link, &task_arn, &def, always).await;
                    Outcome::Pulled(container, r)
                }))
            }
            Action::Create { container } => {
                let def = self.definition(&container)?.clone();
                let name = self.docker_names.get(&container).cloned().unwrap_or_default();
                // Docker checks a log driver's options when it creates the
                // container, and refuses it in these words.
                let config = match awslogs::options::of_container(&def) {
                    Some(Err(e)) => Err(format!("Error response from daemon: {e}")),
                    _ => self.config(&def),
                };
                Some(Box::pin(async move {
                    let r = match config {
                        Ok(config) => runtime
                            .create_container(&name, config)
                            .await
                            .map_err(|e| NamedError::CannotCreateContainer(e.to_string())),
                        Err(e) => Err(NamedError::CannotCreateContainer(e)),
                    };
                    Outcome::Created(container, r)
                }))
            }
            Action::StartContainer { container } => {
                let id = self.docker_ids.get(&container).cloned().unwrap_or_default();
                let logs = self.log_destination(&container, &id);
                let link = self.shared.link.clone();
                Some(Box::pin(async move {
                    if let Some((destination, options)) = logs {
                        if let Err(e) = prepare_logs(&*link, &destination, &options).await {
                            return Outcome::Started(container, Err(e));
                        }
                    }
                    let r = runtime.start_container(&id).await.map_err(|e| match e {
                        RuntimeError::Timeout { .. } => NamedError::ContainerRuntimeTimeout(
                            format!("Could not transition to started; {e}"),
                        ),
                        other => NamedError::CannotStartContainer(other.to_string()),
                    });
                    Outcome::Started(container, r)
                }))
            }
            Action::StopContainer { container, timeout } => {
                let id = self.docker_ids.get(&container).cloned();
                Some(Box::pin(async move {
                    let Some(id) = id else {
                        return Outcome::Stopped(container, Some((137, false)));
                    };
                    match runtime.stop_container(&id, timeout).await {
                        Ok(()) => Outcome::Stopped(container, None),
                        Err(RuntimeError::NotFound(_)) => {
                            Outcome::Stopped(container, Some((137, false)))
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, container, "stopping a container failed");
                            // Docker's die event, or adoption after a restart,
                            // still tells how it ended.
                            Outcome::Stopped(container, None)
                        }
                    }
                }))
            }
            Action::Cleanup => {
                let network = self.provisioned.as_ref().and_then(|p| p.network.clone());
                let (reports, assignment) = (self.reports.clone(), self.assignment.clone());
                let shippers = std::mem::take(&mut self.shippers);
                Some(Box::pin(async move {
                    let flushed = futures_util::future::join_all(shippers);
                    if tokio::time::timeout(LOG_FLUSH_TIMEOUT, flushed).await.is_err() {
                        tracing::warn!(
                            "a container's awslogs output is not all stored yet; the task stops anyway"
                        );
                    }
                    if let Some(network) = network {
                        awsvpc::release(&*runtime, &network).await;
                        let _ = reports.send(awsvpc::report(
                            &assignment,
                            &network,
                            AttachmentStatus::Deleted,
                        ));
                    }
                    Outcome::CleanedUp
                }))
            }
            Action::ReportContainer(_) | Action::ReportTask(_) => None,
        }
    }

    /// Where a container's `awslogs` output goes, and its options; `None`
    /// for another log driver.
    fn log_destination(
        &self,
        container: &str,
        docker_id: &str,
    ) -> Option<(LogDestination, awslogs::AwsLogsOptions)> {
        let options = awslogs::options::of_container(self.definition(container)?)?.ok()?;
        let region = match &options.region {
            Some(r) => r.clone(),
            // The task's own region, as the ECS agent passes it.
            None => {
                wharf_model::arn::parse(&self.task_arn).map_or("us-east-1", |a| a.region).to_owned()
            }
        };
        let stream = options.stream_name(container, &self.task_id, docker_id);
        let destination = LogDestination { region, group: options.group.clone(), stream };
        Some((destination, options))
    }

    /// Starts shipping a started container's `awslogs` output, once.
    fn ship_logs(&mut self, container: &str, docker_id: &str) {
        if self.shipping.contains_key(container) {
            return;
        }
        let Some((destination, options)) = self.log_destination(container, docker_id) else {
            return;
        };
        let (stop, stopped) = tokio::sync::watch::channel(false);
        self.shipping.insert(container.to_owned(), stop);
        let config = awslogs::ShipperConfig {
            container_id: docker_id.to_owned(),
            destination,
            options,
            stopped,
        };
        let (runtime, link, clock) =
            (self.shared.runtime.clone(), self.shared.link.clone(), self.shared.clock.clone());
        let mut stopping = self.shared.stopping.clone();
        self.shippers.push(tokio::spawn(async move {
            tokio::select! {
                () = awslogs::ship(runtime, link, clock, config) => {}
                _ = stopping.wait_for(|s| *s) => {}
            }
        }));
    }

    fn definition(&self, name: &str) -> Option<&ContainerDefinition> {
        self.definitions.iter().find(|d| d.name.as_deref() == Some(name))
    }

    /// Docker's create body for a container.
    fn config(
        &self,
        def: &ContainerDefinition,
    ) -> Result<crate::runtime::ContainerCreateBody, String> {
        let empty = Provisioned::default();
        let p = self.provisioned.as_ref().unwrap_or(&empty);
        let name = def.name.clone().unwrap_or_default();
        let mut extra_env = p.env.get(&name).cloned().unwrap_or_default();
        if let Some(registry) = &self.shared.metadata {
            extra_env.extend(registry.container_env(&self.task_arn, &name));
        }
        let network = match (&p.network, self.assignment.definition.network_mode.as_ref()) {
            (Some(n), _) => NetworkAttachment::Container(n.pause_id.clone()),
            (None, Some(m)) if m.as_str() == "host" => NetworkAttachment::Host,
            (None, Some(m)) if m.as_str() == "none" => NetworkAttachment::None,
            _ => NetworkAttachment::Bridge,
        };
        let ctx = TaskContext {
            task_arn: &self.task_arn,
            cluster: &self.assignment.cluster,
            instance_arn: &self.shared.instance_arn,
            definition: &self.assignment.definition,
            docker_names: &self.docker_names,
            volume_names: &p.volumes,
            extra_env: &extra_env,
            network,
            cgroup_parent: p.cgroup_parent.as_deref(),
            default_dns: &self.shared.dns_servers,
        };
        spec::container_config(&ctx, def).map_err(|e| e.to_string())
    }
}

/// Makes a container's log stream (and group, with `awslogs-create-group`)
/// exist before it starts, as Docker's awslogs driver does when the
/// container starts; its refusal in Docker's words.
async fn prepare_logs(
    link: &dyn ServerLink,
    destination: &LogDestination,
    options: &awslogs::AwsLogsOptions,
) -> Result<(), NamedError> {
    if !options.create_stream {
        return Ok(());
    }
    let mut backoff = Duration::from_millis(100);
    for _ in 0..8 {
        match link.prepare_log_stream(destination, options.create_group).await {
            Ok(()) => return Ok(()),
            Err(LinkError::Refused(e)) => {
                let what = if options.create_group && !e.starts_with("ResourceNotFound") {
                    "log group"
                } else {
                    "log stream"
                };
                return Err(NamedError::CannotStartContainer(format!(
                    "Error response from daemon: failed to initialize logging driver: \
                     failed to create Cloudwatch {what}: {e}"
                )));
            }
            Err(LinkError::Unavailable(_)) => {
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
    Err(NamedError::CannotStartContainer(
        "Error response from daemon: failed to initialize logging driver: \
         the log store could not be reached"
            .to_owned(),
    ))
}

/// Port bindings as `networkBindings`.
fn bindings(info: &ContainerInfo) -> Vec<NetworkBinding> {
    info.ports
        .iter()
        .map(|p| NetworkBinding {
            bind_ip: Some(p.host_ip.clone()),
            container_port: Some(i32::from(p.container_port)),
            host_port: Some(i32::from(p.host_port)),
            protocol: Some(if p.protocol == "udp" {
                TransportProtocol::Udp
            } else {
                TransportProtocol::Tcp
            }),
            ..NetworkBinding::default()
        })
        .collect()
}

/// Makes a container's image present: pulled unless already here (or
/// always, when so configured), with `repositoryCredentials` resolved
/// through the server.
async fn pull(
    runtime: &dyn Runtime,
    link: &dyn ServerLink,
    task_arn: &str,
    def: &ContainerDefinition,
    always: bool,
) -> Result<(), NamedError> {
    let image = def.image.clone().unwrap_or_default();
    let present = runtime.image_present(&image).await.unwrap_or(false);
    if present && !always {
        return Ok(());
    }
    let auth =
        match def.repository_credentials.as_ref().and_then(|r| r.credentials_parameter.as_ref()) {
            Some(parameter) => Some(provision::registry_auth(link, task_arn, parameter).await?),
            None => None,
        };
    let container = def.name.clone().unwrap_or_default();
    let tally = std::sync::Mutex::new(PullTally::default());
    let report = |done: bool| {
        let tally = tally.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        tally.report(task_arn, &container, &image, done)
    };
    let on_progress = |p: crate::runtime::PullProgress| {
        tally.lock().unwrap_or_else(std::sync::PoisonError::into_inner).apply(&p);
    };
    let pulling = runtime.pull_image(&image, auth.as_ref(), &on_progress);
    let reporting = async {
        loop {
            tokio::time::sleep(PULL_PROGRESS_INTERVAL).await;
            let _ = link.pull_progress(report(false)).await;
        }
    };
    let result = tokio::select! {
        r = pulling => r,
        () = reporting => unreachable!("the reporting loop never ends"),
    };
    let _ = link.pull_progress(report(true)).await;
    match result {
        Ok(()) => Ok(()),
        // With a cached copy, a failed pull is not fatal (the ECS agent's
        // default pull behaviour).
        Err(_) if present => Ok(()),
        Err(e) => Err(NamedError::CannotPullContainer(e.to_string())),
    }
}

/// Starts the task's reporter: reports are sent in order, each retried
/// while the server is unreachable; the metadata endpoint sees each first.
fn spawn_reporter(
    link: Arc<dyn ServerLink>,
    metadata: Option<metadata::Registry>,
    cluster: String,
) -> mpsc::UnboundedSender<Task> {
    let (tx, mut rx) = mpsc::unbounded_channel::<Task>();
    tokio::spawn(async move {
        while let Some(change) = rx.recv().await {
            if let (Some(registry), Some(arn)) = (&metadata, change.task_arn.as_deref()) {
                registry.report(arn, &change);
            }
            deliver(&*link, &cluster, &change, None).await;
        }
    });
    tx
}

/// Sends one task report, retrying with backoff (100 ms doubling to 5 s)
/// while the server is unavailable, at most `attempts` times if given;
/// whether the server took it. A refusal is logged and not retried.
pub(crate) async fn deliver(
    link: &dyn ServerLink,
    cluster: &str,
    change: &Task,
    attempts: Option<usize>,
) -> bool {
    let mut backoff = Duration::from_millis(100);
    let mut tried = 0;
    while attempts.is_none_or(|n| tried < n) {
        tried += 1;
        match link.report(cluster, change.clone()).await {
            Ok(()) => return true,
            Err(LinkError::Refused(e)) => {
                tracing::warn!(error = %e, "the server refused a task report");
                return false;
            }
            Err(LinkError::Unavailable(e)) => {
                tracing::debug!(error = %e, "report not delivered; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
    false
}
