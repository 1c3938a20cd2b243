//! The log store's budgets, measured in process (run by `bench/logs.sh`):
//!
//! 1. ingest through the agent's `append` (what shipping container output costs):
//!    lines/s with several containers appending at once, and how long from the
//!    start of an append until GetLogEvents (through the router) returns it;
//! 2. FilterLogEvents over 1,000,000 events seeded with PutLogEvents batches of
//!    10,000, through the router: median and p99 of several calls per pattern.
//!
//! Usage: logs_bench [INGEST_SECONDS] [FILTER_EVENTS] [CALLS]
#![allow(missing_docs)]

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::Router;
use http::Request;
use serde_json::{json, Value};
use tower::ServiceExt;
use wharf_api::logs::agent::{self, LogDestination};
use wharf_api::AppState;
use wharf_model::clock::{Clock, SystemClock};
use wharf_store::{LogStore, SqliteStore};

const WRITERS: usize = 8;
const BATCH: usize = 1_000;

fn line(i: u64) -> String {
    format!(
        "2026-12-01T18:00:00.{:03}Z INFO [worker-{}] GET /api/v1/items/{} status=200 latency_ms={} req={:016x}",
        i % 1000,
        i % 16,
        i % 100_000,
        i % 250,
        i.wrapping_mul(0x9e37_79b9_7f4a_7c15)
    )
}

/// A line short enough that 10,000 of them fit one PutLogEvents call (1 MiB,
/// 26 bytes per event on top).
fn short_line(i: u64) -> String {
    format!(
        "INFO [w{}] GET /api/items/{} 200 {}ms req={:012x}",
        i % 16,
        i % 100_000,
        i % 250,
        i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 16
    )
}

async fn call(router: &Router, op: &str, body: Value) -> Value {
    let req = Request::post("/")
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amz-target", format!("Logs_20140328.{op}"))
        .body(Body::from(body.to_string()))
        .expect("request");
    let resp = router.clone().oneshot(req).await.expect("answer");
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.expect("body");
    let v: Value = serde_json::from_slice(&bytes).expect("json");
    assert!(status.is_success(), "{op}: {v}");
    v
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

async fn ingest(state: &AppState, router: &Router, seconds: u64) {
    let stop = Arc::new(AtomicBool::new(false));
    let lines = Arc::new(AtomicU64::new(0));
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let dest = LogDestination {
            region: "us-east-1".into(),
            group: "/bench/ingest".into(),
            stream: format!("app/web/{w}"),
        };
        agent::prepare_stream(state, &dest, true).await.expect("prepare");
        let (state, stop, lines) = (state.clone(), stop.clone(), lines.clone());
        writers.push(tokio::spawn(async move {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let now = SystemClock.now_millis();
                let events: Vec<(i64, String)> =
                    (0..BATCH as u64).map(|i| (now, line(n + i))).collect();
                n += BATCH as u64;
                agent::append(&state, &dest, events, format!("offset:{n}"), None)
                    .await
                    .expect("append");
                lines.fetch_add(BATCH as u64, Ordering::Relaxed);
            }
        }));
    }
    // Latency: a marker appended to its own stream, then GetLogEvents until it is there.
    let probe = LogDestination {
        region: "us-east-1".into(),
        group: "/bench/ingest".into(),
        stream: "probe".into(),
    };
    agent::prepare_stream(state, &probe, true).await.expect("prepare");
    let started = Instant::now();
    let mut latencies = Vec::new();
    let mut token: Option<String> = None;
    let mut i = 0;
    while started.elapsed() < Duration::from_secs(seconds) {
        i += 1;
        let marker = format!("probe {i}");
        let t0 = Instant::now();
        agent::append(
            state,
            &probe,
            vec![(SystemClock.now_millis(), marker.clone())],
            i.to_string(),
            None,
        )
        .await
        .expect("append");
        loop {
            let mut body = json!({"logGroupName": "/bench/ingest", "logStreamName": "probe", "startFromHead": true});
            if let Some(t) = &token {
                body["nextToken"] = json!(t);
            }
            let got = call(router, "GetLogEvents", body).await;
            token = got["nextForwardToken"].as_str().map(str::to_owned);
            let seen = got["events"]
                .as_array()
                .is_some_and(|es| es.iter().any(|e| e["message"] == marker.as_str()));
            if seen {
                latencies.push(t0.elapsed());
                break;
            }
            assert!(t0.elapsed() < Duration::from_secs(10), "{marker} never became visible");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.await.expect("writer");
    }
    let elapsed = started.elapsed();
    let total = lines.load(Ordering::Relaxed);
    latencies.sort();
    println!(
        "| ingest via append ({WRITERS} streams, batches of {BATCH}) | {:.0} lines/s | append→visible median {}, p99 {}, max {} ({} probes) |",
        total as f64 / elapsed.as_secs_f64(),
        ms(percentile(&latencies, 0.5)),
        ms(percentile(&latencies, 0.99)),
        ms(*latencies.last().expect("probes")),
        latencies.len()
    );
}

