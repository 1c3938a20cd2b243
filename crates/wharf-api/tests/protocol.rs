//! The AWS JSON 1.1 front door, in process: targets, errors, request ids,
//! regions, and the reset endpoint.

use std::sync::Arc;

use axum::body::Body;
use axum::Router;
use http::{Request, StatusCode};
use tower::ServiceExt;
use wharf_api::AppState;
use wharf_model::clock::FakeClock;
use wharf_store::SqliteStore;

struct Server {
    router: Router,
    _dir: tempfile::TempDir,
}

fn server(allow_reset: bool) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("wharf.db")).unwrap();
    let mut state = AppState::new(
        Arc::new(store),
        Arc::new(wharf_store::LogStore::open(&dir.path().join("logs.sqlite3"), i64::MAX).unwrap()),
        Arc::new(FakeClock::at(1_700_000_000_000)),
        "123456789012",
    );
    state.allow_reset = allow_reset;
    Server { router: wharf_api::router(state), _dir: dir }
}

struct Answer {
    status: StatusCode,
    headers: http::HeaderMap,
    json: serde_json::Value,
}

async fn call(s: &Server, target: Option<&str>, auth: Option<&str>, body: &str) -> Answer {
    let mut req = Request::post("/").header("content-type", "application/x-amz-json-1.1");
    if let Some(t) = target {
        req = req.header("x-amz-target", t);
    }
    if let Some(a) = auth {
        req = req.header("authorization", a);
    }
    let resp =
        s.router.clone().oneshot(req.body(Body::from(body.to_owned())).unwrap()).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
    let json = if bytes.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap()
    };
    Answer { status, headers, json }
}

const ECS: &str = "AmazonEC2ContainerServiceV20141113";

fn signed(region: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261122/{region}/ecs/aws4_request, \
         SignedHeaders=host;x-amz-date, Signature=0123"
    )
}

#[tokio::test]
async fn unknown_operations_and_targets_are_refused_as_aws_does() {
    let s = server(false);
    let a = call(&s, Some(&format!("{ECS}.LaunchRockets")), None, "{}").await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.json["__type"], "UnknownOperationException");
    let a = call(&s, None, None, "{}").await;
    assert_eq!(a.json["__type"], "UnknownOperationException");
    let a = call(&s, Some("DynamoDB_20120810.ListTables"), None, "{}").await;
    assert_eq!(a.json["__type"], "UnknownOperationException");
}

#[tokio::test]
async fn malformed_bodies_are_serialization_exceptions_naming_the_member() {
    let s = server(false);
    let a = call(&s, Some(&format!("{ECS}.CreateCluster")), None, "{not json").await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.json["__type"], "SerializationException");
    let a = call(&s, Some(&format!("{ECS}.ListClusters")), None, r#"{"maxResults":"ten"}"#).await;
    assert_eq!(a.json["__type"], "SerializationException");
    assert!(a.json["message"].as_str().unwrap().contains("maxResults"), "{}", a.json);
}

#[tokio::test]
async fn unknown_members_are_ignored_and_empty_bodies_are_empty_structures() {
    let s = server(false);
    let a =
        call(&s, Some(&format!("{ECS}.CreateCluster")), None, r#"{"clusterName":"x","bogus":1}"#)
            .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.json);
    assert_eq!(a.json["cluster"]["clusterName"], "x");
    let a = call(&s, Some(&format!("{ECS}.ListClusters")), None, "").await;
    assert_eq!(a.status, StatusCode::OK);
}

#[tokio::test]
async fn every_answer_carries_a_request_id_and_the_json_content_type() {
    let s = server(false);
    for body in ["{}", "{bad"] {
        let a = call(&s, Some(&format!("{ECS}.ListClusters")), None, body).await;
        let id = a.headers.get("x-amzn-requestid").expect("request id").to_str().unwrap();
        assert_eq!(id.len(), 36);
        assert_eq!(a.headers["content-type"], "application/x-amz-json-1.1");
    }
}

#[tokio::test]
async fn the_region_comes_from_the_credential_scope_and_state_is_per_region() {
    let s = server(false);
    let create = format!("{ECS}.CreateCluster");
    let a = call(&s, Some(&create), Some(&signed("eu-west-3")), r#"{"clusterName":"p"}"#).await;
    assert_eq!(a.json["cluster"]["clusterArn"], "arn:aws:ecs:eu-west-3:123456789012:cluster/p");
    let list = format!("{ECS}.ListClusters");
    let eu = call(&s, Some(&list), Some(&signed("eu-west-3")), "{}").await;
    assert_eq!(eu.json["clusterArns"].as_array().unwrap().len(), 1);
    let us = call(&s, Some(&list), None, "{}").await;
    assert_eq!(us.json["clusterArns"].as_array().unwrap().len(), 0, "unsigned is us-east-1");
}

#[tokio::test]
async fn errors_carry_the_ecs_type_and_message() {
    let s = server(false);
    let a = call(&s, Some(&format!("{ECS}.DeleteCluster")), None, r#"{"cluster":"ghost"}"#).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        a.json,
        serde_json::json!({"__type": "ClusterNotFoundException", "message": "Cluster not found."})
    );
}

#[tokio::test]
async fn reset_exists_only_when_allowed_and_wipes_state() {
    let without = server(false);
    let resp = without
        .router
        .clone()
        .oneshot(Request::post("/_wharf/reset").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);

    let s = server(true);
    call(&s, Some(&format!("{ECS}.CreateCluster")), None, r#"{"clusterName":"x"}"#).await;
    let resp = s
        .router
        .clone()
        .oneshot(Request::post("/_wharf/reset").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let a = call(&s, Some(&format!("{ECS}.ListClusters")), None, "{}").await;
    assert_eq!(a.json["clusterArns"], serde_json::json!([]));
}
