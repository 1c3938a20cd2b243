//! The front door counts what it answers: AWS JSON and Query requests by service,
//! operation and outcome, with unknown operations under one label whatever their name.

use std::sync::Arc;

use axum::body::Body;
use axum::Router;
use http::Request;
use tower::ServiceExt;
use wharf_api::AppState;
use wharf_model::clock::FakeClock;
use wharf_store::SqliteStore;

const ECS: &str = "AmazonEC2ContainerServiceV20141113";

async fn send(router: &Router, req: Request<Body>) {
    let resp = router.clone().oneshot(req).await.expect("answer");
    let _ = axum::body::to_bytes(resp.into_body(), usize::MAX).await.expect("body");
}

fn json(target: &str, body: &str) -> Request<Body> {
    Request::post("/")
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amz-target", target)
        .body(Body::from(body.to_owned()))
        .expect("request")
}

fn form(body: &str) -> Request<Body> {
    Request::post("/")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(body.to_owned()))
        .expect("request")
}

#[tokio::test]
async fn requests_are_counted_by_service_operation_and_outcome() {
    let dir = tempfile::tempdir().expect("dir");
    let store = SqliteStore::open(&dir.path().join("wharf.db")).expect("store");
    let logs =
        wharf_store::LogStore::open(&dir.path().join("logs.sqlite3"), i64::MAX).expect("logs");
    let state = AppState::new(
        Arc::new(store),
        Arc::new(logs),
        Arc::new(FakeClock::at(1_700_000_000_000)),
        "123456789012",
    );
    let metrics = state.metrics.clone();
    let router = wharf_api::router(state);

    send(&router, json(&format!("{ECS}.CreateCluster"), r#"{"clusterName":"a"}"#)).await;
    send(&router, json(&format!("{ECS}.CreateCluster"), r#"{"clusterName":"b"}"#)).await;
    send(
        &router,
        json(&format!("{ECS}.DescribeServices"), r#"{"cluster":"nope","services":["x"]}"#),
    )
    .await;
    send(&router, json(&format!("{ECS}.CreateCluster"), r#"{"clusterName": 5}"#)).await;
    send(&router, json(&format!("{ECS}.LaunchRockets"), "{}")).await;
    send(&router, json(&format!("{ECS}.Launch\"Rockets\\"), "{}")).await;
    send(&router, json("DynamoDB_20120810.ListTables", "{}")).await;
    send(&router, form("Action=DescribeLoadBalancers&Version=2015-12-01")).await;
    send(&router, form("Action=FlyAway&Version=2015-12-01")).await;

    let mut encoder = wharf_metrics::Encoder::new();
    metrics.encode(&mut encoder);
    let text = encoder.finish();
    let count = |service: &str, operation: &str, code: &str| -> Option<u64> {
        let prefix = format!(
            "wharf_api_requests_total{{service=\"{service}\",operation=\"{operation}\",code=\"{code}\"}} "
        );
        text.lines().find_map(|l| l.strip_prefix(prefix.as_str())).map(|v| v.parse().expect("int"))
    };
    assert_eq!(count("ecs", "CreateCluster", "200"), Some(2), "{text}");
    assert_eq!(count("ecs", "CreateCluster", "SerializationException"), Some(1), "{text}");
    assert_eq!(count("ecs", "DescribeServices", "ClusterNotFoundException"), Some(1), "{text}");
    assert_eq!(count("ecs", "unknown", "UnknownOperationException"), Some(2), "{text}");
    assert_eq!(count("unknown", "unknown", "UnknownOperationException"), Some(1), "{text}");
    assert_eq!(count("elbv2", "DescribeLoadBalancers", "200"), Some(1), "{text}");
    assert_eq!(count("elbv2", "unknown", "InvalidAction"), Some(1), "{text}");
    assert!(!text.contains("Rockets") && !text.contains("FlyAway"), "{text}");
    assert!(
        text.contains(
            "wharf_api_request_duration_seconds_count{service=\"ecs\",operation=\"CreateCluster\"} 3\n"
        ),
        "{text}"
    );
}
