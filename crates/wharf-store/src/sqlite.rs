//! [`Store`] on an embedded SQLite database in WAL mode.
//!
//! Writes go through the group-commit writer thread ([`crate::writer`]) with
//! `synchronous = FULL`, so an acknowledged write has reached the disk. Reads
//! take a connection from a small pool and run on the caller's thread: in WAL
//! mode they never wait for the writer, and each is a handful of indexed
//! lookups, cheaper than a hop to a blocking thread.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension};
use wharf_model::ecs::launch::{self, Launch, Placement};
use wharf_model::ecs::shapes::TaskDefinitionFamilyStatus;
use wharf_model::ids;
use wharf_model::EcsError;

use crate::candidates::Candidates;
use crate::checkpoint;
use crate::columns::listed;
use crate::pool::ReadPool;
use crate::sqlite_elb::SqliteElb;
use crate::sqlite_tasks;
use crate::td_cache::TdCache;
use crate::writer::Writer;
use crate::{
    schema, tasks, BuildRevision, Decide, DecideInstance, DecideRevision, DecideTask, FamilyQuery,
    InstanceChanged, InstanceUsage, Kind, NewTaskDefinition, StatusCounts, Store, StoreError,
    StoredInstance, StoredTask, StoredTaskDefinition, TaskChanged, TaskDefinitionQuery, TaskQuery,
    Write,
};

/// How many task changes a slow watcher may fall behind before it must
/// re-read the state.
const CHANGES_BUFFER: usize = 4096;

/// The SQLite store.
#[derive(Debug)]
pub struct SqliteStore {
    path: PathBuf,
    writer: Writer,
    readers: ReadPool,
    td_cache: TdCache,
    /// The writer's copy of the clusters' placement candidates.
    candidates: Arc<Mutex<Candidates>>,
    changes: tokio::sync::broadcast::Sender<Arc<TaskChanged>>,
    elb_changes: tokio::sync::broadcast::Sender<String>,
    instance_changes: tokio::sync::broadcast::Sender<Arc<InstanceChanged>>,
    service_changes: tokio::sync::broadcast::Sender<(String, String)>,
}

/// The writer's page cache, as `PRAGMA cache_size` takes it: negative, in KiB.
const WRITER_CACHE_KIB: i64 = -32 * 1024;

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and brings its
    /// schema up to date.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let mut conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        // Checkpoints run on their own thread; this is only the backstop.
        conn.pragma_update(None, "wal_autocheckpoint", 16384)?;
        // The writer's page cache (SQLite's default is 2 MiB). A launch
        // inserts into the tasks table and its indexes at many places; with
        // the default, SQLite spilled dirty pages to the WAL in the middle
        // of the transaction. It fills only as a large database is written.
        conn.pragma_update(None, "cache_size", WRITER_CACHE_KIB)?;
        // Statement journals (an insert whose triggers update the usage
        // tables keeps one, to undo that statement alone) in memory rather
        // than in a temporary file: they never outlive their transaction.
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        schema::migrate(&mut conn)?;
        let nudge = checkpoint::start(path).map_err(|e| StoreError::Database(e.to_string()))?;
        let candidates = Arc::new(Mutex::new(Candidates::default()));
        let held = Arc::clone(&candidates);
        let writer = Writer::start(conn, nudge, Box::new(move || locked(&held).clear()))
            .map_err(|e| StoreError::Database(e.to_string()))?;
        Ok(Self {
            path: path.to_owned(),
            writer,
            readers: ReadPool::new(path),
            td_cache: TdCache::default(),
            candidates,
            changes: tokio::sync::broadcast::channel(CHANGES_BUFFER).0,
            elb_changes: tokio::sync::broadcast::channel(CHANGES_BUFFER).0,
            instance_changes: tokio::sync::broadcast::channel(CHANGES_BUFFER).0,
            service_changes: tokio::sync::broadcast::channel(CHANGES_BUFFER).0,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn announce(&self, region: &str, task: &StoredTask) {
        // No receiver is not an error: nobody is watching yet.
        let _ = self.changes.send(Arc::new(TaskChanged {
            region: region.to_owned(),
            cluster: task.cluster.clone(),
            id: task.id.clone(),
            instance_id: task.instance_id.clone(),
            instance_cluster: task.instance_cluster.clone(),
            service: task.service.clone(),
        }));
    }

    fn read<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T, StoreError> {
        self.readers.read(f)
    }
}

/// The candidates, even after a panic elsewhere held the lock: the copy is
/// then dropped, as after a rollback.
fn locked(candidates: &Mutex<Candidates>) -> MutexGuard<'_, Candidates> {
    candidates.lock().unwrap_or_else(|poisoned| {
        let mut held = poisoned.into_inner();
        held.clear();
        held
    })
}

