//! A region's EC2 network (`wharf_model::ec2::network`): read it (with the
//! default VPC made on first use), change it in one atomic write, check an
//! `awsvpcConfiguration` against it, and find the network interfaces of
//! `awsvpc` tasks.

use std::sync::{Arc, Mutex};

use wharf_model::ec2::interface::{self, Interface};
use wharf_model::ec2::network::{AwsvpcNames, Network};
use wharf_model::ec2::{zones, Ec2Error};
use wharf_model::ecs::attributes;
use wharf_model::ecs::shapes::{Cluster, ContainerInstance, NetworkConfiguration, Task};
use wharf_model::EcsError;
use wharf_store::{Kind, StoreError, TaskQuery, Write};

use crate::{docs, OpsError, Region};

/// The key of the network document in its region.
pub const KEY: &str = "network";

fn store_failed(e: impl std::fmt::Display) -> Ec2Error {
    tracing::error!(error = %e, "the EC2 network could not be read or written");
    Ec2Error::server("Wharf could not read or write its network state.")
}

fn parse(json: Option<String>) -> Result<Network, EcsError> {
    match json {
        Some(j) => serde_json::from_str(&j).map_err(|e| {
            tracing::error!(error = %e, "the stored EC2 network does not parse");
            EcsError::server("Wharf could not read its network state.")
        }),
        None => Ok(Network::default()),
    }
}

/// The region's Availability Zones: the standard three and those its
/// container instances (and Fargate pool hosts) report (`ecs.availability-zone`).
pub async fn zones(r: Region<'_>) -> Result<Vec<String>, OpsError> {
    let mut reported = Vec::new();
    for name in crate::lookup::instance_clusters(r.store(), r.name).await? {
        for usage in r.store().instances(r.name, &name, None).await? {
            let Ok(ci) = serde_json::from_str::<ContainerInstance>(&usage.instance.json) else {
                continue;
            };
            let zone = ci
                .attributes
                .iter()
                .flatten()
                .find(|a| a.name.as_deref() == Some(attributes::AVAILABILITY_ZONE))
                .and_then(|a| a.value.clone());
            if let Some(z) = zone.filter(|z| !reported.contains(z)) {
                reported.push(z);
            }
        }
    }
    Ok(zones::of_region(r.name, &reported))
}

/// Changes the network in one atomic write: `change` runs on the network as
/// stored (with the default VPC made for `zone_names` first) and its result
/// is returned; an error writes nothing. `change` may run more than once
/// (a store that retries on conflict runs it on fresh state).
pub async fn change<T, F>(r: Region<'_>, zone_names: &[String], change: F) -> Result<T, Ec2Error>
where
    T: Send + 'static,
    F: Fn(&mut Network) -> Result<T, Ec2Error> + Send + Sync + 'static,
{
    let out: Arc<Mutex<Option<Result<T, Ec2Error>>>> = Arc::new(Mutex::new(None));
    let out_in = out.clone();
    let zone_names = zone_names.to_vec();
    let entropy = r.ops.entropy.clone();
    let written = r
        .store()
        .update(
            Kind::Ec2Network,
            r.name,
            KEY,
            Box::new(move |current| {
                let mut network = parse(current)?;
                let before = network.clone();
                network.ensure_default(&zone_names, &*entropy);
                let result = change(&mut network);
                let failed = result.is_err();
                if let Ok(mut o) = out_in.lock() {
                    *o = Some(result);
                }
                if failed {
                    return Err(EcsError::client("refused"));
                }
                if network == before {
                    return Ok(Write::Keep);
                }
                serde_json::to_string(&network).map(Write::Put).map_err(|e| {
                    tracing::error!(error = %e, "the EC2 network could not be written");
                    EcsError::server("Wharf could not write its network state.")
                })
            }),
        )
        .await;
    let result = out.lock().ok().and_then(|mut o| o.take());
    match (written, result) {
        (_, Some(Err(e))) => Err(e),
        (Ok(_), Some(Ok(v))) => Ok(v),
        (Err(StoreError::Rejected(e)), _) => Err(store_failed(e.message)),
        (Err(e), _) => Err(store_failed(e)),
        (Ok(_), None) => Err(store_failed("the change did not run")),
    }
}

/// The network as it is (the default VPC made for `zone_names` if this is
/// its first use).
pub async fn read(r: Region<'_>, zone_names: &[String]) -> Result<Network, Ec2Error> {
    let stored = r.store().get(Kind::Ec2Network, r.name, KEY).await.map_err(store_failed)?;
    if let Some(json) = stored {
        let network = parse(Some(json)).map_err(|e| store_failed(e.message))?;
        if !network.clone().ensure_default(zone_names, &*r.ops.entropy) {
            return Ok(network);
        }
    }
    change(r, zone_names, |n| Ok(n.clone())).await
}

/// ECS's check of an `awsvpcConfiguration` (RunTask, StartTask,
/// CreateService, UpdateService, CreateTaskSet): its subnets and security
/// groups exist, in one VPC.
pub async fn check_awsvpc(
    r: Region<'_>,
    config: Option<&NetworkConfiguration>,
) -> Result<(), OpsError> {
    let Some(vpc) = config.and_then(|c| c.awsvpc_configuration.as_ref()) else { return Ok(()) };
    let names = AwsvpcNames {
        subnets: vpc.subnets.as_deref().unwrap_or(&[]),
        security_groups: vpc.security_groups.as_deref().unwrap_or(&[]),
    };
    let network =
        read(r, &zones::of_region(r.name, &[])).await.map_err(|e| EcsError::server(e.message))?;
    Ok(network.check_awsvpc(&names)?)
}

/// The network interfaces of the region's `awsvpc` tasks that are not
/// stopped.
pub async fn interfaces(r: Region<'_>) -> Result<Vec<Interface>, OpsError> {
    let mut found = Vec::new();
    for (name, _) in docs::list_all::<Cluster>(r, Kind::Cluster).await? {
        let mut after = None;
        loop {
            let page = r
                .store()
                .list_tasks(
                    r.name,
                    TaskQuery {
                        cluster: name.clone(),
                        after: after.clone(),
                        limit: 500,
                        ..TaskQuery::default()
                    },
                )
                .await?;
            let full = page.len() == 500;
            after = page.last().map(|t| t.id.clone());
            for stored in page {
                if stored.last_status == wharf_model::ecs::status::TaskStatus::Stopped {
                    continue;
                }
                if let Ok(task) = serde_json::from_str::<Task>(&stored.json) {
                    found.extend(interface::of_task(&task));
                }
            }
            if !full {
                break;
            }
        }
    }
    Ok(found)
}
