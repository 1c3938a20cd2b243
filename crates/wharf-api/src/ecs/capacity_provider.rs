//! Capacity providers: Create/Describe/Update/DeleteCapacityProvider, and the
//! checks a cluster's provider list and default strategy must pass.
//!
//! `FARGATE` and `FARGATE_SPOT` always exist, in every region, as in ECS; they
//! are not stored and cannot be changed or deleted.

use wharf_model::ecs::capacity::provider;
use wharf_model::ecs::capacity::scaling::Status;
use wharf_model::ecs::shapes::{
    CapacityProvider, CapacityProviderField, CapacityProviderStatus, CapacityProviderStrategyItem,
    CapacityProviderType, CapacityProviderUpdateStatus, Cluster, CreateCapacityProviderRequest,
    CreateCapacityProviderResponse, DeleteCapacityProviderRequest, DeleteCapacityProviderResponse,
    DescribeCapacityProvidersRequest, Failure, ManagedInstancesProvider,
    UpdateCapacityProviderRequest, UpdateCapacityProviderResponse,
};
use wharf_model::ecs::status::ClusterStatus;
use wharf_model::ecs::tags as ecs_tags;
use wharf_model::{arn, EcsError, EcsErrorKind};
use wharf_ops::docs::{self, Change};
use wharf_ops::lookup::{add_tags, tags_of};
use wharf_store::Kind;

use super::input::{is_resource_name, required};
use crate::context::Ctx;
use crate::pagination;
use crate::protocol::ApiError;

/// The providers every account has.
const BUILT_IN: [(&str, CapacityProviderType); 2] = [
    ("FARGATE", CapacityProviderType::Fargate),
    ("FARGATE_SPOT", CapacityProviderType::FargateSpot),
];

fn built_in(ctx: &Ctx, name: &str) -> Option<CapacityProvider> {
    BUILT_IN.iter().find(|(n, _)| *n == name).map(|(n, t)| CapacityProvider {
        capacity_provider_arn: Some(ctx.scope().capacity_provider_arn(n)),
        name: Some((*n).to_owned()),
        status: Some(CapacityProviderStatus::Active),
        r#type: Some(t.clone()),
        tags: Some(vec![]),
        ..CapacityProvider::default()
    })
}

fn short_name(name_or_arn: &str) -> &str {
    match arn::parse(name_or_arn) {
        Some(a) if a.kind == "capacity-provider" => a.rest,
        _ => name_or_arn,
    }
}

/// A provider by name or ARN: built in or created.
pub(crate) async fn find(
    ctx: &Ctx,
    name_or_arn: &str,
) -> Result<Option<CapacityProvider>, ApiError> {
    let name = short_name(name_or_arn);
    match built_in(ctx, name) {
        Some(p) => Ok(Some(p)),
        None => Ok(docs::get(ctx.ops(), Kind::CapacityProvider, name).await?),
    }
}

/// Every created (not built-in) provider, in name order.
pub(crate) async fn all_created(ctx: &Ctx) -> Result<Vec<CapacityProvider>, ApiError> {
    let all = docs::list_all::<CapacityProvider>(ctx.ops(), Kind::CapacityProvider).await?;
    Ok(all.into_iter().map(|(_, p)| p).collect())
}

/// The names of the providers scoped to a cluster (Managed Instances
/// providers created with `cluster`).
pub(crate) async fn scoped_to(ctx: &Ctx, cluster: &str) -> Result<Vec<String>, ApiError> {
    Ok(all_created(ctx)
        .await?
        .into_iter()
        .filter(|p| p.cluster.as_deref().is_some_and(|c| arn::cluster_name(c) == cluster))
        .filter_map(|p| p.name)
        .collect())
}

