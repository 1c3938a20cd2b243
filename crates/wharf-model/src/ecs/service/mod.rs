//! Services as the store keeps them, and the rules of ECS's service scheduler
//! that the API and the scheduler share: deployment ids and texts, the
//! rolling bounds, the circuit breaker's threshold.
//!
//! A service is one record: the `Service` wire shape DescribeServices answers
//! (its `deployments[]`, counts and `events[]` included), beside what the
//! scheduler needs to remember between its steps (per deployment: its load
//! balancers and failure count; per task: whether it is being drained and
//! which targets it holds). The API writes the first part when a user asks
//! for something; the scheduler reads the record, the service's tasks and its
//! targets, and writes both parts back in one atomic update.

pub mod deployment;
pub mod registries;
pub mod shift;
pub mod task_set;
pub mod validate;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::shapes::{
    CapacityProviderStrategyItem, Deployment, DeploymentConfiguration, DeploymentControllerType,
    DeploymentRolloutState, LaunchType, LoadBalancer, NetworkConfiguration, SchedulingStrategy,
    Service, ServiceDeployment, ServiceDeploymentAlarms, ServiceDeploymentRollbackMonitorsStatus,
    ServiceRevision, TaskStopCode,
};
use super::status::{DeploymentStatus, ServiceStatus};
use crate::wire::Timestamp;
use crate::{EcsError, EcsErrorKind};

/// Service events kept, newest first (ECS shows the 100 most recent).
pub const MAX_EVENTS: usize = 100;
/// How long a repeated event message stays quiet (ECS: six hours).
pub const EVENT_QUIET_MS: i64 = 6 * 3600 * 1000;
/// How long a task with no container health check must have been RUNNING
/// before it counts as healthy, when no load balancer decides instead.
pub const UNCHECKED_HEALTHY_AFTER_MS: i64 = 40_000;
/// How long an INACTIVE (deleted) service stays describable.
pub const INACTIVE_KEPT_MS: i64 = 3600 * 1000;
/// The longest a failing service waits between launch attempts.
pub const MAX_THROTTLE_MS: i64 = 15 * 60 * 1000;
/// Service deployments kept for DescribeServiceDeployments, oldest dropped.
pub const MAX_HISTORY: usize = 100;

/// A service as the store keeps it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceRecord {
    /// The `Service` shape as DescribeServices answers it (tags aside: they
    /// are kept with the other tags, by ARN).
    pub service: Service,
    /// What the scheduler knows of each deployment in `service.deployments`
    /// (and of the last completed one, for a rollback), by deployment id.
    #[serde(default)]
    pub deployments: BTreeMap<String, DeploymentNotes>,
    /// The last deployment that reached COMPLETED, kept after its tasks are
    /// gone so that the circuit breaker can roll back to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_completed: Option<Deployment>,
    /// What the scheduler is doing with each task it has acted on, by task ID.
    #[serde(default)]
    pub tasks: BTreeMap<String, TaskNotes>,
    /// The ServiceDeployment records (DescribeServiceDeployments), oldest
    /// first, at most [`MAX_HISTORY`].
    #[serde(default)]
    pub history: Vec<ServiceDeployment>,
    /// The service revisions the deployments deployed (DescribeServiceRevisions).
    #[serde(default)]
    pub revisions: Vec<ServiceRevision>,
    /// Launch throttling after tasks that never reached RUNNING.
    #[serde(default)]
    pub throttle: Throttle,
    /// When each recently emitted event message was emitted, for ECS's
    /// six-hour de-duplication.
    #[serde(default)]
    pub event_times: BTreeMap<String, i64>,
    /// Whether the last step found the service in a steady state.
    #[serde(default)]
    pub steady: bool,
    /// When the service became INACTIVE (ms), to forget it an hour later.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inactive_ms: Option<i64>,
    /// Where the ids of its deployments and task sets come from.
    #[serde(default)]
    pub unit_ids: UnitIds,
}

