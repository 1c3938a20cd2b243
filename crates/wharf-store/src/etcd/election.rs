//! Which server runs the reconcilers: the one holding the leader key.
//!
//! A server campaigns by granting itself a lease and creating
//! `<prefix>/s/leader` with it, if nobody holds it (one transaction:
//! create revision 0, then put). While it leads it renews the lease every
//! third of its time to live; the term ends when a renewal is refused, or
//! when renewals have failed for so long that the lease may have expired
//! (measured from when the last good renewal was sent). When the leader
//! dies, etcd deletes the key as its lease expires; every other server
//! watches the key through its cache and campaigns at once.
//!
//! The term's store handle ([`Term::store`]) carries the key's create
//! revision, which every write through it compares: a leader paused past
//! its lease (SIGSTOP, a long GC, a partition) that wakes and writes is
//! refused by etcd, whatever its own clock believes.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::watch;
use tokio::time::Instant;

use super::keys;
use super::wire::{self, Blob, Compare, RequestOp};
use super::writer::LEADER_KEY;
use super::EtcdStore;
use crate::leadership::{Lead, Leadership};
use crate::StoreError;

/// The election, for one server.
#[derive(Debug, Clone)]
pub struct Election {
    store: EtcdStore,
    ttl: Duration,
    /// Who this server is, written into the leader key (its API address).
    name: String,
}

/// A term of leadership.
#[derive(Debug)]
pub struct Term {
    /// Writes fenced by this term.
    pub store: EtcdStore,
    /// The leader key's create revision.
    pub created: i64,
    /// Turns true when the term has ended.
    pub ended: watch::Receiver<bool>,
    lease: i64,
    stop_keeper: watch::Sender<bool>,
}

impl Term {
    /// Ends the term at once: stops renewing and revokes the lease, so
    /// another server can lead without waiting for it to expire.
    pub async fn resign(self) {
        let _ = self.stop_keeper.send(true);
        let _ = self.store.client().lease_revoke(self.lease).await;
    }
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct LeaderValue {
    server: String,
    name: String,
}

impl Election {
    /// The election over `store`'s etcd, with leases of `ttl` (whole
    /// seconds, at least 2), for the server called `name`.
    pub fn new(store: &EtcdStore, ttl: Duration, name: &str) -> Self {
        Self { store: store.clone(), ttl: ttl.max(Duration::from_secs(2)), name: name.to_owned() }
    }

    /// Who leads now, as the cache knows it: the leader's name.
    pub fn leader(&self) -> Option<String> {
        let state = self.store.core.cache.read();
        let e = state.get(LEADER_KEY)?;
        serde_json::from_str::<LeaderValue>(&e.value).ok().map(|v| v.name)
    }

    /// Waits until this server leads.
    pub async fn campaign(&self) -> Result<Term, StoreError> {
        let client = self.store.client();
        let key = keys::to_etcd(&self.store.core.cache.root, LEADER_KEY);
        let value = serde_json::to_string(&LeaderValue {
            server: self.store.server_id().to_owned(),
            name: self.name.clone(),
        })
        .map_err(|e| StoreError::Database(e.to_string()))?;
        let mut leader = self.store.core.changes.leader.subscribe();
        let mut backoff = Duration::from_millis(100);
        loop {
            // Wait while someone leads (as far as the cache knows).
            let _ = leader.wait_for(|created| *created == 0).await;
            let ttl = i64::try_from(self.ttl.as_secs()).unwrap_or(i64::MAX);
            let sent = Instant::now();
            let lease = match client.lease_grant(ttl).await {
                Ok(l) if l.id != 0 => l,
                Ok(l) => {
                    tracing::warn!(error = %l.error, "etcd granted no lease");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                    continue;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot campaign for leadership");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                    continue;
                }
            };
            let txn = wire::TxnRequest {
                compare: vec![Compare::created_at(Blob(key.clone()), 0)],
                success: vec![RequestOp::Put(wire::PutRequest {
                    key: Blob(key.clone()),
                    value: Blob(value.clone().into_bytes()),
                    lease: lease.id,
                })],
                failure: vec![],
            };
            match client.txn(&txn).await {
                Ok(r) if r.succeeded => {
                    let created = r.header.revision;
                    let granted = Duration::from_secs(u64::try_from(lease.ttl).unwrap_or(0));
                    let (ended_tx, ended) = watch::channel(false);
                    let (stop_keeper, stopped) = watch::channel(false);
                    tokio::spawn(keep(
                        self.store.clone(),
                        lease.id,
                        granted.max(Duration::from_secs(1)),
                        sent,
                        ended_tx,
                        stopped,
                    ));
                    tracing::info!(term = created, name = %self.name, "this server leads");
                    return Ok(Term {
                        store: self.store.fenced(created),
                        created,
                        ended,
                        lease: lease.id,
                        stop_keeper,
                    });
                }
                Ok(_) => {
                    // Someone else got there first: wait for the cache to show it.
                    let _ = client.lease_revoke(lease.id).await;
                    let _ = tokio::time::timeout(
                        Duration::from_secs(1),
                        leader.wait_for(|created| *created != 0),
                    )
                    .await;
                }
                Err(e) => {
                    // The outcome may be unknown: the lease expires on its own
                    // if the key was written and nobody keeps it alive, and the
                    // cache then shows the key gone.
                    tracing::warn!(error = %e, "campaign failed");
                    let _ = client.lease_revoke(lease.id).await;
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                }
            }
        }
    }
}

/// Renews the lease until the term ends; then says so.
async fn keep(
    store: EtcdStore,
    lease: i64,
    ttl: Duration,
    mut last_sent: Instant,
    ended: watch::Sender<bool>,
    mut stop: watch::Receiver<bool>,
) {
    let every = ttl / 3;
    loop {
        // The lease is certainly alive until `last_sent + ttl`; stop
        // believing in it a little before.
        let expires = last_sent + ttl - (every / 2).min(Duration::from_millis(500));
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = tokio::time::sleep_until(expires) => {
                tracing::warn!("the leader lease may have expired: stepping down");
                break;
            }
            () = super::cache::stopped(&mut stop) => break,
        }
        let sent = Instant::now();
        match store.client().lease_keep_alive(lease).await {
            Ok(r) if r.ttl > 0 => last_sent = sent,
            Ok(_) => {
                tracing::warn!("the leader lease is gone: stepping down");
                break;
            }
            Err(e) => {
                tracing::warn!(error = %e, "the leader lease could not be renewed");
                if Instant::now() >= expires {
                    break;
                }
            }
        }
        // The key may be gone even if the lease is not (deleted by hand).
        if *store.core.changes.leader.borrow() == 0 && Instant::now() > last_sent + every {
            let state = store.core.cache.read();
            if state.get(LEADER_KEY).is_none() {
                tracing::warn!("the leader key is gone: stepping down");
                break;
            }
        }
    }
    let _ = ended.send(true);
}

#[async_trait]
impl Leadership for Election {
    async fn acquire(&self) -> Result<Lead, StoreError> {
        let term = self.campaign().await?;
        let store: Arc<dyn crate::Store> = Arc::new(term.store.clone());
        let ended = term.ended.clone();
        // The leader also keeps etcd's history short.
        tokio::spawn(super::compaction::run(self.store.clone(), ended.clone()));
        Ok(Lead {
            store,
            ended,
            term: term.created,
            resign: Some(Box::new(move || Box::pin(term.resign()))),
        })
    }
}
