//! Clusters: CreateCluster, DescribeClusters, ListClusters, UpdateCluster,
//! UpdateClusterSettings, PutClusterCapacityProviders, DeleteCluster.
//!
//! A cluster is kept as its `Cluster` wire shape, without tags (those live in
//! the store's tag table, by ARN). Deleting a cluster leaves it `INACTIVE`, as
//! ECS does, until a cluster of the same name is created again.

use wharf_model::arn;
use wharf_model::ecs::shapes::{
    Cluster, ClusterField, ClusterServiceConnectDefaults, ClusterSetting, ClusterSettingName,
    CreateClusterRequest, CreateClusterResponse, DeleteClusterRequest, DeleteClusterResponse,
    DescribeClustersRequest, DescribeClustersResponse, Failure, ListClustersRequest,
    ListClustersResponse, PutClusterCapacityProvidersRequest, PutClusterCapacityProvidersResponse,
    UpdateClusterRequest, UpdateClusterResponse, UpdateClusterSettingsRequest,
    UpdateClusterSettingsResponse,
};
use wharf_model::ecs::status::ClusterStatus;
use wharf_model::ecs::tags as ecs_tags;
use wharf_model::EcsError;
use wharf_ops::docs::{self, Change};
use wharf_ops::lookup::{add_tags, tags_of, DEFAULT_CLUSTER};
use wharf_ops::service::{active_count, has_live_services};
use wharf_store::Kind;

use super::capacity_provider;
use super::container_instance;
use super::input::{is_resource_name, required};
use crate::context::Ctx;
use crate::pagination;
use crate::protocol::ApiError;

fn validate_settings(settings: &[ClusterSetting]) -> Result<(), EcsError> {
    for s in settings {
        let name = required(s.name.as_ref(), "settings.name")?;
        if !name.is_known() {
            return Err(EcsError::invalid_parameter(format!(
                "Invalid cluster setting name '{name}'. Valid values: {}.",
                ClusterSettingName::VALUES.join(", ")
            )));
        }
        let value = required(s.value.as_deref(), "settings.value")?;
        if !matches!(value, "enabled" | "disabled" | "enhanced") {
            return Err(EcsError::invalid_parameter(format!(
                "Invalid value '{value}' for cluster setting containerInsights. \
                 Valid values: enabled, disabled, enhanced."
            )));
        }
    }
    Ok(())
}

fn merge_settings(current: &mut Vec<ClusterSetting>, new: Vec<ClusterSetting>) {
    for s in new {
        match current.iter_mut().find(|c| c.name == s.name) {
            Some(c) => c.value = s.value,
            None => current.push(s),
        }
    }
}

/// A new, empty ACTIVE cluster as ECS shows it.
fn new_cluster(ctx: &Ctx, name: &str) -> Cluster {
    Cluster {
        cluster_arn: Some(ctx.scope().cluster_arn(name)),
        cluster_name: Some(name.to_owned()),
        status: Some(ClusterStatus::Active),
        registered_container_instances_count: Some(0),
        running_tasks_count: Some(0),
        pending_tasks_count: Some(0),
        active_services_count: Some(0),
        statistics: Some(vec![]),
        settings: Some(vec![ClusterSetting {
            name: Some(ClusterSettingName::ContainerInsights),
            value: Some("disabled".to_owned()),
        }]),
        capacity_providers: Some(vec![]),
        default_capacity_provider_strategy: Some(vec![]),
        ..Cluster::default()
    }
}

/// Makes the `default` cluster if it is not ACTIVE (RunTask without a
/// cluster creates it, as ECS does).
pub(crate) async fn ensure_default(ctx: &Ctx) -> Result<(), ApiError> {
    let fresh = new_cluster(ctx, DEFAULT_CLUSTER);
    docs::update::<Cluster, _>(ctx.ops(), Kind::Cluster, DEFAULT_CLUSTER, move |cur| {
        Ok(match cur {
            Some(c) if c.status == Some(ClusterStatus::Active) => Change::Keep,
            _ => Change::Put(fresh.clone()),
        })
    })
    .await?;
    Ok(())
}

