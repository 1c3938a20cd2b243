//! `wharf validate FILE...`: checks task definition files offline, the way
//! RegisterTaskDefinition would, and adds the warnings of `lint`.
//!
//! Files found in the wild are read leniently: `describe-task-definition`
//! output (`{"taskDefinition": {...}}`) is unwrapped, and a bare container
//! array or a single container object is checked as the `containerDefinitions`
//! of a task definition. Each file gets `ok` or `error` (ECS's error type and
//! message, or where the JSON breaks), then its warnings. `--json` prints one
//! array for machines. Exit status 1 when any file has an error.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use serde::Serialize;
use wharf_model::ecs::task_definition::{
    check_document_size, decode_document, lint, validate_register, DecodeError, DocumentKind,
    Finding,
};

/// Arguments of `wharf validate`.
#[derive(clap::Args, Debug)]
pub struct ValidateArgs {
    /// Task definition files (JSON) to check.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Print one JSON array, for machines, instead of text.
    #[arg(long)]
    pub json: bool,
}

/// What `wharf validate` found in one file.
#[derive(Debug, Serialize)]
struct Report {
    file: String,
    valid: bool,
    error: Option<Problem>,
    warnings: Vec<Finding>,
    /// How the file was read, when it was not a plain task definition.
    #[serde(skip)]
    note: Option<&'static str>,
}

/// The error that makes a file invalid.
#[derive(Debug, Serialize, PartialEq, Eq)]
struct Problem {
    #[serde(rename = "type")]
    kind: String,
    message: String,
}

/// Validates every file and prints the reports.
pub fn run(args: &ValidateArgs) -> anyhow::Result<ExitCode> {
    let reports: Vec<Report> = args
        .files
        .iter()
        .map(|path| {
            let name = path.display().to_string();
            match std::fs::read(path) {
                Ok(bytes) => check(&name, &bytes),
                Err(e) => Report {
                    file: name,
                    valid: false,
                    error: Some(Problem { kind: "FileError".into(), message: e.to_string() }),
                    warnings: Vec::new(),
                    note: None,
                },
            }
        })
        .collect();
    let out = if args.json {
        format!("{}\n", serde_json::to_string_pretty(&reports)?)
    } else {
        human(&reports, std::io::stdout().is_terminal())
    };
    print!("{out}");
    let failed = reports.iter().any(|r| !r.valid);
    Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// The report for one file's bytes.
fn check(file: &str, bytes: &[u8]) -> Report {
    let mut report = Report {
        file: file.to_owned(),
        valid: true,
        error: None,
        warnings: Vec::new(),
        note: None,
    };
    let doc = match decode_document(bytes) {
        Ok(doc) => doc,
        Err(e) => {
            report.valid = false;
            report.error = Some(decode_problem(&e));
            return report;
        }
    };
    report.note = match doc.kind {
        DocumentKind::TaskDefinition => None,
        DocumentKind::Wrapped => Some("read the taskDefinition inside describe output"),
        DocumentKind::ContainerList => {
            Some("read as the containerDefinitions of a task definition")
        }
        DocumentKind::Container => Some("read as the only container of a task definition"),
    };
    if let Err(e) = check_document_size(bytes.len()).and_then(|()| validate_register(&doc.request))
    {
        report.valid = false;
        report.error = Some(Problem { kind: e.kind.wire_name().to_owned(), message: e.message });
    }
    report.warnings = lint(&doc.request, Some(&doc.raw));
    report
}

fn decode_problem(e: &DecodeError) -> Problem {
    Problem { kind: e.error_type().to_owned(), message: decode_message(e) }
}

/// Where and why a task definition file could not be read, for people.
pub fn decode_message(e: &DecodeError) -> String {
    match e {
        DecodeError::InvalidJson { line, column, message } => {
            format!("invalid JSON at line {line}, column {column}: {message}")
        }
        DecodeError::Serialization { message, at: Some((line, column)) } => {
            format!("{message} (line {line}, column {column})")
        }
        DecodeError::Serialization { message, at: None } => message.clone(),
    }
}

/// Text for people; colours only when `color`.
fn human(reports: &[Report], color: bool) -> String {
    let paint = |code: &str, s: &str| {
        if color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_owned()
        }
    };
    let mut out = String::new();
    for r in reports {
        match &r.error {
            None => out.push_str(&format!("{}: {}\n", r.file, paint("32", "ok"))),
            Some(p) => out.push_str(&format!(
                "{}: {}: {}: {}\n",
                r.file,
                paint("1;31", "error"),
                p.kind,
                p.message
            )),
        }
        if let Some(note) = r.note {
            out.push_str(&format!("  note: {note}\n"));
        }
        for w in &r.warnings {
            out.push_str(&format!("  {}: {}: {}\n", paint("33", "warning"), w.field, w.message));
        }
    }
    if reports.len() > 1 {
        let bad = reports.iter().filter(|r| !r.valid).count();
        out.push_str(&format!(
            "{} files: {} ok, {} with errors\n",
            reports.len(),
            reports.len() - bad,
            bad
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ok_error_and_invalid_json() {
        let ok = check("ok.json", br#"{"family": "web", "containerDefinitions": [{"name": "app", "image": "nginx:1.27", "memory": 128}]}"#);
        assert!(ok.valid && ok.error.is_none() && ok.warnings.is_empty());

        let bad = check("bad.json", br#"{"family": "web", "networkMode": "awsvpc", "containerDefinitions": [{"name": "app", "image": "tomcat:9", "memory": 512, "portMappings": [{"containerPort": 8080, "hostPort": 80}]}]}"#);
        assert_eq!(
            bad.error,
            Some(Problem {
                kind: "ClientException".into(),
                message: "When networkMode=awsvpc, the host ports and container ports in port mappings must match.".into()
            })
        );

        let broken = check("broken.json", b"{\n  \"family\": ${family}\n}");
        let p = broken.error.expect("invalid JSON is an error");
        assert_eq!(p.kind, "SerializationException");
        assert!(p.message.starts_with("invalid JSON at line 2, column 13"), "{}", p.message);
    }

    #[test]
    fn container_arrays_are_checked_as_containers() {
        let r = check("list.json", br#"[{"name": "app", "image": "nginx"}]"#);
        assert_eq!(r.error.map(|p| p.message), Some("Invalid setting for container 'app'. At least one of 'memory' or 'memoryReservation' must be specified.".into()));
        assert_eq!(r.note, Some("read as the containerDefinitions of a task definition"));
        assert!(r.warnings.iter().any(|w| w.field == "containerDefinitions[0].image"));
    }

    #[test]
    fn json_and_text_output() {
        let r = check("f.json", br#"{"family": "f", "containerDefinitions": [{"name": "a", "image": "busybox:latest", "memory": 8}]}"#);
        let v = serde_json::to_value([&r]).expect("serializes");
        assert_eq!(v[0]["file"], "f.json");
        assert_eq!(v[0]["valid"], true);
        assert_eq!(v[0]["error"], serde_json::Value::Null);
        assert_eq!(v[0]["warnings"][0]["field"], "containerDefinitions[0].image");
        assert!(v[0].get("note").is_none());
        let text = human(&[r], false);
        assert!(
            text.starts_with("f.json: ok\n  warning: containerDefinitions[0].image: "),
            "{text}"
        );
        assert!(!text.contains('\x1b'));
    }
}