/// The rows to insert for what a launch placed on `usage`'s instances.
fn rows_of(
    launch: &Launch,
    usage: &[InstanceUsage],
    placement: &Placement,
) -> Result<Vec<tasks::NewTask>, StoreError> {
    match placement {
        Placement::Placed { tasks, .. } => tasks::new_tasks(launch, usage, tasks),
        Placement::NoContainerInstances => Ok(Vec::new()),
    }
}

/// The instances new tasks were placed on, by the cluster they are
/// registered in.
fn placed_on(rows: &[tasks::NewTask]) -> BTreeMap<&str, BTreeSet<&str>> {
    let mut out: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for t in rows {
        if let (Some(cluster), Some(id)) = (&t.task.instance_cluster, &t.task.instance_id) {
            out.entry(cluster.as_str()).or_default().insert(id.as_str());
        }
    }
    out
}

fn read_td(row: &rusqlite::Row<'_>) -> rusqlite::Result<StoredTaskDefinition> {
    Ok(StoredTaskDefinition {
        family: row.get(0)?,
        revision: row.get(1)?,
        status: listed(row, 2)?,
        json: row.get(3)?,
    })
}

#[async_trait]
impl Store for SqliteStore {
    async fn get(&self, kind: Kind, region: &str, key: &str) -> Result<Option<String>, StoreError> {
        self.read(|c| {
            c.prepare_cached(
                "SELECT body FROM documents WHERE kind = ?1 AND region = ?2 AND key = ?3",
            )?
            .query_row(params![kind.as_str(), region, key], |r| r.get(0))
            .optional()
        })
    }

