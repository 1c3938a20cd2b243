//! Typed access to the store's JSON documents, and small input checks shared
//! by the ECS handlers.

use serde::de::DeserializeOwned;
use serde::Serialize;
use wharf_model::EcsError;
use wharf_store::{Kind, Write};

use crate::context::Ctx;
use crate::protocol::ApiError;

/// What a typed update decides.
#[derive(Debug)]
pub(crate) enum Change<T> {
    /// Store this value.
    Put(T),
    /// Leave the document as it is.
    Keep,
}

fn corrupt(kind: Kind, e: serde_json::Error) -> EcsError {
    tracing::error!(kind = kind.as_str(), error = %e, "stored document does not parse");
    EcsError::server("Wharf could not read its state.")
}

/// Reads a document as `T`.
pub(crate) async fn get<T: DeserializeOwned>(
    ctx: &Ctx,
    kind: Kind,
    key: &str,
) -> Result<Option<T>, ApiError> {
    match ctx.store().get(kind, &ctx.region, key).await? {
        Some(json) => Ok(Some(serde_json::from_str(&json).map_err(|e| corrupt(kind, e))?)),
        None => Ok(None),
    }
}

/// Lists documents of a kind as `T`, in key order after `after`.
pub(crate) async fn list<T: DeserializeOwned>(
    ctx: &Ctx,
    kind: Kind,
    after: Option<&str>,
    limit: usize,
) -> Result<Vec<(String, T)>, ApiError> {
    let rows = ctx.store().list(kind, &ctx.region, after, limit).await?;
    rows.into_iter()
        .map(|(k, json)| {
            serde_json::from_str(&json).map(|v| (k, v)).map_err(|e| corrupt(kind, e).into())
        })
        .collect()
}

/// Every document of a kind as `T`, in key order (for small kinds only:
/// clusters and capacity providers of one region).
pub(crate) async fn list_all<T: DeserializeOwned>(
    ctx: &Ctx,
    kind: Kind,
) -> Result<Vec<(String, T)>, ApiError> {
    const PAGE: usize = 100;
    let mut all: Vec<(String, T)> = Vec::new();
    loop {
        let after = all.last().map(|(k, _)| k.clone());
        let page = list::<T>(ctx, kind, after.as_deref(), PAGE).await?;
        let full = page.len() == PAGE;
        all.extend(page);
        if !full {
            return Ok(all);
        }
    }
}

/// Reads, decides and writes one document atomically; the value afterwards.
pub(crate) async fn update<T, F>(
    ctx: &Ctx,
    kind: Kind,
    key: &str,
    decide: F,
) -> Result<Option<T>, ApiError>
where
    T: Serialize + DeserializeOwned,
    F: Fn(Option<T>) -> Result<Change<T>, EcsError> + Send + 'static,
{
    let after = ctx
        .store()
        .update(
            kind,
            &ctx.region,
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
                })
            }),
        )
        .await?;
    match after {
        Some(json) => Ok(Some(serde_json::from_str(&json).map_err(|e| corrupt(kind, e))?)),
        None => Ok(None),
    }
}

/// A required member, or ECS's error naming it.
pub(crate) fn required<T>(value: Option<T>, field: &str) -> Result<T, EcsError> {
    value.ok_or_else(|| EcsError::invalid_parameter(format!("{field} must be specified.")))
}

/// Whether `s` is a valid ECS resource name: 1 to 255 letters, digits,
/// hyphens and underscores.
pub(crate) fn is_resource_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 255
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}
