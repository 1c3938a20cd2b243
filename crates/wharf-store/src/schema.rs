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
    r#"
-- What each instance's unstopped tasks hold, kept up to date by the triggers
-- below as tasks are inserted, change status or instance, and are deleted:
-- placement and heartbeats read one row per instance instead of summing every
-- task of the cluster. instance_groups counts the tasks of each task group.
-- Both are keyed by the instance's cluster (a task's instance_cluster: its
-- own cluster, or the pool's or another cluster's for a Fargate task), as
-- the instance's reads join them; a task's own cluster does not count here.
CREATE TABLE instance_usage (
    region           TEXT NOT NULL,
    instance_cluster TEXT NOT NULL,
    instance_id      TEXT NOT NULL,
    cpu              INTEGER NOT NULL,
    memory           INTEGER NOT NULL,
    running          INTEGER NOT NULL,
    pending          INTEGER NOT NULL,
    PRIMARY KEY (region, instance_cluster, instance_id)
) WITHOUT ROWID;
CREATE TABLE instance_groups (
    region           TEXT NOT NULL,
    instance_cluster TEXT NOT NULL,
    instance_id      TEXT NOT NULL,
    grp              TEXT NOT NULL,
    n                INTEGER NOT NULL,
    PRIMARY KEY (region, instance_cluster, instance_id, grp)
) WITHOUT ROWID;
-- The few unstopped tasks that hold host ports, found without the others.
CREATE INDEX tasks_holding_ports ON tasks (region, instance_cluster, instance_id)
    WHERE host_ports != '' AND last_status != 'STOPPED';
-- ListTasks by service, by family and by startedBy, in ID order.
CREATE INDEX tasks_by_service ON tasks (region, cluster, service, id) WHERE service IS NOT NULL;
CREATE INDEX tasks_by_family ON tasks (region, cluster, family, id);
CREATE INDEX tasks_by_started_by ON tasks (region, cluster, started_by, id)
    WHERE started_by IS NOT NULL;

INSERT INTO instance_usage
SELECT region, instance_cluster, instance_id, sum(cpu), sum(memory),
       sum(last_status = 'RUNNING'), sum(last_status != 'RUNNING')
FROM tasks
WHERE instance_cluster IS NOT NULL AND instance_id IS NOT NULL AND last_status != 'STOPPED'
GROUP BY region, instance_cluster, instance_id;
INSERT INTO instance_groups
SELECT region, instance_cluster, instance_id, json_extract(body, '$.group'), count(*)
FROM tasks
WHERE instance_cluster IS NOT NULL AND instance_id IS NOT NULL AND last_status != 'STOPPED'
      AND json_type(body, '$.group') = 'text'
GROUP BY region, instance_cluster, instance_id, json_extract(body, '$.group');

CREATE TRIGGER tasks_usage_insert AFTER INSERT ON tasks
WHEN NEW.instance_cluster IS NOT NULL AND NEW.instance_id IS NOT NULL
     AND NEW.last_status != 'STOPPED'
BEGIN
    INSERT INTO instance_usage VALUES (NEW.region, NEW.instance_cluster, NEW.instance_id,
        NEW.cpu, NEW.memory, NEW.last_status = 'RUNNING', NEW.last_status != 'RUNNING')
    ON CONFLICT (region, instance_cluster, instance_id) DO UPDATE SET
        cpu = cpu + excluded.cpu, memory = memory + excluded.memory,
        running = running + excluded.running, pending = pending + excluded.pending;
    INSERT INTO instance_groups
    SELECT NEW.region, NEW.instance_cluster, NEW.instance_id, json_extract(NEW.body, '$.group'), 1
    WHERE json_type(NEW.body, '$.group') = 'text'
    ON CONFLICT (region, instance_cluster, instance_id, grp) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER tasks_usage_delete AFTER DELETE ON tasks
WHEN OLD.instance_cluster IS NOT NULL AND OLD.instance_id IS NOT NULL
     AND OLD.last_status != 'STOPPED'
