//! `wharf diff A B`: what changed between two task definitions, each named
//! as `family:rev`, an ARN, or a JSON file (a RegisterTaskDefinition input
//! or a DescribeTaskDefinition answer). The comparison is
//! [`wharf_model::ecs::task_definition_diff`]; this shows it as
//! `~ path: before → after`, `+ path: value`, `- path: value` (coloured on a
//! terminal), or with `--json` as the list of changes.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context};
use serde_json::Value;
use wharf_model::ecs::task_definition_diff::{diff, Change};

use super::connection::{block_on, ConnectionArgs};
use crate::api_client::ApiClient;
use crate::ecs_reads::{family_revision, task_definition};
use crate::table::{emit, Colour, Paint};

/// Options of `wharf diff`.
#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    /// The first task definition: `family:rev`, an ARN, or a JSON file.
    a: String,
    /// The second task definition, likewise.
    b: String,
    /// Print the changes as a JSON array of {path, before, after}, nothing else.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    connection: ConnectionArgs,
}

/// Runs `wharf diff`.
pub fn run(args: DiffArgs) -> anyhow::Result<ExitCode> {
    block_on(async {
        let client = args.connection.client()?;
        let (a_label, a) = load(&client, &args.a).await?;
        let (b_label, b) = load(&client, &args.b).await?;
        let changes = diff(&a, &b);
        if args.json {
            emit(&(serde_json::to_string_pretty(&changes)? + "\n"));
            return Ok(ExitCode::SUCCESS);
        }
        let paint = Paint::stdout();
        let mut text = format!(
            "{}\n{}\n",
            paint.paint(Some(Colour::Bold), &format!("--- {a_label}")),
            paint.paint(Some(Colour::Bold), &format!("+++ {b_label}"))
        );
        if changes.is_empty() {
            text.push_str("no differences\n");
        }
        for change in &changes {
            text.push_str(&line(change, paint));
            text.push('\n');
        }
        emit(&text);
        Ok(ExitCode::SUCCESS)
    })
}

/// One change as a line: `~ path: before → after`, `+ path: value` or `- path: value`.
pub fn line(change: &Change, paint: Paint) -> String {
    let show = |v: &Value| serde_json::to_string(v).unwrap_or_default();
    let (colour, text) = match (&change.before, &change.after) {
        (Some(before), Some(after)) => {
            (Colour::Yellow, format!("~ {}: {} → {}", change.path, show(before), show(after)))
        }
        (None, Some(after)) => (Colour::Green, format!("+ {}: {}", change.path, show(after))),
        (Some(before), None) => (Colour::Red, format!("- {}: {}", change.path, show(before))),
        (None, None) => (Colour::Dim, format!("  {}", change.path)),
    };
    paint.paint(Some(colour), &text)
}

/// The task definition `reference` names, and a label for it: a file's
/// path, or `family:rev` from the server.
async fn load(client: &ApiClient, reference: &str) -> anyhow::Result<(String, Value)> {
    let path = Path::new(reference);
    if path.is_file() {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let mut document: Value = serde_json::from_str(&text)
            .with_context(|| format!("{} is not JSON", path.display()))?;
        if document.get("taskDefinition").is_some_and(Value::is_object) {
            document = document["taskDefinition"].take();
        }
        if !document.is_object() || document.get("containerDefinitions").is_none() {
            bail!("{} is not a task definition: it has no containerDefinitions", path.display());
        }
        return Ok((reference.to_owned(), document));
    }
    check_reference(reference)?;
    let td = task_definition(client, reference).await?;
    let arn = td["taskDefinitionArn"].as_str().unwrap_or(reference);
    Ok((family_revision(arn).to_owned(), td))
}

/// A server-side reference must be `family`, `family:rev` or an ARN; a
/// path-like one that is no file is a missing file.
pub fn check_reference(reference: &str) -> anyhow::Result<()> {
    if reference.starts_with("arn:") {
        return Ok(());
    }
    if reference.contains('/') || reference.ends_with(".json") {
        bail!("{reference}: no such file");
    }
    let (family, revision) = match reference.split_once(':') {
        Some((family, revision)) => (family, Some(revision)),
        None => (reference, None),
    };
    let family_ok = !family.is_empty()
        && family.len() <= 255
        && family.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    let revision_ok = revision.is_none_or(|r| r.parse::<u32>().is_ok_and(|n| n >= 1));
    if !family_ok || !revision_ok {
        bail!(
            "{reference:?} is not a task definition: give family:revision (web:3), \
             an ARN, or a JSON file"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn lines_for_each_kind_of_change() {
        let plain = Paint { enabled: false };
        let c = |before: Option<Value>, after: Option<Value>| Change {
            path: "cpu".into(),
            before,
            after,
        };
        assert_eq!(
            line(&c(Some(json!("256")), Some(json!("512"))), plain),
            r#"~ cpu: "256" → "512""#
        );
        assert_eq!(line(&c(None, Some(json!(1))), plain), "+ cpu: 1");
        assert_eq!(line(&c(Some(json!(1)), None), plain), "- cpu: 1");
        let coloured = line(&c(None, Some(json!(1))), Paint { enabled: true });
        assert_eq!(coloured, "\x1b[32m+ cpu: 1\x1b[0m");
    }

    #[test]
    fn references() {
        for good in ["web", "web:3", "my_app-2:10", "arn:aws:ecs:us-east-1:0:task-definition/web:1"]
        {
            assert!(check_reference(good).is_ok(), "{good}");
        }
        for bad in ["web:0", "web:x", ":3", "web:", "we b:1"] {
            let e = check_reference(bad).unwrap_err().to_string();
            assert!(e.contains("is not a task definition"), "{bad}: {e}");
        }
        assert!(check_reference("./missing.json")
            .unwrap_err()
            .to_string()
            .contains("no such file"));
    }
}
