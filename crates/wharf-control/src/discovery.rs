//! ECS services' `serviceRegistries`: each service task is registered in
//! its Cloud Map service while it runs healthy, and deregistered as soon as
//! the scheduler decides to stop it (before its targets drain), when it
//! turns unhealthy, or when it stops. The decision is
//! `wharf_model::ecs::service::registries` (pure); this loop reads the
//! services, their tasks and the registry, and applies the changes in one
//! write per region.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use wharf_model::ecs::service::registries::{self, Change, Context};
use wharf_model::ecs::service::{is_live, ServiceRecord};
use wharf_model::ecs::shapes::Task;
use wharf_ops::{discovery, docs, Ops, OpsError};
use wharf_store::{Kind, TaskQuery};

/// How often a pass runs without any change heard of.
pub const TICK: std::time::Duration = std::time::Duration::from_secs(1);

/// The registrar: what it reads and writes with, and the address of this
/// host (for `bridge` and `host` tasks' SRV records).
#[derive(Debug, Clone)]
pub struct Registrar {
    /// The operations.
    pub ops: Ops,
    /// The address containers reach this host at, if known.
    pub host_ip: Option<String>,
}

/// (Cloud Map service id, instance id) to attributes.
type Instances = BTreeMap<(String, String), BTreeMap<String, String>>;

/// The services that name a Cloud Map registry, by region and key: the only
/// ones a pass reads. Kept from the store's service changes, so that a pass
/// (every second, and on every task change) does not read and parse every
/// service of every region: a large service's record is long.
#[derive(Debug, Default)]
pub struct Registered {
    by_region: BTreeMap<String, BTreeSet<String>>,
    /// Services changed since the last refresh.
    changed: BTreeSet<(String, String)>,
    /// Whether `by_region` is known: not at first, nor after the change
    /// channel fell behind (every service is read again).
    known: bool,
}

/// What a pass needs to know of a service to tell whether to read it.
#[derive(Debug, Deserialize)]
struct RegistryFacts {
    service: ServiceFacts,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ServiceFacts {
    #[serde(default)]
    service_registries: Option<Vec<serde::de::IgnoredAny>>,
}

impl RegistryFacts {
    fn named(&self) -> bool {
        self.service.service_registries.as_ref().is_some_and(|r| !r.is_empty())
    }
}

impl Registered {
    /// Notes a service's change, heard from [`wharf_store::Store::service_changes`].
    pub fn heard(&mut self, region: String, key: String) {
        self.changed.insert((region, key));
    }

    /// Forgets what it knows: the next refresh reads every service.
    pub fn forget(&mut self) {
        self.known = false;
    }

    /// Brings the set up to date: every service when it is not known, else
    /// those changed since.
    pub async fn refresh(&mut self, ops: &Ops) -> Result<(), OpsError> {
        let changed = std::mem::take(&mut self.changed);
        if !self.known {
            self.by_region.clear();
            for region in ops.store.regions(Kind::Service).await? {
                let all =
                    docs::list_all::<RegistryFacts>(ops.region(&region), Kind::Service).await?;
                let named: BTreeSet<String> =
                    all.into_iter().filter(|(_, f)| f.named()).map(|(k, _)| k).collect();
                self.by_region.insert(region, named);
            }
            self.known = true;
            return Ok(());
        }
        for (region, key) in changed {
            let facts =
                docs::get::<RegistryFacts>(ops.region(&region), Kind::Service, &key).await?;
            let set = self.by_region.entry(region).or_default();
            if facts.is_some_and(|f| f.named()) {
                set.insert(key);
            } else {
                set.remove(&key);
            }
        }
        Ok(())
    }