/// What one deployment or task set of a service runs.
#[derive(Debug, Clone, PartialEq)]
pub struct UnitRuns {
    /// Its task definition's ARN.
    pub task_definition: Option<String>,
    /// Its launch type.
    pub launch_type: Option<LaunchType>,
    /// Its network configuration.
    pub network: Option<NetworkConfiguration>,
    /// Its capacity provider strategy.
    pub capacity_provider_strategy: Option<Vec<CapacityProviderStrategyItem>>,
    /// Its Fargate platform version.
    pub platform_version: Option<String>,
}

/// The sequence a service draws its deployment and task set ids from (they
/// share one namespace: a task set's id is a deployment id). Kept in the
/// record, so no id is handed out twice, across restarts too.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UnitIds {
    /// Drawn at random for the service's first id: where its sequence
    /// starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub salt: Option<u64>,
    /// How many ids the sequence has handed out.
    #[serde(default)]
    pub issued: u64,
}

impl ServiceRecord {
    /// The name of the cluster the service runs in (from its cluster ARN;
    /// `default` when the record names none).
    pub fn cluster_name(&self) -> &str {
        crate::arn::cluster_name(self.service.cluster_arn.as_deref().unwrap_or("default"))
    }

    /// A deployment or task set id this service has never had: the next one
    /// of its sequence (whose start is `random`, the first time), skipping
    /// any id the record still holds (records written before the sequence
    /// existed).
    pub fn new_unit_id(&mut self, random: u64) -> String {
        let salt = *self.unit_ids.salt.get_or_insert(random);
        loop {
            let id = deployment_id(salt, self.unit_ids.issued);
            self.unit_ids.issued = self.unit_ids.issued.wrapping_add(1);
            if !self.holds_unit_id(&id) {
                return id;
            }
        }
    }

    /// What deployment or task set `unit` runs; `None` if the service has
    /// no such unit.
    pub fn unit_runs(&self, unit: &str) -> Option<UnitRuns> {
        let s = &self.service;
        let is = |id: &Option<String>| id.as_deref() == Some(unit);
        let deployment = s.deployments.iter().flatten().filter(|d| is(&d.id)).map(|d| UnitRuns {
            task_definition: d.task_definition.clone().or_else(|| s.task_definition.clone()),
            launch_type: d.launch_type.clone().or_else(|| s.launch_type.clone()),
            network: d.network_configuration.clone().or_else(|| s.network_configuration.clone()),
            capacity_provider_strategy: d
                .capacity_provider_strategy
                .clone()
                .filter(|c| !c.is_empty())
                .or_else(|| s.capacity_provider_strategy.clone().filter(|c| !c.is_empty()))
                .filter(|_| d.launch_type.is_none()),
            platform_version: d.platform_version.clone().or_else(|| s.platform_version.clone()),
        });
        let task_set = s.task_sets.iter().flatten().filter(|t| is(&t.id)).map(|t| UnitRuns {
            task_definition: t.task_definition.clone(),
            launch_type: t.launch_type.clone(),
            network: t.network_configuration.clone(),
            capacity_provider_strategy: t
                .capacity_provider_strategy
                .clone()
                .filter(|c| !c.is_empty()),
            platform_version: t.platform_version.clone(),
        });
        deployment.chain(task_set).next()
    }

    /// Whether a deployment, task set or scheduler note of the record
    /// carries `id`.
    fn holds_unit_id(&self, id: &str) -> bool {
        let is = |d: Option<&String>| d.is_some_and(|d| d == id);
        self.service.deployments.iter().flatten().any(|d| is(d.id.as_ref()))
            || self.service.task_sets.iter().flatten().any(|t| is(t.id.as_ref()))
            || self.deployments.contains_key(id)
            || self.last_completed.as_ref().is_some_and(|d| is(d.id.as_ref()))
    }
}

