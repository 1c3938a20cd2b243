//! The console's read models: compact JSON views built straight from the
//! store, one module per page (clusters, services, tasks, task definitions,
//! load balancers). Each builder reads what its page shows and nothing more,
//! so that a cluster of a thousand tasks answers in one list and one pass.
//!
//! Builders take the store and a region; they never write. A record that no
//! longer parses is skipped with a log line rather than failing the page.

pub mod clusters;
pub mod load_balancers;
pub mod scaling;
pub mod services;
pub mod task_definitions;
pub mod tasks;

use serde::de::DeserializeOwned;
use wharf_model::wire::Timestamp;
use wharf_store::StoreError;

/// Why a view could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    /// The thing the page is about does not exist (the message says which).
    #[error("{0}")]
    NotFound(String),
    /// A request parameter is not usable (the message names it).
    #[error("{0}")]
    BadRequest(String),
    /// The store failed.
    #[error("the store failed: {0}")]
    Store(#[from] StoreError),
}

/// The most rows a listing page reads (a cluster's tasks, a family's
/// revisions beyond which the page says it was cut).
pub const MAX_ROWS: usize = 10_000;
/// The page size the builders read the store in.
const PAGE: usize = 1_000;

/// Parses a stored record, logging (not failing) when it no longer parses.
fn parse<T: DeserializeOwned>(what: &str, key: &str, json: &str) -> Option<T> {
    match serde_json::from_str(json) {
        Ok(v) => Some(v),
        Err(e) => {
            tracing::warn!(what, key, error = %e, "console: a stored record does not parse");
            None
        }
    }
}

/// Milliseconds since the epoch of an optional wire timestamp.
fn ms(t: Option<Timestamp>) -> Option<i64> {
    t.map(Timestamp::as_millis)
}

/// `family:revision` of a task definition ARN (or the text as given).
pub fn family_revision(arn: &str) -> &str {
    match wharf_model::arn::parse(arn) {
        Some(a) if a.kind == "task-definition" => a.rest,
        _ => arn,
    }
}

/// The last part of an ARN (`.../web/abc` → `abc`).
pub fn short_id(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}
