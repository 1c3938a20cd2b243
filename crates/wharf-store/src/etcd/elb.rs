//! ELBv2 state in etcd: rows (`elb/<region>/r/<arn>`, a header with kind,
//! parent and sort key, then the body), what listeners and rules forward to
//! (`elb/<region>/u/<user arn>`), targets (`elb/<region>/t/<group
//! arn>/<id>/<port>`), tags as everywhere (`tag/<region>/<arn>`).
//!
//! An ELBv2 write reads many rows (names must be unique, a load balancer
//! takes its listeners with it, ...). Rather than compare each, every ELBv2
//! write of a region compares and rewrites one stamp (`elb/<region>/v`):
//! the region's ELBv2 writes are serialized across servers, as they are by
//! SQLite's single writer, and a write that read anything another server
//! changed since is run again.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::cache::State;
use super::keys::{key, last, parts, prefix};
use super::store::{corrupt, envelope, open_envelope, read_tags, tag_key};
use super::writer::Tx;
use crate::elb::{sort_key, ElbKind, ElbRow, ElbTx, ElbUse, ElbView, ElbWrite, TargetRow};
use crate::StoreError;

#[derive(Debug, Serialize, Deserialize)]
struct RowHeader {
    kind: String,
    parent: String,
    sort: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Uses {
    lb: String,
    tgs: Vec<String>,
}

fn row_key(region: &str, arn: &str) -> String {
    key(&["elb", region, "r", arn])
}

fn uses_key(region: &str, user: &str) -> String {
    key(&["elb", region, "u", user])
}

fn target_key(region: &str, tg: &str, id: &str, port: i32) -> String {
    key(&["elb", region, "t", tg, id, &sort_key(port)])
}

fn kind_of(s: &str) -> Result<ElbKind, StoreError> {
    [ElbKind::LoadBalancer, ElbKind::TargetGroup, ElbKind::Listener, ElbKind::Rule]
        .into_iter()
        .find(|k| k.as_str() == s)
        .ok_or_else(|| corrupt("ELBv2 row", format!("kind {s}")))
}

fn read_row(arn: String, value: &str) -> Result<ElbRow, StoreError> {
    let (head, body) = open_envelope(value);
    let h: RowHeader = serde_json::from_str(head).map_err(|e| corrupt("ELBv2 row", e))?;
    Ok(ElbRow {
        kind: kind_of(&h.kind)?,
        arn,
        parent: h.parent,
        sort: h.sort,
        body: body.to_owned(),
    })
}

/// What ELBv2 reads need of the keys, from the cache or from a job.
trait Rows {
    fn point(&self, key: &str) -> Option<Arc<str>>;
    fn range(&self, prefix: &str) -> Vec<(String, Arc<str>)>;
}

impl Rows for &State {
    fn point(&self, key: &str) -> Option<Arc<str>> {
        self.get(key).map(|e| e.value.clone())
    }

    fn range(&self, prefix: &str) -> Vec<(String, Arc<str>)> {
        self.scan(prefix).map(|(k, e)| (k.clone(), e.value.clone())).collect()
    }
}

impl Rows for RefCell<&mut Tx<'_>> {
    fn point(&self, key: &str) -> Option<Arc<str>> {
        self.borrow().peek(key)
    }

    fn range(&self, prefix: &str) -> Vec<(String, Arc<str>)> {
        self.borrow().scan(prefix)
    }
}

/// A region's ELBv2 state over some keys.
struct On<'r, R> {
    rows: R,
    region: &'r str,
}

/// ELBv2 reads on the cache.
pub(super) struct StateElb<'s> {
    pub(super) state: &'s State,
    pub(super) region: &'s str,
}

impl<R: Rows> On<'_, R> {
    fn all_rows(&self) -> Result<Vec<ElbRow>, StoreError> {
        self.rows
            .range(&prefix(&["elb", self.region, "r"]))
            .into_iter()
            .map(|(k, v)| read_row(last(&k), &v))
            .collect()
    }

    fn all_uses(&self) -> Result<Vec<(String, Uses)>, StoreError> {
        self.rows
            .range(&prefix(&["elb", self.region, "u"]))
            .into_iter()
            .map(|(k, v)| {
                let uses: Uses = serde_json::from_str(&v).map_err(|e| corrupt("ELBv2 use", e))?;
                Ok((last(&k), uses))
            })
            .collect()
    }
}

