//! The log store: CloudWatch Logs groups, streams and events in their own
//! SQLite file (`logs.sqlite3`) with their own group-commit writer thread, so
//! heavy log ingest never delays a control-plane commit.
//!
//! Guarantees, as for [`crate::Store`]: an acknowledged write is durable (WAL,
//! `synchronous = FULL`); each write (an append with its cursor, a group
//! creation, ...) is one transaction; concurrent appends share a commit.
//! Reads run on a small pool of read-only connections and see every
//! acknowledged write. Retention and the disk budget delete in small batches
//! ([`expiry`]), one writer job each, so the writer is never held long.

mod events;
mod expiry;
mod mirror;
mod replica;
mod schema;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;

use rusqlite::{params, Connection, OptionalExtension};

use crate::pool::ReadPool;
use crate::writer::Writer;
use crate::{checkpoint, StoreError};

pub use events::{
    Append, FilterPage, FilterQuery, FilteredEvent, ReadFrom, StoredEvent, StreamRead,
};
pub use expiry::RetentionPolicy;

/// Why a log store operation failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LogStoreError {
    /// The log group does not exist.
    #[error("no such log group")]
    NoSuchGroup,
    /// The log stream does not exist.
    #[error("no such log stream")]
    NoSuchStream,
    /// A log group of that name exists.
    #[error("the log group exists")]
    GroupExists,
    /// A log stream of that name exists.
    #[error("the log stream exists")]
    StreamExists,
    /// The group would carry more than this many tags.
    #[error("more than {0} tags")]
    TooManyTags(usize),
    /// The database failed; nothing was written.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<rusqlite::Error> for LogStoreError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Store(e.into())
    }
}

impl From<LogStoreError> for wharf_model::logs::LogsError {
    fn from(e: LogStoreError) -> Self {
        use wharf_model::logs::{limits, LogsError};
        match e {
            LogStoreError::NoSuchGroup => LogsError::group_not_found(),
            LogStoreError::NoSuchStream => LogsError::stream_not_found(),
            LogStoreError::GroupExists => LogsError::group_exists(),
            LogStoreError::StreamExists => LogsError::stream_exists(),
            LogStoreError::TooManyTags(_) => LogsError::new(
                wharf_model::logs::LogsErrorKind::TooManyTagsException,
                format!("A resource can have no more than {} tags.", limits::MAX_TAGS),
            ),
            LogStoreError::Store(e) => {
                tracing::error!(error = %e, "log store failure");
                LogsError::unavailable()
            }
        }
    }
}

/// A log group as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRecord {
    /// The store's id of the group (never reused).
    pub id: i64,
    /// Its name.
    pub name: String,
    /// Creation time, ms since the epoch.
    pub created: i64,
    /// Retention in days; `None`: kept forever.
    pub retention_days: Option<i32>,
    /// `STANDARD`, `INFREQUENT_ACCESS` or `DELIVERY`.
    pub class: String,
    /// The KMS key named at creation, if any.
    pub kms_key_id: Option<String>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// Bytes of its events, counted as CloudWatch counts them.
    pub stored_bytes: i64,
}

/// A log group to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewGroup {
    /// Its name.
    pub name: String,
    /// Creation time, ms since the epoch.
    pub created: i64,
    /// Its class.
    pub class: String,
    /// The KMS key named, if any.
    pub kms_key_id: Option<String>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
}

/// A log stream as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamRecord {
    /// Its name.
    pub name: String,
    /// Creation time, ms since the epoch.
    pub created: i64,
    /// Timestamp of its earliest event ever appended.
    pub first_event: Option<i64>,
    /// Timestamp of its latest event.
    pub last_event: Option<i64>,
    /// When it last received events.
    pub last_ingestion: Option<i64>,
    /// Bytes of its events.
    pub stored_bytes: i64,
}

