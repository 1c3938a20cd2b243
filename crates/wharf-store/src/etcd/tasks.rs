//! Tasks and container instances in etcd.
//!
//! A task is one key (`task/<region>/<cluster>/<id>`) whose value is a
//! one-line header (what listings filter on) and the task's JSON. An
//! instance is one key (`ci/...`) with its status and JSON. Beside each
//! instance, `cit/<region>/<cluster>/<id>` lists the tasks on it that are
//! not yet `STOPPED`, each with what it holds; every write that places a
//! task or moves one's status rewrites it in the same transaction, so a
//! placement compares one key per instance it uses instead of scanning
//! tasks, and two servers cannot both give away the same resources.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use wharf_model::ecs::launch::{Launch, Placement};
use wharf_model::ecs::placement::TaskGroups;
use wharf_model::ecs::shapes::DesiredStatus;
use wharf_model::ecs::status::{InstanceStatus, TaskStatus};
use wharf_model::ids;
use wharf_model::EcsError;

use super::cache::State;
use super::keys::{key, prefix};
use super::store::{add_tags, corrupt, envelope, open_envelope, tag_key};
use super::writer::Tx;
use crate::tasks::{
    DecideInstance, DecideTask, InstanceStatusCount, InstanceUsage, NewTask, StatusCounts,
    StoredInstance, StoredTask, TaskQuery, TaskStatusCount, TaskUpdate,
};
use crate::StoreError;

/// Stopped tasks purged per transaction.
pub(super) const PURGE_CHUNK: usize = 40;

/// A task's header.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct TaskMeta {
    arn: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) instance: Option<String>,
    /// The instance's cluster when it is not the task's (a Fargate task on a
    /// host of the pool).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) instance_cluster: Option<String>,
    family: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    started_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) service: Option<String>,
    last: TaskStatus,
    desired: DesiredStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    stopped_ms: Option<i64>,
}

impl TaskMeta {
    /// The header of a task's value.
    pub(super) fn read(value: &str) -> Result<Self, StoreError> {
        serde_json::from_str(open_envelope(value).0).map_err(|e| corrupt("task", e))
    }

    /// The cluster of the task's instance, if it has one: its own cluster
    /// unless the header names another.
    pub(super) fn host_cluster(&self, task_cluster: &str) -> Option<String> {
        self.instance.as_ref()?;
        Some(self.instance_cluster.clone().unwrap_or_else(|| task_cluster.to_owned()))
    }
}

/// What a task not yet stopped holds on its instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Held {
    cpu: i64,
    memory: i64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    ports: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    group: Option<String>,
    last: TaskStatus,
    /// The task's cluster when it is not the instance's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cluster: Option<String>,
}

type OnInstance = BTreeMap<String, Held>;

#[derive(Debug, Serialize, Deserialize)]
struct InstanceHeader {
    status: InstanceStatus,
}

fn task_key(region: &str, cluster: &str, id: &str) -> String {
    key(&["task", region, cluster, id])
}

fn instance_key(region: &str, cluster: &str, id: &str) -> String {
    key(&["ci", region, cluster, id])
}

fn held_key(region: &str, cluster: &str, id: &str) -> String {
    key(&["cit", region, cluster, id])
}

fn read_held(value: Option<&str>) -> Result<OnInstance, StoreError> {
    match value {
        Some(v) => serde_json::from_str(v).map_err(|e| corrupt("instance's task list", e)),
        None => Ok(OnInstance::new()),
    }
}

fn write_held(tx: &mut Tx<'_>, k: String, held: &OnInstance) -> Result<(), StoreError> {
    if held.is_empty() {
        tx.delete(k);
    } else {
        tx.put(k, serde_json::to_string(held).map_err(|e| corrupt("instance's task list", e))?);
    }
    Ok(())
}

