//! Where task role credentials come from: the server's STS, through the
//! agent link (temporary credentials minted for the task's role, cached and
//! fetched again before they expire), or a mapping from role ARN to
//! credentials given by the operator (`--task-credentials`), which wins.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use serde::Deserialize;
use wharf_model::agent::{RoleKind, TaskRoleCredentials};

use crate::link::ServerLink;

use super::MetadataError;

/// The key of a [`CredentialsSource`] entry that serves every role without
/// an entry of its own.
pub const ANY_ROLE: &str = "*";

/// Credentials for one role. `Debug` shows the access key ID only; the
/// secret and the session token are never printed or logged.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleCredentials {
    /// `AccessKeyId`.
    #[serde(rename = "AccessKeyId")]
    pub access_key_id: String,
    /// `SecretAccessKey`.
    #[serde(rename = "SecretAccessKey")]
    pub secret_access_key: String,
    /// `Token` (a session token), if any; served as `""` when absent, as
    /// the ECS agent serves a missing one.
    #[serde(rename = "Token", default)]
    pub token: Option<String>,
    /// `Expiration`, RFC 3339, echoed as given. When absent, each answer
    /// says one hour from now, so that SDKs (which need an expiration)
    /// fetch again now and then.
    #[serde(rename = "Expiration", default)]
    pub expiration: Option<String>,
}

impl std::fmt::Debug for RoleCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoleCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("expiration", &self.expiration)
            .finish_non_exhaustive()
    }
}

/// Task role credentials by role ARN, for `/v2/credentials/<id>`.
///
/// Loaded from JSON ([`CredentialsSource::from_file`]):
///
/// ```json
/// {
///   "arn:aws:iam::123456789012:role/app": {
///     "AccessKeyId": "AKIA...", "SecretAccessKey": "...", "Token": "...",
///     "Expiration": "2030-01-01T00:00:00Z"
///   },
///   "*": { "AccessKeyId": "...", "SecretAccessKey": "..." }
/// }
/// ```
///
/// `Token` and `Expiration` are optional; the entry `"*"` ([`ANY_ROLE`])
/// serves every role without one of its own. A role with no entry is
/// answered `NoCredentialsAssociated`; [`CredentialsSource::none`] has no
/// entries at all. Cheap to clone; `Debug` lists role ARNs only.
#[derive(Clone, Default)]
pub struct CredentialsSource {
    roles: Arc<HashMap<String, RoleCredentials>>,
    /// The server, which mints credentials for roles without an entry.
    minter: Option<Arc<dyn ServerLink>>,
    /// Minted credentials by task ARN.
    minted: Arc<Mutex<HashMap<String, TaskRoleCredentials>>>,
}

/// Minted credentials are fetched again when less than this is left of
/// them (seconds), so an SDK never holds credentials about to expire.
pub const REFRESH_BEFORE_EXPIRY_SECS: i64 = 15 * 60;

impl std::fmt::Debug for CredentialsSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut roles: Vec<&str> = self.roles.keys().map(String::as_str).collect();
        roles.sort_unstable();
        f.debug_struct("CredentialsSource").field("roles", &roles).finish()
    }
}

impl CredentialsSource {
    /// No credentials for any role: every request for a known credentials
    /// ID is answered `NoCredentialsAssociated`.
    pub fn none() -> Self {
        Self::default()
    }

    /// Credentials from a map of role ARN (or [`ANY_ROLE`]) to credentials.
    pub fn from_roles(roles: HashMap<String, RoleCredentials>) -> Self {
        Self { roles: Arc::new(roles), ..Self::default() }
    }

