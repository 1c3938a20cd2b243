//! AWS Secrets Manager: wire shapes, the stored record, and the rules
//! Secrets Manager applies to names, ARNs, versions and staging labels.

pub mod error;
pub mod shapes;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use error::{SecretsManagerError, SecretsManagerErrorKind};
use shapes::{DescribeSecretResponse, GetSecretValueResponse};

use crate::Timestamp;

/// The staging label of the current version.
pub const AWSCURRENT: &str = "AWSCURRENT";
/// The staging label of the version before the current one.
pub const AWSPREVIOUS: &str = "AWSPREVIOUS";
/// The staging label of a version being rotated in.
pub const AWSPENDING: &str = "AWSPENDING";
/// The longest secret name.
pub const MAX_NAME_LEN: usize = 512;
/// The largest `SecretString` or `SecretBinary`, in bytes.
pub const MAX_VALUE_LEN: usize = 65536;
/// How many versions a secret keeps; the oldest without a staging label go first.
pub const MAX_VERSIONS: usize = 100;
/// The most tags a secret carries.
pub const MAX_TAGS: usize = 50;
/// The recovery window when DeleteSecret names none, in days.
pub const DEFAULT_RECOVERY_WINDOW_DAYS: i64 = 30;

/// One secret as the store keeps it: its metadata as the `DescribeSecret`
/// wire shape (without `VersionIdsToStages`, which is derived from the
/// versions), and every kept version as the `GetSecretValue` wire shape.
///
/// `Secret.DeletedDate`, when present, is the moment the secret is scheduled
/// to be deleted; from then on it no longer exists.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SecretRecord {
    /// Metadata: ARN, name, description, KMS key, dates, tags.
    #[serde(rename = "Secret")]
    pub secret: DescribeSecretResponse,
    /// Versions, oldest first.
    #[serde(rename = "Versions", default)]
    pub versions: Vec<GetSecretValueResponse>,
}

impl SecretRecord {
    /// Whether the secret is scheduled for deletion (and not yet gone).
    pub fn is_scheduled_for_deletion(&self) -> bool {
        self.secret.deleted_date.is_some()
    }

    /// Whether the secret is past its deletion date at `now`, so gone.
    pub fn is_expired(&self, now: Timestamp) -> bool {
        self.secret.deleted_date.is_some_and(|d| d.0 <= now.0)
    }

    /// The version with this id.
    pub fn version_by_id(&self, id: &str) -> Option<&GetSecretValueResponse> {
        self.versions.iter().find(|v| v.version_id.as_deref() == Some(id))
    }

    /// The version carrying this staging label.
    pub fn version_by_stage(&self, stage: &str) -> Option<&GetSecretValueResponse> {
        self.versions.iter().find(|v| has_stage(v, stage))
    }

    /// Version id to staging labels, for versions that carry any label.
    pub fn versions_to_stages(&self) -> BTreeMap<String, Vec<String>> {
        self.versions
            .iter()
            .filter_map(|v| {
                let stages = v.version_stages.clone().unwrap_or_default();
                (!stages.is_empty()).then(|| (v.version_id.clone().unwrap_or_default(), stages))
            })
            .collect()
    }

    /// Adds a new version carrying `stages`, moving each label off the
    /// version that had it; when `AWSCURRENT` moves, the version that loses it
    /// becomes `AWSPREVIOUS`. Old versions without a label are dropped beyond
    /// [`MAX_VERSIONS`].
    pub fn add_version(&mut self, mut version: GetSecretValueResponse, stages: Vec<String>) {
        let moves_current = stages.iter().any(|s| s == AWSCURRENT);
        let previous_current = moves_current
            .then(|| self.version_by_stage(AWSCURRENT).and_then(|v| v.version_id.clone()))
            .flatten();
        for v in &mut self.versions {
            if let Some(own) = v.version_stages.as_mut() {
                own.retain(|s| !(stages.contains(s) || (moves_current && s == AWSPREVIOUS)));
            }
        }
        if let Some(prev) = previous_current {
            if let Some(v) = self.versions.iter_mut().find(|v| v.version_id.as_ref() == Some(&prev))
            {
                v.version_stages.get_or_insert_with(Vec::new).push(AWSPREVIOUS.to_owned());
            }
        }
        version.version_stages = Some(stages);
        self.versions.push(version);
        while self.versions.len() > MAX_VERSIONS {
            match self
                .versions
                .iter()
                .position(|v| v.version_stages.as_ref().is_none_or(Vec::is_empty))
            {
                Some(i) => {
                    self.versions.remove(i);
                }
                None => break,
            }
        }
    }
}

