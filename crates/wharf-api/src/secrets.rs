//! Resolving an ECS container's `secrets[].valueFrom` from the parameters and
//! secrets Wharf keeps, for the agent. Pure over the store: no HTTP, no
//! clock of its own.
//!
//! A `valueFrom` is either
//! - an SSM parameter: a name (`/a/b`, `a`), optionally `name:version`, or an
//!   ARN `arn:aws:ssm:<region>:<account>:parameter/a/b` (its region is used);
//!   SecureStrings are decrypted, as the agent asks with `WithDecryption`;
//! - a Secrets Manager secret: `arn:aws:secretsmanager:<region>:<account>:secret:<id>`
//!   optionally followed by `:<json-key>:<version-stage>:<version-id>`, each
//!   of which may be empty (the secret's `AWSCURRENT` `SecretString`, or one
//!   key of it when it is a JSON object).
//!
//! Errors are worded as the ECS agent words them in a task's
//! `stoppedReason` and never contain a secret value.

use wharf_model::secretsmanager::{self as asm, SecretsManagerError, SecretsManagerErrorKind};
use wharf_model::ssm::{self, SsmError};
use wharf_model::Timestamp;
use wharf_store::Store;

use crate::records::Fault;

/// Why a `valueFrom` could not be resolved. The message (its `Display`) is
/// the ECS agent's; it names the reference, never the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    /// The parameter or secret (or the version or JSON key a selector names)
    /// does not exist, or the secret is scheduled for deletion.
    #[error("{0}")]
    NotFound(String),
    /// The `valueFrom` is not a reference Wharf can read.
    #[error("{0}")]
    Invalid(String),
    /// Wharf could not read its state.
    #[error("{0}")]
    Internal(String),
}

impl Fault for ResolveError {
    fn internal() -> Self {
        Self::Internal("Wharf could not read its state to resolve secrets. Try again.".into())
    }
}

/// Resolves one `valueFrom` in the task's `region` at time `now` (secrets
/// past their deletion date are gone): the value to inject.
pub async fn resolve(
    store: &dyn Store,
    region: &str,
    value_from: &str,
    now: Timestamp,
) -> Result<String, ResolveError> {
    if value_from.starts_with("arn:") && value_from.split(':').nth(2) == Some("secretsmanager") {
        resolve_secret(store, value_from, now).await
    } else {
        resolve_parameter(store, region, value_from).await
    }
}

async fn resolve_parameter(
    store: &dyn Store,
    region: &str,
    value_from: &str,
) -> Result<String, ResolveError> {
    let arn_region = ssm::parse_arn(value_from).map(|(r, _)| r.to_owned());
    let region = arn_region.as_deref().unwrap_or(region);
    // The agent's words for a parameter GetParameters lists as invalid.
    let missing = || {
        ResolveError::NotFound(format!(
            "fetching secret data from SSM Parameter Store in {region}: invalid parameters: \
             {value_from}"
        ))
    };
    if value_from.starts_with("arn:") && arn_region.is_none() {
        return Err(ResolveError::Invalid(format!(
            "fetching secret data from SSM Parameter Store in {region}: {value_from} is neither \
             an SSM parameter name or ARN nor a Secrets Manager secret ARN"
        )));
    }
    let reference = ssm::parse_ref(value_from).map_err(|_| missing())?;
    let found = crate::ssm::lookup(store, region, &reference).await.map_err(from_ssm)?;
    let (_, record) = found.ok_or_else(missing)?;
    let version = record.select(reference.selector.as_ref()).ok_or_else(missing)?;
    version.value.clone().ok_or_else(missing)
}

fn from_ssm(e: SsmError) -> ResolveError {
    match e.kind {
        ssm::SsmErrorKind::InternalServerError => ResolveError::internal(),
        _ => ResolveError::Invalid(e.message),
    }
}

async fn resolve_secret(
    store: &dyn Store,
    value_from: &str,
    now: Timestamp,
) -> Result<String, ResolveError> {
    let r = asm::parse_ecs_value_from(value_from).map_err(|e| {
        ResolveError::Invalid(format!(
            "trying to retrieve secret with value {value_from} resulted in error: {e}"
        ))
    })?;
    let prefix = format!("fetching secret data from AWS Secrets Manager in region {}", r.region);
    let service_error = |e: SecretsManagerError| match e.kind {
        SecretsManagerErrorKind::InternalServiceError => ResolveError::internal(),
        kind => ResolveError::NotFound(format!(
            "{prefix}: secret {}: {}: {}",
            r.secret_id,
            kind.wire_name(),
            e.message
        )),
    };
    let found = crate::secretsmanager::find(store, &r.region, now, &r.secret_id)
        .await
        .map_err(service_error)?;
    let (_, record) = found.ok_or_else(|| service_error(SecretsManagerError::not_found()))?;
    if record.is_scheduled_for_deletion() {
        return Err(service_error(SecretsManagerError::marked_for_deletion()));
    }
    let version = crate::secretsmanager::select_version(
        &record,
        r.version_id.as_deref(),
        r.version_stage.as_deref(),
    )
    .map_err(service_error)?;
    let Some(text) = version.secret_string.as_deref() else {
        return Err(ResolveError::Invalid(format!(
            "{prefix}: secret {}: the secret has no SecretString (only SecretBinary); ECS \
             injects SecretString values only",
            r.secret_id
        )));
    };
    let Some(key) = r.json_key.as_deref() else { return Ok(text.to_owned()) };
    let not_json = || {
        ResolveError::Invalid(format!(
            "{prefix}: secret {}: the secret value is not a JSON object, so json key {key} \
             cannot be read from it",
            r.secret_id
        ))
    };
    let object: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(text).map_err(|_| not_json())?;
    match object.get(key) {
        None => Err(ResolveError::NotFound(format!(
            "{prefix}: retrieved secret from Secrets Manager did not contain json key {key}"
        ))),
        Some(serde_json::Value::String(s)) => Ok(s.clone()),
        // The agent formats other JSON values with Go's %v; JSON text is the
        // closest faithful spelling (numbers, true/false, nested documents).
        Some(serde_json::Value::Null) => Ok("<nil>".to_owned()),
        Some(other) => Ok(other.to_string()),
    }
}
