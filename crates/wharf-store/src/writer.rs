//! Group commit: one thread owns the write connection and commits every write
//! that is waiting in one transaction, so that many concurrent writers pay for
//! one fsync between them.
//!
//! Each write runs inside its own savepoint: a write whose own logic fails is
//! rolled back alone, and the rest of the group commits. A write's caller hears
//! back only after the group's COMMIT has returned, so an `Ok` is durable.

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

/// The handle to the writer thread.
#[derive(Debug)]
pub(crate) struct Writer {
    jobs: mpsc::Sender<Job>,
}

impl Writer {
    /// Starts the writer thread on `conn`.
    pub(crate) fn start(conn: Connection, nudge: Nudge) -> std::io::Result<Self> {
        Self::start_named(conn, nudge, "wharf-store-writer")
    }

    /// Starts a writer thread with its own name (the log store has one too).
    pub(crate) fn start_named(conn: Connection, nudge: Nudge, name: &str) -> std::io::Result<Self> {
        let (jobs, rx) = mpsc::channel::<Job>();
        thread::Builder::new().name(name.into()).spawn(move || run(conn, rx, nudge))?;
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

fn run(conn: Connection, rx: mpsc::Receiver<Job>, nudge: Nudge) {
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
        let outcome = commit_group(&conn, &mut group, &mut replies);
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
            conn.execute_batch("ROLLBACK TO w; RELEASE w")
        };
        if let Err(e) = saved.and(closed) {
            begun = Err(e.into());
        }
    }
    match begun {
        Ok(()) => conn.execute_batch("COMMIT").map_err(|e| {
            let _ = conn.execute_batch("ROLLBACK");
            StoreError::from(e)
        }),
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}
