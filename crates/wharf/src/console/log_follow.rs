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
        lines.sort_by(|a, b| a.0.cmp(&b.0));
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