/// Which log groups a listing wants, in name order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupQuery {
    /// Names starting with this.
    pub prefix: Option<String>,
    /// Names containing this (case-sensitive).
    pub pattern: Option<String>,
    /// Only groups of this class.
    pub class: Option<String>,
    /// Resume after this name, exclusive.
    pub after: Option<String>,
    /// At most this many.
    pub limit: usize,
}

/// Which log streams a listing wants.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamQuery {
    /// Names starting with this.
    pub prefix: Option<String>,
    /// Order by last event time (streams without events first) instead of name.
    pub by_last_event: bool,
    /// Newest (or last by name) first.
    pub descending: bool,
    /// Resume after this (last event time, name), exclusive; the time is
    /// ignored when ordering by name.
    pub after: Option<(i64, String)>,
    /// At most this many.
    pub limit: usize,
}

/// How much the log store holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogUsage {
    /// Bytes of events, as `storedBytes` counts them, over all groups.
    pub stored_bytes: i64,
    /// The budget: beyond it, the oldest events are deleted.
    pub max_bytes: i64,
    /// The database file's size on disk (with its WAL).
    pub file_bytes: i64,
}

#[derive(Debug)]
struct Inner {
    path: PathBuf,
    writer: Writer,
    readers: ReadPool,
    /// Sum of every live group's `stored_bytes`.
    total: AtomicI64,
    max_bytes: i64,
    /// Whether a background trim to the budget is under way.
    trimming: AtomicBool,
    /// Held by the one trim that runs at a time: each batch is sized by the
    /// total, which must not change under it.
    trim_lock: tokio::sync::Mutex<()>,
    /// Told of every committed append.
    appended: tokio::sync::broadcast::Sender<Appended>,
    /// With an etcd store: etcd holds the logs, this database mirrors them.
    replica: Option<Arc<replica::Replica>>,
}

/// Events were appended to a stream (and are readable).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    /// The region.
    pub region: String,
    /// The log group's name.
    pub group: String,
    /// The log stream's name.
    pub stream: String,
}

/// How many append notices a slow listener may fall behind before it hears
/// `Lagged`.
const APPENDED_BUFFER: usize = 1024;

/// The log store. Cheap to clone; clones share one database.
#[derive(Debug, Clone)]
pub struct LogStore(Arc<Inner>);

const GROUP_COLUMNS: &str =
    "id, name, created, retention_days, class, kms_key_id, tags, stored_bytes";

fn read_group(r: &rusqlite::Row<'_>) -> rusqlite::Result<GroupRecord> {
    let tags: String = r.get(6)?;
    Ok(GroupRecord {
        id: r.get(0)?,
        name: r.get(1)?,
        created: r.get(2)?,
        retention_days: r.get(3)?,
        class: r.get(4)?,
        kms_key_id: r.get(5)?,
        tags: serde_json::from_str(&tags).unwrap_or_default(),
        stored_bytes: r.get(7)?,
    })
}

const STREAM_COLUMNS: &str = "name, created, first_event, last_event, last_ingestion, stored_bytes";

fn read_stream(r: &rusqlite::Row<'_>) -> rusqlite::Result<StreamRecord> {
    Ok(StreamRecord {
        name: r.get(0)?,
        created: r.get(1)?,
        first_event: r.get(2)?,
        last_event: r.get(3)?,
        last_ingestion: r.get(4)?,
        stored_bytes: r.get(5)?,
    })
}

fn tags_json(tags: &BTreeMap<String, String>) -> String {
    serde_json::to_string(tags).unwrap_or_else(|_| "{}".into())
}

/// The id of a group, or [`LogStoreError::NoSuchGroup`].
fn group_id(c: &Connection, region: &str, name: &str) -> Result<i64, LogStoreError> {
    c.prepare_cached("SELECT id FROM log_groups WHERE region = ?1 AND name = ?2")?
        .query_row(params![region, name], |r| r.get(0))
        .optional()?
        .ok_or(LogStoreError::NoSuchGroup)
}

