//! Deleting events: past a group's retention, over the disk budget (oldest
//! first), and those of deleted groups and streams. Each runs in batches of
//! [`BATCH`] events, one writer job per batch, so appends queued behind it
//! wait for one batch at most; `stored_bytes` of groups and streams is
//! lowered in the same transaction as each batch's deletes.

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use rusqlite::{params, Connection};

use super::{LogStore, LogStoreError};

/// Events deleted per transaction.
pub(crate) const BATCH: usize = 5_000;

/// A group's retention, as the retention reconciler sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// The store's id of the group.
    pub group_id: i64,
    /// Its name (for logging).
    pub name: String,
    /// Days events are kept.
    pub days: i32,
}

/// Deletes the events `select` names (id, stream, group, bytes), or with
/// `need` only the first of them that free that many bytes, and lowers the
/// stored bytes; returns (events, bytes of live streams) deleted.
fn delete_rows(
    c: &Connection,
    select: &str,
    args: &[i64],
    need: Option<i64>,
) -> Result<(usize, i64), LogStoreError> {
    let mut rows: Vec<(i64, i64, i64, i64)> = Vec::new();
    {
        let mut stmt = c.prepare_cached(select)?;
        let found = stmt.query_map(rusqlite::params_from_iter(args), |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?;
        let mut sum = 0;
        for row in found {
            let row = row?;
            if need.is_some_and(|n| sum >= n) {
                break;
            }
            sum += row.3;
            rows.push(row);
        }
    }
    let mut per_stream: HashMap<(i64, i64), i64> = HashMap::new();
    let mut delete = c.prepare_cached("DELETE FROM log_events WHERE id = ?1")?;
    for (id, stream, group, bytes) in &rows {
        delete.execute([id])?;
        *per_stream.entry((*stream, *group)).or_default() += bytes;
    }
    let mut freed = 0;
    for ((stream, group), bytes) in per_stream {
        let live = c
            .prepare_cached(
                "UPDATE log_streams SET stored_bytes = stored_bytes - ?1 WHERE id = ?2",
            )?
            .execute(params![bytes, stream])?;
        if live > 0 {
            c.prepare_cached(
                "UPDATE log_groups SET stored_bytes = stored_bytes - ?1 WHERE id = ?2",
            )?
            .execute(params![bytes, group])?;
            freed += bytes;
        }
    }
    Ok((rows.len(), freed))
}

impl LogStore {
    /// Every group with a retention policy.
    pub fn retention_policies(&self) -> Result<Vec<RetentionPolicy>, LogStoreError> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, name, retention_days FROM log_groups WHERE retention_days IS NOT NULL",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok(RetentionPolicy { group_id: r.get(0)?, name: r.get(1)?, days: r.get(2)? })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    /// One batch of deletes as one writer job: the first [`BATCH`] events
    /// that `filter` (a WHERE ... ORDER BY clause over `args`) names, or with
    /// `need` only as many as free that many bytes; returns how many.
    async fn delete_batch(
        &self,
        filter: &'static str,
        args: Vec<i64>,
        need: Option<i64>,
    ) -> Result<usize, LogStoreError> {
        let select =
            format!("SELECT id, stream_id, group_id, bytes FROM log_events {filter} LIMIT {BATCH}");
        let (n, freed) =
            self.0.writer.write_as(move |c| delete_rows(c, &select, &args, need)).await?;
        self.0.total.fetch_sub(freed, Ordering::SeqCst);
        Ok(n)
    }

    /// Deletes a group's events with timestamps before `cutoff_ms`, in
    /// batches; returns how many.
    pub async fn delete_before(
        &self,
        group_id: i64,
        cutoff_ms: i64,
    ) -> Result<usize, LogStoreError> {
        if let Some(r) = &self.0.replica {
            // Whole batches whose newest event is past the cutoff, in etcd;
            // every server's mirror drops their events.
            let batches =
                self.read(|c| Ok(super::mirror::batches_before(c, group_id, cutoff_ms)?))?;
            let keys: Vec<String> = batches.iter().map(|(k, _)| k.clone()).collect();
            r.delete_batches(&keys).await?;
            return Ok(batches.iter().map(|(_, n)| *n as usize).sum());
        }
        let mut deleted = 0;
        loop {
            let n = self
                .delete_batch("WHERE group_id = ?1 AND ts < ?2", vec![group_id, cutoff_ms], None)
                .await?;
            deleted += n;
            if n < BATCH {
                return Ok(deleted);
            }
        }
    }

    /// Deletes the oldest events (in append order) until the store holds no
    /// more than 95% of its budget; returns how many.
    pub async fn trim_to_budget(&self) -> Result<usize, LogStoreError> {
        let _one_at_a_time = self.0.trim_lock.lock().await;
        let target = self.0.max_bytes - self.0.max_bytes / 20;
        if let Some(r) = &self.0.replica {
            let mut deleted = 0;
            loop {
                let need = self.0.total.load(Ordering::SeqCst) - target;
                if need <= 0 {
                    return Ok(deleted);
                }
                let batches = self.read(|c| Ok(super::mirror::oldest_batches(c, need)?))?;
                if batches.is_empty() {
                    return Ok(deleted);
                }
                let keys: Vec<String> = batches.iter().map(|(k, _)| k.clone()).collect();
                r.delete_batches(&keys).await?;
                deleted += batches.iter().map(|(_, n)| *n as usize).sum::<usize>();
            }
        }
        let mut deleted = 0;
        loop {
            let need = self.0.total.load(Ordering::SeqCst) - target;
            if need <= 0 {
                return Ok(deleted);
            }
            let n = self.delete_batch("ORDER BY id", vec![], Some(need)).await?;
            deleted += n;
            if n == 0 {
                return Ok(deleted);
            }
        }
    }

    /// Removes the events of deleted groups and streams; returns how many.
    pub async fn purge_deleted(&self) -> Result<usize, LogStoreError> {
        let mut deleted = 0;
        loop {
            let n = self
                .0
                .writer
                .write_as(|c| {
                    let pending: Option<(Option<i64>, Option<i64>, i64)> = c
                        .query_row(
                            "SELECT group_id, stream_id, rowid FROM log_purge LIMIT 1",
                            [],
                            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                        )
                        .map(Some)
                        .or_else(|e| match e {
                            rusqlite::Error::QueryReturnedNoRows => Ok(None),
                            e => Err(e),
                        })?;
                    let Some((group, stream, rowid)) = pending else { return Ok(None) };
                    let (column, id) = match (group, stream) {
                        (Some(g), _) => ("group_id", g),
                        (None, Some(s)) => ("stream_id", s),
                        (None, None) => (
                            "stream_id",
                            -1, // an empty entry: nothing to delete
                        ),
                    };
                    let n = c.execute(
                        &format!(
                            "DELETE FROM log_events WHERE id IN (SELECT id FROM log_events \
                             WHERE {column} = ?1 LIMIT {BATCH})"
                        ),
                        [id],
                    )?;
                    if n < BATCH {
                        c.execute("DELETE FROM log_purge WHERE rowid = ?1", [rowid])?;
                    }
                    Ok::<_, LogStoreError>(Some(n))
                })
                .await?;
            match n {
                Some(n) => deleted += n,
                None => return Ok(deleted),
            }
        }
    }

    /// Starts [`LogStore::purge_deleted`] in the background.
    pub(crate) fn spawn_purge(&self) {
        let Ok(rt) = tokio::runtime::Handle::try_current() else { return };
        let store = self.clone();
        rt.spawn(async move {
            if let Err(e) = store.purge_deleted().await {
                tracing::warn!(error = %e, "events of deleted log groups and streams not purged yet");
            }
        });
    }

    /// Starts [`LogStore::trim_to_budget`] in the background, unless one runs.
    pub(crate) fn spawn_trim(&self) {
        if self.0.trimming.swap(true, Ordering::SeqCst) {
            return;
        }
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            self.0.trimming.store(false, Ordering::SeqCst);
            return;
        };
        let store = self.clone();
        rt.spawn(async move {
            let usage = store.usage();
            match store.trim_to_budget().await {
                Ok(n) => tracing::warn!(
                    deleted = n,
                    stored_bytes = usage.stored_bytes,
                    max_bytes = usage.max_bytes,
                    "the log store was over its budget (--logs-max-bytes): deleted the oldest events"
                ),
                Err(e) => tracing::error!(error = %e, "the log store is over its budget and could not trim"),
            }
            store.0.trimming.store(false, Ordering::SeqCst);
        });
    }
}