/// Checks a cluster's providers and default strategy: every provider exists,
/// every strategy item names one of the cluster's providers, weights and
/// bases are in range, and at most one item has a base.
pub(crate) async fn check_cluster_strategy(
    ctx: &Ctx,
    providers: &[String],
    strategy: &[CapacityProviderStrategyItem],
) -> Result<(), ApiError> {
    for p in providers {
        if find(ctx, p).await?.is_none() {
            return Err(EcsError::invalid_parameter(format!(
                "The specified capacity provider '{p}' does not exist. Specify a valid name or \
                 ARN and try again."
            ))
            .into());
        }
    }
    let mut with_base = 0;
    for item in strategy {
        let name = required(item.capacity_provider.as_deref(), "capacityProvider")?;
        if !providers.iter().any(|p| short_name(p) == short_name(name)) {
            return Err(EcsError::invalid_parameter(format!(
                "The capacity provider '{name}' in the default capacity provider strategy is not \
                 associated with the cluster."
            ))
            .into());
        }
        if !(0..=1000).contains(&item.weight.unwrap_or(0)) {
            return Err(EcsError::invalid_parameter("weight must be between 0 and 1000.").into());
        }
        let base = item.base.unwrap_or(0);
        if !(0..=100_000).contains(&base) {
            return Err(EcsError::invalid_parameter("base must be between 0 and 100000.").into());
        }
        with_base += usize::from(base > 0);
    }
    if with_base > 1 {
        return Err(EcsError::invalid_parameter(
            "Only one capacity provider in a capacity provider strategy can have a base defined.",
        )
        .into());
    }
    Ok(())
}

/// The first ACTIVE cluster whose providers include `name`.
async fn cluster_using(ctx: &Ctx, name: &str) -> Result<Option<String>, ApiError> {
    let clusters = docs::list_all::<Cluster>(ctx.ops(), Kind::Cluster).await?;
    Ok(clusters.into_iter().find_map(|(key, c)| {
        let uses = c.status == Some(ClusterStatus::Active)
            && c.capacity_providers.iter().flatten().any(|p| short_name(p) == name);
        uses.then_some(key)
    }))
}

/// CreateCapacityProvider.
pub(crate) async fn create_capacity_provider(
    ctx: &Ctx,
    req: CreateCapacityProviderRequest,
) -> Result<CreateCapacityProviderResponse, ApiError> {
    let name = required(req.name, "name")?;
    if !is_resource_name(&name) {
        return Err(EcsError::invalid_parameter(
            "The capacity provider name is not valid. Up to 255 letters (uppercase and lowercase), \
             numbers, underscores, and hyphens are allowed.",
        )
        .into());
    }
    let lower = name.to_ascii_lowercase();
    if ["aws", "ecs", "fargate"].iter().any(|p| lower.starts_with(p)) {
        return Err(EcsError::invalid_parameter(
            "The capacity provider name cannot be prefixed with \"aws\", \"ecs\", or \"fargate\".",
        )
        .into());
    }
    let kind = match (&req.auto_scaling_group_provider, &req.managed_instances_provider) {
        (Some(asg), None) => {
            required(
                asg.auto_scaling_group_arn.as_deref(),
                "autoScalingGroupProvider.autoScalingGroupArn",
            )?;
            CapacityProviderType::Ec2Autoscaling
        }
        (None, Some(_)) => CapacityProviderType::ManagedInstances,
        _ => {
            return Err(EcsError::invalid_parameter(
                "Exactly one of autoScalingGroupProvider or managedInstancesProvider must be specified.",
            )
            .into())
        }
    };
    let tag_list = req.tags.unwrap_or_default();
    ecs_tags::validate(&tag_list)?;
    if let Some(asg) =
        req.auto_scaling_group_provider.as_ref().and_then(|a| a.auto_scaling_group_arn.as_deref())
    {
        let taken = all_created(ctx).await?.into_iter().any(|p| {
            p.auto_scaling_group_provider.and_then(|a| a.auto_scaling_group_arn).as_deref()
                == Some(asg)
        });
        if taken {
            return Err(EcsError::client(
                "The specified Auto Scaling group ARN is already being used by another capacity \
                 provider. Specify a unique Auto Scaling group ARN and try again.",
            )
            .into());
        }
    }
    let managed = req.managed_instances_provider.map(|m| ManagedInstancesProvider {
        infrastructure_role_arn: m.infrastructure_role_arn,
        instance_launch_template: m.instance_launch_template,
        propagate_tags: m.propagate_tags,
        infrastructure_optimization: m.infrastructure_optimization,
        auto_repair_configuration: m.auto_repair_configuration,
    });
    let asg_provider = req.auto_scaling_group_provider.map(provider::created).transpose()?;
    let provider = CapacityProvider {
        capacity_provider_arn: Some(ctx.scope().capacity_provider_arn(&name)),
        name: Some(name.clone()),
        cluster: req.cluster,
        status: Some(CapacityProviderStatus::Active),
        auto_scaling_group_provider: asg_provider,
        managed_instances_provider: managed,
        r#type: Some(kind),
        ..CapacityProvider::default()
    };
    let exists_msg = format!("The specified capacity provider '{name}' already exists.");
    let created =
        docs::update::<CapacityProvider, _>(ctx.ops(), Kind::CapacityProvider, &name, move |cur| {
            match cur {
                Some(_) => Err(EcsError::client(exists_msg.clone())),
                None => Ok(Change::Put(provider.clone())),
            }
        })
        .await?
        .ok_or_else(|| EcsError::server("The capacity provider was not created."))?;
    let arn = created.capacity_provider_arn.clone().unwrap_or_default();
    if !tag_list.is_empty() {
        add_tags(ctx.ops(), &arn, tag_list).await?;
    }
    let tags = tags_of(ctx.ops(), &arn).await?;
    Ok(CreateCapacityProviderResponse {
        capacity_provider: Some(CapacityProvider { tags: Some(tags), ..created }),
    })
}

