//! The SQL behind tasks and container instances, as plain functions over a
//! connection so the same statements serve reads from the pool and the
//! writer's transactions.

use rusqlite::{params, Connection, OptionalExtension, Row};

use wharf_model::ecs::capacity;
use wharf_model::ecs::placement::TaskGroups;

use crate::columns::{listed, vocabulary};
use crate::tasks::{
    InstanceStatusCount, InstanceUsage, NewTask, StatusCounts, StoredInstance, StoredTask,
    TaskQuery, TaskStatusCount, TaskUpdate,
};

const TASK_COLUMNS: &str =
    "cluster, id, arn, instance_id, last_status, desired_status, body, instance_cluster, service";

fn read_task(row: &Row<'_>) -> rusqlite::Result<StoredTask> {
    Ok(StoredTask {
        cluster: row.get(0)?,
        id: row.get(1)?,
        arn: row.get(2)?,
        instance_id: row.get(3)?,
        last_status: vocabulary(row, 4)?,
        desired_status: listed(row, 5)?,
        json: row.get(6)?,
        instance_cluster: row.get(7)?,
        service: row.get(8)?,
    })
}

/// The cluster's instances (or only those in `ids`), each with what its
/// unstopped tasks hold, in ID order.
pub(crate) fn instances(
    c: &Connection,
    region: &str,
    cluster: &str,
    ids: Option<&[String]>,
) -> rusqlite::Result<Vec<InstanceUsage>> {
    let all = usage_query("i.region = ?1 AND i.cluster = ?2");
    let one = usage_query("i.region = ?1 AND i.cluster = ?2 AND i.id = ?3");
    instance_rows(c, (region, cluster), ids, (&all, &one), usage_row)
}

/// A cluster's instances (or those in `ids`) as stored, without their usage.
pub(crate) fn instance_records(
    c: &Connection,
    region: &str,
    cluster: &str,
    ids: Option<&[String]>,
) -> rusqlite::Result<Vec<StoredInstance>> {
    const ALL: &str = "SELECT cluster, id, status, body FROM container_instances \
                       WHERE region = ?1 AND cluster = ?2 ORDER BY id";
    const ONE: &str = "SELECT cluster, id, status, body FROM container_instances \
                       WHERE region = ?1 AND cluster = ?2 AND id = ?3";
    instance_rows(c, (region, cluster), ids, (ALL, ONE), stored_instance)
}