    fn in_region(&self, region: &str) -> impl Iterator<Item = &String> {
        self.by_region.get(region).into_iter().flatten()
    }
}

impl Registrar {
    /// One pass over every region's services that name a registry.
    pub async fn pass(&self, registered: &Registered) -> Result<(), OpsError> {
        for region in self.ops.store.regions(Kind::Service).await? {
            let keys: Vec<&String> = registered.in_region(&region).collect();
            self.pass_region(&region, &keys).await?;
        }
        Ok(())
    }

    async fn wanted(&self, region: &str, keys: &[&String]) -> Result<Instances, OpsError> {
        let r = self.ops.region(region);
        let mut wanted = Instances::new();
        for key in keys {
            let Some(rec) = docs::get::<ServiceRecord>(r, Kind::Service, key).await? else {
                continue;
            };
            let s = &rec.service;
            let (Some(_), Some(name)) = (s.cluster_arn.as_deref(), s.service_name.as_deref())
            else {
                continue;
            };
            let cluster = rec.cluster_name().to_owned();
            let Some(registry) = s.service_registries.iter().flatten().next() else { continue };
            let Some(srv) = registry.registry_arn.as_deref().and_then(registries::service_id)
            else {
                continue;
            };
            if !is_live(&rec) {
                continue;
            }
            let tasks = r
                .store()
                .list_tasks(
                    region,
                    TaskQuery {
                        cluster: cluster.clone(),
                        service: Some(name.to_owned()),
                        limit: 10_000,
                        ..TaskQuery::default()
                    },
                )
                .await?;
            for stored in tasks {
                let Ok(task) = serde_json::from_str::<Task>(&stored.json) else { continue };
                let health_checked = task
                    .started_by
                    .as_deref()
                    .and_then(|unit| rec.deployments.get(unit))
                    .is_some_and(|d| d.health_checked);
                let ctx = Context { cluster: &cluster, service: name, region, health_checked };
                let notes = rec.tasks.get(&stored.id);
                if let Some(attrs) =
                    registries::instance_of(ctx, registry, &task, notes, self.host_ip.as_deref())
                {
                    wanted.insert((srv.to_owned(), stored.id.clone()), attrs);
                }
            }
        }
        Ok(wanted)
    }

