//! CloudWatch Logs through the front door, in process: every operation, its
//! errors, tokens and pagination, and the agent's contract.

use std::sync::Arc;

use axum::body::Body;
use axum::Router;
use http::{Request, StatusCode};
use serde_json::{json, Value};
use tower::ServiceExt;
use wharf_api::logs::agent::{self, LogDestination};
use wharf_api::AppState;
use wharf_model::clock::FakeClock;
use wharf_store::{LogStore, SqliteStore};

const NOW_MS: i64 = 1_700_000_000_000;
const DAY: i64 = 24 * 3600 * 1000;

struct Server {
    router: Router,
    state: AppState,
    clock: Arc<FakeClock>,
    _dir: tempfile::TempDir,
}

fn server() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(FakeClock::at(NOW_MS));
    let state = AppState::new(
        Arc::new(SqliteStore::open(&dir.path().join("wharf.db")).unwrap()),
        Arc::new(LogStore::open(&dir.path().join("logs.sqlite3"), i64::MAX).unwrap()),
        clock.clone(),
        "123456789012",
    );
    Server { router: wharf_api::router(state.clone()), state, clock, _dir: dir }
}

struct Answer {
    status: StatusCode,
    json: Value,
}

impl Answer {
    #[track_caller]
    fn ok(self) -> Value {
        assert_eq!(self.status, StatusCode::OK, "{}", self.json);
        self.json
    }

    /// Expects a 400 of this type whose message names `field`.
    #[track_caller]
    fn err(self, type_name: &str, field: &str) -> String {
        assert_eq!(self.status, StatusCode::BAD_REQUEST, "{}", self.json);
        assert_eq!(self.json["__type"], type_name, "{}", self.json);
        let message = self.json["message"].as_str().unwrap_or("").to_owned();
        assert!(message.contains(field), "{message:?} does not name {field:?}");
        message
    }
}

async fn logs(s: &Server, op: &str, body: Value) -> Answer {
    let req = Request::post("/")
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amz-target", format!("Logs_20140328.{op}"))
        .body(Body::from(body.to_string()))
        .unwrap();
    let resp = s.router.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
    let json = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).unwrap() };
    Answer { status, json }
}

async fn setup(s: &Server, group: &str, stream: &str) {
    logs(s, "CreateLogGroup", json!({"logGroupName": group})).await.ok();
    logs(s, "CreateLogStream", json!({"logGroupName": group, "logStreamName": stream})).await.ok();
}

async fn put(s: &Server, group: &str, stream: &str, events: Vec<(i64, &str)>) -> Value {
    let events: Vec<Value> =
        events.into_iter().map(|(t, m)| json!({"timestamp": t, "message": m})).collect();
    logs(
        s,
        "PutLogEvents",
        json!({"logGroupName": group, "logStreamName": stream, "logEvents": events}),
    )
    .await
    .ok()
}