/// What the scheduler keeps about one deployment beyond its wire shape.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentNotes {
    /// The load balancers its tasks register with.
    #[serde(default)]
    pub load_balancers: Vec<LoadBalancer>,
    /// Whether an essential container of its task definition has a health
    /// check (then a task is healthy only once Docker says so).
    #[serde(default)]
    pub health_checked: bool,
    /// Consecutive failed tasks, for the circuit breaker.
    #[serde(default)]
    pub failures: u32,
    /// The ARN of its ServiceDeployment record.
    #[serde(default)]
    pub service_deployment_arn: String,
    /// The ARN of the service revision it deploys.
    #[serde(default)]
    pub service_revision_arn: String,
    /// Where a blue/green, linear or canary deployment stands (none for a
    /// rolling one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shift: Option<shift::Shift>,
    /// Since when (ms) it has been settled (its tasks all running and
    /// healthy, nothing else left), while it bakes under watched alarms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settled_ms: Option<i64>,
}

/// What the scheduler is doing with one task.
///
/// A service keeps one per task it has acted on, so a record of 1,000 tasks
/// holds 1,000 of them, rewritten with it: fields at their defaults are left
/// out of the stored document (and read back as defaults).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskNotes {
    /// The targets it was registered as, in its deployment's target groups.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<TargetRef>,
    /// Set once the scheduler decided to stop it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopping: Option<Stopping>,
    /// Whether its end has been counted (failure count, throttle).
    #[serde(default, skip_serializing_if = "is_false")]
    pub counted: bool,
    /// Whether it was ever seen healthy.
    #[serde(default, skip_serializing_if = "is_false")]
    pub was_healthy: bool,
    /// Whether it was ever seen RUNNING.
    #[serde(default, skip_serializing_if = "is_false")]
    pub seen_running: bool,
}

/// Whether a flag is unset: such flags are left out of stored documents.
fn is_false(flag: &bool) -> bool {
    !*flag
}

/// One registered target.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetRef {
    /// The target group's ARN.
    pub target_group_arn: String,
    /// The target's id: an instance id (`instance` groups) or an IP (`ip`).
    pub id: String,
    /// The port.
    pub port: i32,
}

/// A scheduler-initiated stop in progress: the task is deregistered from its
/// target groups and drains until `stop_after_ms`, then its desired status
/// becomes STOPPED with this reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Stopping {
    /// `stoppedReason`.
    pub reason: String,
    /// `stopCode`.
    pub stop_code: TaskStopCode,
    /// When the task may be stopped (ms): now, or the end of draining.
    pub stop_after_ms: i64,
    /// Whether its desired status has been set to STOPPED.
    #[serde(default)]
    pub stop_sent: bool,
}

/// Launch throttling (ECS's "service throttle logic").
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Throttle {
    /// Tasks in a row that went from PENDING to STOPPED without RUNNING.
    #[serde(default)]
    pub consecutive: u32,
    /// No launch before this time (ms).
    #[serde(default)]
    pub not_before_ms: i64,
}

impl Throttle {
    /// The wait after `consecutive` failures in a row: none for the first
    /// two, then 10 s doubling up to [`MAX_THROTTLE_MS`].
    pub fn delay_ms(consecutive: u32) -> i64 {
        if consecutive < 3 {
            return 0;
        }
        let shift = (consecutive - 3).min(16);
        (10_000i64 << shift).min(MAX_THROTTLE_MS)
    }
}

/// The smallest 19-digit number: ECS's deployment ids have 19 digits.
const UNIT_ID_FLOOR: u64 = 1_000_000_000_000_000_000;
/// How many 19-digit numbers there are.
const UNIT_ID_SPAN: u64 = 9_000_000_000_000_000_000;
/// The step between consecutive ids of one sequence: coprime to
/// [`UNIT_ID_SPAN`] (= 2^18 · 3^2 · 5^18), so the first `UNIT_ID_SPAN` steps
/// land on distinct numbers, and near the golden ratio of it, so that
/// consecutive ids look unrelated.
const UNIT_ID_STRIDE: u64 = 5_562_305_898_749_053_957;

