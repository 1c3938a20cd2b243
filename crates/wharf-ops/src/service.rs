//! A service's record: read it, change it atomically while ACTIVE, list a
//! cluster's. CreateService, UpdateService, DeleteService and the task set
//! calls write through [`update_active`], so a handler never writes back a
//! whole record it read earlier and the scheduler's fields stay as they are.

use wharf_model::ecs::service::deployment::Names;
use wharf_model::ecs::service::{self as model, ServiceRecord};
use wharf_model::ecs::status::ServiceStatus;
use wharf_model::EcsError;
use wharf_store::Kind;

use crate::docs::{self, Change};
use crate::{OpsError, Region};

/// Reads a stored service; an INACTIVE one past its keeping time counts as
/// gone.
pub async fn load(r: Region<'_>, names: &Names) -> Result<Option<ServiceRecord>, OpsError> {
    let rec = docs::get::<ServiceRecord>(r, Kind::Service, &names.key()).await?;
    let now = r.now_ms();
    Ok(rec.filter(|r| !model::forgotten(r, now)))
}

/// Applies `change` to the ACTIVE service the names point at, inside one
/// atomic update of its current record; the record afterwards.
pub async fn update_active<F>(
    r: Region<'_>,
    names: &Names,
    change: F,
) -> Result<ServiceRecord, OpsError>
where
    F: FnOnce(&mut ServiceRecord) -> Result<(), EcsError> + Send + 'static,
{
    let now = r.now_ms();
    let updated =
        docs::update::<ServiceRecord, _>(r, Kind::Service, &names.key(), move |cur| match cur {
            Some(mut r) if !model::forgotten(&r, now) => {
                if r.service.status != Some(ServiceStatus::Active) {
                    return Err(model::service_not_active());
                }
                change(&mut r)?;
                Ok(Change::Put(r))
            }
            _ => Err(model::service_not_found()),
        })
        .await?;
    updated.ok_or_else(|| model::service_not_found().into())
}

/// Every service record of a cluster, in name order (for checks that need
/// them all, such as DeleteCluster's).
pub async fn all_in_cluster(r: Region<'_>, cluster: &str) -> Result<Vec<ServiceRecord>, OpsError> {
    const PAGE: usize = 100;
    let prefix = format!("{cluster}/");
    let mut after = prefix.clone();
    let mut out = Vec::new();
    loop {
        let page = docs::list::<ServiceRecord>(r, Kind::Service, Some(&after), PAGE).await?;
        let full = page.len() == PAGE;
        for (key, rec) in page {
            if !key.starts_with(&prefix) {
                return Ok(out);
            }
            after = key;
            out.push(rec);
        }
        if !full {
            return Ok(out);
        }
    }
}

/// Whether a cluster holds services that are ACTIVE or DRAINING (which
/// keep it from being deleted).
pub async fn has_live_services(r: Region<'_>, cluster: &str) -> Result<bool, OpsError> {
    Ok(all_in_cluster(r, cluster).await?.iter().any(model::is_live))
}

/// How many ACTIVE services a cluster has (`activeServicesCount`).
pub async fn active_count(r: Region<'_>, cluster: &str) -> Result<i32, OpsError> {
    let all = all_in_cluster(r, cluster).await?;
    let n = all.iter().filter(|r| r.service.status == Some(ServiceStatus::Active)).count();
    Ok(i32::try_from(n).unwrap_or(i32::MAX))
}