/// Whether a version carries a staging label.
pub fn has_stage(v: &GetSecretValueResponse, stage: &str) -> bool {
    v.version_stages.as_ref().is_some_and(|s| s.iter().any(|x| x == stage))
}

/// Checks a secret name: 1 to 512 of letters, digits and `/_+=.@-`.
pub fn validate_name(name: &str) -> Result<(), SecretsManagerError> {
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return Err(SecretsManagerError::validation(format!(
            "1 validation error detected: Value at 'name' failed to satisfy constraint: Member \
             must have length between 1 and {MAX_NAME_LEN}"
        )));
    }
    let ok = |c: char| c.is_ascii_alphanumeric() || "/_+=.@-".contains(c);
    if !name.chars().all(ok) {
        return Err(SecretsManagerError::invalid_parameter(
            "Invalid name. Must be a valid name containing alphanumeric characters, or any of \
             the following: -/_+=.@!",
        ));
    }
    Ok(())
}

/// Checks a `ClientRequestToken` (used as the version id): 32 to 64 characters.
pub fn validate_token(token: &str) -> Result<(), SecretsManagerError> {
    if !(32..=64).contains(&token.len()) {
        return Err(SecretsManagerError::validation(
            "1 validation error detected: Value at 'clientRequestToken' failed to satisfy \
             constraint: Member must have length between 32 and 64",
        ));
    }
    Ok(())
}

/// The ARN of a secret: `arn:aws:secretsmanager:<region>:<account>:secret:<name>-<suffix>`.
pub fn secret_arn(region: &str, account: &str, name: &str, suffix: &str) -> String {
    format!("arn:aws:secretsmanager:{region}:{account}:secret:{name}-{suffix}")
}

/// A secret named in a request (`SecretId`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretId<'a> {
    /// A name.
    Name(&'a str),
    /// An ARN: complete (`name-AbCdEf`) or partial (`name`); which one is
    /// decided by looking, so both candidates are kept.
    Arn {
        /// The whole ARN as given.
        full: &'a str,
        /// The region the ARN names.
        region: &'a str,
        /// The account the ARN names.
        account: &'a str,
        /// What follows `secret:`.
        rest: &'a str,
    },
}

impl<'a> SecretId<'a> {
    /// Reads a `SecretId`: an ARN if it starts with `arn:`, else a name.
    pub fn parse(s: &'a str) -> Option<SecretId<'a>> {
        if !s.starts_with("arn:") {
            return Some(SecretId::Name(s));
        }
        let mut parts = s.splitn(6, ':');
        let (_arn, _partition, service) = (parts.next()?, parts.next()?, parts.next()?);
        if service != "secretsmanager" {
            return None;
        }
        let region = parts.next()?;
        let account = parts.next()?;
        let rest = parts.next()?.strip_prefix("secret:")?;
        (!rest.is_empty()).then_some(SecretId::Arn { full: s, region, account, rest })
    }

    /// The names this id may stand for, in the order to try them: a complete
    /// ARN's name without its 6-character suffix, then the partial reading.
    pub fn candidate_names(&self) -> Vec<&'a str> {
        match *self {
            SecretId::Name(n) => vec![n],
            SecretId::Arn { rest, .. } => {
                let mut out = Vec::with_capacity(2);
                if rest.len() > 7 && rest.as_bytes()[rest.len() - 7] == b'-' {
                    out.push(&rest[..rest.len() - 7]);
                }
                out.push(rest);
                out
            }
        }
    }

    /// Whether the stored secret `name` with ARN `arn` is the one this id
    /// names: by name, by complete ARN, or by partial ARN (the name).
    pub fn matches(&self, name: &str, arn: &str) -> bool {
        match *self {
            SecretId::Name(n) => n == name,
            SecretId::Arn { full, rest, .. } => full == arn || rest == name,
        }
    }
}

/// An ECS `secrets[].valueFrom` that names a Secrets Manager secret:
/// `arn:aws:secretsmanager:<region>:<account>:secret:<secret-id>` optionally
/// followed by `:<json-key>:<version-stage>:<version-id>` (each may be empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcsSecretRef {
    /// The secret's ARN without the selectors (complete or partial).
    pub secret_id: String,
    /// The region the ARN names.
    pub region: String,
    /// A key of the JSON object in `SecretString` to inject instead of it all.
    pub json_key: Option<String>,
    /// A staging label to read instead of `AWSCURRENT`.
    pub version_stage: Option<String>,
    /// A version id to read instead of `AWSCURRENT`.
    pub version_id: Option<String>,
}