    async fn list(
        &self,
        kind: Kind,
        region: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, String)>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT key, body FROM documents WHERE kind = ?1 AND region = ?2 AND key > ?3 \
                 ORDER BY key LIMIT ?4",
            )?;
            let rows = stmt.query_map(
                params![kind.as_str(), region, after.unwrap_or(""), limit as i64],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            rows.collect()
        })
    }

    async fn regions(&self, kind: Kind) -> Result<Vec<String>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT DISTINCT region FROM documents WHERE kind = ?1 ORDER BY region",
            )?;
            let rows = stmt.query_map(params![kind.as_str()], |r| r.get::<_, String>(0))?;
            rows.collect()
        })
    }

    fn service_changes(&self) -> tokio::sync::broadcast::Receiver<(String, String)> {
        self.service_changes.subscribe()
    }

    async fn update(
        &self,
        kind: Kind,
        region: &str,
        key: &str,
        decide: Decide,
    ) -> Result<Option<String>, StoreError> {
        let (region, key) = (region.to_owned(), key.to_owned());
        let announce = (kind == Kind::Service).then(|| (region.clone(), key.clone()));
        let wrote = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let wrote_in = wrote.clone();
        let result = self
            .writer
            .write(move |c| {
                let current: Option<String> = c
                    .prepare_cached(
                        "SELECT body FROM documents WHERE kind = ?1 AND region = ?2 AND key = ?3",
                    )?
                    .query_row(params![kind.as_str(), region, key], |r| r.get(0))
                    .optional()?;
                let decision = decide(current.clone())?;
                wrote_in.store(decision != Write::Keep, std::sync::atomic::Ordering::Relaxed);
                match decision {
                    Write::Keep => Ok(current),
                    Write::Put(body) => {
                        c.prepare_cached(
                            "INSERT INTO documents (kind, region, key, body) VALUES (?1, ?2, ?3, ?4) \
                             ON CONFLICT (kind, region, key) DO UPDATE SET body = excluded.body",
                        )?
                        .execute(params![kind.as_str(), region, key, body])?;
                        Ok(Some(body))
                    }
                    Write::Delete => {
                        c.prepare_cached(
                            "DELETE FROM documents WHERE kind = ?1 AND region = ?2 AND key = ?3",
                        )?
                        .execute(params![kind.as_str(), region, key])?;
                        Ok(None)
                    }
                }
            })
            .await;
        let wrote = wrote.load(std::sync::atomic::Ordering::Relaxed);
        if let (Ok(_), Some(changed), true) = (&result, announce, wrote) {
            // No receiver is not an error: the scheduler may not run.
            let _ = self.service_changes.send(changed);
        }
        result
    }

    async fn register_task_definition(
        &self,
        region: &str,
        family: &str,
        build: BuildRevision,
    ) -> Result<NewTaskDefinition, StoreError> {
        let (region, family) = (region.to_owned(), family.to_owned());
        let (region_key, family_key) = (region.clone(), family.clone());
        let result = self
            .writer
            .write(move |c| {
                let last: i32 = c
                    .prepare_cached(
                        "SELECT max(coalesce((SELECT max(revision) FROM task_definitions \
                         WHERE region = ?1 AND family = ?2), 0), coalesce((SELECT revision_floor \
                         FROM task_definition_families WHERE region = ?1 AND family = ?2), 0))",
                    )?
                    .query_row(params![region, family], |r| r.get(0))?;
                let revision = last.checked_add(1).ok_or_else(|| {
                    EcsError::client("Too many revisions of this task definition family.")
                })?;
                let new = build(revision)?;
                if last == 0 {
                    c.prepare_cached(
                        "INSERT OR IGNORE INTO task_definition_families (region, family) \
                         VALUES (?1, ?2)",
                    )?
                    .execute(params![region, family])?;
                }
                c.prepare_cached(
                    "INSERT INTO task_definitions (region, family, revision, status, body) \
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )?
                .execute(params![
                    region,
                    family,
                    revision,
                    new.status.as_str(),
                    new.json
                ])?;
                let mut tag = c.prepare_cached(
                    "INSERT INTO tags (region, arn, key, value) VALUES (?1, ?2, ?3, ?4) \
                     ON CONFLICT (region, arn, key) DO UPDATE SET value = excluded.value",
                )?;
                for (k, v) in &new.tags {
                    tag.execute(params![region, new.arn, k, v])?;
                }
                Ok(new)
            })
            .await;
        self.td_cache.invalidate(&region_key, &family_key);
        result
    }

    async fn get_task_definition(
        &self,
        region: &str,
        family: &str,
        revision: Option<i32>,
    ) -> Result<Option<StoredTaskDefinition>, StoreError> {
        if let Some(hit) = self.td_cache.get(region, family, revision) {
            return Ok(Some(hit));
        }
        let epoch = self.td_cache.epoch();
        let found = self.read(|c| match revision {
            Some(rev) => c
                .prepare_cached(
                    "SELECT family, revision, status, body FROM task_definitions \
                     WHERE region = ?1 AND family = ?2 AND revision = ?3",
                )?
                .query_row(params![region, family, rev], read_td)
                .optional(),
            None => c
                .prepare_cached(
                    "SELECT family, revision, status, body FROM task_definitions \
                     WHERE region = ?1 AND status = 'ACTIVE' AND family = ?2 \
                     ORDER BY revision DESC LIMIT 1",
                )?
                .query_row(params![region, family], read_td)
                .optional(),
        })?;
        if let Some(f) = &found {
            self.td_cache.fill(epoch, region, revision, f);
        }
        Ok(found)
    }

    async fn update_task_definition(
        &self,
        region: &str,
        family: &str,
        revision: i32,
        decide: DecideRevision,
    ) -> Result<StoredTaskDefinition, StoreError> {
        let (region, family) = (region.to_owned(), family.to_owned());
        let (region_key, family_key) = (region.clone(), family.clone());
        let result = self
            .writer
            .write(move |c| {
                let current = c
                    .prepare_cached(
                        "SELECT family, revision, status, body FROM task_definitions \
                         WHERE region = ?1 AND family = ?2 AND revision = ?3",
                    )?
                    .query_row(params![region, family, revision], read_td)
                    .optional()?
                    .ok_or_else(|| {
                        EcsError::client("The specified task definition does not exist.")
                    })?;
                let Some((status, json)) = decide(&current)? else {
                    return Ok(current);
                };
                c.prepare_cached(
                    "UPDATE task_definitions SET status = ?4, body = ?5 \
                     WHERE region = ?1 AND family = ?2 AND revision = ?3",
                )?
                .execute(params![
                    region,
                    family,
                    revision,
                    status.as_str(),
                    json
                ])?;
                Ok(StoredTaskDefinition { status, json, ..current })
            })
            .await;
        self.td_cache.invalidate(&region_key, &family_key);
        result
    }

    async fn task_definitions_in_deletion(
        &self,
    ) -> Result<Vec<(String, StoredTaskDefinition)>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT region, family, revision, status, body FROM task_definitions \
                 WHERE status = 'DELETE_IN_PROGRESS'",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok((
                    r.get(0)?,
                    StoredTaskDefinition {
                        family: r.get(1)?,
                        revision: r.get(2)?,
                        status: listed(r, 3)?,
                        json: r.get(4)?,
                    },
                ))
            })?;
            rows.collect()
        })
    }

    async fn purge_task_definition(
        &self,
        region: &str,
        family: &str,
        revision: i32,
        arn: &str,
    ) -> Result<bool, StoreError> {
        let (region, family, arn) = (region.to_owned(), family.to_owned(), arn.to_owned());
        let (region_key, family_key) = (region.clone(), family.clone());
        let result = self
            .writer
            .write(move |c| {
                let gone = c
                    .prepare_cached(
                        "DELETE FROM task_definitions WHERE region = ?1 AND family = ?2 \
                         AND revision = ?3 AND status = 'DELETE_IN_PROGRESS'",
                    )?
                    .execute(params![region, family, revision])?;
                if gone == 0 {
                    return Ok(false);
                }
                // The number stays taken: the next revision counts on from here.
                c.prepare_cached(
                    "UPDATE task_definition_families SET revision_floor = max(revision_floor, ?3) \
                     WHERE region = ?1 AND family = ?2",
                )?
                .execute(params![region, family, revision])?;
                c.prepare_cached("DELETE FROM tags WHERE region = ?1 AND arn = ?2")?
                    .execute(params![region, arn])?;
                Ok(true)
            })
            .await;
        self.td_cache.invalidate(&region_key, &family_key);
        result
    }

    async fn list_task_definitions(
        &self,
        region: &str,
        q: TaskDefinitionQuery,
    ) -> Result<Vec<(String, i32)>, StoreError> {
        let (after_family, after_rev) = match &q.after {
            Some((f, r)) => (Some(f.as_str()), *r),
            None => (None, 0),
        };
        // Keyset pagination over (family, revision) in either direction.
        let (cmp, order) = if q.descending { ("<", "DESC") } else { (">", "ASC") };
        // Conditions are left out rather than written as `?n IS NULL OR ...`,
        // so SQLite can seek the primary key to the family and the position.
        let family = if q.family.is_some() { "AND family = ?2" } else { "AND ?2 IS NULL" };
        let wanted = q.status.as_ref().map(|s| s.as_str());
        let status = if wanted.is_some() { "AND status = ?3" } else { "AND ?3 IS NULL" };
        let after = if after_family.is_some() && q.family.is_some() {
            // Within one family the position is the revision alone.
            format!("AND ?4 = ?4 AND revision {cmp} ?5")
        } else if after_family.is_some() {
            format!("AND (family, revision) {cmp} (?4, ?5)")
        } else {
            "AND ?4 IS NULL AND ?5 = ?5".to_owned()
        };
        let sql = format!(
            "SELECT family, revision FROM task_definitions WHERE region = ?1 \
             {family} {status} {after} ORDER BY family {order}, revision {order} LIMIT ?6"
        );
        self.read(|c| {
            let mut stmt = c.prepare_cached(&sql)?;
            let rows = stmt.query_map(
                params![region, q.family, wanted, after_family, after_rev, q.limit as i64],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            rows.collect()
        })
    }

    async fn list_task_definition_families(
        &self,
        region: &str,
        q: FamilyQuery,
    ) -> Result<Vec<String>, StoreError> {
        let active = match q.status {
            Some(TaskDefinitionFamilyStatus::Active) => Some(true),
            Some(TaskDefinitionFamilyStatus::Inactive) => Some(false),
            _ => None,
        };
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT f.family FROM task_definition_families f WHERE f.region = ?1 \
                 AND f.family >= ?2 AND substr(f.family, 1, length(?2)) = ?2 AND f.family > ?3 \
                 AND EXISTS (SELECT 1 FROM task_definitions t \
                             WHERE t.region = f.region AND t.family = f.family) \
                 AND (?4 IS NULL OR EXISTS (SELECT 1 FROM task_definitions t \
                      WHERE t.region = f.region AND t.family = f.family \
                      AND t.status = 'ACTIVE') = ?4) \
                 ORDER BY f.family LIMIT ?5",
            )?;
            let rows = stmt.query_map(
                params![
                    region,
                    q.prefix.as_deref().unwrap_or(""),
                    q.after.as_deref().unwrap_or(""),
                    active,
                    q.limit as i64
                ],
                |r| r.get(0),
            )?;
            rows.collect()
        })
    }

    async fn tags(&self, region: &str, arn: &str) -> Result<Vec<(String, String)>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT key, value FROM tags WHERE region = ?1 AND arn = ?2 ORDER BY key",
            )?;
            let rows = stmt.query_map(params![region, arn], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect()
        })
    }

    async fn tag(
        &self,
        region: &str,
        arn: &str,
        tags: Vec<(String, String)>,
        max: usize,
    ) -> Result<(), StoreError> {
        let (region, arn) = (region.to_owned(), arn.to_owned());
        self.writer
            .write(move |c| {
                let mut put = c.prepare_cached(
                    "INSERT INTO tags (region, arn, key, value) VALUES (?1, ?2, ?3, ?4) \
                     ON CONFLICT (region, arn, key) DO UPDATE SET value = excluded.value",
                )?;
                for (k, v) in &tags {
                    put.execute(params![region, arn, k, v])?;
                }
                let count: i64 = c
                    .prepare_cached("SELECT count(*) FROM tags WHERE region = ?1 AND arn = ?2")?
                    .query_row(params![region, arn], |r| r.get(0))?;
                if count as usize > max {
                    return Err(EcsError::invalid_parameter(format!(
                        "The resource would have more than {max} tags."
                    ))
                    .into());
                }
                Ok(())
            })
            .await
    }

    async fn untag(&self, region: &str, arn: &str, keys: Vec<String>) -> Result<(), StoreError> {
        let (region, arn) = (region.to_owned(), arn.to_owned());
        self.writer
            .write(move |c| {
                let mut del = c.prepare_cached(
                    "DELETE FROM tags WHERE region = ?1 AND arn = ?2 AND key = ?3",
                )?;
                for k in &keys {
                    del.execute(params![region, arn, k])?;
                }
                Ok(())
            })
            .await
    }

    async fn instances(
        &self,
        region: &str,
        cluster: &str,
        ids: Option<Vec<String>>,
    ) -> Result<Vec<InstanceUsage>, StoreError> {
        self.read(|c| sqlite_tasks::instances(c, region, cluster, ids.as_deref()))
    }

    async fn instance_records(
        &self,
        region: &str,
        cluster: &str,
        ids: Option<Vec<String>>,
    ) -> Result<Vec<StoredInstance>, StoreError> {
        self.read(|c| sqlite_tasks::instance_records(c, region, cluster, ids.as_deref()))
    }

    async fn instances_not_active(
        &self,
        region: &str,
        cluster: &str,
    ) -> Result<Vec<StoredInstance>, StoreError> {
        self.read(|c| sqlite_tasks::instances_not_active(c, region, cluster))
    }

    async fn update_instance(
        &self,
        region: &str,
        cluster: &str,
        id: &str,
        decide: DecideInstance,
    ) -> Result<Option<StoredInstance>, StoreError> {
        let (region, cluster, id) = (region.to_owned(), cluster.to_owned(), id.to_owned());
        let candidates = Arc::clone(&self.candidates);
        let (stored, changed) = self
            .writer
            .write(move |c| {
                let ids = [id];
                let current = sqlite_tasks::instances(c, &region, &cluster, Some(&ids))?;
                let current = current.into_iter().next();
                match decide(current.as_ref())? {
                    Some(new) => {
                        sqlite_tasks::put_instance(c, &region, &new)?;
                        let before = current.as_ref().map(|u| u.instance.status);
                        match current {
                            // Only the record changed, not its tasks: what
                            // they hold is as just read (a heartbeat need not
                            // read it twice).
                            Some(u)
                                if u.instance.id == new.id && u.instance.cluster == new.cluster =>
                            {
                                let row = InstanceUsage { instance: new.clone(), ..u };
                                locked(&candidates).put_row(&region, &new.cluster, row)?;
                            }
                            _ => locked(&candidates).refresh(
                                c,
                                &region,
                                &new.cluster,
                                [new.id.as_str()],
                            )?,
                        }
                        let changed = (before != Some(new.status)).then(|| InstanceChanged {
                            region,
                            cluster: new.cluster.clone(),
                            id: new.id.clone(),
                            status: Some(new.status),
                        });
                        Ok((Some(new), changed))
                    }
                    None => Ok((current.map(|u| u.instance), None)),
                }
            })
            .await?;
        if let Some(changed) = changed {
            // No receiver is not an error: nobody is watching yet.
            let _ = self.instance_changes.send(Arc::new(changed));
        }
        Ok(stored)
    }

    async fn launch_tasks(&self, region: &str, launch: Launch) -> Result<Placement, StoreError> {
        let region_w = region.to_owned();
        let candidates = Arc::clone(&self.candidates);
        let (placement, inserted) = self
            .writer
            .write(move |c| {
                let cluster = &launch.template.cluster;
                let mut held = locked(&candidates);
                let (placement, rows) = if launch.instances.is_none() && !launch.needs_pool() {
                    // The common launch: on the cluster's own instances,
                    // placed on the writer's copy of them.
                    let view = held.view(c, &region_w, cluster)?;
                    let placement = launch::place(&launch, &mut view.candidates, &mut ids::task_id);
                    let rows = rows_of(&launch, &view.usage, &placement)?;
                    (placement, rows)
                } else {
                    // Named instances, or the Fargate pool's hosts of other
                    // clusters too: read as they are.
                    let mut usage = sqlite_tasks::instances(
                        c,
                        &region_w,
                        cluster,
                        launch.instances.as_deref(),
                    )?;
                    if launch.needs_pool() {
                        let pool = sqlite_tasks::pool_instances(c, &region_w, cluster)?;
                        usage.extend(
                            pool.into_iter().filter(|u| tasks::takes_part(&launch, &u.instance)),
                        );
                    }
                    let mut candidates =
                        tasks::candidates(&usage, &tasks::default_zone(&region_w))?;
                    let placement = launch::place(&launch, &mut candidates, &mut ids::task_id);
                    let rows = rows_of(&launch, &usage, &placement)?;
                    (placement, rows)
                };
                sqlite_tasks::insert_tasks(c, &region_w, &rows)?;
                for (cluster, ids) in placed_on(&rows) {
                    held.refresh(c, &region_w, cluster, ids)?;
                }
                drop(held);
                Ok((placement, rows))
            })
            .await?;
        for new in &inserted {
            self.announce(region, &new.task);
        }
        Ok(placement)
    }

    async fn get_task(
        &self,
        region: &str,
        cluster: &str,
        id: &str,
    ) -> Result<Option<StoredTask>, StoreError> {
        self.read(|c| sqlite_tasks::task(c, region, cluster, id))
    }

    async fn update_task(
        &self,
        region: &str,
        cluster: &str,
        id: &str,
        decide: DecideTask,
    ) -> Result<Option<StoredTask>, StoreError> {
        let (region_w, cluster, id) = (region.to_owned(), cluster.to_owned(), id.to_owned());
        let candidates = Arc::clone(&self.candidates);
        let updated = self
            .writer
            .write(move |c| {
                let Some(current) = sqlite_tasks::task(c, &region_w, &cluster, &id)? else {
                    return Ok(None);
                };
                let Some(update) = decide(&current)? else {
                    return Ok(Some((current, false)));
                };
                sqlite_tasks::update_task(c, &region_w, &cluster, &id, &update)?;
                if update.last_status != current.last_status {
                    // What the task holds on its instance moved (the triggers):
                    // all of it when it stops, its counts alone before that.
                    if let (Some(on), Some(instance)) =
                        (&current.instance_cluster, &current.instance_id)
                    {
                        let mut held = locked(&candidates);
                        if current.last_status.is_terminal() || update.last_status.is_terminal() {
                            held.refresh(c, &region_w, on, [instance.as_str()])?;
                        } else {
                            held.refresh_counts(c, &region_w, on, instance)?;
                        }
                    }
                }
                let task = StoredTask {
                    last_status: update.last_status,
                    desired_status: update.desired_status,
                    json: update.json,
                    ..current
                };
                Ok(Some((task, true)))
            })
            .await?;
        Ok(updated.map(|(task, changed)| {
            if changed {
                self.announce(region, &task);
            }
            task
        }))
    }

    async fn list_tasks(
        &self,
        region: &str,
        query: TaskQuery,
    ) -> Result<Vec<StoredTask>, StoreError> {
        self.read(|c| sqlite_tasks::list_tasks(c, region, &query))
    }

    async fn unstopped_tasks_on(
        &self,
        region: &str,
        cluster: &str,
        instance_id: &str,
    ) -> Result<Vec<StoredTask>, StoreError> {
        self.read(|c| sqlite_tasks::unstopped_on_instance(c, region, cluster, instance_id))
    }

    async fn task_counts(&self, region: &str, cluster: &str) -> Result<(i64, i64), StoreError> {
        self.read(|c| sqlite_tasks::task_counts(c, region, cluster))
    }

    async fn status_counts(&self) -> Result<StatusCounts, StoreError> {
        self.read(sqlite_tasks::status_counts)
    }

    async fn purge_stopped_tasks(&self, before_ms: i64) -> Result<usize, StoreError> {
        self.writer.write(move |c| Ok(sqlite_tasks::purge_stopped(c, before_ms)?)).await
    }

    fn task_changes(&self) -> crate::TaskFeed {
        self.changes.subscribe()
    }

    fn instance_changes(&self) -> crate::InstanceFeed {
        self.instance_changes.subscribe()
    }

    async fn elb_read(&self, region: &str, read: crate::elb::ElbRead) -> Result<(), StoreError> {
        // A read transaction, so that every query of the read sees one snapshot.
        self.read(|c| {
            c.execute_batch("BEGIN")?;
            let result = read(&SqliteElb { conn: c, region });
            c.execute_batch("COMMIT")?;
            Ok(result)
        })?
    }

    async fn elb_write(&self, region: &str, write: crate::elb::ElbWrite) -> Result<(), StoreError> {
        let owned = region.to_owned();
        self.writer.write(move |c| write(&SqliteElb { conn: c, region: &owned })).await?;
        // No receiver is not an error: no data plane runs.
        let _ = self.elb_changes.send(region.to_owned());
        Ok(())
    }

    fn elb_changes(&self) -> tokio::sync::broadcast::Receiver<String> {
        self.elb_changes.subscribe()
    }

    async fn elb_regions(&self) -> Result<Vec<String>, StoreError> {
        self.read(|c| {
            let mut stmt =
                c.prepare_cached("SELECT DISTINCT region FROM elb_resources ORDER BY region")?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
            rows.collect()
        })
    }

    async fn reset(&self) -> Result<(), StoreError> {
        let candidates = Arc::clone(&self.candidates);
        let result = self
            .writer
            .write(move |c| {
                for table in schema::TABLES {
                    c.execute(&format!("DELETE FROM {table}"), [])?;
                }
                locked(&candidates).clear();
                Ok(())
            })
            .await;
        self.td_cache.clear();
        result
    }
}