    async fn pass_region(&self, region: &str, keys: &[&String]) -> Result<(), OpsError> {
        let wanted = self.wanted(region, keys).await?;
        let r = self.ops.region(region);
        let registry = discovery::read(r)
            .await
            .map_err(|e| OpsError::Refused(wharf_model::EcsError::server(e.message)))?;
        // What ECS registered: instances whose attributes name an ECS
        // service (one that still exists or not); others are the user's.
        let mut current = Instances::new();
        for (srv, rec) in &registry.services {
            for (id, i) in &rec.instances {
                let ecs = i.attributes.contains_key("ECS_SERVICE_NAME")
                    && i.attributes.contains_key("ECS_CLUSTER_NAME");
                if ecs {
                    current.insert((srv.clone(), id.clone()), i.attributes.clone());
                }
            }
        }
        let flat = |m: &Instances| -> BTreeMap<String, BTreeMap<String, String>> {
            m.iter().map(|((srv, id), a)| (format!("{srv}\n{id}"), a.clone())).collect()
        };
        let changes = registries::plan(&flat(&wanted), &flat(&current));
        if changes.is_empty() {
            return Ok(());
        }
        let applied = discovery::change(r, move |reg, env| {
            for change in &changes {
                let result = match change {
                    Change::Register(key, attrs) => {
                        let (srv, id) = key.split_once('\n').unwrap_or(("", ""));
                        reg.register_instance(env, srv, id, attrs.clone(), None).map(|_| ())
                    }
                    Change::Deregister(key) => {
                        let (srv, id) = key.split_once('\n').unwrap_or(("", ""));
                        reg.deregister_instance(env, srv, id).map(|_| ())
                    }
                };
                if let Err(e) = result {
                    tracing::warn!(error = %e, "a task's Cloud Map instance not changed");
                }
            }
            Ok(())
        })
        .await;
        if let Err(e) = applied {
            tracing::warn!(error = %e, "service registries not applied");
        }
        Ok(())
    }
}

/// Runs the registrar until `shutdown` turns `true`: a pass whenever a
/// service or task changes, and every [`TICK`].
pub async fn run(registrar: Registrar, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    use tokio::sync::broadcast::error::{RecvError, TryRecvError};
    let mut services = registrar.ops.store.service_changes();
    let mut tasks = registrar.ops.store.task_changes();
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut registered = Registered::default();
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            heard = services.recv() => match heard {
                Ok((region, key)) => registered.heard(region, key),
                Err(RecvError::Lagged(_)) => registered.forget(),
                Err(RecvError::Closed) => {}
            },
            _ = tasks.recv() => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
        loop {
            match services.try_recv() {
                Ok((region, key)) => registered.heard(region, key),
                Err(TryRecvError::Lagged(_)) => registered.forget(),
                Err(_) => break,
            }
        }
        while !matches!(tasks.try_recv(), Err(TryRecvError::Empty | TryRecvError::Closed)) {}
        if let Err(e) = registered.refresh(&registrar.ops).await {
            tracing::warn!(error = %e, "services naming a registry not read");
            registered.forget();
            continue;
        }
        if let Err(e) = registrar.pass(&registered).await {
            tracing::warn!(error = %e, "service registries pass failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use wharf_model::clock::FakeClock;
    use wharf_store::{SqliteStore, Store, Write};

    use super::*;

    async fn put(store: &dyn Store, region: &str, key: &str, registries: bool) {
        let registries = if registries { r#"[{"registryArn":"arn:x"}]"# } else { "[]" };
        let body = format!(r#"{{"service":{{"serviceRegistries":{registries}}},"tasks":{{}}}}"#);
        let write = Box::new(move |_: Option<String>| Ok(Write::Put(body.clone())));
        store.update(Kind::Service, region, key, write).await.unwrap();
    }

    fn named(r: &Registered, region: &str) -> Vec<String> {
        r.in_region(region).cloned().collect()
    }

    /// The set of services a pass reads follows the changes heard, and is
    /// read afresh when the channel fell behind.
    #[tokio::test]
    async fn a_pass_reads_the_services_naming_a_registry_as_changes_tell() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("db")).unwrap());
        let ops = Ops::new(store.clone(), Arc::new(FakeClock::at(0)), "000000000000");
        put(&*store, "us-east-1", "c/a", true).await;
        put(&*store, "us-east-1", "c/b", false).await;
        put(&*store, "eu-west-1", "c/a", true).await;
        let mut r = Registered::default();
        r.refresh(&ops).await.unwrap();
        assert_eq!(named(&r, "us-east-1"), ["c/a"]);
        assert_eq!(named(&r, "eu-west-1"), ["c/a"]);
        // b gains a registry, a loses its own; a change not heard is not seen.
        put(&*store, "us-east-1", "c/b", true).await;
        put(&*store, "us-east-1", "c/a", false).await;
        put(&*store, "eu-west-1", "c/c", true).await;
        r.heard("us-east-1".into(), "c/a".into());
        r.heard("us-east-1".into(), "c/b".into());
        r.refresh(&ops).await.unwrap();
        assert_eq!(named(&r, "us-east-1"), ["c/b"]);
        assert_eq!(named(&r, "eu-west-1"), ["c/a"]);
        // Deleted, it is gone; after a lag every service is read again.
        store
            .update(Kind::Service, "us-east-1", "c/b", Box::new(|_| Ok(Write::Delete)))
            .await
            .unwrap();
        r.heard("us-east-1".into(), "c/b".into());
        r.refresh(&ops).await.unwrap();
        assert!(named(&r, "us-east-1").is_empty());
        r.forget();
        r.refresh(&ops).await.unwrap();
        assert_eq!(named(&r, "eu-west-1"), ["c/a", "c/c"]);
    }
}
