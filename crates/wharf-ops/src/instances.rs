//! A container instance's status: UpdateContainerInstancesState (DRAINING,
//! ACTIVE), DeregisterContainerInstance (INACTIVE, its awsvpc slice given
//! back, a forced one's tasks recorded stopped), and managed scaling's
//! draining and removal of a group's hosts all change it here.

use wharf_model::ecs::network::VpcAllocations;
use wharf_model::ecs::shapes::{ContainerInstance, TaskStopCode};
use wharf_model::ecs::status::InstanceStatus;
use wharf_model::EcsError;
use wharf_store::{InstanceUsage, Kind, StoredInstance, Write};

use crate::{OpsError, Region};

/// The region the awsvpc allocations document is kept in (it spans
/// regions), and its key.
pub const NETWORK_REGION: &str = "*";
/// The awsvpc allocations document's key.
pub const NETWORK_KEY: &str = "awsvpc";

/// The `stoppedReason` of the tasks of an instance deregistered by force.
pub const FORCED_DEREGISTRATION: &str = "Container instance deregistration forced by user";

fn unreadable() -> EcsError {
    EcsError::server("A stored container instance could not be read.")
}

/// Sets instance `id` of `cluster` to `status` (INACTIVE also marks its
/// agent disconnected), once `check` accepts it as stored; a missing
/// instance is ECS's `InvalidParameterException`.
pub async fn set_status(
    r: Region<'_>,
    cluster: &str,
    id: &str,
    check: impl Fn(&InstanceUsage) -> Result<(), EcsError> + Send + 'static,
    status: InstanceStatus,
) -> Result<(), OpsError> {
    r.store()
        .update_instance(
            r.name,
            cluster,
            id,
            Box::new(move |current| {
                let Some(u) = current else {
                    return Err(EcsError::invalid_parameter(
                        "The referenced container instance was not found.",
                    ));
                };
                check(u)?;
                let mut ci: ContainerInstance =
                    serde_json::from_str(&u.instance.json).map_err(|_| unreadable())?;
                if ci.status == Some(status) {
                    return Ok(None);
                }
                ci.status = Some(status);
                ci.version = Some(ci.version.unwrap_or(0) + 1);
                if status == InstanceStatus::Inactive {
                    ci.agent_connected = Some(false);
                }
                let json = serde_json::to_string(&ci).map_err(|_| unreadable())?;
                Ok(Some(StoredInstance { status, json, ..u.instance.clone() }))
            }),
        )
        .await?;
    Ok(())
}

/// Gives back a deregistered instance's awsvpc slice.
pub async fn release_slice(r: Region<'_>, cluster: &str, id: &str) -> Result<(), OpsError> {
    let (region, cluster, id) = (r.name.to_owned(), cluster.to_owned(), id.to_owned());
    let corrupt = || EcsError::server("The stored awsvpc allocations could not be read.");
    r.store()
        .update(
            Kind::Network,
            NETWORK_REGION,
            NETWORK_KEY,
            Box::new(move |current| {
                let Some(body) = current else { return Ok(Write::Keep) };
                let mut all: VpcAllocations = serde_json::from_str(&body).map_err(|_| corrupt())?;
                if !all.release(&region, &cluster, &id) {
                    return Ok(Write::Keep);
                }
                serde_json::to_string(&all).map(Write::Put).map_err(|_| corrupt())
            }),
        )
        .await?;
    Ok(())
}

/// Deregisters instance `id` of `cluster`: INACTIVE, its slice given back.
/// Refused while it has tasks unless `force`; forced, its tasks are
/// recorded stopped (their containers are left running, orphaned, as ECS
/// leaves them) and services replace them. How many tasks were stopped.
pub async fn deregister(
    r: Region<'_>,
    cluster: &str,
    id: &str,
    force: bool,
) -> Result<usize, OpsError> {
    set_status(
        r,
        cluster,
        id,
        move |u| {
            if !force && u.running_tasks + u.pending_tasks > 0 {
                return Err(EcsError::invalid_parameter(
                    "Found running tasks on the instance. Stop them or use force to deregister it.",
                ));
            }
            Ok(())
        },
        InstanceStatus::Inactive,
    )
    .await?;
    release_slice(r, cluster, id).await?;
    crate::stop::declare_stopped_on_instance(
        r,
        cluster,
        id,
        TaskStopCode::UserInitiated,
        FORCED_DEREGISTRATION,
    )
    .await
}
