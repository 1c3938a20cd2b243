//! Simulated hosts, for scale runs: a fleet of container instances that
//! speak the agent's protocol to the server through the same
//! [`ServerLink`] a real agent uses (register, watch, heartbeat, report),
//! but run nothing. A task placed on a simulated host is reported `RUNNING`
//! after a start latency, and `STOPPED` a stop latency after the server
//! asks, with the reports a real agent sends (built by [`crate::wire`] from
//! the same [`TaskReport`] and [`ContainerReport`] values). One process
//! simulates thousands of hosts: a host is a tokio task holding a set of
//! task ARNs and a timer heap, not a state machine per container.
//!
//! Never in place of Docker in an end-to-end test: it exists so that the
//! control plane can be measured with more hosts than a machine can run.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, Semaphore};
use tokio::time::Instant;

use crate::agent::Finished;
use wharf_model::agent::{Assignment, Heartbeat, WatchEvent};
use wharf_model::clock::Clock;
use wharf_model::ecs::shapes::{DesiredStatus, HealthStatus, Task};
use wharf_model::ecs::status::{ContainerStatus, TaskStatus};

use crate::host::{self, HostIdentity, HostResources};
use crate::link::{LinkError, ServerLink};
use crate::report::{ContainerReport, TaskReport, TaskTimes};
use crate::stop::StopReason;
use crate::wire;

/// Exit code of a simulated container stopped by its stop signal (128 + SIGTERM).
const SIGTERM_EXIT: i32 = 143;
/// How many finished tasks a simulated host remembers, to ignore late
/// assignments of them (as the agent does).
const FINISHED_REMEMBERED: usize = 1024;
/// The heartbeat interval until the server names its own.
const FIRST_HEARTBEAT_INTERVAL: Duration = Duration::from_secs(1);

/// How the fleet is set up.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// The cluster every host joins (created if missing).
    pub cluster: String,
    /// How many hosts.
    pub instances: usize,
    /// What each host registers: CPU units and MiB of memory.
    pub resources: HostResources,
    /// The Availability Zones the hosts are spread over, round robin.
    pub availability_zones: Vec<String>,
    /// The instance type each host reports.
    pub instance_type: String,
    /// Custom attributes every host registers with (`name`, `value`).
    pub attributes: Vec<(String, Option<String>)>,
    /// How long after its assignment arrives a task is reported `RUNNING`.
    pub start_latency: Duration,
    /// How long after the server asks a task is reported `STOPPED`.
    pub stop_latency: Duration,
    /// How many hosts register at once.
    pub register_concurrency: usize,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            cluster: "default".into(),
            instances: 1,
            resources: HostResources { cpu: 4096, memory: 16_384 },
            availability_zones: vec!["us-east-1a".into(), "us-east-1b".into(), "us-east-1c".into()],
            instance_type: "wharf.sim".into(),
            attributes: Vec::new(),
            start_latency: Duration::from_millis(50),
            stop_latency: Duration::from_millis(50),
            register_concurrency: 32,
        }
    }
}

/// What the fleet has done so far, shared by its hosts.
#[derive(Debug, Default)]
pub struct SimCounters {
    /// Hosts registered.
    pub registered: AtomicU64,
    /// Tasks assigned to a host (each counted once).
    pub assigned: AtomicU64,
    /// Tasks reported `RUNNING`.
    pub running: AtomicU64,
    /// Tasks reported `STOPPED`.
    pub stopped: AtomicU64,
    /// Reports the server refused or that could not be delivered.
    pub failed_reports: AtomicU64,
}

/// A fleet of simulated hosts.
#[derive(Debug)]
pub struct Fleet {
    link: Arc<dyn ServerLink>,
    clock: Arc<dyn Clock>,
    config: SimConfig,
    counters: Arc<SimCounters>,
}

impl Fleet {
    /// A fleet talking to the server through `link`.
    pub fn new(link: Arc<dyn ServerLink>, clock: Arc<dyn Clock>, config: SimConfig) -> Self {
        Self { link, clock, config, counters: Arc::default() }
    }

    /// The fleet's counters (keep a clone to read them while it runs).
    pub fn counters(&self) -> Arc<SimCounters> {
        self.counters.clone()
    }

    /// Registers every host and runs them until `shutdown` completes. A host
    /// whose registration is refused for good stops the fleet with the error.
    pub async fn run(
        self,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> Result<(), LinkError> {
        let (failed_tx, mut failed_rx) = mpsc::unbounded_channel::<LinkError>();
        let gate = Arc::new(Semaphore::new(self.config.register_concurrency.max(1)));
        let mut hosts = tokio::task::JoinSet::new();
        for n in 0..self.config.instances {
            let host = SimHost {
                link: self.link.clone(),
                clock: self.clock.clone(),
                config: self.config.clone(),
                counters: self.counters.clone(),
                index: n,
            };
            let (gate, failed) = (gate.clone(), failed_tx.clone());
            hosts.spawn(async move {
                let arn = {
                    let _permit = gate.acquire().await;
                    match host.register().await {
                        Ok(arn) => arn,
                        Err(e) => {
                            let _ = failed.send(e);
                            return;
                        }
                    }
                };
                host.run(arn).await;
            });
        }
        drop(failed_tx);
        tokio::pin!(shutdown);
        let outcome = tokio::select! {
            () = &mut shutdown => Ok(()),
            Some(e) = failed_rx.recv() => Err(e),
        };
        hosts.abort_all();
        outcome
    }
}

/// One simulated host.
struct SimHost {
    link: Arc<dyn ServerLink>,
    clock: Arc<dyn Clock>,
    config: SimConfig,
    counters: Arc<SimCounters>,
    index: usize,
}

/// What happens to a task when its timer fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Due {
    Start,
    Stop,
}

