//! The local side of replicated logs: applying the log keys of etcd to this
//! server's `logs.sqlite3`, so that every read (GetLogEvents, filters, the
//! console's live view) runs on SQLite as it does with one server.
//!
//! Applying is deterministic: ids come from etcd (a group's and a stream's
//! id is its key's create revision; an event's is its batch key's create
//! revision times 10,000 plus its index), so every server's mirror holds the
//! same rows with the same ids, and positions and tokens handed out by one
//! server are understood by all.

use std::collections::BTreeMap;

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use wharf_model::logs::limits;

use super::{Appended, LogStoreError};

/// Events per batch key at most (CloudWatch's PutLogEvents limit), so that
/// ids derived from the key's revision never collide.
pub(crate) const EVENTS_PER_KEY: i64 = 10_000;

/// A log group's etcd value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct GroupValue {
    pub(crate) created: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) retention_days: Option<i32>,
    pub(crate) class: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) kms_key_id: Option<String>,
    #[serde(default)]
    pub(crate) tags: BTreeMap<String, String>,
    /// The write that last wrote it (for writes whose outcome was unknown).
    pub(crate) op: String,
}

/// A log stream's etcd value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StreamValue {
    pub(crate) created: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) cursor: Option<String>,
    /// The write that last wrote it.
    pub(crate) op: String,
}

/// Encodes a batch of events: `ingested\n` then, per event, `ts len\n`
/// and the message's bytes and a newline (no escaping: a message may hold
/// anything).
pub(crate) fn encode_batch(ingested: i64, events: &[(i64, String)]) -> Vec<u8> {
    let size: usize = events.iter().map(|(_, m)| m.len() + 24).sum();
    let mut out = Vec::with_capacity(size + 24);
    out.extend_from_slice(format!("{ingested}\n").as_bytes());
    for (ts, m) in events {
        out.extend_from_slice(format!("{ts} {}\n", m.len()).as_bytes());
        out.extend_from_slice(m.as_bytes());
        out.push(b'\n');
    }
    out
}

/// Decodes [`encode_batch`]'s output.
pub(crate) fn decode_batch(raw: &[u8]) -> Option<(i64, Vec<(i64, String)>)> {
    let line = |from: usize| -> Option<(&str, usize)> {
        let end = raw[from..].iter().position(|b| *b == b'\n')? + from;
        Some((std::str::from_utf8(&raw[from..end]).ok()?, end + 1))
    };
    let (head, mut at) = line(0)?;
    let ingested = head.parse().ok()?;
    let mut events = Vec::new();
    while at < raw.len() {
        let (head, next) = line(at)?;
        let (ts, len) = head.split_once(' ')?;
        let (ts, len): (i64, usize) = (ts.parse().ok()?, len.parse().ok()?);
        let end = next.checked_add(len)?;
        let message = std::str::from_utf8(raw.get(next..end)?).ok()?.to_owned();
        events.push((ts, message));
        at = end + 1;
    }
    Some((ingested, events))
}

/// One change of a log key, in the order etcd made them.
#[derive(Debug, Clone)]
pub(crate) struct Change {
    /// The key's components (`g`, region, group ...), and the cache key.
    pub(crate) parts: Vec<String>,
    pub(crate) key: String,
    /// The value and create revision after a put; `None` for a delete.
    pub(crate) put: Option<(Vec<u8>, i64)>,
}

/// What applying changed.
#[derive(Debug, Default)]
pub(crate) struct Applied {
    /// Bytes of events added (negative: freed).
    pub(crate) bytes: i64,
    /// Streams that received events.
    pub(crate) appended: Vec<Appended>,
    /// Whether groups or streams were deleted (their events await a purge).
    pub(crate) purge: bool,
}

fn group_id(c: &Connection, region: &str, name: &str) -> rusqlite::Result<Option<i64>> {
    c.prepare_cached("SELECT id FROM log_groups WHERE region = ?1 AND name = ?2")?
        .query_row(params![region, name], |r| r.get(0))
        .optional()
}

fn stream_id(c: &Connection, group: i64, name: &str) -> rusqlite::Result<Option<i64>> {
    c.prepare_cached("SELECT id FROM log_streams WHERE group_id = ?1 AND name = ?2")?
        .query_row(params![group, name], |r| r.get(0))
        .optional()
}

fn drop_group(c: &Connection, id: i64, out: &mut Applied) -> rusqlite::Result<()> {
    let bytes: i64 = c
        .query_row("SELECT stored_bytes FROM log_groups WHERE id = ?1", [id], |r| r.get(0))
        .optional()?
        .unwrap_or(0);
    c.execute("DELETE FROM log_streams WHERE group_id = ?1", [id])?;
    c.execute("DELETE FROM log_groups WHERE id = ?1", [id])?;
    c.execute("DELETE FROM log_batches WHERE group_id = ?1", [id])?;
    c.execute("INSERT INTO log_purge (group_id) VALUES (?1)", [id])?;
    out.bytes -= bytes;
    out.purge = true;
    Ok(())
}

