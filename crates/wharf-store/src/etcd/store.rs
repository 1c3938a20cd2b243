//! The [`Store`] trait on the cache and writer: documents, task definitions
//! and tags here; tasks and instances in [`super::tasks`], ELBv2 in
//! [`super::elb`].

use std::collections::BTreeMap;

use async_trait::async_trait;
use wharf_model::ecs::launch::{Launch, Placement};
use wharf_model::ecs::shapes::{TaskDefinitionFamilyStatus, TaskDefinitionStatus};
use wharf_model::EcsError;

use super::keys::{self, key, number, prefix};
use super::writer::Tx;
use super::EtcdStore;
use crate::{
    BuildRevision, Decide, DecideInstance, DecideRevision, DecideTask, FamilyQuery, InstanceUsage,
    Kind, NewTaskDefinition, StatusCounts, Store, StoreError, StoredInstance, StoredTask,
    StoredTaskDefinition, TaskDefinitionQuery, TaskQuery, Write,
};

/// A value with a one-line JSON header: `header\nbody`.
pub(super) fn envelope(header: &impl serde::Serialize, body: &str) -> Result<String, StoreError> {
    let head = serde_json::to_string(header)
        .map_err(|e| StoreError::Database(format!("a record header: {e}")))?;
    Ok(format!("{head}\n{body}"))
}

/// The header and body of an enveloped value.
pub(super) fn open_envelope(value: &str) -> (&str, &str) {
    value.split_once('\n').unwrap_or((value, ""))
}

pub(super) fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Database(format!("a stored {what} could not be read: {e}"))
}

fn doc_key(kind: Kind, region: &str, name: &str) -> String {
    key(&["doc", kind.as_str(), region, name])
}

/// The header of a task definition revision.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct RevisionHeader {
    status: TaskDefinitionStatus,
}

fn td_key(region: &str, family: &str, revision: i32) -> String {
    key(&["td", region, family, &number(i64::from(revision))])
}

fn read_td(family: &str, revision: i32, value: &str) -> Result<StoredTaskDefinition, StoreError> {
    let (head, body) = open_envelope(value);
    let h: RevisionHeader = serde_json::from_str(head).map_err(|e| corrupt("revision", e))?;
    Ok(StoredTaskDefinition {
        family: family.to_owned(),
        revision,
        status: h.status,
        json: body.to_owned(),
    })
}

/// (family, revision) of a task definition cache key.
fn td_name(k: &str) -> Option<(String, i32)> {
    let parts = keys::parts(k);
    Some((parts.get(2)?.clone(), parts.get(3)?.parse().ok()?))
}

pub(super) fn tag_key(region: &str, arn: &str) -> String {
    key(&["tag", region, arn])
}

pub(super) fn read_tags(value: Option<&str>) -> Result<BTreeMap<String, String>, StoreError> {
    match value {
        Some(v) => serde_json::from_str(v).map_err(|e| corrupt("tag set", e)),
        None => Ok(BTreeMap::new()),
    }
}

/// Adds or overwrites tags on a resource inside a job.
pub(super) fn add_tags(
    tx: &mut Tx<'_>,
    region: &str,
    arn: &str,
    tags: &[(String, String)],
    max: Option<usize>,
) -> Result<(), StoreError> {
    if tags.is_empty() {
        return Ok(());
    }
    let k = tag_key(region, arn);
    let mut current = read_tags(tx.get(&k).as_deref())?;
    for (tk, tv) in tags {
        current.insert(tk.clone(), tv.clone());
    }
    if let Some(max) = max.filter(|m| current.len() > *m) {
        return Err(EcsError::invalid_parameter(format!(
            "The resource would have more than {max} tags."
        ))
        .into());
    }
    tx.put(k, serde_json::to_string(&current).map_err(|e| corrupt("tag set", e))?);
    Ok(())
}

