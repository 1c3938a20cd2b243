//! The principals of a `--credentials` file and the caller a request
//! resolves to.
//!
//! The file is JSON:
//!
//! ```json
//! {"users": [{"arn": "arn:aws:iam::123456789012:user/alice",
//!             "accessKeys": [{"accessKeyId": "AKIA...", "secretAccessKey": "..."}],
//!             "policies": [{"Version": "2012-10-17", "Statement": [...]}]}],
//!  "roles": [{"arn": "arn:aws:iam::123456789012:role/app",
//!             "policies": [...],
//!             "assumeRolePolicy": {"Version": "2012-10-17", "Statement": [...]},
//!             "maxSessionDuration": 3600}]}
//! ```

use std::collections::HashMap;
use std::sync::Arc;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::policy::{ActionIndex, Context, Decision, Policy};
use crate::sts::Session;

/// Whether a principal is a user or a role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An IAM user, with long-term access keys.
    User,
    /// An IAM role, assumed for temporary credentials.
    Role,
}

/// A user or role of the file, its policies compiled.
#[derive(Debug)]
pub struct Principal {
    /// Its ARN.
    pub arn: String,
    /// The account in its ARN.
    pub account: String,
    /// The last part of its name (`alice`, `app`).
    pub name: String,
    /// Its unique id (`AIDA...` for users, `AROA...` for roles), stable for its ARN.
    pub id: String,
    /// User or role.
    pub kind: Kind,
    /// Its identity policies.
    pub policies: Vec<Policy>,
    /// A role's trust policy (`assumeRolePolicy`).
    pub trust: Option<Policy>,
    /// The longest session a role grants, in seconds (IAM's default: 3600).
    pub max_session_duration: i64,
    /// The condition keys its identity policies name, lower-case (sorted):
    /// only these are worth building for a request.
    pub condition_keys: Vec<String>,
    /// Its identity policies precompiled per action.
    pub index: ActionIndex,
}

impl Principal {
    /// IAM's decision on a request by its identity policies.
    pub fn evaluate(&self, ctx: &Context) -> Decision {
        self.index.evaluate(&self.policies, ctx)
    }

    /// Whether a condition of its identity policies names `key` (lower-case).
    pub fn uses_key(&self, key: &str) -> bool {
        self.condition_keys.binary_search_by(|k| k.as_str().cmp(key)).is_ok()
    }

    /// Whether a condition of its identity policies names a key starting
    /// with `prefix` (lower-case), e.g. `aws:resourcetag/`.
    pub fn uses_key_prefix(&self, prefix: &str) -> bool {
        self.condition_keys.iter().any(|k| k.starts_with(prefix))
    }
}

/// The condition keys `policies` name, lower-case, sorted, once each.
fn condition_keys(policies: &[Policy]) -> Vec<String> {
    let mut keys: Vec<String> = policies
        .iter()
        .flat_map(|p| &p.statements)
        .flat_map(|s| &s.conditions)
        .map(|c| c.key.clone())
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

/// Who a verified request comes from.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The principal's ARN as IAM names it in messages: the user's, or
    /// `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`.
    pub arn: String,
    /// The user or role whose policies apply.
    pub principal: Arc<Principal>,
    /// The session, for temporary credentials.
    pub session: Option<Session>,
    /// The access key id used.
    pub access_key_id: String,
    /// The credential scope's region.
    pub region: String,
    /// The credential scope's service.
    pub service: String,
}

impl Caller {
    /// The account.
    pub fn account(&self) -> &str {
        &self.principal.account
    }

    /// `GetCallerIdentity`'s `UserId`: the user's id, or `ROLEID:session`.
    pub fn user_id(&self) -> String {
        match &self.session {
            Some(s) => format!("{}:{}", self.principal.id, s.session_name),
            None => self.principal.id.clone(),
        }
    }
}

