//! The audit trail: every mutating AWS call (its caller, action, resources,
//! source address and outcome) as a CloudTrail event, one JSON object per
//! line, appended to a file by a writer thread of its own so that no request
//! waits on the disk. `wharf audit` reads it.
//!
//! Read-only calls (`Describe*`, `List*`, `Get*`, ...) are not recorded, as
//! CloudTrail's management events default to writes. Secret values in
//! request parameters (parameter values, secret strings, credentials) are
//! replaced by `HIDDEN_DUE_TO_SECURITY_REASONS`, as CloudTrail hides them.
//!
//! Here: which calls are recorded and the event's shape. `log`: the file and
//! its writer thread. `secrets`: what is hidden, and how.

mod log;
mod secrets;

use serde::Serialize;

pub use log::AuditLog;
pub use secrets::{hide_secrets, HIDDEN};

use crate::context::Ctx;
use secrets::Parameters;

/// Whether an operation only reads (and is not recorded).
pub fn read_only(op: &str) -> bool {
    ["Describe", "List", "Get", "BatchGet", "Filter", "Tail", "Test"]
        .iter()
        .any(|p| op.starts_with(p))
}

/// What the audit needs of the request besides the context.
#[derive(Debug, Clone, Copy)]
pub struct CallFacts<'a> {
    /// The front door's name of the service (`ecs`, `elbv2`, `sts`, ...).
    pub service: &'a str,
    /// The operation.
    pub op: &'a str,
    /// The request body.
    pub body: &'a [u8],
    /// The client's address.
    pub source: Option<std::net::SocketAddr>,
    /// `User-Agent`.
    pub user_agent: Option<&'a str>,
    /// The error type and message, if the call failed.
    pub error: Option<(&'a str, &'a str)>,
    /// The resources the call names, when authorization already worked them
    /// out ([`crate::authz::authorize`]); else the audit does.
    pub resources: Option<&'a [String]>,
}

/// Records a call when the server keeps an audit trail and the call mutates.
pub async fn record(ctx: &Ctx, facts: CallFacts<'_>) {
    let Some(log) = &ctx.state.audit else { return };
    if read_only(facts.op) || facts.op.is_empty() {
        return;
    }
    let worked_out;
    let resources = match facts.resources {
        Some(named) => named,
        None => {
            worked_out = crate::authz::resources(ctx, facts.service, facts.op, facts.body).await;
            &worked_out
        }
    };
    log.write(event(ctx, &facts, resources, log.next_id()));
}

/// The CloudTrail event of a call, as the JSON line the log holds.
/// Serialized from borrowed fields; the request's JSON is copied as it came
/// when it can name no secret field (see `secrets::Parameters`).
pub fn event(ctx: &Ctx, facts: &CallFacts<'_>, resources: &[String], id: uuid::Uuid) -> String {
    let account = ctx.state.ops.account_id.to_string();
    let source = match facts.service {
        "elbv2" => "elasticloadbalancing",
        s => s,
    };
    let now = ctx.state.ops.clock.now_millis();
    let root;
    let mut id_text = uuid::Uuid::encode_buffer();
    let event = Event {
        event_version: "1.08",
        user_identity: match &ctx.caller {
            None => {
                root = ctx.root_principal();
                Identity::Root { principal_id: &account, arn: &root, account_id: &account }
            }
            Some(c) => Identity::of(c),
        },
        event_time: iso_seconds(now),
        event_source: format!("{source}.amazonaws.com"),
        event_name: facts.op,
        aws_region: &ctx.region,
        source_ip_address: facts.source.map(|a| a.ip()),
        user_agent: facts.user_agent,
        request_parameters: Parameters::of(facts.service, facts.body),
        response_elements: (),
        request_id: &ctx.request_id,
        event_id: id.hyphenated().encode_lower(&mut id_text),
        read_only: false,
        resources: resources.iter().map(|r| Resource { arn: r, account_id: &account }).collect(),
        event_type: "AwsApiCall",
        management_event: true,
        recipient_account_id: &account,
        event_category: "Management",
        error_code: facts.error.map(|(code, _)| code),
        error_message: facts.error.map(|(_, message)| message),
    };
    serde_json::to_string(&event).unwrap_or_default()
}

/// One CloudTrail event (the fields CloudTrail writes for a management call).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Event<'a> {
    event_version: &'static str,
    user_identity: Identity<'a>,
    event_time: String,
    event_source: String,
    event_name: &'a str,
    aws_region: &'a str,
    #[serde(rename = "sourceIPAddress")]
    source_ip_address: Option<std::net::IpAddr>,
    user_agent: Option<&'a str>,
    request_parameters: Parameters<'a>,
    response_elements: (),
    #[serde(rename = "requestID")]
    request_id: &'a str,
    #[serde(rename = "eventID")]
    event_id: &'a str,
    read_only: bool,
    resources: Vec<Resource<'a>>,
    event_type: &'static str,
    management_event: bool,
    recipient_account_id: &'a str,
    event_category: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_message: Option<&'a str>,
}

/// `userIdentity`: who called.
#[derive(Serialize)]
#[serde(tag = "type", rename_all_fields = "camelCase")]
enum Identity<'a> {
    Root {
        principal_id: &'a str,
        arn: &'a str,
        account_id: &'a str,
    },
    #[serde(rename = "IAMUser")]
    User {
        principal_id: &'a str,
        arn: &'a str,
        account_id: &'a str,
        access_key_id: &'a str,
        user_name: &'a str,
    },
    AssumedRole {
        principal_id: String,
        arn: &'a str,
        account_id: &'a str,
        access_key_id: &'a str,
        session_context: SessionContext<'a>,
    },
}

impl<'a> Identity<'a> {
    fn of(c: &'a wharf_auth::Caller) -> Self {
        match &c.session {
            None => Identity::User {
                principal_id: &c.principal.id,
                arn: &c.arn,
                account_id: c.account(),
                access_key_id: &c.access_key_id,
                user_name: &c.principal.name,
            },
            Some(s) => Identity::AssumedRole {
                principal_id: c.user_id(),
                arn: &c.arn,
                account_id: c.account(),
                access_key_id: &c.access_key_id,
                session_context: SessionContext {
                    session_issuer: Issuer {
                        kind: "Role",
                        principal_id: &c.principal.id,
                        arn: &c.principal.arn,
                        account_id: c.account(),
                        user_name: &c.principal.name,
                    },
                    attributes: Attributes {
                        mfa_authenticated: "false",
                        expiration: iso_seconds(s.expires * 1000),
                    },
                },
            },
        }
    }
}

/// `sessionContext` of an assumed role.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SessionContext<'a> {
    session_issuer: Issuer<'a>,
    attributes: Attributes,
}

/// `sessionIssuer`: the role.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Issuer<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    principal_id: &'a str,
    arn: &'a str,
    account_id: &'a str,
    user_name: &'a str,
}

/// The session's `attributes`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Attributes {
    mfa_authenticated: &'static str,
    expiration: String,
}

/// One of `resources`.
#[derive(Serialize)]
struct Resource<'a> {
    #[serde(rename = "ARN")]
    arn: &'a str,
    #[serde(rename = "accountId")]
    account_id: &'a str,
}

fn iso_seconds(ms: i64) -> String {
    wharf_auth::time::format_iso8601(ms.div_euclid(1000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_not_recorded() {
        assert!(
            read_only("DescribeTasks") && read_only("ListClusters") && read_only("GetParameter")
        );
        assert!(!read_only("RunTask") && !read_only("PutParameter") && !read_only("AssumeRole"));
    }
}
