//! A container's output messages into log events, as Docker's awslogs driver
//! makes them: one event per line (without its newline; empty lines are no
//! event), or with a multiline pattern one event per line that matches it
//! plus the lines after it (each line keeping its newline); events longer
//! than CloudWatch's limit split into several. Pure: messages and time in,
//! events out.
//!
//! Each output [`Piece`] carries the [`Cursor`] after the last message it
//! contains, and pieces come out in the order of their first message, so a
//! shipper that stores each piece's events with its cursor resumes exactly
//! after what it stored. (A line longer than the engine's 16 KiB message
//! arrives as several messages; lines of the other stream that complete
//! meanwhile wait for it, and come out in the same piece.)

use std::collections::VecDeque;

use regex_lite::Regex;
use wharf_model::agent::ShippedEvent;

use super::cursor::{Cursor, Tracker};
use crate::runtime::{LogMessage, LogSource};

/// CloudWatch's largest event (256 KiB) less its 26 bytes of overhead, as
/// Docker's awslogs driver splits at (`maximumBytesPerEvent`).
pub const MAX_EVENT_BYTES: usize = 262_144 - 26;

/// Events to store together, and the cursor to store with them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    /// The events, in order (possibly none: empty lines advance the cursor).
    pub events: Vec<ShippedEvent>,
    /// The position after the last message in them.
    pub cursor: Cursor,
}

/// A cursor with its place in this read, so that two can be compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Mark {
    /// Messages taken in by this assembler before the cursor.
    seq: u64,
    cursor: Cursor,
}

/// A line being put together from one stream's messages.
#[derive(Debug)]
struct Line {
    source: LogSource,
    timestamp_ms: i64,
    bytes: Vec<u8>,
    /// Where the output stood before its first message.
    before: Mark,
    /// Where it stood after its last message, once it is complete.
    end: Option<Mark>,
}

/// A multiline event waiting for its next line.
#[derive(Debug)]
struct Pending {
    timestamp_ms: i64,
    /// When its first line was read (ms), for the flush interval.
    read_ms: i64,
    text: Vec<u8>,
    /// Where the output stood after its last line.
    end: Mark,
}

/// Puts one container's output together into events.
#[derive(Debug)]
pub struct Assembler {
    multiline: Option<Regex>,
    flush_after_ms: i64,
    tracker: Tracker,
    /// Where the output stands.
    at: Mark,
    /// Lines in the order of their first message; the front ones that are
    /// complete are released.
    lines: VecDeque<Line>,
    pending: Option<Pending>,
    /// Where the last piece released left the output.
    released: Mark,
}

impl Assembler {
    /// An assembler for output read from `cursor` (its skipped messages
    /// passed to [`Assembler::skip`]).
    pub fn new(multiline: Option<Regex>, flush_after_ms: i64, cursor: Cursor) -> Self {
        let at = Mark { seq: 0, cursor };
        Self {
            multiline,
            flush_after_ms,
            tracker: Tracker::new(cursor),
            at,
            lines: VecDeque::new(),
            pending: None,
            released: at,
        }
    }

    fn read(&mut self, message: &LogMessage) -> Mark {
        let cursor = self.tracker.read(message.timestamp_ns);
        self.at = Mark { seq: self.at.seq + 1, cursor };
        self.at
    }

    /// Counts a message that was shipped before (when resuming) without
    /// making events of it.
    pub fn skip(&mut self, message: &LogMessage) {
        self.released = self.read(message);
    }

    /// Takes in one message; the pieces it completes.
    pub fn push(&mut self, message: &LogMessage) -> Vec<Piece> {
        let before = self.at;
        let at = self.read(message);
        let complete = message.bytes.last() == Some(&b'\n');
        let body =
            if complete { &message.bytes[..message.bytes.len() - 1] } else { &message.bytes[..] };
        let open = self.lines.iter_mut().find(|l| l.source == message.source && l.end.is_none());
        let end = complete.then_some(at);
        match open {
            Some(line) => {
                line.bytes.extend_from_slice(body);
                line.end = end;
            }
            None => self.lines.push_back(Line {
                source: message.source,
                timestamp_ms: message.timestamp_ns.div_euclid(1_000_000),
                bytes: body.to_vec(),
                before,
                end,
            }),
        }
        self.release().into_iter().collect()
    }

    /// The multiline event, if its flush interval has passed at `now_ms`.
    pub fn flush_due(&mut self, now_ms: i64) -> Option<Piece> {
        let due = self.pending.as_ref().is_some_and(|p| {
            let age = now_ms - p.read_ms;
            age >= self.flush_after_ms || age < 0
        });
        if !due {
            return None;
        }
        let (events, end) = self.take_pending();
        let end = self.bounded(end?);
        Some(self.piece(events, end))
    }