/// DescribeCapacityProviders: named ones (missing ones as failures), or all,
/// built-in first, paginated.
pub(crate) async fn describe_capacity_providers(
    ctx: &Ctx,
    req: DescribeCapacityProvidersRequest,
) -> Result<DescribedProviders, ApiError> {
    let with_tags = req.include.unwrap_or_default().contains(&CapacityProviderField::Tags);
    let (mut found, mut failures, mut next_token) = (Vec::new(), Vec::new(), None);
    match req.capacity_providers {
        Some(names) => {
            for n in names {
                match find(ctx, &n).await? {
                    Some(p) => found.push(p),
                    None => failures.push(Failure {
                        arn: Some(ctx.scope().capacity_provider_arn(short_name(&n))),
                        reason: Some("MISSING".to_owned()),
                        detail: None,
                    }),
                }
            }
        }
        None => {
            let limit = match req.max_results {
                None => 10,
                Some(n) if (1..=10).contains(&n) => n as usize,
                Some(_) => {
                    return Err(
                        EcsError::invalid_parameter("maxResults must be between 1 and 10.").into()
                    )
                }
            };
            // Built-in providers first, then created ones by name; the token
            // is the last name returned.
            let mut all: Vec<CapacityProvider> =
                BUILT_IN.iter().filter_map(|(n, _)| built_in(ctx, n)).collect();
            all.extend(all_created(ctx).await?);
            let start = match req.next_token.as_deref().map(pagination::decode).transpose()? {
                Some(after) => all
                    .iter()
                    .position(|p| p.name.as_deref() == Some(after.as_str()))
                    .map(|i| i + 1)
                    .ok_or_else(|| EcsError::invalid_parameter("Invalid nextToken."))?,
                None => 0,
            };
            let end = (start + limit).min(all.len());
            if end < all.len() {
                next_token = all[end - 1].name.as_deref().map(pagination::encode);
            }
            found.extend(all.drain(start..end));
        }
    }
    for p in &mut found {
        let arn = p.capacity_provider_arn.clone().unwrap_or_default();
        p.tags = Some(if with_tags { tags_of(ctx.ops(), &arn).await? } else { vec![] });
    }
    let scaling = docs::list_all::<Status>(ctx.ops(), Kind::CapacityScaling).await?;
    let capacity_providers = found
        .into_iter()
        .map(|provider| {
            let suffix = format!("/{}", provider.name.as_deref().unwrap_or_default());
            let managed = provider
                .auto_scaling_group_provider
                .as_ref()
                .is_some_and(wharf_model::ecs::capacity::provider::scaling_enabled);
            let wharf_managed_scaling = scaling
                .iter()
                .filter(|(key, _)| managed && key.ends_with(&suffix))
                .map(|(_, s)| s.clone())
                .collect();
            Described { provider, wharf_managed_scaling }
        })
        .collect();
    Ok(DescribedProviders { capacity_providers, failures, next_token })
}

/// A capacity provider as DescribeCapacityProviders answers it, with, for
/// a custom provider under managed scaling, what Wharf's scaling decided in
/// each cluster using it (`wharfManagedScaling`: the
/// `CapacityProviderReservation`, the hosts needed, present and desired, the
/// last hook run). ECS has no such member; SDKs ignore it.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Described {
    #[serde(flatten)]
    provider: CapacityProvider,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    wharf_managed_scaling: Vec<Status>,
}

