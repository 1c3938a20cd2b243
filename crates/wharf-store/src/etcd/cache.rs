//! The watch-fed cache: every key under the store's state root, in memory,
//! kept current by one etcd watch; what every read is served from.
//!
//! The cache is loaded with a paged range read at one revision, then
//! follows a watch from the next revision. Each watch answer is applied
//! whole under the write lock, so readers always see the state as of one
//! revision ([`State::rev`]). When the watch breaks it is opened again on
//! another member from where it stopped; when etcd has compacted that far
//! the cache is loaded afresh and every key that differs is announced.
//!
//! A watch can go quiet without breaking (a member cut off from its
//! peers). Twice a tick the follower compares the cache with a
//! linearizable read of the root's `rev` key, which every Wharf transaction
//! writes, and opens the watch elsewhere when the cache stays behind.
//!
//! [`Barrier`] makes a read linearizable: it learns the revision of the
//! last Wharf write with one quorum read (shared by every reader waiting at
//! that moment) and waits until the cache has applied it.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard};
use std::time::Duration;

use tokio::sync::{watch, Notify};

use super::client::{EtcdClient, EtcdError};
use super::keys;
use super::wire::{self, Blob, EventType};
use crate::StoreError;

/// One key as cached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    /// The value (Wharf writes UTF-8 only).
    pub(crate) value: Arc<str>,
    /// The revision of its last change.
    pub(crate) mod_rev: i64,
    /// The revision that created it.
    pub(crate) create_rev: i64,
}

impl Entry {
    fn of(kv: &wire::KeyValue) -> Self {
        let value = match std::str::from_utf8(&kv.value.0) {
            Ok(s) => Arc::from(s),
            Err(_) => Arc::from(String::from_utf8_lossy(&kv.value.0).as_ref()),
        };
        Self { value, mod_rev: kv.mod_revision, create_rev: kv.create_revision }
    }
}

/// The cached state: every key, as of revision `rev`.
#[derive(Debug, Default)]
pub(crate) struct State {
    /// Every change up to this revision is applied.
    pub(crate) rev: i64,
    /// The keys, by cache key.
    pub(crate) map: BTreeMap<String, Entry>,
    /// Keys this server deleted ahead of the watch, with the revision: a put
    /// of an older revision, arriving later through the watch, is stale.
    gone: std::collections::HashMap<String, i64>,
    /// Prefixes this server deleted ahead of the watch, likewise.
    gone_prefixes: Vec<(String, i64)>,
}

/// The exclusive end of a cache prefix's range (prefixes end with NUL).
pub(crate) fn prefix_end(prefix: &str) -> String {
    match prefix.strip_suffix('\0') {
        Some(head) => format!("{head}\x01"),
        None => format!("{prefix}\u{10FFFF}"),
    }
}

impl State {
    /// One key.
    pub(crate) fn get(&self, key: &str) -> Option<&Entry> {
        self.map.get(key)
    }

    /// Every key under a prefix, in order (either direction).
    pub(crate) fn scan<'a>(
        &'a self,
        prefix: &str,
    ) -> impl DoubleEndedIterator<Item = (&'a String, &'a Entry)> + 'a {
        let end = prefix_end(prefix);
        self.map.range::<str, _>((Bound::Included(prefix), Bound::Excluded(end.as_str())))
    }
}

/// Whether the revision watched reaches `rev` within `within`.
async fn reached(rx: &mut watch::Receiver<i64>, rev: i64, within: Duration) -> bool {
    let wait = async {
        loop {
            if *rx.borrow_and_update() >= rev {
                return true;
            }
            if rx.changed().await.is_err() {
                return false;
            }
        }
    };
    tokio::time::timeout(within, wait).await.unwrap_or(false)
}