/// The id of a stream in a group, or [`LogStoreError::NoSuchStream`].
fn stream_id(c: &Connection, group: i64, name: &str) -> Result<i64, LogStoreError> {
    c.prepare_cached("SELECT id FROM log_streams WHERE group_id = ?1 AND name = ?2")?
        .query_row(params![group, name], |r| r.get(0))
        .optional()?
        .ok_or(LogStoreError::NoSuchStream)
}

fn insert_group(c: &Connection, region: &str, g: &NewGroup) -> Result<i64, LogStoreError> {
    let inserted = c
        .prepare_cached(
            "INSERT INTO log_groups (region, name, created, class, kms_key_id, tags) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
        )?
        .execute(params![region, g.name, g.created, g.class, g.kms_key_id, tags_json(&g.tags)])?;
    if inserted == 0 {
        return Err(LogStoreError::GroupExists);
    }
    Ok(c.last_insert_rowid())
}

fn insert_stream(
    c: &Connection,
    group: i64,
    name: &str,
    created: i64,
) -> Result<i64, LogStoreError> {
    let inserted = c
        .prepare_cached(
            "INSERT INTO log_streams (group_id, name, created) VALUES (?1, ?2, ?3) \
             ON CONFLICT DO NOTHING",
        )?
        .execute(params![group, name, created])?;
    if inserted == 0 {
        return Err(LogStoreError::StreamExists);
    }
    Ok(c.last_insert_rowid())
}

impl LogStore {
    /// Opens (creating if needed) the log database at `path`, with a budget of
    /// `max_bytes` of events.
    pub fn open(path: &Path, max_bytes: i64) -> Result<Self, StoreError> {
        Self::open_with(path, max_bytes, None)
    }

    /// Opens the log store of a server sharing an etcd store: the logs live
    /// in etcd (under the store's prefix), and the database at `path` mirrors
    /// them; returns once the mirror has caught up.
    pub async fn open_replicated(
        path: &Path,
        max_bytes: i64,
        etcd: &crate::EtcdStore,
    ) -> Result<Self, StoreError> {
        let replica = Arc::new(replica::Replica::new(etcd.client().clone(), &etcd.config().prefix));
        let store = Self::open_with(path, max_bytes, Some(replica.clone()))?;
        store.start_mirror(replica).await?;
        let total: i64 = store
            .read(|c| {
                Ok(c.query_row("SELECT COALESCE(SUM(stored_bytes), 0) FROM log_groups", [], |r| {
                    r.get(0)
                })?)
            })
            .map_err(|e| StoreError::Database(e.to_string()))?;
        store.0.total.store(total, Ordering::SeqCst);
        Ok(store)
    }

    /// Whether the logs live in etcd (this database mirrors them).
    pub fn is_replicated(&self) -> bool {
        self.0.replica.is_some()
    }