BEGIN
    UPDATE instance_usage SET cpu = cpu - OLD.cpu, memory = memory - OLD.memory,
        running = running - (OLD.last_status = 'RUNNING'),
        pending = pending - (OLD.last_status != 'RUNNING')
    WHERE region = OLD.region AND instance_cluster = OLD.instance_cluster
          AND instance_id = OLD.instance_id;
    UPDATE instance_groups SET n = n - 1
    WHERE region = OLD.region AND instance_cluster = OLD.instance_cluster
          AND instance_id = OLD.instance_id AND grp = json_extract(OLD.body, '$.group');
    DELETE FROM instance_groups
    WHERE region = OLD.region AND instance_cluster = OLD.instance_cluster
          AND instance_id = OLD.instance_id AND n <= 0;
END;

-- A task is held (counted) where it is placed until it stops: the update
-- takes the old row's share away and adds the new row's.
CREATE TRIGGER tasks_usage_update
AFTER UPDATE OF last_status, instance_id, instance_cluster ON tasks
WHEN OLD.last_status IS NOT NEW.last_status OR OLD.instance_id IS NOT NEW.instance_id
     OR OLD.instance_cluster IS NOT NEW.instance_cluster
BEGIN
    UPDATE instance_usage SET cpu = cpu - OLD.cpu, memory = memory - OLD.memory,
        running = running - (OLD.last_status = 'RUNNING'),
        pending = pending - (OLD.last_status != 'RUNNING')
    WHERE OLD.instance_cluster IS NOT NULL AND OLD.instance_id IS NOT NULL
          AND OLD.last_status != 'STOPPED'
          AND region = OLD.region AND instance_cluster = OLD.instance_cluster
          AND instance_id = OLD.instance_id;
    INSERT INTO instance_usage
    SELECT NEW.region, NEW.instance_cluster, NEW.instance_id, NEW.cpu, NEW.memory,
           NEW.last_status = 'RUNNING', NEW.last_status != 'RUNNING'
    WHERE NEW.instance_cluster IS NOT NULL AND NEW.instance_id IS NOT NULL
          AND NEW.last_status != 'STOPPED'
    ON CONFLICT (region, instance_cluster, instance_id) DO UPDATE SET
        cpu = cpu + excluded.cpu, memory = memory + excluded.memory,
        running = running + excluded.running, pending = pending + excluded.pending;
    -- A task's group counts where it is held: it moves only when the task
    -- stops or changes instance, not from PENDING to RUNNING.
    UPDATE instance_groups SET n = n - 1
    WHERE OLD.instance_cluster IS NOT NULL AND OLD.instance_id IS NOT NULL
          AND OLD.last_status != 'STOPPED'
          AND NOT (NEW.last_status != 'STOPPED' AND OLD.instance_id IS NEW.instance_id
                   AND OLD.instance_cluster IS NEW.instance_cluster)
          AND region = OLD.region AND instance_cluster = OLD.instance_cluster
          AND instance_id = OLD.instance_id AND grp = json_extract(OLD.body, '$.group');
    DELETE FROM instance_groups
    WHERE OLD.instance_cluster IS NOT NULL AND OLD.instance_id IS NOT NULL
          AND region = OLD.region AND instance_cluster = OLD.instance_cluster
          AND instance_id = OLD.instance_id AND n <= 0;
    INSERT INTO instance_groups
    SELECT NEW.region, NEW.instance_cluster, NEW.instance_id, json_extract(NEW.body, '$.group'), 1
    WHERE NEW.instance_cluster IS NOT NULL AND NEW.instance_id IS NOT NULL
          AND NEW.last_status != 'STOPPED'
          AND NOT (OLD.last_status != 'STOPPED' AND OLD.instance_id IS NEW.instance_id
                   AND OLD.instance_cluster IS NEW.instance_cluster)
          AND json_type(NEW.body, '$.group') = 'text'
    ON CONFLICT (region, instance_cluster, instance_id, grp) DO UPDATE SET n = n + 1;
END;
"#,
    r#"
-- The instances that take no new tasks (DRAINING, REGISTERING, ...): the
-- few a service scheduler must move its tasks off, found without reading
-- every instance of the cluster.
CREATE INDEX container_instances_not_active ON container_instances (region, cluster, id)
    WHERE status != 'ACTIVE';
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
    // After `tasks`, whose deletion updates them through triggers.
    "instance_usage",
    "instance_groups",
];

/// Brings the database up to the current schema.
pub(crate) fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    migrate_with(conn, MIGRATIONS)
}

