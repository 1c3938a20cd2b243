//! ECS services' `serviceRegistries`: each service task is registered in
//! its Cloud Map service while it runs healthy, and deregistered as soon as
//! the scheduler decides to stop it (before its targets drain), when it
//! turns unhealthy, or when it stops. The decision is
//! `wharf_model::ecs::service::registries` (pure); this loop reads the
//! services, their tasks and the registry, and applies the changes in one
//! write per region.

use std::collections::BTreeMap;

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

impl Registrar {
    /// One pass over every region's services.
    pub async fn pass(&self) -> Result<(), OpsError> {
        for region in self.ops.store.regions(Kind::Service).await? {
            self.pass_region(&region).await?;
        }
        Ok(())
    }

    async fn wanted(&self, region: &str) -> Result<Instances, OpsError> {
        let r = self.ops.region(region);
        let mut wanted = Instances::new();
        for (_, rec) in docs::list_all::<ServiceRecord>(r, Kind::Service).await? {
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

    async fn pass_region(&self, region: &str) -> Result<(), OpsError> {
        let wanted = self.wanted(region).await?;
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
    let mut services = registrar.ops.store.service_changes();
    let mut tasks = registrar.ops.store.task_changes();
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = services.recv() => {}
            _ = tasks.recv() => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
        while services.try_recv().is_ok() || tasks.try_recv().is_ok() {}
        if let Err(e) = registrar.pass().await {
            tracing::warn!(error = %e, "service registries pass failed");
        }
    }
}
