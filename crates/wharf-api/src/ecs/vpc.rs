//! Giving out `awsvpc` ranges (`wharf_model::ecs::network`): a cluster's VPC
//! range and an instance's slice when it registers, back when it is
//! deregistered, and the network plan an instance's agent applies (its slice,
//! its peers' slices and addresses), sent with every heartbeat answer.

use wharf_model::agent::{NetworkPlan, Peer};
use wharf_model::ecs::attributes::{self, value_of};
use wharf_model::ecs::network::{self, Allocation, VpcAllocations};
use wharf_model::ecs::shapes::{Attribute, ContainerInstance};
use wharf_model::ecs::status::InstanceStatus;
use wharf_model::EcsError;
use wharf_store::{Kind, Write};

use crate::context::AppState;
use crate::protocol::ApiError;

/// The region the allocations document is kept in (it spans regions: routes do).
const REGION: &str = wharf_ops::instances::NETWORK_REGION;
/// Its key.
const KEY: &str = wharf_ops::instances::NETWORK_KEY;

fn corrupt() -> EcsError {
    EcsError::server("The stored awsvpc allocations could not be read.")
}

/// Gives the instance its slice (and its cluster a range, the first time),
/// or finds the one it has; `None` when the server gives out no ranges.
pub(crate) async fn allocate(
    state: &AppState,
    region: &str,
    cluster: &str,
    instance: &str,
) -> Result<Option<Allocation>, ApiError> {
    let Some(pool) = state.vpc_pool else { return Ok(None) };
    let out = std::sync::Arc::new(std::sync::Mutex::new(None));
    let out_in = out.clone();
    let (region_in, cluster_in, instance_in) =
        (region.to_owned(), cluster.to_owned(), instance.to_owned());
    state
        .ops
        .store
        .update(
            Kind::Network,
            REGION,
            KEY,
            Box::new(move |current| {
                let mut all: VpcAllocations = match current {
                    Some(body) => serde_json::from_str(&body).map_err(|_| corrupt())?,
                    None => VpcAllocations::default(),
                };
                let before = all.clone();
                let given =
                    all.allocate(pool, &region_in, &cluster_in, &instance_in).map_err(|e| {
                        EcsError::client(format!("No awsvpc range for the instance: {e}."))
                    })?;
                if let Ok(mut o) = out_in.lock() {
                    *o = Some(given);
                }
                if all == before {
                    return Ok(Write::Keep);
                }
                serde_json::to_string(&all).map(Write::Put).map_err(|_| corrupt())
            }),
        )
        .await?;
    let given = out.lock().map(|o| *o).unwrap_or(None);
    Ok(given)
}

/// The attributes that describe an instance's slice: `ecs.vpc-id`,
/// `ecs.subnet-id` and `wharf.subnet-cidr`.
pub(crate) fn describe(region: &str, cluster: &str, a: &Allocation, into: &mut Vec<Attribute>) {
    attributes::set(into, attributes::VPC_ID, Some(&network::vpc_id(region, cluster)));
    attributes::set(into, attributes::SUBNET_ID, Some(&network::subnet_id(&a.slice)));
    attributes::set(into, attributes::SUBNET_CIDR, Some(&a.slice.to_string()));
}

/// The plan for an instance's host: its slice and its cluster's other
/// registered instances, each with its address and slice; `None` when the
/// server gives out no ranges or the instance has none.
pub async fn plan(
    state: &AppState,
    region: &str,
    cluster: &str,
    instance: &str,
) -> Result<Option<NetworkPlan>, ApiError> {
    let Some(pool) = state.vpc_pool else { return Ok(None) };
    let mut all = match state.ops.store.get(Kind::Network, REGION, KEY).await? {
        Some(body) => serde_json::from_str::<VpcAllocations>(&body).map_err(|_| corrupt())?,
        None => return Ok(None),
    };
    let key = network::cluster_key(region, cluster);
    if !all.clusters.get(&key).is_some_and(|c| c.slices.contains_key(instance)) {
        return Ok(None);
    }
    let mine = all.allocate(pool, region, cluster, instance).map_err(EcsError::server)?;
    let mut peers = Vec::new();
    for u in state.ops.store.instances(region, cluster, None).await? {
        if u.instance.id == instance || u.instance.status == InstanceStatus::Inactive {
            continue;
        }
        let Ok(ci) = serde_json::from_str::<ContainerInstance>(&u.instance.json) else { continue };
        let attrs = ci.attributes.as_deref().unwrap_or(&[]);
        let (Some(address), Some(slice)) =
            (value_of(attrs, attributes::ADDRESS), value_of(attrs, attributes::SUBNET_CIDR))
        else {
            continue;
        };
        peers.push(Peer { address: address.to_owned(), slice: slice.to_owned() });
    }
    peers.sort();
    Ok(Some(NetworkPlan {
        pool: pool.to_string(),
        vpc: mine.vpc.to_string(),
        slice: mine.slice.to_string(),
        peers,
    }))
}

/// Every registered instance's slice and address, of every cluster: the
/// routes the server's own host needs to reach every task address.
pub async fn all_slices(state: &AppState) -> Result<Vec<Peer>, ApiError> {
    let mut out = Vec::new();
    if state.vpc_pool.is_none() {
        return Ok(out);
    }
    for region in state.ops.store.regions(Kind::Cluster).await? {
        let clusters = wharf_ops::lookup::instance_clusters(&*state.ops.store, &region).await?;
        for cluster in &clusters {
            for u in state.ops.store.instances(&region, cluster, None).await? {
                if u.instance.status == InstanceStatus::Inactive {
                    continue;
                }
                let Ok(ci) = serde_json::from_str::<ContainerInstance>(&u.instance.json) else {
                    continue;
                };
                let attrs = ci.attributes.as_deref().unwrap_or(&[]);
                if let (Some(address), Some(slice)) =
                    (value_of(attrs, attributes::ADDRESS), value_of(attrs, attributes::SUBNET_CIDR))
                {
                    out.push(Peer { address: address.to_owned(), slice: slice.to_owned() });
                }
            }
        }
    }
    out.sort();
    Ok(out)
}
