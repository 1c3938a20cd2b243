//! Events: appends (one transaction each, with the stream's cursor), reads of
//! one stream by time and position, and filtered reads of a group in time
//! order with the pattern's [`Prefilter`] pushed into SQL.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use rusqlite::types::Value as SqlValue;
use rusqlite::{params, params_from_iter, Connection};
use wharf_model::logs::filter::{Pattern, Prefilter};
use wharf_model::logs::{limits, Position};

use super::{
    group_id, insert_group, insert_stream, stream_id, Appended, LogStore, LogStoreError, NewGroup,
};

/// Events to append to one stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Append {
    /// The group (created when missing if `create_group`).
    pub group: NewGroup,
    /// The stream (created when missing if `create_stream`).
    pub stream: String,
    /// Create the group if it does not exist.
    pub create_group: bool,
    /// Create the stream if it does not exist.
    pub create_stream: bool,
    /// (timestamp ms, message), any number, any order.
    pub events: Vec<(i64, String)>,
    /// When they were received, ms since the epoch.
    pub ingested: i64,
    /// Stored on the stream in the same transaction, if given.
    pub cursor: Option<String>,
}

/// An event as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    /// Its position (timestamp, sequence).
    pub pos: Position,
    /// When it was ingested.
    pub ingested: i64,
    /// The message.
    pub message: String,
}

/// Where a stream read starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadFrom {
    /// The oldest events of the range.
    Head,
    /// The newest events of the range.
    Tail,
    /// The events just after this position, oldest first.
    After(Position),
    /// The events just before this position (returned oldest first).
    Before(Position),
}

/// A read of one stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamRead {
    /// Events at or after this timestamp.
    pub start: Option<i64>,
    /// Events before this timestamp.
    pub end: Option<i64>,
    /// Where to start.
    pub from: ReadFrom,
    /// At most this many events (and at most 1 MiB of messages).
    pub limit: usize,
}

/// A filtered read of a group, in (timestamp, sequence) order.
#[derive(Debug, Clone)]
pub struct FilterQuery {
    /// Only these streams (names), if given.
    pub streams: Option<Vec<String>>,
    /// Only streams whose names start with this, if given.
    pub prefix: Option<String>,
    /// Events at or after this timestamp.
    pub start: Option<i64>,
    /// Events at or before this timestamp (FilterLogEvents' `endTime` is inclusive).
    pub end: Option<i64>,
    /// Resume after this position.
    pub after: Option<Position>,
    /// At most this many events.
    pub limit: usize,
    /// What the messages must match.
    pub pattern: Arc<Pattern>,
}

/// A matched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilteredEvent {
    /// The stream it is in.
    pub stream: String,
    /// The event.
    pub event: StoredEvent,
}

/// One page of a filtered read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterPage {
    /// Matches, oldest first.
    pub events: Vec<FilteredEvent>,
    /// Where the next page starts, if the search stopped before the end.
    pub next: Option<Position>,
}

/// The most candidate rows one filtered read examines before it answers with
/// what it has and a position to resume from.
const MAX_SCANNED: usize = 2_000_000;