/// Applies an in-place change to an ACTIVE cluster; the cluster afterwards.
async fn modify_active<F>(ctx: &Ctx, name_or_arn: &str, change: F) -> Result<Cluster, ApiError>
where
    F: Fn(&mut Cluster) -> Result<(), EcsError> + Send + 'static,
{
    let name = arn::cluster_name(name_or_arn).to_owned();
    let updated =
        docs::update::<Cluster, _>(ctx.ops(), Kind::Cluster, &name, move |cur| match cur {
            Some(mut c) if c.status == Some(ClusterStatus::Active) => {
                change(&mut c)?;
                Ok(Change::Put(c))
            }
            _ => Err(EcsError::cluster_not_found()),
        })
        .await?;
    updated.ok_or_else(|| EcsError::cluster_not_found().into())
}

/// Fills in the counts that are computed, not stored: registered container
/// instances and running and pending tasks.
async fn with_counts(ctx: &Ctx, mut c: Cluster) -> Result<Cluster, ApiError> {
    let name = c.cluster_name.clone().unwrap_or_default();
    let instances = container_instance::registered_count(ctx, &name).await?;
    let (running, pending) = ctx.store().task_counts(&ctx.region, &name).await?;
    let int = |n: i64| Some(i32::try_from(n).unwrap_or(i32::MAX));
    c.registered_container_instances_count = int(instances);
    c.running_tasks_count = int(running);
    c.pending_tasks_count = int(pending);
    c.active_services_count = Some(active_count(ctx.ops(), &name).await?);
    Ok(c)
}

/// Adds the cluster's tags to the answer.
async fn with_tags(ctx: &Ctx, mut c: Cluster) -> Result<Cluster, ApiError> {
    let arn = c.cluster_arn.clone().unwrap_or_default();
    c.tags = Some(tags_of(ctx.ops(), &arn).await?);
    Ok(c)
}

/// CreateCluster: idempotent for an ACTIVE cluster of the same name, which is
/// returned as it is.
pub(crate) async fn create_cluster(
    ctx: &Ctx,
    req: CreateClusterRequest,
) -> Result<CreateClusterResponse, ApiError> {
    let name = req.cluster_name.unwrap_or_else(|| DEFAULT_CLUSTER.to_owned());
    if !is_resource_name(&name) {
        return Err(EcsError::invalid_parameter(
            "Invalid cluster name. Up to 255 letters (uppercase and lowercase), numbers, \
             underscores, and hyphens are allowed.",
        )
        .into());
    }
    let settings = req.settings.unwrap_or_default();
    validate_settings(&settings)?;
    let tag_list = req.tags.unwrap_or_default();
    ecs_tags::validate(&tag_list)?;
    let providers = req.capacity_providers.unwrap_or_default();
    let strategy = req.default_capacity_provider_strategy.unwrap_or_default();
    capacity_provider::check_cluster_strategy(ctx, &providers, &strategy).await?;

    let mut fresh = new_cluster(ctx, &name);
    merge_settings(fresh.settings.get_or_insert_with(Vec::new), settings);
    fresh.configuration = req.configuration;
    fresh.capacity_providers = Some(providers);
    fresh.default_capacity_provider_strategy = Some(strategy);
    fresh.service_connect_defaults = req
        .service_connect_defaults
        .map(|d| ClusterServiceConnectDefaults { namespace: d.namespace });
    let created = docs::update::<Cluster, _>(ctx.ops(), Kind::Cluster, &name, move |cur| {
        Ok(match cur {
            Some(c) if c.status == Some(ClusterStatus::Active) => Change::Keep,
            _ => Change::Put(fresh.clone()),
        })
    })
    .await?
    .ok_or_else(|| EcsError::server("The cluster was not created."))?;
    let arn = created.cluster_arn.clone().unwrap_or_default();
    if !tag_list.is_empty() {
        add_tags(ctx.ops(), &arn, tag_list).await?;
    }
    Ok(CreateClusterResponse { cluster: Some(with_tags(ctx, created).await?) })
}

