//! Typed access to the store's JSON documents (clusters, services, capacity
//! providers, ...): a document that does not parse is a server error,
//! logged, never a half-read value.

use serde::de::DeserializeOwned;
use serde::Serialize;
use wharf_model::EcsError;
use wharf_store::{Kind, Write};

use crate::{OpsError, Region};

/// What a typed update decides.
#[derive(Debug)]
pub enum Change<T> {
    /// Store this value.
    Put(T),
    /// Leave the document as it is.
    Keep,
    /// Delete the document (in the same write as the decision).
    Delete,
}

fn corrupt(kind: Kind, e: serde_json::Error) -> EcsError {
    tracing::error!(kind = kind.as_str(), error = %e, "stored document does not parse");
    EcsError::server("Wharf could not read its state.")
}

/// Reads a document as `T`.
pub async fn get<T: DeserializeOwned>(
    r: Region<'_>,
    kind: Kind,
    key: &str,
) -> Result<Option<T>, OpsError> {
    match r.store().get(kind, r.name, key).await? {
        Some(json) => Ok(Some(serde_json::from_str(&json).map_err(|e| corrupt(kind, e))?)),
        None => Ok(None),
    }
}

/// Lists documents of a kind as `T`, in key order after `after`.
pub async fn list<T: DeserializeOwned>(
    r: Region<'_>,
    kind: Kind,
    after: Option<&str>,
    limit: usize,
) -> Result<Vec<(String, T)>, OpsError> {
    let rows = r.store().list(kind, r.name, after, limit).await?;
    rows.into_iter()
        .map(|(k, json)| {
            serde_json::from_str(&json).map(|v| (k, v)).map_err(|e| corrupt(kind, e).into())
        })
        .collect()
}

/// Every document of a kind as `T`, in key order (for small kinds only:
/// clusters and capacity providers of one region).
pub async fn list_all<T: DeserializeOwned>(
    r: Region<'_>,
    kind: Kind,
) -> Result<Vec<(String, T)>, OpsError> {
    const PAGE: usize = 100;
    let mut all: Vec<(String, T)> = Vec::new();
    loop {
        let after = all.last().map(|(k, _)| k.clone());
        let page = list::<T>(r, kind, after.as_deref(), PAGE).await?;
        let full = page.len() == PAGE;
        all.extend(page);
        if !full {
            return Ok(all);
        }
    }
}

/// Reads, decides and writes one document atomically; the value afterwards.
pub async fn update<T, F>(
    r: Region<'_>,
    kind: Kind,
    key: &str,
    decide: F,
) -> Result<Option<T>, OpsError>
where
    T: Serialize + DeserializeOwned,
    F: Fn(Option<T>) -> Result<Change<T>, EcsError> + Send + 'static,
{
    let after = r
        .store()
        .update(
            kind,
            r.name,
            key,
            Box::new(move |current| {
                let current = match current {
                    Some(json) => Some(serde_json::from_str(&json).map_err(|e| corrupt(kind, e))?),
                    None => None,
                };
                Ok(match decide(current)? {
                    Change::Put(v) => {
                        Write::Put(serde_json::to_string(&v).map_err(|e| corrupt(kind, e))?)
                    }
                    Change::Keep => Write::Keep,
                    Change::Delete => Write::Delete,
                })
            }),
        )
        .await?;
    match after {
        Some(json) => Ok(Some(serde_json::from_str(&json).map_err(|e| corrupt(kind, e))?)),
        None => Ok(None),
    }
}
