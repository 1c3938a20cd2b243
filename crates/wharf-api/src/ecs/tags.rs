//! Tags: TagResource, UntagResource, ListTagsForResource, and the tag rules
//! every resource's create call shares.

use wharf_model::arn;
use wharf_model::ecs::shapes::{
    Cluster, ListTagsForResourceRequest, ListTagsForResourceResponse, Tag, TagResourceRequest,
    TagResourceResponse, UntagResourceRequest, UntagResourceResponse,
};
use wharf_model::EcsError;
use wharf_store::Kind;

use super::docs::{self, required};
use crate::context::Ctx;
use crate::protocol::ApiError;

/// The most tags a resource may carry.
pub(crate) const MAX_TAGS: usize = 50;

/// Checks tags as ECS does: at most 50, keys 1 to 128 characters, values up to
/// 256, and the `aws:` prefix reserved.
pub(crate) fn validate(tags: &[Tag]) -> Result<(), EcsError> {
    if tags.len() > MAX_TAGS {
        return Err(EcsError::invalid_parameter(format!(
            "The list of tags cannot contain more than {MAX_TAGS} tags."
        )));
    }
    for t in tags {
        let key = t.key.as_deref().unwrap_or("");
        if key.is_empty() || key.chars().count() > 128 {
            return Err(EcsError::invalid_parameter(
                "Tag keys must be between 1 and 128 characters in length.",
            ));
        }
        if t.value.as_deref().unwrap_or("").chars().count() > 256 {
            return Err(EcsError::invalid_parameter(
                "Tag values must be between 0 and 256 characters in length.",
            ));
        }
        if key.to_ascii_lowercase().starts_with("aws:") {
            return Err(EcsError::invalid_parameter(
                "Tag keys cannot start with the reserved prefix 'aws:'.",
            ));
        }
    }
    Ok(())
}

/// Tags as the store keeps them: (key, value) pairs.
pub(crate) fn pairs(tags: Vec<Tag>) -> Vec<(String, String)> {
    tags.into_iter().map(|t| (t.key.unwrap_or_default(), t.value.unwrap_or_default())).collect()
}

/// The tags of a resource by ARN, as wire shapes.
pub(crate) async fn of(ctx: &Ctx, arn: &str) -> Result<Vec<Tag>, ApiError> {
    let tags = ctx.store().tags(&ctx.region, arn).await?;
    Ok(tags.into_iter().map(|(k, v)| Tag { key: Some(k), value: Some(v) }).collect())
}

/// Adds tags to a resource (already validated).
pub(crate) async fn add(ctx: &Ctx, arn: &str, tags: Vec<Tag>) -> Result<(), ApiError> {
    Ok(ctx.store().tag(&ctx.region, arn, pairs(tags), MAX_TAGS).await?)
}

/// Checks that a taggable resource exists, with the error ECS gives for it.
async fn check_exists(ctx: &Ctx, resource_arn: &str) -> Result<(), ApiError> {
    let invalid = || EcsError::invalid_parameter("The specified resourceArn is not valid.");
    let parsed = arn::parse(resource_arn).ok_or_else(invalid)?;
    if parsed.region != ctx.region || parsed.account != &*ctx.state.account_id {
        return Err(EcsError::invalid_parameter(
            "The specified resourceArn does not belong to this region and account.",
        )
        .into());
    }
    let missing = match parsed.kind {
        "cluster" => match docs::get::<Cluster>(ctx, Kind::Cluster, parsed.rest).await? {
            Some(c) if c.status.as_deref() == Some("ACTIVE") => None,
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
    validate(&tags)?;
    check_exists(ctx, &arn).await?;
    add(ctx, &arn, tags).await?;
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
    Ok(ListTagsForResourceResponse { tags: Some(of(ctx, &arn).await?) })
}