impl EtcdStore {
    fn latest_active(&self, region: &str, family: &str) -> Option<StoredTaskDefinition> {
        let state = self.core.cache.read();
        for (k, e) in state.scan(&prefix(&["td", region, family])).rev() {
            let Some((f, rev)) = td_name(k) else { continue };
            if let Ok(td) = read_td(&f, rev, &e.value) {
                if td.status == TaskDefinitionStatus::Active {
                    return Some(td);
                }
            }
        }
        None
    }
}

#[async_trait]
impl Store for EtcdStore {
    async fn get(&self, kind: Kind, region: &str, key: &str) -> Result<Option<String>, StoreError> {
        self.sync().await?;
        let state = self.core.cache.read();
        Ok(state.get(&doc_key(kind, region, key)).map(|e| e.value.to_string()))
    }

    async fn list(
        &self,
        kind: Kind,
        region: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, String)>, StoreError> {
        self.sync().await?;
        let state = self.core.cache.read();
        let p = prefix(&["doc", kind.as_str(), region]);
        let from = after.map(|a| doc_key(kind, region, a));
        Ok(state
            .scan(&p)
            .filter(|(k, _)| from.as_ref().is_none_or(|f| *k > f))
            .take(limit)
            .map(|(k, e)| (keys::last(k), e.value.to_string()))
            .collect())
    }

    async fn regions(&self, kind: Kind) -> Result<Vec<String>, StoreError> {
        self.sync().await?;
        let state = self.core.cache.read();
        let mut out: Vec<String> = Vec::new();
        for (k, _) in state.scan(&prefix(&["doc", kind.as_str()])) {
            let region = keys::parts(k).swap_remove(2);
            if out.last() != Some(&region) {
                out.push(region);
            }
        }
        Ok(out)
    }

    fn service_changes(&self) -> tokio::sync::broadcast::Receiver<(String, String)> {
        self.core.changes.services.subscribe()
    }

    async fn update(
        &self,
        kind: Kind,
        region: &str,
        name: &str,
        decide: Decide,
    ) -> Result<Option<String>, StoreError> {
        let k = doc_key(kind, region, name);
        self.write(move |tx| {
            let current = tx.get(&k).map(|v| v.to_string());
            match decide(current.clone())? {
                Write::Keep => Ok(current),
                Write::Put(body) => {
                    tx.put(k.clone(), body.clone());
                    Ok(Some(body))
                }
                Write::Delete => {
                    if current.is_some() {
                        tx.delete(k.clone());
                    }
                    Ok(None)
                }
            }
        })
        .await
    }

    async fn register_task_definition(
        &self,
        region: &str,
        family: &str,
        build: BuildRevision,
    ) -> Result<NewTaskDefinition, StoreError> {
        let (region, family) = (region.to_owned(), family.to_owned());
        let counter = key(&["tdf", &region, &family]);
        self.write(move |tx| {
            let last: i32 = match tx.get(&counter) {
                Some(v) => v.parse().map_err(|e| corrupt("revision counter", e))?,
                None => 0,
            };
            let revision = last.checked_add(1).ok_or_else(|| {
                EcsError::client("Too many revisions of this task definition family.")
            })?;
            let new = build(revision)?;
            let k = td_key(&region, &family, revision);
            // Never there (numbers are not reused); checked all the same.
            tx.guard(&k);
            tx.put(k, envelope(&RevisionHeader { status: new.status.clone() }, &new.json)?);
            tx.put(counter.clone(), revision.to_string());
            add_tags(tx, &region, &new.arn, &new.tags, None)?;
            Ok(new)
        })
        .await
    }

    async fn get_task_definition(
        &self,
        region: &str,
        family: &str,
        revision: Option<i32>,
    ) -> Result<Option<StoredTaskDefinition>, StoreError> {
        self.sync().await?;
        match revision {
            Some(rev) => {
                let state = self.core.cache.read();
                state
                    .get(&td_key(region, family, rev))
                    .map(|e| read_td(family, rev, &e.value))
                    .transpose()
            }
            None => Ok(self.latest_active(region, family)),
        }
    }

