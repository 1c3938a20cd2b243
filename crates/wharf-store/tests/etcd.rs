//! The etcd store: every guarantee of the store contract
//! (`support/contract.rs`) on a cluster of three members started here, and
//! what only several servers sharing one cluster can show: cross-server
//! reads, exactly-once writes while members die, fencing.
//!
//! The members come from the `etcd` binary of Debian's `etcd-server`
//! (`.ci/run` installs it); the test fails, not skips, without it.

mod support;

use std::sync::Arc;
use std::time::Duration;

use support::contract::{self, register};
use wharf_store::etcd::local::LocalCluster;
use wharf_store::{EtcdConfig, EtcdStore, Kind, Store, StoreError, Write};

async fn cluster(dir: &tempfile::TempDir) -> LocalCluster {
    LocalCluster::start(dir.path(), 3).await.expect("start etcd (is etcd-server installed?)")
}

async fn open(cluster: &LocalCluster, prefix: &str) -> EtcdStore {
    let config = EtcdConfig::parse(&cluster.store_url(prefix)).unwrap();
    EtcdStore::open(config).await.expect("open the etcd store")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_contract_holds() {
    let dir = tempfile::tempdir().unwrap();
    let etcd = cluster(&dir).await;
    macro_rules! on_etcd {
        ($name:ident) => {
            let store: Arc<dyn Store> = Arc::new(open(&etcd, stringify!($name)).await);
            contract::$name(store).await;
        };
    }
    each_contract!(on_etcd);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_sharing_a_cluster_see_each_others_writes_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let etcd = cluster(&dir).await;
    let a = open(&etcd, "shared").await;
    let b = open(&etcd, "shared").await;
    let mut b_services = b.service_changes();
    // Linearizable: a write acknowledged by A is read by B right after.
    for i in 0..20 {
        a.update(Kind::Service, "r", "c/web", Box::new(move |_| Ok(Write::Put(i.to_string()))))
            .await
            .unwrap();
        assert_eq!(b.get(Kind::Service, "r", "c/web").await.unwrap(), Some(i.to_string()));
    }
    // B's scheduler hears of A's writes through its own watch.
    let (region, key) = b_services.recv().await.unwrap();
    assert_eq!((region.as_str(), key.as_str()), ("r", "c/web"));
    // Registrations through both servers at once: one sequence.
    let (a, b): (Arc<dyn Store>, Arc<dyn Store>) = (Arc::new(a), Arc::new(b));
    let handles: Vec<_> = (0..100)
        .map(|i| {
            let s = if i % 2 == 0 { a.clone() } else { b.clone() };
            tokio::spawn(async move { register(&*s, "web").await.unwrap() })
        })
        .collect();
    let mut revs = Vec::new();
    for h in handles {
        revs.push(h.await.unwrap());
    }
    revs.sort_unstable();
    assert_eq!(revs, (1..=100).collect::<Vec<_>>());
    // Concurrent read-modify-writes of one document through both lose nothing.
    let handles: Vec<_> = (0..40)
        .map(|i| {
            let s = if i % 2 == 0 { a.clone() } else { b.clone() };
            tokio::spawn(async move {
                s.update(
                    Kind::Cluster,
                    "r",
                    "counter",
                    Box::new(|cur| {
                        let n: u64 = cur.map_or(0, |c| c.parse().unwrap());
                        Ok(Write::Put((n + 1).to_string()))
                    }),
                )
                .await
                .unwrap()
            })
        })
        .collect();
    for h in handles {
        h.await.unwrap();
    }
    assert_eq!(a.get(Kind::Cluster, "r", "counter").await.unwrap().as_deref(), Some("40"));
    assert_eq!(b.get(Kind::Cluster, "r", "counter").await.unwrap().as_deref(), Some("40"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_apply_exactly_once_while_members_die() {
    let dir = tempfile::tempdir().unwrap();
    let mut etcd = cluster(&dir).await;
    let store: Arc<dyn Store> = Arc::new(open(&etcd, "faults").await);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers: Vec<_> = (0..8)
        .map(|_| {
            let (s, stop) = (store.clone(), stop.clone());
            tokio::spawn(async move {
                let mut acked = Vec::new();
                let mut failed = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    match register(&*s, "web").await {
                        Ok(rev) => acked.push(rev),
                        Err(_) => failed += 1,
                    }
                }
                (acked, failed)
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Kill the etcd leader, then another member comes and goes.
    let leader = etcd.leader().await.expect("a leader");
    etcd.kill(leader);
    tokio::time::sleep(Duration::from_secs(3)).await;
    etcd.restart(leader).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut acked = Vec::new();
    let mut failed = 0;
    for w in writers {
        let (a, f) = w.await.unwrap();
        acked.extend(a);
        failed += f;
    }
    let mut sorted = acked.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), acked.len(), "a revision number was handed out twice");
    // Every acknowledged revision is there, and nothing else was written
    // except by calls that failed (whose outcome a caller cannot know).
    let all = store
        .list_task_definitions(
            "us-east-1",
            wharf_store::TaskDefinitionQuery { limit: 100_000, ..Default::default() },
        )
        .await
        .unwrap();
    let stored: Vec<i32> = all.iter().map(|(_, r)| *r).collect();
    for rev in &acked {
        assert!(stored.contains(rev), "acknowledged revision {rev} is missing");
    }
    assert_eq!(stored, (1..=stored.len() as i32).collect::<Vec<_>>(), "revisions have a gap");
    assert!(
        stored.len() <= acked.len() + failed,
        "{} revisions stored for {} acknowledged and {failed} failed calls",
        stored.len(),
        acked.len()
    );
    eprintln!("{} acknowledged, {failed} failed, {} stored", acked.len(), stored.len());
    assert!(acked.len() > 50, "only {} registrations went through", acked.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deposed_leaders_writes_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let etcd = cluster(&dir).await;
    let a = open(&etcd, "lead").await;
    let b = open(&etcd, "lead").await;
    let ea = wharf_store::etcd::Election::new(&a, Duration::from_secs(2), "a");
    let eb = wharf_store::etcd::Election::new(&b, Duration::from_secs(2), "b");
    let term_a = ea.campaign().await.unwrap();
    // B waits while A leads.
    let b_campaign = tokio::spawn(async move { eb.campaign().await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!b_campaign.is_finished());
    let fenced_a = term_a.store.clone();
    fenced_a
        .update(Kind::Service, "r", "k", Box::new(|_| Ok(Write::Put("a".into()))))
        .await
        .unwrap();
    // A's term ends (as if its lease expired); B takes over.
    term_a.resign().await;
    let term_b = tokio::time::timeout(Duration::from_secs(5), b_campaign)
        .await
        .expect("B leads soon after A's lease ends")
        .unwrap()
        .unwrap();
    assert!(term_b.created > 0);
    // A's late write is refused by etcd; B's goes through.
    let late =
        fenced_a.update(Kind::Service, "r", "k", Box::new(|_| Ok(Write::Put("late".into())))).await;
    assert!(matches!(late, Err(StoreError::Fenced)), "{late:?}");
    term_b
        .store
        .update(Kind::Service, "r", "k", Box::new(|_| Ok(Write::Put("b".into()))))
        .await
        .unwrap();
    assert_eq!(a.get(Kind::Service, "r", "k").await.unwrap().as_deref(), Some("b"));
    // Unfenced writes through A's store are unaffected.
    a.update(Kind::Service, "r", "other", Box::new(|_| Ok(Write::Put("x".into())))).await.unwrap();
}
