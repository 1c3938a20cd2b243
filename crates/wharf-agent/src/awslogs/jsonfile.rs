//! Reading a container's `json-file` log directly, when the engine keeps it on this host.
//!
//! Docker's log API reads the same file and re-frames every line; at a busy container's
//! rate that costs the engine most of a core, which on a small host is the core the agent
//! needs. Reading the file gives exactly what the API gives: the rotated files oldest
//! first, then the current one, each line one message, kept when its time is at or after
//! `since` (the API's own filter), so a [`super::cursor::Cursor`] means the same either way.
//!
//! Following, the reader waits at the end of the file on inotify events for the log's
//! directory (a write, or the file rotating), and ends once the container has stopped and
//! the file has no more to read.

use std::borrow::Cow;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::stream::{self, BoxStream, StreamExt};
use tokio::sync::{mpsc, watch};

use crate::runtime::{LogMessage, LogSource, RuntimeError};

/// How much is read at a time.
const CHUNK: usize = 256 * 1024;
/// How long the reader waits at the end of the file without an inotify event before it
/// looks again (a safety net; events normally wake it).
const IDLE_LOOK: Duration = Duration::from_secs(1);

/// A container's log lines from `path` (its `json-file` log), as [`crate::runtime::Runtime::logs`]
/// gives them; with `follow`, until `stopped` turns true and the file has no more.
pub fn follow(
    path: PathBuf,
    since_secs: i64,
    follow: bool,
    stopped: watch::Receiver<bool>,
) -> BoxStream<'static, Result<LogMessage, RuntimeError>> {
    let (tx, rx) = mpsc::channel::<Result<Vec<LogMessage>, RuntimeError>>(16);
    tokio::spawn(async move {
        if let Err(e) = read(&path, since_secs, follow, stopped, &tx).await {
            let _ = tx.send(Err(e)).await;
        }
    });
    stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|chunk| (chunk, rx)) })
        .flat_map(|chunk| match chunk {
            Ok(messages) => stream::iter(messages.into_iter().map(Ok).collect::<Vec<_>>()),
            Err(e) => stream::iter(vec![Err(e)]),
        })
        .boxed()
}

fn io_error(path: &Path, e: std::io::Error) -> RuntimeError {
    RuntimeError::Unavailable(format!("{}: {e}", path.display()))
}

/// The rotated logs (`path.N` … `path.1`) that exist, oldest first.
fn rotated(path: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for n in 1.. {
        let p = PathBuf::from(format!("{}.{n}", path.display()));
        if !p.exists() {
            break;
        }
        out.push(p);
    }
    out.reverse();
    out
}

/// One open log file being read line by line.
struct Reader {
    file: std::fs::File,
    inode: u64,
    /// Bytes read past the last complete line.
    partial: Vec<u8>,
    /// The buffer each read fills, kept across reads.
    buf: Vec<u8>,
}

impl Reader {
    fn open(path: &Path) -> Result<Self, RuntimeError> {
        let file = std::fs::File::open(path).map_err(|e| io_error(path, e))?;
        let inode = file.metadata().map_err(|e| io_error(path, e))?.ino();
        Ok(Self { file, inode, partial: Vec::new(), buf: vec![0; CHUNK] })
    }

    /// Everything readable now, as messages at or after `since_ns`; `None` at the end.
    fn read_some(&mut self, since_ns: i64) -> std::io::Result<Option<Vec<LogMessage>>> {
        let n = self.file.read(&mut self.buf)?;
        if n == 0 {
            return Ok(None);
        }
        self.partial.extend_from_slice(&self.buf[..n]);
        let mut out = Vec::new();
        let mut start = 0;
        while let Some(end) = self.partial[start..].iter().position(|b| *b == b'\n') {
            let line = &self.partial[start..start + end];
            start += end + 1;
            if let Some(m) = parse(line).filter(|m| m.timestamp_ns >= since_ns) {
                out.push(m);
            }
        }
        self.partial.drain(..start);
        Ok(Some(out))
    }
}

/// One `json-file` line: `{"log":"…","stream":"stdout","time":"…"}`.
fn parse(line: &[u8]) -> Option<LogMessage> {
    #[derive(serde::Deserialize)]
    struct Entry<'a> {
        #[serde(borrow)]
        log: Cow<'a, str>,
        #[serde(borrow)]
        stream: Cow<'a, str>,
        #[serde(borrow)]
        time: Cow<'a, str>,
    }
    let e: Entry<'_> = serde_json::from_slice(line).ok()?;
    let source = match &*e.stream {
        "stdout" => LogSource::Stdout,
        "stderr" => LogSource::Stderr,
        _ => return None,
    };
    let timestamp_ns = crate::runtime::docker::rfc3339_ns(&e.time)?;
    Some(LogMessage { timestamp_ns, source, bytes: bytes::Bytes::from(e.log.into_owned()) })
}

