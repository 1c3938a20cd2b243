//! The audit trail: every mutating AWS call (its caller, action, resources,
//! source address and outcome) as a CloudTrail event, one JSON object per
//! line, appended to a file by a writer thread of its own so that no request
//! waits on the disk. `wharf audit` reads it.
//!
//! Read-only calls (`Describe*`, `List*`, `Get*`, ...) are not recorded, as
//! CloudTrail's management events default to writes. Secret values in
//! request parameters (parameter values, secret strings, credentials) are
//! replaced by `HIDDEN_DUE_TO_SECURITY_REASONS`, as CloudTrail hides them.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::Mutex;

use serde_json::{json, Value};

use crate::context::Ctx;

/// CloudTrail's placeholder for a hidden value.
pub const HIDDEN: &str = "HIDDEN_DUE_TO_SECURITY_REASONS";

/// Request fields whose values are never written.
const SECRET_FIELDS: [&str; 10] = [
    "value",
    "Value",
    "SecretString",
    "SecretBinary",
    "secretAccessKey",
    "SecretAccessKey",
    "SessionToken",
    "token",
    "Token",
    "password",
];

/// An open audit log.
#[derive(Debug)]
pub struct AuditLog {
    tx: Mutex<mpsc::Sender<String>>,
    path: PathBuf,
}

impl AuditLog {
    /// Opens (creating, appending) `path` and starts its writer thread.
    pub fn open(path: &Path) -> std::io::Result<Self> {
        let mut options = std::fs::OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options.open(path)?;
        let (tx, rx) = mpsc::channel::<String>();
        std::thread::Builder::new().name("wharf-audit".into()).spawn(move || {
            let mut out = std::io::BufWriter::new(file);
            while let Ok(line) = rx.recv() {
                let _ = out.write_all(line.as_bytes());
                let _ = out.write_all(b"\n");
                // Whatever else is queued goes in the same write.
                while let Ok(more) = rx.try_recv() {
                    let _ = out.write_all(more.as_bytes());
                    let _ = out.write_all(b"\n");
                }
                if let Err(e) = out.flush() {
                    tracing::error!(error = %e, "the audit log could not be written");
                }
            }
        })?;
        Ok(Self { tx: Mutex::new(tx), path: path.to_owned() })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn write(&self, event: &Value) {
        let Ok(line) = serde_json::to_string(event) else { return };
        if let Ok(tx) = self.tx.lock() {
            let _ = tx.send(line);
        }
    }
}

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
}

/// Records a call when the server keeps an audit trail and the call mutates.
pub async fn record(ctx: &Ctx, facts: CallFacts<'_>) {
    let Some(log) = &ctx.state.audit else { return };
    if read_only(facts.op) || facts.op.is_empty() {
        return;
    }
    let resources = crate::authz::resources(ctx, facts.service, facts.op, facts.body).await;
    log.write(&event(ctx, &facts, &resources));
}

/// The CloudTrail event of a call.
pub fn event(ctx: &Ctx, facts: &CallFacts<'_>, resources: &[String]) -> Value {
    let account = ctx.state.ops.account_id.to_string();
    let source = match facts.service {
        "elbv2" => "elasticloadbalancing",
        s => s,
    };
    let now = ctx.state.ops.clock.now_millis();
    let parameters = match facts.service {
        "elbv2" | "sts" => {
            let params = crate::query::params(facts.body);
            Value::Object(params.into_iter().map(|(k, v)| (k, Value::String(v))).collect())
        }
        _ => serde_json::from_slice(facts.body).unwrap_or(Value::Null),
    };
    let mut e = json!({
        "eventVersion": "1.08",
        "userIdentity": identity(ctx, &account),
        "eventTime": iso_seconds(now),
        "eventSource": format!("{source}.amazonaws.com"),
        "eventName": facts.op,
        "awsRegion": ctx.region,
        "sourceIPAddress": facts.source.map(|a| a.ip().to_string()),
        "userAgent": facts.user_agent,
        "requestParameters": hide_secrets(parameters),
        "responseElements": null,
        "requestID": ctx.request_id,
        "eventID": uuid::Uuid::new_v4().to_string(),
        "readOnly": false,
        "resources": resources.iter().map(|r| json!({"ARN": r, "accountId": account})).collect::<Vec<_>>(),
        "eventType": "AwsApiCall",
        "managementEvent": true,
        "recipientAccountId": account,
        "eventCategory": "Management",
    });
    if let Some((code, message)) = facts.error {
        e["errorCode"] = json!(code);
        e["errorMessage"] = json!(message);
    }
    e
}

fn identity(ctx: &Ctx, account: &str) -> Value {
    let Some(c) = &ctx.caller else {
        return json!({"type": "Root", "principalId": account, "arn": ctx.root_principal(), "accountId": account});
    };
    match &c.session {
        None => json!({
            "type": "IAMUser",
            "principalId": c.principal.id,
            "arn": c.arn,
            "accountId": c.account(),
            "accessKeyId": c.access_key_id,
            "userName": c.principal.name,
        }),
        Some(s) => json!({
            "type": "AssumedRole",
            "principalId": c.user_id(),
            "arn": c.arn,
            "accountId": c.account(),
            "accessKeyId": c.access_key_id,
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": c.principal.id,
                    "arn": c.principal.arn,
                    "accountId": c.account(),
                    "userName": c.principal.name,
                },
                "attributes": {"mfaAuthenticated": "false", "expiration": iso_seconds(s.expires * 1000)},
            },
        }),
    }
}

fn iso_seconds(ms: i64) -> String {
    wharf_auth::time::format_iso8601(ms.div_euclid(1000))
}

/// The value with every secret field's value hidden, at any depth.
pub fn hide_secrets(v: Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    if SECRET_FIELDS.contains(&k.as_str()) && !v.is_null() {
                        (k, Value::String(HIDDEN.into()))
                    } else {
                        (k, hide_secrets(v))
                    }
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(hide_secrets).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_hidden_at_any_depth() {
        let v = hide_secrets(json!({"name": "/p", "value": "s3cr3t", "containerDefinitions": [
            {"environment": [{"name": "A", "value": "also"}]}], "SecretString": "x"}));
        let text = v.to_string();
        assert!(
            !text.contains("s3cr3t") && !text.contains("also") && !text.contains("\"x\""),
            "{text}"
        );
        assert_eq!(v["name"], "/p");
    }

    #[test]
    fn reads_are_not_recorded() {
        assert!(
            read_only("DescribeTasks") && read_only("ListClusters") && read_only("GetParameter")
        );
        assert!(!read_only("RunTask") && !read_only("PutParameter") && !read_only("AssumeRole"));
    }
}
