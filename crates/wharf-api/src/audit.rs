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
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, LazyLock};
use std::time::Duration;

use memchr::memmem;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::Value;

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

/// How long the writer thread lets lines gather after a write. A sender
/// wakes the thread (a system call on the request's path) only when it
/// sleeps waiting for a line; under load it now finds it awake or napping.
const GATHER: Duration = Duration::from_millis(5);

/// An open audit log.
#[derive(Debug)]
pub struct AuditLog {
    tx: mpsc::Sender<Message>,
    path: PathBuf,
    ids: EventIds,
}

/// What the writer thread is handed.
#[derive(Debug)]
enum Message {
    /// A line to append.
    Line(String),
    /// Answer once every line sent before is in the file.
    Flush(mpsc::Sender<()>),
}

/// Event ids: version 4 UUIDs from one random draw per log, each made
/// distinct by a counter in its last six bytes (a draw per event was a
/// system call per write).
#[derive(Debug)]
struct EventIds {
    seed: u128,
    next: AtomicU64,
}

impl EventIds {
    fn new() -> Self {
        Self { seed: u128::from_le_bytes(crate::random::bytes()), next: AtomicU64::new(0) }
    }

    fn next(&self) -> uuid::Uuid {
        let n = self.next.fetch_add(1, Ordering::Relaxed) & 0xffff_ffff_ffff;
        uuid::Builder::from_random_bytes((self.seed ^ u128::from(n)).to_be_bytes()).into_uuid()
    }
}