fn read_task(cluster: &str, id: &str, value: &str) -> Result<StoredTask, StoreError> {
    let meta = TaskMeta::read(value)?;
    Ok(StoredTask {
        cluster: cluster.to_owned(),
        id: id.to_owned(),
        instance_cluster: meta.host_cluster(cluster),
        arn: meta.arn,
        instance_id: meta.instance,
        last_status: meta.last,
        desired_status: meta.desired,
        service: meta.service,
        json: open_envelope(value).1.to_owned(),
    })
}

/// The status an instance's stored value records (`None`: unreadable).
pub(super) fn instance_status(value: &str) -> Option<InstanceStatus> {
    let (head, _) = open_envelope(value);
    serde_json::from_str::<InstanceHeader>(head).ok().map(|h| h.status)
}

fn read_instance(cluster: &str, id: &str, value: &str) -> Result<StoredInstance, StoreError> {
    let (head, body) = open_envelope(value);
    let h: InstanceHeader = serde_json::from_str(head).map_err(|e| corrupt("instance", e))?;
    Ok(StoredInstance {
        cluster: cluster.to_owned(),
        id: id.to_owned(),
        status: h.status,
        json: body.to_owned(),
    })
}

fn usage(instance: StoredInstance, held: &OnInstance) -> InstanceUsage {
    let mut u = InstanceUsage {
        instance,
        cpu: 0,
        memory: 0,
        ports: Vec::new(),
        running_tasks: 0,
        pending_tasks: 0,
        task_groups: TaskGroups::default(),
    };
    for h in held.values() {
        u.cpu += h.cpu;
        u.memory += h.memory;
        u.ports.extend(h.ports.iter().cloned());
        if h.last == TaskStatus::Running {
            u.running_tasks += 1;
        } else {
            u.pending_tasks += 1;
        }
        if let Some(g) = &h.group {
            u.task_groups.add(g, 1);
        }
    }
    u
}

/// The instances of a cluster (or those in `ids`) with what they hold.
pub(super) fn instances(
    state: &State,
    region: &str,
    cluster: &str,
    ids: Option<&[String]>,
) -> Result<Vec<InstanceUsage>, StoreError> {
    instance_records(state, region, cluster, ids)?
        .into_iter()
        .map(|i| {
            let held = read_held(state.get(&held_key(region, cluster, &i.id)).map(|e| &*e.value))?;
            Ok(usage(i, &held))
        })
        .collect()
}

/// The instances of a cluster (or those in `ids`) as stored, without what
/// they hold.
pub(super) fn instance_records(
    state: &State,
    region: &str,
    cluster: &str,
    ids: Option<&[String]>,
) -> Result<Vec<StoredInstance>, StoreError> {
    if let Some(ids) = ids {
        let wanted: std::collections::BTreeSet<&String> = ids.iter().collect();
        let mut out = Vec::with_capacity(wanted.len());
        for id in wanted {
            if let Some(e) = state.get(&instance_key(region, cluster, id)) {
                out.push(read_instance(cluster, id, &e.value)?);
            }
        }
        return Ok(out);
    }
    state
        .scan(&prefix(&["ci", region, cluster]))
        .map(|(k, e)| read_instance(cluster, &super::keys::last(k), &e.value))
        .collect()
}

/// A cluster's instances whose status is not `ACTIVE`: every instance's
/// small header is read, and only those instances' documents copied.
pub(super) fn instances_not_active(
    state: &State,
    region: &str,
    cluster: &str,
) -> Result<Vec<StoredInstance>, StoreError> {
    let mut out = Vec::new();
    for (k, e) in state.scan(&prefix(&["ci", region, cluster])) {
        let (head, body) = open_envelope(&e.value);
        let h: InstanceHeader = serde_json::from_str(head).map_err(|e| corrupt("instance", e))?;
        if h.status != InstanceStatus::Active {
            out.push(StoredInstance {
                cluster: cluster.to_owned(),
                id: super::keys::last(k),
                status: h.status,
                json: body.to_owned(),
            });
        }
    }
    Ok(out)
}