fn append_events(c: &Connection, region: &str, a: &Append) -> Result<i64, LogStoreError> {
    let gid = match group_id(c, region, &a.group.name) {
        Err(LogStoreError::NoSuchGroup) if a.create_group => insert_group(c, region, &a.group)?,
        other => other?,
    };
    let sid = match stream_id(c, gid, &a.stream) {
        Err(LogStoreError::NoSuchStream) if a.create_stream => {
            insert_stream(c, gid, &a.stream, a.ingested)?
        }
        other => other?,
    };
    let mut insert = c.prepare_cached(
        "INSERT INTO log_events (stream_id, group_id, ts, ingested, bytes, message) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    let (mut bytes, mut first, mut last) = (0i64, i64::MAX, i64::MIN);
    for (ts, message) in &a.events {
        let size = (message.len() + limits::EVENT_OVERHEAD) as i64;
        insert.execute(params![sid, gid, ts, a.ingested, size, message])?;
        bytes += size;
        first = first.min(*ts);
        last = last.max(*ts);
    }
    if a.events.is_empty() {
        c.prepare_cached("UPDATE log_streams SET cursor = COALESCE(?1, cursor) WHERE id = ?2")?
            .execute(params![a.cursor, sid])?;
        return Ok(0);
    }
    c.prepare_cached(
        "UPDATE log_streams SET first_event = MIN(COALESCE(first_event, ?1), ?1), \
         last_event = MAX(COALESCE(last_event, ?2), ?2), last_ingestion = ?3, \
         stored_bytes = stored_bytes + ?4, cursor = COALESCE(?5, cursor) WHERE id = ?6",
    )?
    .execute(params![first, last, a.ingested, bytes, a.cursor, sid])?;
    c.prepare_cached("UPDATE log_groups SET stored_bytes = stored_bytes + ?1 WHERE id = ?2")?
        .execute(params![bytes, gid])?;
    Ok(bytes)
}

fn read_event(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredEvent> {
    Ok(StoredEvent {
        pos: Position { ts: r.get(1)?, seq: r.get(0)? },
        ingested: r.get(2)?,
        message: r.get(3)?,
    })
}

/// Appends `push` while the answer stays within CloudWatch's 1 MiB (always
/// at least one event).
fn within_budget(total: &mut usize, message: &str, have: usize) -> bool {
    *total += message.len() + limits::EVENT_OVERHEAD;
    have == 0 || *total <= limits::MAX_READ_BYTES
}

fn read_stream_events(
    c: &Connection,
    sid: i64,
    q: &StreamRead,
) -> Result<Vec<StoredEvent>, LogStoreError> {
    let (start, end) = (q.start.unwrap_or(i64::MIN), q.end.unwrap_or(i64::MAX));
    let (cmp, order, at) = match q.from {
        ReadFrom::Head => ("1", "ts, id", Position::START),
        ReadFrom::Tail => ("1", "ts DESC, id DESC", Position::START),
        ReadFrom::After(p) => ("(ts, id) > (?4, ?5)", "ts, id", p),
        ReadFrom::Before(p) => ("(ts, id) < (?4, ?5)", "ts DESC, id DESC", p),
    };
    let mut stmt = c.prepare_cached(&format!(
        "SELECT id, ts, ingested, message FROM log_events WHERE stream_id = ?1 \
         AND ts >= ?2 AND ts < ?3 AND {cmp} \
         ORDER BY {order} LIMIT ?6"
    ))?;
    let rows =
        stmt.query_map(params![sid, start, end, at.ts, at.seq, q.limit as i64], read_event)?;
    let mut out = Vec::new();
    let mut total = 0;
    for row in rows {
        let e = row?;
        if !within_budget(&mut total, &e.message, out.len()) {
            break;
        }
        out.push(e);
    }
    if matches!(q.from, ReadFrom::Tail | ReadFrom::Before(_)) {
        out.reverse();
    }
    Ok(out)
}

/// Writes a prefilter as SQL over `message`, pushing its texts onto `args`.
fn prefilter_sql(p: &Prefilter, args: &mut Vec<SqlValue>) -> String {
    let mut join = |parts: &[Prefilter], op: &str| {
        let sql: Vec<String> = parts.iter().map(|p| prefilter_sql(p, args)).collect();
        format!("({})", sql.join(op))
    };
    match p {
        Prefilter::All => "1".into(),
        Prefilter::Contains(s) => {
            args.push(SqlValue::Text(s.clone()));
            format!("instr(message, ?{}) > 0", args.len())
        }
        Prefilter::Lacks(s) => {
            args.push(SqlValue::Text(s.clone()));
            format!("instr(message, ?{}) = 0", args.len())
        }
        Prefilter::And(ps) => join(ps, " AND "),
        Prefilter::Or(ps) => join(ps, " OR "),
    }
}

fn filter_events(
    c: &Connection,
    region: &str,
    group: &str,
    q: &FilterQuery,
) -> Result<FilterPage, LogStoreError> {
    let gid = group_id(c, region, group)?;
    let mut names: HashMap<i64, String> = HashMap::new();
    {
        let mut stmt = c.prepare_cached("SELECT id, name FROM log_streams WHERE group_id = ?1")?;
        let rows = stmt.query_map([gid], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
        for row in rows {
            let (id, name) = row?;
            let wanted = q.streams.as_ref().is_none_or(|s| s.contains(&name))
                && q.prefix.as_ref().is_none_or(|p| name.starts_with(p.as_str()));
            if wanted {
                names.insert(id, name);
            }
        }
    }
    let selected = q.streams.is_some() || q.prefix.is_some();
    if selected && names.is_empty() {
        return Ok(FilterPage { events: Vec::new(), next: None });
    }
    let after = q.after.unwrap_or(Position { ts: i64::MIN, seq: i64::MIN });
    let mut args: Vec<SqlValue> = vec![
        SqlValue::Integer(gid),
        SqlValue::Integer(q.start.unwrap_or(i64::MIN)),
        SqlValue::Integer(q.end.unwrap_or(i64::MAX)),
        SqlValue::Integer(after.ts),
        SqlValue::Integer(after.seq),
    ];
    let streams_sql = if selected {
        let ids: Vec<String> = names.keys().map(i64::to_string).collect();
        args.push(SqlValue::Text(format!("[{}]", ids.join(","))));
        format!("AND stream_id IN (SELECT value FROM json_each(?{}))", args.len())
    } else {
        String::new()
    };
    let pre = prefilter_sql(&q.pattern.prefilter(), &mut args);
    let sql = format!(
        "SELECT id, ts, ingested, message, stream_id FROM log_events \
         WHERE group_id = ?1 AND ts >= ?2 AND ts <= ?3 AND (ts, id) > (?4, ?5) {streams_sql} \
         AND {pre} ORDER BY ts, id"
    );
    let mut stmt = c.prepare(&sql)?;
    let mut rows = stmt.query(params_from_iter(args))?;
    let mut events = Vec::new();
    let (mut total, mut scanned) = (0, 0);
    let mut last = None;
    while let Some(row) = rows.next()? {
        scanned += 1;
        let pos = Position { ts: row.get(1)?, seq: row.get(0)? };
        if events.len() >= q.limit || scanned > MAX_SCANNED {
            return Ok(FilterPage { events, next: last });
        }
        last = Some(pos);
        let message = row.get_ref(3)?.as_str().map_err(rusqlite::Error::from)?;
        if !q.pattern.matches(message) {
            continue;
        }
        if !within_budget(&mut total, message, events.len()) {
            return Ok(FilterPage { events, next: Some(pos) });
        }
        let stream_id: i64 = row.get(4)?;
        let Some(stream) = names.get(&stream_id) else { continue };
        events.push(FilteredEvent {
            stream: stream.clone(),
            event: StoredEvent { pos, ingested: row.get(2)?, message: message.to_owned() },
        });
    }
    Ok(FilterPage { events, next: None })
}

impl LogStore {
    /// Appends events (and the cursor) to a stream in one transaction; the
    /// events are readable when this returns. Returns the bytes added.
    pub async fn append(&self, region: &str, append: Append) -> Result<i64, LogStoreError> {
        if let Some(r) = &self.0.replica {
            // The mirror announces the append when it applies it; trimming
            // to the budget is the leader's (retention).
            r.append(region, &append).await?;
            let bytes =
                append.events.iter().map(|(_, m)| (m.len() + limits::EVENT_OVERHEAD) as i64).sum();
            return Ok(bytes);
        }
        let notice = Appended {
            region: region.to_owned(),
            group: append.group.name.clone(),
            stream: append.stream.clone(),
        };
        let region = region.to_owned();
        let bytes = self.0.writer.write_as(move |c| append_events(c, &region, &append)).await?;
        // Nobody listening is fine.
        let _ = self.0.appended.send(notice);
        let total = self.0.total.fetch_add(bytes, Ordering::SeqCst) + bytes;
        if total > self.0.max_bytes {
            self.spawn_trim();
        }
        Ok(bytes)
    }

    /// Reads events of one stream.
    pub fn read_stream(
        &self,
        region: &str,
        group: &str,
        stream: &str,
        q: &StreamRead,
    ) -> Result<Vec<StoredEvent>, LogStoreError> {
        self.read(|c| {
            let gid = group_id(c, region, group)?;
            let sid = stream_id(c, gid, stream)?;
            read_stream_events(c, sid, q)
        })
    }

    /// Finds the events of a group that match a pattern, in time order. Runs
    /// on a blocking thread: a search may read millions of rows.
    pub async fn filter(
        &self,
        region: &str,
        group: &str,
        q: FilterQuery,
    ) -> Result<FilterPage, LogStoreError> {
        let (store, region, group) = (self.clone(), region.to_owned(), group.to_owned());
        tokio::task::spawn_blocking(move || store.read(|c| filter_events(c, &region, &group, &q)))
            .await
            .map_err(|e| LogStoreError::Store(crate::StoreError::Database(e.to_string())))?
    }
}