    fn open_with(
        path: &Path,
        max_bytes: i64,
        replica: Option<Arc<replica::Replica>>,
    ) -> Result<Self, StoreError> {
        let mut conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "wal_autocheckpoint", 16384)?;
        crate::schema::migrate_with(&mut conn, schema::MIGRATIONS)?;
        let total: i64 =
            conn.query_row("SELECT COALESCE(SUM(stored_bytes), 0) FROM log_groups", [], |r| {
                r.get(0)
            })?;
        let nudge = checkpoint::start(path).map_err(|e| StoreError::Database(e.to_string()))?;
        let writer = Writer::start_named(conn, nudge, "wharf-logs-writer", Box::new(|| {}))
            .map_err(|e| StoreError::Database(e.to_string()))?;
        Ok(Self(Arc::new(Inner {
            path: path.to_owned(),
            writer,
            readers: ReadPool::new(path),
            total: AtomicI64::new(total),
            max_bytes,
            trimming: AtomicBool::new(false),
            trim_lock: tokio::sync::Mutex::new(()),
            appended: tokio::sync::broadcast::channel(APPENDED_BUFFER).0,
            replica,
        })))
    }

    /// Hears of every append after its commit, so that a live view reads the
    /// stream's new events at once instead of polling. A receiver that falls
    /// behind gets `Lagged` and should read its streams afresh.
    pub fn appends(&self) -> tokio::sync::broadcast::Receiver<Appended> {
        self.0.appended.subscribe()
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.0.path
    }

    /// How much the store holds, and its budget.
    pub fn usage(&self) -> LogUsage {
        let size = |p: &Path| std::fs::metadata(p).map(|m| m.len() as i64).unwrap_or(0);
        let wal = PathBuf::from(format!("{}-wal", self.0.path.display()));
        LogUsage {
            stored_bytes: self.0.total.load(Ordering::SeqCst),
            max_bytes: self.0.max_bytes,
            file_bytes: size(&self.0.path) + size(&wal),
        }
    }

    fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, LogStoreError>,
    ) -> Result<T, LogStoreError> {
        let mut out = None;
        self.0.readers.read(|c| {
            out = Some(f(c));
            Ok(())
        })?;
        out.unwrap_or(Err(LogStoreError::Store(StoreError::Closed)))
    }

    /// Creates a log group.
    pub async fn create_group(&self, region: &str, group: NewGroup) -> Result<(), LogStoreError> {
        if let Some(r) = &self.0.replica {
            return r.create_group(region, &group).await;
        }
        let region = region.to_owned();
        self.0.writer.write_as(move |c| insert_group(c, &region, &group).map(|_| ())).await
    }

    /// Deletes a log group and its streams; its events are removed in batches
    /// afterwards, invisible from now on.
    pub async fn delete_group(&self, region: &str, name: &str) -> Result<(), LogStoreError> {
        if let Some(r) = &self.0.replica {
            return r.delete_group(region, name).await;
        }
        let (region, name) = (region.to_owned(), name.to_owned());
        let freed = self
            .0
            .writer
            .write_as(move |c| {
                let id = group_id(c, &region, &name)?;
                let bytes: i64 =
                    c.query_row("SELECT stored_bytes FROM log_groups WHERE id = ?1", [id], |r| {
                        r.get(0)
                    })?;
                c.execute("DELETE FROM log_streams WHERE group_id = ?1", [id])?;
                c.execute("DELETE FROM log_groups WHERE id = ?1", [id])?;
                c.execute("INSERT INTO log_purge (group_id) VALUES (?1)", [id])?;
                Ok::<_, LogStoreError>(bytes)
            })
            .await?;
        self.0.total.fetch_sub(freed, Ordering::SeqCst);
        self.spawn_purge();
        Ok(())
    }

    /// One log group.
    pub fn group(&self, region: &str, name: &str) -> Result<Option<GroupRecord>, LogStoreError> {
        self.read(|c| {
            Ok(c.prepare_cached(&format!(
                "SELECT {GROUP_COLUMNS} FROM log_groups WHERE region = ?1 AND name = ?2"
            ))?
            .query_row(params![region, name], read_group)
            .optional()?)
        })
    }

    /// Log groups in name order.
    pub fn groups(&self, region: &str, q: &GroupQuery) -> Result<Vec<GroupRecord>, LogStoreError> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {GROUP_COLUMNS} FROM log_groups WHERE region = ?1 AND name > ?2 \
                 AND (?3 IS NULL OR substr(name, 1, length(?3)) = ?3) \
                 AND (?4 IS NULL OR instr(name, ?4) > 0) AND (?5 IS NULL OR class = ?5) \
                 ORDER BY name LIMIT ?6"
            ))?;
            let rows = stmt.query_map(
                params![
                    region,
                    q.after.as_deref().unwrap_or(""),
                    q.prefix,
                    q.pattern,
                    q.class,
                    q.limit as i64
                ],
                read_group,
            )?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    /// Sets (or with `None` removes) a group's retention.
    pub async fn set_retention(
        &self,
        region: &str,
        name: &str,
        days: Option<i32>,
    ) -> Result<(), LogStoreError> {
        if let Some(r) = &self.0.replica {
            return r
                .change_group(region, name, |g| {
                    g.retention_days = days;
                    Ok(())
                })
                .await;
        }
        let (region, name) = (region.to_owned(), name.to_owned());
        self.0
            .writer
            .write_as(move |c| {
                let id = group_id(c, &region, &name)?;
                c.execute(
                    "UPDATE log_groups SET retention_days = ?1 WHERE id = ?2",
                    params![days, id],
                )?;
                Ok(())
            })
            .await
    }

    /// Adds or overwrites tags on a group, refusing more than `max` in all.
    pub async fn tag_group(
        &self,
        region: &str,
        name: &str,
        tags: BTreeMap<String, String>,
        max: usize,
    ) -> Result<(), LogStoreError> {
        self.update_tags(region, name, move |current| {
            current.extend(tags.clone());
            if current.len() > max {
                return Err(LogStoreError::TooManyTags(max));
            }
            Ok(())
        })
        .await
    }

    /// Removes tags from a group by key.
    pub async fn untag_group(
        &self,
        region: &str,
        name: &str,
        keys: Vec<String>,
    ) -> Result<(), LogStoreError> {
        self.update_tags(region, name, move |current| {
            for k in &keys {
                current.remove(k);
            }
            Ok(())
        })
        .await
    }

    async fn update_tags(
        &self,
        region: &str,
        name: &str,
        change: impl Fn(&mut BTreeMap<String, String>) -> Result<(), LogStoreError> + Send + 'static,
    ) -> Result<(), LogStoreError> {
        if let Some(r) = &self.0.replica {
            return r.change_group(region, name, |g| change(&mut g.tags)).await;
        }
        let (region, name) = (region.to_owned(), name.to_owned());
        self.0
            .writer
            .write_as(move |c| {
                let id = group_id(c, &region, &name)?;
                let json: String =
                    c.query_row("SELECT tags FROM log_groups WHERE id = ?1", [id], |r| r.get(0))?;
                let mut tags: BTreeMap<String, String> =
                    serde_json::from_str(&json).unwrap_or_default();
                change(&mut tags)?;
                c.execute(
                    "UPDATE log_groups SET tags = ?1 WHERE id = ?2",
                    params![tags_json(&tags), id],
                )?;
                Ok(())
            })
            .await
    }

    /// Creates a log stream in a group.
    pub async fn create_stream(
        &self,
        region: &str,
        group: &str,
        stream: &str,
        created: i64,
    ) -> Result<(), LogStoreError> {
        if let Some(r) = &self.0.replica {
            let g = NewGroup {
                name: group.to_owned(),
                created,
                class: String::new(),
                kms_key_id: None,
                tags: BTreeMap::new(),
            };
            return r.create_stream(region, &g, false, stream, created, false).await;
        }
        let (region, group, stream) = (region.to_owned(), group.to_owned(), stream.to_owned());
        self.0
            .writer
            .write_as(move |c| {
                let gid = group_id(c, &region, &group)?;
                insert_stream(c, gid, &stream, created).map(|_| ())
            })
            .await
    }

    /// Makes sure a stream exists (and its group, with `create_group`).
    pub async fn ensure_stream(
        &self,
        region: &str,
        group: NewGroup,
        stream: &str,
        create_group: bool,
    ) -> Result<(), LogStoreError> {
        if let Some(r) = &self.0.replica {
            let created = group.created;
            return r.create_stream(region, &group, create_group, stream, created, true).await;
        }
        let (region, stream) = (region.to_owned(), stream.to_owned());
        self.0
            .writer
            .write_as(move |c| {
                let gid = match group_id(c, &region, &group.name) {
                    Err(LogStoreError::NoSuchGroup) if create_group => {
                        insert_group(c, &region, &group)?
                    }
                    other => other?,
                };
                match insert_stream(c, gid, &stream, group.created) {
                    Ok(_) | Err(LogStoreError::StreamExists) => Ok(()),
                    Err(e) => Err(e),
                }
            })
            .await
    }

    /// Deletes a log stream; its events are removed in batches afterwards.
    pub async fn delete_stream(
        &self,
        region: &str,
        group: &str,
        stream: &str,
    ) -> Result<(), LogStoreError> {
        if let Some(r) = &self.0.replica {
            return r.delete_stream(region, group, stream).await;
        }
        let (region, group, stream) = (region.to_owned(), group.to_owned(), stream.to_owned());
        let freed = self
            .0
            .writer
            .write_as(move |c| {
                let gid = group_id(c, &region, &group)?;
                let sid = stream_id(c, gid, &stream)?;
                let bytes: i64 = c.query_row(
                    "SELECT stored_bytes FROM log_streams WHERE id = ?1",
                    [sid],
                    |r| r.get(0),
                )?;
                c.execute("DELETE FROM log_streams WHERE id = ?1", [sid])?;
                c.execute(
                    "UPDATE log_groups SET stored_bytes = stored_bytes - ?1 WHERE id = ?2",
                    params![bytes, gid],
                )?;
                c.execute("INSERT INTO log_purge (stream_id) VALUES (?1)", [sid])?;
                Ok::<_, LogStoreError>(bytes)
            })
            .await?;
        self.0.total.fetch_sub(freed, Ordering::SeqCst);
        self.spawn_purge();
        Ok(())
    }

    /// Streams of a group.
    pub fn streams(
        &self,
        region: &str,
        group: &str,
        q: &StreamQuery,
    ) -> Result<Vec<StreamRecord>, LogStoreError> {
        self.read(|c| {
            let gid = group_id(c, region, group)?;
            let (order, cmp) = match (q.by_last_event, q.descending) {
                (false, false) => ("name", "name > ?3"),
                (false, true) => ("name DESC", "(?3 = '' OR name < ?3)"),
                (true, false) => (
                    "COALESCE(last_event, -1), name",
                    "(COALESCE(last_event, -1), name) > (?2, ?3)",
                ),
                (true, true) => (
                    "COALESCE(last_event, -1) DESC, name DESC",
                    "(?3 = '' OR (COALESCE(last_event, -1), name) < (?2, ?3))",
                ),
            };
            let (after_ts, after_name) = q.after.clone().unwrap_or((-2, String::new()));
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {STREAM_COLUMNS} FROM log_streams WHERE group_id = ?1 AND {cmp} \
                 AND (?4 IS NULL OR substr(name, 1, length(?4)) = ?4) ORDER BY {order} LIMIT ?5"
            ))?;
            let rows = stmt.query_map(
                params![gid, after_ts, after_name, q.prefix, q.limit as i64],
                read_stream,
            )?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    /// The cursor last stored with an append to this stream.
    pub fn cursor(
        &self,
        region: &str,
        group: &str,
        stream: &str,
    ) -> Result<Option<String>, LogStoreError> {
        self.read(|c| {
            let gid = group_id(c, region, group)?;
            let sid = stream_id(c, gid, stream)?;
            Ok(c.query_row("SELECT cursor FROM log_streams WHERE id = ?1", [sid], |r| r.get(0))?)
        })
    }

    /// Wipes every group, stream and event.
    pub async fn reset(&self) -> Result<(), LogStoreError> {
        if let Some(r) = &self.0.replica {
            return r.reset().await;
        }
        self.0
            .writer
            .write_as(|c| {
                c.execute_batch(
                    "DELETE FROM log_events; DELETE FROM log_streams; DELETE FROM log_groups; \
                     DELETE FROM log_purge;",
                )?;
                Ok::<_, LogStoreError>(())
            })
            .await?;
        self.0.total.store(0, Ordering::SeqCst);
        Ok(())
    }
}

#[cfg(test)]
mod tests;
