//! Writes: each API write is a job that reads the cached state through a
//! [`Tx`] and says what to write; the writer commits jobs in batches, each
//! batch one etcd transaction that compares every key a job read from the
//! cache with the revision it read (compare-and-swap), so a batch commits
//! only if nothing it read changed.
//!
//! Batching is etcd's group commit: the jobs waiting when a batch starts run
//! one after the other on an overlay of the cache holding the writes of the
//! jobs before them (so two registrations of one family in one batch get
//! consecutive revisions), and the batch's transaction carries all their
//! writes. A job that refuses (its decision returned an error) writes
//! nothing and is answered with its error once the batch is settled. When
//! the comparisons fail, another server wrote something a job read: the
//! writer waits until the cache holds that write and runs every job again.
//!
//! Exactly once. A transaction whose outcome is unknown (the member died,
//! the leader changed) must not be applied twice, nor taken for failed when
//! it was applied. Every transaction of this server therefore also compares
//! and rewrites this server's marker key (`w/<server id>`), writing the
//! attempt's number into it. After an unknown outcome the writer reads the
//! marker with a quorum: if it holds the attempt's number the batch
//! committed; if it is unchanged the same request is sent again, and only
//! one of the two copies can ever apply, since each needs the marker as it
//! was. Each transaction also writes the root's `rev` key, which
//! linearizable reads use to learn the last write's revision.
//!
//! Fencing. A job of the leader's reconcilers carries the leader key's
//! create revision; its batch compares the leader key with it, so once the
//! lease behind that key has expired (and perhaps another server leads),
//! the write is refused by etcd itself.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use super::cache::{Barrier, Cache, State, REV_KEY};
use super::client::{EtcdClient, EtcdError};
use super::keys;
use super::wire::{self, Blob, Compare, RequestOp};
use crate::StoreError;

/// How long a batch may try to commit before its callers hear that it failed.
const COMMIT_DEADLINE: Duration = Duration::from_secs(10);

/// The most jobs run in one batch.
const MAX_JOBS: usize = 256;

/// The most bytes of keys and values one transaction carries (etcd refuses
/// requests over 1.5 MiB).
const MAX_BYTES: usize = 1024 * 1024;

/// The cache key of the leader key.
pub(crate) const LEADER_KEY: &str = "leader";

/// What a job wants done to a key.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Pending {
    Put(Arc<str>),
    Delete,
    /// Removed by a range deletion of one of the transaction's prefixes.
    DeletedByRange,
}

impl Pending {
    fn value(&self) -> Option<Arc<str>> {
        match self {
            Self::Put(v) => Some(v.clone()),
            Self::Delete | Self::DeletedByRange => None,
        }
    }
}

type Writes = BTreeMap<String, Pending>;

/// A job's view of the state: the cache as of the batch's revision, the
/// writes of the jobs before it in the batch, and its own.
#[derive(Debug)]
pub(crate) struct Tx<'a> {
    state: &'a State,
    batch: &'a Writes,
    writes: Writes,
    guards: BTreeMap<String, i64>,
    ranges: BTreeSet<String>,
}

impl<'a> Tx<'a> {
    fn new(state: &'a State, batch: &'a Writes) -> Self {
        Self {
            state,
            batch,
            writes: Writes::new(),
            guards: BTreeMap::new(),
            ranges: BTreeSet::new(),
        }
    }

    /// Reads a key; the transaction commits only if the key is then as read.
    pub(crate) fn get(&mut self, key: &str) -> Option<Arc<str>> {
        if let Some(p) = self.writes.get(key).or_else(|| self.batch.get(key)) {
            return p.value();
        }
        let e = self.state.get(key);
        self.guards.entry(key.to_owned()).or_insert(e.map_or(0, |e| e.mod_rev));
        e.map(|e| e.value.clone())
    }

    /// Reads a key without making the commit depend on it.
    pub(crate) fn peek(&self, key: &str) -> Option<Arc<str>> {
        match self.writes.get(key).or_else(|| self.batch.get(key)) {
            Some(p) => p.value(),
            None => self.state.get(key).map(|e| e.value.clone()),
        }
    }

    /// Makes the commit depend on `key` being as it is now.
    pub(crate) fn guard(&mut self, key: &str) {
        let _ = self.get(key);
    }

    /// Writes a key.
    pub(crate) fn put(&mut self, key: String, value: String) {
        self.writes.insert(key, Pending::Put(Arc::from(value)));
    }