impl<R: Rows> ElbView for On<'_, R> {
    fn get(&self, arn: &str) -> Result<Option<ElbRow>, StoreError> {
        self.rows
            .point(&row_key(self.region, arn))
            .map(|v| read_row(arn.to_owned(), &v))
            .transpose()
    }

    fn find(&self, kind: ElbKind, parent: &str, sort: &str) -> Result<Option<ElbRow>, StoreError> {
        Ok(self
            .all_rows()?
            .into_iter()
            .find(|r| r.kind == kind && r.parent == parent && r.sort == sort))
    }

    fn list(
        &self,
        kind: ElbKind,
        parent: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ElbRow>, StoreError> {
        let mut rows: Vec<ElbRow> = self
            .all_rows()?
            .into_iter()
            .filter(|r| r.kind == kind && r.parent == parent)
            .filter(|r| after.is_none_or(|a| r.sort.as_str() > a))
            .collect();
        rows.sort_by(|a, b| (&a.sort, &a.arn).cmp(&(&b.sort, &b.arn)));
        rows.truncate(limit);
        Ok(rows)
    }

    fn count(&self, kind: ElbKind, parent: &str) -> Result<usize, StoreError> {
        Ok(self.all_rows()?.iter().filter(|r| r.kind == kind && r.parent == parent).count())
    }

    fn uses_of(&self, target_group_arn: &str) -> Result<Vec<ElbUse>, StoreError> {
        Ok(self
            .all_uses()?
            .into_iter()
            .filter(|(_, u)| u.tgs.iter().any(|t| t == target_group_arn))
            .map(|(user, u)| ElbUse {
                user_arn: user,
                load_balancer_arn: u.lb,
                target_group_arn: target_group_arn.to_owned(),
            })
            .collect())
    }

    fn uses_in(&self, load_balancer_arn: &str) -> Result<Vec<ElbUse>, StoreError> {
        let mut out: Vec<ElbUse> = Vec::new();
        for (user, u) in self.all_uses()? {
            if u.lb != load_balancer_arn {
                continue;
            }
            for tg in u.tgs {
                out.push(ElbUse {
                    user_arn: user.clone(),
                    load_balancer_arn: u.lb.clone(),
                    target_group_arn: tg,
                });
            }
        }
        out.sort_by(|a, b| {
            (&a.target_group_arn, &a.user_arn).cmp(&(&b.target_group_arn, &b.user_arn))
        });
        Ok(out)
    }

    fn targets(&self, target_group_arn: &str) -> Result<Vec<TargetRow>, StoreError> {
        self.rows
            .range(&prefix(&["elb", self.region, "t", target_group_arn]))
            .into_iter()
            .map(|(k, v)| {
                let p = parts(&k);
                let port = p.get(5).and_then(|p| p.parse().ok()).unwrap_or(0);
                Ok(TargetRow {
                    id: p.get(4).cloned().unwrap_or_default(),
                    port,
                    body: v.to_string(),
                })
            })
            .collect()
    }

    fn tags(&self, arn: &str) -> Result<Vec<(String, String)>, StoreError> {
        Ok(read_tags(self.rows.point(&tag_key(self.region, arn)).as_deref())?.into_iter().collect())
    }
}

impl ElbView for StateElb<'_> {
    fn get(&self, arn: &str) -> Result<Option<ElbRow>, StoreError> {
        self.on().get(arn)
    }
    fn find(&self, kind: ElbKind, parent: &str, sort: &str) -> Result<Option<ElbRow>, StoreError> {
        self.on().find(kind, parent, sort)
    }
    fn list(
        &self,
        kind: ElbKind,
        parent: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ElbRow>, StoreError> {
        self.on().list(kind, parent, after, limit)
    }
    fn count(&self, kind: ElbKind, parent: &str) -> Result<usize, StoreError> {
        self.on().count(kind, parent)
    }
    fn uses_of(&self, target_group_arn: &str) -> Result<Vec<ElbUse>, StoreError> {
        self.on().uses_of(target_group_arn)
    }
    fn uses_in(&self, load_balancer_arn: &str) -> Result<Vec<ElbUse>, StoreError> {
        self.on().uses_in(load_balancer_arn)
    }
    fn targets(&self, target_group_arn: &str) -> Result<Vec<TargetRow>, StoreError> {
        self.on().targets(target_group_arn)
    }
    fn tags(&self, arn: &str) -> Result<Vec<(String, String)>, StoreError> {
        self.on().tags(arn)
    }
}