/// Resolves when `rx` turns true (never, if its sender is gone first).
pub(crate) async fn stopped(rx: &mut watch::Receiver<bool>) {
    loop {
        if *rx.borrow_and_update() {
            return;
        }
        if rx.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// Told of every applied change: (cache key, before, after).
pub(crate) type Listener = Box<dyn Fn(&str, Option<&Entry>, Option<&Entry>) + Send + Sync>;

/// The cache.
pub(crate) struct Cache {
    /// The etcd root of the keys cached (`<prefix>/s`).
    pub(crate) root: String,
    state: RwLock<State>,
    applied: watch::Sender<i64>,
    listener: Listener,
    /// Asks the follower to open its watch again (it seems stuck).
    restart: Notify,
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache").field("root", &self.root).finish_non_exhaustive()
    }
}

/// How long a reader waits for the cache to reach a revision.
const CATCH_UP: Duration = Duration::from_secs(5);

/// Keys per page when loading.
const PAGE: i64 = 2000;

/// The cache key of the key every Wharf transaction writes.
pub(crate) const REV_KEY: &str = "rev";

impl Cache {
    /// An empty cache of the keys under `root`.
    pub(crate) fn new(root: String, listener: Listener) -> Self {
        Self {
            root,
            state: RwLock::default(),
            applied: watch::channel(0).0,
            listener,
            restart: Notify::new(),
        }
    }

    /// The state, for reading. Held briefly: the follower waits on it.
    pub(crate) fn read(&self) -> RwLockReadGuard<'_, State> {
        // A panic while the lock was held leaves a consistent map (each
        // change is a single insert or remove), so poisoning is ignored.
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    /// The revision applied.
    pub(crate) fn rev(&self) -> i64 {
        *self.applied.borrow()
    }

    /// Waits until every change up to `rev` is applied.
    pub(crate) async fn wait_for(&self, rev: i64) -> Result<(), StoreError> {
        if self.rev() >= rev {
            return Ok(());
        }
        let mut rx = self.applied.subscribe();
        // A follower that does not catch up soon is told to look elsewhere.
        if reached(&mut rx, rev, Duration::from_secs(1)).await {
            return Ok(());
        }
        self.restart.notify_one();
        if reached(&mut rx, rev, CATCH_UP).await {
            return Ok(());
        }
        Err(StoreError::Database(format!(
            "the state cache did not reach etcd revision {rev} (it is at {})",
            self.rev()
        )))
    }

    /// Applies this server's own committed writes at once, ahead of the
    /// watch (which brings them again, and announces them): the writer need
    /// not wait for the watch before its next batch. The cache's revision
    /// does not move (others' earlier writes may still be on their way).
    pub(crate) fn apply_own(
        &self,
        rev: i64,
        puts: Vec<(String, Arc<str>)>,
        deletes: Vec<String>,
        prefixes: Vec<String>,
    ) {
        let mut st = self.state.write().unwrap_or_else(|p| p.into_inner());
        // The watch may have brought the write already, or a later one of
        // another server's: those entries stay.
        for p in prefixes {
            let doomed: Vec<String> =
                st.scan(&p).filter(|(_, e)| e.mod_rev < rev).map(|(k, _)| k.clone()).collect();
            for k in doomed {
                st.map.remove(&k);
            }
            st.gone_prefixes.push((p, rev));
        }
        for k in deletes {
            if st.map.get(&k).is_some_and(|e| e.mod_rev > rev) {
                continue;
            }
            st.map.remove(&k);
            st.gone.insert(k, rev);
        }
        for (k, value) in puts {
            let held = st.map.get(&k);
            if held.is_some_and(|e| e.mod_rev >= rev) {
                continue;
            }
            let create_rev = held.map_or(rev, |e| e.create_rev);
            st.gone.remove(&k);
            st.map.insert(k, Entry { value, mod_rev: rev, create_rev });
        }
    }

    fn apply(&self, events: &[wire::Event], progress: i64) {
        let mut rev = progress;
        {
            let mut st = self.state.write().unwrap_or_else(|p| p.into_inner());
            for ev in events {
                let at = ev.kv.mod_revision;
                rev = rev.max(at);
                let Some(key) = keys::from_etcd(&self.root, &ev.kv.key.0) else { continue };
                let held = st.map.get(&key).map(|e| e.mod_rev);
                // What this server applied ahead of the watch: its own write
                // comes back (announced now), anything older is stale.
                let deleted_ahead = st
                    .gone
                    .get(&key)
                    .copied()
                    .into_iter()
                    .chain(
                        st.gone_prefixes
                            .iter()
                            .filter(|(p, _)| key.starts_with(p.as_str()))
                            .map(|(_, r)| *r),
                    )
                    .max();
                match ev.kind {
                    EventType::Put => {
                        if held.is_some_and(|h| h > at) || deleted_ahead.is_some_and(|d| d > at) {
                            continue;
                        }
                        if held == Some(at) {
                            (self.listener)(&key, None, st.map.get(&key));
                            continue;
                        }
                        let new = Entry::of(&ev.kv);
                        let old = st.map.insert(key.clone(), new);
                        (self.listener)(&key, old.as_ref(), st.map.get(&key));
                    }
                    EventType::Delete => {
                        if held.is_some_and(|h| h > at) {
                            continue;
                        }
                        let old = st.map.remove(&key);
                        if old.is_some() || deleted_ahead == Some(at) {
                            (self.listener)(&key, old.as_ref(), None);
                        }
                    }
                }
            }
            if rev > st.rev {
                st.rev = rev;
            }
            rev = st.rev;
            let now = st.rev;
            st.gone.retain(|_, r| *r > now);
            st.gone_prefixes.retain(|(_, r)| *r > now);
        }
        self.applied.send_if_modified(|r| {
            let moved = rev > *r;
            *r = (*r).max(rev);
            moved
        });
    }

    /// Replaces the whole state with a fresh load, announcing every key that
    /// changed.
    fn replace(&self, rev: i64, map: BTreeMap<String, Entry>) {
        {
            let mut st = self.state.write().unwrap_or_else(|p| p.into_inner());
            st.gone.clear();
            st.gone_prefixes.clear();
            let old = std::mem::take(&mut st.map);
            for (k, v) in &map {
                let before = old.get(k);
                if before != Some(v) {
                    (self.listener)(k, before, Some(v));
                }
            }
            for (k, v) in &old {
                if !map.contains_key(k) {
                    (self.listener)(k, Some(v), None);
                }
            }
            st.map = map;
            st.rev = st.rev.max(rev);
        }
        self.applied.send_replace(rev.max(self.rev()));
    }

    async fn load(&self, client: &EtcdClient) -> Result<(), EtcdError> {
        let (start, end) = keys::etcd_range(&self.root, "");
        let mut rev = 0;
        let mut from = start;
        let mut map = BTreeMap::new();
        loop {
            let page = client
                .range(&wire::RangeRequest {
                    key: Blob(from.clone()),
                    range_end: Some(Blob(end.clone())),
                    limit: PAGE,
                    revision: rev,
                    ..Default::default()
                })
                .await?;
            if rev == 0 {
                rev = page.header.revision;
            }
            for kv in &page.kvs {
                if let Some(k) = keys::from_etcd(&self.root, &kv.key.0) {
                    map.insert(k, Entry::of(kv));
                }
            }
            match (page.more, page.kvs.last()) {
                (true, Some(last)) => {
                    from = last.key.0.clone();
                    from.push(0);
                }
                _ => break,
            }
        }
        self.replace(rev, map);
        Ok(())
    }

    /// The mod revision of the root's `rev` key, read with a quorum.
    pub(crate) async fn last_write(&self, client: &EtcdClient) -> Result<i64, EtcdError> {
        let key = keys::to_etcd(&self.root, REV_KEY);
        let r = client.range(&wire::RangeRequest { key: Blob(key), ..Default::default() }).await?;
        Ok(r.kvs.first().map_or(0, |kv| kv.mod_revision))
    }

    /// Loads the cache, retrying until it succeeds or `within` passes.
    pub(crate) async fn load_initial(
        &self,
        client: &EtcdClient,
        within: Duration,
    ) -> Result<(), StoreError> {
        let started = std::time::Instant::now();
        loop {
            match self.load(client).await {
                Ok(()) => return Ok(()),
                Err(e) if started.elapsed() >= within => {
                    return Err(StoreError::Database(format!(
                        "cannot read the state from etcd: {e}"
                    )))
                }
                Err(e) => {
                    tracing::warn!(error = %e, "etcd not ready; retrying");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
    }

    /// Follows the watch until `shutdown` turns true (after
    /// [`Cache::load_initial`]).
    pub(crate) async fn follow(
        self: Arc<Self>,
        client: EtcdClient,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let (start, end) = keys::etcd_range(&self.root, "");
        let mut reload = false;
        loop {
            if *shutdown.borrow() {
                return;
            }
            if reload {
                match self.load(&client).await {
                    Ok(()) => reload = false,
                    Err(e) => {
                        tracing::warn!(error = %e, "the state cache could not be reloaded");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        continue;
                    }
                }
            }
            let req = wire::WatchCreateRequest {
                key: Blob(start.clone()),
                range_end: Some(Blob(end.clone())),
                start_revision: self.rev() + 1,
                progress_notify: true,
            };
            let mut watch = match client.watch(&req).await {
                Ok(w) => w,
                Err(EtcdError::Compacted(_)) => {
                    tracing::warn!("the state watch fell behind compaction; reloading");
                    reload = true;
                    continue;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot watch etcd; retrying");
                    tokio::select! {
                        () = tokio::time::sleep(Duration::from_millis(200)) => {}
                        () = stopped(&mut shutdown) => return,
                    }
                    continue;
                }
            };
            tracing::debug!(endpoint = %watch.endpoint, from = req.start_revision, "watching");
            let mut tick = tokio::time::interval(Duration::from_millis(1000));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut lagging: Option<i64> = None;
            loop {
                tokio::select! {
                    answer = watch.responses.recv() => match answer {
                        Some(Ok(r)) => {
                            let progress = if r.events.is_empty() { r.header.revision } else { 0 };
                            self.apply(&r.events, progress);
                        }
                        Some(Err(EtcdError::Compacted(_))) => {
                            reload = true;
                            break;
                        }
                        Some(Err(e)) => {
                            tracing::warn!(error = %e, endpoint = %watch.endpoint, "the state watch broke");
                            break;
                        }
                        None => break,
                    },
                    _ = tick.tick() => {
                        // The watch may be quiet because nothing happened, or
                        // because its member is cut off: ask the quorum.
                        let Ok(last) = self.last_write(&client).await else { continue };
                        if self.rev() >= last {
                            lagging = None;
                        } else if lagging.is_some_and(|l| self.rev() < l) {
                            tracing::warn!(at = self.rev(), behind = last, "the state watch is stuck; moving");
                            break;
                        } else {
                            lagging = Some(last);
                        }
                    }
                    () = self.restart.notified() => {
                        // A reader waited too long: check, and move if behind.
                        if let Ok(last) = self.last_write(&client).await {
                            if self.rev() < last {
                                tracing::warn!(at = self.rev(), behind = last, "the state watch is behind; moving");
                                break;
                            }
                        }
                    }
                    () = stopped(&mut shutdown) => return,
                }
            }
        }
    }
}

/// Makes reads linearizable: see the module documentation.
#[derive(Debug)]
pub(crate) struct Barrier {
    requested: AtomicU64,
    wake: Notify,
    done: watch::Sender<(u64, Result<i64, String>)>,
}

impl Barrier {
    /// A barrier; [`Barrier::run`] must run beside it.
    pub(crate) fn new() -> Self {
        Self {
            requested: AtomicU64::new(0),
            wake: Notify::new(),
            done: watch::channel((0, Ok(0))).0,
        }
    }

    /// Answers requests until `shutdown`: one quorum read serves every
    /// request made before it started.
    pub(crate) async fn run(
        self: Arc<Self>,
        cache: Arc<Cache>,
        client: EtcdClient,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let mut served = 0;
        loop {
            tokio::select! {
                () = self.wake.notified() => {}
                () = stopped(&mut shutdown) => return,
            }
            loop {
                let ticket = self.requested.load(Ordering::SeqCst);
                if ticket <= served {
                    break;
                }
                let answer = cache.last_write(&client).await.map_err(|e| e.to_string());
                drop(self.done.send_replace((ticket, answer)));
                served = ticket;
            }
        }
    }

    /// Waits until the cache holds every write acknowledged before this call.
    pub(crate) async fn sync(&self, cache: &Cache) -> Result<(), StoreError> {
        let ticket = self.requested.fetch_add(1, Ordering::SeqCst) + 1;
        let mut rx = self.done.subscribe();
        self.wake.notify_one();
        let wait = async {
            loop {
                {
                    let answer = rx.borrow_and_update();
                    if answer.0 >= ticket {
                        return answer.1.clone();
                    }
                }
                if rx.changed().await.is_err() {
                    return Err("the store is closed".to_owned());
                }
            }
        };
        let rev = tokio::time::timeout(CATCH_UP, wait)
            .await
            .unwrap_or_else(|_| Err("no answer from etcd".to_owned()))
            .map_err(|e| {
                StoreError::Unavailable(format!("cannot reach etcd for a consistent read: {e}"))
            })?;
        cache.wait_for(rev).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(key: &str, value: &str, rev: i64) -> wire::Event {
        wire::Event {
            kind: EventType::Put,
            kv: wire::KeyValue {
                key: wire::Blob(keys::to_etcd("r/s", key)),
                create_revision: 4,
                mod_revision: rev,
                value: wire::Blob(value.as_bytes().to_vec()),
                ..Default::default()
            },
        }
    }

    #[test]
    fn an_own_write_never_replaces_what_the_watch_brought_later() {
        let cache = Cache::new("r/s".into(), Box::new(|_, _, _| {}));
        cache.apply(&[put("k", "a", 4)], 4);
        // Another server's later write reaches this cache by the watch
        // before the writer applies its own earlier write (or deletion).
        cache.apply(&[put("k", "c", 7)], 7);
        cache.apply_own(6, vec![("k".into(), Arc::from("stale"))], vec![], vec![]);
        cache.apply_own(6, vec![], vec!["k".into()], vec![]);
        cache.apply_own(6, vec![], vec![], vec![String::new()]);
        let st = cache.read();
        let e = st.get("k").expect("the later write is kept");
        assert_eq!((&*e.value, e.mod_rev), ("c", 7));
        drop(st);
        // Ahead of the watch, its own write applies.
        cache.apply_own(8, vec![("k".into(), Arc::from("d"))], vec![], vec![]);
        let st = cache.read();
        let e = st.get("k").unwrap();
        assert_eq!((&*e.value, e.mod_rev, e.create_rev), ("d", 8, 4));
    }
}
