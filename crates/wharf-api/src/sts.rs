//! AWS STS on the Query protocol: `GetCallerIdentity` and `AssumeRole` for
//! the roles of the credentials file. Temporary credentials are minted by
//! [`wharf_auth::sts::Issuer`] and accepted by every API Wharf serves, with
//! the assumed role's policies.
//!
//! Without a credentials file every request is the account's root, and
//! AssumeRole hands out credentials for any well-formed role ARN.

use serde::Serialize;
use wharf_auth::policy::{trusts_aws, Context, Decision};
use wharf_auth::time::format_iso8601;

use crate::context::Ctx;

/// The XML namespace of STS answers.
pub const XML_NAMESPACE: &str = "https://sts.amazonaws.com/doc/2011-06-15/";
/// The STS API version.
pub const API_VERSION: &str = "2011-06-15";
/// The operations served (a Query request with one of these actions is STS's).
pub const ACTIONS: [&str; 2] = ["GetCallerIdentity", "AssumeRole"];

/// An STS error: its code, HTTP status and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StsError {
    /// The `Code`.
    pub code: &'static str,
    /// The HTTP status.
    pub status: u16,
    /// The message.
    pub message: String,
}

impl StsError {
    fn validation(message: impl Into<String>) -> Self {
        Self { code: "ValidationError", status: 400, message: message.into() }
    }

    fn denied(message: String) -> Self {
        Self { code: "AccessDenied", status: 403, message }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct CallerIdentity {
    user_id: String,
    account: String,
    arn: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct AssumeRoleResult {
    credentials: Credentials,
    assumed_role_user: AssumedRoleUser,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Credentials {
    access_key_id: String,
    secret_access_key: String,
    session_token: String,
    expiration: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct AssumedRoleUser {
    assumed_role_id: String,
    arn: String,
}

/// Runs an STS action on the form's parameters: the XML answer, or the error.
pub fn handle(ctx: &Ctx, action: &str, params: &[(String, String)]) -> Result<String, StsError> {
    let get = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let write = |out: &dyn erased::Answer| {
        out.answer(action, &ctx.request_id).map_err(|_| StsError {
            code: "InternalFailure",
            status: 500,
            message: "Wharf could not write its answer.".into(),
        })
    };
    match action {
        "GetCallerIdentity" => {
            let identity = match &ctx.caller {
                Some(c) => CallerIdentity {
                    user_id: c.user_id(),
                    account: c.account().to_owned(),
                    arn: c.arn.clone(),
                },
                None => CallerIdentity {
                    user_id: ctx.state.ops.account_id.to_string(),
                    account: ctx.state.ops.account_id.to_string(),
                    arn: ctx.root_principal(),
                },
            };
            write(&identity)
        }
        "AssumeRole" => write(&assume_role(ctx, get)?),
        _ => Err(StsError {
            code: "InvalidAction",
            status: 400,
            message: format!("Could not find operation {action} for version {API_VERSION}"),
        }),
    }
}

fn assume_role<'a>(
    ctx: &Ctx,
    get: impl Fn(&str) -> Option<&'a str>,
) -> Result<AssumeRoleResult, StsError> {
    let role_arn = get("RoleArn").ok_or_else(|| {
        StsError::validation("1 validation error detected: Value null at 'roleArn' failed to satisfy constraint: Member must not be null")
    })?;
    let session = get("RoleSessionName").ok_or_else(|| {
        StsError::validation("1 validation error detected: Value null at 'roleSessionName' failed to satisfy constraint: Member must not be null")
    })?;
    let session_ok = (2..=64).contains(&session.len())
        && session.bytes().all(|b| b.is_ascii_alphanumeric() || b"_+=,.@-".contains(&b));
    if !session_ok {
        return Err(StsError::validation(format!(
            "1 validation error detected: Value '{session}' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*"
        )));
    }
    if !(20..=2048).contains(&role_arn.len()) {
        return Err(StsError::validation(format!(
            "1 validation error detected: Value '{role_arn}' at 'roleArn' failed to satisfy constraint: Member must have length greater than or equal to 20"
        )));
    }
    let duration = match get("DurationSeconds") {
        None => 3600,
        Some(d) => d.parse::<i64>().ok().filter(|d| *d >= 900).ok_or_else(|| {
            StsError::validation(format!(
                "1 validation error detected: Value '{d}' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900"
            ))
        })?,
    };
    let (role_name, role_id, max) = match (&ctx.state.auth, &ctx.caller) {
        (Some(auth), Some(caller)) => {
            let denied = || {
                StsError::denied(format!(
                    "User: {} is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
                    caller.arn
                ))
            };
            let role = auth.directory().role(role_arn).ok_or_else(denied)?;
            let trust = role.trust.as_ref().ok_or_else(denied)?;
            let by_account =
                trusts_aws(trust, "sts:AssumeRole", &caller.principal.arn, caller.account())
                    .ok_or_else(denied)?;
            let check = Context::new("sts:AssumeRole", role_arn);
            let decision = caller.principal.evaluate(&check);
            if decision == Decision::ExplicitDeny || (by_account && decision != Decision::Allow) {
                return Err(denied());
            }
            (role.name.clone(), role.id.clone(), role.max_session_duration)
        }
        _ => {
            let name = role_arn.rsplit('/').next().unwrap_or(role_arn).to_owned();
            (name, "AROAWHARFUNCHECKED00".into(), 43_200)
        }
    };
    if duration > max {
        return Err(StsError::validation(
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
        ));
    }
    let account = role_arn.split(':').nth(4).unwrap_or(&ctx.state.ops.account_id).to_owned();
    let expires = ctx.state.ops.clock.now_millis() / 1000 + duration;
    let creds = ctx.state.sts.mint(role_arn, session, None, expires, crate::random::nonce());
    Ok(AssumeRoleResult {
        credentials: Credentials {
            access_key_id: creds.access_key_id,
            secret_access_key: creds.secret_access_key,
            session_token: creds.session_token,
            expiration: format_iso8601(creds.expiration),
        },
        assumed_role_user: AssumedRoleUser {
            assumed_role_id: format!("{role_id}:{session}"),
            arn: format!("arn:aws:sts::{account}:assumed-role/{role_name}/{session}"),
        },
    })
}

/// The answer documents, written through the Query XML writer.
mod erased {
    /// An STS result that writes itself as its action's answer.
    pub trait Answer {
        fn answer(&self, action: &str, request_id: &str) -> Result<String, serde_json::Error>;
    }

    impl<T: serde::Serialize> Answer for T {
        fn answer(&self, action: &str, request_id: &str) -> Result<String, serde_json::Error> {
            crate::query::answer(action, super::XML_NAMESPACE, request_id, self)
        }
    }
}
