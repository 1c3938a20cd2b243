//! [`crate::Store`] on etcd, for a control plane of several servers.
//!
//! Every record lives in etcd under `<prefix>/s/` (the key layout is in
//! `docs/etcd.md`); each server keeps all of it in a watch-fed cache
//! ([`cache`]) and answers reads from there. Writes are jobs that read the
//! cache and commit as compare-and-swap transactions, in batches
//! ([`writer`]). Every change any server commits reaches every server's
//! cache through its watch, and from there the change channels
//! ([`crate::Store::task_changes`] and the others): watches, not in-process
//! channels, tell each server's scheduler, agents and load balancer what
//! changed.
//!
//! Consistency. A write is answered once it is committed and this server's
//! cache holds it, so the server that acknowledged a write reads it back
//! (read-your-writes). With `reads=linearizable` (the default) each read
//! and each batch of writes first waits for the cache to hold every write
//! acknowledged anywhere before it began ([`cache::Barrier`]): reads and
//! writes are then linearizable across servers. With `reads=local` reads
//! are served from the cache as it is, at most a watch delay behind other
//! servers' writes.
//!
//! Leadership and fencing are in [`election`]; a handle made by
//! [`EtcdStore::fenced`] writes only while its leadership lasts.

pub(crate) mod cache;
pub mod client;
pub mod compaction;
mod elb;
pub mod election;
pub(crate) mod keys;
pub mod local;
pub mod proto;
mod store;
mod tasks;
pub mod wire;
mod writer;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{broadcast, watch};
use wharf_model::ecs::status::InstanceStatus;

use crate::{StoreError, TaskChanged};
use cache::{Barrier, Cache, Entry};
use client::EtcdClient;
pub use election::{Election, Term};
use writer::Writer;

/// How many changes a slow subscriber may fall behind before it must
/// re-read the state.
const CHANGES_BUFFER: usize = 4096;

/// How long opening the store waits for etcd.
const OPEN_TIMEOUT: Duration = Duration::from_secs(30);

/// Where and how Wharf keeps its state in etcd, from
/// `etcd://HOST:PORT[,HOST:PORT...][/PREFIX][?reads=linearizable|local][&max-txn-ops=N]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EtcdConfig {
    /// The members' client addresses (`host:port`).
    pub endpoints: Vec<String>,
    /// The key prefix everything lives under (`wharf`).
    pub prefix: String,
    /// Whether reads wait for every write acknowledged anywhere.
    pub linearizable: bool,
    /// The most operations one transaction may hold: etcd's
    /// `--max-txn-ops` (128 unless the cluster was started with more).
    pub max_txn_ops: usize,
}

impl EtcdConfig {
    /// Reads a `--store` URL.
    pub fn parse(url: &str) -> Result<Self, String> {
        let rest =
            url.strip_prefix("etcd://").ok_or_else(|| format!("{url:?} is not an etcd:// URL"))?;
        let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (hosts, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let endpoints: Vec<String> =
            hosts.split(',').filter(|h| !h.is_empty()).map(str::to_owned).collect();
        if endpoints.is_empty() {
            return Err(format!("{url:?} names no etcd member (etcd://HOST:PORT,...)"));
        }
        for e in &endpoints {
            let port = e.rsplit_once(':').map(|(_, p)| p);
            if port.and_then(|p| p.parse::<u16>().ok()).is_none() {
                return Err(format!("etcd member {e:?} is not HOST:PORT"));
            }
        }
        let prefix = prefix.trim_matches('/');
        let prefix = if prefix.is_empty() { "wharf".to_owned() } else { prefix.to_owned() };
        let mut config = Self { endpoints, prefix, linearizable: true, max_txn_ops: 128 };
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=').unwrap_or((pair, "")) {
                ("reads", "linearizable") => config.linearizable = true,
                ("reads", "local") => config.linearizable = false,
                ("max-txn-ops", n) => {
                    config.max_txn_ops =
                        n.parse().ok().filter(|n| *n >= 16).ok_or_else(|| {
                            format!("max-txn-ops={n} is not a number of at least 16")
                        })?;
                }
                (k, v) => return Err(format!("unknown etcd store option {k}={v}")),
            }
        }
        Ok(config)
    }

    /// The etcd root of the state (`<prefix>/s`).
    fn state_root(&self) -> String {
        format!("{}/s", self.prefix)
    }
}

