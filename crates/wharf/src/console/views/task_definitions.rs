//! Task definitions: the families with their revision counts, a family's
//! revisions (newest first, with what each runs), one revision's JSON as
//! DescribeTaskDefinition has it, and what changed between two revisions.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;
use wharf_model::ecs::shapes::TaskDefinitionStatus;
use wharf_model::ecs::task_definition_diff::Change;
use wharf_store::{Store, TaskDefinitionQuery};

use super::{parse, ViewError, MAX_ROWS};

/// A family's revisions read for its page at most (the newest).
pub const MAX_REVISIONS: usize = 100;

/// One family as the list shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FamilyRow {
    /// The family.
    pub family: String,
    /// How many revisions are kept (any status).
    pub revisions: usize,
    /// How many are ACTIVE.
    pub active: usize,
    /// The newest revision.
    pub latest: i32,
}

/// One revision as a family's page lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RevisionRow {
    /// Its number.
    pub revision: i32,
    /// `ACTIVE`, `INACTIVE` or `DELETE_IN_PROGRESS`.
    pub status: String,
    /// When it was registered, ms since the epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registered_at: Option<i64>,
    /// Its containers, `name (image)`.
    pub containers: Vec<String>,
    /// Task-level `cpu`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu: Option<String>,
    /// Task-level `memory`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
    /// `networkMode`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_mode: Option<String>,
}

/// A family's page.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FamilyPage {
    /// The family.
    pub family: String,
    /// Its revisions, newest first (at most [`MAX_REVISIONS`]).
    pub revisions: Vec<RevisionRow>,
}

/// Every family of the region with its counts, in name order.
pub async fn families(store: &dyn Store, region: &str) -> Result<Vec<FamilyRow>, ViewError> {
    let all = TaskDefinitionQuery { limit: MAX_ROWS, ..Default::default() };
    let active = TaskDefinitionQuery { status: Some(TaskDefinitionStatus::Active), ..all.clone() };
    let mut rows: BTreeMap<String, FamilyRow> = BTreeMap::new();
    for (family, revision) in store.list_task_definitions(region, all).await? {
        let row = rows.entry(family.clone()).or_insert(FamilyRow {
            family,
            revisions: 0,
            active: 0,
            latest: revision,
        });
        row.revisions += 1;
        row.latest = row.latest.max(revision);
    }
    for (family, _) in store.list_task_definitions(region, active).await? {
        if let Some(row) = rows.get_mut(&family) {
            row.active += 1;
        }
    }
    Ok(rows.into_values().collect())
}

fn revision_row(revision: i32, status: String, json: &Value) -> RevisionRow {
    let text = |k: &str| json[k].as_str().map(str::to_owned);
    RevisionRow {
        revision,
        status,
        registered_at: json["registeredAt"].as_f64().map(|s| (s * 1000.0).round() as i64),
        containers: json["containerDefinitions"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| {
                format!(
                    "{} ({})",
                    c["name"].as_str().unwrap_or("?"),
                    c["image"].as_str().unwrap_or("?")
                )
            })
            .collect(),
        cpu: text("cpu"),
        memory: text("memory"),
        network_mode: text("networkMode"),
    }
}

/// The page of `family`: its newest revisions.
pub async fn family(
    store: &dyn Store,
    region: &str,
    family: &str,
) -> Result<FamilyPage, ViewError> {
    let query = TaskDefinitionQuery {
        family: Some(family.to_owned()),
        descending: true,
        limit: MAX_REVISIONS,
        ..Default::default()
    };
    let listed = store.list_task_definitions(region, query).await?;
    if listed.is_empty() {
        return Err(ViewError::NotFound(format!("Task definition family {family} not found.")));
    }
    let mut revisions = Vec::with_capacity(listed.len());
    for (_, revision) in listed {
        if let Some(stored) = store.get_task_definition(region, family, Some(revision)).await? {
            let key = format!("{family}:{revision}");
            if let Some(json) = parse::<Value>("task definition", &key, &stored.json) {
                revisions.push(revision_row(revision, stored.status.to_string(), &json));
            }
        }
    }
    Ok(FamilyPage { family: family.to_owned(), revisions })
}

/// One revision's `TaskDefinition` JSON.
pub async fn revision(
    store: &dyn Store,
    region: &str,
    family: &str,
    revision: i32,
) -> Result<Value, ViewError> {
    let key = format!("{family}:{revision}");
    let not_found = || ViewError::NotFound(format!("Task definition {key} not found."));
    let stored = store.get_task_definition(region, family, Some(revision)).await?;
    let stored = stored.ok_or_else(not_found)?;
    parse("task definition", &key, &stored.json).ok_or_else(not_found)
}

/// What changed between two revisions of a family.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DiffPage {
    /// The family.
    pub family: String,
    /// The revision compared from.
    pub a: i32,
    /// The revision compared to.
    pub b: i32,
    /// The changes, in document order (`wharf_model`'s task definition diff).
    pub changes: Vec<Change>,
}

/// The changes from revision `a` to revision `b` of `family`.
pub async fn diff(
    store: &dyn Store,
    region: &str,
    family: &str,
    a: i32,
    b: i32,
) -> Result<DiffPage, ViewError> {
    let before = revision(store, region, family, a).await?;
    let after = revision(store, region, family, b).await?;
    Ok(DiffPage {
        family: family.to_owned(),
        a,
        b,
        changes: wharf_model::ecs::task_definition_diff::diff(&before, &after),
    })
}