    async fn update_task_definition(
        &self,
        region: &str,
        family: &str,
        revision: i32,
        decide: DecideRevision,
    ) -> Result<StoredTaskDefinition, StoreError> {
        let (family, k) = (family.to_owned(), td_key(region, family, revision));
        self.write(move |tx| {
            let current = tx
                .get(&k)
                .ok_or_else(|| EcsError::client("The specified task definition does not exist."))?;
            let current = read_td(&family, revision, &current)?;
            let Some((status, json)) = decide(&current)? else { return Ok(current) };
            tx.put(k.clone(), envelope(&RevisionHeader { status: status.clone() }, &json)?);
            Ok(StoredTaskDefinition { status, json, ..current })
        })
        .await
    }

    async fn task_definitions_in_deletion(
        &self,
    ) -> Result<Vec<(String, StoredTaskDefinition)>, StoreError> {
        self.sync().await?;
        let state = self.core.cache.read();
        let mut out = Vec::new();
        for (k, e) in state.scan(&prefix(&["td"])) {
            let (head, _) = open_envelope(&e.value);
            let deleting = serde_json::from_str::<RevisionHeader>(head)
                .is_ok_and(|h| h.status == TaskDefinitionStatus::DeleteInProgress);
            if !deleting {
                continue;
            }
            let parts = keys::parts(k);
            let (Some(region), Some((family, revision))) = (parts.get(1), td_name(k)) else {
                continue;
            };
            out.push((region.clone(), read_td(&family, revision, &e.value)?));
        }
        Ok(out)
    }

    async fn purge_task_definition(
        &self,
        region: &str,
        family: &str,
        revision: i32,
        arn: &str,
    ) -> Result<bool, StoreError> {
        let (family, k) = (family.to_owned(), td_key(region, family, revision));
        let tags = tag_key(region, arn);
        // The family's revision counter stays: numbers are never reused.
        self.write(move |tx| {
            let Some(current) = tx.get(&k) else { return Ok(false) };
            if read_td(&family, revision, &current)?.status
                != TaskDefinitionStatus::DeleteInProgress
            {
                return Ok(false);
            }
            tx.delete(k.clone());
            if tx.get(&tags).is_some() {
                tx.delete(tags.clone());
            }
            Ok(true)
        })
        .await
    }

    async fn list_task_definitions(
        &self,
        region: &str,
        q: TaskDefinitionQuery,
    ) -> Result<Vec<(String, i32)>, StoreError> {
        self.sync().await?;
        let state = self.core.cache.read();
        let p = match &q.family {
            Some(f) => prefix(&["td", region, f]),
            None => prefix(&["td", region]),
        };
        let wanted = |k: &String, e: &super::cache::Entry| -> Option<(String, i32)> {
            let (family, rev) = td_name(k)?;
            if let Some((af, ar)) = &q.after {
                let past = if q.descending {
                    (family.as_str(), rev) < (af.as_str(), *ar)
                } else {
                    (family.as_str(), rev) > (af.as_str(), *ar)
                };
                if !past {
                    return None;
                }
            }
            if let Some(status) = &q.status {
                let (head, _) = open_envelope(&e.value);
                let h: RevisionHeader = serde_json::from_str(head).ok()?;
                if &h.status != status {
                    return None;
                }
            }
            Some((family, rev))
        };
        let found: Vec<(String, i32)> = if q.descending {
            state.scan(&p).rev().filter_map(|(k, e)| wanted(k, e)).take(q.limit).collect()
        } else {
            state.scan(&p).filter_map(|(k, e)| wanted(k, e)).take(q.limit).collect()
        };
        Ok(found)
    }

