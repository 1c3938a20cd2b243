//! WAL checkpoints off the write path.
//!
//! SQLite normally checkpoints inside the commit that crosses its threshold,
//! so one write in a thousand pays for copying the log into the database
//! and an extra fsync: the tail of write latency. Here the writer only
//! signals that it committed, and this thread, on its own connection, runs a
//! PASSIVE checkpoint (which never blocks the writer or readers) at most
//! every [`INTERVAL`], with a trailing one after the last write of a burst.
//! The writer keeps a high autocheckpoint threshold as a backstop in case
//! this thread falls behind.

use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender, TryRecvError};
use std::thread;
use std::time::{Duration, Instant};

use rusqlite::Connection;

/// Least time between two checkpoints.
const INTERVAL: Duration = Duration::from_millis(200);

/// The writer's side: says "I committed" without ever blocking.
#[derive(Debug, Clone)]
pub(crate) struct Nudge(SyncSender<()>);

impl Nudge {
    /// Signals a commit; coalesces with any signal not yet seen.
    pub(crate) fn committed(&self) {
        let _ = self.0.try_send(());
    }
}

/// Starts the checkpoint thread for the database at `path`.
pub(crate) fn start(path: &Path) -> std::io::Result<Nudge> {
    let conn = Connection::open(path).map_err(std::io::Error::other)?;
    let (tx, rx) = mpsc::sync_channel::<()>(1);
    thread::Builder::new().name("wharf-store-checkpoint".into()).spawn(move || {
        let mut last = Instant::now();
        // Blocks until the first commit after a checkpoint; ends when the writer is gone.
        while rx.recv().is_ok() {
            let wait = INTERVAL.saturating_sub(last.elapsed());
            if !wait.is_zero() {
                // Debounce: let the burst go on, then checkpoint once.
                match rx.recv_timeout(wait) {
                    Ok(()) | Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => break,
                }
            }
            // Drop a signal that arrived meanwhile: this checkpoint covers it.
            if let Err(TryRecvError::Disconnected) = rx.try_recv() {
                break;
            }
            if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                tracing::warn!(error = %e, "WAL checkpoint failed; will retry after the next write");
            }
            last = Instant::now();
        }
        // Final checkpoint so a clean shutdown leaves a compact database.
        let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
    })?;
    Ok(Nudge(tx))
}