async fn send(
    tx: &mpsc::Sender<Result<Vec<LogMessage>, RuntimeError>>,
    messages: Vec<LogMessage>,
) -> bool {
    messages.is_empty() || tx.send(Ok(messages)).await.is_ok()
}

async fn read(
    path: &Path,
    since_secs: i64,
    follow: bool,
    mut stopped: watch::Receiver<bool>,
    tx: &mpsc::Sender<Result<Vec<LogMessage>, RuntimeError>>,
) -> Result<(), RuntimeError> {
    let since_ns = since_secs.saturating_mul(1_000_000_000);
    // Watch first, so that nothing written after the reads below goes unseen.
    let mut events = if follow {
        let dir = path.parent().unwrap_or(Path::new("/"));
        let inotify = inotify::Inotify::init().map_err(|e| io_error(path, e))?;
        inotify
            .watches()
            .add(
                dir,
                inotify::WatchMask::MODIFY
                    | inotify::WatchMask::CREATE
                    | inotify::WatchMask::MOVED_TO,
            )
            .map_err(|e| io_error(dir, e))?;
        Some(inotify.into_event_stream([0u8; 4096]).map_err(|e| io_error(dir, e))?)
    } else {
        None
    };
    for old in rotated(path) {
        let mut r = Reader::open(&old)?;
        while let Some(messages) = r.read_some(since_ns).map_err(|e| io_error(&old, e))? {
            if !send(tx, messages).await {
                return Ok(());
            }
        }
    }
    let mut current = Reader::open(path)?;
    loop {
        while let Some(messages) = current.read_some(since_ns).map_err(|e| io_error(path, e))? {
            if !send(tx, messages).await {
                return Ok(());
            }
        }
        let Some(events) = events.as_mut() else { return Ok(()) };
        // At the end: has the file rotated under us? Then the rest is in the new one.
        if let Ok(meta) = std::fs::metadata(path) {
            if meta.ino() != current.inode {
                current = Reader::open(path)?;
                continue;
            }
        }
        if *stopped.borrow() {
            // The container stopped and everything it wrote has been read.
            return Ok(());
        }
        tokio::select! {
            _ = events.next() => {}
            _ = stopped.changed() => {}
            () = tokio::time::sleep(IDLE_LOOK) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(log: &str, stream: &str, time: &str) -> String {
        format!("{}\n", serde_json::json!({"log": log, "stream": stream, "time": time}))
    }

    #[test]
    fn lines_become_messages_as_the_api_gives_them() {
        let m = parse(line("hi \"there\"\n", "stderr", "2024-05-01T12:00:00.5Z").trim().as_bytes())
            .expect("a message");
        assert_eq!(m.source, LogSource::Stderr);
        assert_eq!(&m.bytes[..], b"hi \"there\"\n");
        assert_eq!(m.timestamp_ns, 1_714_564_800_500_000_000);
        assert!(parse(b"{not json").is_none());
    }

    #[tokio::test]
    async fn rotated_files_then_the_current_one_filtered_by_since() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("c-json.log");
        std::fs::write(
            format!("{}.1", path.display()),
            line("old\n", "stdout", "2024-05-01T12:00:00Z"),
        )
        .expect("write");
        std::fs::write(
            &path,
            line("new\n", "stdout", "2024-05-01T12:00:02Z")
                + &line("part", "stdout", "2024-05-01T12:00:03Z"),
        )
        .expect("write");
        let (_tx, stopped) = watch::channel(false);
        let all: Vec<_> = follow(path.clone(), 0, false, stopped.clone()).collect().await;
        let texts: Vec<String> = all
            .into_iter()
            .map(|m| String::from_utf8_lossy(&m.unwrap().bytes).into_owned())
            .collect();
        assert_eq!(texts, ["old\n", "new\n", "part"]);
        let since = 1_714_564_801;
        let later: Vec<_> = follow(path, since, false, stopped).collect().await;
        assert_eq!(later.len(), 2, "the rotated line is before `since`");
    }

    #[tokio::test]
    async fn following_sees_new_lines_and_ends_when_the_container_stops() {
        use std::io::Write;
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("c-json.log");
        std::fs::write(&path, line("one\n", "stdout", "2024-05-01T12:00:00Z")).expect("write");
        let (stop, stopped) = watch::channel(false);
        let mut messages = follow(path.clone(), 0, true, stopped);
        let first = messages.next().await.expect("one").expect("ok");
        assert_eq!(&first.bytes[..], b"one\n");
        let mut f = std::fs::OpenOptions::new().append(true).open(&path).expect("open");
        f.write_all(line("two\n", "stdout", "2024-05-01T12:00:01Z").as_bytes()).expect("write");
        let second = tokio::time::timeout(Duration::from_millis(500), messages.next())
            .await
            .expect("woken by inotify, not the idle look")
            .expect("two")
            .expect("ok");
        assert_eq!(&second.bytes[..], b"two\n");
        stop.send(true).expect("stop");
        let end =
            tokio::time::timeout(Duration::from_secs(5), messages.next()).await.expect("ends");
        assert!(end.is_none());
    }
}