/// Applies `migrations` (append-only, as [`MIGRATIONS`]) from the version the
/// database records, all in one transaction: the database moves to the
/// current version or stays where it was, and a new one is created with one
/// commit (one sync) rather than one per migration.
pub(crate) fn migrate_with(conn: &mut Connection, migrations: &[&str]) -> rusqlite::Result<()> {
    let version: usize = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > migrations.len() {
        return Err(rusqlite::Error::InvalidParameterName(format!(
            "database schema version {version} is newer than this Wharf ({})",
            migrations.len()
        )));
    }
    if version == migrations.len() {
        return Ok(());
    }
    let tx = conn.transaction()?;
    for sql in &migrations[version..] {
        tx.execute_batch(sql)?;
    }
    tx.pragma_update(None, "user_version", migrations.len())?;
    tx.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the triggers keep, computed from every task (the query placement
    /// ran before `instance_usage`, summing over the instance's cluster):
    /// `(instance cluster/instance, cpu, memory, running, pending, groups)`.
    fn summed(c: &Connection) -> Vec<(String, i64, i64, i64, i64, String)> {
        let mut stmt = c
            .prepare(
                "SELECT t.instance_cluster || '/' || t.instance_id, sum(t.cpu), sum(t.memory),
                        sum(t.last_status = 'RUNNING'), sum(t.last_status != 'RUNNING'),
                        (SELECT group_concat(g || ':' || n) FROM (
                            SELECT json_extract(body, '$.group') AS g, count(*) AS n FROM tasks u
                            WHERE u.instance_cluster = t.instance_cluster
                                  AND u.instance_id = t.instance_id AND u.last_status != 'STOPPED'
                                  AND json_type(u.body, '$.group') = 'text'
                            GROUP BY g ORDER BY g))
                 FROM tasks t
                 WHERE t.instance_cluster IS NOT NULL AND t.instance_id IS NOT NULL
                       AND t.last_status != 'STOPPED'
                 GROUP BY t.instance_cluster, t.instance_id
                 ORDER BY t.instance_cluster, t.instance_id",
            )
            .unwrap();
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get::<_, Option<String>>(5)?.unwrap_or_default(),
                ))
            })
            .unwrap();
        rows.collect::<Result<_, _>>().unwrap()
    }

    /// The same, as the triggers kept it (instances holding nothing left out).
    fn kept(c: &Connection) -> Vec<(String, i64, i64, i64, i64, String)> {
        let mut stmt = c
            .prepare(
                "SELECT u.instance_cluster || '/' || u.instance_id, u.cpu, u.memory, u.running,
                        u.pending,
                        (SELECT group_concat(grp || ':' || n) FROM (
                            SELECT grp, n FROM instance_groups g
                            WHERE g.instance_cluster = u.instance_cluster
                                  AND g.instance_id = u.instance_id AND n > 0 ORDER BY grp))
                 FROM instance_usage u WHERE u.running + u.pending > 0
                 ORDER BY u.instance_cluster, u.instance_id",
            )
            .unwrap();
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get::<_, Option<String>>(5)?.unwrap_or_default(),
                ))
            })
            .unwrap();
        rows.collect::<Result<_, _>>().unwrap()
    }

    /// A small deterministic pseudo-random sequence.
    struct Lcg(u64);
    impl Lcg {
        fn below(&mut self, n: u64) -> u64 {
            self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (self.0 >> 33) % n
        }
    }

    /// Inserts task `id` of cluster `c`, placed on `instance` (its cluster and ID).
    fn insert(
        c: &Connection,
        id: u64,
        instance: Option<(&str, String)>,
        status: &str,
        group: &str,
    ) {
        let body = if group.is_empty() {
            "{}".to_owned()
        } else {
            format!(r#"{{"group":"{group}","lastStatus":"{status}"}}"#)
        };
        c.execute(
            "INSERT INTO tasks (region, cluster, id, arn, instance_id, family, started_by, service,
                last_status, desired_status, cpu, memory, host_ports, stopped_ms, body,
                instance_cluster)
             VALUES ('r', 'c', ?1, ?1, ?2, 'f', NULL, NULL, ?3, 'RUNNING', ?4, ?5, '', NULL, ?6,
                     ?7)",
            rusqlite::params![
                format!("t{id:05}"),
                instance.as_ref().map(|i| &i.1),
                status,
                id % 7 * 128,
                id % 5 * 256,
                body,
                instance.as_ref().map(|i| i.0)
            ],
        )
        .unwrap();
    }

    #[test]
    fn the_instances_not_active_are_found_by_their_index_alone() {
        let mut c = Connection::open_in_memory().unwrap();
        migrate(&mut c).unwrap();
        let sql = format!("EXPLAIN QUERY PLAN {}", crate::sqlite_tasks::NOT_ACTIVE);
        let mut stmt = c.prepare(&sql).unwrap();
        let plan: Vec<String> =
            stmt.query_map(["r", "c"], |r| r.get(3)).unwrap().map(Result::unwrap).collect();
        let plan = plan.join("; ");
        assert!(plan.contains("USING INDEX container_instances_not_active"), "{plan}");
        assert!(!plan.contains("TEMP B-TREE"), "read in ID order as indexed: {plan}");
    }

    #[test]
    fn instance_usage_is_what_the_unstopped_tasks_hold() {
        let mut c = Connection::open_in_memory().unwrap();
        // Tasks stored before the usage table existed (by the schema before
        // it, which has instance_cluster) are counted by its migration.
        let usage = MIGRATIONS.iter().position(|m| m.contains("CREATE TABLE instance_usage"));
        migrate_with(&mut c, &MIGRATIONS[..usage.expect("the usage migration")]).unwrap();
        let mut rng = Lcg(17);
        let statuses = ["PROVISIONING", "PENDING", "RUNNING", "STOPPED"];
        let groups = ["", "service:web", "family:batch", "service:api"];
        // The task's own cluster `c`, the Fargate pool's and another cluster
        // that serves it, with the same instance IDs in each: a task counts on
        // its instance's cluster only.
        let clusters = ["c", "@fargate", "b"];
        let instance = |rng: &mut Lcg| match rng.below(6) {
            0 => None,
            n => Some((clusters[rng.below(3) as usize], format!("i{n}"))),
        };
        for id in 0..200 {
            let (i, s, g) = (instance(&mut rng), rng.below(4), rng.below(4));
            insert(&c, id, i, statuses[s as usize], groups[g as usize]);
        }
        migrate_with(&mut c, MIGRATIONS).unwrap();
        assert_eq!(kept(&c), summed(&c));
        let keys: Vec<String> = summed(&c).into_iter().map(|row| row.0).collect();
        assert!(["c/", "@fargate/", "b/"].iter().all(|k| keys.iter().any(|x| x.starts_with(k))));
        // Then every kind of change, as the store makes them.
        for id in 200..2000 {
            match rng.below(4) {
                0 => {
                    let (i, s, g) = (instance(&mut rng), rng.below(4), rng.below(4));
                    insert(&c, id, i, statuses[s as usize], groups[g as usize]);
                }
                1 | 2 => {
                    let s = statuses[rng.below(4) as usize];
                    c.execute(
                        "UPDATE tasks SET last_status = ?1, body = body WHERE id = ?2",
                        rusqlite::params![s, format!("t{:05}", rng.below(id))],
                    )
                    .unwrap();
                }
                _ => {
                    c.execute(
                        "DELETE FROM tasks WHERE id = ?1",
                        rusqlite::params![format!("t{:05}", rng.below(id))],
                    )
                    .unwrap();
                }
            }
            if id % 100 == 0 {
                assert_eq!(kept(&c), summed(&c), "after change {id}");
            }
        }
        assert_eq!(kept(&c), summed(&c));
        // An instance change moves what the task holds.
        c.execute("UPDATE tasks SET instance_id = 'i9' WHERE last_status != 'STOPPED'", [])
            .unwrap();
        assert_eq!(kept(&c), summed(&c));
        // So does a change of the instance's cluster alone.
        c.execute(
            "UPDATE tasks SET instance_cluster = '@fargate' WHERE instance_cluster = 'c'",
            [],
        )
        .unwrap();
        assert_eq!(kept(&c), summed(&c));
        c.execute("DELETE FROM tasks", []).unwrap();
        assert_eq!(kept(&c), vec![]);
        let groups: i64 =
            c.query_row("SELECT count(*) FROM instance_groups", [], |r| r.get(0)).unwrap();
        assert_eq!(groups, 0, "no group count outlives its tasks");
    }
}