/// DescribeClusters: unknown clusters come back as `failures` with reason
/// `MISSING`; optional parts only with `include`.
pub(crate) async fn describe_clusters(
    ctx: &Ctx,
    req: DescribeClustersRequest,
) -> Result<DescribeClustersResponse, ApiError> {
    let names = req.clusters.unwrap_or_else(|| vec![DEFAULT_CLUSTER.to_owned()]);
    if names.len() > 100 {
        return Err(EcsError::invalid_parameter("clusters can have at most 100 items.").into());
    }
    let include = req.include.unwrap_or_default();
    let wants = |f: ClusterField| include.contains(&f);
    let (mut clusters, mut failures) = (Vec::new(), Vec::new());
    for given in names {
        let name = arn::cluster_name(&given);
        match docs::get::<Cluster>(ctx.ops(), Kind::Cluster, name).await? {
            Some(c) => {
                let mut c = with_counts(ctx, c).await?;
                if !wants(ClusterField::Configurations) {
                    c.configuration = None;
                }
                if !wants(ClusterField::Attachments) {
                    c.attachments = None;
                    c.attachments_status = None;
                }
                c = if wants(ClusterField::Tags) { with_tags(ctx, c).await? } else { c };
                c.tags.get_or_insert_with(Vec::new);
                clusters.push(c);
            }
            None => failures.push(Failure {
                arn: Some(ctx.scope().cluster_arn(name)),
                reason: Some("MISSING".to_owned()),
                detail: None,
            }),
        }
    }
    Ok(DescribeClustersResponse { clusters: Some(clusters), failures: Some(failures) })
}

/// ListClusters: ACTIVE clusters' ARNs in name order, paginated.
pub(crate) async fn list_clusters(
    ctx: &Ctx,
    req: ListClustersRequest,
) -> Result<ListClustersResponse, ApiError> {
    let limit = pagination::max_results(req.max_results, 100)?;
    let mut after = req.next_token.as_deref().map(pagination::decode).transpose()?;
    let mut arns = Vec::new();
    // INACTIVE clusters are skipped, so read pages until this one is full.
    loop {
        let page =
            docs::list::<Cluster>(ctx.ops(), Kind::Cluster, after.as_deref(), limit + 1).await?;
        let exhausted = page.len() <= limit;
        for (key, c) in page {
            if arns.len() == limit {
                return Ok(ListClustersResponse {
                    cluster_arns: Some(arns),
                    next_token: after.as_deref().map(pagination::encode),
                });
            }
            after = Some(key);
            if c.status == Some(ClusterStatus::Active) {
                arns.extend(c.cluster_arn);
            }
        }
        if exhausted {
            return Ok(ListClustersResponse { cluster_arns: Some(arns), next_token: None });
        }
    }
}

/// UpdateCluster: settings, configuration and Service Connect defaults.
pub(crate) async fn update_cluster(
    ctx: &Ctx,
    req: UpdateClusterRequest,
) -> Result<UpdateClusterResponse, ApiError> {
    let name = required(req.cluster, "cluster")?;
    let settings = req.settings.unwrap_or_default();
    validate_settings(&settings)?;
    let (configuration, connect) = (req.configuration, req.service_connect_defaults);
    let c = modify_active(ctx, &name, move |c| {
        merge_settings(c.settings.get_or_insert_with(Vec::new), settings.clone());
        if configuration.is_some() {
            c.configuration = configuration.clone();
        }
        if let Some(d) = connect.clone() {
            c.service_connect_defaults =
                Some(ClusterServiceConnectDefaults { namespace: d.namespace });
        }
        Ok(())
    })
    .await?;
    Ok(UpdateClusterResponse { cluster: Some(with_tags(ctx, c).await?) })
}