    /// Deletes a key.
    pub(crate) fn delete(&mut self, key: String) {
        self.writes.insert(key, Pending::Delete);
    }

    /// Every key under a cache prefix, in order, as this job sees them.
    pub(crate) fn scan(&self, prefix: &str) -> Vec<(String, Arc<str>)> {
        let mut out: BTreeMap<String, Option<Arc<str>>> =
            self.state.scan(prefix).map(|(k, e)| (k.clone(), Some(e.value.clone()))).collect();
        let end = super::cache::prefix_end(prefix);
        for layer in [self.batch, &self.writes] {
            for (k, p) in
                layer.range::<str, _>((Bound::Included(prefix), Bound::Excluded(end.as_str())))
            {
                out.insert(k.clone(), p.value());
            }
        }
        out.into_iter().filter_map(|(k, v)| v.map(|v| (k, v))).collect()
    }

    /// Deletes every key under a cache prefix (one etcd range deletion).
    pub(crate) fn delete_prefix(&mut self, prefix: &str) {
        for (k, _) in self.scan(prefix) {
            self.writes.insert(k, Pending::DeletedByRange);
        }
        self.ranges.insert(prefix.to_owned());
    }

    fn writes_nothing(&self) -> bool {
        self.writes.is_empty() && self.ranges.is_empty()
    }

    /// What the job decided, without its borrows of the batch.
    fn into_share(self) -> Share {
        Share { writes: self.writes, guards: self.guards, ranges: self.ranges }
    }
}

/// One job's writes and reads, for its batch.
#[derive(Debug)]
struct Share {
    writes: Writes,
    guards: BTreeMap<String, i64>,
    ranges: BTreeSet<String>,
}

/// What one batch will write and what it depends on.
#[derive(Debug, Default)]
struct Batch {
    writes: Writes,
    guards: BTreeMap<String, i64>,
    ranges: BTreeSet<String>,
    fences: BTreeSet<i64>,
}

impl Batch {
    fn absorb(&mut self, tx: Share, fence: Option<i64>) {
        for (k, m) in tx.guards {
            self.guards.entry(k).or_insert(m);
        }
        self.writes.extend(tx.writes);
        self.ranges.extend(tx.ranges);
        self.fences.extend(fence);
    }

    /// The transaction's operations on data keys. A prefix is deleted with
    /// one range deletion unless the batch also writes under it (etcd
    /// refuses a put inside a deleted range), then key by key.
    fn ops(&self, root: &str) -> Vec<RequestOp> {
        let mut ops = Vec::new();
        let mut whole: Vec<&str> = Vec::new();
        for prefix in &self.ranges {
            let end = super::cache::prefix_end(prefix);
            let under = self
                .writes
                .range::<str, _>((Bound::Included(prefix.as_str()), Bound::Excluded(end.as_str())));
            let mut keyed = Vec::new();
            let mut rewritten = false;
            for (k, p) in under {
                match p {
                    Pending::Put(_) => rewritten = true,
                    Pending::DeletedByRange => keyed.push(k),
                    Pending::Delete => {}
                }
            }
            if rewritten {
                for k in keyed {
                    ops.push(RequestOp::Delete(wire::DeleteRangeRequest {
                        key: Blob(keys::to_etcd(root, k)),
                        range_end: None,
                    }));
                }
            } else {
                let (start, end) = keys::etcd_range(root, prefix);
                ops.push(RequestOp::Delete(wire::DeleteRangeRequest {
                    key: Blob(start),
                    range_end: Some(Blob(end)),
                }));
                whole.push(prefix);
            }
        }
        for (k, p) in &self.writes {
            match p {
                Pending::Put(v) => ops.push(RequestOp::Put(wire::PutRequest {
                    key: Blob(keys::to_etcd(root, k)),
                    value: Blob(v.as_bytes().to_vec()),
                    lease: 0,
                })),
                Pending::Delete if !whole.iter().any(|p| k.starts_with(p)) => {
                    ops.push(RequestOp::Delete(wire::DeleteRangeRequest {
                        key: Blob(keys::to_etcd(root, k)),
                        range_end: None,
                    }));
                }
                Pending::Delete | Pending::DeletedByRange => {}
            }
        }
        ops
    }
}

impl Batch {
    /// What the batch wrote: puts, deletions of keys, deletions of prefixes.
    #[allow(clippy::type_complexity)]
    fn into_changes(self) -> (Vec<(String, Arc<str>)>, Vec<String>, Vec<String>) {
        let mut puts = Vec::new();
        let mut deletes = Vec::new();
        for (k, p) in self.writes {
            match p {
                Pending::Put(v) => puts.push((k, v)),
                Pending::Delete | Pending::DeletedByRange => deletes.push(k),
            }
        }
        (puts, deletes, self.ranges.into_iter().collect())
    }
}

