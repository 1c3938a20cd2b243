//! Tags: TagResource, UntagResource, ListTagsForResource, and the tag rules
//! every resource's create call shares.

use wharf_model::arn;
use wharf_model::ecs::shapes::{
    Cluster, ListTagsForResourceRequest, ListTagsForResourceResponse, TagResourceRequest,
    TagResourceResponse, UntagResourceRequest, UntagResourceResponse,
};
use wharf_model::ecs::status::ClusterStatus;
use wharf_model::ecs::tags as ecs_tags;
use wharf_model::EcsError;
use wharf_ops::docs;
use wharf_ops::lookup::{add_tags, tags_of};
use wharf_store::Kind;

use super::input::required;
use crate::context::Ctx;
use crate::protocol::ApiError;

/// Checks that a taggable resource exists, with the error ECS gives for it.
async fn check_exists(ctx: &Ctx, resource_arn: &str) -> Result<(), ApiError> {
    let invalid = || EcsError::invalid_parameter("The specified resourceArn is not valid.");
    let parsed = arn::parse(resource_arn).ok_or_else(invalid)?;
    if parsed.region != ctx.region || parsed.account != &*ctx.state.ops.account_id {
        return Err(EcsError::invalid_parameter(
            "The specified resourceArn does not belong to this region and account.",
        )
        .into());
    }
    // The short ARN format (`service/name`, `task/id`, without the cluster)
    // names no cluster: ECS tags only through the long one.
    if matches!(parsed.kind, "service" | "task" | "container-instance")
        && !parsed.rest.contains('/')
    {
        return Err(EcsError::invalid_parameter(
            "Long arn format must be used for tagging operations",
        )
        .into());
    }
    let missing = match parsed.kind {
        "cluster" => match docs::get::<Cluster>(ctx.ops(), Kind::Cluster, parsed.rest).await? {
            Some(c) if c.status == Some(ClusterStatus::Active) => None,
            Some(_) => Some(EcsError::invalid_parameter(
                "The specified cluster is inactive. Specify an active cluster and try again.",
            )),
            None => Some(EcsError::cluster_not_found()),
        },
        "task-definition" => match arn::task_definition_ref(resource_arn) {
            Some(arn::TaskDefinitionRef::Revision(family, rev)) => {
                let rev = i32::try_from(rev).map_err(|_| invalid())?;
                let found = ctx.store().get_task_definition(&ctx.region, family, Some(rev)).await?;
                found.is_none().then(|| EcsError::client("Unable to describe task definition."))
            }
            _ => return Err(invalid().into()),
        },
        "capacity-provider" => {
            super::capacity_provider::find(ctx, parsed.rest).await?.is_none().then(|| {
                EcsError::invalid_parameter("The specified capacity provider does not exist.")
            })
        }
        "service" | "task-set" => {
            super::service::check_taggable(ctx, parsed.kind, parsed.rest).await?;
            None
        }
        _ => return Err(invalid().into()),
    };
    match missing {
        None => Ok(()),
        Some(e) => Err(e.into()),
    }
}

/// TagResource.
pub(crate) async fn tag_resource(
    ctx: &Ctx,
    req: TagResourceRequest,
) -> Result<TagResourceResponse, ApiError> {
    let arn = required(req.resource_arn, "resourceArn")?;
    let tags = required(req.tags, "tags")?;
    ecs_tags::validate(&tags)?;
    check_exists(ctx, &arn).await?;
    add_tags(ctx.ops(), &arn, tags).await?;
    Ok(TagResourceResponse {})
}

/// UntagResource.
pub(crate) async fn untag_resource(
    ctx: &Ctx,
    req: UntagResourceRequest,
) -> Result<UntagResourceResponse, ApiError> {
    let arn = required(req.resource_arn, "resourceArn")?;
    let keys = required(req.tag_keys, "tagKeys")?;
    check_exists(ctx, &arn).await?;
    ctx.store().untag(&ctx.region, &arn, keys).await?;
    Ok(UntagResourceResponse {})
}

/// ListTagsForResource.
pub(crate) async fn list_tags_for_resource(
    ctx: &Ctx,
    req: ListTagsForResourceRequest,
) -> Result<ListTagsForResourceResponse, ApiError> {
    let arn = required(req.resource_arn, "resourceArn")?;
    check_exists(ctx, &arn).await?;
    Ok(ListTagsForResourceResponse { tags: Some(tags_of(ctx.ops(), &arn).await?) })
}