    /// Parses the JSON form (see the type's documentation). Errors name the
    /// place and, for a missing or unknown field, the field; never a value.
    pub fn from_json(text: &str) -> Result<Self, MetadataError> {
        let roles: HashMap<String, RoleCredentials> =
            serde_json::from_str(text).map_err(|e| MetadataError::Credentials(describe(&e)))?;
        for (role, creds) in &roles {
            if creds.access_key_id.is_empty() || creds.secret_access_key.is_empty() {
                return Err(MetadataError::Credentials(format!(
                    "role {role}: AccessKeyId and SecretAccessKey must not be empty"
                )));
            }
        }
        Ok(Self::from_roles(roles))
    }

    /// Reads the JSON form from a file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, MetadataError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| {
            MetadataError::Credentials(format!("cannot read {}: {e}", path.display()))
        })?;
        Self::from_json(&text).map_err(|e| match e {
            MetadataError::Credentials(m) => {
                MetadataError::Credentials(format!("{}: {m}", path.display()))
            }
            other => other,
        })
    }

    /// The credentials for a role: its own entry, else the [`ANY_ROLE`] one.
    pub fn lookup(&self, role_arn: &str) -> Option<&RoleCredentials> {
        self.roles.get(role_arn).or_else(|| self.roles.get(ANY_ROLE))
    }

    /// Whether there are no entries at all.
    pub fn is_empty(&self) -> bool {
        self.roles.is_empty()
    }

    /// Asks `link` (the server's STS) for the roles without an entry.
    pub fn minted_by(mut self, link: Arc<dyn ServerLink>) -> Self {
        self.minter = Some(link);
        self
    }

    /// Credentials for a task's role at `now` (Unix seconds): the operator's
    /// entry for the role, else the server's, minted for this task and kept
    /// until [`REFRESH_BEFORE_EXPIRY_SECS`] before they expire. `None` when
    /// neither has any (the reason is logged, never a secret).
    pub async fn for_task(
        &self,
        task_arn: &str,
        role_arn: &str,
        now: i64,
    ) -> Option<RoleCredentials> {
        if let Some(c) = self.lookup(role_arn) {
            return Some(c.clone());
        }
        let minter = self.minter.as_ref()?;
        let cached = self.minted.lock().ok().and_then(|m| m.get(task_arn).cloned());
        let fresh = match cached {
            Some(c) if c.expiration - now > REFRESH_BEFORE_EXPIRY_SECS => c,
            _ => match minter.role_credentials(task_arn, RoleKind::TaskApplication).await {
                Ok(c) => {
                    if let Ok(mut m) = self.minted.lock() {
                        m.insert(task_arn.to_owned(), c.clone());
                    }
                    c
                }
                Err(e) => {
                    tracing::warn!(task = %task_arn, error = %e, "task credentials: the server minted none");
                    return None;
                }
            },
        };
        Some(RoleCredentials {
            access_key_id: fresh.access_key_id,
            secret_access_key: fresh.secret_access_key,
            token: Some(fresh.token),
            expiration: Some(super::response::rfc3339_seconds(fresh.expiration)),
        })
    }

    /// Forgets a task's minted credentials (when the task is gone).
    pub fn forget(&self, task_arn: &str) {
        if let Ok(mut m) = self.minted.lock() {
            m.remove(task_arn);
        }
    }
}

/// A serde error without the values it may quote (a misplaced secret would
/// otherwise end up in a log).
fn describe(e: &serde_json::Error) -> String {
    let at = format!("line {} column {}", e.line(), e.column());
    let text = e.to_string();
    match e.classify() {
        serde_json::error::Category::Data
            if text.starts_with("unknown field") || text.starts_with("missing field") =>
        {
            // `unknown field `X`, expected ...` names fields, not values.
            let text = text.rfind(" at line ").map_or(text.as_str(), |i| &text[..i]);
            format!("{text} at {at}")
        }
        serde_json::error::Category::Data => {
            format!("a value has the wrong type at {at} (expected: role ARN → {{AccessKeyId, SecretAccessKey, Token?, Expiration?}})")
        }
        serde_json::error::Category::Eof => format!("the JSON ends early at {at}"),
        _ => format!("invalid JSON at {at}"),
    }
}
