//! The writer's copy of each cluster's placement candidates, so that a launch
//! on thousands of instances neither reads every instance's row nor parses
//! every instance's document.
//!
//! The copy never counts on its own. Each entry is an instance's row as
//! [`sqlite_tasks::instances`] reads it (what the triggers keep in
//! `instance_usage`), read back after every write that changes it: a task
//! placed on it, or one of its tasks stopping, reads the row again; one of
//! its tasks changing between statuses short of `STOPPED` reads the
//! running and pending counts again (nothing else of the row moved); an
//! update of the instance's record takes the row's usage as read in the
//! same transaction. Between those reads a launch takes from the cached
//! candidates exactly what its insert takes in the database.
//!
//! Only the writer thread uses it, inside its transactions. When any write is
//! rolled back, or a group fails to commit, the whole copy is dropped
//! ([`Candidates::clear`]) and the next launch reads its cluster afresh: the
//! copy may run ahead of the database only until the commit that makes it
//! true.

use std::collections::HashMap;

use rusqlite::Connection;
use wharf_model::ecs::placement::{Candidate, Registered};

use crate::sqlite_tasks;
use crate::tasks::{self, InstanceUsage};
use crate::StoreError;

/// Each cluster's candidates that a launch has read, by region and cluster.
#[derive(Debug, Default)]
pub(crate) struct Candidates {
    clusters: HashMap<(String, String), View>,
}

/// One cluster's instances, in ID order, with their candidates at the same
/// positions.
#[derive(Debug, Default)]
pub(crate) struct View {
    /// The instances' rows.
    pub(crate) usage: Vec<InstanceUsage>,
    /// Their candidates.
    pub(crate) candidates: Vec<Candidate>,
    /// What each registered (to recompute what it has left).
    registered: Vec<Registered>,
}

impl Candidates {
    /// The cluster's view, read from the database the first time.
    pub(crate) fn view(
        &mut self,
        c: &Connection,
        region: &str,
        cluster: &str,
    ) -> Result<&mut View, StoreError> {
        use std::collections::hash_map::Entry;
        match self.clusters.entry((region.to_owned(), cluster.to_owned())) {
            Entry::Occupied(held) => Ok(held.into_mut()),
            Entry::Vacant(new) => {
                let usage = sqlite_tasks::instances(c, region, cluster, None)?;
                let zone = tasks::default_zone(region);
                let mut view = View::default();
                for u in usage {
                    let (candidate, registered) = tasks::candidate(&u, &zone)?;
                    view.usage.push(u);
                    view.candidates.push(candidate);
                    view.registered.push(registered);
                }
                Ok(new.insert(view))
            }
        }
    }

    /// Reads the instances `ids` of a cluster back from the database after a
    /// write changed them, if the cluster is held at all.
    pub(crate) fn refresh<'a>(
        &mut self,
        c: &Connection,
        region: &str,
        cluster: &str,
        ids: impl IntoIterator<Item = &'a str>,
    ) -> Result<(), StoreError> {
        let Some(view) = self.held(region, cluster) else {
            return Ok(());
        };
        let zone = tasks::default_zone(region);
        for id in ids {
            let row = sqlite_tasks::instances(c, region, cluster, Some(&[id.to_owned()]))?;
            view.put(id, row.into_iter().next(), &zone)?;
        }
        Ok(())
    }

    /// Reads back only the running and pending counts of instance `id`
    /// after one of its tasks moved between two statuses short of
    /// `STOPPED`, if the cluster is held at all. What its tasks hold
    /// (resources, ports, groups) is held until a task stops (the trigger
    /// `tasks_usage_update`), so only the counts moved: reading them is one
    /// lookup, where reading the whole row sums every task's ports and
    /// groups again.
    pub(crate) fn refresh_counts(
        &mut self,
        c: &Connection,
        region: &str,
        cluster: &str,
        id: &str,
    ) -> Result<(), StoreError> {
        let Some(view) = self.held(region, cluster) else {
            return Ok(());
        };
        let Ok(i) = view.usage.binary_search_by(|u| u.instance.id.as_str().cmp(id)) else {
            return Ok(());
        };
        let (running, pending) = sqlite_tasks::task_counts_on(c, region, cluster, id)?;
        let row = &mut view.usage[i];
        (row.running_tasks, row.pending_tasks) = (running, pending);
        let candidate = &mut view.candidates[i];
        candidate.running_tasks = running;
        candidate.tasks = running + pending;
        Ok(())
    }

    /// Puts an instance's row after a write that changed only its record
    /// (not its tasks), if the cluster is held at all: `row` is the record
    /// as written with the usage read in the same transaction, so nothing
    /// needs reading again.
    pub(crate) fn put_row(
        &mut self,
        region: &str,
        cluster: &str,
        row: InstanceUsage,
    ) -> Result<(), StoreError> {
        let Some(view) = self.held(region, cluster) else {
            return Ok(());
        };
        let id = row.instance.id.clone();
        view.put(&id, Some(row), &tasks::default_zone(region))
    }

    /// The cluster's view, if a launch has read it.
    fn held(&mut self, region: &str, cluster: &str) -> Option<&mut View> {
        self.clusters.get_mut(&(region.to_owned(), cluster.to_owned()))
    }

    /// Forgets everything: a write was rolled back.
    pub(crate) fn clear(&mut self) {
        self.clusters.clear();
    }
}

impl View {
    /// Puts an instance's row as just read (`None`: it is gone).
    fn put(&mut self, id: &str, row: Option<InstanceUsage>, zone: &str) -> Result<(), StoreError> {
        let at = self.usage.binary_search_by(|u| u.instance.id.as_str().cmp(id));
        match (at, row) {
            (Ok(i), Some(u)) if u.instance.json == self.usage[i].instance.json => {
                // The instance is as it was; only what its tasks hold moved.
                self.candidates[i].set_usage(self.registered[i], tasks::used(&u));
                self.usage[i] = u;
            }
            (Ok(i), Some(u)) => {
                let (candidate, registered) = tasks::candidate(&u, zone)?;
                self.usage[i] = u;
                self.candidates[i] = candidate;
                self.registered[i] = registered;
            }
            (Err(i), Some(u)) => {
                let (candidate, registered) = tasks::candidate(&u, zone)?;
                self.usage.insert(i, u);
                self.candidates.insert(i, candidate);
                self.registered.insert(i, registered);
            }
            (Ok(i), None) => {
                self.usage.remove(i);
                self.candidates.remove(i);
                self.registered.remove(i);
            }
            (Err(_), None) => {}
        }
        Ok(())
    }
}