    /// When [`Assembler::flush_due`] should be asked next (ms), if ever.
    pub fn next_flush_ms(&self) -> Option<i64> {
        self.pending.as_ref().map(|p| p.read_ms + self.flush_after_ms)
    }

    /// The output ended: everything still held, as one last piece.
    pub fn finish(&mut self) -> Option<Piece> {
        let mut events = Vec::new();
        let lines: Vec<Line> = self.lines.drain(..).collect();
        for line in lines {
            events.extend(self.line(line).0);
        }
        events.extend(self.take_pending().0);
        let at = self.at;
        (at != self.released || !events.is_empty()).then(|| self.piece(events, at))
    }

    fn piece(&mut self, events: Vec<ShippedEvent>, end: Mark) -> Piece {
        let end = if end.seq >= self.released.seq { end } else { self.released };
        self.released = end;
        Piece { events, cursor: end.cursor }
    }

    /// `end`, held back to just before the first message of a line still
    /// open: the cursor never passes output that is not shipped.
    fn bounded(&self, end: Mark) -> Mark {
        match self.lines.front() {
            Some(open) if open.before.seq < end.seq => open.before,
            _ => end,
        }
    }

    /// Releases the complete lines at the front.
    fn release(&mut self) -> Option<Piece> {
        let mut events = Vec::new();
        let mut end: Option<Mark> = None;
        while self.lines.front().is_some_and(|l| l.end.is_some()) {
            let Some(line) = self.lines.pop_front() else { break };
            let (done, upto) = self.line(line);
            events.extend(done);
            end = match (end, upto) {
                (Some(a), Some(b)) => Some(if b.seq > a.seq { b } else { a }),
                (a, b) => b.or(a),
            };
        }
        let end = self.bounded(end?);
        Some(self.piece(events, end))
    }

    /// One complete line: the events it completes, and where the output
    /// stands after the last of them.
    fn line(&mut self, line: Line) -> (Vec<ShippedEvent>, Option<Mark>) {
        let line_end = line.end.unwrap_or(self.at);
        let Some(pattern) = &self.multiline else {
            return (split(&line.bytes, line.timestamp_ms), Some(line_end));
        };
        let starts = pattern.is_match(&String::from_utf8_lossy(&line.bytes));
        let too_long = self
            .pending
            .as_ref()
            .is_some_and(|p| effective_len(&p.text) + effective_len(&line.bytes) > MAX_EVENT_BYTES);
        let mut done = (Vec::new(), None);
        if starts || too_long {
            let began = self.pending.as_ref().map(|p| p.timestamp_ms);
            done = self.take_pending();
            if let (false, Some(timestamp_ms)) = (starts, began) {
                // A split event keeps the timestamp of the line that began it.
                self.pending = Some(Pending {
                    timestamp_ms,
                    read_ms: line.timestamp_ms,
                    text: Vec::new(),
                    end: line_end,
                });
            }
        }
        let p = self.pending.get_or_insert(Pending {
            timestamp_ms: line.timestamp_ms,
            read_ms: line.timestamp_ms,
            text: Vec::new(),
            end: line_end,
        });
        let newline = effective_len(&line.bytes) < MAX_EVENT_BYTES;
        p.text.extend_from_slice(&line.bytes);
        if newline {
            p.text.push(b'\n');
        }
        p.end = line_end;
        done
    }

    fn take_pending(&mut self) -> (Vec<ShippedEvent>, Option<Mark>) {
        match self.pending.take() {
            Some(p) => (split(&p.text, p.timestamp_ms), Some(p.end)),
            None => (Vec::new(), None),
        }
    }
}

/// The length of bytes once invalid UTF-8 is replaced by U+FFFD (3 bytes).
fn effective_len(bytes: &[u8]) -> usize {
    String::from_utf8_lossy(bytes).len()
}