async fn filter(state: &AppState, router: &Router, events: usize, calls: usize) {
    call(router, "CreateLogGroup", json!({"logGroupName": "/bench/filter"})).await;
    let streams = 10;
    for s in 0..streams {
        call(
            router,
            "CreateLogStream",
            json!({"logGroupName": "/bench/filter", "logStreamName": format!("s{s}")}),
        )
        .await;
    }
    let seeded = Instant::now();
    let now = SystemClock.now_millis() - 3_600_000;
    let batch = 10_000;
    for b in 0..events / batch {
        let base = (b * batch) as u64;
        let list: Vec<Value> = (0..batch as u64)
            .map(|i| {
                let n = base + i;
                // One event in 100,000 is an error: the selective pattern's target.
                let message = if n % 100_000 == 77 {
                    format!("{{\"level\":\"ERROR\",\"code\":\"E-DISK-FULL\",\"n\":{n}}}")
                } else {
                    short_line(n)
                };
                json!({"timestamp": now + (n as i64) / 1000, "message": message})
            })
            .collect();
        call(
            router,
            "PutLogEvents",
            json!({"logGroupName": "/bench/filter", "logStreamName": format!("s{}", b % streams), "logEvents": list}),
        )
        .await;
    }
    let seed_time = seeded.elapsed();
    let usage = state.logs.usage();
    println!(
        "| seed: {events} events via PutLogEvents × 10,000 | {:.0} events/s | {} MiB stored, {} MiB on disk |",
        events as f64 / seed_time.as_secs_f64(),
        usage.stored_bytes / (1 << 20),
        usage.file_bytes / (1 << 20)
    );
    for (name, pattern) in [
        ("term", "E-DISK-FULL"),
        ("JSON", "{ $.code = \"E-DISK-FULL\" }"),
        ("JSON numeric (no prefilter)", "{ $.n > 500000 }"),
        ("no match", "nothing-matches-this"),
    ] {
        let mut times = Vec::new();
        let mut found = 0;
        for _ in 0..calls {
            let t0 = Instant::now();
            let mut body = json!({"logGroupName": "/bench/filter", "filterPattern": pattern});
            let mut n = 0;
            loop {
                let page = call(router, "FilterLogEvents", body.clone()).await;
                n += page["events"].as_array().map_or(0, Vec::len);
                match page["nextToken"].as_str() {
                    Some(t) => body["nextToken"] = json!(t),
                    None => break,
                }
            }
            times.push(t0.elapsed());
            found = n;
        }
        times.sort();
        println!(
            "| FilterLogEvents over {events}: {name} `{pattern}` | {found} matches | median {}, p99 {} ({calls} calls) |",
            ms(percentile(&times, 0.5)),
            ms(percentile(&times, 0.99))
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let seconds = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(10);
    let events = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    let calls = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(10);
    let dir = tempfile::tempdir().expect("temporary directory");
    let state = AppState::new(
        Arc::new(SqliteStore::open(&dir.path().join("wharf.db")).expect("store")),
        Arc::new(LogStore::open(&dir.path().join("logs.sqlite3"), i64::MAX).expect("logs")),
        Arc::new(SystemClock),
        "000000000000",
    );
    let router = wharf_api::router(state.clone());
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        println!("| Case | Rate / result | Latency |");
        println!("|---|---|---|");
        ingest(&state, &router, seconds).await;
        filter(&state, &router, events, calls).await;
    });
}