/// UpdateClusterSettings.
pub(crate) async fn update_cluster_settings(
    ctx: &Ctx,
    req: UpdateClusterSettingsRequest,
) -> Result<UpdateClusterSettingsResponse, ApiError> {
    let name = required(req.cluster, "cluster")?;
    let settings = required(req.settings, "settings")?;
    validate_settings(&settings)?;
    let c = modify_active(ctx, &name, move |c| {
        merge_settings(c.settings.get_or_insert_with(Vec::new), settings.clone());
        Ok(())
    })
    .await?;
    Ok(UpdateClusterSettingsResponse { cluster: Some(with_tags(ctx, c).await?) })
}

/// PutClusterCapacityProviders: replaces the cluster's providers and default
/// strategy; every provider named must exist.
pub(crate) async fn put_cluster_capacity_providers(
    ctx: &Ctx,
    req: PutClusterCapacityProvidersRequest,
) -> Result<PutClusterCapacityProvidersResponse, ApiError> {
    let name = required(req.cluster, "cluster")?;
    let providers = required(req.capacity_providers, "capacityProviders")?;
    let strategy =
        required(req.default_capacity_provider_strategy, "defaultCapacityProviderStrategy")?;
    capacity_provider::check_cluster_strategy(ctx, &providers, &strategy).await?;
    let c = modify_active(ctx, &name, move |c| {
        c.capacity_providers = Some(providers.clone());
        c.default_capacity_provider_strategy = Some(strategy.clone());
        Ok(())
    })
    .await?;
    Ok(PutClusterCapacityProvidersResponse { cluster: Some(with_tags(ctx, c).await?) })
}

/// DeleteCluster: refused while the cluster holds container instances,
/// services or tasks; otherwise it becomes INACTIVE.
pub(crate) async fn delete_cluster(
    ctx: &Ctx,
    req: DeleteClusterRequest,
) -> Result<DeleteClusterResponse, ApiError> {
    let name = required(req.cluster, "cluster")?;
    if !capacity_provider::scoped_to(ctx, arn::cluster_name(&name)).await?.is_empty() {
        return Err(EcsError::client(
            "The Cluster cannot be deleted while Cluster Scoped Capacity Providers are attached \
             to the cluster. Delete them and try again.",
        )
        .into());
    }
    let short = arn::cluster_name(&name).to_owned();
    let counted = match docs::get::<Cluster>(ctx.ops(), Kind::Cluster, &short).await? {
        Some(c) => with_counts(ctx, c).await?,
        None => return Err(EcsError::cluster_not_found().into()),
    };
    // Services count while ACTIVE or DRAINING: a DRAINING one still has tasks
    // to stop (the scheduler makes it INACTIVE when they are gone).
    let live_services = has_live_services(ctx.ops(), &short).await?;
    let c = modify_active(ctx, &name, move |c| {
        let c_counts = &counted;
        if c_counts.registered_container_instances_count.unwrap_or(0) > 0 {
            return Err(EcsError::new(
                wharf_model::EcsErrorKind::ClusterContainsContainerInstancesException,
                "The Cluster cannot be deleted while Container Instances are active or draining.",
            ));
        }
        if live_services {
            return Err(EcsError::new(
                wharf_model::EcsErrorKind::ClusterContainsServicesException,
                "The Cluster cannot be deleted while Services are active.",
            ));
        }
        if c_counts.running_tasks_count.unwrap_or(0) + c_counts.pending_tasks_count.unwrap_or(0) > 0
        {
            return Err(EcsError::new(
                wharf_model::EcsErrorKind::ClusterContainsTasksException,
                "The Cluster cannot be deleted while Tasks are active.",
            ));
        }
        c.status = Some(ClusterStatus::Inactive);
        Ok(())
    })
    .await?;
    Ok(DeleteClusterResponse { cluster: Some(with_tags(ctx, c).await?) })
}
