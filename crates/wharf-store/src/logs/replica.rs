//! Logs with an etcd store: etcd holds every log group, stream and batch of
//! events (under `<prefix>/l/`), so an acknowledged event survives the loss
//! of any server; each server mirrors those keys into its own
//! `logs.sqlite3` ([`super::mirror`]) and reads from there.
//!
//! A write is one etcd transaction that compares the group and stream keys
//! it depends on (compare-and-swap on what it read, from an in-memory copy
//! of those keys kept by the mirror's watch); it is answered once this
//! server's mirror has applied it (read-your-writes). An append rewrites its
//! stream's key (the agent's cursor rides on it, in the same transaction as
//! the events), so a copy of the request sent again after an unknown outcome
//! can never apply twice; the key's `op` tells whether the first copy did.
//!
//! Deleting (retention, the size budget) is the leader's: it deletes batch
//! keys in etcd, and every mirror deletes their events.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use tokio::sync::{watch, Notify};

use super::mirror::{self, Change, GroupValue, StreamValue};
use super::{LogStore, LogStoreError};
use crate::etcd::client::{EtcdClient, EtcdError};
use crate::etcd::keys::{self, key, prefix};
use crate::etcd::wire::{self, Blob, Compare, RequestOp};
use crate::StoreError;

/// How long a write may try before its caller hears that it failed.
const WRITE_DEADLINE: Duration = Duration::from_secs(10);

/// Keys per page when loading.
const PAGE: i64 = 64;

/// The cache key of `l/rev`.
const REV_KEY: &str = "rev";

/// A group or stream key as last seen.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    pub(crate) value: Vec<u8>,
    pub(crate) mod_rev: i64,
    pub(crate) create_rev: i64,
}

/// The etcd side of replicated logs.
#[derive(Debug)]
pub(crate) struct Replica {
    client: EtcdClient,
    /// `<prefix>/l`.
    root: String,
    /// What the local database mirrors (`etcd:<prefix>`).
    source: String,
    /// Group and stream keys (not batches), by cache key.
    meta: RwLock<BTreeMap<String, Seen>>,
    applied: watch::Sender<i64>,
    restart: Notify,
}

fn unavailable(e: impl std::fmt::Display) -> LogStoreError {
    LogStoreError::Store(StoreError::Unavailable(e.to_string()))
}

/// One planned write: what it compares, what it does, and how to tell,
/// after an unknown outcome, whether it applied.
struct Plan {
    compare: Vec<Compare>,
    ops: Vec<RequestOp>,
    /// A key that, if it applied, holds this op id (or is absent, for `None`).
    check: (Vec<u8>, Option<String>),
}

impl Replica {
    /// A replica of the log keys under `<prefix>/l` of `client`'s cluster.
    pub(crate) fn new(client: EtcdClient, prefix: &str) -> Self {
        Self {
            client,
            root: format!("{prefix}/l"),
            source: format!("etcd:{prefix}"),
            meta: RwLock::default(),
            applied: watch::channel(0).0,
            restart: Notify::new(),
        }
    }

    fn etcd(&self, k: &str) -> Vec<u8> {
        keys::to_etcd(&self.root, k)
    }

    fn seen(&self, k: &str) -> Option<Seen> {
        self.meta.read().unwrap_or_else(|p| p.into_inner()).get(k).cloned()
    }

    fn group(&self, region: &str, name: &str) -> Result<Option<(GroupValue, Seen)>, LogStoreError> {
        let Some(s) = self.seen(&key(&["g", region, name])) else { return Ok(None) };
        let v = serde_json::from_slice(&s.value)
            .map_err(|e| LogStoreError::Store(StoreError::Database(e.to_string())))?;
        Ok(Some((v, s)))
    }

