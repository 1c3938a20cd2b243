//! Logs with an etcd store: every server's log store mirrors the log keys in
//! etcd, so an event acknowledged by one server is read, at the same
//! position, from every other, survives the loss of an etcd member, and is
//! found by a server that joins later; retention and the size budget delete
//! on every mirror at once.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use wharf_model::logs::Position;
use wharf_store::etcd::local::LocalCluster;
use wharf_store::logs::{Append, NewGroup, ReadFrom, StreamRead};
use wharf_store::{EtcdConfig, EtcdStore, Kind, LogStore, Store, Write};

const R: &str = "us-east-1";

fn group(name: &str) -> NewGroup {
    NewGroup {
        name: name.into(),
        created: 1_700_000_000_000,
        class: "STANDARD".into(),
        kms_key_id: None,
        tags: BTreeMap::new(),
    }
}

fn append(g: &str, stream: &str, events: Vec<(i64, String)>, cursor: Option<&str>) -> Append {
    Append {
        group: group(g),
        stream: stream.into(),
        create_group: true,
        create_stream: true,
        events,
        ingested: 1_700_000_000_000,
        cursor: cursor.map(str::to_owned),
    }
}

async fn server(etcd: &LocalCluster, dir: &std::path::Path, max: i64) -> LogStore {
    let state = EtcdStore::open(EtcdConfig::parse(&etcd.store_url("logs")).unwrap()).await.unwrap();
    std::fs::create_dir_all(dir).unwrap();
    LogStore::open_replicated(&dir.join("logs.sqlite3"), max, &state).await.unwrap()
}

fn events(s: &LogStore, g: &str, stream: &str) -> Vec<(Position, String)> {
    let q = StreamRead { start: None, end: None, from: ReadFrom::Head, limit: 10_000 };
    match s.read_stream(R, g, stream, &q) {
        Ok(e) => e.into_iter().map(|e| (e.pos, e.message)).collect(),
        Err(_) => Vec::new(),
    }
}

/// Waits until `check` holds on a mirror (other servers follow within a
/// watch delay).
async fn eventually(what: &str, check: impl Fn() -> bool) {
    let started = Instant::now();
    while !check() {
        assert!(started.elapsed() < Duration::from_secs(10), "never: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_server_reads_what_any_server_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let mut etcd = LocalCluster::start(&dir.path().join("etcd"), 3).await.unwrap();
    let a = server(&etcd, &dir.path().join("a"), 1 << 30).await;
    let b = server(&etcd, &dir.path().join("b"), 1 << 30).await;
    let lines = |n: usize, from: i64| -> Vec<(i64, String)> {
        (0..n).map(|i| (from + i as i64, format!("line {i}\nwith \"quotes\""))).collect()
    };
    a.append(R, append("/app", "web/1", lines(3, 1_000), Some("c1"))).await.unwrap();
    // Read-your-writes on A at once; B within a watch delay, at the same positions.
    let on_a = events(&a, "/app", "web/1");
    assert_eq!(on_a.len(), 3);
    assert_eq!(a.cursor(R, "/app", "web/1").unwrap().as_deref(), Some("c1"));
    eventually("B has A's events", || events(&b, "/app", "web/1") == on_a).await;
    assert_eq!(b.cursor(R, "/app", "web/1").unwrap().as_deref(), Some("c1"));
    let ga = a.group(R, "/app").unwrap().unwrap();
    let gb = b.group(R, "/app").unwrap().unwrap();
    assert_eq!(ga, gb);
    assert_eq!(ga.stored_bytes, 3 * (("line 0\nwith \"quotes\"".len() + 26) as i64));
    // Group creation conflicts across servers.
    assert!(b.create_group(R, group("/app")).await.is_err());

    // Appends keep flowing through B while an etcd member dies; each applies once.
    let leader = etcd.leader().await.unwrap();
    let writer = {
        let b = b.clone();
        tokio::spawn(async move {
            let mut acked = 0;
            for i in 0..200 {
                let ev = vec![(2_000 + i, format!("n{i}"))];
                if b.append(R, append("/app", "web/2", ev, Some(&format!("c{i}")))).await.is_ok() {
                    acked += 1;
                }
            }
            acked
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    etcd.kill(leader);
    let acked = writer.await.unwrap();
    assert!(acked > 100, "{acked} appends acknowledged");
    let on_b = events(&b, "/app", "web/2");
    let mut messages: Vec<&str> = on_b.iter().map(|(_, m)| m.as_str()).collect();
    let all = messages.len();
    messages.dedup();
    assert_eq!(messages.len(), all, "an event was stored twice");
    assert!(all >= acked, "{all} stored for {acked} acknowledged");
    eventually("A follows B", || events(&a, "/app", "web/2") == on_b).await;

    // A server that joins now loads everything from etcd (also when other
    // state was written since the last log write).
    let state = EtcdStore::open(EtcdConfig::parse(&etcd.store_url("logs")).unwrap()).await.unwrap();
    for i in 0..5 {
        state
            .update(Kind::Cluster, R, &format!("c{i}"), Box::new(|_| Ok(Write::Put("{}".into()))))
            .await
            .unwrap();
    }
    let c = tokio::time::timeout(
        Duration::from_secs(10),
        server(&etcd, &dir.path().join("c"), 1 << 30),
    )
    .await
    .expect("a joining server catches up at once");
    assert_eq!(events(&c, "/app", "web/1"), on_a);
    assert_eq!(events(&c, "/app", "web/2"), on_b);

    // Deletions reach every mirror.
    b.delete_stream(R, "/app", "web/1").await.unwrap();
    eventually("A and C drop the stream", || {
        events(&a, "/app", "web/1").is_empty() && events(&c, "/app", "web/1").is_empty()
    })
    .await;
    a.delete_group(R, "/app").await.unwrap();
    eventually("B and C drop the group", || {
        b.group(R, "/app").unwrap().is_none() && c.group(R, "/app").unwrap().is_none()
    })
    .await;
    eventually("C counts nothing left", || c.usage().stored_bytes == 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_and_the_budget_delete_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let etcd = LocalCluster::start(&dir.path().join("etcd"), 3).await.unwrap();
    // Room for about 40 events of 100 bytes.
    let a = server(&etcd, &dir.path().join("a"), 40 * 126).await;
    let b = server(&etcd, &dir.path().join("b"), 40 * 126).await;
    for i in 0..10 {
        let ev: Vec<(i64, String)> = (0..10).map(|j| (i * 100 + j, "x".repeat(100))).collect();
        a.append(R, append("g", "s", ev, None)).await.unwrap();
    }
    assert_eq!(a.usage().stored_bytes, 100 * 126);
    // The leader trims to 95% of the budget, oldest first, in whole batches.
    a.trim_to_budget().await.unwrap();
    let left = events(&a, "g", "s");
    assert_eq!(left.len(), 30);
    assert_eq!(left[0].1.len(), 100);
    eventually("B trims too", || events(&b, "g", "s") == left).await;
    eventually("B counts what it holds", || b.usage().stored_bytes == 30 * 126).await;
    // Retention: batches whose newest event is older than the cutoff go.
    let gid = a.group(R, "g").unwrap().unwrap().id;
    let n = a.delete_before(gid, 900).await.unwrap();
    assert_eq!(n, 20);
    eventually("B applies retention", || events(&b, "g", "s").len() == 10).await;
    a.set_retention(R, "g", Some(7)).await.unwrap();
    eventually("B sees the policy", || b.group(R, "g").unwrap().unwrap().retention_days == Some(7))
        .await;
}
