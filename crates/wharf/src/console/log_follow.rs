//! Following a task's log streams: the last lines of each (interleaved in
//! time order) to start with, then whatever is appended after them. The
//! follower keeps, per stream, the position of the last event it handed
//! out; a stream that was empty or did not exist yet (its container had not
//! started) is read from its head from then on.

use std::sync::Arc;

use serde::Serialize;
use wharf_model::logs::Position;
use wharf_store::logs::{Appended, LogStoreError, ReadFrom, StoredEvent, StreamRead};
use wharf_store::LogStore;

use super::views::tasks::LogSource;

/// Lines of each stream the backlog shows at most.
pub const BACKLOG_PER_STREAM: usize = 200;
/// Events one read of a stream returns at most.
const READ_LIMIT: usize = 1_000;

/// One line of a container's output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogLine {
    /// The container it came from.
    #[serde(rename = "c")]
    pub container: String,
    /// Its timestamp, ms since the epoch.
    #[serde(rename = "t")]
    pub ts: i64,
    /// The message.
    #[serde(rename = "m")]
    pub message: String,
}

/// Follows a set of log streams.
#[derive(Debug)]
pub struct Follower {
    logs: Arc<LogStore>,
    streams: Vec<(LogSource, Option<Position>)>,
}

impl Follower {
    /// A follower of nothing yet.
    pub fn new(logs: Arc<LogStore>) -> Self {
        Self { logs, streams: Vec::new() }
    }

    /// Starts following the sources not followed yet; returns whether any
    /// was new.
    pub fn add(&mut self, sources: Vec<LogSource>) -> bool {
        let before = self.streams.len();
        for s in sources {
            if !self.streams.iter().any(|(known, _)| *known == s) {
                self.streams.push((s, None));
            }
        }
        self.streams.len() > before
    }

    /// Whether an append concerns a followed stream.
    pub fn follows(&self, a: &Appended) -> bool {
        self.streams
            .iter()
            .any(|(s, _)| s.region == a.region && s.group == a.group && s.stream == a.stream)
    }

    /// The newest lines of every stream not read yet (at most
    /// [`BACKLOG_PER_STREAM`] each) and everything after what was read of
    /// the others, interleaved in time order.
    pub fn read(&mut self) -> Vec<LogLine> {
        let mut lines = Vec::new();
        for (source, at) in &mut self.streams {
            let events = match at {
                None => read(&self.logs, source, ReadFrom::Tail, BACKLOG_PER_STREAM),
                Some(p) => read_after(&self.logs, source, *p),
            };
            // Read once, a stream is followed from its last event, or from its
            // head if it had none.
            *at = Some(events.last().map_or(at.unwrap_or(Position::START), |e| e.pos));
            lines.extend(events.into_iter().map(|e| (e.pos, source.container.clone(), e)));
        }
        lines.sort_by_key(|l| l.0);
        lines
            .into_iter()
            .map(|(pos, container, e)| LogLine { container, ts: pos.ts, message: e.message })
            .collect()
    }
}

fn read(logs: &LogStore, s: &LogSource, from: ReadFrom, limit: usize) -> Vec<StoredEvent> {
    let q = StreamRead { start: None, end: None, from, limit };
    match logs.read_stream(&s.region, &s.group, &s.stream, &q) {
        Ok(events) => events,
        // Not there yet: the container has not started (or logged) yet.
        Err(LogStoreError::NoSuchGroup | LogStoreError::NoSuchStream) => Vec::new(),
        Err(e) => {
            tracing::warn!(group = %s.group, stream = %s.stream, error = %e, "console: log read failed");
            Vec::new()
        }
    }
}

fn read_after(logs: &LogStore, s: &LogSource, mut at: Position) -> Vec<StoredEvent> {
    let mut out = Vec::new();
    loop {
        let page = read(logs, s, ReadFrom::After(at), READ_LIMIT);
        let full = page.len() == READ_LIMIT;
        if let Some(last) = page.last() {
            at = last.pos;
        }
        out.extend(page);
        if !full {
            return out;
        }
    }
}

#[cfg(test)]
mod tests {
    use wharf_store::logs::{Append, NewGroup};

    use super::*;

    const R: &str = "us-east-1";

    fn source(container: &str, stream: &str) -> LogSource {
        LogSource {
            container: container.into(),
            region: R.into(),
            group: "/ecs/app".into(),
            stream: stream.into(),
        }
    }

    async fn append(logs: &LogStore, stream: &str, events: Vec<(i64, String)>) {
        let group = NewGroup {
            name: "/ecs/app".into(),
            created: 0,
            class: "STANDARD".into(),
            kms_key_id: None,
            tags: Default::default(),
        };
        let a = Append {
            group,
            stream: stream.into(),
            create_group: true,
            create_stream: true,
            events,
            ingested: 0,
            cursor: None,
        };
        logs.append(R, a).await.expect("append");
    }

    fn shown(lines: &[LogLine]) -> Vec<String> {
        lines.iter().map(|l| format!("{}@{} {}", l.container, l.ts, l.message)).collect()
    }

    #[tokio::test]
    async fn backlog_then_new_lines_interleaved_in_time_order() {
        let dir = tempfile::tempdir().expect("dir");
        let logs = Arc::new(LogStore::open(&dir.path().join("logs.db"), i64::MAX).expect("open"));
        append(&logs, "web", vec![(10, "a".into()), (30, "b".into()), (50, "c".into())]).await;
        let mut f = Follower::new(logs.clone());
        assert!(f.add(vec![source("web", "web"), source("side", "side")]));
        assert!(!f.add(vec![source("web", "web")]), "a known stream is not added twice");
        assert_eq!(shown(&f.read()), ["web@10 a", "web@30 b", "web@50 c"]);
        assert!(f.read().is_empty(), "nothing new");

        // The sidecar's stream appears later, with lines older than the web's last.
        append(&logs, "side", vec![(20, "x".into()), (40, "y".into())]).await;
        append(&logs, "web", vec![(60, "d".into())]).await;
        let appended =
            Appended { region: R.into(), group: "/ecs/app".into(), stream: "side".into() };
        assert!(f.follows(&appended));
        assert!(!f.follows(&Appended { stream: "other".into(), ..appended }));
        assert_eq!(shown(&f.read()), ["side@20 x", "side@40 y", "web@60 d"]);

        // A stream with a long past shows its newest lines only.
        append(&logs, "long", (0..250).map(|i| (i, format!("l{i}"))).collect()).await;
        f.add(vec![source("long", "long")]);
        let lines = f.read();
        assert_eq!(lines.len(), BACKLOG_PER_STREAM);
        assert_eq!(lines[0].message, "l50");
        assert_eq!(lines[BACKLOG_PER_STREAM - 1].message, "l249");
    }
}