fn drop_stream(c: &Connection, id: i64, out: &mut Applied) -> rusqlite::Result<()> {
    let found: Option<(i64, i64)> = c
        .query_row("SELECT group_id, stored_bytes FROM log_streams WHERE id = ?1", [id], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?;
    let Some((group, bytes)) = found else { return Ok(()) };
    c.execute("DELETE FROM log_streams WHERE id = ?1", [id])?;
    c.execute(
        "UPDATE log_groups SET stored_bytes = stored_bytes - ?1 WHERE id = ?2",
        params![bytes, group],
    )?;
    c.execute("DELETE FROM log_batches WHERE stream_id = ?1", [id])?;
    c.execute("INSERT INTO log_purge (stream_id) VALUES (?1)", [id])?;
    out.bytes -= bytes;
    out.purge = true;
    Ok(())
}

fn put_group(
    c: &Connection,
    region: &str,
    name: &str,
    id: i64,
    v: &GroupValue,
    out: &mut Applied,
) -> Result<(), LogStoreError> {
    if let Some(old) = group_id(c, region, name)?.filter(|old| *old != id) {
        drop_group(c, old, out)?;
    }
    let tags = serde_json::to_string(&v.tags).unwrap_or_else(|_| "{}".into());
    c.prepare_cached(
        "INSERT INTO log_groups (id, region, name, created, retention_days, class, kms_key_id, tags) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (id) DO UPDATE SET \
         retention_days = excluded.retention_days, class = excluded.class, \
         kms_key_id = excluded.kms_key_id, tags = excluded.tags",
    )?
    .execute(params![id, region, name, v.created, v.retention_days, v.class, v.kms_key_id, tags])?;
    Ok(())
}

fn put_stream(
    c: &Connection,
    group: i64,
    name: &str,
    id: i64,
    v: &StreamValue,
    out: &mut Applied,
) -> Result<(), LogStoreError> {
    if let Some(old) = stream_id(c, group, name)?.filter(|old| *old != id) {
        drop_stream(c, old, out)?;
    }
    c.prepare_cached(
        "INSERT INTO log_streams (id, group_id, name, created, cursor) VALUES (?1, ?2, ?3, ?4, ?5) \
         ON CONFLICT (id) DO UPDATE SET cursor = excluded.cursor",
    )?
    .execute(params![id, group, name, v.created, v.cursor])?;
    Ok(())
}

fn put_batch(
    c: &Connection,
    key: &str,
    (group, stream): (i64, i64),
    revision: i64,
    raw: &[u8],
) -> Result<i64, LogStoreError> {
    let Some((ingested, events)) = decode_batch(raw) else {
        tracing::error!(key, "a stored log batch could not be read; skipped");
        return Ok(0);
    };
    if events.is_empty() {
        return Ok(0);
    }
    let first = revision * EVENTS_PER_KEY;
    let mut insert = c.prepare_cached(
        "INSERT OR IGNORE INTO log_events (id, stream_id, group_id, ts, ingested, bytes, message) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    let (mut bytes, mut lo, mut hi) = (0i64, i64::MAX, i64::MIN);
    for (i, (ts, message)) in events.iter().enumerate() {
        let size = (message.len() + limits::EVENT_OVERHEAD) as i64;
        let id = first + i as i64;
        if insert.execute(params![id, stream, group, ts, ingested, size, message])? > 0 {
            bytes += size;
        }
        lo = lo.min(*ts);
        hi = hi.max(*ts);
    }
    c.prepare_cached(
        "UPDATE log_streams SET first_event = MIN(COALESCE(first_event, ?1), ?1), \
         last_event = MAX(COALESCE(last_event, ?2), ?2), last_ingestion = ?3, \
         stored_bytes = stored_bytes + ?4 WHERE id = ?5",
    )?
    .execute(params![lo, hi, ingested, bytes, stream])?;
    c.prepare_cached("UPDATE log_groups SET stored_bytes = stored_bytes + ?1 WHERE id = ?2")?
        .execute(params![bytes, group])?;
    let total: i64 = events.iter().map(|(_, m)| (m.len() + limits::EVENT_OVERHEAD) as i64).sum();
    c.prepare_cached(
        "INSERT OR REPLACE INTO log_batches (key, group_id, stream_id, first_id, count, max_ts, bytes) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![key, group, stream, first, events.len() as i64, hi, total])?;
    Ok(bytes)
}

fn drop_batch(c: &Connection, key: &str, out: &mut Applied) -> rusqlite::Result<()> {
    let found: Option<(i64, i64, i64, i64)> = c
        .query_row(
            "SELECT group_id, stream_id, first_id, count FROM log_batches WHERE key = ?1",
            [key],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()?;
    let Some((group, stream, first, count)) = found else { return Ok(()) };
    let last = first + count - 1;
    let bytes: i64 = c.query_row(
        "SELECT COALESCE(SUM(bytes), 0) FROM log_events WHERE id BETWEEN ?1 AND ?2",
        params![first, last],
        |r| r.get(0),
    )?;
    c.execute("DELETE FROM log_events WHERE id BETWEEN ?1 AND ?2", params![first, last])?;
    c.execute("DELETE FROM log_batches WHERE key = ?1", [key])?;
    let live = c.execute(
        "UPDATE log_streams SET stored_bytes = stored_bytes - ?1 WHERE id = ?2",
        params![bytes, stream],
    )?;
    if live > 0 {
        c.execute(
            "UPDATE log_groups SET stored_bytes = stored_bytes - ?1 WHERE id = ?2",
            params![bytes, group],
        )?;
        out.bytes -= bytes;
    }
    Ok(())
}

/// Applies changes in order and records `revision` as mirrored.
pub(crate) fn apply(
    c: &Connection,
    changes: &[Change],
    revision: i64,
    source: &str,
) -> Result<Applied, LogStoreError> {
    let mut out = Applied::default();
    for ch in changes {
        let p = &ch.parts;
        match (p.first().map(String::as_str), &ch.put) {
            (Some("g"), Some((raw, created))) if p.len() == 3 => {
                let Ok(v) = serde_json::from_slice::<GroupValue>(raw) else { continue };
                put_group(c, &p[1], &p[2], *created, &v, &mut out)?;
            }
            (Some("g"), None) if p.len() == 3 => {
                if let Some(id) = group_id(c, &p[1], &p[2])? {
                    drop_group(c, id, &mut out)?;
                }
            }
            (Some("s"), Some((raw, created))) if p.len() == 4 => {
                let Ok(v) = serde_json::from_slice::<StreamValue>(raw) else { continue };
                let Some(g) = group_id(c, &p[1], &p[2])? else { continue };
                put_stream(c, g, &p[3], *created, &v, &mut out)?;
            }
            (Some("s"), None) if p.len() == 4 => {
                let Some(g) = group_id(c, &p[1], &p[2])? else { continue };
                if let Some(s) = stream_id(c, g, &p[3])? {
                    drop_stream(c, s, &mut out)?;
                }
            }
            (Some("e"), Some((raw, created))) if p.len() == 5 => {
                let Some(g) = group_id(c, &p[1], &p[2])? else { continue };
                let Some(s) = stream_id(c, g, &p[3])? else { continue };
                let added = put_batch(c, &ch.key, (g, s), *created, raw)?;
                out.bytes += added;
                out.appended.push(Appended {
                    region: p[1].clone(),
                    group: p[2].clone(),
                    stream: p[3].clone(),
                });
            }
            (Some("e"), None) if p.len() == 5 => drop_batch(c, &ch.key, &mut out)?,
            _ => {}
        }
    }
    set_revision(c, source, revision)?;
    Ok(out)
}

/// The revision mirrored from `source`, if this database mirrors it.
pub(crate) fn revision(c: &Connection, source: &str) -> rusqlite::Result<Option<i64>> {
    c.query_row("SELECT revision FROM log_mirror WHERE source = ?1", [source], |r| r.get(0))
        .optional()
}

fn set_revision(c: &Connection, source: &str, revision: i64) -> rusqlite::Result<()> {
    let n = c.execute(
        "UPDATE log_mirror SET revision = ?2 WHERE source = ?1",
        params![source, revision],
    )?;
    if n == 0 {
        c.execute("DELETE FROM log_mirror", [])?;
        c.execute(
            "INSERT INTO log_mirror (source, revision) VALUES (?1, ?2)",
            params![source, revision],
        )?;
    }
    Ok(())
}

/// Empties the database, to load it afresh from `source` (revision 0 until
/// the load completes).
pub(crate) fn wipe(c: &Connection, source: &str) -> rusqlite::Result<()> {
    c.execute_batch(
        "DELETE FROM log_events; DELETE FROM log_streams; DELETE FROM log_groups; \
         DELETE FROM log_purge; DELETE FROM log_batches;",
    )?;
    set_revision(c, source, 0)
}

/// Batches to delete: a group's whose newest event is before `cutoff`.
pub(crate) fn batches_before(
    c: &Connection,
    group: i64,
    cutoff: i64,
) -> rusqlite::Result<Vec<(String, i64)>> {
    let mut stmt = c.prepare_cached(
        "SELECT key, count FROM log_batches WHERE group_id = ?1 AND max_ts < ?2 ORDER BY first_id",
    )?;
    let rows = stmt.query_map(params![group, cutoff], |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect()
}

/// The oldest batches, in append order, until they free `need` bytes.
pub(crate) fn oldest_batches(c: &Connection, need: i64) -> rusqlite::Result<Vec<(String, i64)>> {
    let mut stmt =
        c.prepare_cached("SELECT key, count, bytes FROM log_batches ORDER BY first_id LIMIT 1000")?;
    let rows =
        stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get(1)?, r.get::<_, i64>(2)?)))?;
    let mut out = Vec::new();
    let mut freed = 0;
    for row in rows {
        let (key, count, bytes) = row?;
        if freed >= need {
            break;
        }
        freed += bytes;
        out.push((key, count));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_round_trip_any_message() {
        let events = vec![(1, "a\nb".to_owned()), (2, String::new()), (3, "é 9\n\n".to_owned())];
        let raw = encode_batch(77, &events);
        assert_eq!(decode_batch(&raw), Some((77, events)));
        assert_eq!(decode_batch(b"1\n5 3\nab"), None);
    }
}