/// How much a batch (or one job's share of it) puts in a transaction, at
/// most: comparisons, operations and bytes.
#[derive(Debug, Clone, Copy, Default)]
struct Size {
    compares: usize,
    ops: usize,
    bytes: usize,
}

impl Size {
    fn of(tx: &Tx<'_>, fence: Option<i64>) -> Self {
        let mut ops = tx.ranges.len();
        let mut bytes = 0;
        for (k, p) in &tx.writes {
            match p {
                Pending::Put(v) => {
                    ops += 1;
                    bytes += k.len() + v.len();
                }
                // A range rewritten in the same batch is deleted key by key.
                Pending::Delete | Pending::DeletedByRange => {
                    ops += 1;
                    bytes += k.len();
                }
            }
        }
        bytes += tx.guards.keys().map(String::len).sum::<usize>();
        Self { compares: tx.guards.len() + usize::from(fence.is_some()), ops, bytes }
    }

    fn plus(&self, other: &Self) -> Self {
        Self {
            compares: self.compares + other.compares,
            ops: self.ops + other.ops,
            bytes: self.bytes + other.bytes,
        }
    }

    /// Whether it fits with the marker's comparison and the marker's and
    /// `rev`'s writes.
    fn fits(&self, max_ops: usize) -> bool {
        self.compares < max_ops && self.ops + 2 <= max_ops && self.bytes <= MAX_BYTES
    }
}

