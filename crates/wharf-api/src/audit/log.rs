//! The audit log's file and its writer thread: lines are handed over a
//! channel and appended in batches, so that no request waits on the disk.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::Duration;

/// How long the writer thread lets lines gather after a write. A sender
/// wakes the thread (a system call on the request's path) only when it
/// sleeps waiting for a line; under load it now finds it awake or napping.
const GATHER: Duration = Duration::from_millis(5);

/// An open audit log.
#[derive(Debug)]
pub struct AuditLog {
    tx: mpsc::Sender<Message>,
    path: PathBuf,
    ids: EventIds,
}

/// What the writer thread is handed.
#[derive(Debug)]
enum Message {
    /// A line to append.
    Line(String),
    /// Answer once every line sent before is in the file.
    Flush(mpsc::Sender<()>),
}

/// Event ids: version 4 UUIDs from one random draw per log, each made
/// distinct by a counter in its last six bytes (a draw per event was a
/// system call per write).
#[derive(Debug)]
struct EventIds {
    seed: u128,
    next: AtomicU64,
}

impl EventIds {
    fn new() -> Self {
        Self { seed: u128::from_le_bytes(crate::random::bytes()), next: AtomicU64::new(0) }
    }

    fn next(&self) -> uuid::Uuid {
        let n = self.next.fetch_add(1, Ordering::Relaxed) & 0xffff_ffff_ffff;
        uuid::Builder::from_random_bytes((self.seed ^ u128::from(n)).to_be_bytes()).into_uuid()
    }
}

impl AuditLog {
    /// Opens (creating, appending) `path` and starts its writer thread.
    pub fn open(path: &Path) -> std::io::Result<Self> {
        let mut options = std::fs::OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options.open(path)?;
        let (tx, rx) = mpsc::channel::<Message>();
        std::thread::Builder::new().name("wharf-audit".into()).spawn(move || {
            let mut out = std::io::BufWriter::new(file);
            while let Ok(first) = rx.recv() {
                // Whatever else is queued goes in the same write.
                let mut flushed = Vec::new();
                for message in
                    std::iter::once(first).chain(std::iter::from_fn(|| rx.try_recv().ok()))
                {
                    match message {
                        Message::Line(line) => {
                            let _ = out.write_all(line.as_bytes());
                            let _ = out.write_all(b"\n");
                        }
                        Message::Flush(done) => flushed.push(done),
                    }
                }
                if let Err(e) = out.flush() {
                    tracing::error!(error = %e, "the audit log could not be written");
                }
                let asked = !flushed.is_empty();
                for done in flushed {
                    let _ = done.send(());
                }
                if !asked {
                    std::thread::sleep(GATHER);
                }
            }
        })?;
        Ok(Self { tx, path: path.to_owned(), ids: EventIds::new() })
    }

    /// A new event id.
    pub(super) fn next_id(&self) -> uuid::Uuid {
        self.ids.next()
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(super) fn write(&self, line: String) {
        let _ = self.tx.send(Message::Line(line));
    }

    /// Waits (up to 5 s) until every event recorded so far is in the file:
    /// the server calls it as it shuts down, since the writer thread lets
    /// lines gather for a few milliseconds.
    pub fn flush(&self) {
        let (done, wait) = mpsc::channel();
        if self.tx.send(Message::Flush(done)).is_ok() {
            let _ = wait.recv_timeout(Duration::from_secs(5));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_ids_are_distinct_version_4_uuids() {
        let ids = EventIds::new();
        let drawn: std::collections::HashSet<uuid::Uuid> =
            (0..10_000).map(|_| ids.next()).collect();
        assert_eq!(drawn.len(), 10_000);
        assert!(drawn
            .iter()
            .all(|id| id.get_version_num() == 4 && id.get_variant() == uuid::Variant::RFC4122));
    }

    #[test]
    fn a_flush_waits_for_every_line_sent_before_it() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::open(&dir.path().join("audit.jsonl")).unwrap();
        log.write("first".into());
        // The writer has written the first line and naps; the second waits.
        std::thread::sleep(Duration::from_millis(1));
        log.write("second".into());
        log.flush();
        let text = std::fs::read_to_string(log.path()).unwrap();
        assert_eq!(text, "first\nsecond\n");
    }
}
