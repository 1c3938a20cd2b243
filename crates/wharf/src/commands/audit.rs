//! `wharf audit`: reads the server's audit trail (CloudTrail events, one
//! JSON object per line) and shows who did what, to which resources, from
//! where, and whether it worked; filters by principal, action and outcome.

use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use serde_json::Value;

use super::server::default_data_dir;

/// Options of `wharf audit`.
#[derive(Debug, clap::Args)]
pub struct AuditArgs {
    /// The audit log (default: `audit.jsonl` in the data directory).
    #[arg(long)]
    file: Option<PathBuf>,
    /// The server's data directory, whose `audit.jsonl` is read.
    #[arg(long, env = "WHARF_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Only calls by this principal (its ARN, or a part of it such as a user name).
    #[arg(long)]
    principal: Option<String>,
    /// Only this action: `RunTask`, or `ecs:RunTask`.
    #[arg(long)]
    action: Option<String>,
    /// Only calls that failed (access denied, validation, ...).
    #[arg(long)]
    errors: bool,
    /// Print the matching events as they are stored (JSON lines).
    #[arg(long)]
    json: bool,
}

/// Prints the matching events.
pub fn run(args: AuditArgs) -> anyhow::Result<ExitCode> {
    let path = match (&args.file, &args.data_dir) {
        (Some(f), _) => f.clone(),
        (None, Some(d)) => d.join("audit.jsonl"),
        (None, None) => default_data_dir()?.join("audit.jsonl"),
    };
    let file = std::fs::File::open(&path)
        .with_context(|| format!("cannot read the audit log {}", path.display()))?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.with_context(|| format!("cannot read {}", path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        let Ok(event) = serde_json::from_str::<Value>(&line) else {
            eprintln!("wharf audit: {}:{}: not a JSON event, skipped", path.display(), n + 1);
            continue;
        };
        if !matches(&args, &event) {
            continue;
        }
        use std::io::Write;
        if args.json {
            writeln!(out, "{line}")?;
        } else {
            writeln!(out, "{}", describe(&event))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn s<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    path.iter().fold(v, |v, k| &v[*k]).as_str().unwrap_or("")
}

/// `ecs:RunTask` from an event's source and name.
fn action(event: &Value) -> String {
    let service = s(event, &["eventSource"]).trim_end_matches(".amazonaws.com");
    format!("{service}:{}", s(event, &["eventName"]))
}

fn matches(args: &AuditArgs, event: &Value) -> bool {
    if let Some(p) = &args.principal {
        if !s(event, &["userIdentity", "arn"]).contains(p.as_str()) {
            return false;
        }
    }
    if let Some(a) = &args.action {
        let full = action(event);
        if full != *a && s(event, &["eventName"]) != a {
            return false;
        }
    }
    !args.errors || event.get("errorCode").is_some()
}

/// One line: time, outcome, principal, action, resources, source.
fn describe(event: &Value) -> String {
    let outcome = match event.get("errorCode").and_then(Value::as_str) {
        Some(code) => code.to_owned(),
        None => "OK".to_owned(),
    };
    let resources: Vec<&str> = event["resources"]
        .as_array()
        .map(|r| r.iter().filter_map(|x| x["ARN"].as_str()).collect())
        .unwrap_or_default();
    format!(
        "{}  {:<22} {}  {}  {}  from {}",
        s(event, &["eventTime"]),
        outcome,
        s(event, &["userIdentity", "arn"]),
        action(event),
        if resources.is_empty() { "-".to_owned() } else { resources.join(",") },
        event["sourceIPAddress"].as_str().unwrap_or("?"),
    )
}