/// A write waiting to be committed.
pub(crate) trait Job: Send {
    /// Runs the job's decision on `tx` for attempt `attempt`; false if it
    /// refused (its error is kept for the answer).
    fn run(&mut self, tx: &mut Tx<'_>, attempt: u64) -> bool;
    /// Notes whether its run for `attempt` wrote anything.
    fn note(&mut self, attempt: u64, wrote: bool);
    /// Whether its run for `attempt` wrote anything (else it only read, or
    /// refused).
    fn wrote(&self, attempt: u64) -> bool;
    /// The leader key create revision this job's write depends on.
    fn fence(&self) -> Option<i64>;
    /// Answers the caller: with what the job decided in the attempt that
    /// committed, or with a failure.
    fn finish(self: Box<Self>, outcome: Result<u64, StoreError>);
}

struct Typed<T, F> {
    f: F,
    fence: Option<i64>,
    results: Vec<(u64, Result<T, StoreError>, bool)>,
    reply: oneshot::Sender<Result<T, StoreError>>,
}

impl<T, F> Job for Typed<T, F>
where
    T: Send + 'static,
    F: Fn(&mut Tx<'_>) -> Result<T, StoreError> + Send + 'static,
{
    fn run(&mut self, tx: &mut Tx<'_>, attempt: u64) -> bool {
        let r = (self.f)(tx);
        let ok = r.is_ok();
        // Only the attempts that may still commit are worth keeping.
        if self.results.len() > 8 {
            drop(self.results.remove(0));
        }
        self.results.push((attempt, r, false));
        ok
    }

    fn note(&mut self, attempt: u64, wrote: bool) {
        if let Some(r) = self.results.iter_mut().rev().find(|(a, _, _)| *a == attempt) {
            r.2 = wrote;
        }
    }

    fn wrote(&self, attempt: u64) -> bool {
        self.results.iter().any(|(a, _, w)| *a == attempt && *w)
    }

    fn fence(&self) -> Option<i64> {
        self.fence
    }

    fn finish(mut self: Box<Self>, outcome: Result<u64, StoreError>) {
        let answer = match outcome {
            Ok(attempt) => match self.results.iter().position(|(a, _, _)| *a == attempt) {
                Some(i) => self.results.swap_remove(i).1,
                None => Err(StoreError::Database("a write lost track of its outcome".into())),
            },
            Err(e) => Err(e),
        };
        let _ = self.reply.send(answer);
    }
}

/// The handle jobs are sent through.
#[derive(Debug, Clone)]
pub(crate) struct Writer {
    jobs: mpsc::UnboundedSender<Box<dyn Job>>,
}

impl Writer {
    /// Runs `f` in a batch; its answer once the batch has committed (and the
    /// cache holds its writes) or failed.
    pub(crate) async fn write<T, F>(&self, fence: Option<i64>, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: Fn(&mut Tx<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job = Box::new(Typed { f, fence, results: Vec::new(), reply });
        self.jobs.send(job).map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }
}

/// The writer's own state.
pub(crate) struct Loop {
    pub(crate) cache: Arc<Cache>,
    pub(crate) client: EtcdClient,
    /// Linearizable mode: what a job that wrote nothing decided is checked
    /// again on a cache at least as new as the last write acknowledged
    /// anywhere ([`Loop::recheck`]).
    pub(crate) barrier: Option<Arc<Barrier>>,
    /// This server's id (its marker key's name).
    pub(crate) server_id: String,
    /// The most operations (and comparisons) in one transaction.
    pub(crate) max_ops: usize,
    marker_mod: i64,
    seq: u64,
}

/// How a transaction ended.
enum Sent {
    /// Applied, by this attempt or an earlier one of the batch.
    Committed { attempt: u64, rev: i64 },
    /// Not applied: something read changed (by `rev` at the latest); the
    /// leader key's create revision, when known.
    Conflict { rev: i64, leader_created: Option<i64> },
    /// Not applied, and not worth retrying at once.
    Failed(StoreError),
}

impl Loop {
    /// A writer over `cache`.
    pub(crate) fn new(
        cache: Arc<Cache>,
        client: EtcdClient,
        barrier: Option<Arc<Barrier>>,
        server_id: String,
        max_ops: usize,
    ) -> Self {
        Self { cache, client, barrier, server_id, max_ops, marker_mod: 0, seq: 0 }
    }

    /// Starts the loop; it ends when every [`Writer`] is dropped.
    pub(crate) fn start(self) -> Writer {
        let (jobs, rx) = mpsc::unbounded_channel();
        tokio::spawn(self.run(rx));
        Writer { jobs }
    }

    fn marker_key(&self) -> Vec<u8> {
        keys::to_etcd(&self.cache.root, &keys::key(&["w", &self.server_id]))
    }

    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Box<dyn Job>>) {
        let mut queue: std::collections::VecDeque<Box<dyn Job>> = Default::default();
        loop {
            if queue.is_empty() {
                match rx.recv().await {
                    Some(job) => queue.push_back(job),
                    None => break,
                }
            }
            while let Ok(job) = rx.try_recv() {
                queue.push_back(job);
            }
            self.batch(&mut queue).await;
        }
        // Nothing will write any more: remove the marker.
        let key = self.marker_key();
        let _ = self
            .client
            .txn(&wire::TxnRequest {
                compare: vec![],
                success: vec![RequestOp::Delete(wire::DeleteRangeRequest {
                    key: Blob(key),
                    range_end: None,
                })],
                failure: vec![],
            })
            .await;
    }

    /// Runs the queue's first jobs on a snapshot and commits them.
    async fn batch(&mut self, queue: &mut std::collections::VecDeque<Box<dyn Job>>) {
        self.seq += 1;
        let first = self.seq;
        // The members: the first jobs, as many as fit in one transaction,
        // each run once for the first attempt.
        let mut members: Vec<Box<dyn Job>> = Vec::new();
        let mut batch = Batch::default();
        {
            let state = self.cache.read();
            let mut size = Size::default();
            while let Some(mut job) = queue.pop_front() {
                if members.len() >= MAX_JOBS {
                    queue.push_front(job);
                    break;
                }
                let mut tx = Tx::new(&state, &batch.writes);
                if !job.run(&mut tx, first) || tx.writes_nothing() {
                    members.push(job);
                    continue;
                }
                let more = Size::of(&tx, job.fence());
                if !members.is_empty() && !size.plus(&more).fits(self.max_ops) {
                    // Its turn comes in the next batch, run afresh.
                    queue.push_front(job);
                    break;
                }
                size = size.plus(&more);
                let fence = job.fence();
                let share = tx.into_share();
                batch.absorb(share, fence);
                job.note(first, true);
                members.push(job);
            }
        }
        let unwritten = self.commit(members, batch, first).await;
        self.recheck(unwritten, queue).await;
    }

    /// Linearizable mode: a job that wrote nothing (it refused, or found
    /// nothing to change) decided on this server's cache, which may not yet
    /// hold a write another server acknowledged before the job began. Such
    /// jobs are run again once the cache holds every acknowledged write
    /// (a barrier, shared by all of them); those that now want to write go
    /// back to the queue, the others are answered. (A job that writes needs
    /// no barrier: its transaction compares everything it read.)
    async fn recheck(
        &mut self,
        jobs: Vec<Box<dyn Job>>,
        queue: &mut std::collections::VecDeque<Box<dyn Job>>,
    ) {
        if jobs.is_empty() {
            return;
        }
        if let Some(b) = &self.barrier {
            if let Err(e) = b.sync(&self.cache).await {
                for job in jobs {
                    job.finish(Err(e.clone()));
                }
                return;
            }
        }
        self.seq += 1;
        let attempt = self.seq;
        let state = self.cache.read();
        let none = Writes::new();
        for mut job in jobs.into_iter().rev() {
            let mut tx = Tx::new(&state, &none);
            if job.run(&mut tx, attempt) && !tx.writes_nothing() {
                queue.push_front(job);
            } else {
                job.finish(Ok(attempt));
            }
        }
    }

    /// Commits `members`, whose decisions for attempt `first` made `batch`,
    /// running them again after each conflict until the deadline; answers
    /// each, except (in linearizable mode) those that wrote nothing in the
    /// attempt that committed: those are returned, for [`Loop::recheck`].
    async fn commit(
        &mut self,
        mut members: Vec<Box<dyn Job>>,
        batch: Batch,
        first: u64,
    ) -> Vec<Box<dyn Job>> {
        let deadline = Instant::now() + COMMIT_DEADLINE;
        let mut attempts: Vec<u64> = Vec::new();
        let mut attempt = first;
        let mut backoff = Duration::from_millis(20);
        let mut next = Some(batch);
        loop {
            let batch = match next.take() {
                Some(b) => b,
                None => {
                    // Every member again, on the cache as it is now.
                    let state = self.cache.read();
                    let mut batch = Batch::default();
                    for job in &mut members {
                        let mut tx = Tx::new(&state, &batch.writes);
                        if job.run(&mut tx, attempt) && !tx.writes_nothing() {
                            let fence = job.fence();
                            let share = tx.into_share();
                            batch.absorb(share, fence);
                            job.note(attempt, true);
                        }
                    }
                    batch
                }
            };
            attempts.push(attempt);
            if batch.writes.is_empty() && batch.ranges.is_empty() {
                // Reads and refusals only.
                return self.settle(members, attempt);
            }
            let req = self.request(&batch, attempt);
            match self.send(&req, &attempts, deadline).await {
                Sent::Committed { attempt: won, rev } if won == attempt => {
                    // This server reads its own writes at once; the watch
                    // brings them (and their announcements) a little later.
                    let (puts, deletes, prefixes) = batch.into_changes();
                    self.cache.apply_own(rev, puts, deletes, prefixes);
                    return self.settle(members, won);
                }
                Sent::Committed { attempt: won, rev } => {
                    // An earlier attempt applied late: its writes come by the watch.
                    if let Err(e) = self.cache.wait_for(rev).await {
                        // Durable all the same; only this server's view lags.
                        tracing::warn!(error = %e, "a committed write is not in the cache yet");
                    }
                    return self.settle(members, won);
                }
                Sent::Conflict { rev, leader_created } => {
                    let _ = self.cache.wait_for(rev).await;
                    if let Some(leader) = leader_created {
                        let (fenced, kept): (Vec<_>, Vec<_>) = members
                            .into_iter()
                            .partition(|j| j.fence().is_some_and(|f| f != leader));
                        for job in fenced {
                            job.finish(Err(StoreError::Fenced));
                        }
                        members = kept;
                    }
                    if members.is_empty() {
                        return Vec::new();
                    }
                }
                Sent::Failed(e) => {
                    if Instant::now() + backoff >= deadline || !e.is_retryable() {
                        for job in members {
                            job.finish(Err(e.clone()));
                        }
                        return Vec::new();
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_millis(500));
                }
            }
            if Instant::now() >= deadline {
                for job in members {
                    job.finish(Err(StoreError::Database(
                        "the write kept conflicting with others and was given up".into(),
                    )));
                }
                return Vec::new();
            }
            self.seq += 1;
            attempt = self.seq;
        }
    }

    /// Answers the members of a batch settled at `attempt`; returns those
    /// that wrote nothing in it, when they need a recheck.
    fn settle(&self, members: Vec<Box<dyn Job>>, attempt: u64) -> Vec<Box<dyn Job>> {
        let mut unwritten = Vec::new();
        for job in members {
            if self.barrier.is_some() && !job.wrote(attempt) {
                unwritten.push(job);
            } else {
                job.finish(Ok(attempt));
            }
        }
        unwritten
    }

    /// The transaction of a batch for one attempt.
    fn request(&self, batch: &Batch, attempt: u64) -> wire::TxnRequest {
        let root = &self.cache.root;
        let marker = self.marker_key();
        let leader = keys::to_etcd(root, LEADER_KEY);
        let mut compare = vec![Compare::mod_is(Blob(marker.clone()), self.marker_mod)];
        for fence in &batch.fences {
            compare.push(Compare::created_at(Blob(leader.clone()), *fence));
        }
        for (k, m) in &batch.guards {
            compare.push(Compare::mod_is(Blob(keys::to_etcd(root, k)), *m));
        }
        let mut success = batch.ops(root);
        success.push(RequestOp::Put(wire::PutRequest {
            key: Blob(marker.clone()),
            value: Blob(attempt.to_string().into_bytes()),
            lease: 0,
        }));
        success.push(RequestOp::Put(wire::PutRequest {
            key: Blob(keys::to_etcd(root, REV_KEY)),
            value: Blob(self.server_id.clone().into_bytes()),
            lease: 0,
        }));
        let read = |key: Vec<u8>| {
            RequestOp::Range(wire::RangeRequest { key: Blob(key), ..Default::default() })
        };
        wire::TxnRequest { compare, success, failure: vec![read(marker), read(leader)] }
    }

    /// Sends a transaction until its outcome is known (see the module
    /// documentation).
    async fn send(&mut self, req: &wire::TxnRequest, attempts: &[u64], deadline: Instant) -> Sent {
        let mut backoff = Duration::from_millis(20);
        loop {
            match self.client.txn(req).await {
                Ok(r) if r.succeeded => {
                    self.marker_mod = r.header.revision;
                    let attempt = attempts.last().copied().unwrap_or(0);
                    return Sent::Committed { attempt, rev: r.header.revision };
                }
                Ok(r) => {
                    let kv = |i: usize| {
                        r.responses
                            .get(i)
                            .and_then(|op| op.response_range.as_ref())
                            .and_then(|rr| rr.kvs.first().cloned())
                    };
                    let leader_created = Some(kv(1).map_or(0, |kv| kv.create_revision));
                    if let Some(done) = self.marker_moved(kv(0), attempts) {
                        return done;
                    }
                    return Sent::Conflict { rev: r.header.revision, leader_created };
                }
                Err(EtcdError::Indeterminate(why)) => {
                    tracing::debug!(error = %why, "a transaction's outcome is unknown");
                    // Learn whether it applied, then send it again if not.
                    loop {
                        if Instant::now() >= deadline {
                            return Sent::Failed(StoreError::Database(format!(
                                "etcd did not say whether a write was applied: {why}"
                            )));
                        }
                        let read = self
                            .client
                            .range(&wire::RangeRequest {
                                key: Blob(self.marker_key()),
                                ..Default::default()
                            })
                            .await;
                        match read {
                            Ok(r) => {
                                if let Some(done) =
                                    self.marker_moved(r.kvs.first().cloned(), attempts)
                                {
                                    return done;
                                }
                                break;
                            }
                            Err(_) => {
                                tokio::time::sleep(backoff).await;
                                backoff = (backoff * 2).min(Duration::from_millis(500));
                            }
                        }
                    }
                }
                Err(EtcdError::Unavailable(why)) => {
                    return Sent::Failed(StoreError::Unavailable(format!(
                        "etcd is unavailable: {why}"
                    )))
                }
                Err(e) => {
                    return Sent::Failed(StoreError::Database(format!("etcd refused a write: {e}")))
                }
            }
            if Instant::now() >= deadline {
                return Sent::Failed(StoreError::Database("etcd did not answer in time".into()));
            }
        }
    }

    /// When the marker is no longer as this writer last wrote it: the attempt
    /// of this batch that moved it (committed), or a conflict after adopting
    /// the marker as it is (an earlier batch's lost attempt applied late).
    fn marker_moved(&mut self, marker: Option<wire::KeyValue>, attempts: &[u64]) -> Option<Sent> {
        let (value, modr) = match &marker {
            Some(kv) => (String::from_utf8_lossy(&kv.value.0).into_owned(), kv.mod_revision),
            None => (String::new(), 0),
        };
        if modr == self.marker_mod {
            return None;
        }
        self.marker_mod = modr;
        match value.parse::<u64>().ok().filter(|a| attempts.contains(a)) {
            Some(attempt) => Some(Sent::Committed { attempt, rev: modr }),
            None => Some(Sent::Conflict { rev: modr, leader_created: None }),
        }
    }
}
