//! Typed access to the store's JSON documents for services whose errors are
//! not ECS's (SSM, Secrets Manager, the secrets resolver).
//!
//! A decision returns the service's own error; the store's refusal channel
//! carries ECS errors only, so a refused decision leaves the document as it
//! is (`Write::Keep`) and its error comes back through a slot beside the
//! closure. Either way the read-decide-write is one store transaction.

use std::sync::{Arc, Mutex};

use serde::de::DeserializeOwned;
use serde::Serialize;
use wharf_store::{Kind, Store, Write};

/// A service error that can stand for "Wharf failed", for store failures and
/// documents that no longer parse (both logged where they happen).
pub(crate) trait Fault: Send + 'static {
    /// The service's internal error.
    fn internal() -> Self;
}

impl Fault for wharf_model::ssm::SsmError {
    fn internal() -> Self {
        Self::internal()
    }
}

impl Fault for wharf_model::secretsmanager::SecretsManagerError {
    fn internal() -> Self {
        Self::internal()
    }
}

impl Fault for wharf_model::acm::AcmError {
    fn internal() -> Self {
        Self::internal()
    }
}

impl Fault for wharf_model::cloudwatch::CloudWatchError {
    fn internal() -> Self {
        Self::internal()
    }
}

impl Fault for wharf_model::codedeploy::CodeDeployError {
    fn internal() -> Self {
        Self::internal()
    }
}

/// What a typed update decides.
#[derive(Debug)]
pub(crate) enum Change<T> {
    /// Store this value.
    Put(T),
    /// Remove the document.
    Delete,
    /// Leave the document as it is.
    Keep,
}

fn store_failed<E: Fault>(kind: Kind, e: wharf_store::StoreError) -> E {
    tracing::error!(kind = kind.as_str(), error = %e, "store failure");
    E::internal()
}

fn corrupt<E: Fault>(kind: Kind, e: serde_json::Error) -> E {
    tracing::error!(kind = kind.as_str(), error = %e, "stored document does not parse");
    E::internal()
}

/// Reads a document as `T`.
pub(crate) async fn get<T: DeserializeOwned, E: Fault>(
    store: &dyn Store,
    kind: Kind,
    region: &str,
    key: &str,
) -> Result<Option<T>, E> {
    match store.get(kind, region, key).await.map_err(|e| store_failed(kind, e))? {
        Some(json) => serde_json::from_str(&json).map(Some).map_err(|e| corrupt(kind, e)),
        None => Ok(None),
    }
}

/// Lists up to `limit` documents of a kind as `T`, in key order after `after`.
pub(crate) async fn list<T: DeserializeOwned, E: Fault>(
    store: &dyn Store,
    kind: Kind,
    region: &str,
    after: Option<&str>,
    limit: usize,
) -> Result<Vec<(String, T)>, E> {
    let rows = store.list(kind, region, after, limit).await.map_err(|e| store_failed(kind, e))?;
    rows.into_iter()
        .map(|(k, json)| serde_json::from_str(&json).map(|v| (k, v)).map_err(|e| corrupt(kind, e)))
        .collect()
}

/// Walks the documents whose keys start with `prefix` (a key equal to the
/// prefix itself is not visited), in key order, after `after` if given,
/// calling `visit` on each until it returns `false` or the keys leave the
/// prefix. Reads pages of `page` documents.
pub(crate) async fn scan_prefix<T, E, F>(
    store: &dyn Store,
    kind: Kind,
    region: &str,
    prefix: &str,
    after: Option<&str>,
    page: usize,
    mut visit: F,
) -> Result<(), E>
where
    T: DeserializeOwned,
    E: Fault,
    F: FnMut(String, T) -> bool,
{
    // Every key with the prefix sorts after the prefix itself, so starting just
    // after it (or after the resume key, whichever is later) misses none.
    let mut cursor: Option<String> = match after {
        Some(a) if a >= prefix => Some(a.to_owned()),
        _ if prefix.is_empty() => None,
        _ => Some(prefix.to_owned()),
    };
    loop {
        let rows = list::<T, E>(store, kind, region, cursor.as_deref(), page).await?;
        let full = rows.len() == page;
        for (key, value) in rows {
            if !key.starts_with(prefix) {
                return Ok(());
            }
            cursor = Some(key.clone());
            if !visit(key, value) {
                return Ok(());
            }
        }
        if !full {
            return Ok(());
        }
    }
}

/// Reads, decides and writes one document in one store transaction. The
/// decision sees the current value and returns the change plus an answer for
/// the caller; an error leaves the document untouched and is returned.
pub(crate) async fn update<T, E, R, F>(
    store: &dyn Store,
    kind: Kind,
    region: &str,
    key: &str,
    decide: F,
) -> Result<R, E>
where
    T: Serialize + DeserializeOwned,
    E: Fault,
    R: Send + 'static,
    F: Fn(Option<T>) -> Result<(Change<T>, R), E> + Send + 'static,
{
    let slot: Arc<Mutex<Option<Result<R, E>>>> = Arc::new(Mutex::new(None));
    let out = Arc::clone(&slot);
    let result = store
        .update(
            kind,
            region,
            key,
            Box::new(move |current| {
                let decided = match current.map(|json| serde_json::from_str::<T>(&json)) {
                    Some(Err(e)) => Err(corrupt(kind, e)),
                    Some(Ok(v)) => decide(Some(v)),
                    None => decide(None),
                };
                let (write, answer) = match decided {
                    Ok((Change::Put(v), r)) => match serde_json::to_string(&v) {
                        Ok(json) => (Write::Put(json), Ok(r)),
                        Err(e) => (Write::Keep, Err(corrupt(kind, e))),
                    },
                    Ok((Change::Delete, r)) => (Write::Delete, Ok(r)),
                    Ok((Change::Keep, r)) => (Write::Keep, Ok(r)),
                    Err(e) => (Write::Keep, Err(e)),
                };
                if let Ok(mut s) = out.lock() {
                    *s = Some(answer);
                }
                Ok(write)
            }),
        )
        .await;
    result.map_err(|e| store_failed(kind, e))?;
    let answer = slot.lock().ok().and_then(|mut s| s.take());
    answer.unwrap_or_else(|| Err(E::internal()))
}
