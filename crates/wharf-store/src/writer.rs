//! Group commit: one thread owns the write connection and commits every write
//! that is waiting in one transaction, so that many concurrent writers pay for
//! one fsync between them.
//!
//! Each write runs inside its own savepoint: a write whose own logic fails is
//! rolled back alone, and the rest of the group commits. A write's caller hears
//! back only after the group's COMMIT has returned, so an `Ok` is durable.
//! Whatever the writes keep beside the database hears of every rollback
//! ([`Rolledback`]), so that it never holds what was not committed.

use std::sync::mpsc;
use std::thread;

use rusqlite::Connection;
use tokio::sync::oneshot;

use crate::checkpoint::Nudge;
use crate::StoreError;

/// The most writes committed together; bounds the latency one group adds.
const MAX_GROUP: usize = 512;

/// Called after the group's commit with its outcome, to answer the caller.
type Reply = Box<dyn FnOnce(Result<(), StoreError>) + Send>;

/// A write: runs against the connection inside a savepoint, says whether it
/// succeeded (so its savepoint is kept or rolled back) and how to reply.
type Job = Box<dyn FnOnce(&Connection) -> (bool, Reply) + Send>;

/// Called when a write or a whole group is rolled back.
pub(crate) type Rolledback = Box<dyn Fn() + Send>;

/// The handle to the writer thread.
#[derive(Debug)]
pub(crate) struct Writer {
    jobs: mpsc::Sender<Job>,
}

impl Writer {
    /// Starts the writer thread on `conn`.
    /// `rolled_back` runs on the writer thread after any rollback.
    pub(crate) fn start(
        conn: Connection,
        nudge: Nudge,
        rolled_back: Rolledback,
    ) -> std::io::Result<Self> {
        Self::start_named(conn, nudge, "wharf-store-writer", rolled_back)
    }

    /// Starts a writer thread with its own name (the log store has one too).
    pub(crate) fn start_named(
        conn: Connection,
        nudge: Nudge,
        name: &str,
        rolled_back: Rolledback,
    ) -> std::io::Result<Self> {
        let (jobs, rx) = mpsc::channel::<Job>();
        thread::Builder::new()
            .name(name.into())
            .spawn(move || run(conn, rx, nudge, rolled_back))?;
        Ok(Self { jobs })
    }

    /// Runs `f` in the next group and waits for that group's commit.
    pub(crate) async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.write_as(f).await
    }

    /// [`Writer::write`] for a job with its own error type: a failed job is
    /// rolled back alone, a failed commit reaches it as `E::from`.
    pub(crate) async fn write_as<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let result = f(conn);
            let ok = result.is_ok();
            let reply: Reply = Box::new(move |commit| {
                let _ = tx.send(commit.map_err(E::from).and(result));
            });
            (ok, reply)
        });
        self.jobs.send(job).map_err(|_| E::from(StoreError::Closed))?;
        rx.await.map_err(|_| E::from(StoreError::Database("the write was not committed".into())))?
    }
}

fn run(conn: Connection, rx: mpsc::Receiver<Job>, nudge: Nudge, rolled_back: Rolledback) {
    let mut group: Vec<Job> = Vec::with_capacity(MAX_GROUP);
    let mut replies: Vec<Reply> = Vec::with_capacity(MAX_GROUP);
    while let Ok(first) = rx.recv() {
        group.push(first);
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        let outcome = commit_group(&conn, &mut group, &mut replies, &rolled_back);
        match &outcome {
            Ok(()) => nudge.committed(),
            Err(e) => tracing::error!(error = %e, writes = replies.len(), "group commit failed"),
        }
        for reply in replies.drain(..) {
            reply(outcome.clone());
        }
    }
    tracing::debug!("store writer stopped");
}

fn commit_group(
    conn: &Connection,
    group: &mut Vec<Job>,
    replies: &mut Vec<Reply>,
    rolled_back: &Rolledback,
) -> Result<(), StoreError> {
    let mut begun = conn.execute_batch("BEGIN IMMEDIATE").map_err(StoreError::from);
    for job in group.drain(..) {
        if begun.is_err() {
            // Nothing runs outside a transaction: dropping the job tells its
            // caller that the write did not happen.
            drop(job);
            continue;
        }
        let saved = conn.execute_batch("SAVEPOINT w");
        let (ok, reply) = job(conn);
        replies.push(reply);
        let closed = if ok && saved.is_ok() {
            conn.execute_batch("RELEASE w")
        } else {
            rolled_back();
            conn.execute_batch("ROLLBACK TO w; RELEASE w")
        };
        if let Err(e) = saved.and(closed) {
            begun = Err(e.into());
        }
    }
    match begun {
        Ok(()) => conn.execute_batch("COMMIT").map_err(|e| {
            let _ = conn.execute_batch("ROLLBACK");
            rolled_back();
            StoreError::from(e)
        }),
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            rolled_back();
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use super::*;

    #[tokio::test]
    async fn every_rollback_is_heard_and_commits_are_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.db");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE t (x INTEGER)").unwrap();
        let heard = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&heard);
        let writer = Writer::start(
            conn,
            crate::checkpoint::start(&path).unwrap(),
            Box::new(move || {
                counter.fetch_add(1, Ordering::SeqCst);
            }),
        )
        .unwrap();
        writer.write(|c| Ok(c.execute("INSERT INTO t VALUES (1)", [])?)).await.unwrap();
        assert_eq!(heard.load(Ordering::SeqCst), 0);
        let refused = writer
            .write(|c| {
                c.execute("INSERT INTO t VALUES (2)", [])?;
                Err::<(), _>(StoreError::Database("refused".into()))
            })
            .await;
        assert!(refused.is_err());
        assert_eq!(heard.load(Ordering::SeqCst), 1);
        let rows: i64 = writer
            .write(|c| Ok(c.query_row("SELECT count(*) FROM t", [], |r| r.get(0))?))
            .await
            .unwrap();
        assert_eq!(rows, 1, "the refused write was rolled back");
    }
}
