//! Routes the store's task changes to the watch of the one instance each
//! concerns.
//!
//! Every host holds a watch open ([`crate::agent_link::watch`]). When each
//! watch received every task change of the store and dropped those of other
//! hosts, one change woke every host's watch: at 5,000 hosts that was most of
//! the server's CPU. One router now receives the store's changes and hands
//! each to the watches of its instance only.
//!
//! Nothing is lost on the way. A watch registers before it reads its
//! instance's tasks, so a change is either in what it read or routed to it
//! after. When the router or a watch falls behind, the watch is told to read
//! its instance's tasks again ([`Routed::Resync`]), as a watch that lagged
//! behind the store's channel did before.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use tokio::sync::{broadcast, mpsc};
use wharf_store::{TaskChanged, TaskFeed};

/// How many changes one watch may have waiting before it must resync.
const ROUTE_BUFFER: usize = 256;

/// What a watch hears.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Routed {
    /// One of its instance's tasks changed.
    Changed(Arc<TaskChanged>),
    /// Changes were dropped: read every task of the instance again.
    Resync,
}

/// An instance: region, the cluster it is registered in, its ID.
type Key = (String, String, String);

/// The router: the watches by instance, and whether it is receiving.
#[derive(Debug, Default)]
pub struct InstanceChanges {
    routes: Arc<Mutex<Routes>>,
}

#[derive(Debug, Default)]
struct Routes {
    by_instance: HashMap<Key, Vec<Route>>,
    next: u64,
    receiving: bool,
}

#[derive(Debug)]
struct Route {
    id: u64,
    tx: mpsc::Sender<Routed>,
    /// Set when a change could not be queued: the watch resyncs.
    dropped: Arc<AtomicBool>,
}

/// One watch's changes; its route is removed when this is dropped.
#[derive(Debug)]
pub struct Subscription {
    rx: mpsc::Receiver<Routed>,
    dropped: Arc<AtomicBool>,
    routes: Weak<Mutex<Routes>>,
    key: Key,
    id: u64,
}

impl InstanceChanges {
    /// Routes the changes of the instance `instance_id` registered in
    /// `cluster` to the returned subscription, from now on. The first
    /// subscription starts the router on `changes`, the store's channel
    /// (called only then).
    pub fn subscribe(
        &self,
        changes: impl FnOnce() -> TaskFeed,
        region: &str,
        cluster: &str,
        instance_id: &str,
    ) -> Subscription {
        let (tx, rx) = mpsc::channel(ROUTE_BUFFER);
        let dropped = Arc::new(AtomicBool::new(false));
        let key = (region.to_owned(), cluster.to_owned(), instance_id.to_owned());
        let mut routes = locked(&self.routes);
        if !routes.receiving {
            routes.receiving = true;
            tokio::spawn(route(changes(), Arc::downgrade(&self.routes)));
        }
        routes.next += 1;
        let id = routes.next;
        let r = Route { id, tx, dropped: Arc::clone(&dropped) };
        routes.by_instance.entry(key.clone()).or_default().push(r);
        Subscription { rx, dropped, routes: Arc::downgrade(&self.routes), key, id }
    }
}

impl Subscription {
    /// The next change, [`Routed::Resync`] first when any was dropped;
    /// `None` when the store's channel closed.
    pub async fn recv(&mut self) -> Option<Routed> {
        let next = self.rx.recv().await;
        if self.dropped.swap(false, Ordering::SeqCst) {
            return Some(Routed::Resync);
        }
        next
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let Some(routes) = self.routes.upgrade() else { return };
        let mut routes = locked(&routes);
        if let Some(list) = routes.by_instance.get_mut(&self.key) {
            list.retain(|r| r.id != self.id);
            if list.is_empty() {
                routes.by_instance.remove(&self.key);
            }
        }
    }
}

/// The routes, even after a panic elsewhere held the lock.
fn locked(routes: &Mutex<Routes>) -> MutexGuard<'_, Routes> {
    routes.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Receives the store's changes and hands each to its instance's watches
/// until the channel closes or the router is dropped.
async fn route(mut changes: TaskFeed, routes: Weak<Mutex<Routes>>) {
    loop {
        let next = changes.recv().await;
        let Some(routes) = routes.upgrade() else { return };
        let mut routes = locked(&routes);
        match next {
            Ok(change) => {
                let (Some(cluster), Some(id)) = (&change.instance_cluster, &change.instance_id)
                else {
                    continue;
                };
                let key = (change.region.clone(), cluster.clone(), id.clone());
                if let Some(list) = routes.by_instance.get_mut(&key) {
                    list.retain(|r| send(r, Routed::Changed(change.clone())));
                }
            }
            Err(broadcast::error::RecvError::Lagged(_)) => {
                for list in routes.by_instance.values_mut() {
                    list.retain(|r| send(r, Routed::Resync));
                }
            }
            Err(broadcast::error::RecvError::Closed) => {
                // The watches end: their senders go with the routes.
                routes.by_instance.clear();
                routes.receiving = false;
                return;
            }
        }
    }
}

/// Queues `what` for a watch; false when the watch is gone.
fn send(r: &Route, what: Routed) -> bool {
    match r.tx.try_send(what) {
        Ok(()) => true,
        Err(mpsc::error::TrySendError::Full(_)) => {
            r.dropped.store(true, Ordering::SeqCst);
            true
        }
        Err(mpsc::error::TrySendError::Closed(_)) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(instance: &str, task: &str) -> Arc<TaskChanged> {
        Arc::new(TaskChanged {
            region: "us-east-1".into(),
            cluster: "c".into(),
            id: task.into(),
            instance_id: Some(instance.into()),
            instance_cluster: Some("c".into()),
            service: None,
        })
    }

    #[tokio::test]
    async fn each_change_reaches_only_its_instances_watches() {
        let (tx, _) = broadcast::channel(16);
        let router = InstanceChanges::default();
        let mut a = router.subscribe(|| tx.subscribe(), "us-east-1", "c", "i-a");
        let mut also_a = router.subscribe(|| unreachable!(), "us-east-1", "c", "i-a");
        let mut b = router.subscribe(|| unreachable!(), "us-east-1", "c", "i-b");
        tx.send(change("i-b", "t1")).unwrap();
        tx.send(change("i-a", "t2")).unwrap();
        assert_eq!(a.recv().await, Some(Routed::Changed(change("i-a", "t2"))));
        assert_eq!(also_a.recv().await, Some(Routed::Changed(change("i-a", "t2"))));
        assert_eq!(b.recv().await, Some(Routed::Changed(change("i-b", "t1"))));
        drop(also_a);
        tx.send(change("i-a", "t3")).unwrap();
        assert_eq!(a.recv().await, Some(Routed::Changed(change("i-a", "t3"))));
        assert!(b.rx.try_recv().is_err(), "i-b heard nothing of i-a's tasks");
    }

    #[tokio::test]
    async fn a_watch_that_falls_behind_is_told_to_resync() {
        let (tx, _) = broadcast::channel(4096);
        let router = InstanceChanges::default();
        let mut a = router.subscribe(|| tx.subscribe(), "us-east-1", "c", "i-a");
        for n in 0..ROUTE_BUFFER + 10 {
            tx.send(change("i-a", &format!("t{n}"))).unwrap();
        }
        // Let the router run until it has routed (and dropped) them all.
        while !tx.is_empty() {
            tokio::task::yield_now().await;
        }
        tokio::task::yield_now().await;
        assert_eq!(a.recv().await, Some(Routed::Resync));
        assert_eq!(a.recv().await, Some(Routed::Changed(change("i-a", "t1"))));
    }
}
