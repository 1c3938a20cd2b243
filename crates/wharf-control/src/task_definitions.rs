//! Purging deleted task definition revisions. DeleteTaskDefinitions moves an
//! INACTIVE revision to `DELETE_IN_PROGRESS`; ECS then "periodically
//! verifies that the target task definition is not being referenced by any
//! active tasks or deployments, and then deletes the task definition
//! permanently". This is that verification: a pure step from the revisions
//! in deletion and what still references them, in a thin loop every
//! [`INTERVAL`] on the leading server.

use std::collections::BTreeSet;
use std::time::Duration;

use wharf_model::ecs::service::{is_live, ServiceRecord};
use wharf_model::ecs::shapes::{Cluster, Task, TaskDefinition};
use wharf_model::ecs::status::TaskStatus;
use wharf_ops::{docs, Ops, OpsError};
use wharf_store::{Kind, StoredTaskDefinition, TaskQuery};

/// How often the purge looks for revisions in deletion.
pub const INTERVAL: Duration = Duration::from_secs(5);

/// A revision in deletion: its region, family, number and ARN.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Deleting {
    /// The region.
    pub region: String,
    /// The family.
    pub family: String,
    /// The revision number.
    pub revision: i32,
    /// Its ARN, which tasks and deployments name.
    pub arn: String,
}

/// The step: the revisions in deletion that nothing references (by ARN:
/// an unstopped task, or a deployment or task set of a live service).
pub fn purgeable(deleting: &[Deleting], referenced: &BTreeSet<String>) -> Vec<Deleting> {
    deleting.iter().filter(|d| !referenced.contains(&d.arn)).cloned().collect()
}

/// The task definition ARNs a live service's deployments, task sets and
/// rollback target run.
pub fn service_references(rec: &ServiceRecord) -> Vec<String> {
    if !is_live(rec) {
        return Vec::new();
    }
    let s = &rec.service;
    let deployments = s.deployments.iter().flatten().filter_map(|d| d.task_definition.clone());
    let sets = s.task_sets.iter().flatten().filter_map(|t| t.task_definition.clone());
    let rollback = rec.last_completed.as_ref().and_then(|d| d.task_definition.clone());
    s.task_definition.clone().into_iter().chain(deployments).chain(sets).chain(rollback).collect()
}

fn deleting_of(region: String, stored: StoredTaskDefinition) -> Option<Deleting> {
    let td: TaskDefinition = serde_json::from_str(&stored.json).ok()?;
    Some(Deleting {
        region,
        family: stored.family,
        revision: stored.revision,
        arn: td.task_definition_arn?,
    })
}

/// What a pass reads the references with.
#[derive(Debug, Clone)]
pub struct Purge {
    /// The operations (a leader's, fenced by its term).
    pub ops: Ops,
}

impl Purge {
    /// One pass: reads the revisions in deletion and, only when there are
    /// some, what references them; purges the rest. Returns how many went.
    pub async fn pass(&self) -> Result<usize, OpsError> {
        let store = &self.ops.store;
        let deleting: Vec<Deleting> = store
            .task_definitions_in_deletion()
            .await?
            .into_iter()
            .filter_map(|(region, stored)| deleting_of(region, stored))
            .collect();
        if deleting.is_empty() {
            return Ok(0);
        }
        let regions: BTreeSet<&str> = deleting.iter().map(|d| d.region.as_str()).collect();
        let mut referenced = BTreeSet::new();
        for region in regions {
            let families: BTreeSet<&str> =
                deleting.iter().filter(|d| d.region == region).map(|d| d.family.as_str()).collect();
            self.references(region, &families, &mut referenced).await?;
        }
        let mut purged = 0;
        for d in purgeable(&deleting, &referenced) {
            if store.purge_task_definition(&d.region, &d.family, d.revision, &d.arn).await? {
                tracing::info!(task_definition = %d.arn, "deleted for good: nothing uses it");
                purged += 1;
            }
        }
        Ok(purged)
    }

    /// Adds what references revisions of `families` in `region`: unstopped
    /// tasks of those families, and live services.
    async fn references(
        &self,
        region: &str,
        families: &BTreeSet<&str>,
        out: &mut BTreeSet<String>,
    ) -> Result<(), OpsError> {
        let r = self.ops.region(region);
        for (_, rec) in docs::list_all::<ServiceRecord>(r, Kind::Service).await? {
            out.extend(service_references(&rec));
        }
        for (name, _) in docs::list_all::<Cluster>(r, Kind::Cluster).await? {
            for family in families {
                let tasks = r
                    .store()
                    .list_tasks(
                        region,
                        TaskQuery {
                            cluster: name.clone(),
                            family: Some((*family).to_owned()),
                            limit: usize::MAX,
                            ..TaskQuery::default()
                        },
                    )
                    .await?;
                for stored in tasks.iter().filter(|t| t.last_status != TaskStatus::Stopped) {
                    let task: Option<Task> = serde_json::from_str(&stored.json).ok();
                    match task.and_then(|t| t.task_definition_arn) {
                        Some(arn) => out.insert(arn),
                        // Unreadable: keep every revision of the family.
                        None => {
                            return Err(OpsError::from(wharf_model::EcsError::server(
                                "A stored task could not be read.",
                            )))
                        }
                    };
                }
            }
        }
        Ok(())
    }
}

/// Runs the purge every [`INTERVAL`] until `shutdown` changes to `true`.
pub async fn run(purge: Purge, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
        if let Err(e) = purge.pass().await {
            tracing::warn!(error = %e, "task definitions in deletion not purged");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deleting(family: &str, revision: i32) -> Deleting {
        Deleting {
            region: "us-east-1".into(),
            family: family.into(),
            revision,
            arn: format!("arn:aws:ecs:us-east-1:000000000000:task-definition/{family}:{revision}"),
        }
    }

    #[test]
    fn only_what_nothing_references_goes() {
        let all = [deleting("web", 1), deleting("web", 2), deleting("db", 1)];
        let referenced = BTreeSet::from([all[1].arn.clone()]);
        assert_eq!(purgeable(&all, &referenced), vec![all[0].clone(), all[2].clone()]);
        assert!(purgeable(&all, &all.iter().map(|d| d.arn.clone()).collect()).is_empty());
    }

    #[test]
    fn a_live_services_deployments_and_rollback_target_reference_their_revisions() {
        let rec: ServiceRecord = serde_json::from_value(serde_json::json!({
            "service": {
                "status": "ACTIVE",
                "taskDefinition": "arn:td/web:3",
                "deployments": [{"taskDefinition": "arn:td/web:3"}, {"taskDefinition": "arn:td/web:2"}],
                "taskSets": [{"taskDefinition": "arn:td/web:9"}]
            },
            "lastCompleted": {"taskDefinition": "arn:td/web:1"}
        }))
        .expect("a service record");
        let mut refs = service_references(&rec);
        refs.sort();
        refs.dedup();
        assert_eq!(refs, ["arn:td/web:1", "arn:td/web:2", "arn:td/web:3", "arn:td/web:9"]);
        let mut gone = rec.clone();
        gone.service.status = Some(wharf_model::ecs::status::ServiceStatus::Inactive);
        assert!(service_references(&gone).is_empty(), "an INACTIVE service holds nothing");
    }
}