/// The `seq`-th deployment id of the sequence that starts at `salt`:
/// `ecs-svc/` and a 19-digit decimal number, as ECS prints them. `salt` is
/// mapped uniformly onto the 19-digit range (not clamped), and distinct
/// `seq` give distinct ids for any one `salt`.
pub fn deployment_id(salt: u64, seq: u64) -> String {
    let span = u128::from(UNIT_ID_SPAN);
    let start = (u128::from(salt) * span) >> 64;
    let step = u128::from(seq) * u128::from(UNIT_ID_STRIDE) % span;
    let n = (start + step) % span;
    format!("ecs-svc/{}", u128::from(UNIT_ID_FLOOR) + n)
}

/// `rolloutStateReason` of a deployment that has started.
pub fn in_progress_reason(id: &str) -> String {
    format!("ECS deployment {id} in progress.")
}

/// `rolloutStateReason` of a deployment that reached a steady state.
pub fn completed_reason(id: &str) -> String {
    format!("ECS deployment {id} completed.")
}

/// `rolloutStateReason` of a deployment the circuit breaker failed.
pub const FAILED_REASON: &str = "ECS deployment circuit breaker: tasks failed to start.";

/// `rolloutStateReason` of a deployment failed by its CloudWatch alarms.
pub fn alarm_failed_reason(alarms: &[String]) -> String {
    format!("ECS deployment failed: alarm(s) {} in ALARM state.", alarms.join(", "))
}

/// The alarms a deployment watches (`deploymentConfiguration.alarms` with
/// `enable`), and whether their going off rolls it back; `None` when it
/// watches none. Only deployments of the ECS controller watch alarms.
pub fn watched_alarms(config: Option<&DeploymentConfiguration>) -> Option<(&[String], bool)> {
    let alarms = config?.alarms.as_ref()?;
    if alarms.enable != Some(true) {
        return None;
    }
    let names = alarms.alarm_names.as_deref().filter(|n| !n.is_empty())?;
    Some((names, alarms.rollback == Some(true)))
}

/// What a new ServiceDeployment says of the alarms it watches: MONITORING
/// with their names when `deploymentConfiguration.alarms` is enabled,
/// DISABLED otherwise.
pub fn deployment_alarms(config: Option<&DeploymentConfiguration>) -> ServiceDeploymentAlarms {
    let names = config.and_then(|c| c.alarms.as_ref()).and_then(|a| a.alarm_names.clone());
    let status = if watched_alarms(config).is_some() {
        ServiceDeploymentRollbackMonitorsStatus::Monitoring
    } else {
        ServiceDeploymentRollbackMonitorsStatus::Disabled
    };
    ServiceDeploymentAlarms {
        status: Some(status),
        alarm_names: names,
        triggered_alarm_names: None,
    }
}

/// `statusReason` of a service deployment StopServiceDeployment asked to
/// roll back.
pub const ROLLBACK_REQUESTED_REASON: &str = "A rollback of the service deployment was requested.";

/// `rolloutStateReason` of a deployment a StopServiceDeployment rolled back.
pub const STOPPED_REASON: &str = "ECS deployment stopped: a rollback was requested.";

/// `rolloutStateReason` of the deployment a rollback reactivates.
pub fn rollback_reason(id: &str) -> String {
    format!("ECS deployment circuit breaker: rolling back to deploymentId {id}.")
}

/// The circuit breaker's failure threshold for a desired count:
/// ⌈desired / 2⌉ bounded to 3..=200.
pub fn failure_threshold(desired: i32) -> u32 {
    let half = (i64::from(desired.max(0)) + 1) / 2;
    half.clamp(3, 200) as u32
}