/// What every handle of one store shares.
struct Core {
    config: EtcdConfig,
    client: EtcdClient,
    cache: Arc<Cache>,
    barrier: Arc<Barrier>,
    writer: Writer,
    server_id: String,
    changes: Arc<Changes>,
    stop: watch::Sender<bool>,
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core")
            .field("config", &self.config)
            .field("server_id", &self.server_id)
            .finish_non_exhaustive()
    }
}

impl Drop for Core {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// The change channels, fed by the cache.
struct Changes {
    tasks: broadcast::Sender<Arc<TaskChanged>>,
    instances: broadcast::Sender<Arc<crate::InstanceChanged>>,
    /// Each instance's status as last announced, by cache key.
    instance_status: std::sync::Mutex<std::collections::HashMap<String, InstanceStatus>>,
    services: broadcast::Sender<(String, String)>,
    elb: broadcast::Sender<String>,
    /// The leader key's create revision (0: nobody leads).
    leader: watch::Sender<i64>,
}

impl Changes {
    fn announce(&self, key: &str, before: Option<&Entry>, after: Option<&Entry>) {
        let parts = keys::parts(key);
        match parts.first().map(String::as_str) {
            Some("task") if parts.len() == 4 => {
                let meta = after.or(before).and_then(|e| tasks::TaskMeta::read(&e.value).ok());
                let instance_cluster = meta.as_ref().and_then(|m| m.host_cluster(&parts[2]));
                // Nobody listening is fine.
                let _ = self.tasks.send(Arc::new(TaskChanged {
                    region: parts[1].clone(),
                    cluster: parts[2].clone(),
                    id: parts[3].clone(),
                    service: meta.as_ref().and_then(|m| m.service.clone()),
                    instance_id: meta.and_then(|m| m.instance),
                    instance_cluster,
                }));
            }
            Some("ci") if parts.len() == 4 => {
                // The cache announces this server's own writes with no
                // `before`: the last status heard is kept here instead.
                let now = after.and_then(|e| tasks::instance_status(&e.value));
                let mut seen = self.instance_status.lock().unwrap_or_else(|p| p.into_inner());
                let then = match seen.get(key) {
                    Some(s) => Some(*s),
                    None => before.and_then(|e| tasks::instance_status(&e.value)),
                };
                match now {
                    Some(s) => seen.insert(key.to_owned(), s),
                    None => seen.remove(key),
                };
                drop(seen);
                if then != now {
                    let _ = self.instances.send(Arc::new(crate::InstanceChanged {
                        region: parts[1].clone(),
                        cluster: parts[2].clone(),
                        id: parts[3].clone(),
                        status: now,
                    }));
                }
            }
            Some("doc") if parts.len() == 4 && parts[1] == crate::Kind::Service.as_str() => {
                let _ = self.services.send((parts[2].clone(), parts[3].clone()));
            }
            Some("elb") if parts.len() > 2 => {
                let _ = self.elb.send(parts[1].clone());
            }
            Some("leader") if parts.len() == 1 => {
                let created = after.map_or(0, |e| e.create_rev);
                self.leader.send_replace(created);
            }
            _ => {}
        }
    }
}

/// The etcd store. Cheap to clone; clones share one cache and writer.
#[derive(Debug, Clone)]
pub struct EtcdStore {
    core: Arc<Core>,
    /// The leadership this handle's writes depend on.
    fence: Option<i64>,
}

impl EtcdStore {
    /// Connects, loads the state into the cache and starts following it.
    pub async fn open(config: EtcdConfig) -> Result<Self, StoreError> {
        let client = EtcdClient::new(&config.endpoints);
        let changes = Arc::new(Changes {
            tasks: broadcast::channel(CHANGES_BUFFER).0,
            instances: broadcast::channel(CHANGES_BUFFER).0,
            instance_status: std::sync::Mutex::default(),
            services: broadcast::channel(CHANGES_BUFFER).0,
            elb: broadcast::channel(CHANGES_BUFFER).0,
            leader: watch::channel(0).0,
        });
        let announce = changes.clone();
        let cache = Arc::new(Cache::new(
            config.state_root(),
            Box::new(move |key, before, after| announce.announce(key, before, after)),
        ));
        cache.load_initial(&client, OPEN_TIMEOUT).await?;
        let (stop, stopped) = watch::channel(false);
        tokio::spawn(cache.clone().follow(client.clone(), stopped.clone()));
        let barrier = Arc::new(Barrier::new());
        tokio::spawn(barrier.clone().run(cache.clone(), client.clone(), stopped));
        let server_id = wharf_model::ids::uuid_v4();
        let writer = writer::Loop::new(
            cache.clone(),
            client.clone(),
            config.linearizable.then(|| barrier.clone()),
            server_id.clone(),
            config.max_txn_ops,
        )
        .start();
        tracing::info!(
            endpoints = %config.endpoints.join(","),
            prefix = %config.prefix,
            revision = cache.rev(),
            "etcd store open"
        );
        Ok(Self {
            core: Arc::new(Core {
                config,
                client,
                cache,
                barrier,
                writer,
                server_id,
                changes,
                stop,
            }),
            fence: None,
        })
    }