/// How many of an instance's tasks are `RUNNING`, and how many are neither
/// `RUNNING` nor `STOPPED`, as the triggers keep them in `instance_usage`.
pub(crate) fn task_counts_on(
    c: &Connection,
    region: &str,
    cluster: &str,
    id: &str,
) -> rusqlite::Result<(i64, i64)> {
    let counts = c
        .prepare_cached(
            "SELECT running, pending FROM instance_usage \
             WHERE region = ?1 AND instance_cluster = ?2 AND instance_id = ?3",
        )?
        .query_row(params![region, cluster, id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    Ok(counts.unwrap_or((0, 0)))
}

/// The query of [`instances_not_active`].
pub(crate) const NOT_ACTIVE: &str = "SELECT cluster, id, status, body FROM container_instances \
     WHERE region = ?1 AND cluster = ?2 AND status != 'ACTIVE' ORDER BY id";

/// A cluster's instances whose status is not `ACTIVE`, by the partial index
/// `container_instances_not_active`.
pub(crate) fn instances_not_active(
    c: &Connection,
    region: &str,
    cluster: &str,
) -> rusqlite::Result<Vec<StoredInstance>> {
    let mut stmt = c.prepare_cached(NOT_ACTIVE)?;
    let rows = stmt.query_map(params![region, cluster], stored_instance)?;
    rows.collect()
}

/// A `container_instances` row, its columns selected as
/// `cluster, id, status, body`.
fn stored_instance(r: &Row<'_>) -> rusqlite::Result<StoredInstance> {
    Ok(StoredInstance {
        cluster: r.get(0)?,
        id: r.get(1)?,
        status: vocabulary(r, 2)?,
        json: r.get(3)?,
    })
}

/// Rows of a cluster's instances in ID order: every one (`queries.0`, with
/// the region and cluster as ?1 and ?2), or each of `ids` once, looked up
/// alone (`queries.1`, the ID as ?3): a heartbeat or a service reads a few,
/// and must not read the whole cluster to do it.
fn instance_rows<T>(
    c: &Connection,
    (region, cluster): (&str, &str),
    ids: Option<&[String]>,
    queries: (&str, &str),
    row: impl Fn(&Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<Vec<T>> {
    let Some(ids) = ids else {
        let mut stmt = c.prepare_cached(queries.0)?;
        let rows = stmt.query_map(params![region, cluster], row)?;
        return rows.collect();
    };
    let mut wanted: Vec<&String> = ids.iter().collect();
    wanted.sort();
    wanted.dedup();
    let mut stmt = c.prepare_cached(queries.1)?;
    let mut all = Vec::with_capacity(wanted.len());
    for id in wanted {
        if let Some(found) = stmt.query_row(params![region, cluster, id], &row).optional()? {
            all.push(found);
        }
    }
    Ok(all)
}

/// The instances that may serve the Fargate pool, of every cluster of the
/// region but `cluster`: those registered in the pool, and those whose
/// record names the pool's attribute (the caller reads them to be sure).
pub(crate) fn pool_instances(
    c: &Connection,
    region: &str,
    cluster: &str,
) -> rusqlite::Result<Vec<InstanceUsage>> {
    let mut stmt = c.prepare_cached(&usage_query(
        "i.region = ?1 AND i.cluster != ?2 AND (i.cluster = ?3 OR instr(i.body, ?4) > 0)",
    ))?;
    let rows = stmt.query_map(
        params![
            region,
            cluster,
            capacity::FARGATE_POOL,
            format!("\"{}\"", capacity::FARGATE_ATTRIBUTE)
        ],
        usage_row,
    )?;
    rows.collect()
}

/// The instances `condition` picks with what their unstopped tasks hold, in
/// ID order: one row of `instance_usage` each (kept by triggers, see the
/// schema), their group counts, and the host ports of the few tasks that hold
/// any. A task counts on its instance's cluster (`instance_cluster`), whatever
/// its own.
fn usage_query(condition: &str) -> String {
    format!(
        "SELECT i.cluster, i.id, i.status, i.body, \
                coalesce(u.cpu, 0), coalesce(u.memory, 0), \
                coalesce((SELECT group_concat(t.host_ports, ',') FROM tasks t \
                          WHERE t.region = i.region AND t.instance_cluster = i.cluster \
                                AND t.instance_id = i.id AND t.host_ports != '' \
                                AND t.last_status != 'STOPPED'), ''), \
                coalesce(u.running, 0), coalesce(u.pending, 0), \
                coalesce((SELECT json_group_array(json_array(g.grp, g.n)) \
                          FROM instance_groups g \
                          WHERE g.region = i.region AND g.instance_cluster = i.cluster \
                                AND g.instance_id = i.id AND g.n > 0), '[]') \
         FROM container_instances i \
         LEFT JOIN instance_usage u ON u.region = i.region AND u.instance_cluster = i.cluster \
              AND u.instance_id = i.id \
         WHERE {condition} \
         ORDER BY i.id"
    )
}

fn usage_row(r: &Row<'_>) -> rusqlite::Result<InstanceUsage> {
    let ports: String = r.get(6)?;
    let groups: String = r.get(9)?;
    // SQLite wrote this array of [group, count] pairs.
    let counted: Vec<(String, usize)> = serde_json::from_str(&groups).unwrap_or_default();
    Ok(InstanceUsage {
        instance: StoredInstance {
            cluster: r.get(0)?,
            id: r.get(1)?,
            status: vocabulary(r, 2)?,
            json: r.get(3)?,
        },
        cpu: r.get(4)?,
        memory: r.get(5)?,
        ports: ports.split(',').filter(|p| !p.is_empty()).map(str::to_owned).collect(),
        running_tasks: r.get(7)?,
        pending_tasks: r.get(8)?,
        task_groups: {
            let mut groups = TaskGroups::default();
            for (group, n) in counted {
                groups.add_owned(group, i64::try_from(n).unwrap_or(i64::MAX));
            }
            groups
        },
    })
}

/// Inserts or replaces an instance.
pub(crate) fn put_instance(
    c: &Connection,
    region: &str,
    instance: &StoredInstance,
) -> rusqlite::Result<()> {
    c.prepare_cached(
        "INSERT INTO container_instances (region, cluster, id, status, body) \
         VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (region, cluster, id) \
         DO UPDATE SET status = excluded.status, body = excluded.body",
    )?
    .execute(params![
        region,
        instance.cluster,
        instance.id,
        instance.status.as_str(),
        instance.json
    ])?;
    Ok(())
}

/// Inserts new tasks.
pub(crate) fn insert_tasks(
    c: &Connection,
    region: &str,
    tasks: &[NewTask],
) -> rusqlite::Result<()> {
    let mut insert = c.prepare_cached(
        "INSERT INTO tasks (region, cluster, id, instance_id, family, started_by, service, \
         last_status, desired_status, cpu, memory, host_ports, body, arn, instance_cluster) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
    )?;
    let mut tag = c.prepare_cached(
        "INSERT INTO tags (region, arn, key, value) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (region, arn, key) DO UPDATE SET value = excluded.value",
    )?;
    for new in tasks {
        let t = &new.task;
        insert.execute(params![
            region,
            t.cluster,
            t.id,
            t.instance_id,
            new.family,
            new.started_by,
            t.service,
            t.last_status.as_str(),
            t.desired_status.as_str(),
            new.reservation.cpu,
            new.reservation.memory,
            new.reservation.ports.join(","),
            t.json,
            t.arn,
            t.instance_cluster
        ])?;
        if !new.tags.is_empty() {
            for (k, v) in &new.tags {
                tag.execute(params![region, t.arn, k, v])?;
            }
        }
    }
    Ok(())
}

/// One task.
pub(crate) fn task(
    c: &Connection,
    region: &str,
    cluster: &str,
    id: &str,
) -> rusqlite::Result<Option<StoredTask>> {
    c.prepare_cached(&format!(
        "SELECT {TASK_COLUMNS} FROM tasks WHERE region = ?1 AND cluster = ?2 AND id = ?3"
    ))?
    .query_row(params![region, cluster, id], read_task)
    .optional()
}

/// Applies a change to a task.
pub(crate) fn update_task(
    c: &Connection,
    region: &str,
    cluster: &str,
    id: &str,
    update: &TaskUpdate,
) -> rusqlite::Result<()> {
    c.prepare_cached(
        "UPDATE tasks SET last_status = ?4, desired_status = ?5, body = ?6, \
         stopped_ms = coalesce(stopped_ms, ?7) WHERE region = ?1 AND cluster = ?2 AND id = ?3",
    )?
    .execute(params![
        region,
        cluster,
        id,
        update.last_status.as_str(),
        update.desired_status.as_str(),
        update.json,
        update.stopped_ms
    ])?;
    Ok(())
}

/// Tasks matching a query, in ID order.
pub(crate) fn list_tasks(
    c: &Connection,
    region: &str,
    q: &TaskQuery,
) -> rusqlite::Result<Vec<StoredTask>> {
    // Conditions left out rather than `?n IS NULL OR ...`, so indexes apply.
    let mut sql = format!("SELECT {TASK_COLUMNS} FROM tasks WHERE region = ?1 AND cluster = ?2");
    let opt = |sql: &mut String, n: usize, column: &str, v: Option<&str>| {
        if v.is_some() {
            sql.push_str(&format!(" AND {column} = ?{n}"));
        } else {
            sql.push_str(&format!(" AND ?{n} IS NULL"));
        }
    };
    opt(&mut sql, 3, "family", q.family.as_deref());
    opt(&mut sql, 4, "started_by", q.started_by.as_deref());
    opt(&mut sql, 5, "service", q.service.as_deref());
    opt(&mut sql, 6, "instance_id", q.instance_id.as_deref());
    let desired = q.desired_status.as_ref().map(|d| d.as_str());
    opt(&mut sql, 7, "desired_status", desired);
    sql.push_str(" AND id > ?8 ORDER BY id LIMIT ?9");
    let mut stmt = c.prepare_cached(&sql)?;
    let rows = stmt.query_map(
        params![
            region,
            q.cluster,
            q.family,
            q.started_by,
            q.service,
            q.instance_id,
            desired,
            q.after.as_deref().unwrap_or(""),
            q.limit as i64
        ],
        read_task,
    )?;
    rows.collect()
}

/// Tasks on an instance (of `cluster`) that an agent must still act on or
/// report: every one not yet `STOPPED`, of whatever cluster.
pub(crate) fn unstopped_on_instance(
    c: &Connection,
    region: &str,
    cluster: &str,
    instance_id: &str,
) -> rusqlite::Result<Vec<StoredTask>> {
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {TASK_COLUMNS} FROM tasks WHERE region = ?1 AND instance_cluster = ?2 \
         AND instance_id = ?3 AND last_status != 'STOPPED' ORDER BY id"
    ))?;
    let rows = stmt.query_map(params![region, cluster, instance_id], read_task)?;
    rows.collect()
}

/// Counts of a cluster's tasks: (running, pending), for DescribeClusters and
/// DeleteCluster.
pub(crate) fn task_counts(
    c: &Connection,
    region: &str,
    cluster: &str,
) -> rusqlite::Result<(i64, i64)> {
    c.prepare_cached(
        "SELECT coalesce(sum(last_status = 'RUNNING'), 0), \
                coalesce(sum(last_status != 'RUNNING' AND last_status != 'STOPPED'), 0) \
         FROM tasks WHERE region = ?1 AND cluster = ?2",
    )?
    .query_row(params![region, cluster], |r| Ok((r.get(0)?, r.get(1)?)))
}

/// Every region's tasks and container instances counted by cluster and status: one
/// grouped scan of each table's narrow columns (the JSON bodies are not read).
pub(crate) fn status_counts(c: &Connection) -> rusqlite::Result<StatusCounts> {
    let mut stmt = c.prepare_cached(
        "SELECT region, cluster, last_status, desired_status, count(*) FROM tasks \
         GROUP BY region, cluster, last_status, desired_status \
         ORDER BY region, cluster, last_status, desired_status",
    )?;
    let tasks = stmt
        .query_map([], |r| {
            Ok(TaskStatusCount {
                region: r.get(0)?,
                cluster: r.get(1)?,
                last_status: vocabulary(r, 2)?,
                desired_status: listed(r, 3)?,
                count: r.get(4)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut stmt = c.prepare_cached(
        "SELECT region, cluster, status, count(*) FROM container_instances \
         GROUP BY region, cluster, status ORDER BY region, cluster, status",
    )?;
    let instances = stmt
        .query_map([], |r| {
            Ok(InstanceStatusCount {
                region: r.get(0)?,
                cluster: r.get(1)?,
                status: vocabulary(r, 2)?,
                count: r.get(3)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(StatusCounts { tasks, instances })
}

/// Deletes tasks that stopped before `before_ms`, and their tags; returns how many.
pub(crate) fn purge_stopped(c: &Connection, before_ms: i64) -> rusqlite::Result<usize> {
    let arns: Vec<(String, String)> = {
        let mut stmt = c.prepare_cached(
            "SELECT region, arn FROM tasks WHERE stopped_ms IS NOT NULL AND stopped_ms < ?1",
        )?;
        let rows = stmt.query_map(params![before_ms], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    let mut untag = c.prepare_cached("DELETE FROM tags WHERE region = ?1 AND arn = ?2")?;
    for (region, arn) in &arns {
        untag.execute(params![region, arn])?;
    }
    c.prepare_cached("DELETE FROM tasks WHERE stopped_ms IS NOT NULL AND stopped_ms < ?1")?
        .execute(params![before_ms])
}
