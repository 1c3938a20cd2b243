//! Where shipping stands in a container's output, exactly.
//!
//! The engine's log is append-only and its `since` filter is a plain
//! comparison (`timestamp >= since`), so reading the log from the same
//! `since` again yields the same messages in the same order. A [`Cursor`] is
//! then "the first `skip` messages of the log read from `since` are
//! shipped": resuming skips exactly those, whatever the order of the
//! timestamps (stdout and stderr are stamped by separate readers and may be
//! slightly out of order). [`Tracker`] moves `since` forward as output goes
//! by, keeping a few seconds of slack, so that a resume never re-reads more
//! than a few seconds of output.

use std::collections::BTreeMap;

/// Seconds `since` stays behind the newest message when it moves forward:
/// more than any reordering between a container's stdout and stderr.
const SLACK_SECS: i64 = 5;

/// The shipped position in a container's output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// The `since` (seconds since the epoch) the log is read from.
    pub since: i64,
    /// How many messages of that read are shipped.
    pub skip: u64,
}

impl Cursor {
    /// The start of a container's output.
    pub const START: Cursor = Cursor { since: 0, skip: 0 };

    /// The cursor as stored with the log stream.
    pub fn encode(&self) -> String {
        format!("v1:{}:{}", self.since, self.skip)
    }

    /// A stored cursor; `None` if it is not one of ours.
    pub fn decode(s: &str) -> Option<Cursor> {
        let mut parts = s.strip_prefix("v1:")?.splitn(2, ':');
        let since = parts.next()?.parse().ok()?;
        let skip = parts.next()?.parse().ok()?;
        Some(Cursor { since, skip })
    }
}

/// Counts the messages read and moves `since` forward.
#[derive(Debug, Clone)]
pub struct Tracker {
    since: i64,
    /// Messages read at or after `since`.
    count: u64,
    /// Of those, how many fell in each second.
    per_second: BTreeMap<i64, u64>,
}

impl Tracker {
    /// A tracker for a read that starts at `cursor` (after its skipped
    /// messages have been read and counted by [`Tracker::read`]).
    pub fn new(cursor: Cursor) -> Self {
        Self { since: cursor.since, count: 0, per_second: BTreeMap::new() }
    }

    /// Counts one message read, stamped `timestamp_ns`; the cursor just after it.
    pub fn read(&mut self, timestamp_ns: i64) -> Cursor {
        let second = timestamp_ns.div_euclid(1_000_000_000);
        if second >= self.since {
            self.count += 1;
            *self.per_second.entry(second).or_default() += 1;
        }
        let newest = self.per_second.keys().next_back().copied().unwrap_or(self.since);
        if newest - self.since > 2 * SLACK_SECS {
            let since = newest - SLACK_SECS;
            let kept = self.per_second.split_off(&since);
            self.count = kept.values().sum();
            self.per_second = kept;
            self.since = since;
        }
        self.cursor()
    }

    /// Where it stands.
    pub fn cursor(&self) -> Cursor {
        Cursor { since: self.since, skip: self.count }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;

    #[test]
    fn encodes_and_decodes() {
        let c = Cursor { since: 1_700_000_000, skip: 42 };
        assert_eq!(Cursor::decode(&c.encode()), Some(c));
        assert_eq!(Cursor::decode("v2:1:2"), None);
        assert_eq!(Cursor::decode("v1:x:2"), None);
    }

    /// Reading the same log again from a cursor and skipping its count lands
    /// exactly after the message the cursor was taken at, even with
    /// timestamps out of order and `since` moved forward.
    #[test]
    fn resumes_exactly_after_the_cursor() {
        // Timestamps: mostly increasing, a few out of order by under a second.
        let log: Vec<i64> =
            (0..400).map(|i| 100 * S + i * S / 10 - if i % 7 == 3 { S / 2 } else { 0 }).collect();
        let mut tracker = Tracker::new(Cursor::START);
        let cursors: Vec<Cursor> = log.iter().map(|ts| tracker.read(*ts)).collect();
        assert!(cursors.last().expect("cursor").since > 100, "since moves forward");
        for (i, c) in cursors.iter().enumerate() {
            // What the engine returns for `since = c.since`: the messages at or after it.
            let read: Vec<usize> =
                (0..log.len()).filter(|j| log[*j].div_euclid(S) >= c.since).collect();
            let resumed = read.get(c.skip as usize).copied();
            assert_eq!(resumed, (i + 1 < log.len()).then_some(i + 1), "cursor {i}: {c:?}");
        }
    }
}
