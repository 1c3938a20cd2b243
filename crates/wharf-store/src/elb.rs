//! ELBv2 state: load balancers, target groups, listeners and rules as rows
//! (JSON body plus the columns they are looked up by), which listeners and
//! rules forward to which target groups, and each group's targets.
//!
//! An ELBv2 call reads and writes several of these at once (a rule names a
//! listener and target groups; deleting a load balancer takes its listeners
//! and rules with it), so a write is a closure over [`ElbTx`] that the store
//! runs inside one transaction: all of it is committed or none of it. Reads
//! are closures over [`ElbView`] on a consistent snapshot.
//!
//! The data plane reads the same rows: a load balancer's listeners
//! ([`ElbView::list`] with [`ElbKind::Listener`] and the load balancer's
//! ARN as parent), each listener's rules (parent: the listener's ARN, in
//! priority order), and each target group's targets ([`ElbView::targets`]);
//! it writes what it observes with [`ElbTx::put_target`].

use crate::StoreError;

/// What an ELBv2 row is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ElbKind {
    /// A load balancer; parent `""`, sort key its name.
    LoadBalancer,
    /// A target group; parent `""`, sort key its name.
    TargetGroup,
    /// A listener; parent its load balancer's ARN, sort key its port (`00080`).
    Listener,
    /// A non-default rule; parent its listener's ARN, sort key its priority
    /// (`00010`).
    Rule,
}

impl ElbKind {
    /// The name rows of this kind are stored under.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LoadBalancer => "loadbalancer",
            Self::TargetGroup => "targetgroup",
            Self::Listener => "listener",
            Self::Rule => "rule",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "loadbalancer" => Self::LoadBalancer,
            "targetgroup" => Self::TargetGroup,
            "listener" => Self::Listener,
            "rule" => Self::Rule,
            _ => return None,
        })
    }

    pub(crate) fn from_column(s: &str) -> rusqlite::Result<Self> {
        Self::parse(s).ok_or_else(|| rusqlite::Error::InvalidColumnName(format!("elb kind {s}")))
    }
}

/// The sort key of a listener port or rule priority: zero-padded so that
/// text order is numeric order.
pub fn sort_key(n: i32) -> String {
    format!("{n:05}")
}

/// One ELBv2 resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElbRow {
    /// What it is.
    pub kind: ElbKind,
    /// Its ARN (the key).
    pub arn: String,
    /// The ARN it belongs to, `""` for load balancers and target groups.
    pub parent: String,
    /// What it is found and listed by within its parent (see [`ElbKind`]).
    pub sort: String,
    /// Its record's JSON.
    pub body: String,
}

/// A listener or rule forwarding to a target group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElbUse {
    /// The listener's or rule's ARN.
    pub user_arn: String,
    /// Its load balancer's ARN.
    pub load_balancer_arn: String,
    /// The target group it forwards to.
    pub target_group_arn: String,
}

/// One registered target of a target group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetRow {
    /// The target's ID (instance ID or IP address).
    pub id: String,
    /// The port it is registered on.
    pub port: i32,
    /// Its record's JSON.
    pub body: String,
}

/// Reads of ELBv2 state, on one consistent snapshot.
pub trait ElbView {
    /// A row by ARN.
    fn get(&self, arn: &str) -> Result<Option<ElbRow>, StoreError>;
    /// A row by kind, parent and sort key (a name, port or priority).
    fn find(&self, kind: ElbKind, parent: &str, sort: &str) -> Result<Option<ElbRow>, StoreError>;
    /// Rows of a kind under a parent in sort-key order, after `after`
    /// (exclusive), at most `limit`.
    fn list(
        &self,
        kind: ElbKind,
        parent: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ElbRow>, StoreError>;
    /// How many rows of a kind there are under a parent.
    fn count(&self, kind: ElbKind, parent: &str) -> Result<usize, StoreError>;
    /// Every listener and rule forwarding to a target group.
    fn uses_of(&self, target_group_arn: &str) -> Result<Vec<ElbUse>, StoreError>;
    /// Every listener and rule of a load balancer that forwards somewhere.
    fn uses_in(&self, load_balancer_arn: &str) -> Result<Vec<ElbUse>, StoreError>;
    /// A target group's targets, in (id, port) order.
    fn targets(&self, target_group_arn: &str) -> Result<Vec<TargetRow>, StoreError>;
    /// A resource's tags, in key order.
    fn tags(&self, arn: &str) -> Result<Vec<(String, String)>, StoreError>;
}

/// Writes of ELBv2 state, inside one transaction with the reads before them.
pub trait ElbTx: ElbView {
    /// Inserts or replaces a row.
    fn put(&self, row: &ElbRow) -> Result<(), StoreError>;
    /// Removes a row, what it forwards to and its tags.
    fn delete(&self, arn: &str) -> Result<(), StoreError>;
    /// Sets the target groups a listener or rule forwards to.
    fn set_uses(
        &self,
        user_arn: &str,
        load_balancer_arn: &str,
        target_groups: &[String],
    ) -> Result<(), StoreError>;
    /// Inserts or replaces a target of a group.
    fn put_target(&self, target_group_arn: &str, target: &TargetRow) -> Result<(), StoreError>;
    /// Removes a target of a group.
    fn delete_target(&self, target_group_arn: &str, id: &str, port: i32) -> Result<(), StoreError>;
    /// Adds or overwrites tags.
    fn put_tags(&self, arn: &str, tags: &[(String, String)]) -> Result<(), StoreError>;
    /// Removes tags by key.
    fn delete_tags(&self, arn: &str, keys: &[String]) -> Result<(), StoreError>;
}

/// A read: runs on a snapshot; its answer goes out through what it captured.
pub type ElbRead = Box<dyn FnOnce(&dyn ElbView) -> Result<(), StoreError> + Send>;

/// A write: runs in one transaction; an `Err` rolls all of it back. May run
/// more than once (see [`crate::Decide`]): what it reports through captured
/// state must be set afresh by each run.
pub type ElbWrite = Box<dyn Fn(&dyn ElbTx) -> Result<(), StoreError> + Send>;
