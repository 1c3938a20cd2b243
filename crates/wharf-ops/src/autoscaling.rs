//! Scalable targets' records (`wharf_model::application_autoscaling::record`)
//! in the store, and the one effect Application Auto Scaling has on ECS:
//! setting a service's desired count, as UpdateService does.

use std::sync::{Arc, Mutex, PoisonError};

use wharf_model::application_autoscaling::record::TargetRecord;
use wharf_model::application_autoscaling::{rules, ScalingError};
use wharf_model::ecs::service::deployment::{Names, ServiceUpdate};
use wharf_model::ecs::service::ServiceRecord;
use wharf_model::EcsError;
use wharf_store::Kind;

use crate::docs::{self, Change};
use crate::{OpsError, Region};

/// The record of the target for `resource_id`, if registered.
pub async fn get(r: Region<'_>, resource_id: &str) -> Result<Option<TargetRecord>, OpsError> {
    docs::get::<TargetRecord>(r, Kind::ScalableTarget, &rules::key(resource_id)).await
}

/// Every target record of the region, in key order.
pub async fn all(r: Region<'_>) -> Result<Vec<TargetRecord>, OpsError> {
    Ok(docs::list_all::<TargetRecord>(r, Kind::ScalableTarget)
        .await?
        .into_iter()
        .map(|(_, t)| t)
        .collect())
}

/// Changes the record of `resource_id` atomically (`None`: not there); what
/// `change` returns is stored (`None` deletes it). The record afterwards.
/// `change` may run more than once; a refusal it returns is answered as
/// [`OpsError::ScalingRefused`] and nothing is written.
pub async fn update<F>(
    r: Region<'_>,
    resource_id: &str,
    change: F,
) -> Result<Option<TargetRecord>, OpsError>
where
    F: Fn(Option<TargetRecord>) -> Result<Option<TargetRecord>, ScalingError> + Send + 'static,
{
    let key = rules::key(resource_id);
    // The store's decisions answer ECS errors: the scaling refusal waits
    // here while a stand-in aborts the write.
    let refused: Arc<Mutex<Option<ScalingError>>> = Arc::default();
    let refusal = refused.clone();
    let after = docs::update::<TargetRecord, _>(r, Kind::ScalableTarget, &key, move |cur| {
        match change(cur) {
            Ok(Some(t)) => Ok(Change::Put(t)),
            Ok(None) => Ok(Change::Delete),
            Err(e) => {
                let stand_in = EcsError::client(e.message.clone());
                *refusal.lock().unwrap_or_else(PoisonError::into_inner) = Some(e);
                Err(stand_in)
            }
        }
    })
    .await;
    after.map_err(|e| {
        let refusal = refused.lock().unwrap_or_else(PoisonError::into_inner).take();
        refusal.map_or(e, OpsError::ScalingRefused)
    })
}

/// Sets the desired count of service `service` of `cluster`, as
/// UpdateService `desiredCount` does; the service afterwards.
pub async fn set_desired_count(
    r: Region<'_>,
    cluster: &str,
    service: &str,
    count: i32,
) -> Result<ServiceRecord, OpsError> {
    let names = Names::new(&r.scope(), cluster, service);
    crate::service::update(
        r,
        &names,
        ServiceUpdate { desired: Some(count), ..ServiceUpdate::default() },
    )
    .await
}