/// Creates or changes one instance.
pub(super) fn update_instance(
    tx: &mut Tx<'_>,
    region: &str,
    cluster: &str,
    id: &str,
    decide: &DecideInstance,
) -> Result<Option<StoredInstance>, StoreError> {
    let k = instance_key(region, cluster, id);
    let current = match tx.get(&k) {
        Some(v) => {
            let held = read_held(tx.get(&held_key(region, cluster, id)).as_deref())?;
            Some(usage(read_instance(cluster, id, &v)?, &held))
        }
        None => None,
    };
    match decide(current.as_ref())? {
        Some(new) => {
            tx.put(k, envelope(&InstanceHeader { status: new.status }, &new.json)?);
            Ok(Some(new))
        }
        None => Ok(current.map(|u| u.instance)),
    }
}

/// The `group` of a task's JSON, if it has one.
fn group_of(json: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Group {
        group: Option<serde_json::Value>,
    }
    match serde_json::from_str::<Group>(json).ok()?.group? {
        serde_json::Value::String(s) => Some(s),
        _ => None,
    }
}

/// Launches tasks: placement sees every instance (of those the launch names)
/// with what it holds, inside the transaction, so no two launches can both
/// take the same resources. The tasks placed, with the rows written.
pub(super) fn launch(
    tx: &mut Tx<'_>,
    region: &str,
    launch: &Launch,
) -> Result<(Placement, Vec<NewTask>), StoreError> {
    let cluster = launch.template.cluster.as_str();
    let ids = launch.instances.as_deref();
    let mut usages = Vec::new();
    for (k, v) in tx.scan(&prefix(&["ci", region, cluster])) {
        let id = super::keys::last(&k);
        if ids.is_some_and(|ids| !ids.contains(&id)) {
            continue;
        }
        let held = read_held(tx.peek(&held_key(region, cluster, &id)).as_deref())?;
        usages.push(usage(read_instance(cluster, &id, &v)?, &held));
    }
    if launch.needs_pool() {
        // The Fargate pool's hosts, of every other cluster.
        for (k, v) in tx.scan(&prefix(&["ci", region])) {
            let parts = super::keys::parts(&k);
            let (Some(host_cluster), Some(id)) = (parts.get(2), parts.get(3)) else { continue };
            if host_cluster == cluster {
                continue;
            }
            let instance = read_instance(host_cluster, id, &v)?;
            if !crate::tasks::takes_part(launch, &instance) {
                continue;
            }
            let held = read_held(tx.peek(&held_key(region, host_cluster, id)).as_deref())?;
            usages.push(usage(instance, &held));
        }
    }
    let mut candidates = crate::tasks::candidates(&usages, &crate::tasks::default_zone(region))?;
    let placement = wharf_model::ecs::launch::place(launch, &mut candidates, &mut ids::task_id);
    let tasks = match &placement {
        Placement::Placed { tasks, .. } => crate::tasks::new_tasks(launch, &usages, tasks)?,
        Placement::NoContainerInstances => Vec::new(),
    };
    for new in &tasks {
        let t = &new.task;
        let tk = task_key(region, &t.cluster, &t.id);
        if tx.get(&tk).is_some() {
            return Err(EcsError::server("A task id was drawn twice; try again.").into());
        }
        let host_cluster = t.instance_cluster.clone().unwrap_or_else(|| t.cluster.clone());
        let elsewhere = host_cluster != t.cluster;
        let meta = TaskMeta {
            arn: t.arn.clone(),
            instance: t.instance_id.clone(),
            instance_cluster: elsewhere.then(|| host_cluster.clone()),
            family: new.family.clone(),
            started_by: new.started_by.clone(),
            service: new.task.service.clone(),
            last: t.last_status,
            desired: t.desired_status.clone(),
            stopped_ms: None,
        };
        tx.put(tk, envelope(&meta, &t.json)?);
        if let Some(instance) = &t.instance_id {
            // The instance must still be there, holding what the decision saw.
            tx.guard(&instance_key(region, &host_cluster, instance));
            let hk = held_key(region, &host_cluster, instance);
            let mut held = read_held(tx.get(&hk).as_deref())?;
            if t.last_status != TaskStatus::Stopped {
                held.insert(
                    t.id.clone(),
                    Held {
                        cpu: new.reservation.cpu,
                        memory: new.reservation.memory,
                        ports: new.reservation.ports.clone(),
                        group: group_of(&t.json),
                        last: t.last_status,
                        cluster: elsewhere.then(|| t.cluster.clone()),
                    },
                );
            }
            write_held(tx, hk, &held)?;
        }
        add_tags(tx, region, &t.arn, &new.tags, None)?;
    }
    Ok((placement, tasks))
}

