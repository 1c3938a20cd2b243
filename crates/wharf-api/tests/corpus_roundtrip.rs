//! Every corpus document through the real front door: sent as a
//! RegisterTaskDefinition body, it gets the answer written in
//! `tests/corpus/expected.tsv`; an accepted one is then described by
//! family:revision and everything it said comes back unchanged.

use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Body;
use axum::Router;
use http::Request;
use serde_json::Value;
use tower::ServiceExt;
use wharf_api::AppState;
use wharf_model::clock::FakeClock;
use wharf_model::ecs::shapes::TaskDefinition;
use wharf_model::Shape;
use wharf_store::SqliteStore;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The vendored task definitions (`tests/corpus/taskdefs`).
fn corpus_dir() -> PathBuf {
    repo().join("tests/corpus/taskdefs")
}

async fn post(router: &Router, op: &str, body: Vec<u8>) -> (u16, Value) {
    let req = Request::post("/")
        .header("x-amz-target", format!("AmazonEC2ContainerServiceV20141113.{op}"))
        .body(Body::from(body))
        .unwrap();
    let resp = router.clone().oneshot(req).await.unwrap();
    let status = resp.status().as_u16();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap())
}

/// Whether everything `sent` says is in `got`: objects by key (nulls are
/// absent), arrays element by element, scalars equal.
fn contained(sent: &Value, got: &Value, path: &str) -> Result<(), String> {
    match (sent, got) {
        (Value::Null, _) => Ok(()),
        (Value::Object(s), Value::Object(g)) => {
            for (k, v) in s {
                let p = format!("{path}.{k}");
                contained(v, g.get(k).unwrap_or(&Value::Null), &p).map_err(|e| {
                    if g.get(k).is_none() && !v.is_null() {
                        format!("{p} is missing")
                    } else {
                        e
                    }
                })?;
            }
            Ok(())
        }
        (Value::Array(s), Value::Array(g)) if s.len() == g.len() => s
            .iter()
            .zip(g)
            .enumerate()
            .try_for_each(|(i, (a, b))| contained(a, b, &format!("{path}[{i}]"))),
        (Value::Number(a), Value::Number(b)) if a.as_f64() == b.as_f64() => Ok(()),
        (a, b) if a == b => Ok(()),
        (a, b) => Err(format!("{path}: sent {a}, got {b}")),
    }
}

#[tokio::test]
async fn every_corpus_document_gets_its_expected_answer_and_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let state = AppState::new(
        Arc::new(SqliteStore::open(&dir.path().join("wharf.db")).unwrap()),
        Arc::new(wharf_store::LogStore::open(&dir.path().join("logs.sqlite3"), i64::MAX).unwrap()),
        Arc::new(FakeClock::at(1_700_000_000_000)),
        "000000000000",
    );
    let router = wharf_api::router(state);
    let expected = std::fs::read_to_string(repo().join("tests/corpus/expected.tsv")).unwrap();
    let mut checked = 0;
    for line in expected.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
        let cols: Vec<&str> = line.split('\t').collect();
        let (file, outcome, err_type, message) = (cols[0], cols[1], cols[2], cols[3]);
        let bytes =
            std::fs::read(corpus_dir().join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        let (status, answer) = post(&router, "RegisterTaskDefinition", bytes.clone()).await;
        match outcome {
            "accepted" => {
                assert_eq!(status, 200, "{file}: {answer}");
                let td = &answer["taskDefinition"];
                let arn = td["taskDefinitionArn"].as_str().unwrap();
                let (_, described) = post(
                    &router,
                    "DescribeTaskDefinition",
                    format!(r#"{{"taskDefinition":"{arn}"}}"#).into(),
                )
                .await;
                assert_eq!(
                    &described["taskDefinition"], td,
                    "{file}: describe differs from register"
                );
                // Every member of the model the document gave comes back as
                // given (cpu/memory are normalised to plain numbers). Members
                // the model does not know are ignored, as by ECS.
                let modelled: TaskDefinition = serde_json::from_slice(&bytes).unwrap();
                let sent = serde_json::to_value(modelled).unwrap();
                for (k, v) in sent.as_object().unwrap() {
                    if TaskDefinition::MEMBERS.contains(&k.as_str())
                        && !matches!(k.as_str(), "cpu" | "memory" | "status" | "revision")
                    {
                        contained(v, &td[k], k).unwrap_or_else(|e| panic!("{file}: {e}"));
                    }
                }
                assert_eq!(td["status"], "ACTIVE");
            }
            "invalid-json" => {
                assert_eq!(status, 400, "{file}");
                assert_eq!(answer["__type"], "SerializationException", "{file}");
            }
            "rejected" => {
                assert_eq!(status, 400, "{file}");
                assert_eq!(answer["__type"], err_type, "{file}");
                assert_eq!(answer["message"], message, "{file}");
            }
            other => panic!("{file}: unknown outcome {other}"),
        }
        checked += 1;
    }
    let files = std::fs::read_dir(corpus_dir())
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "json"));
    assert_eq!(checked, files.count(), "every corpus file has a row");
}
