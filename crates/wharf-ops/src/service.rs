//! A service's record: read it, change it atomically while ACTIVE, list a
//! cluster's. CreateService, UpdateService, DeleteService and the task set
//! calls write through [`update_active`], so a handler never writes back a
//! whole record it read earlier and the scheduler's fields stay as they are.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use wharf_model::ecs::service::deployment::{start_deployment, Names, Revision, ServiceUpdate};
use wharf_model::ecs::service::task_set::new_task_set;
use wharf_model::ecs::service::validate::spec;
use wharf_model::ecs::service::{self as model, ServiceRecord};
use wharf_model::ecs::shapes::{Service, Tag};
use wharf_model::ecs::status::ServiceStatus;
use wharf_model::EcsError;
use wharf_store::Kind;

use crate::docs::{self, Change};
use crate::lookup::add_tags;
use crate::{OpsError, Region};

/// Reads a stored service; an INACTIVE one past its keeping time counts as
/// gone.
pub async fn load(r: Region<'_>, names: &Names) -> Result<Option<ServiceRecord>, OpsError> {
    let rec = docs::get::<ServiceRecord>(r, Kind::Service, &names.key()).await?;
    let now = r.now_ms();
    Ok(rec.filter(|r| !model::forgotten(r, now)))
}

/// Applies `change` to the ACTIVE service the names point at, inside one
/// atomic update of its current record; the record afterwards. `change` may
/// run more than once (a compare-and-swap store runs it again on fresh state).
pub async fn update_active<F>(
    r: Region<'_>,
    names: &Names,
    change: F,
) -> Result<ServiceRecord, OpsError>
where
    F: Fn(&mut ServiceRecord) -> Result<(), EcsError> + Send + 'static,
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

/// Stores a new service (ACTIVE, with a first PRIMARY deployment of
/// `revision` unless it uses the EXTERNAL controller) and its tags, as
/// CreateService does. A repeat of an identical request for an ACTIVE
/// service returns it as it is; a different one, or any for a DRAINING
/// service, is refused as ECS refuses it. A service created again under the
/// name of an INACTIVE one keeps its deployment id sequence and none of its
/// tags.
pub async fn create(
    r: Region<'_>,
    names: &Names,
    service: Service,
    revision: Option<Revision>,
    tags: Vec<Tag>,
) -> Result<ServiceRecord, OpsError> {
    let wanted = spec(&service);
    let names2 = names.clone();
    let now = r.now_ms();
    let random = r.ops.entropy.next_u64();
    // Whether this call created the service (not an identical one before it).
    let created = Arc::new(AtomicBool::new(false));
    let created_in = created.clone();
    let rec = docs::update::<ServiceRecord, _>(r, Kind::Service, &names.key(), move |cur| {
        created_in.store(false, Ordering::Relaxed);
        if let Some(existing) = cur.as_ref().filter(|c| model::is_live(c)) {
            // A DRAINING service still holds its name: ECS refuses any
            // CreateService of it, identical or not.
            let active = existing.service.status == Some(ServiceStatus::Active);
            return if active && spec(&existing.service) == wanted {
                Ok(Change::Keep)
            } else {
                Err(EcsError::invalid_parameter("Creation of service was not idempotent."))
            };
        }
        let unit_ids = cur.map(|old| old.unit_ids).unwrap_or_default();
        let mut rec =
            ServiceRecord { service: service.clone(), unit_ids, ..ServiceRecord::default() };
        match &revision {
            Some(rev) if model::is_code_deploy(&rec.service) => {
                // CODE_DEPLOY: the service's first task set, PRIMARY at 100%.
                let (ts, notes) = new_task_set(&names2, rev, 100.0, None, now);
                let id = rec.add_task_set(ts, notes, &names2.task_set_prefix, random)?;
                rec.make_primary(&id, now)?;
            }
            Some(rev) => start_deployment(&mut rec, &names2, rev, now, random),
            None => {}
        }
        created_in.store(true, Ordering::Relaxed);
        Ok(Change::Put(rec))
    })
    .await?
    .ok_or_else(|| EcsError::server("The service was not created."))?;
    if created.load(Ordering::Relaxed) {
        let old: Vec<String> =
            r.store().tags(r.name, &names.service_arn).await?.into_iter().map(|t| t.0).collect();
        if !old.is_empty() {
            r.store().untag(r.name, &names.service_arn, old).await?;
        }
        if !tags.is_empty() {
            add_tags(r, &names.service_arn, tags).await?;
        }
    }
    Ok(rec)
}

/// Applies an UpdateService (or a scaling action) to the ACTIVE service the
/// names point at, atomically; the record afterwards.
pub async fn update(
    r: Region<'_>,
    names: &Names,
    change: ServiceUpdate,
) -> Result<ServiceRecord, OpsError> {
    let now = r.now_ms();
    let random = r.ops.entropy.next_u64();
    let names2 = names.clone();
    update_active(r, names, move |rec| {
        change.clone().apply(rec, &names2, now, random);
        Ok(())
    })
    .await
}
