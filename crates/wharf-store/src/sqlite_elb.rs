//! [`ElbView`] and [`ElbTx`] on a SQLite connection: a read connection for
//! views, the writer's connection (inside the write's savepoint) for writes.

use rusqlite::{params, Connection, OptionalExtension};

use crate::elb::{ElbKind, ElbRow, ElbTx, ElbUse, ElbView, TargetRow};
use crate::StoreError;

/// The ELBv2 tables of one region on one connection.
pub(crate) struct SqliteElb<'c> {
    pub(crate) conn: &'c Connection,
    pub(crate) region: &'c str,
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ElbRow> {
    let kind: String = r.get(1)?;
    Ok(ElbRow {
        arn: r.get(0)?,
        kind: ElbKind::from_column(&kind)?,
        parent: r.get(2)?,
        sort: r.get(3)?,
        body: r.get(4)?,
    })
}

fn uses(r: &rusqlite::Row<'_>) -> rusqlite::Result<ElbUse> {
    Ok(ElbUse { user_arn: r.get(0)?, target_group_arn: r.get(1)?, load_balancer_arn: r.get(2)? })
}

const COLUMNS: &str = "arn, kind, parent, sort, body";

impl ElbView for SqliteElb<'_> {
    fn get(&self, arn: &str) -> Result<Option<ElbRow>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM elb_resources WHERE region = ?1 AND arn = ?2");
        Ok(self.conn.prepare_cached(&sql)?.query_row(params![self.region, arn], row).optional()?)
    }

    fn find(&self, kind: ElbKind, parent: &str, sort: &str) -> Result<Option<ElbRow>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM elb_resources WHERE region = ?1 AND kind = ?2 AND parent = ?3 \
             AND sort = ?4 LIMIT 1"
        );
        Ok(self
            .conn
            .prepare_cached(&sql)?
            .query_row(params![self.region, kind.as_str(), parent, sort], row)
            .optional()?)
    }

    fn list(
        &self,
        kind: ElbKind,
        parent: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ElbRow>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM elb_resources WHERE region = ?1 AND kind = ?2 AND parent = ?3 \
             AND sort > ?4 ORDER BY sort, arn LIMIT ?5"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(
            params![self.region, kind.as_str(), parent, after.unwrap_or(""), limit as i64],
            row,
        )?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn count(&self, kind: ElbKind, parent: &str) -> Result<usize, StoreError> {
        let n: i64 = self
            .conn
            .prepare_cached(
                "SELECT count(*) FROM elb_resources WHERE region = ?1 AND kind = ?2 AND parent = ?3",
            )?
            .query_row(params![self.region, kind.as_str(), parent], |r| r.get(0))?;
        Ok(n as usize)
    }

    fn uses_of(&self, target_group_arn: &str) -> Result<Vec<ElbUse>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT user_arn, target_group, load_balancer FROM elb_uses \
             WHERE region = ?1 AND target_group = ?2 ORDER BY user_arn",
        )?;
        let rows = stmt.query_map(params![self.region, target_group_arn], uses)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn uses_in(&self, load_balancer_arn: &str) -> Result<Vec<ElbUse>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT user_arn, target_group, load_balancer FROM elb_uses \
             WHERE region = ?1 AND load_balancer = ?2 ORDER BY target_group, user_arn",
        )?;
        let rows = stmt.query_map(params![self.region, load_balancer_arn], uses)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn targets(&self, target_group_arn: &str) -> Result<Vec<TargetRow>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, port, body FROM elb_targets WHERE region = ?1 AND target_group = ?2 \
             ORDER BY id, port",
        )?;
        let rows = stmt.query_map(params![self.region, target_group_arn], |r| {
            Ok(TargetRow { id: r.get(0)?, port: r.get(1)?, body: r.get(2)? })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn tags(&self, arn: &str) -> Result<Vec<(String, String)>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT key, value FROM tags WHERE region = ?1 AND arn = ?2 ORDER BY key",
        )?;
        let rows = stmt.query_map(params![self.region, arn], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

impl ElbTx for SqliteElb<'_> {
    fn put(&self, r: &ElbRow) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO elb_resources (region, arn, kind, parent, sort, body) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (region, arn) DO UPDATE SET \
                 kind = excluded.kind, parent = excluded.parent, sort = excluded.sort, \
                 body = excluded.body",
            )?
            .execute(params![self.region, r.arn, r.kind.as_str(), r.parent, r.sort, r.body])?;
        Ok(())
    }

    fn delete(&self, arn: &str) -> Result<(), StoreError> {
        for sql in [
            "DELETE FROM elb_resources WHERE region = ?1 AND arn = ?2",
            "DELETE FROM elb_uses WHERE region = ?1 AND user_arn = ?2",
            "DELETE FROM elb_targets WHERE region = ?1 AND target_group = ?2",
            "DELETE FROM tags WHERE region = ?1 AND arn = ?2",
        ] {
            self.conn.prepare_cached(sql)?.execute(params![self.region, arn])?;
        }
        Ok(())
    }

    fn set_uses(
        &self,
        user_arn: &str,
        load_balancer_arn: &str,
        target_groups: &[String],
    ) -> Result<(), StoreError> {
        self.conn
            .prepare_cached("DELETE FROM elb_uses WHERE region = ?1 AND user_arn = ?2")?
            .execute(params![self.region, user_arn])?;
        let mut put = self.conn.prepare_cached(
            "INSERT OR IGNORE INTO elb_uses (region, user_arn, target_group, load_balancer) \
             VALUES (?1, ?2, ?3, ?4)",
        )?;
        for tg in target_groups {
            put.execute(params![self.region, user_arn, tg, load_balancer_arn])?;
        }
        Ok(())
    }

    fn put_target(&self, target_group_arn: &str, t: &TargetRow) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO elb_targets (region, target_group, id, port, body) \
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (region, target_group, id, port) \
                 DO UPDATE SET body = excluded.body",
            )?
            .execute(params![self.region, target_group_arn, t.id, t.port, t.body])?;
        Ok(())
    }

    fn delete_target(&self, target_group_arn: &str, id: &str, port: i32) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "DELETE FROM elb_targets WHERE region = ?1 AND target_group = ?2 AND id = ?3 \
                 AND port = ?4",
            )?
            .execute(params![self.region, target_group_arn, id, port])?;
        Ok(())
    }

    fn put_tags(&self, arn: &str, tags: &[(String, String)]) -> Result<(), StoreError> {
        let mut put = self.conn.prepare_cached(
            "INSERT INTO tags (region, arn, key, value) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (region, arn, key) DO UPDATE SET value = excluded.value",
        )?;
        for (k, v) in tags {
            put.execute(params![self.region, arn, k, v])?;
        }
        Ok(())
    }

    fn delete_tags(&self, arn: &str, keys: &[String]) -> Result<(), StoreError> {
        let mut del = self
            .conn
            .prepare_cached("DELETE FROM tags WHERE region = ?1 AND arn = ?2 AND key = ?3")?;
        for k in keys {
            del.execute(params![self.region, arn, k])?;
        }
        Ok(())
    }
}
