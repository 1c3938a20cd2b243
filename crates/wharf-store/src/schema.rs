//! The database schema and its migrations, applied in order by
//! `PRAGMA user_version`.

use rusqlite::Connection;

/// Each entry moves the schema from version `i` to `i + 1`. Append only.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE documents (
    kind   TEXT NOT NULL,
    region TEXT NOT NULL,
    key    TEXT NOT NULL,
    body   TEXT NOT NULL,
    PRIMARY KEY (kind, region, key)
);
-- One row per family ever registered, written once. Revisions are numbered
-- from the highest one present, or from revision_floor once revisions are
-- purged, so a number is never reused. Nothing here changes per
-- registration: with many families, every extra page a registration dirties
-- is another page in the WAL.
CREATE TABLE task_definition_families (
    region         TEXT NOT NULL,
    family         TEXT NOT NULL,
    revision_floor INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (region, family)
);
CREATE TABLE task_definitions (
    region   TEXT NOT NULL,
    family   TEXT NOT NULL,
    revision INTEGER NOT NULL,
    status   TEXT NOT NULL,
    body     TEXT NOT NULL,
    PRIMARY KEY (region, family, revision)
);
CREATE TABLE tags (
    region TEXT NOT NULL,
    arn    TEXT NOT NULL,
    key    TEXT NOT NULL,
    value  TEXT NOT NULL,
    PRIMARY KEY (region, arn, key)
);
"#,
    r#"
CREATE TABLE container_instances (
    region  TEXT NOT NULL,
    cluster TEXT NOT NULL,
    id      TEXT NOT NULL,
    status  TEXT NOT NULL,
    body    TEXT NOT NULL,
    PRIMARY KEY (region, cluster, id)
);
-- One row per task. The reservation columns (cpu, memory, host_ports) count
-- against the instance until last_status is STOPPED.
CREATE TABLE tasks (
    region         TEXT NOT NULL,
    cluster        TEXT NOT NULL,
    id             TEXT NOT NULL,
    arn            TEXT NOT NULL,
    instance_id    TEXT,
    family         TEXT NOT NULL,
    started_by     TEXT,
    service        TEXT,
    last_status    TEXT NOT NULL,
    desired_status TEXT NOT NULL,
    cpu            INTEGER NOT NULL,
    memory         INTEGER NOT NULL,
    host_ports     TEXT NOT NULL,
    stopped_ms     INTEGER,
    body           TEXT NOT NULL,
    PRIMARY KEY (region, cluster, id)
);
CREATE INDEX tasks_by_instance ON tasks (region, cluster, instance_id, last_status);
CREATE INDEX tasks_by_stopped ON tasks (stopped_ms) WHERE stopped_ms IS NOT NULL;
"#,
    r#"
-- ELBv2 load balancers, target groups, listeners and rules. `sort` is what a
-- row is found and listed by under its parent: a name, a port, a priority.
-- Uniqueness (names, ports, priorities) is checked by the writes, which run
-- one at a time; an index here would refuse a swap of two priorities.
CREATE TABLE elb_resources (
    region TEXT NOT NULL,
    arn    TEXT NOT NULL,
    kind   TEXT NOT NULL,
    parent TEXT NOT NULL,
    sort   TEXT NOT NULL,
    body   TEXT NOT NULL,
    PRIMARY KEY (region, arn)
);
CREATE INDEX elb_resources_by_parent ON elb_resources (region, kind, parent, sort);
-- Which listeners and rules forward to which target groups.
CREATE TABLE elb_uses (
    region        TEXT NOT NULL,
    user_arn      TEXT NOT NULL,
    target_group  TEXT NOT NULL,
    load_balancer TEXT NOT NULL,
    PRIMARY KEY (region, user_arn, target_group)
);
CREATE INDEX elb_uses_by_target_group ON elb_uses (region, target_group);
CREATE INDEX elb_uses_by_load_balancer ON elb_uses (region, load_balancer);
CREATE TABLE elb_targets (
    region       TEXT NOT NULL,
    target_group TEXT NOT NULL,
    id           TEXT NOT NULL,
    port         INTEGER NOT NULL,
    body         TEXT NOT NULL,
    PRIMARY KEY (region, target_group, id, port)
);
"#,
    r#"
-- The revisions DeleteTaskDefinitions marked, which the purge looks for.
CREATE INDEX task_definitions_in_deletion ON task_definitions (status)
    WHERE status = 'DELETE_IN_PROGRESS';
"#,
    r#"
-- The cluster of the instance a task is placed on: the task's own, or
-- another's for a Fargate task on a host of the Fargate pool, which serves
-- every cluster. What an instance holds is summed over this column.
ALTER TABLE tasks ADD COLUMN instance_cluster TEXT;
UPDATE tasks SET instance_cluster = cluster WHERE instance_id IS NOT NULL;
CREATE INDEX tasks_by_host ON tasks (region, instance_cluster, instance_id, last_status);
"#,
];

/// Every table, for a reset.
pub(crate) const TABLES: &[&str] = &[
    "documents",
    "task_definition_families",
    "task_definitions",
    "tags",
    "container_instances",
    "tasks",
    "elb_resources",
    "elb_uses",
    "elb_targets",
];

/// Brings the database up to the current schema.
pub(crate) fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    migrate_with(conn, MIGRATIONS)
}

/// Applies `migrations` (append-only, as [`MIGRATIONS`]) from the version the
/// database records.
pub(crate) fn migrate_with(conn: &mut Connection, migrations: &[&str]) -> rusqlite::Result<()> {
    let version: usize = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > migrations.len() {
        return Err(rusqlite::Error::InvalidParameterName(format!(
            "database schema version {version} is newer than this Wharf ({})",
            migrations.len()
        )));
    }
    for (i, sql) in migrations.iter().enumerate().skip(version) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i + 1)?;
        tx.commit()?;
    }
    Ok(())
}