    /// This server's id in etcd (its marker key, its leader key's value).
    pub fn server_id(&self) -> &str {
        &self.core.server_id
    }

    /// The configuration it was opened with.
    pub fn config(&self) -> &EtcdConfig {
        &self.core.config
    }

    /// The etcd client, for what lives beside the state (leadership, logs).
    pub fn client(&self) -> &EtcdClient {
        &self.core.client
    }

    /// The revision the cache has applied.
    pub fn revision(&self) -> i64 {
        self.core.cache.rev()
    }

    /// A handle whose writes etcd refuses once the leadership created at
    /// `leader_created` (the leader key's create revision) has ended. Its
    /// reads are served from the cache as it is: a reconciler's decisions
    /// are checked by the compare-and-swap of its writes, not by its reads.
    pub fn fenced(&self, leader_created: i64) -> Self {
        Self { core: self.core.clone(), fence: Some(leader_created) }
    }

    /// Waits until the cache may serve a read (see the module documentation).
    async fn sync(&self) -> Result<(), StoreError> {
        if self.core.config.linearizable && self.fence.is_none() {
            self.core.barrier.sync(&self.core.cache).await
        } else {
            Ok(())
        }
    }

    async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: Fn(&mut writer::Tx<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        self.core.writer.write(self.fence, f).await
    }
}

#[cfg(test)]
mod tests {
    use super::EtcdConfig;

    #[test]
    fn store_urls() {
        let c = EtcdConfig::parse("etcd://a:1,b:2/team/x?reads=local&max-txn-ops=1024").unwrap();
        assert_eq!(c.endpoints, ["a:1", "b:2"]);
        assert_eq!(c.prefix, "team/x");
        assert!(!c.linearizable);
        assert_eq!(c.max_txn_ops, 1024);
        let d = EtcdConfig::parse("etcd://127.0.0.1:2379").unwrap();
        assert_eq!((d.prefix.as_str(), d.linearizable, d.max_txn_ops), ("wharf", true, 128));
        assert!(EtcdConfig::parse("etcd://").is_err());
        assert!(EtcdConfig::parse("etcd://host").is_err());
        assert!(EtcdConfig::parse("http://a:1").is_err());
        assert!(EtcdConfig::parse("etcd://a:1?reads=sometimes").is_err());
    }
}