/// Everything the credentials file defines.
#[derive(Debug, Default)]
pub struct Directory {
    keys: HashMap<String, (String, Arc<Principal>)>,
    roles: HashMap<String, Arc<Principal>>,
    users: Vec<Arc<Principal>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct File {
    #[serde(default)]
    users: Vec<UserEntry>,
    #[serde(default)]
    roles: Vec<RoleEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct UserEntry {
    arn: String,
    #[serde(default)]
    access_keys: Vec<AccessKey>,
    #[serde(default)]
    policies: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct AccessKey {
    access_key_id: String,
    secret_access_key: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RoleEntry {
    arn: String,
    #[serde(default)]
    policies: Vec<serde_json::Value>,
    assume_role_policy: Option<serde_json::Value>,
    max_session_duration: Option<i64>,
}

/// A credentials file that cannot be used; the message names the place,
/// never a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DirectoryError(pub String);

impl Directory {
    /// Reads a credentials file's text.
    pub fn from_json(text: &str) -> Result<Self, DirectoryError> {
        let de = &mut serde_json::Deserializer::from_str(text);
        let file: File = read_file(de)?;
        let mut dir = Self::default();
        for (i, u) in file.users.into_iter().enumerate() {
            let at = format!("users[{i}]");
            let (account, name) =
                parse_arn(&u.arn, "user").map_err(|e| DirectoryError(format!("{at}.arn: {e}")))?;
            let policies = compile(&u.policies, &at)?;
            let principal = Arc::new(Principal {
                condition_keys: condition_keys(&policies),
                index: ActionIndex::default(),
                id: unique_id("AIDA", &u.arn),
                arn: u.arn,
                account,
                name,
                kind: Kind::User,
                policies,
                trust: None,
                max_session_duration: 0,
            });
            for (k, key) in u.access_keys.into_iter().enumerate() {
                let valid = (16..=128).contains(&key.access_key_id.len())
                    && key.access_key_id.bytes().all(|b| b.is_ascii_alphanumeric());
                if !valid {
                    return Err(DirectoryError(format!(
                        "{at}.accessKeys[{k}].accessKeyId must be 16 to 128 letters and digits"
                    )));
                }
                if key.access_key_id.starts_with("ASIA") {
                    return Err(DirectoryError(format!(
                        "{at}.accessKeys[{k}].accessKeyId: ASIA ids are for temporary credentials"
                    )));
                }
                if key.secret_access_key.len() < 16 {
                    return Err(DirectoryError(format!(
                        "{at}.accessKeys[{k}].secretAccessKey is shorter than 16 characters"
                    )));
                }
                if dir.keys.contains_key(&key.access_key_id) {
                    return Err(DirectoryError(format!(
                        "{at}.accessKeys[{k}].accessKeyId is given twice"
                    )));
                }
                dir.keys.insert(key.access_key_id, (key.secret_access_key, principal.clone()));
            }
            dir.users.push(principal);
        }
        for (i, r) in file.roles.into_iter().enumerate() {
            let at = format!("roles[{i}]");
            let (account, name) =
                parse_arn(&r.arn, "role").map_err(|e| DirectoryError(format!("{at}.arn: {e}")))?;
            let trust = r
                .assume_role_policy
                .as_ref()
                .map(Policy::parse)
                .transpose()
                .map_err(|e| DirectoryError(format!("{at}.assumeRolePolicy: {e}")))?;
            let max = r.max_session_duration.unwrap_or(3600);
            if !(3600..=43_200).contains(&max) {
                return Err(DirectoryError(format!(
                    "{at}.maxSessionDuration must be 3600 to 43200"
                )));
            }
            let policies = compile(&r.policies, &at)?;
            let role = Arc::new(Principal {
                condition_keys: condition_keys(&policies),
                index: ActionIndex::default(),
                id: unique_id("AROA", &r.arn),
                policies,
                arn: r.arn.clone(),
                account,
                name,
                kind: Kind::Role,
                trust,
                max_session_duration: max,
            });
            if dir.roles.insert(r.arn, role).is_some() {
                return Err(DirectoryError(format!("{at}.arn is given twice")));
            }
        }
        Ok(dir)
    }

    /// The secret and owner of a long-term access key.
    pub fn key(&self, access_key_id: &str) -> Option<(&str, &Arc<Principal>)> {
        self.keys.get(access_key_id).map(|(s, p)| (s.as_str(), p))
    }

    /// A role by ARN.
    pub fn role(&self, arn: &str) -> Option<&Arc<Principal>> {
        self.roles.get(arn)
    }

    /// The users, in file order.
    pub fn users(&self) -> &[Arc<Principal>] {
        &self.users
    }

    /// Every secret the file holds (for tests that make sure none leaks).
    pub fn secrets(&self) -> impl Iterator<Item = &str> {
        self.keys.values().map(|(s, _)| s.as_str())
    }
}

fn read_file(
    de: &mut serde_json::Deserializer<serde_json::de::StrRead<'_>>,
) -> Result<File, DirectoryError> {
    // The error text names line and column, never the value read there.
    File::deserialize(de).map_err(|e| {
        let kind = match e.classify() {
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof => "not JSON",
            _ => "not a credentials file",
        };
        let reason = e.to_string();
        // serde names unknown or missing fields, which is safe; a bad value is
        // described by type only.
        let reason = if reason.contains("unknown field") || reason.contains("missing field") {
            reason
        } else {
            format!("line {} column {}", e.line(), e.column())
        };
        DirectoryError(format!("{kind}: {reason}"))
    })
}

fn compile(policies: &[serde_json::Value], at: &str) -> Result<Vec<Policy>, DirectoryError> {
    policies
        .iter()
        .enumerate()
        .map(|(j, p)| {
            Policy::parse(p).map_err(|e| DirectoryError(format!("{at}.policies[{j}]: {e}")))
        })
        .collect()
}

/// `arn:aws:iam::ACCOUNT:user/path/NAME` → (account, NAME).
fn parse_arn(arn: &str, kind: &str) -> Result<(String, String), String> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let ok = parts.len() == 6
        && parts[0] == "arn"
        && parts[1] == "aws"
        && parts[2] == "iam"
        && parts[3].is_empty()
        && parts[4].len() == 12
        && parts[4].bytes().all(|b| b.is_ascii_digit());
    let resource = parts.get(5).copied().unwrap_or("");
    let name = resource
        .strip_prefix(kind)
        .and_then(|r| r.strip_prefix('/'))
        .map(|r| r.rsplit('/').next().unwrap_or(r));
    match name {
        Some(n) if ok && !n.is_empty() => Ok((parts[4].to_owned(), n.to_owned())),
        _ => Err(format!("{arn:?} is not an IAM {kind} ARN (arn:aws:iam::ACCOUNT:{kind}/NAME)")),
    }
}

/// `PREFIX` and 17 characters derived from the ARN, as IAM's unique ids look.
fn unique_id(prefix: &str, arn: &str) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let digest = Sha256::digest(arn.as_bytes());
    let tail: String =
        digest.iter().take(17).map(|b| ALPHABET[usize::from(b & 31)] as char).collect();
    format!("{prefix}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_users_keys_and_roles() {
        let dir = Directory::from_json(r#"{
            "users": [{"arn": "arn:aws:iam::123456789012:user/team/alice",
                       "accessKeys": [{"accessKeyId": "AKIAALICE0000001", "secretAccessKey": "alice-secret-0000000"}],
                       "policies": [{"Statement": {"Effect": "Allow", "Action": "ecs:*", "Resource": "*"}}]}],
            "roles": [{"arn": "arn:aws:iam::123456789012:role/app",
                       "assumeRolePolicy": {"Statement": {"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}}}]
        }"#).unwrap();
        let (secret, alice) = dir.key("AKIAALICE0000001").unwrap();
        assert_eq!(secret, "alice-secret-0000000");
        assert_eq!((alice.name.as_str(), alice.account.as_str()), ("alice", "123456789012"));
        assert!(alice.id.starts_with("AIDA") && alice.id.len() == 21);
        assert_eq!(alice.policies.len(), 1);
        assert!(dir.role("arn:aws:iam::123456789012:role/app").unwrap().trust.is_some());
        assert!(dir.key("AKIAOTHER").is_none());
    }

    #[test]
    fn errors_name_the_place_and_never_the_secret() {
        for (text, words) in [
            (r#"{"users":[{"arn":"arn:aws:iam::1:user/a"}]}"#, "users[0].arn"),
            (
                r#"{"users":[{"arn":"arn:aws:iam::123456789012:user/a","accessKeys":[{"accessKeyId":"AK","secretAccessKey":"supersecretvalue123"}]}]}"#,
                "accessKeyId",
            ),
            (
                r#"{"users":[{"arn":"arn:aws:iam::123456789012:user/a","policies":[{"Statement":{"Effect":"No","Action":"*","Resource":"*"}}]}]}"#,
                "users[0].policies[0]",
            ),
            (
                r#"{"roles":[{"arn":"arn:aws:iam::123456789012:role/r","maxSessionDuration":5}]}"#,
                "maxSessionDuration",
            ),
            (r#"{"groups":[]}"#, "groups"),
            (
                r#"{"users":[{"arn":"arn:aws:iam::123456789012:user/a","accessKeys":[{"accessKeyId":"AKIAALICE0000001","secretAccessKey":12345678901234567}]}]}"#,
                "line",
            ),
        ] {
            let e = Directory::from_json(text).unwrap_err();
            assert!(e.0.contains(words), "{text}: {e}");
            assert!(
                !e.0.contains("supersecretvalue123") && !e.0.contains("12345678901234567"),
                "{e}"
            );
        }
    }
}