impl StateElb<'_> {
    fn on(&self) -> On<'_, &State> {
        On { rows: self.state, region: self.region }
    }
}

impl ElbTx for On<'_, RefCell<&mut Tx<'_>>> {
    fn put(&self, row: &ElbRow) -> Result<(), StoreError> {
        let header = RowHeader {
            kind: row.kind.as_str().to_owned(),
            parent: row.parent.clone(),
            sort: row.sort.clone(),
        };
        self.rows.borrow_mut().put(row_key(self.region, &row.arn), envelope(&header, &row.body)?);
        Ok(())
    }

    fn delete(&self, arn: &str) -> Result<(), StoreError> {
        let mut tx = self.rows.borrow_mut();
        tx.delete(row_key(self.region, arn));
        tx.delete(uses_key(self.region, arn));
        tx.delete(tag_key(self.region, arn));
        let targets = prefix(&["elb", self.region, "t", arn]);
        if !tx.scan(&targets).is_empty() {
            tx.delete_prefix(&targets);
        }
        Ok(())
    }

    fn set_uses(
        &self,
        user_arn: &str,
        load_balancer_arn: &str,
        target_groups: &[String],
    ) -> Result<(), StoreError> {
        let mut tgs = target_groups.to_vec();
        tgs.sort();
        tgs.dedup();
        let k = uses_key(self.region, user_arn);
        let mut tx = self.rows.borrow_mut();
        if tgs.is_empty() {
            tx.delete(k);
        } else {
            let uses = Uses { lb: load_balancer_arn.to_owned(), tgs };
            tx.put(k, serde_json::to_string(&uses).map_err(|e| corrupt("ELBv2 use", e))?);
        }
        Ok(())
    }

    fn put_target(&self, target_group_arn: &str, target: &TargetRow) -> Result<(), StoreError> {
        let k = target_key(self.region, target_group_arn, &target.id, target.port);
        self.rows.borrow_mut().put(k, target.body.clone());
        Ok(())
    }

    fn delete_target(&self, target_group_arn: &str, id: &str, port: i32) -> Result<(), StoreError> {
        self.rows.borrow_mut().delete(target_key(self.region, target_group_arn, id, port));
        Ok(())
    }

    fn put_tags(&self, arn: &str, tags: &[(String, String)]) -> Result<(), StoreError> {
        if tags.is_empty() {
            return Ok(());
        }
        let k = tag_key(self.region, arn);
        let mut tx = self.rows.borrow_mut();
        let mut current = read_tags(tx.peek(&k).as_deref())?;
        current.extend(tags.iter().cloned());
        tx.put(k, serde_json::to_string(&current).map_err(|e| corrupt("tag set", e))?);
        Ok(())
    }

    fn delete_tags(&self, arn: &str, keys: &[String]) -> Result<(), StoreError> {
        let k = tag_key(self.region, arn);
        let mut tx = self.rows.borrow_mut();
        let mut current: BTreeMap<String, String> = read_tags(tx.peek(&k).as_deref())?;
        for key in keys {
            current.remove(key);
        }
        if current.is_empty() {
            tx.delete(k);
        } else {
            tx.put(k, serde_json::to_string(&current).map_err(|e| corrupt("tag set", e))?);
        }
        Ok(())
    }
}

/// Runs an ELBv2 write as a job: compares and bumps the region's stamp,
/// then lets the write read and change the region's rows.
pub(super) fn write(tx: &mut Tx<'_>, region: &str, write: &ElbWrite) -> Result<(), StoreError> {
    let stamp = key(&["elb", region, "v"]);
    let n: u64 = tx.get(&stamp).and_then(|v| v.parse().ok()).unwrap_or(0);
    tx.put(stamp, (n + 1).to_string());
    let on = On { rows: RefCell::new(tx), region };
    write(&on)
}
