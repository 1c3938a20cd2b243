//! Reads what the step looks at: a service's tasks, where its target groups
//! reach each of them, the groups' view of their health, the cluster's
//! instances, and the CloudWatch alarms its deployments watch.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use serde::Deserialize;
use wharf_model::ecs::service::{ServiceRecord, TargetRef};
use wharf_model::ecs::shapes::{
    ContainerInstance, HealthStatus, LoadBalancer, SchedulingStrategy, Task, TaskStopCode,
};
use wharf_model::ecs::status::InstanceStatus;
use wharf_model::elbv2::shapes::TargetHealthStateEnum;
use wharf_model::elbv2::{health, TargetGroupRecord, TargetRecord};
use wharf_model::wire::Timestamp;
use wharf_store::elb::ElbView;
use wharf_store::{Store, StoreError, StoredInstance, TaskQuery};

use super::step::{Observed, ObservedAlarm, ObservedInstance, ObservedTask, TargetState};
use wharf_model::cloudwatch::shapes::StateValue;

/// The most tasks of one service the scheduler reads.
const MAX_TASKS: usize = 100_000;

/// What the step reads of a task's document. The rest (containers,
/// attachments, overrides) is skipped, not built: a service's every task is
/// read on each of its reconciles.
#[derive(Debug, Deserialize)]
struct TaskFacts {
    #[serde(rename = "startedBy", default)]
    started_by: Option<String>,
    #[serde(rename = "healthStatus", default)]
    health_status: Option<HealthStatus>,
    #[serde(rename = "startedAt", default)]
    started_at: Option<Timestamp>,
    #[serde(rename = "createdAt", default)]
    created_at: Option<Timestamp>,
    #[serde(rename = "stopCode", default)]
    stop_code: Option<TaskStopCode>,
}

/// What a target group is, for turning tasks into targets.
#[derive(Debug, Clone)]
struct Group {
    ip: bool,
    delay_ms: i64,
}

/// Reads the step's view of one service.
pub async fn observe(
    store: &dyn Store,
    metrics: &wharf_ops::metrics::MetricStore,
    region: &str,
    rec: &ServiceRecord,
    now_ms: i64,
) -> Result<Observed, StoreError> {
    let cluster = rec.cluster_name().to_owned();
    let name = rec.service.service_name.clone().unwrap_or_default();
    let stored = store
        .list_tasks(
            region,
            TaskQuery {
                cluster: cluster.clone(),
                service: Some(name),
                limit: MAX_TASKS,
                ..TaskQuery::default()
            },
        )
        .await?;
    // Instances matter to DAEMON services (one task on each), to every
    // service with a task on an instance that takes no new tasks (it is
    // replaced), and to instance targets (their EC2 ids). Only a DAEMON
    // service reads every instance of the cluster; the others read the
    // cluster's instances that are not ACTIVE (usually none), and, behind a
    // load balancer, those their tasks are on.
    let daemon = rec.service.scheduling_strategy == Some(SchedulingStrategy::Daemon);
    let instances = if daemon {
        store.instance_records(region, &cluster, None).await?
    } else {
        store.instances_not_active(region, &cluster).await?
    };
    let groups_wanted: BTreeSet<String> = rec
        .deployments
        .values()
        .flat_map(|n| n.load_balancers.iter().filter_map(|l| l.target_group_arn.clone()))
        .collect();
    let ec2_ids = if groups_wanted.is_empty() {
        BTreeMap::new()
    } else if daemon {
        ec2_ids_of(&instances)
    } else {
        let on: BTreeSet<&String> = stored
            .iter()
            .filter(|t| t.instance_cluster.as_deref().is_none_or(|c| c == cluster))
            .filter_map(|t| t.instance_id.as_ref())
            .collect();
        let ids = on.into_iter().cloned().collect();
        ec2_ids_of(&store.instance_records(region, &cluster, Some(ids)).await?)
    };
    let (groups, targets) = read_groups(store, region, groups_wanted, now_ms).await?;
    let mut tasks = Vec::with_capacity(stored.len());
    for s in &stored {
        let Ok(facts) = serde_json::from_str::<TaskFacts>(&s.json) else {
            tracing::warn!(task = %s.id, "a stored task could not be read");
            continue;
        };
        let unit = facts.started_by;
        let lbs = unit
            .as_deref()
            .and_then(|u| rec.deployments.get(u))
            .map(|n| n.load_balancers.as_slice())
            .unwrap_or(&[]);
        // Only a task behind a load balancer has its containers read.
        let task_targets = if lbs.is_empty() {
            Vec::new()
        } else {
            let Ok(task) = serde_json::from_str::<Task>(&s.json) else {
                tracing::warn!(task = %s.id, "a stored task could not be read");
                continue;
            };
            let ec2 = s.instance_id.as_deref().and_then(|i| ec2_ids.get(i)).map(String::as_str);
            lbs.iter().filter_map(|lb| target_of(lb, &task, &groups, ec2)).collect()
        };
        tasks.push(ObservedTask {
            id: s.id.clone(),
            unit,
            last_status: s.last_status,
            desired_status: s.desired_status.clone(),
            health: facts.health_status,
            started_ms: facts.started_at.map(|t| t.as_millis()),
            created_ms: facts.created_at.map_or(0, |t| t.as_millis()),
            stop_code: facts.stop_code,
            instance_id: s.instance_id.clone(),
            targets: task_targets,
        });
    }
    let rules: Vec<String> = rec
        .service
        .load_balancers
        .iter()
        .flatten()
        .filter_map(|lb| lb.advanced_configuration.as_ref())
        .flat_map(|a| [a.production_listener_rule.clone(), a.test_listener_rule.clone()])
        .flatten()
        .collect();
    let forwards = match wharf_ops::traffic::forwards(store, region, rules).await {
        Ok(f) => f,
        Err(e) => {
            tracing::warn!(error = %e.message, "listener rules not read");
            BTreeMap::new()
        }
    };
    let config = rec.service.deployment_configuration.as_ref();
    let alarms = match wharf_model::ecs::service::watched_alarms(config) {
        Some((names, _)) => wharf_ops::alarms::watched(store, metrics, region, names, now_ms)
            .await?
            .into_iter()
            .map(|(name, a)| {
                let in_alarm = a.state.value == StateValue::Alarm;
                (name, ObservedAlarm { in_alarm, window_ms: a.window_ms })
            })
            .collect(),
        None => BTreeMap::new(),
    };
    Ok(Observed {
        tasks,
        targets,
        forwards,
        alarms,
        delays: groups.iter().map(|(k, g)| (k.clone(), g.delay_ms)).collect(),
        instances: instances
            .iter()
            .map(|u| ObservedInstance {
                id: u.id.clone(),
                active: u.status == InstanceStatus::Active,
            })
            .collect(),
    })
}