    fn stream(
        &self,
        region: &str,
        group: &str,
        name: &str,
    ) -> Result<Option<(StreamValue, Seen)>, LogStoreError> {
        let Some(s) = self.seen(&key(&["s", region, group, name])) else { return Ok(None) };
        let v = serde_json::from_slice(&s.value)
            .map_err(|e| LogStoreError::Store(StoreError::Database(e.to_string())))?;
        Ok(Some((v, s)))
    }

    /// Waits until the mirror has applied `rev`.
    async fn wait_for(&self, rev: i64) -> Result<(), LogStoreError> {
        let mut rx = self.applied.subscribe();
        let reached = |rx: &mut watch::Receiver<i64>| *rx.borrow_and_update() >= rev;
        let started = Instant::now();
        let mut nudged = false;
        while !reached(&mut rx) {
            match tokio::time::timeout(Duration::from_secs(1), rx.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return Err(LogStoreError::Store(StoreError::Closed)),
                Err(_) if started.elapsed() > Duration::from_secs(6) => {
                    return Err(unavailable(format!("the log mirror did not reach revision {rev}")))
                }
                Err(_) => {
                    if !nudged {
                        self.restart.notify_one();
                        nudged = true;
                    }
                }
            }
        }
        Ok(())
    }

    /// Plans and commits a write until it applies, refuses, or the deadline
    /// passes; the revision it applied at.
    async fn commit(
        &self,
        plan: impl Fn(&Self) -> Result<Option<Plan>, LogStoreError>,
    ) -> Result<i64, LogStoreError> {
        let deadline = Instant::now() + WRITE_DEADLINE;
        let mut backoff = Duration::from_millis(20);
        loop {
            let Some(p) = plan(self)? else { return Ok(0) };
            let mut ops = p.ops;
            ops.push(self.touch());
            let req = wire::TxnRequest { compare: p.compare, success: ops, failure: vec![] };
            let outcome = loop {
                match self.client.txn(&req).await {
                    Ok(r) => break Ok(r),
                    Err(EtcdError::Indeterminate(why)) => {
                        if let Some(rev) = self.applied_at(&p.check).await {
                            self.wait_for(rev).await?;
                            return Ok(rev);
                        }
                        if Instant::now() >= deadline {
                            break Err(unavailable(why));
                        }
                        // Not applied (yet): the same request again; only one
                        // copy can ever apply.
                    }
                    Err(e) => break Err(unavailable(e)),
                }
            };
            match outcome {
                Ok(r) if r.succeeded => {
                    self.wait_for(r.header.revision).await?;
                    return Ok(r.header.revision);
                }
                Ok(r) => {
                    // Something it read changed: plan again once the mirror
                    // has seen the change.
                    self.wait_for(r.header.revision).await?;
                }
                Err(e) if Instant::now() + backoff >= deadline => return Err(e),
                Err(_) => {
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_millis(500));
                }
            }
            if Instant::now() >= deadline {
                return Err(unavailable("the log write kept conflicting and was given up"));
            }
        }
    }

    /// Whether a write whose outcome was unknown applied: the revision at
    /// which its check key shows it, if so.
    async fn applied_at(&self, (k, op): &(Vec<u8>, Option<String>)) -> Option<i64> {
        for _ in 0..50 {
            match self
                .client
                .range(&wire::RangeRequest { key: Blob(k.clone()), ..Default::default() })
                .await
            {
                Ok(r) => {
                    let kv = r.kvs.first();
                    return match (op, kv) {
                        (None, None) => Some(r.header.revision),
                        (Some(op), Some(kv)) => {
                            let text = String::from_utf8_lossy(&kv.value.0);
                            text.contains(&format!("\"op\":\"{op}\"")).then_some(kv.mod_revision)
                        }
                        _ => None,
                    };
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        None
    }

    /// The write of `l/rev`, which every log transaction makes: its
    /// revision is the last log write's, what a mirror catching up waits for.
    fn touch(&self) -> RequestOp {
        self.put(REV_KEY, b"logs".to_vec())
    }

    /// The revision of the last log write, read with a quorum.
    async fn last_write(&self) -> Result<i64, EtcdError> {
        let k = Blob(self.etcd(REV_KEY));
        let r = self.client.range(&wire::RangeRequest { key: k, ..Default::default() }).await?;
        Ok(r.kvs.first().map_or(0, |kv| kv.mod_revision))
    }

    fn put(&self, k: &str, value: Vec<u8>) -> RequestOp {
        RequestOp::Put(wire::PutRequest { key: Blob(self.etcd(k)), value: Blob(value), lease: 0 })
    }

    fn delete_range(&self, p: &str) -> RequestOp {
        let (start, end) = keys::etcd_range(&self.root, p);
        RequestOp::Delete(wire::DeleteRangeRequest { key: Blob(start), range_end: Some(Blob(end)) })
    }

    fn delete(&self, k: &str) -> RequestOp {
        RequestOp::Delete(wire::DeleteRangeRequest { key: Blob(self.etcd(k)), range_end: None })
    }

    fn json<T: serde::Serialize>(v: &T) -> Vec<u8> {
        serde_json::to_vec(v).unwrap_or_default()
    }

    /// Creates a group.
    pub(crate) async fn create_group(
        &self,
        region: &str,
        g: &super::NewGroup,
    ) -> Result<(), LogStoreError> {
        let op = wharf_model::ids::uuid_v4();
        let k = key(&["g", region, &g.name]);
        self.commit(|r| {
            if r.seen(&k).is_some() {
                return Err(LogStoreError::GroupExists);
            }
            let v = GroupValue {
                created: g.created,
                retention_days: None,
                class: g.class.clone(),
                kms_key_id: g.kms_key_id.clone(),
                tags: g.tags.clone(),
                op: op.clone(),
            };
            Ok(Some(Plan {
                compare: vec![Compare::created_at(Blob(r.etcd(&k)), 0)],
                ops: vec![r.put(&k, Self::json(&v))],
                check: (r.etcd(&k), Some(op.clone())),
            }))
        })
        .await
        .map(|_| ())
    }

    /// Changes a group's record (retention, tags).
    pub(crate) async fn change_group(
        &self,
        region: &str,
        name: &str,
        change: impl Fn(&mut GroupValue) -> Result<(), LogStoreError>,
    ) -> Result<(), LogStoreError> {
        let op = wharf_model::ids::uuid_v4();
        let k = key(&["g", region, name]);
        self.commit(|r| {
            let (mut v, seen) = r.group(region, name)?.ok_or(LogStoreError::NoSuchGroup)?;
            change(&mut v)?;
            v.op = op.clone();
            Ok(Some(Plan {
                compare: vec![Compare::mod_is(Blob(r.etcd(&k)), seen.mod_rev)],
                ops: vec![r.put(&k, Self::json(&v))],
                check: (r.etcd(&k), Some(op.clone())),
            }))
        })
        .await
        .map(|_| ())
    }

    /// Deletes a group, its streams and events.
    pub(crate) async fn delete_group(&self, region: &str, name: &str) -> Result<(), LogStoreError> {
        let k = key(&["g", region, name]);
        self.commit(|r| {
            let (_, seen) = r.group(region, name)?.ok_or(LogStoreError::NoSuchGroup)?;
            Ok(Some(Plan {
                compare: vec![Compare::mod_is(Blob(r.etcd(&k)), seen.mod_rev)],
                ops: vec![
                    r.delete(&k),
                    r.delete_range(&prefix(&["s", region, name])),
                    r.delete_range(&prefix(&["e", region, name])),
                ],
                check: (r.etcd(&k), None),
            }))
        })
        .await
        .map(|_| ())
    }

    /// Creates a stream (and its group, if `group` is given and missing);
    /// with `exists_ok`, a stream that exists is no error.
    pub(crate) async fn create_stream(
        &self,
        region: &str,
        group: &super::NewGroup,
        create_group: bool,
        stream: &str,
        created: i64,
        exists_ok: bool,
    ) -> Result<(), LogStoreError> {
        let op = wharf_model::ids::uuid_v4();
        let gk = key(&["g", region, &group.name]);
        let sk = key(&["s", region, &group.name, stream]);
        self.commit(|r| {
            let mut compare = Vec::new();
            let mut ops = Vec::new();
            match r.group(region, &group.name)? {
                Some((_, seen)) => {
                    compare.push(Compare::created_at(Blob(r.etcd(&gk)), seen.create_rev));
                }
                None if create_group => {
                    let v = GroupValue {
                        created: group.created,
                        retention_days: None,
                        class: group.class.clone(),
                        kms_key_id: group.kms_key_id.clone(),
                        tags: group.tags.clone(),
                        op: op.clone(),
                    };
                    compare.push(Compare::created_at(Blob(r.etcd(&gk)), 0));
                    ops.push(r.put(&gk, Self::json(&v)));
                }
                None => return Err(LogStoreError::NoSuchGroup),
            }
            if r.seen(&sk).is_some() {
                return if exists_ok { Ok(None) } else { Err(LogStoreError::StreamExists) };
            }
            let v = StreamValue { created, cursor: None, op: op.clone() };
            compare.push(Compare::created_at(Blob(r.etcd(&sk)), 0));
            ops.push(r.put(&sk, Self::json(&v)));
            Ok(Some(Plan { compare, ops, check: (r.etcd(&sk), Some(op.clone())) }))
        })
        .await
        .map(|_| ())
    }

    /// Deletes a stream and its events.
    pub(crate) async fn delete_stream(
        &self,
        region: &str,
        group: &str,
        stream: &str,
    ) -> Result<(), LogStoreError> {
        let sk = key(&["s", region, group, stream]);
        self.commit(|r| {
            if r.group(region, group)?.is_none() {
                return Err(LogStoreError::NoSuchGroup);
            }
            let (_, seen) = r.stream(region, group, stream)?.ok_or(LogStoreError::NoSuchStream)?;
            Ok(Some(Plan {
                compare: vec![Compare::mod_is(Blob(r.etcd(&sk)), seen.mod_rev)],
                ops: vec![r.delete(&sk), r.delete_range(&prefix(&["e", region, group, stream]))],
                check: (r.etcd(&sk), None),
            }))
        })
        .await
        .map(|_| ())
    }

    /// Appends a batch of events (and the cursor) to a stream.
    pub(crate) async fn append(
        &self,
        region: &str,
        a: &super::Append,
    ) -> Result<(), LogStoreError> {
        let op = wharf_model::ids::uuid_v4();
        let g = &a.group.name;
        let gk = key(&["g", region, g]);
        let sk = key(&["s", region, g, &a.stream]);
        let batch = (!a.events.is_empty()).then(|| mirror::encode_batch(a.ingested, &a.events));
        self.commit(|r| {
            let mut compare = Vec::new();
            let mut ops = Vec::new();
            match r.group(region, g)? {
                Some((_, seen)) => {
                    compare.push(Compare::created_at(Blob(r.etcd(&gk)), seen.create_rev));
                }
                None if a.create_group => {
                    let v = GroupValue {
                        created: a.group.created,
                        retention_days: None,
                        class: a.group.class.clone(),
                        kms_key_id: a.group.kms_key_id.clone(),
                        tags: a.group.tags.clone(),
                        op: op.clone(),
                    };
                    compare.push(Compare::created_at(Blob(r.etcd(&gk)), 0));
                    ops.push(r.put(&gk, Self::json(&v)));
                }
                None => return Err(LogStoreError::NoSuchGroup),
            }
            let (mut stream, creating) = match r.stream(region, g, &a.stream)? {
                Some((v, seen)) => {
                    compare.push(Compare::mod_is(Blob(r.etcd(&sk)), seen.mod_rev));
                    (v, false)
                }
                None if a.create_stream => {
                    compare.push(Compare::created_at(Blob(r.etcd(&sk)), 0));
                    (StreamValue { created: a.ingested, cursor: None, op: String::new() }, true)
                }
                None => return Err(LogStoreError::NoSuchStream),
            };
            if batch.is_none() && a.cursor.is_none() && ops.is_empty() && !creating {
                return Ok(None);
            }
            if a.cursor.is_some() {
                stream.cursor = a.cursor.clone();
            }
            stream.op = op.clone();
            ops.push(r.put(&sk, Self::json(&stream)));
            if let Some(b) = &batch {
                let bk = key(&["e", region, g, &a.stream, &op]);
                ops.push(r.put(&bk, b.clone()));
            }
            Ok(Some(Plan { compare, ops, check: (r.etcd(&sk), Some(op.clone())) }))
        })
        .await
        .map(|_| ())
    }

    /// Deletes batches of events by their (cache) keys, a hundred per
    /// transaction; the revision of the last.
    pub(crate) async fn delete_batches(&self, batch_keys: &[String]) -> Result<i64, LogStoreError> {
        let mut last = 0;
        for chunk in batch_keys.chunks(100) {
            let mut success: Vec<RequestOp> = chunk.iter().map(|k| self.delete(k)).collect();
            success.push(self.touch());
            let req = wire::TxnRequest { compare: vec![], success, failure: vec![] };
            // Deleting twice does no harm: an unknown outcome is retried.
            let mut tries = 0;
            let r = loop {
                match self.client.txn(&req).await {
                    Ok(r) => break r,
                    Err(e) if tries >= 5 => return Err(unavailable(e)),
                    Err(_) => {
                        tries += 1;
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                }
            };
            last = r.header.revision;
        }
        if last > 0 {
            self.wait_for(last).await?;
        }
        Ok(last)
    }

    /// Deletes every log key.
    pub(crate) async fn reset(&self) -> Result<(), LogStoreError> {
        let (start, end) = keys::etcd_range(&self.root, "");
        let req = wire::TxnRequest {
            compare: vec![],
            success: vec![
                RequestOp::Delete(wire::DeleteRangeRequest {
                    key: Blob(start),
                    range_end: Some(Blob(end)),
                }),
                self.touch(),
            ],
            failure: vec![],
        };
        let r = self.client.txn(&req).await.map_err(unavailable)?;
        self.wait_for(r.header.revision).await
    }

    /// Records a group or stream key's change in the in-memory copy.
    fn remember(&self, changes: &[(String, Option<Seen>, i64)]) {
        let mut meta = self.meta.write().unwrap_or_else(|p| p.into_inner());
        for (k, seen, rev) in changes {
            match seen {
                Some(s) => {
                    if meta.get(k).is_none_or(|old| old.mod_rev < s.mod_rev) {
                        meta.insert(k.clone(), s.clone());
                    }
                }
                None => {
                    if meta.get(k).is_some_and(|old| old.mod_rev < *rev) {
                        meta.remove(k);
                    }
                }
            }
        }
    }

    /// Reads every key under a cache prefix at `rev` (0: now), page by page;
    /// the revision read at.
    async fn load_prefix(
        &self,
        p: &str,
        mut rev: i64,
        mut page: impl FnMut(Vec<wire::KeyValue>),
    ) -> Result<i64, EtcdError> {
        let (start, end) = keys::etcd_range(&self.root, p);
        let mut from = start;
        loop {
            let r = self
                .client
                .range(&wire::RangeRequest {
                    key: Blob(from.clone()),
                    range_end: Some(Blob(end.clone())),
                    limit: PAGE,
                    revision: rev,
                    ..Default::default()
                })
                .await?;
            if rev == 0 {
                rev = r.header.revision;
            }
            let more = r.more;
            let last = r.kvs.last().map(|kv| kv.key.0.clone());
            page(r.kvs);
            match (more, last) {
                (true, Some(mut l)) => {
                    l.push(0);
                    from = l;
                }
                _ => return Ok(rev),
            }
        }
    }
}

fn change_of(root: &str, kv: &wire::KeyValue, delete: bool) -> Option<Change> {
    let k = keys::from_etcd(root, &kv.key.0)?;
    Some(Change {
        parts: keys::parts(&k),
        key: k,
        put: (!delete).then(|| (kv.value.0.clone(), kv.create_revision)),
    })
}

fn seen_of(c: &Change, kv: &wire::KeyValue) -> Option<(String, Option<Seen>, i64)> {
    matches!(c.parts.first().map(String::as_str), Some("g" | "s")).then(|| {
        let seen = c.put.as_ref().map(|(v, created)| Seen {
            value: v.clone(),
            mod_rev: kv.mod_revision,
            create_rev: *created,
        });
        (c.key.clone(), seen, kv.mod_revision)
    })
}

impl LogStore {
    /// Applies changes to the mirror; publishes the revision.
    async fn mirror_apply(
        &self,
        replica: &Replica,
        changes: Vec<Change>,
        remembered: Vec<(String, Option<Seen>, i64)>,
        rev: i64,
    ) -> Result<(), LogStoreError> {
        let source = replica.source.clone();
        let applied =
            self.0.writer.write_as(move |c| mirror::apply(c, &changes, rev, &source)).await?;
        replica.remember(&remembered);
        self.0.total.fetch_add(applied.bytes, std::sync::atomic::Ordering::SeqCst);
        replica.applied.send_if_modified(|r| {
            let moved = rev > *r;
            *r = (*r).max(rev);
            moved
        });
        for a in applied.appended {
            let _ = self.0.appended.send(a);
        }
        if applied.purge {
            self.spawn_purge();
        }
        Ok(())
    }

    /// Loads every log key afresh into an emptied mirror.
    async fn mirror_reload(&self, replica: &Replica) -> Result<(), LogStoreError> {
        let source = replica.source.clone();
        self.0.writer.write_as(move |c| Ok::<_, LogStoreError>(mirror::wipe(c, &source)?)).await?;
        self.0.total.store(0, std::sync::atomic::Ordering::SeqCst);
        replica.meta.write().unwrap_or_else(|p| p.into_inner()).clear();
        let mut rev = 0;
        // Groups, then streams, then events: each needs the one before.
        for table in ["g", "s", "e"] {
            let mut pages: Vec<Vec<wire::KeyValue>> = Vec::new();
            rev = replica
                .load_prefix(&prefix(&[table]), rev, |kvs| pages.push(kvs))
                .await
                .map_err(unavailable)?;
            for kvs in pages {
                let changes: Vec<Change> =
                    kvs.iter().filter_map(|kv| change_of(&replica.root, kv, false)).collect();
                let remembered: Vec<_> =
                    changes.iter().zip(&kvs).filter_map(|(c, kv)| seen_of(c, kv)).collect();
                // Revision 0 until the whole load is in.
                self.mirror_apply(replica, changes, remembered, 0).await?;
            }
        }
        let source = replica.source.clone();
        self.0.writer.write_as(move |c| mirror::apply(c, &[], rev, &source).map(|_| ())).await?;
        replica.applied.send_replace(rev);
        tracing::info!(revision = rev, "log mirror loaded from etcd");
        Ok(())
    }

    /// Starts mirroring: loads what is needed, and returns once the mirror
    /// has caught up with etcd; then follows it in the background.
    pub(crate) async fn start_mirror(&self, replica: Arc<Replica>) -> Result<(), StoreError> {
        let source = replica.source.clone();
        let mirrored = self
            .read(|c| Ok(mirror::revision(c, &source)?))
            .map_err(|e| StoreError::Database(e.to_string()))?;
        let started = Instant::now();
        match mirrored {
            Some(rev) if rev > 0 => {
                // Only the group and stream keys are needed in memory.
                loop {
                    let mut loaded: Vec<(String, Option<Seen>, i64)> = Vec::new();
                    let mut at = 0;
                    let mut ok = true;
                    for table in ["g", "s"] {
                        let r = replica
                            .load_prefix(&prefix(&[table]), at, |kvs| {
                                for kv in &kvs {
                                    if let Some(c) = change_of(&replica.root, kv, false) {
                                        loaded.extend(seen_of(&c, kv));
                                    }
                                }
                            })
                            .await;
                        match r {
                            Ok(r) => at = r,
                            Err(e) => {
                                ok = false;
                                if started.elapsed() > Duration::from_secs(30) {
                                    return Err(StoreError::Unavailable(e.to_string()));
                                }
                            }
                        }
                    }
                    if ok {
                        replica.remember(&loaded);
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                replica.applied.send_replace(rev);
            }
            _ => loop {
                match self.mirror_reload(&replica).await {
                    Ok(()) => break,
                    Err(e) if started.elapsed() > Duration::from_secs(30) => {
                        return Err(StoreError::Unavailable(e.to_string()))
                    }
                    Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
                }
            },
        }
        let (caught_up, ready) = tokio::sync::oneshot::channel();
        tokio::spawn(self.clone().follow(replica, Some(caught_up)));
        let _ = tokio::time::timeout(Duration::from_secs(30), ready).await;
        Ok(())
    }

    /// Follows the log keys' watch forever.
    async fn follow(
        self,
        replica: Arc<Replica>,
        mut caught_up: Option<tokio::sync::oneshot::Sender<()>>,
    ) {
        let (start, end) = keys::etcd_range(&replica.root, "");
        let mut reload = false;
        loop {
            if reload {
                if let Err(e) = self.mirror_reload(&replica).await {
                    tracing::warn!(error = %e, "the log mirror could not be reloaded");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                }
                reload = false;
            }
            let from = *replica.applied.borrow() + 1;
            let req = wire::WatchCreateRequest {
                key: Blob(start.clone()),
                range_end: Some(Blob(end.clone())),
                start_revision: from,
                progress_notify: true,
            };
            let mut watch = match replica.client.watch(&req).await {
                Ok(w) => w,
                Err(EtcdError::Compacted(_)) => {
                    tracing::warn!("the log mirror fell behind etcd's compaction; reloading");
                    reload = true;
                    continue;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot watch the log keys; retrying");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            };
            // Caught up once the last log write is applied.
            if let Some(done) = caught_up.take() {
                match replica.last_write().await {
                    Ok(target) => {
                        let replica = replica.clone();
                        tokio::spawn(async move {
                            let _ = replica.wait_for(target).await;
                            let _ = done.send(());
                        });
                    }
                    Err(_) => caught_up = Some(done),
                }
            }
            loop {
                tokio::select! {
                    answer = watch.responses.recv() => match answer {
                        Some(Ok(r)) => {
                            let rev = r.events.iter().map(|e| e.kv.mod_revision).max()
                                .unwrap_or(r.header.revision);
                            let mut changes = Vec::with_capacity(r.events.len());
                            let mut remembered = Vec::new();
                            for e in &r.events {
                                let delete = e.kind == wire::EventType::Delete;
                                if let Some(c) = change_of(&replica.root, &e.kv, delete) {
                                    remembered.extend(seen_of(&c, &e.kv));
                                    changes.push(c);
                                }
                            }
                            if let Err(e) = self.mirror_apply(&replica, changes, remembered, rev).await {
                                tracing::error!(error = %e, "log keys could not be mirrored; reloading");
                                reload = true;
                                break;
                            }
                        }
                        Some(Err(EtcdError::Compacted(_))) => {
                            reload = true;
                            break;
                        }
                        Some(Err(e)) => {
                            tracing::warn!(error = %e, "the log watch broke");
                            break;
                        }
                        None => break,
                    },
                    () = replica.restart.notified() => {
                        tracing::warn!("the log watch seems stuck; watching again");
                        break;
                    }
                }
            }
        }
    }
}