/// One task.
pub(super) fn get(
    state: &State,
    region: &str,
    cluster: &str,
    id: &str,
) -> Result<Option<StoredTask>, StoreError> {
    state.get(&task_key(region, cluster, id)).map(|e| read_task(cluster, id, &e.value)).transpose()
}

/// Changes one task, and what its instance holds with it.
pub(super) fn update(
    tx: &mut Tx<'_>,
    region: &str,
    cluster: &str,
    id: &str,
    decide: &DecideTask,
) -> Result<Option<StoredTask>, StoreError> {
    let k = task_key(region, cluster, id);
    let Some(value) = tx.get(&k) else { return Ok(None) };
    let stored = read_task(cluster, id, &value)?;
    let Some(TaskUpdate { last_status, desired_status, json, stopped_ms }) = decide(&stored)?
    else {
        return Ok(Some(stored));
    };
    let mut meta = TaskMeta::read(&value)?;
    let moved = meta.last != last_status;
    meta.last = last_status;
    meta.desired = desired_status.clone();
    meta.stopped_ms = meta.stopped_ms.or(stopped_ms);
    tx.put(k, envelope(&meta, &json)?);
    if let (Some(instance), Some(host_cluster), true) =
        (&meta.instance, meta.host_cluster(cluster), moved)
    {
        let hk = held_key(region, &host_cluster, instance);
        let mut held = read_held(tx.get(&hk).as_deref())?;
        let changed = if last_status == TaskStatus::Stopped {
            held.remove(id).is_some()
        } else if let Some(h) = held.get_mut(id) {
            h.last = last_status;
            true
        } else {
            false
        };
        if changed {
            write_held(tx, hk, &held)?;
        }
    }
    Ok(Some(StoredTask { last_status, desired_status, json, ..stored }))
}

/// Tasks matching a query, in ID order.
pub(super) fn list(
    state: &State,
    region: &str,
    q: &TaskQuery,
) -> Result<Vec<StoredTask>, StoreError> {
    let after = q.after.as_ref().map(|a| task_key(region, &q.cluster, a));
    let mut out = Vec::new();
    for (k, e) in state.scan(&prefix(&["task", region, &q.cluster])) {
        if after.as_ref().is_some_and(|a| k <= a) {
            continue;
        }
        let meta = TaskMeta::read(&e.value)?;
        let matches = q.family.as_ref().is_none_or(|f| *f == meta.family)
            && q.started_by.as_ref().is_none_or(|s| meta.started_by.as_ref() == Some(s))
            && q.service.as_ref().is_none_or(|s| meta.service.as_ref() == Some(s))
            && q.instance_id.as_ref().is_none_or(|i| meta.instance.as_ref() == Some(i))
            && q.desired_status.as_ref().is_none_or(|d| *d == meta.desired);
        if matches {
            out.push(read_task(&q.cluster, &super::keys::last(k), &e.value)?);
            if out.len() >= q.limit {
                break;
            }
        }
    }
    Ok(out)
}

