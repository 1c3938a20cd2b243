//! Every task definition in the shared corpus gets the outcome written in
//! `tests/corpus/expected.tsv` (repository root): what ECS answers when the
//! file's bytes are sent as a RegisterTaskDefinition body, and what
//! `wharf validate` says about the file.
//!
//! The corpus lives in `tests/corpus/taskdefs` (repository root). Set `WHARF_CORPUS_PRINT=1` to print the
//! rows the code produces (for review, never to overwrite the expectations).

use std::collections::BTreeMap;
use std::path::PathBuf;

use wharf_model::ecs::task_definition::{
    check_document_size, decode_document, decode_register, validate_register, DecodeError,
};

/// One outcome: `accepted`, `invalid-json`, or `rejected` with type and message.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Accepted,
    InvalidJson,
    Rejected(String, String),
}

impl Outcome {
    fn columns(&self) -> [String; 3] {
        match self {
            Outcome::Accepted => ["accepted".into(), String::new(), String::new()],
            Outcome::InvalidJson => ["invalid-json".into(), String::new(), String::new()],
            Outcome::Rejected(t, m) => ["rejected".into(), t.clone(), m.clone()],
        }
    }

    fn parse(cols: &[&str]) -> Result<Self, String> {
        match cols {
            ["accepted", "", ""] => Ok(Outcome::Accepted),
            ["invalid-json", "", ""] => Ok(Outcome::InvalidJson),
            ["rejected", t, m] if !t.is_empty() && !m.is_empty() => {
                Ok(Outcome::Rejected((*t).to_owned(), (*m).to_owned()))
            }
            other => Err(format!("bad outcome columns {other:?}")),
        }
    }
}

fn from_decode(e: DecodeError) -> Outcome {
    match e {
        DecodeError::InvalidJson { .. } => Outcome::InvalidJson,
        DecodeError::Serialization { .. } => {
            Outcome::Rejected(e.error_type().to_owned(), e.message().to_owned())
        }
    }
}

/// What ECS answers for `bytes` as a RegisterTaskDefinition body.
fn api_outcome(bytes: &[u8]) -> Outcome {
    let req = match decode_register(bytes) {
        Ok(r) => r,
        Err(e) => return from_decode(e),
    };
    let checked = check_document_size(bytes.len()).and_then(|()| validate_register(&req));
    match checked {
        Ok(()) => Outcome::Accepted,
        Err(e) => Outcome::Rejected(e.kind.wire_name().to_owned(), e.message),
    }
}

/// What `wharf validate` says about the file.
fn cli_outcome(bytes: &[u8]) -> Outcome {
    match decode_document(bytes) {
        Err(e) => from_decode(e),
        Ok(doc) => match validate_register(&doc.request) {
            Ok(()) => Outcome::Accepted,
            Err(e) => Outcome::Rejected(e.kind.wire_name().to_owned(), e.message),
        },
    }
}

fn manifest() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The task definitions, vendored at `tests/corpus/taskdefs` (repository
/// root; provenance in its `SOURCES.tsv`).
fn corpus_dir() -> PathBuf {
    manifest().join("../../tests/corpus/taskdefs")
}

/// `file → (api, cli)` from the expectations file.
fn expected() -> BTreeMap<String, (Outcome, Outcome)> {
    let path = manifest().join("../../tests/corpus/expected.tsv");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let mut rows = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        assert_eq!(cols.len(), 7, "expected.tsv line {}: 7 tab-separated columns", n + 1);
        let parse = |c: &[&str]| {
            Outcome::parse(c).unwrap_or_else(|e| panic!("expected.tsv line {}: {e}", n + 1))
        };
        let row = (parse(&cols[1..4]), parse(&cols[4..7]));
        assert!(rows.insert(cols[0].to_owned(), row).is_none(), "{} listed twice", cols[0]);
    }
    rows
}

#[test]
fn every_corpus_file_gets_its_expected_outcome() {
    let dir = corpus_dir();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no corpus files in {}", dir.display());
    let print = std::env::var_os("WHARF_CORPUS_PRINT").is_some();
    let mut expected = expected();
    let mut failures = Vec::new();
    for path in &files {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("reading {name}: {e}"));
        let actual = (api_outcome(&bytes), cli_outcome(&bytes));
        if print {
            let [a, b, c] = actual.0.columns();
            let [d, e, f] = actual.1.columns();
            eprintln!("{name}\t{a}\t{b}\t{c}\t{d}\t{e}\t{f}");
        }
        match expected.remove(&name) {
            None => failures.push(format!("{name}: no row in expected.tsv")),
            Some(want) if want != actual => {
                failures.push(format!("{name}:\n  expected {want:?}\n  actual   {actual:?}"))
            }
            Some(_) => {}
        }
    }
    for name in expected.keys() {
        failures.push(format!("{name}: row in expected.tsv but no such file"));
    }
    assert!(failures.is_empty(), "{} corpus mismatches:\n{}", failures.len(), failures.join("\n"));
}
