//! Who runs the reconcilers. With SQLite one server owns the data
//! directory, so it always leads ([`Solo`]); with etcd the servers elect
//! one ([`crate::etcd::Election`]), and the leader's writes are fenced by
//! its term.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::watch;

use crate::{Store, StoreError};

/// A term of leadership, as the reconcilers see it.
pub struct Lead {
    /// The store the reconcilers read and write through: its writes are
    /// refused once the term has ended.
    pub store: Arc<dyn Store>,
    /// Turns true when the term ends; the reconcilers must stop.
    pub ended: watch::Receiver<bool>,
    /// The term's number (etcd: the leader key's create revision; 0 alone).
    pub term: i64,
    /// Gives the leadership up (called on shutdown).
    pub resign: Option<Box<dyn FnOnce() -> Resigning + Send>>,
}

/// The future of giving the leadership up.
pub type Resigning = Pin<Box<dyn Future<Output = ()> + Send>>;

impl std::fmt::Debug for Lead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lead").field("term", &self.term).finish_non_exhaustive()
    }
}

impl Lead {
    /// Gives the leadership up now, so another server takes over at once.
    pub async fn resign(&mut self) {
        if let Some(r) = self.resign.take() {
            r().await;
        }
    }

    /// Resolves when the term ends (never, for a term that cannot end).
    pub async fn until_ended(&mut self) {
        until_true(&mut self.ended).await;
    }
}

/// Resolves when `rx` turns true; never, if its sender is gone first.
pub async fn until_true(rx: &mut watch::Receiver<bool>) {
    loop {
        if *rx.borrow_and_update() {
            return;
        }
        if rx.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// How a server becomes the one that runs reconcilers.
#[async_trait]
pub trait Leadership: Send + Sync + std::fmt::Debug {
    /// Waits until this server leads.
    async fn acquire(&self) -> Result<Lead, StoreError>;
}

/// The only server there is always leads.
#[derive(Debug, Clone)]
pub struct Solo(pub Arc<dyn Store>);

#[async_trait]
impl Leadership for Solo {
    async fn acquire(&self) -> Result<Lead, StoreError> {
        // Never ends: the sender is dropped without ever sending true, and a
        // receiver of a dropped sender keeps its last value.
        let (_never, ended) = watch::channel(false);
        Ok(Lead { store: self.0.clone(), ended, term: 0, resign: None })
    }
}