    async fn list_task_definition_families(
        &self,
        region: &str,
        q: FamilyQuery,
    ) -> Result<Vec<String>, StoreError> {
        self.sync().await?;
        let state = self.core.cache.read();
        let mut out = Vec::new();
        for (k, _) in state.scan(&prefix(&["tdf", region])) {
            let family = keys::last(k);
            if q.prefix.as_ref().is_some_and(|p| !family.starts_with(p.as_str())) {
                continue;
            }
            if q.after.as_ref().is_some_and(|a| family.as_str() <= a.as_str()) {
                continue;
            }
            let mut any = false;
            let mut active = false;
            for (_, e) in state.scan(&prefix(&["td", region, &family])) {
                any = true;
                let (head, _) = open_envelope(&e.value);
                if serde_json::from_str::<RevisionHeader>(head)
                    .is_ok_and(|h| h.status == TaskDefinitionStatus::Active)
                {
                    active = true;
                    break;
                }
            }
            let keep = any
                && match q.status {
                    Some(TaskDefinitionFamilyStatus::Active) => active,
                    Some(TaskDefinitionFamilyStatus::Inactive) => !active,
                    _ => true,
                };
            if keep {
                out.push(family);
                if out.len() >= q.limit {
                    break;
                }
            }
        }
        Ok(out)
    }

    async fn tags(&self, region: &str, arn: &str) -> Result<Vec<(String, String)>, StoreError> {
        self.sync().await?;
        let state = self.core.cache.read();
        let tags = read_tags(state.get(&tag_key(region, arn)).map(|e| &*e.value))?;
        Ok(tags.into_iter().collect())
    }

    async fn tag(
        &self,
        region: &str,
        arn: &str,
        tags: Vec<(String, String)>,
        max: usize,
    ) -> Result<(), StoreError> {
        let (region, arn) = (region.to_owned(), arn.to_owned());
        self.write(move |tx| add_tags(tx, &region, &arn, &tags, Some(max))).await
    }

    async fn untag(&self, region: &str, arn: &str, keys: Vec<String>) -> Result<(), StoreError> {
        let k = tag_key(region, arn);
        self.write(move |tx| {
            let Some(v) = tx.get(&k) else { return Ok(()) };
            let mut current = read_tags(Some(&v))?;
            let before = current.len();
            for key in &keys {
                current.remove(key);
            }
            if current.len() == before {
                return Ok(());
            }
            if current.is_empty() {
                tx.delete(k.clone());
            } else {
                tx.put(
                    k.clone(),
                    serde_json::to_string(&current).map_err(|e| corrupt("tag set", e))?,
                );
            }
            Ok(())
        })
        .await
    }

    async fn instances(
        &self,
        region: &str,
        cluster: &str,
        ids: Option<Vec<String>>,
    ) -> Result<Vec<InstanceUsage>, StoreError> {
        self.sync().await?;
        let state = self.core.cache.read();
        super::tasks::instances(&state, region, cluster, ids.as_deref())
    }

    async fn instance_records(
        &self,
        region: &str,
        cluster: &str,
        ids: Option<Vec<String>>,
    ) -> Result<Vec<crate::StoredInstance>, StoreError> {
        self.sync().await?;
        let state = self.core.cache.read();
        super::tasks::instance_records(&state, region, cluster, ids.as_deref())
    }

    async fn instances_not_active(
        &self,
        region: &str,
        cluster: &str,
    ) -> Result<Vec<crate::StoredInstance>, StoreError> {
        self.sync().await?;
        let state = self.core.cache.read();
        super::tasks::instances_not_active(&state, region, cluster)
    }

    async fn update_instance(
        &self,
        region: &str,
        cluster: &str,
        id: &str,
        decide: DecideInstance,
    ) -> Result<Option<StoredInstance>, StoreError> {
        let (region, cluster, id) = (region.to_owned(), cluster.to_owned(), id.to_owned());
        self.write(move |tx| super::tasks::update_instance(tx, &region, &cluster, &id, &decide))
            .await
    }

    async fn launch_tasks(&self, region: &str, launch: Launch) -> Result<Placement, StoreError> {
        let region = region.to_owned();
        let (placement, _) =
            self.write(move |tx| super::tasks::launch(tx, &region, &launch)).await?;
        Ok(placement)
    }