/// The rolling bounds of a deployment: (most tasks allowed at once, fewest
/// healthy tasks to keep), from `maximumPercent` (rounded down) and
/// `minimumHealthyPercent` (rounded up).
pub fn rolling_bounds(desired: i32, config: Option<&DeploymentConfiguration>) -> (i64, i64) {
    let (max_pct, min_pct) = percents(config, &SchedulingStrategy::Replica);
    let d = i64::from(desired.max(0));
    let max = d * i64::from(max_pct) / 100;
    let min = (d * i64::from(min_pct) + 99) / 100;
    (max, min)
}

/// `(maximumPercent, minimumHealthyPercent)` with ECS's defaults for the
/// strategy: 200/100 for REPLICA, 100/0 for DAEMON.
pub fn percents(
    config: Option<&DeploymentConfiguration>,
    strategy: &SchedulingStrategy,
) -> (i32, i32) {
    let (dmax, dmin) = match strategy {
        SchedulingStrategy::Daemon => (100, 0),
        _ => (200, 100),
    };
    (
        config.and_then(|c| c.maximum_percent).unwrap_or(dmax),
        config.and_then(|c| c.minimum_healthy_percent).unwrap_or(dmin),
    )
}

/// Whether the circuit breaker is on, and whether it rolls back.
pub fn circuit_breaker(config: Option<&DeploymentConfiguration>) -> (bool, bool) {
    let cb = config.and_then(|c| c.deployment_circuit_breaker.as_ref());
    (cb.and_then(|c| c.enable).unwrap_or(false), cb.and_then(|c| c.rollback).unwrap_or(false))
}

/// A new PRIMARY deployment, IN_PROGRESS, as CreateService and a
/// deployment-starting UpdateService add it. The caller fills in what the
/// service's configuration says (task definition, launch type, network).
pub fn new_deployment(id: &str, desired: i32, now_ms: i64) -> Deployment {
    Deployment {
        id: Some(id.to_owned()),
        status: Some(DeploymentStatus::Primary),
        desired_count: Some(desired),
        pending_count: Some(0),
        running_count: Some(0),
        failed_tasks: Some(0),
        created_at: Some(Timestamp::from_millis(now_ms)),
        updated_at: Some(Timestamp::from_millis(now_ms)),
        rollout_state: Some(DeploymentRolloutState::InProgress),
        rollout_state_reason: Some(in_progress_reason(id)),
        ..Deployment::default()
    }
}

/// The record's key in the store: `<cluster>/<service name>`.
pub fn key(cluster: &str, name: &str) -> String {
    format!("{cluster}/{name}")
}

/// `group` of a service's tasks.
pub fn task_group(name: &str) -> String {
    format!("service:{name}")
}

/// `ServiceNotFoundException`.
pub fn service_not_found() -> EcsError {
    EcsError::new(EcsErrorKind::ServiceNotFoundException, "Service not found.")
}

/// `ServiceNotActiveException`.
pub fn service_not_active() -> EcsError {
    EcsError::new(EcsErrorKind::ServiceNotActiveException, "Service was not ACTIVE.")
}

/// `TaskSetNotFoundException`.
pub fn task_set_not_found() -> EcsError {
    EcsError::new(EcsErrorKind::TaskSetNotFoundException, "The specified task set does not exist.")
}

/// Whether a service is gone for good: INACTIVE for longer than ECS keeps
/// it describable.
pub fn forgotten(r: &ServiceRecord, now: i64) -> bool {
    r.service.status == Some(ServiceStatus::Inactive)
        && r.inactive_ms.is_some_and(|t| now - t > INACTIVE_KEPT_MS)
}

/// Whether a service still holds its name: ACTIVE or DRAINING.
pub fn is_live(r: &ServiceRecord) -> bool {
    matches!(r.service.status, Some(ServiceStatus::Active | ServiceStatus::Draining))
}