/// The tasks on an instance that are not yet `STOPPED`, of whatever
/// cluster, in ID order.
pub(super) fn unstopped_on(
    state: &State,
    region: &str,
    cluster: &str,
    instance: &str,
) -> Result<Vec<StoredTask>, StoreError> {
    let held = read_held(state.get(&held_key(region, cluster, instance)).map(|e| &*e.value))?;
    let mut out = Vec::with_capacity(held.len());
    for (id, h) in &held {
        if let Some(t) = get(state, region, h.cluster.as_deref().unwrap_or(cluster), id)? {
            out.push(t);
        }
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}

/// A cluster's (running, pending) task counts.
pub(super) fn counts(state: &State, region: &str, cluster: &str) -> (i64, i64) {
    let (mut running, mut pending) = (0, 0);
    for (_, e) in state.scan(&prefix(&["task", region, cluster])) {
        let Ok(meta) = TaskMeta::read(&e.value) else { continue };
        match meta.last {
            TaskStatus::Running => running += 1,
            TaskStatus::Stopped => {}
            _ => pending += 1,
        }
    }
    (running, pending)
}

/// Tasks and instances counted by region, cluster and status.
pub(super) fn status_counts(state: &State) -> StatusCounts {
    let mut tasks: BTreeMap<(String, String, TaskStatus, String), i64> = BTreeMap::new();
    for (k, e) in state.scan(&prefix(&["task"])) {
        let parts = super::keys::parts(k);
        let Ok(meta) = TaskMeta::read(&e.value) else { continue };
        let desired = meta.desired.as_str().to_owned();
        *tasks.entry((parts[1].clone(), parts[2].clone(), meta.last, desired)).or_default() += 1;
    }
    let mut instances: BTreeMap<(String, String, InstanceStatus), i64> = BTreeMap::new();
    for (k, e) in state.scan(&prefix(&["ci"])) {
        let parts = super::keys::parts(k);
        let (head, _) = open_envelope(&e.value);
        let Ok(h) = serde_json::from_str::<InstanceHeader>(head) else { continue };
        *instances.entry((parts[1].clone(), parts[2].clone(), h.status)).or_default() += 1;
    }
    StatusCounts {
        tasks: tasks
            .into_iter()
            .map(|((region, cluster, last_status, desired_status), count)| TaskStatusCount {
                region,
                cluster,
                last_status,
                desired_status: desired_status.as_str().into(),
                count,
            })
            .collect(),
        instances: instances
            .into_iter()
            .map(|((region, cluster, status), count)| InstanceStatusCount {
                region,
                cluster,
                status,
                count,
            })
            .collect(),
    }
}

/// A stopped task to purge: (region, cluster, id).
pub(super) type Doomed = (String, String, String);

/// Tasks that stopped before `before_ms`.
pub(super) fn stopped_before(state: &State, before_ms: i64) -> Vec<Doomed> {
    let mut out = Vec::new();
    for (k, e) in state.scan(&prefix(&["task"])) {
        let Ok(meta) = TaskMeta::read(&e.value) else { continue };
        if meta.stopped_ms.is_some_and(|s| s < before_ms) {
            let parts = super::keys::parts(k);
            out.push((parts[1].clone(), parts[2].clone(), parts[3].clone()));
        }
    }
    out
}

/// Deletes the tasks given that are still stopped before `before_ms`, with
/// their tags; how many.
pub(super) fn purge(tx: &mut Tx<'_>, doomed: &[Doomed], before_ms: i64) -> usize {
    let mut n = 0;
    for (region, cluster, id) in doomed {
        let k = task_key(region, cluster, id);
        let Some(value) = tx.get(&k) else { continue };
        let Ok(meta) = TaskMeta::read(&value) else { continue };
        if meta.stopped_ms.is_none_or(|s| s >= before_ms) {
            continue;
        }
        tx.delete(k);
        tx.delete(tag_key(region, &meta.arn));
        n += 1;
    }
    n
}
