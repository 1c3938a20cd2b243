//! A read-through cache of task definition revisions.
//!
//! DescribeTaskDefinition is the hottest read Wharf serves (every RunTask and
//! deployment reads one, and so do deploy scripts), and a revision almost
//! never changes after registration. Serving it from memory saves a SQLite
//! read transaction, whose file locks cost more than the lookup itself.
//!
//! Correctness: every write to a family invalidates that family *after* its
//! commit and bumps an epoch; a reader fills the cache only if no
//! invalidation happened since it started its database read, so a value read
//! before a commit can never be cached after it.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::StoredTaskDefinition;

/// Entries kept before the cache starts over; bounds memory to a few MiB.
const MAX_ENTRIES: usize = 4096;

#[derive(Debug, Default)]
struct Family {
    /// The latest ACTIVE revision, when known.
    latest: Option<StoredTaskDefinition>,
    /// Revisions by number.
    revisions: HashMap<i32, StoredTaskDefinition>,
}

#[derive(Debug, Default)]
struct Inner {
    epoch: u64,
    entries: usize,
    regions: HashMap<String, HashMap<String, Family>>,
}

/// The cache. Cheap to consult; see the module documentation for the rules.
#[derive(Debug, Default)]
pub(crate) struct TdCache {
    inner: Mutex<Inner>,
}

impl TdCache {
    /// The epoch to hand back to [`TdCache::fill`] after a database read.
    pub(crate) fn epoch(&self) -> u64 {
        self.inner.lock().map(|i| i.epoch).unwrap_or(u64::MAX)
    }

    /// A cached revision (`None` for the latest ACTIVE one).
    pub(crate) fn get(
        &self,
        region: &str,
        family: &str,
        revision: Option<i32>,
    ) -> Option<StoredTaskDefinition> {
        let inner = self.inner.lock().ok()?;
        let f = inner.regions.get(region)?.get(family)?;
        match revision {
            None => f.latest.clone(),
            Some(r) => f.revisions.get(&r).cloned(),
        }
    }

    /// Caches what a read found, unless the family was written since `epoch`.
    pub(crate) fn fill(
        &self,
        epoch: u64,
        region: &str,
        revision: Option<i32>,
        found: &StoredTaskDefinition,
    ) {
        let Ok(mut inner) = self.inner.lock() else { return };
        if inner.epoch != epoch {
            return;
        }
        if inner.entries >= MAX_ENTRIES {
            inner.regions.clear();
            inner.entries = 0;
        }
        let f = inner
            .regions
            .entry(region.to_owned())
            .or_default()
            .entry(found.family.clone())
            .or_default();
        let added = match revision {
            None => f.latest.replace(found.clone()).is_none(),
            Some(r) => f.revisions.insert(r, found.clone()).is_none(),
        };
        inner.entries += usize::from(added);
    }

    /// Forgets a family after a write to it.
    pub(crate) fn invalidate(&self, region: &str, family: &str) {
        let Ok(mut inner) = self.inner.lock() else { return };
        inner.epoch += 1;
        let removed = inner
            .regions
            .get_mut(region)
            .and_then(|r| r.remove(family))
            .map(|f| f.revisions.len() + usize::from(f.latest.is_some()))
            .unwrap_or(0);
        inner.entries -= removed;
    }

    /// Forgets everything.
    pub(crate) fn clear(&self) {
        let Ok(mut inner) = self.inner.lock() else { return };
        inner.epoch += 1;
        inner.regions.clear();
        inner.entries = 0;
    }
}