/// DescribeCapacityProviders' answer, its providers with Wharf's scaling.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DescribedProviders {
    capacity_providers: Vec<Described>,
    failures: Vec<Failure>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

/// UpdateCapacityProvider: managed scaling, termination protection, draining.
pub(crate) async fn update_capacity_provider(
    ctx: &Ctx,
    req: UpdateCapacityProviderRequest,
) -> Result<UpdateCapacityProviderResponse, ApiError> {
    let name = required(req.name, "name")?;
    let name = short_name(&name).to_owned();
    if built_in(ctx, &name).is_some() {
        return Err(
            EcsError::client(format!("The capacity provider '{name}' cannot be updated.")).into()
        );
    }
    let asg = req.auto_scaling_group_provider;
    let missing = format!("The specified capacity provider '{name}' does not exist.");
    let updated =
        docs::update::<CapacityProvider, _>(ctx.ops(), Kind::CapacityProvider, &name, move |cur| {
            let mut p = cur.ok_or_else(|| {
                EcsError::new(EcsErrorKind::ResourceNotFoundException, missing.clone())
            })?;
            if let (Some(change), Some(current)) =
                (asg.clone(), p.auto_scaling_group_provider.take())
            {
                p.auto_scaling_group_provider = Some(provider::updated(current, change)?);
            }
            p.update_status = Some(CapacityProviderUpdateStatus::UpdateComplete);
            Ok(Change::Put(p))
        })
        .await?
        .ok_or_else(|| EcsError::server("The capacity provider was not updated."))?;
    let arn = updated.capacity_provider_arn.clone().unwrap_or_default();
    let tags = tags_of(ctx.ops(), &arn).await?;
    Ok(UpdateCapacityProviderResponse {
        capacity_provider: Some(CapacityProvider { tags: Some(tags), ..updated }),
    })
}

/// DeleteCapacityProvider: refused for the built-in providers; for one a
/// cluster still uses, the deletion fails (`updateStatus: DELETE_FAILED`).
pub(crate) async fn delete_capacity_provider(
    ctx: &Ctx,
    req: DeleteCapacityProviderRequest,
) -> Result<DeleteCapacityProviderResponse, ApiError> {
    let given = required(req.capacity_provider, "capacityProvider")?;
    let name = short_name(&given).to_owned();
    if built_in(ctx, &name).is_some() {
        return Err(EcsError::client(format!(
            "The specified capacity provider '{name}' is reserved and cannot be deleted."
        ))
        .into());
    }
    if let Some(cluster) = cluster_using(ctx, &name).await? {
        // ECS answers the call but fails the deletion, and says why.
        let reason = format!(
            "The capacity provider cannot be deleted because it is associated with cluster: \
             {cluster}. Remove the capacity provider from the cluster and try again."
        );
        let missing = format!("The specified capacity provider '{name}' does not exist.");
        let failed = docs::update::<CapacityProvider, _>(
            ctx.ops(),
            Kind::CapacityProvider,
            &name,
            move |cur| {
                let mut p = cur.ok_or_else(|| {
                    EcsError::new(EcsErrorKind::ResourceNotFoundException, missing.clone())
                })?;
                p.update_status = Some(CapacityProviderUpdateStatus::DeleteFailed);
                p.update_status_reason = Some(reason.clone());
                Ok(Change::Put(p))
            },
        )
        .await?;
        return Ok(DeleteCapacityProviderResponse { capacity_provider: failed });
    }
    let missing = format!("The specified capacity provider '{name}' does not exist.");
    let not_found = EcsError::new(EcsErrorKind::ResourceNotFoundException, missing);
    let current = docs::get::<CapacityProvider>(ctx.ops(), Kind::CapacityProvider, &name).await?;
    let Some(mut p) = current else {
        return Err(not_found.into());
    };
    let gone = not_found.clone();
    // A concurrent delete may win between the read and this write; the loser
    // then hears that the provider does not exist.
    ctx.store()
        .update(
            Kind::CapacityProvider,
            &ctx.region,
            &name,
            Box::new(move |cur| match cur {
                Some(_) => Ok(wharf_store::Write::Delete),
                None => Err(gone.clone()),
            }),
        )
        .await?;
    p.status = Some(CapacityProviderStatus::Inactive);
    p.update_status = Some(CapacityProviderUpdateStatus::DeleteInProgress);
    Ok(DeleteCapacityProviderResponse { capacity_provider: Some(p) })
}