fn messages(v: &Value) -> Vec<String> {
    v["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn groups_are_created_described_paged_and_deleted() {
    let s = server();
    for name in ["/ecs/a", "/ecs/b", "/other", "/ecs/c"] {
        logs(&s, "CreateLogGroup", json!({"logGroupName": name})).await.ok();
    }
    logs(&s, "CreateLogGroup", json!({"logGroupName": "/ecs/a"}))
        .await
        .err("ResourceAlreadyExistsException", "already exists");
    let page = logs(&s, "DescribeLogGroups", json!({"logGroupNamePrefix": "/ecs/", "limit": 2}))
        .await
        .ok();
    let groups = page["logGroups"].as_array().unwrap();
    assert_eq!(groups.len(), 2);
    assert_eq!(groups[0]["logGroupName"], "/ecs/a");
    assert_eq!(groups[0]["arn"], "arn:aws:logs:us-east-1:123456789012:log-group:/ecs/a:*");
    assert_eq!(groups[0]["logGroupArn"], "arn:aws:logs:us-east-1:123456789012:log-group:/ecs/a");
    assert_eq!(groups[0]["creationTime"], NOW_MS);
    assert_eq!(groups[0]["storedBytes"], 0);
    assert_eq!(groups[0]["logGroupClass"], "STANDARD");
    assert!(groups[0].get("retentionInDays").is_none());
    let token = page["nextToken"].as_str().unwrap();
    let rest = logs(
        &s,
        "DescribeLogGroups",
        json!({"logGroupNamePrefix": "/ecs/", "limit": 2, "nextToken": token}),
    )
    .await
    .ok();
    assert_eq!(rest["logGroups"].as_array().unwrap().len(), 1);
    assert!(rest.get("nextToken").is_none());
    let pattern = logs(&s, "DescribeLogGroups", json!({"logGroupNamePattern": "ther"})).await.ok();
    assert_eq!(pattern["logGroups"][0]["logGroupName"], "/other");
    logs(&s, "DeleteLogGroup", json!({"logGroupName": "/ecs/a"})).await.ok();
    logs(&s, "DeleteLogGroup", json!({"logGroupName": "/ecs/a"}))
        .await
        .err("ResourceNotFoundException", "The specified log group does not exist.");
    let all = logs(&s, "DescribeLogGroups", json!({})).await.ok();
    assert_eq!(all["logGroups"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn bad_input_gets_cloudwatch_errors_naming_the_field() {
    let s = server();
    setup(&s, "/g", "s").await;
    let bad = "InvalidParameterException";
    logs(&s, "CreateLogGroup", json!({})).await.err(bad, "logGroupName");
    logs(&s, "CreateLogGroup", json!({"logGroupName": "a b"})).await.err(bad, "logGroupName");
    logs(&s, "CreateLogGroup", json!({"logGroupName": "x".repeat(513)}))
        .await
        .err(bad, "logGroupName");
    logs(&s, "CreateLogGroup", json!({"logGroupName": "/x", "logGroupClass": "HOT"}))
        .await
        .err(bad, "logGroupClass");
    let tags: serde_json::Map<String, Value> =
        (0..51).map(|i| (format!("k{i}"), json!("v"))).collect();
    logs(&s, "CreateLogGroup", json!({"logGroupName": "/x", "tags": tags}))
        .await
        .err("TooManyTagsException", "50 tags");
    logs(&s, "DeleteLogGroup", json!({})).await.err(bad, "logGroupName");
    logs(&s, "CreateLogStream", json!({"logGroupName": "/g"})).await.err(bad, "logStreamName");
    logs(&s, "CreateLogStream", json!({"logGroupName": "/g", "logStreamName": "a:b"}))
        .await
        .err(bad, "logStreamName");
    logs(&s, "CreateLogStream", json!({"logGroupName": "/nope", "logStreamName": "s"}))
        .await
        .err("ResourceNotFoundException", "log group does not exist");
    logs(&s, "CreateLogStream", json!({"logGroupName": "/g", "logStreamName": "s"}))
        .await
        .err("ResourceAlreadyExistsException", "log stream already exists");
    logs(&s, "DeleteLogStream", json!({"logGroupName": "/g", "logStreamName": "zz"}))
        .await
        .err("ResourceNotFoundException", "log stream does not exist");
    logs(&s, "DescribeLogStreams", json!({})).await.err(bad, "logGroupIdentifier");
    logs(&s, "DescribeLogStreams", json!({"logGroupName": "/g", "logGroupIdentifier": "/g"}))
        .await
        .err(bad, "mutually exclusive");
    logs(
        &s,
        "DescribeLogStreams",
        json!({"logGroupName": "/g", "orderBy": "LastEventTime", "logStreamNamePrefix": "s"}),
    )
    .await
    .err(bad, "logStreamNamePrefix");
    logs(&s, "DescribeLogStreams", json!({"logGroupName": "/g", "orderBy": "Size"}))
        .await
        .err(bad, "orderBy");
    logs(&s, "DescribeLogStreams", json!({"logGroupName": "/g", "limit": 51}))
        .await
        .err(bad, "limit");
    logs(&s, "DescribeLogStreams", json!({"logGroupName": "/g", "nextToken": "zz"}))
        .await
        .err(bad, "nextToken");
    logs(&s, "DescribeLogGroups", json!({"limit": 0})).await.err(bad, "limit");
    logs(&s, "DescribeLogGroups", json!({"logGroupNamePrefix": "/a", "logGroupNamePattern": "a"}))
        .await
        .err(bad, "mutually exclusive");
    // PutLogEvents.
    let put_raw =
        |events: Value| json!({"logGroupName": "/g", "logStreamName": "s", "logEvents": events});
    logs(&s, "PutLogEvents", json!({"logGroupName": "/g", "logStreamName": "s"}))
        .await
        .err(bad, "logEvents");
    logs(&s, "PutLogEvents", put_raw(json!([]))).await.err(bad, "logEvents");
    logs(&s, "PutLogEvents", put_raw(json!([{"message": "x"}])))
        .await
        .err(bad, "logEvents.1.member.timestamp");
    logs(&s, "PutLogEvents", put_raw(json!([{"timestamp": NOW_MS}])))
        .await
        .err(bad, "logEvents.1.member.message");
    logs(&s, "PutLogEvents", put_raw(json!([{"timestamp": NOW_MS, "message": ""}])))
        .await
        .err(bad, "logEvents.1.member.message");
    logs(
        &s,
        "PutLogEvents",
        put_raw(json!([{"timestamp": NOW_MS, "message": "b"}, {"timestamp": NOW_MS - 1, "message": "a"}])),
    )
    .await
    .err(bad, "chronological order");
    logs(
        &s,
        "PutLogEvents",
        put_raw(json!([{"timestamp": NOW_MS - DAY - 1, "message": "a"}, {"timestamp": NOW_MS, "message": "b"}])),
    )
    .await
    .err(bad, "24 hours");
    let many: Vec<Value> =
        (0..10_001).map(|_| json!({"timestamp": NOW_MS, "message": "x"})).collect();
    logs(&s, "PutLogEvents", put_raw(json!(many))).await.err(bad, "logEvents");
    let big = "x".repeat(600_000);
    logs(
        &s,
        "PutLogEvents",
        put_raw(
            json!([{"timestamp": NOW_MS, "message": big}, {"timestamp": NOW_MS, "message": big}]),
        ),
    )
    .await
    .err(bad, "1048576");
    logs(
        &s,
        "PutLogEvents",
        json!({"logGroupName": "/g", "logStreamName": "nope", "logEvents": [{"timestamp": NOW_MS, "message": "x"}]}),
    )
    .await
    .err("ResourceNotFoundException", "log stream does not exist");
    logs(&s, "PutLogEvents", json!({"logGroupName": "/g", "logStreamName": "s", "logEvents": "x"}))
        .await
        .err("SerializationException", "logEvents");
    // GetLogEvents and FilterLogEvents.
    logs(&s, "GetLogEvents", json!({"logGroupName": "/g"})).await.err(bad, "logStreamName");
    logs(&s, "GetLogEvents", json!({"logGroupName": "/g", "logStreamName": "s", "limit": 10_001}))
        .await
        .err(bad, "limit");
    logs(
        &s,
        "GetLogEvents",
        json!({"logGroupName": "/g", "logStreamName": "s", "nextToken": "f/12"}),
    )
    .await
    .err(bad, "nextToken");
    logs(&s, "GetLogEvents", json!({"logGroupName": "/zz", "logStreamName": "s"}))
        .await
        .err("ResourceNotFoundException", "log group does not exist");
    logs(&s, "FilterLogEvents", json!({"logGroupName": "/g", "filterPattern": "{ $.a = }"}))
        .await
        .err(bad, "Invalid filter pattern");
    logs(
        &s,
        "FilterLogEvents",
        json!({"logGroupName": "/g", "logStreamNames": ["s"], "logStreamNamePrefix": "s"}),
    )
    .await
    .err(bad, "logStreamNamePrefix");
    logs(&s, "FilterLogEvents", json!({"logGroupName": "/g", "logStreamNames": []}))
        .await
        .err(bad, "logStreamNames");
    logs(&s, "FilterLogEvents", json!({"logGroupName": "/g", "nextToken": "00"}))
        .await
        .err(bad, "nextToken");
    logs(&s, "FilterLogEvents", json!({"logGroupName": "/g", "limit": 0})).await.err(bad, "limit");
    logs(&s, "FilterLogEvents", json!({"logGroupIdentifier": "arn:aws:s3:::b"}))
        .await
        .err(bad, "logGroupIdentifier");
    // Retention and tags.
    logs(&s, "PutRetentionPolicy", json!({"logGroupName": "/g", "retentionInDays": 2}))
        .await
        .err(bad, "retentionInDays");
    logs(&s, "PutRetentionPolicy", json!({"logGroupName": "/g"})).await.err(bad, "retentionInDays");
    logs(&s, "PutRetentionPolicy", json!({"logGroupName": "/zz", "retentionInDays": 1}))
        .await
        .err("ResourceNotFoundException", "log group");
    logs(&s, "DeleteRetentionPolicy", json!({"logGroupName": "/zz"}))
        .await
        .err("ResourceNotFoundException", "log group");
    logs(&s, "TagResource", json!({"resourceArn": "nope", "tags": {"a": "b"}}))
        .await
        .err(bad, "ARN");
    logs(&s, "TagResource", json!({"tags": {"a": "b"}})).await.err(bad, "resourceArn");
    logs(
        &s,
        "TagResource",
        json!({"resourceArn": "arn:aws:logs:us-east-1:123456789012:log-group:/zz", "tags": {"a": "b"}}),
    )
    .await
    .err("ResourceNotFoundException", "log group");
    logs(&s, "TagLogGroup", json!({"logGroupName": "/g"})).await.err(bad, "tags");
    logs(
        &s,
        "UntagResource",
        json!({"resourceArn": "arn:aws:logs:us-east-1:123456789012:log-group:/g"}),
    )
    .await
    .err(bad, "tagKeys");
    logs(&s, "ListTagsLogGroup", json!({"logGroupName": "/zz"}))
        .await
        .err("ResourceNotFoundException", "log group");
    let unknown = logs(&s, "StartQuery", json!({})).await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert_eq!(unknown.json["__type"], "UnknownOperationException");
}

#[tokio::test]
async fn put_log_events_reports_too_old_too_new_and_expired_events() {
    let s = server();
    setup(&s, "/g", "s").await;
    let out = put(
        &s,
        "/g",
        "s",
        vec![(NOW_MS - 15 * DAY + 3_600_000, "old"), (NOW_MS - 14 * DAY + 3_600_000, "kept")],
    )
    .await;
    assert_eq!(out["rejectedLogEventsInfo"], json!({"tooOldLogEventEndIndex": 1}));
    assert!(out["nextSequenceToken"].is_string());
    let out = put(&s, "/g", "s", vec![(NOW_MS, "now"), (NOW_MS + 3 * 3_600_000, "future")]).await;
    assert_eq!(out["rejectedLogEventsInfo"], json!({"tooNewLogEventStartIndex": 1}));
    logs(&s, "PutRetentionPolicy", json!({"logGroupName": "/g", "retentionInDays": 1})).await.ok();
    let out = put(&s, "/g", "s", vec![(NOW_MS - DAY - 10, "expired"), (NOW_MS - 10, "fine")]).await;
    assert_eq!(out["rejectedLogEventsInfo"], json!({"expiredLogEventEndIndex": 1}));
    let out = put(&s, "/g", "s", vec![(NOW_MS, "clean")]).await;
    assert!(out.get("rejectedLogEventsInfo").is_none());
    // A sequence token, right or wrong, is ignored.
    logs(
        &s,
        "PutLogEvents",
        json!({"logGroupName": "/g", "logStreamName": "s", "sequenceToken": "bogus",
               "logEvents": [{"timestamp": NOW_MS, "message": "seq"}]}),
    )
    .await
    .ok();
    let got = logs(
        &s,
        "GetLogEvents",
        json!({"logGroupName": "/g", "logStreamName": "s", "startFromHead": true}),
    )
    .await
    .ok();
    assert_eq!(messages(&got), ["kept", "fine", "now", "clean", "seq"]);
    let group = logs(&s, "DescribeLogGroups", json!({})).await.ok();
    let expected: usize =
        ["kept", "fine", "now", "clean", "seq"].iter().map(|m| m.len() + 26).sum();
    assert_eq!(group["logGroups"][0]["storedBytes"], expected);
    assert_eq!(group["logGroups"][0]["retentionInDays"], 1);
}

#[tokio::test]
async fn get_log_events_pages_forward_and_backward_and_repeats_its_token_at_the_end() {
    let s = server();
    setup(&s, "/g", "s").await;
    let events: Vec<(i64, String)> =
        (0..25).map(|i| (NOW_MS - 1000 + i, format!("m{i:02}"))).collect();
    put(&s, "/g", "s", events.iter().map(|(t, m)| (*t, m.as_str())).collect()).await;
    let get = |extra: Value| {
        let mut body = json!({"logGroupName": "/g", "logStreamName": "s", "limit": 10});
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        logs(&s, "GetLogEvents", body)
    };
    // No token: the newest 10, oldest first.
    let tail = get(json!({})).await.ok();
    assert_eq!(messages(&tail)[0], "m15");
    assert_eq!(messages(&tail)[9], "m24");
    assert!(tail["nextForwardToken"].as_str().unwrap().starts_with("f/"));
    assert!(tail["nextBackwardToken"].as_str().unwrap().starts_with("b/"));
    assert_eq!(tail["events"][0]["ingestionTime"], NOW_MS);
    // Forward at the end: nothing, and the same token.
    let fwd = tail["nextForwardToken"].as_str().unwrap().to_owned();
    let end = get(json!({"nextToken": fwd})).await.ok();
    assert!(messages(&end).is_empty());
    assert_eq!(end["nextForwardToken"], fwd.as_str());
    // Backward from the tail: the 10 before, then the 5 before those, then the same token.
    let back = get(json!({"nextToken": tail["nextBackwardToken"]})).await.ok();
    assert_eq!(messages(&back), (5..15).map(|i| format!("m{i:02}")).collect::<Vec<_>>());
    let back2 = get(json!({"nextToken": back["nextBackwardToken"]})).await.ok();
    assert_eq!(messages(&back2), (0..5).map(|i| format!("m{i:02}")).collect::<Vec<_>>());
    let b = back2["nextBackwardToken"].as_str().unwrap().to_owned();
    let start = get(json!({"nextToken": b})).await.ok();
    assert!(messages(&start).is_empty());
    assert_eq!(start["nextBackwardToken"], b.as_str());
    // From the head, forward through everything.
    let mut seen = Vec::new();
    let mut page = get(json!({"startFromHead": true})).await.ok();
    loop {
        let got = messages(&page);
        if got.is_empty() {
            break;
        }
        seen.extend(got);
        page = get(json!({"nextToken": page["nextForwardToken"]})).await.ok();
    }
    assert_eq!(seen, events.iter().map(|(_, m)| m.clone()).collect::<Vec<_>>());
    // New events show up after the forward token that had reached the end.
    put(&s, "/g", "s", vec![(NOW_MS, "late")]).await;
    let more = get(json!({"nextToken": fwd})).await.ok();
    assert_eq!(messages(&more), ["late"]);
    // A time range: [startTime, endTime).
    let ranged =
        get(json!({"startFromHead": true, "startTime": NOW_MS - 990, "endTime": NOW_MS - 985}))
            .await
            .ok();
    assert_eq!(messages(&ranged), ["m10", "m11", "m12", "m13", "m14"]);
    // By ARN.
    let by_arn = logs(
        &s,
        "GetLogEvents",
        json!({"logGroupIdentifier": "arn:aws:logs:us-east-1:123456789012:log-group:/g:*", "logStreamName": "s", "limit": 1}),
    )
    .await
    .ok();
    assert_eq!(messages(&by_arn), ["late"]);
    // An empty stream still answers with tokens.
    logs(&s, "CreateLogStream", json!({"logGroupName": "/g", "logStreamName": "empty"})).await.ok();
    let empty = logs(&s, "GetLogEvents", json!({"logGroupName": "/g", "logStreamName": "empty"}))
        .await
        .ok();
    assert!(empty["nextForwardToken"].is_string() && empty["nextBackwardToken"].is_string());
}

#[tokio::test]
async fn filter_log_events_interleaves_streams_and_matches_patterns() {
    let s = server();
    setup(&s, "/app", "web/1").await;
    logs(&s, "CreateLogStream", json!({"logGroupName": "/app", "logStreamName": "worker/1"}))
        .await
        .ok();
    put(
        &s,
        "/app",
        "web/1",
        vec![
            (NOW_MS - 50, r#"{"level":"ERROR","latency":250,"path":"/a"}"#),
            (NOW_MS - 30, "GET /health 200"),
            (NOW_MS - 10, r#"{"level":"INFO","latency":20,"path":"/b"}"#),
        ],
    )
    .await;
    put(
        &s,
        "/app",
        "worker/1",
        vec![(NOW_MS - 40, "ERROR job 7 failed: timeout"), (NOW_MS - 20, "WARN queue slow")],
    )
    .await;
    let filter = |body: Value| {
        let mut b = json!({"logGroupName": "/app"});
        b.as_object_mut().unwrap().extend(body.as_object().unwrap().clone());
        logs(&s, "FilterLogEvents", b)
    };
    let all = filter(json!({})).await.ok();
    assert_eq!(all["events"].as_array().unwrap().len(), 5);
    let streams: Vec<&str> = all["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["logStreamName"].as_str().unwrap())
        .collect();
    assert_eq!(streams, ["web/1", "worker/1", "web/1", "worker/1", "web/1"]);
    assert_eq!(all["searchedLogStreams"], json!([]));
    let ids: Vec<&str> =
        all["events"].as_array().unwrap().iter().map(|e| e["eventId"].as_str().unwrap()).collect();
    assert!(ids.iter().all(|id| id.len() == 56));
    let m = |v: Value| messages(&v);
    assert_eq!(m(filter(json!({"filterPattern": "ERROR"})).await.ok()).len(), 2);
    assert_eq!(
        m(filter(json!({"filterPattern": "?WARN ?timeout"})).await.ok()),
        ["ERROR job 7 failed: timeout", "WARN queue slow"]
    );
    assert_eq!(m(filter(json!({"filterPattern": "ERROR -timeout"})).await.ok()).len(), 1);
    assert_eq!(m(filter(json!({"filterPattern": "\"job 7\""})).await.ok()).len(), 1);
    assert_eq!(
        m(filter(json!({"filterPattern": "%job.[0-9]+.failed%"})).await.ok()),
        ["ERROR job 7 failed: timeout"]
    );
    assert_eq!(m(filter(json!({"filterPattern": "{ $.path = %^/[ab]$% }"})).await.ok()).len(), 2);
    assert_eq!(
        m(filter(json!({"filterPattern": "{ $.latency > 100 }"})).await.ok()),
        [r#"{"level":"ERROR","latency":250,"path":"/a"}"#]
    );
    assert_eq!(
        m(filter(json!({"filterPattern": "{ $.level = \"INFO\" || $.latency > 200 }"})).await.ok())
            .len(),
        2
    );
    assert_eq!(
        m(filter(json!({"filterPattern": "[method, path = /health, status = 2*]"})).await.ok())
            .len(),
        1
    );
    assert_eq!(m(filter(json!({"logStreamNamePrefix": "worker"})).await.ok()).len(), 2);
    assert_eq!(
        m(filter(json!({"logStreamNames": ["web/1"], "filterPattern": "ERROR"})).await.ok()).len(),
        1
    );
    assert_eq!(
        m(filter(json!({"startTime": NOW_MS - 40, "endTime": NOW_MS - 20})).await.ok()).len(),
        3
    );
    // Pages of 2, resumed by nextToken, in order, to the end.
    let mut seen = Vec::new();
    let mut page = filter(json!({"limit": 2})).await.ok();
    loop {
        seen.extend(messages(&page));
        let Some(token) = page["nextToken"].as_str().map(str::to_owned) else { break };
        page = filter(json!({"limit": 2, "nextToken": token})).await.ok();
    }
    assert_eq!(seen, messages(&all));
}

#[tokio::test]
async fn streams_are_described_by_name_or_last_event_time() {
    let s = server();
    setup(&s, "/g", "b").await;
    for name in ["a", "c"] {
        logs(&s, "CreateLogStream", json!({"logGroupName": "/g", "logStreamName": name}))
            .await
            .ok();
    }
    put(&s, "/g", "a", vec![(NOW_MS - 10, "x")]).await;
    put(&s, "/g", "b", vec![(NOW_MS - 30, "x")]).await;
    put(&s, "/g", "c", vec![(NOW_MS - 20, "xyz")]).await;
    let names = |v: &Value| -> Vec<String> {
        v["logStreams"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["logStreamName"].as_str().unwrap().to_owned())
            .collect()
    };
    let by_name = logs(&s, "DescribeLogStreams", json!({"logGroupName": "/g"})).await.ok();
    assert_eq!(names(&by_name), ["a", "b", "c"]);
    let c = &by_name["logStreams"][2];
    assert_eq!(c["storedBytes"], 29);
    assert_eq!(c["firstEventTimestamp"], NOW_MS - 20);
    assert_eq!(c["lastEventTimestamp"], NOW_MS - 20);
    assert_eq!(c["lastIngestionTime"], NOW_MS);
    assert_eq!(c["arn"], "arn:aws:logs:us-east-1:123456789012:log-group:/g:log-stream:c");
    let newest = logs(
        &s,
        "DescribeLogStreams",
        json!({"logGroupName": "/g", "orderBy": "LastEventTime", "descending": true, "limit": 2}),
    )
    .await
    .ok();
    assert_eq!(names(&newest), ["a", "c"]);
    let rest = logs(
        &s,
        "DescribeLogStreams",
        json!({"logGroupName": "/g", "orderBy": "LastEventTime", "descending": true, "limit": 2,
               "nextToken": newest["nextToken"]}),
    )
    .await
    .ok();
    assert_eq!(names(&rest), ["b"]);
    assert!(rest.get("nextToken").is_none());
    let prefix =
        logs(&s, "DescribeLogStreams", json!({"logGroupName": "/g", "logStreamNamePrefix": "b"}))
            .await
            .ok();
    assert_eq!(names(&prefix), ["b"]);
    logs(&s, "DeleteLogStream", json!({"logGroupName": "/g", "logStreamName": "c"})).await.ok();
    let group = logs(&s, "DescribeLogGroups", json!({})).await.ok();
    assert_eq!(group["logGroups"][0]["storedBytes"], 54);
}

#[tokio::test]
async fn tags_by_arn_and_by_name() {
    let s = server();
    logs(&s, "CreateLogGroup", json!({"logGroupName": "/g", "tags": {"team": "a"}})).await.ok();
    let arn = "arn:aws:logs:us-east-1:123456789012:log-group:/g";
    logs(&s, "TagResource", json!({"resourceArn": arn, "tags": {"env": "dev"}})).await.ok();
    let tags = logs(&s, "ListTagsForResource", json!({"resourceArn": arn})).await.ok();
    assert_eq!(tags["tags"], json!({"team": "a", "env": "dev"}));
    logs(&s, "UntagResource", json!({"resourceArn": arn, "tagKeys": ["team"]})).await.ok();
    logs(&s, "TagLogGroup", json!({"logGroupName": "/g", "tags": {"x": "1"}})).await.ok();
    let tags = logs(&s, "ListTagsLogGroup", json!({"logGroupName": "/g"})).await.ok();
    assert_eq!(tags["tags"], json!({"env": "dev", "x": "1"}));
    logs(&s, "UntagLogGroup", json!({"logGroupName": "/g", "tags": ["x", "env"]})).await.ok();
    let tags = logs(&s, "ListTagsLogGroup", json!({"logGroupName": "/g"})).await.ok();
    assert_eq!(tags["tags"], json!({}));
    let fifty: serde_json::Map<String, Value> =
        (0..50).map(|i| (format!("k{i}"), json!("v"))).collect();
    logs(&s, "TagResource", json!({"resourceArn": arn, "tags": fifty})).await.ok();
    logs(&s, "TagResource", json!({"resourceArn": arn, "tags": {"one": "more"}}))
        .await
        .err("TooManyTagsException", "50");
    // Another region's ARN names no group here.
    logs(
        &s,
        "ListTagsForResource",
        json!({"resourceArn": "arn:aws:logs:eu-west-1:123456789012:log-group:/g"}),
    )
    .await
    .err("ResourceNotFoundException", "log group");
}

#[tokio::test]
async fn a_batch_sent_again_after_a_lost_answer_is_stored_once() {
    let s = server();
    let dest = LogDestination {
        region: "us-east-1".into(),
        group: "/ecs/again".into(),
        stream: "ecs/app/1".into(),
    };
    agent::prepare_stream(&s.state, &dest, true).await.unwrap();
    let batch = |from: i64| (0..3).map(move |i| (NOW_MS + from + i, format!("line {}", from + i)));
    let send = |events: Vec<(i64, String)>, cursor: &str, after: &str| {
        agent::append(&s.state, &dest, events, cursor.into(), Some(after.into()))
    };
    send(batch(0).collect(), "c3", "c0").await.unwrap();
    // Its answer was lost: the same batch again is acknowledged, not stored.
    send(batch(0).collect(), "c3", "c0").await.unwrap();
    // A batch whose cursor stayed where the last one left it is new.
    send(batch(3).collect(), "c3", "c3").await.unwrap();
    send(batch(6).collect(), "c9", "c3").await.unwrap();
    let got = logs(
        &s,
        "GetLogEvents",
        json!({"logGroupName": "/ecs/again", "logStreamName": "ecs/app/1", "startFromHead": true}),
    )
    .await
    .ok();
    let messages: Vec<&str> =
        got["events"].as_array().unwrap().iter().map(|e| e["message"].as_str().unwrap()).collect();
    let want: Vec<String> = (0..9).map(|i| format!("line {i}")).collect();
    assert_eq!(messages, want);
}

#[tokio::test]
async fn the_agent_prepares_appends_and_resumes_by_cursor() {
    let s = server();
    let dest = LogDestination {
        region: "us-east-1".into(),
        group: "/ecs/web".into(),
        stream: "ecs/app/0123".into(),
    };
    let err = agent::prepare_stream(&s.state, &dest, false).await.unwrap_err();
    assert_eq!(err.type_name, "ResourceNotFoundException");
    assert_eq!(err.message, "The specified log group does not exist.");
    agent::prepare_stream(&s.state, &dest, true).await.unwrap();
    agent::prepare_stream(&s.state, &dest, true).await.unwrap();
    assert_eq!(agent::cursor(&s.state, &dest).await.unwrap(), None);
    // More than one PutLogEvents call would take, out of order.
    let mut events: Vec<(i64, String)> =
        (0..12_000).map(|i| (NOW_MS + i, format!("line {i}"))).collect();
    events.swap(0, 1);
    agent::append(&s.state, &dest, events, "stdout:12000".into(), None).await.unwrap();
    assert_eq!(agent::cursor(&s.state, &dest).await.unwrap().as_deref(), Some("stdout:12000"));
    let got = logs(
        &s,
        "GetLogEvents",
        json!({"logGroupName": "/ecs/web", "logStreamName": "ecs/app/0123", "startFromHead": true, "limit": 3}),
    )
    .await
    .ok();
    assert_eq!(messages(&got), ["line 0", "line 1", "line 2"]);
    let bad = LogDestination { stream: "a:b".into(), ..dest.clone() };
    let err = agent::append(&s.state, &bad, vec![], "c".into(), None).await.unwrap_err();
    assert_eq!(err.type_name, "InvalidParameterException");
    let missing = LogDestination { stream: "other".into(), ..dest.clone() };
    let err = agent::append(&s.state, &missing, vec![(NOW_MS, "x".into())], "c".into(), None)
        .await
        .unwrap_err();
    assert_eq!(err.message, "The specified log stream does not exist.");
    s.clock.advance_millis(1);
}
