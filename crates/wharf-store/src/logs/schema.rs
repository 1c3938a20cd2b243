//! The log store's schema (its own database file, `logs.sqlite3`).
//!
//! Events are one table in append order (`id`, never reused), read through
//! two indexes: (stream, timestamp) for GetLogEvents and (group, timestamp)
//! for FilterLogEvents and retention. `bytes` is each event's size as
//! CloudWatch counts it (UTF-8 message plus 26), so `stored_bytes` of groups
//! and streams is maintained exactly by every insert and delete.

/// Migrations of the log database, applied in order (append only).
pub(crate) const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE log_groups (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    region         TEXT NOT NULL,
    name           TEXT NOT NULL,
    created        INTEGER NOT NULL,
    retention_days INTEGER,
    class          TEXT NOT NULL,
    kms_key_id     TEXT,
    tags           TEXT NOT NULL DEFAULT '{}',
    stored_bytes   INTEGER NOT NULL DEFAULT 0,
    UNIQUE (region, name)
);
CREATE TABLE log_streams (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    group_id       INTEGER NOT NULL,
    name           TEXT NOT NULL,
    created        INTEGER NOT NULL,
    first_event    INTEGER,
    last_event     INTEGER,
    last_ingestion INTEGER,
    stored_bytes   INTEGER NOT NULL DEFAULT 0,
    cursor         TEXT,
    UNIQUE (group_id, name)
);
CREATE INDEX log_streams_by_last_event ON log_streams (group_id, last_event, name);
CREATE TABLE log_events (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    stream_id INTEGER NOT NULL,
    group_id  INTEGER NOT NULL,
    ts        INTEGER NOT NULL,
    ingested  INTEGER NOT NULL,
    bytes     INTEGER NOT NULL,
    message   TEXT NOT NULL
);
CREATE INDEX log_events_by_stream ON log_events (stream_id, ts);
CREATE INDEX log_events_by_group ON log_events (group_id, ts);
-- Groups and streams deleted whose events are still being removed, in batches.
CREATE TABLE log_purge (
    group_id  INTEGER,
    stream_id INTEGER
);
"#,
    r#"
-- With an etcd store this database mirrors the log keys in etcd: each batch
-- of events appended is one etcd key; its events carry ids derived from the
-- key's create revision (revision * 10000 + index), the same on every server.
CREATE TABLE log_batches (
    key       TEXT PRIMARY KEY,
    group_id  INTEGER NOT NULL,
    stream_id INTEGER NOT NULL,
    first_id  INTEGER NOT NULL,
    count     INTEGER NOT NULL,
    max_ts    INTEGER NOT NULL,
    bytes     INTEGER NOT NULL
);
CREATE INDEX log_batches_by_group ON log_batches (group_id, max_ts);
CREATE INDEX log_batches_by_first ON log_batches (first_id);
-- Which etcd keyspace is mirrored, and up to which revision.
CREATE TABLE log_mirror (
    source   TEXT NOT NULL,
    revision INTEGER NOT NULL
);
"#,
];