/// The ECS agent's words for a valueFrom with the wrong number of parts.
pub const INVALID_VALUE_FROM_ARN: &str = "an invalid ARN format for the AWS Secrets Manager \
    secret was specified. Specify a valid ARN and try again.";

/// Reads a Secrets Manager `valueFrom` the way the ECS agent does: the
/// resource is `secret:<id>` or `secret:<id>:<json-key>:<stage>:<version-id>`.
pub fn parse_ecs_value_from(value_from: &str) -> Result<EcsSecretRef, &'static str> {
    let mut parts = value_from.splitn(6, ':');
    let mut next = || parts.next().ok_or(INVALID_VALUE_FROM_ARN);
    let (arn, partition, service, region, account, resource) =
        (next()?, next()?, next()?, next()?, next()?, next()?);
    if arn != "arn" || service != "secretsmanager" {
        return Err(INVALID_VALUE_FROM_ARN);
    }
    let fields: Vec<&str> = resource.split(':').collect();
    let nonempty = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    match fields.as_slice() {
        ["secret", id] if !id.is_empty() => Ok(EcsSecretRef {
            secret_id: value_from.to_owned(),
            region: region.to_owned(),
            json_key: None,
            version_stage: None,
            version_id: None,
        }),
        ["secret", id, key, stage, version] if !id.is_empty() => Ok(EcsSecretRef {
            secret_id: format!("arn:{partition}:secretsmanager:{region}:{account}:secret:{id}"),
            region: region.to_owned(),
            json_key: nonempty(key),
            version_stage: nonempty(stage),
            version_id: nonempty(version),
        }),
        _ => Err(INVALID_VALUE_FROM_ARN),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(id: &str) -> GetSecretValueResponse {
        GetSecretValueResponse { version_id: Some(id.into()), ..Default::default() }
    }

    #[test]
    fn new_versions_move_current_and_previous() {
        let mut r = SecretRecord::default();
        r.add_version(version("v1"), vec![AWSCURRENT.into()]);
        r.add_version(version("v2"), vec![AWSCURRENT.into()]);
        r.add_version(version("v3"), vec![AWSCURRENT.into()]);
        let m = r.versions_to_stages();
        assert_eq!(m.get("v3").unwrap(), &vec![AWSCURRENT.to_owned()]);
        assert_eq!(m.get("v2").unwrap(), &vec![AWSPREVIOUS.to_owned()]);
        assert!(!m.contains_key("v1"));
        r.add_version(version("v4"), vec!["custom".into()]);
        assert_eq!(r.version_by_stage(AWSCURRENT).unwrap().version_id.as_deref(), Some("v3"));
    }

    #[test]
    fn secret_ids_and_value_froms() {
        let id =
            SecretId::parse("arn:aws:secretsmanager:us-east-1:1:secret:db-pass-AbCdEf").unwrap();
        assert_eq!(id.candidate_names(), vec!["db-pass", "db-pass-AbCdEf"]);
        let id = SecretId::parse("arn:aws:secretsmanager:us-east-1:1:secret:db").unwrap();
        assert_eq!(id.candidate_names(), vec!["db"]);
        assert!(SecretId::parse("arn:aws:ssm:us-east-1:1:parameter/x").is_none());

        let r =
            parse_ecs_value_from("arn:aws:secretsmanager:eu-west-1:1:secret:db-AbCdEf").unwrap();
        assert_eq!(r.secret_id, "arn:aws:secretsmanager:eu-west-1:1:secret:db-AbCdEf");
        assert_eq!(r.json_key, None);
        let r = parse_ecs_value_from("arn:aws:secretsmanager:eu-west-1:1:secret:db-AbCdEf:user::")
            .unwrap();
        assert_eq!(r.secret_id, "arn:aws:secretsmanager:eu-west-1:1:secret:db-AbCdEf");
        assert_eq!(r.json_key.as_deref(), Some("user"));
        assert_eq!((r.version_stage, r.version_id), (None, None));
        let r = parse_ecs_value_from("arn:aws:secretsmanager:r:1:secret:db::AWSPREVIOUS:").unwrap();
        assert_eq!(r.version_stage.as_deref(), Some("AWSPREVIOUS"));
        assert!(parse_ecs_value_from("arn:aws:secretsmanager:r:1:secret:db:user").is_err());
        assert!(parse_ecs_value_from("db").is_err());
    }

    #[test]
    fn names() {
        assert!(validate_name("prod/db_pass+1=x.y@z-").is_ok());
        assert_eq!(
            validate_name("a b").unwrap_err().kind,
            SecretsManagerErrorKind::InvalidParameterException
        );
        assert!(validate_name("").is_err());
        assert!(validate_name(&"x".repeat(513)).is_err());
    }
}