impl AuditLog {
    /// Opens (creating, appending) `path` and starts its writer thread.
    pub fn open(path: &Path) -> std::io::Result<Self> {
        let mut options = std::fs::OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options.open(path)?;
        let (tx, rx) = mpsc::channel::<Message>();
        std::thread::Builder::new().name("wharf-audit".into()).spawn(move || {
            let mut out = std::io::BufWriter::new(file);
            while let Ok(first) = rx.recv() {
                // Whatever else is queued goes in the same write.
                let mut flushed = Vec::new();
                for message in
                    std::iter::once(first).chain(std::iter::from_fn(|| rx.try_recv().ok()))
                {
                    match message {
                        Message::Line(line) => {
                            let _ = out.write_all(line.as_bytes());
                            let _ = out.write_all(b"\n");
                        }
                        Message::Flush(done) => flushed.push(done),
                    }
                }
                if let Err(e) = out.flush() {
                    tracing::error!(error = %e, "the audit log could not be written");
                }
                let asked = !flushed.is_empty();
                for done in flushed {
                    let _ = done.send(());
                }
                if !asked {
                    std::thread::sleep(GATHER);
                }
            }
        })?;
        Ok(Self { tx, path: path.to_owned(), ids: EventIds::new() })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn write(&self, line: String) {
        let _ = self.tx.send(Message::Line(line));
    }

    /// Waits (up to 5 s) until every event recorded so far is in the file:
    /// the server calls it as it shuts down, since the writer thread lets
    /// lines gather for a few milliseconds.
    pub fn flush(&self) {
        let (done, wait) = mpsc::channel();
        if self.tx.send(Message::Flush(done)).is_ok() {
            let _ = wait.recv_timeout(Duration::from_secs(5));
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
    log.write(event(ctx, &facts, &resources, log.ids.next()));
}

/// The CloudTrail event of a call, as the JSON line the log holds.
/// Serialized from borrowed fields; the request's JSON is copied as it came
/// when it can name no secret field (see [`Parameters`]).
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

/// `requestParameters`: the request's JSON body as it came, with the value
/// of every secret field replaced by [`HIDDEN`]; a Query request's
/// parameters (ELBv2, STS, EC2) as an object.
#[derive(Serialize)]
#[serde(untagged)]
enum Parameters<'a> {
    /// The body, which names no secret field.
    Raw(&'a RawValue),
    /// The body with secret values hidden.
    Hidden(Box<RawValue>),
    /// Parsed parameters, secrets hidden; `null` for a body that is not JSON.
    Value(Value),
}

impl<'a> Parameters<'a> {
    fn of(service: &str, body: &'a [u8]) -> Self {
        if matches!(service, "elbv2" | "sts" | "ec2") {
            let params = crate::query::params(body);
            return Parameters::Value(hide_secrets(Value::Object(
                params.into_iter().map(|(k, v)| (k, Value::String(v))).collect(),
            )));
        }
        let Ok(raw) = serde_json::from_slice::<&RawValue>(body) else {
            return Parameters::Value(Value::Null);
        };
        let text = raw.get();
        if text.contains('\\') {
            // An escaped key could spell a secret field without showing it.
            return Parameters::Value(hide_secrets(
                serde_json::from_str(text).unwrap_or(Value::Null),
            ));
        }
        let spans = secret_values(text.as_bytes());
        if spans.is_empty() {
            return Parameters::Raw(raw);
        }
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for span in spans {
            out.push_str(&text[at..span.start]);
            out.push('"');
            out.push_str(HIDDEN);
            out.push('"');
            at = span.end;
        }
        out.push_str(&text[at..]);
        match RawValue::from_string(out) {
            Ok(hidden) => Parameters::Hidden(hidden),
            Err(_) => Parameters::Value(Value::Null),
        }
    }
}

/// Where the non-null values of [`SECRET_FIELDS`] are in a valid JSON text
/// without escapes, in order, none inside another. Without escapes every
/// `"` opens or closes a string, so a secret field's name in quotes
/// followed by `:` is that field's key.
fn secret_values(text: &[u8]) -> Vec<std::ops::Range<usize>> {
    /// A searcher per secret field, built once.
    static FINDERS: LazyLock<Vec<memmem::Finder<'static>>> =
        LazyLock::new(|| SECRET_FIELDS.iter().map(memmem::Finder::new).collect());
    let mut spans = Vec::new();
    for finder in FINDERS.iter() {
        for i in finder.find_iter(text) {
            let after = i + finder.needle().len();
            if i == 0 || text[i - 1] != b'"' || text.get(after) != Some(&b'"') {
                continue;
            }
            let colon = skip_space(text, after + 1);
            if text.get(colon) != Some(&b':') {
                continue;
            }
            let start = skip_space(text, colon + 1);
            let end = value_end(text, start);
            if &text[start..end] != b"null" {
                spans.push(start..end);
            }
        }
    }
    spans.sort_by_key(|s| s.start);
    let mut outer: Vec<std::ops::Range<usize>> = Vec::with_capacity(spans.len());
    for span in spans {
        if outer.last().is_none_or(|last| span.start >= last.end) {
            outer.push(span);
        }
    }
    outer
}

fn skip_space(text: &[u8], mut i: usize) -> usize {
    while text.get(i).is_some_and(|b| b.is_ascii_whitespace()) {
        i += 1;
    }
    i
}

/// The end of the JSON value that starts at `start` (valid, without escapes).
fn value_end(text: &[u8], start: usize) -> usize {
    let string_end = |open: usize| {
        memchr::memchr(b'"', &text[open + 1..]).map_or(text.len(), |k| open + 1 + k + 1)
    };
    match text.get(start) {
        Some(b'"') => string_end(start),
        Some(b'{' | b'[') => {
            let mut depth = 0usize;
            let mut i = start;
            while i < text.len() {
                match text[i] {
                    b'"' => {
                        i = string_end(i);
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return i + 1;
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            text.len()
        }
        _ => {
            let mut i = start;
            while i < text.len()
                && !matches!(text[i], b',' | b'}' | b']')
                && !text[i].is_ascii_whitespace()
            {
                i += 1;
            }
            i
        }
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
    use serde_json::json;

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

    fn parameters(service: &str, body: &str) -> String {
        serde_json::to_string(&Parameters::of(service, body.as_bytes())).unwrap()
    }

    #[test]
    fn a_body_naming_no_secret_is_copied_as_it_came() {
        let body = r#"{"family":"web","containerDefinitions":[{"name":"app","secrets":[{"name":"A","valueFrom":"arn"}]}]}"#;
        assert!(matches!(Parameters::of("ecs", body.as_bytes()), Parameters::Raw(_)));
        assert_eq!(parameters("ecs", body), body);
        assert_eq!(parameters("ecs", "not json"), "null");
    }

    #[test]
    fn secret_values_are_hidden_in_the_text_as_in_the_parsed_body() {
        let bodies = [
            r#"{"name":"/p","value":"s3cr3t"}"#,
            r#"{"name":"/p","v\u0061lue":"s3cr3t","Value":"also"}"#,
            r#"{"environment":[{"name":"A","value":"s3cr3t"},{"name":"value","value":null}]}"#,
            r#"{ "value" : { "token" : "s3cr3t", "n": [1, "]}"] } , "Token" :42,"password":true}"#,
            r#"{"tags":[{"key":"value","value":"x"}],"SecretString":["a",{"b":"c"}],"after":1}"#,
            r#"{"password" :-1.5e3}"#,
            r#"{"a":"value","b":["value","Value"],"valueFrom":"arn"}"#,
        ];
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/corpus/taskdefs");
        let mut corpus: Vec<String> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("the vendored corpus {}: {e}", dir.display()))
            .map(|f| std::fs::read_to_string(f.unwrap().path()).unwrap())
            .collect();
        assert!(corpus.len() > 10, "the corpus is vendored");
        corpus.extend(bodies.iter().map(|b| b.to_string()));
        let mut hidden = 0;
        for body in &corpus {
            let text = parameters("ecs", body);
            let parsed: Value = serde_json::from_str(&text).unwrap();
            let expected = hide_secrets(serde_json::from_str(body).unwrap_or(Value::Null));
            assert_eq!(parsed, expected, "{body}");
            hidden += usize::from(text.contains(HIDDEN));
        }
        assert!(hidden >= bodies.len() - 1, "{hidden}");
        for body in &bodies[..6] {
            assert!(!parameters("ecs", body).contains("s3cr3t"), "{body}");
        }
        // Query parameters too.
        let text = parameters("sts", "Action=AssumeRole&Token=s3cr3t");
        assert!(!text.contains("s3cr3t") && text.contains(HIDDEN), "{text}");
    }

    #[test]
    fn event_ids_are_distinct_version_4_uuids() {
        let ids = EventIds::new();
        let drawn: std::collections::HashSet<uuid::Uuid> =
            (0..10_000).map(|_| ids.next()).collect();
        assert_eq!(drawn.len(), 10_000);
        assert!(drawn
            .iter()
            .all(|id| id.get_version_num() == 4 && id.get_variant() == uuid::Variant::RFC4122));
    }

    #[test]
    fn a_flush_waits_for_every_line_sent_before_it() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::open(&dir.path().join("audit.jsonl")).unwrap();
        log.write("first".into());
        // The writer has written the first line and naps; the second waits.
        std::thread::sleep(Duration::from_millis(1));
        log.write("second".into());
        log.flush();
        let text = std::fs::read_to_string(log.path()).unwrap();
        assert_eq!(text, "first\nsecond\n");
    }

    #[test]
    fn reads_are_not_recorded() {
        assert!(
            read_only("DescribeTasks") && read_only("ListClusters") && read_only("GetParameter")
        );
        assert!(!read_only("RunTask") && !read_only("PutParameter") && !read_only("AssumeRole"));
    }
}
