//! Fixed workloads for the instruction-count regression guard
//! (`bench/instructions.sh`, issue 17), run in process against the real code
//! paths: the API router over a SQLite store, the operations' launch path,
//! the service scheduler. No sockets, no Docker.
//!
//! `instructions prepare|measure WORKLOAD DIR`, WORKLOAD one of:
//!
//! - `describe`: 1,000 DescribeTaskDefinition of one family, through the router;
//! - `register`: 1,000 RegisterTaskDefinition, new revisions of one family,
//!   through the router (each committed to SQLite before it is answered);
//! - `place`: one launch of 1,000 tasks spread over 100 container instances
//!   registered as agents register them (`wharf_api::agent_link::register`);
//! - `pass`: one scheduler pass over 1,000 services of one task each (10
//!   clusters of 100 services on 10 instances), every task RUNNING: the pass
//!   the scheduler makes on every change and every second.
//!
//! `prepare` builds the state the workload starts from in the database in DIR
//! (instances, definitions, services and their tasks), natively: valgrind
//! need not pay for it. `measure` opens that database and runs the workload
//! between [`measure_begin`] and [`measure_end`], which it calls on the
//! caller's thread and, through a store update that writes nothing, on the
//! store's writer thread (where every write is committed). The script has
//! callgrind zero a thread's counts on entering the first and dump them on
//! entering the second, so the counts are the workload's on those two threads.
//! The clock is fixed, so that no decision depends on how long valgrind takes.
#![allow(missing_docs)]

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;

use axum::body::Body;
use axum::Router;
use http::Request;
use serde_json::{json, Value};
use tower::ServiceExt;
use wharf_api::audit::AuditLog;
use wharf_api::AppState;
use wharf_model::clock::FakeClock;
use wharf_model::ecs::shapes::Task;
use wharf_ops::launch::{self, LaunchRequest};
use wharf_store::{Kind, LogStore, SqliteStore, TaskQuery, Write};

const REGION: &str = "us-east-1";
/// A fixed time (2026-01-01T00:00:00Z): the same decisions on every run.
const NOW_MS: i64 = 1_767_225_600_000;
/// The `pass` workload's shape: clusters, services and instances in each.
const PASS_CLUSTERS: usize = 10;
const PASS_SERVICES: usize = 100;
const PASS_INSTANCES: usize = 10;

/// Callgrind zeroes the calling thread's counts on entering this
/// (`--zero-before`).
#[inline(never)]
fn measure_begin() {
    black_box(());
}

/// Callgrind dumps the calling thread's counts since [`measure_begin`] on
/// entering this (`--dump-before`).
#[inline(never)]
fn measure_end() {
    black_box(());
}

/// Runs `mark` on the store's writer thread, inside an update that keeps
/// everything as it is.
async fn on_writer(state: &AppState, mark: fn()) {
    let decide = Box::new(move |_: Option<String>| {
        mark();
        Ok(Write::Keep)
    });
    state.ops.store.update(Kind::Cluster, REGION, "guard-marker", decide).await.expect("marker");
}

/// Runs `workload` between the markers, on both threads.
async fn measured<F: std::future::Future<Output = T>, T>(state: &AppState, workload: F) -> T {
    on_writer(state, measure_begin).await;
    measure_begin();
    let out = workload.await;
    measure_end();
    on_writer(state, measure_end).await;
    out
}

/// An AWS JSON 1.1 ECS call through the router; the answer, which must be a 200.
async fn ecs(router: &Router, op: &str, body: &str) -> Value {
    let req = Request::post("/")
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amz-target", format!("AmazonEC2ContainerServiceV20141113.{op}"))
        .body(Body::from(body.to_owned()))
        .expect("request");
    let resp = router.clone().oneshot(req).await.expect("answer");
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.expect("body");
    let v: Value = serde_json::from_slice(&bytes).expect("JSON answer");
    assert!(status.is_success(), "{op}: {status} {v}");
    v
}

/// The definition every workload uses (bench/run.sh's registration body).
fn definition(family: &str) -> String {
    json!({
        "family": family,
        "containerDefinitions": [{
            "name": "app", "image": "public.ecr.aws/docker/library/busybox:1.36",
            "memory": 64, "cpu": 16, "essential": true, "command": ["sleep", "3600"],
            "environment": [{"name": "MODE", "value": "bench"}]
        }]
    })
    .to_string()
}

/// Registers `n` container instances in `cluster` as agents do, spread over
/// three Availability Zones.
async fn instances(state: &AppState, cluster: &str, n: usize) {
    let resources = wharf_agent::host::HostResources { cpu: 1024 * 64, memory: 1024 * 256 };
    for i in 0..n {
        let identity = wharf_agent::host::HostIdentity {
            availability_zone: format!("{REGION}{}", ["a", "b", "c"][i % 3]),
            address: Some(format!("10.0.{}.{}", i / 250, i % 250 + 1)),
            ..Default::default()
        };
        let req = wharf_agent::host::registration(cluster, &resources, &identity, None, None);
        wharf_api::agent_link::register(state, REGION, req).await.expect("register");
    }
}