/// Text as events of at most [`MAX_EVENT_BYTES`], split on character
/// boundaries; nothing for empty text.
fn split(bytes: &[u8], timestamp_ms: i64) -> Vec<ShippedEvent> {
    let text = String::from_utf8_lossy(bytes);
    let mut events = Vec::new();
    let mut rest: &str = &text;
    while !rest.is_empty() {
        let mut at = rest.len().min(MAX_EVENT_BYTES);
        while !rest.is_char_boundary(at) {
            at -= 1;
        }
        let (head, tail) = rest.split_at(at);
        events.push(ShippedEvent { timestamp: timestamp_ms, message: head.to_owned() });
        rest = tail;
    }
    events
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(ms: i64, source: LogSource, text: &str) -> LogMessage {
        LogMessage { timestamp_ns: ms * 1_000_000, source, bytes: text.as_bytes().to_vec().into() }
    }

    fn out(ms: i64, text: &str) -> LogMessage {
        msg(ms, LogSource::Stdout, text)
    }

    fn texts(pieces: &[Piece]) -> Vec<String> {
        pieces.iter().flat_map(|p| p.events.iter().map(|e| e.message.clone())).collect()
    }

    #[test]
    fn one_event_per_line_and_none_for_empty_lines() {
        let mut a = Assembler::new(None, 5000, Cursor::START);
        let p1 = a.push(&out(1000, "hello\n"));
        assert_eq!(texts(&p1), ["hello"]);
        assert_eq!(p1[0].events[0].timestamp, 1000);
        let p2 = a.push(&out(1001, "\n"));
        assert!(p2[0].events.is_empty(), "an empty line is no event");
        assert_eq!(p2[0].cursor.skip, 2, "but it is consumed");
        assert_eq!(a.finish(), None);
    }

    #[test]
    fn partial_messages_join_and_hold_back_the_other_stream() {
        let mut a = Assembler::new(None, 5000, Cursor::START);
        assert!(a.push(&out(1, "abc")).is_empty());
        let held = a.push(&msg(2, LogSource::Stderr, "err\n"));
        assert!(held.is_empty(), "stderr waits behind the open stdout line");
        let p = a.push(&out(3, "def\n"));
        assert_eq!(texts(&p), ["abcdef", "err"]);
        assert_eq!(p.len(), 1, "released together, in one piece");
        assert_eq!(p[0].cursor.skip, 3);
        assert_eq!(p[0].events[0].timestamp, 1, "a line keeps its first message's time");
    }

    #[test]
    fn multiline_events_gather_until_the_next_start() {
        let re = Regex::new(r"^\d{4}-").expect("pattern");
        let mut a = Assembler::new(Some(re), 5000, Cursor::START);
        assert!(a.push(&out(10, "2024-01-01 boom\n")).is_empty());
        assert!(a.push(&out(11, "  at a()\n")).is_empty());
        assert!(a.push(&out(12, "  at b()\n")).is_empty());
        let p = a.push(&out(20, "2024-01-01 next\n"));
        assert_eq!(texts(&p), ["2024-01-01 boom\n  at a()\n  at b()\n"]);
        assert_eq!(p[0].events[0].timestamp, 10);
        assert_eq!(p[0].cursor.skip, 3, "the cursor stops before the pending event");
        assert_eq!(a.next_flush_ms(), Some(5020));
        assert_eq!(a.flush_due(5019), None);
        let f = a.flush_due(5020).expect("flushed after the interval");
        assert_eq!(texts(std::slice::from_ref(&f)), ["2024-01-01 next\n"]);
        assert_eq!(f.cursor.skip, 4);
    }

    #[test]
    fn finish_releases_everything_held() {
        let re = Regex::new("^START").expect("pattern");
        let mut a = Assembler::new(Some(re), 5000, Cursor::START);
        a.push(&out(1, "START\n"));
        a.push(&out(2, "more\n"));
        a.push(&out(3, "unterminated"));
        let last = a.finish().expect("a last piece");
        // A last line without its newline still joins the event.
        assert_eq!(texts(std::slice::from_ref(&last)), ["START\nmore\nunterminated\n"]);
        assert_eq!(last.cursor.skip, 3);
    }

    #[test]
    fn long_lines_split_at_the_event_limit_on_character_boundaries() {
        let line = "é".repeat(MAX_EVENT_BYTES); // 2 bytes each
        let mut a = Assembler::new(None, 5000, Cursor::START);
        let p = a.push(&out(1, &format!("{line}\n")));
        let events = &p[0].events;
        assert_eq!(events.len(), 2);
        assert!(events.iter().all(|e| e.message.len() <= MAX_EVENT_BYTES));
        assert_eq!(events.iter().map(|e| e.message.len()).sum::<usize>(), line.len());
    }

    #[test]
    fn resuming_skips_exactly_what_was_shipped() {
        let log: Vec<LogMessage> =
            (0..50).map(|i| out(1000 + i / 3, &format!("line {i}\n"))).collect();
        let mut first = Assembler::new(None, 5000, Cursor::START);
        let mut shipped: Vec<String> = Vec::new();
        let mut cursor = Cursor::START;
        for m in &log[..20] {
            for p in first.push(m) {
                shipped.extend(p.events.into_iter().map(|e| e.message));
                cursor = p.cursor;
            }
        }
        let mut again = Assembler::new(None, 5000, cursor);
        let since_ns = cursor.since * 1_000_000_000;
        let reread: Vec<&LogMessage> = log.iter().filter(|m| m.timestamp_ns >= since_ns).collect();
        for (i, m) in reread.into_iter().enumerate() {
            if (i as u64) < cursor.skip {
                again.skip(m);
            } else {
                for p in again.push(m) {
                    shipped.extend(p.events.into_iter().map(|e| e.message));
                }
            }
        }
        let expected: Vec<String> = (0..50).map(|i| format!("line {i}")).collect();
        assert_eq!(shipped, expected);
    }
}