/// Whether a service uses the EXTERNAL deployment controller (task sets).
pub fn is_external(s: &Service) -> bool {
    s.deployment_controller.as_ref().and_then(|c| c.r#type.as_ref())
        == Some(&DeploymentControllerType::External)
}

/// Whether a service uses the CODE_DEPLOY deployment controller.
pub fn is_code_deploy(s: &Service) -> bool {
    s.deployment_controller.as_ref().and_then(|c| c.r#type.as_ref())
        == Some(&DeploymentControllerType::CodeDeploy)
}

/// Whether a service's tasks belong to task sets (EXTERNAL and CODE_DEPLOY)
/// rather than deployments.
pub fn uses_task_sets(s: &Service) -> bool {
    is_external(s) || is_code_deploy(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_service_names_its_cluster_by_its_arn_or_default() {
        let mut rec = ServiceRecord::default();
        assert_eq!(rec.cluster_name(), "default");
        rec.service.cluster_arn = Some("arn:aws:ecs:us-east-1:000000000000:cluster/prod".into());
        assert_eq!(rec.cluster_name(), "prod");
    }

    /// A task's notes at their defaults take no room in the stored record,
    /// every set field survives the round trip, and notes written in full
    /// (by earlier versions) still read.
    #[test]
    fn task_notes_store_only_what_is_set() {
        assert_eq!(serde_json::to_string(&TaskNotes::default()).unwrap(), "{}");
        let running = TaskNotes { seen_running: true, ..TaskNotes::default() };
        assert_eq!(serde_json::to_string(&running).unwrap(), r#"{"seenRunning":true}"#);
        let full = TaskNotes {
            targets: vec![TargetRef {
                target_group_arn: "tg".into(),
                id: "10.0.0.1".into(),
                port: 80,
            }],
            stopping: Some(Stopping {
                reason: "scaling in".into(),
                stop_code: TaskStopCode::ServiceSchedulerInitiated,
                stop_after_ms: 5,
                stop_sent: true,
            }),
            counted: true,
            was_healthy: true,
            seen_running: true,
        };
        let json = serde_json::to_string(&full).unwrap();
        assert_eq!(serde_json::from_str::<TaskNotes>(&json).unwrap(), full);
        let earlier = r#"{"targets":[],"counted":false,"wasHealthy":true,"seenRunning":true}"#;
        let read: TaskNotes = serde_json::from_str(earlier).unwrap();
        assert_eq!(
            read,
            TaskNotes { was_healthy: true, seen_running: true, ..TaskNotes::default() }
        );
    }

    #[test]
    fn threshold_is_half_the_desired_count_within_3_and_200() {
        assert_eq!(failure_threshold(1), 3);
        assert_eq!(failure_threshold(6), 3);
        assert_eq!(failure_threshold(7), 4);
        assert_eq!(failure_threshold(25), 13);
        assert_eq!(failure_threshold(400), 200);
        assert_eq!(failure_threshold(800), 200);
    }

    #[test]
    fn rolling_bounds_round_as_ecs_says() {
        let cfg = |max, min| DeploymentConfiguration {
            maximum_percent: Some(max),
            minimum_healthy_percent: Some(min),
            ..Default::default()
        };
        assert_eq!(rolling_bounds(4, Some(&cfg(200, 50))), (8, 2));
        assert_eq!(rolling_bounds(2, Some(&cfg(200, 75))), (4, 2));
        assert_eq!(rolling_bounds(3, Some(&cfg(125, 100))), (3, 3));
        assert_eq!(rolling_bounds(10, None), (20, 10));
    }

    /// splitmix64: a fixed stream of draws, so the properties below are
    /// checked over the same many values every run.
    fn draws(n: usize) -> impl Iterator<Item = u64> {
        let mut z = 0x5eed_u64;
        std::iter::repeat_with(move || {
            z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut x = z;
            x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            x ^ (x >> 31)
        })
        .take(n)
    }

    fn digits(id: &str) -> u64 {
        let d = id.strip_prefix("ecs-svc/").expect("prefix");
        assert_eq!(d.len(), 19, "{id}");
        d.parse().expect("digits")
    }

    #[test]
    fn deployment_ids_look_like_ecs_ones() {
        for (salt, seq) in [(0, 0), (u64::MAX, 0), (u64::MAX, u64::MAX), (0, u64::MAX)] {
            let n = digits(&deployment_id(salt, seq));
            assert!((UNIT_ID_FLOOR..=UNIT_ID_FLOOR + (UNIT_ID_SPAN - 1)).contains(&n));
        }
    }

    #[test]
    fn the_stride_walks_the_whole_range() {
        fn gcd(a: u64, b: u64) -> u64 {
            if b == 0 {
                a
            } else {
                gcd(b, a % b)
            }
        }
        assert_eq!(gcd(UNIT_ID_STRIDE, UNIT_ID_SPAN), 1);
    }

    /// Over 200,000 random salts the first id of a sequence is spread evenly
    /// over the 19-digit range: each tenth of it gets its share (no value
    /// piles up at an end, as the clamp once put 1 in 9 on 10^18), and no
    /// two salts a draw apart give the same id.
    #[test]
    fn first_ids_spread_evenly_over_the_range() {
        const N: usize = 200_000;
        let mut buckets = [0usize; 10];
        let mut seen = std::collections::HashSet::new();
        for salt in draws(N) {
            let n = digits(&deployment_id(salt, 0)) - UNIT_ID_FLOOR;
            buckets[(n / (UNIT_ID_SPAN / 10)) as usize] += 1;
            seen.insert(n);
        }
        for (i, b) in buckets.iter().enumerate() {
            assert!((N / 10 * 95 / 100..N / 10 * 105 / 100).contains(b), "tenth {i}: {b}");
        }
        assert_eq!(seen.len(), N, "two salts gave the same first id");
    }

    /// For many random salts, a service's first 2,000 ids are all distinct:
    /// the sequence, not luck, keeps them apart.
    #[test]
    fn one_sequence_never_repeats_an_id() {
        for salt in draws(100) {
            let ids: std::collections::HashSet<String> =
                (0..2_000).map(|seq| deployment_id(salt, seq)).collect();
            assert_eq!(ids.len(), 2_000, "salt {salt}");
        }
    }

    /// The bug this guards against: two deployments whose random draws
    /// coincide. The record draws once and then walks its sequence, so the
    /// same draw every time still gives a new id every time, and the
    /// sequence survives a round trip through the store.
    #[test]
    fn coinciding_draws_still_give_new_ids() {
        for draw in [0, 1, u64::MAX, 0x1234_5678_9abc_def0] {
            let mut rec = ServiceRecord::default();
            let a = rec.new_unit_id(draw);
            let b = rec.new_unit_id(draw);
            let json = serde_json::to_string(&rec).expect("json");
            let mut back: ServiceRecord = serde_json::from_str(&json).expect("json");
            let c = back.new_unit_id(draw);
            assert!(a != b && b != c && a != c, "{a} {b} {c}");
        }
    }

    /// A record from before the sequence (no `unitIds`) that already holds
    /// the sequence's next id skips it.
    #[test]
    fn ids_the_record_holds_are_skipped() {
        let mut rec = ServiceRecord::default();
        let taken = deployment_id(7, 0);
        rec.deployments.insert(taken.clone(), DeploymentNotes::default());
        let fresh = rec.new_unit_id(7);
        assert_ne!(fresh, taken);
        assert_eq!(fresh, deployment_id(7, 1));
    }

    #[test]
    fn throttle_waits_longer_each_time_up_to_15_minutes() {
        assert_eq!(Throttle::delay_ms(2), 0);
        assert_eq!(Throttle::delay_ms(3), 10_000);
        assert_eq!(Throttle::delay_ms(4), 20_000);
        assert_eq!(Throttle::delay_ms(40), MAX_THROTTLE_MS);
    }
}
