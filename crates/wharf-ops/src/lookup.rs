//! The reads operations and handlers share: an ACTIVE cluster, a task
//! definition that may run, a resource's tags.

use wharf_model::arn::{self, TaskDefinitionRef};
use wharf_model::ecs::shapes::{Cluster, Tag, TaskDefinition, TaskDefinitionStatus};
use wharf_model::ecs::status::ClusterStatus;
use wharf_model::ecs::tags;
use wharf_model::EcsError;
use wharf_store::Kind;

use crate::{docs, OpsError, Region};

/// The cluster a request names when it names none.
pub const DEFAULT_CLUSTER: &str = "default";

/// The name of an ACTIVE cluster (`default` when none is given), or
/// `ClusterNotFoundException`.
pub async fn active_cluster(r: Region<'_>, given: Option<&str>) -> Result<String, OpsError> {
    let name = arn::cluster_name(given.unwrap_or(DEFAULT_CLUSTER)).to_owned();
    match docs::get::<Cluster>(r, Kind::Cluster, &name).await? {
        Some(c) if c.status == Some(ClusterStatus::Active) => Ok(name),
        _ => Err(EcsError::cluster_not_found().into()),
    }
}

/// The task definition a request names (`family`, `family:revision` or an
/// ARN), if it may run: ACTIVE, and its latest ACTIVE revision for a family.
pub async fn runnable_definition(r: Region<'_>, given: &str) -> Result<TaskDefinition, OpsError> {
    let not_found = || EcsError::client("TaskDefinition not found.");
    let (family, revision) = match arn::task_definition_ref(given).ok_or_else(not_found)? {
        TaskDefinitionRef::Family(f) => (f, None),
        TaskDefinitionRef::Revision(f, n) => (f, Some(i32::try_from(n).map_err(|_| not_found())?)),
    };
    let stored =
        r.store().get_task_definition(r.name, family, revision).await?.ok_or_else(not_found)?;
    if stored.status != TaskDefinitionStatus::Active {
        return Err(EcsError::client("TaskDefinition is inactive").into());
    }
    parse_definition(&stored.json)
}

/// A task definition by its full ARN, whatever its status (a service keeps
/// running a revision deregistered after it was deployed).
pub async fn definition_by_arn(
    r: Region<'_>,
    given: &str,
) -> Result<Option<TaskDefinition>, OpsError> {
    let Some(TaskDefinitionRef::Revision(family, n)) = arn::task_definition_ref(given) else {
        return Ok(None);
    };
    let Ok(n) = i32::try_from(n) else { return Ok(None) };
    match r.store().get_task_definition(r.name, family, Some(n)).await? {
        Some(stored) => parse_definition(&stored.json).map(Some),
        None => Ok(None),
    }
}

fn parse_definition(json: &str) -> Result<TaskDefinition, OpsError> {
    serde_json::from_str(json).map_err(|e| {
        tracing::error!(error = %e, "a stored task definition could not be read");
        EcsError::server("A stored task definition could not be read.").into()
    })
}

/// The tags of a resource by ARN, as wire shapes.
pub async fn tags_of(r: Region<'_>, arn: &str) -> Result<Vec<Tag>, OpsError> {
    let pairs = r.store().tags(r.name, arn).await?;
    Ok(pairs.into_iter().map(|(k, v)| Tag { key: Some(k), value: Some(v) }).collect())
}

/// Adds tags to a resource (already checked with
/// `wharf_model::ecs::tags::validate`), refusing past ECS's limit.
pub async fn add_tags(r: Region<'_>, arn: &str, given: Vec<Tag>) -> Result<(), OpsError> {
    Ok(r.store().tag(r.name, arn, tags::pairs(given), tags::MAX_TAGS).await?)
}

/// The clusters of a region that may have container instances: every
/// cluster, and the Fargate pool (hosts that joined as Fargate capacity
/// only). What reads "every instance of a region" go through.
pub async fn instance_clusters(
    store: &dyn wharf_store::Store,
    region: &str,
) -> Result<Vec<String>, wharf_store::StoreError> {
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = store.list(Kind::Cluster, region, after.as_deref(), 500).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.0.clone());
        out.extend(page.into_iter().map(|(k, _)| k));
    }
    out.push(wharf_model::ecs::capacity::FARGATE_POOL.to_owned());
    Ok(out)
}