/// The EC2 instance ids of `instances`, by container instance id.
fn ec2_ids_of(instances: &[StoredInstance]) -> BTreeMap<String, String> {
    instances
        .iter()
        .filter_map(|u| {
            let ci: ContainerInstance = serde_json::from_str(&u.json).ok()?;
            Some((u.id.clone(), ci.ec2_instance_id?))
        })
        .collect()
}

type Groups = BTreeMap<String, Group>;
type Targets = BTreeMap<TargetRef, TargetState>;

async fn read_groups(
    store: &dyn Store,
    region: &str,
    wanted: BTreeSet<String>,
    now_ms: i64,
) -> Result<(Groups, Targets), StoreError> {
    if wanted.is_empty() {
        return Ok((BTreeMap::new(), BTreeMap::new()));
    }
    let out = Arc::new(Mutex::new((Groups::new(), Targets::new())));
    let out_in = out.clone();
    store
        .elb_read(
            region,
            Box::new(move |elb: &dyn ElbView| {
                let mut groups = Groups::new();
                let mut targets = Targets::new();
                for arn in wanted {
                    let Some(row) = elb.get(&arn)? else { continue };
                    let Ok(tg) = serde_json::from_str::<TargetGroupRecord>(&row.body) else {
                        continue;
                    };
                    let delay = tg.deregistration_delay_ms();
                    let ip =
                        tg.target_group.target_type.as_ref().is_some_and(|t| t.as_str() == "ip");
                    groups.insert(arn.clone(), Group { ip, delay_ms: delay });
                    let in_use = !elb.uses_of(&arn)?.is_empty();
                    for t in elb.targets(&arn)? {
                        let Ok(record) = serde_json::from_str::<TargetRecord>(&t.body) else {
                            continue;
                        };
                        let h = health::describe(Some(&record), in_use, delay, now_ms);
                        let state = match h.state {
                            Some(TargetHealthStateEnum::Healthy) => TargetState::Healthy,
                            Some(TargetHealthStateEnum::Initial) => TargetState::Initial,
                            Some(TargetHealthStateEnum::Unhealthy) => TargetState::Unhealthy(
                                h.description.unwrap_or_else(|| "Health checks failed".into()),
                            ),
                            _ => TargetState::Other,
                        };
                        targets.insert(
                            TargetRef { target_group_arn: arn.clone(), id: t.id, port: t.port },
                            state,
                        );
                    }
                }
                if let Ok(mut o) = out_in.lock() {
                    *o = (groups, targets);
                }
                Ok(())
            }),
        )
        .await?;
    let taken = out.lock().map(|mut o| std::mem::take(&mut *o)).unwrap_or_default();
    Ok(taken)
}

/// Where a load balancer's target group reaches a task: its address and the
/// container port (`ip` groups), or its instance and the host port the
/// container port is bound to (`instance` groups). `None` until known.
fn target_of(
    lb: &LoadBalancer,
    task: &Task,
    groups: &Groups,
    ec2_instance_id: Option<&str>,
) -> Option<TargetRef> {
    let arn = lb.target_group_arn.clone()?;
    let group = groups.get(&arn)?;
    let port = lb.container_port?;
    let container = task
        .containers
        .iter()
        .flatten()
        .find(|c| c.name.is_some() && c.name == lb.container_name)?;
    if group.ip {
        let ip = container
            .network_interfaces
            .iter()
            .flatten()
            .find_map(|n| n.private_ipv4_address.clone())
            .or_else(|| {
                task.attachments.iter().flatten().flat_map(|a| a.details.iter().flatten()).find_map(
                    |d| {
                        (d.name.as_deref() == Some("privateIPv4Address"))
                            .then(|| d.value.clone())
                            .flatten()
                    },
                )
            })?;
        return Some(TargetRef { target_group_arn: arn, id: ip, port });
    }
    let host_port = container
        .network_bindings
        .iter()
        .flatten()
        .find(|b| b.container_port == Some(port))
        .and_then(|b| b.host_port)?;
    Some(TargetRef { target_group_arn: arn, id: ec2_instance_id?.to_owned(), port: host_port })
}