/// A task on a simulated host.
struct SimTask {
    assignment: Assignment,
    /// `RUNNING` was reported.
    running: bool,
    /// The server asked for it to stop (a stop timer is set).
    stopping: bool,
    started_at: Option<i64>,
}

impl SimHost {
    /// Registers the host, retrying while the server is unavailable.
    async fn register(&self) -> Result<String, LinkError> {
        let zones = &self.config.availability_zones;
        let identity = HostIdentity {
            availability_zone: zones
                .get(self.index % zones.len().max(1))
                .cloned()
                .unwrap_or_default(),
            instance_type: Some(self.config.instance_type.clone()),
            address: None,
            attributes: self.config.attributes.clone(),
            // Plain EC2 hosts of the cluster: neither the Fargate pool nor an
            // Auto Scaling group.
            fargate: false,
            group: None,
            exec_endpoint: None,
        };
        let request =
            host::registration(&self.config.cluster, &self.config.resources, &identity, None, None);
        let mut backoff = Duration::from_millis(100);
        loop {
            match self.link.register(request.clone()).await {
                Ok(i) => {
                    self.counters.registered.fetch_add(1, Ordering::Relaxed);
                    return Ok(i.container_instance_arn.unwrap_or_default());
                }
                Err(LinkError::Unavailable(e)) => {
                    tracing::debug!(error = %e, "registration failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Watches, heartbeats and reports until aborted.
    async fn run(self, instance_arn: String) {
        let cluster = self.config.cluster.clone();
        let beats = tokio::spawn(heartbeats(self.link.clone(), cluster, instance_arn.clone()));
        let _beats = AbortOnDrop(beats);
        let mut watch = self.watch(&instance_arn).await;
        let mut tasks: HashMap<String, SimTask> = HashMap::new();
        let mut finished = Finished::new(FINISHED_REMEMBERED);
        let mut timers: BinaryHeap<Reverse<(Instant, Due, String)>> = BinaryHeap::new();
        loop {
            let next = timers.peek().map(|Reverse((at, _, _))| *at);
            tokio::select! {
                event = watch.recv() => match event {
                    Some(WatchEvent::Assigned(a)) => {
                        self.assign(*a, &mut tasks, &finished, &mut timers);
                    }
                    Some(WatchEvent::Synced) => {}
                    None => {
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        watch = self.watch(&instance_arn).await;
                    }
                },
                () = sleep_until(next) => {
                    let now = Instant::now();
                    while let Some(Reverse((at, _, _))) = timers.peek() {
                        if *at > now {
                            break;
                        }
                        let Some(Reverse((_, due, arn))) = timers.pop() else { break };
                        self.fire(due, &arn, &mut tasks, &mut finished);
                    }
                }
            }
        }
    }

    async fn watch(&self, instance_arn: &str) -> mpsc::Receiver<WatchEvent> {
        let mut backoff = Duration::from_millis(100);
        loop {
            match self.link.watch(&self.config.cluster, instance_arn).await {
                Ok(rx) => return rx,
                Err(e) => {
                    tracing::debug!(error = %e, "could not watch assignments; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
    }

    /// Takes in an assignment: a new task gets a start timer; a task the
    /// server now wants stopped gets a stop timer.
    fn assign(
        &self,
        a: Assignment,
        tasks: &mut HashMap<String, SimTask>,
        finished: &Finished,
        timers: &mut BinaryHeap<Reverse<(Instant, Due, String)>>,
    ) {
        let arn = a.task.task_arn.clone().unwrap_or_default();
        if finished.contains(&arn) {
            return;
        }
        let wants_stop = a.task.desired_status == Some(DesiredStatus::Stopped);
        let now = Instant::now();
        if let Some(t) = tasks.get_mut(&arn) {
            if wants_stop && !t.stopping {
                t.stopping = true;
                t.assignment = a;
                timers.push(Reverse((now + self.config.stop_latency, Due::Stop, arn)));
            }
            return;
        }
        if a.task.last_status == Some(TaskStatus::Stopped) {
            return;
        }
        self.counters.assigned.fetch_add(1, Ordering::Relaxed);
        let (due, after) = if wants_stop {
            (Due::Stop, self.config.stop_latency)
        } else {
            (Due::Start, self.config.start_latency)
        };
        tasks.insert(
            arn.clone(),
            SimTask { assignment: a, running: false, stopping: wants_stop, started_at: None },
        );
        timers.push(Reverse((now + after, due, arn)));
    }

    /// A timer fired: the task is reported `RUNNING`, or `STOPPED` and forgotten.
    fn fire(
        &self,
        due: Due,
        arn: &str,
        tasks: &mut HashMap<String, SimTask>,
        finished: &mut Finished,
    ) {
        let now = self.clock.now_millis();
        match due {
            Due::Start => {
                let Some(t) = tasks.get_mut(arn) else { return };
                if t.stopping || t.running {
                    return;
                }
                t.running = true;
                t.started_at = Some(now);
                let change = running_change(arn, &t.assignment, now);
                self.send(change, &self.counters.running);
            }
            Due::Stop => {
                let Some(t) = tasks.remove(arn) else { return };
                let change = stopped_change(arn, &t, now);
                self.send(change, &self.counters.stopped);
                finished.insert(arn.to_owned());
            }
        }
    }

    /// Delivers a report in the background, retrying while the server is
    /// unavailable, as the agent's drivers do.
    fn send(&self, change: Task, counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
        let (link, cluster, counters) =
            (self.link.clone(), self.config.cluster.clone(), self.counters.clone());
        tokio::spawn(async move {
            if crate::driver::deliver(&*link, &cluster, &change, Some(8)).await {
                return;
            }
            counters.failed_reports.fetch_add(1, Ordering::Relaxed);
        });
    }
}

/// Aborts a background task when dropped (when its host is aborted).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Sleeps until `at`, or forever without a timer.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Sends heartbeats at the interval the server names, forever.
async fn heartbeats(link: Arc<dyn ServerLink>, cluster: String, instance_arn: String) {
    let mut interval = FIRST_HEARTBEAT_INTERVAL;
    loop {
        let beat = Heartbeat { runtime_healthy: true, containers: None };
        match link.heartbeat(&cluster, &instance_arn, beat).await {
            Ok(reply) => interval = Duration::from_millis(reply.interval_ms.max(100)),
            Err(e) => tracing::debug!(error = %e, "heartbeat failed"),
        }
        tokio::time::sleep(interval).await;
    }
}

/// The names of the task's containers, and whether each has a health check.
fn containers(a: &Assignment) -> Vec<(String, bool)> {
    a.definition
        .container_definitions
        .iter()
        .flatten()
        .map(|c| (c.name.clone().unwrap_or_default(), c.health_check.is_some()))
        .collect()
}

/// The report of a task that reached `RUNNING`: every container running
/// (and healthy when it has a health check), as the agent reports it.
fn running_change(arn: &str, a: &Assignment, now: i64) -> Task {
    let listed = containers(a);
    let checked = listed.iter().any(|(_, h)| *h);
    let report = TaskReport {
        status: TaskStatus::Running,
        desired_status: DesiredStatus::Running,
        health_status: if checked { HealthStatus::Healthy } else { HealthStatus::Unknown },
        stop: None,
        times: TaskTimes {
            pull_started_at: Some(now),
            pull_stopped_at: Some(now),
            started_at: Some(now),
            ..TaskTimes::default()
        },
    };
    let id = wharf_model::arn::resource_id(arn, "task").0;
    let containers = listed
        .into_iter()
        .map(|(name, checked)| {
            wire::container_change(&ContainerReport {
                runtime_id: Some(format!("sim-{id}-{name}")),
                name,
                status: ContainerStatus::Running,
                exit_code: None,
                reason: None,
                health_status: if checked { HealthStatus::Healthy } else { HealthStatus::Unknown },
                network_bindings: Vec::new(),
            })
        })
        .collect();
    Task { containers: Some(containers), ..wire::task_change(arn, &report) }
}

/// The report of a task the server asked to stop, now `STOPPED` with its
/// containers exited by their stop signal.
fn stopped_change(arn: &str, t: &SimTask, now: i64) -> Task {
    let report = TaskReport {
        status: TaskStatus::Stopped,
        desired_status: DesiredStatus::Stopped,
        health_status: HealthStatus::Unknown,
        stop: Some(stop_reason(&t.assignment.task)),
        times: TaskTimes {
            started_at: t.started_at,
            stopping_at: Some(now),
            execution_stopped_at: Some(now),
            stopped_at: Some(now),
            ..TaskTimes::default()
        },
    };
    let containers = containers(&t.assignment)
        .into_iter()
        .map(|(name, _)| {
            wire::container_change(&ContainerReport {
                name,
                status: ContainerStatus::Stopped,
                exit_code: t.running.then_some(SIGTERM_EXIT),
                reason: None,
                health_status: HealthStatus::Unknown,
                runtime_id: None,
                network_bindings: Vec::new(),
            })
        })
        .collect();
    Task { containers: Some(containers), ..wire::task_change(arn, &report) }
}

/// Why the server stopped the task, as the agent reports it.
fn stop_reason(task: &Task) -> StopReason {
    crate::driver::requested_stop(task)
}