/// Reports every task of `cluster` RUNNING, as its agent would.
async fn report_running(state: &AppState, cluster: &str) {
    let query = TaskQuery { cluster: cluster.into(), limit: 10_000, ..TaskQuery::default() };
    for stored in state.ops.store.list_tasks(REGION, query).await.expect("tasks") {
        let task: Task = serde_json::from_str(&stored.json).expect("a stored task");
        let containers: Vec<Value> = task
            .containers
            .iter()
            .flatten()
            .map(|c| json!({"name": c.name, "lastStatus": "RUNNING"}))
            .collect();
        let running: Task = serde_json::from_value(json!({
            "taskArn": stored.arn, "lastStatus": "RUNNING", "containers": containers
        }))
        .expect("a task report");
        wharf_api::agent_link::report(state, REGION, cluster, running).await.expect("report");
    }
}

async fn tasks_in(state: &AppState, cluster: &str) -> usize {
    let query = TaskQuery { cluster: cluster.into(), limit: 10_000, ..TaskQuery::default() };
    state.ops.store.list_tasks(REGION, query).await.expect("tasks").len()
}

async fn prepare(workload: &str, state: &AppState, router: &Router) {
    match workload {
        "describe" => {
            ecs(router, "RegisterTaskDefinition", &definition("guard-describe")).await;
        }
        "register" => {}
        "place" => {
            instances(state, "guard", 100).await;
            ecs(router, "RegisterTaskDefinition", &definition("guard-place")).await;
        }
        "pass" => {
            ecs(router, "RegisterTaskDefinition", &definition("guard-pass")).await;
            for c in 0..PASS_CLUSTERS {
                let cluster = format!("guard-{c}");
                instances(state, &cluster, PASS_INSTANCES).await;
                for s in 0..PASS_SERVICES {
                    let body = json!({
                        "cluster": cluster, "serviceName": format!("svc-{s:03}"),
                        "taskDefinition": "guard-pass", "desiredCount": 1
                    });
                    ecs(router, "CreateService", &body.to_string()).await;
                }
            }
            // The first pass places every service's task; their agents report
            // them RUNNING; the next pass sees them run. The pass measured
            // then finds everything in place.
            let scheduler = wharf_control::services::Scheduler { ops: state.ops.clone() };
            scheduler.pass().await.expect("first pass");
            for c in 0..PASS_CLUSTERS {
                let cluster = format!("guard-{c}");
                assert_eq!(tasks_in(state, &cluster).await, PASS_SERVICES, "one task a service");
                report_running(state, &cluster).await;
            }
            scheduler.pass().await.expect("second pass");
        }
        other => usage(other),
    }
}

async fn measure(workload: &str, state: &AppState, router: &Router) {
    match workload {
        "describe" => {
            let body = json!({"taskDefinition": "guard-describe"}).to_string();
            measured(state, async {
                for _ in 0..1_000 {
                    black_box(ecs(router, "DescribeTaskDefinition", &body).await);
                }
            })
            .await;
        }
        "register" => {
            let body = definition("guard-register");
            measured(state, async {
                for _ in 0..1_000 {
                    black_box(ecs(router, "RegisterTaskDefinition", &body).await);
                }
            })
            .await;
            let body = json!({"taskDefinition": "guard-register"}).to_string();
            let last = ecs(router, "DescribeTaskDefinition", &body).await;
            assert_eq!(last["taskDefinition"]["revision"], 1_000, "every registration stored");
        }
        "place" => {
            let request = LaunchRequest {
                cluster: Some("guard".into()),
                task_definition: "guard-place".into(),
                placement_strategy: vec![serde_json::from_value(
                    json!({"type": "spread", "field": "instanceId"}),
                )
                .expect("strategy")],
                definition_constraints: true,
                count: 1_000,
                ..LaunchRequest::default()
            };
            let launched = measured(state, launch::launch(state.ops.region(REGION), request)).await;
            let launched = launched.expect("launch");
            assert_eq!(launched.tasks.len(), 1_000, "placed: {:?}", launched.failures);
        }
        "pass" => {
            let scheduler = wharf_control::services::Scheduler { ops: state.ops.clone() };
            measured(state, scheduler.pass()).await.expect("pass");
            for c in 0..PASS_CLUSTERS {
                let cluster = format!("guard-{c}");
                assert_eq!(tasks_in(state, &cluster).await, PASS_SERVICES, "nothing replaced");
            }
        }
        other => usage(other),
    }
}

fn usage(what: &str) -> ! {
    eprintln!(
        "usage: instructions prepare|measure describe|register|place|pass DIR (not {what:?})"
    );
    std::process::exit(2);
}

/// The state as `wharf server` opens it by default, audit trail included.
fn open(dir: &Path) -> AppState {
    std::fs::create_dir_all(dir).expect("state directory");
    let mut state = AppState::new(
        Arc::new(SqliteStore::open(&dir.join("wharf.db")).expect("store")),
        Arc::new(LogStore::open(&dir.join("logs.sqlite3"), i64::MAX).expect("log store")),
        Arc::new(FakeClock::at(NOW_MS)),
        "000000000000",
    );
    let audit = AuditLog::open(&dir.join("audit.jsonl")).expect("audit log");
    state.audit = Some(Arc::new(audit));
    state
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [phase, workload, dir] = args.as_slice() else { usage(&args.join(" ")) };
    let state = open(Path::new(dir));
    let router = wharf_api::router(state.clone());
    // One runtime thread: all the caller's side of the workload runs on it.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        match phase.as_str() {
            "prepare" => prepare(workload, &state, &router).await,
            "measure" => measure(workload, &state, &router).await,
            other => usage(other),
        }
    });
}
