//! Log group tags: TagResource, UntagResource, ListTagsForResource (by ARN)
//! and the older TagLogGroup, UntagLogGroup, ListTagsLogGroup (by name).

use std::collections::BTreeMap;

use wharf_model::logs::shapes::{
    ListTagsForResourceRequest, ListTagsForResourceResponse, ListTagsLogGroupRequest,
    ListTagsLogGroupResponse, TagLogGroupRequest, TagResourceRequest, UntagLogGroupRequest,
    UntagResourceRequest,
};
use wharf_model::logs::{self as rules, limits, LogsError, LogsErrorKind};

use super::{group_name, Empty};
use crate::context::Ctx;

/// Checks tags as CloudWatch does: at most 50, keys 1 to 128 characters,
/// values up to 256.
pub(crate) fn validate(tags: &BTreeMap<String, String>) -> Result<(), LogsError> {
    if tags.len() > limits::MAX_TAGS {
        return Err(LogsError::new(
            LogsErrorKind::TooManyTagsException,
            format!("A resource can have no more than {} tags.", limits::MAX_TAGS),
        ));
    }
    for (k, v) in tags {
        if k.is_empty() || k.chars().count() > 128 {
            return Err(LogsError::constraint(
                "tags",
                k,
                "Map keys must satisfy constraint: [Member must have length between 1 and 128]",
            ));
        }
        if v.chars().count() > 256 {
            return Err(LogsError::constraint(
                "tags",
                v,
                "Map value must satisfy constraint: [Member must have length less than or equal \
                 to 256]",
            ));
        }
    }
    Ok(())
}

/// The group a `resourceArn` names (`arn:aws:logs:<region>:<account>:log-group:<name>`).
fn group_of_arn(ctx: &Ctx, arn: Option<String>) -> Result<String, LogsError> {
    let arn = arn.ok_or_else(|| LogsError::missing("resourceArn"))?;
    let bad = || LogsError::invalid(format!("Invalid ARN: {arn}"));
    if !arn.starts_with("arn:") {
        return Err(bad());
    }
    let (region, name) = rules::parse_group_identifier(&arn).ok_or_else(bad)?;
    if rules::validate_group_name("resourceArn", name).is_err() {
        return Err(bad());
    }
    if region != Some(ctx.region.as_str())
        || arn.split(':').nth(4) != Some(&*ctx.state.ops.account_id)
    {
        return Err(LogsError::group_not_found());
    }
    Ok(name.to_owned())
}

async fn tag(
    ctx: &Ctx,
    group: &str,
    tags: Option<BTreeMap<String, String>>,
) -> Result<Empty, LogsError> {
    let tags = tags.ok_or_else(|| LogsError::missing("tags"))?;
    validate(&tags)?;
    ctx.state.logs.tag_group(&ctx.region, group, tags, limits::MAX_TAGS).await?;
    Ok(Empty {})
}

async fn untag(
    ctx: &Ctx,
    group: &str,
    keys: Option<Vec<String>>,
    member: &str,
) -> Result<Empty, LogsError> {
    let keys = keys.ok_or_else(|| LogsError::missing(member))?;
    ctx.state.logs.untag_group(&ctx.region, group, keys).await?;
    Ok(Empty {})
}

fn tags_of(ctx: &Ctx, group: &str) -> Result<BTreeMap<String, String>, LogsError> {
    let record =
        ctx.state.logs.group(&ctx.region, group)?.ok_or_else(LogsError::group_not_found)?;
    Ok(record.tags)
}

/// TagResource.
pub(crate) async fn tag_resource(ctx: &Ctx, req: TagResourceRequest) -> Result<Empty, LogsError> {
    let group = group_of_arn(ctx, req.resource_arn)?;
    tag(ctx, &group, req.tags).await
}

/// UntagResource.
pub(crate) async fn untag_resource(
    ctx: &Ctx,
    req: UntagResourceRequest,
) -> Result<Empty, LogsError> {
    let group = group_of_arn(ctx, req.resource_arn)?;
    untag(ctx, &group, req.tag_keys, "tagKeys").await
}

/// ListTagsForResource.
pub(crate) async fn list_tags_for_resource(
    ctx: &Ctx,
    req: ListTagsForResourceRequest,
) -> Result<ListTagsForResourceResponse, LogsError> {
    let group = group_of_arn(ctx, req.resource_arn)?;
    Ok(ListTagsForResourceResponse { tags: Some(tags_of(ctx, &group)?) })
}

/// TagLogGroup (deprecated by CloudWatch for TagResource, still served).
pub(crate) async fn tag_log_group(ctx: &Ctx, req: TagLogGroupRequest) -> Result<Empty, LogsError> {
    let group = group_name(req.log_group_name)?;
    tag(ctx, &group, req.tags).await
}

/// UntagLogGroup.
pub(crate) async fn untag_log_group(
    ctx: &Ctx,
    req: UntagLogGroupRequest,
) -> Result<Empty, LogsError> {
    let group = group_name(req.log_group_name)?;
    untag(ctx, &group, req.tags, "tags").await
}

/// ListTagsLogGroup.
pub(crate) async fn list_tags_log_group(
    ctx: &Ctx,
    req: ListTagsLogGroupRequest,
) -> Result<ListTagsLogGroupResponse, LogsError> {
    let group = group_name(req.log_group_name)?;
    Ok(ListTagsLogGroupResponse { tags: Some(tags_of(ctx, &group)?) })
}