    async fn get_task(
        &self,
        region: &str,
        cluster: &str,
        id: &str,
    ) -> Result<Option<StoredTask>, StoreError> {
        self.sync().await?;
        let state = self.core.cache.read();
        super::tasks::get(&state, region, cluster, id)
    }

    async fn update_task(
        &self,
        region: &str,
        cluster: &str,
        id: &str,
        decide: DecideTask,
    ) -> Result<Option<StoredTask>, StoreError> {
        let (region, cluster, id) = (region.to_owned(), cluster.to_owned(), id.to_owned());
        self.write(move |tx| super::tasks::update(tx, &region, &cluster, &id, &decide)).await
    }

    async fn list_tasks(
        &self,
        region: &str,
        query: TaskQuery,
    ) -> Result<Vec<StoredTask>, StoreError> {
        self.sync().await?;
        let state = self.core.cache.read();
        super::tasks::list(&state, region, &query)
    }

    async fn unstopped_tasks_on(
        &self,
        region: &str,
        cluster: &str,
        instance_id: &str,
    ) -> Result<Vec<StoredTask>, StoreError> {
        self.sync().await?;
        let state = self.core.cache.read();
        super::tasks::unstopped_on(&state, region, cluster, instance_id)
    }

    async fn task_counts(&self, region: &str, cluster: &str) -> Result<(i64, i64), StoreError> {
        self.sync().await?;
        let state = self.core.cache.read();
        Ok(super::tasks::counts(&state, region, cluster))
    }

    async fn status_counts(&self) -> Result<StatusCounts, StoreError> {
        self.sync().await?;
        let state = self.core.cache.read();
        Ok(super::tasks::status_counts(&state))
    }

    async fn purge_stopped_tasks(&self, before_ms: i64) -> Result<usize, StoreError> {
        // In chunks, each its own transaction: a purge need not be atomic,
        // and a transaction holds only so many operations.
        let doomed = {
            let state = self.core.cache.read();
            super::tasks::stopped_before(&state, before_ms)
        };
        let mut purged = 0;
        for chunk in doomed.chunks(super::tasks::PURGE_CHUNK) {
            let chunk = chunk.to_vec();
            purged += self.write(move |tx| Ok(super::tasks::purge(tx, &chunk, before_ms))).await?;
        }
        Ok(purged)
    }

    fn task_changes(&self) -> crate::TaskFeed {
        self.core.changes.tasks.subscribe()
    }

    fn instance_changes(&self) -> crate::InstanceFeed {
        self.core.changes.instances.subscribe()
    }

    async fn elb_read(&self, region: &str, read: crate::elb::ElbRead) -> Result<(), StoreError> {
        self.sync().await?;
        let state = self.core.cache.read();
        read(&super::elb::StateElb { state: &state, region })
    }

    async fn elb_write(&self, region: &str, write: crate::elb::ElbWrite) -> Result<(), StoreError> {
        let region = region.to_owned();
        self.write(move |tx| super::elb::write(tx, &region, &write)).await
    }

    fn elb_changes(&self) -> tokio::sync::broadcast::Receiver<String> {
        self.core.changes.elb.subscribe()
    }

    async fn elb_regions(&self) -> Result<Vec<String>, StoreError> {
        self.sync().await?;
        let state = self.core.cache.read();
        let mut out: Vec<String> = Vec::new();
        for (k, _) in state.scan(&prefix(&["elb"])) {
            let region = keys::parts(k).swap_remove(1);
            if out.last() != Some(&region) {
                out.push(region);
            }
        }
        Ok(out)
    }

    async fn reset(&self) -> Result<(), StoreError> {
        self.write(|tx| {
            for table in TABLES {
                tx.delete_prefix(&prefix(&[table]));
            }
            Ok(())
        })
        .await
    }
}

/// Every table of records (not the leader key, markers or `rev`), for a reset.
const TABLES: &[&str] = &["doc", "tdf", "td", "tag", "ci", "cit", "task", "elb"];
