//! Parameter tags: AddTagsToResource, RemoveTagsFromResource,
//! ListTagsForResource (resource type `Parameter` only), and the tag rules
//! PutParameter shares. Tags live in the parameter's own document.

use wharf_model::ssm::shapes::{
    AddTagsToResourceRequest, AddTagsToResourceResult, ListTagsForResourceRequest,
    ListTagsForResourceResult, RemoveTagsFromResourceRequest, RemoveTagsFromResourceResult,
    ResourceTypeForTagging, Tag,
};
use wharf_model::ssm::{self as rules, ParameterRecord, SsmError, SsmErrorKind};
use wharf_store::Kind;

use super::parameters::{lookup, tags_of};
use crate::context::Ctx;
use crate::records::{self, Change};

fn too_many() -> SsmError {
    SsmError::new(
        SsmErrorKind::TooManyTagsError,
        "The Targets parameter includes too many tags. Remove one or more tags and try the \
         request again.",
    )
}

/// Checks tags as SSM does: at most 50, keys 1 to 128 characters and not
/// starting with `aws:`, values up to 256.
pub(crate) fn validate(tags: &[Tag]) -> Result<(), SsmError> {
    if tags.len() > rules::MAX_TAGS {
        return Err(too_many());
    }
    for t in tags {
        let key = t.key.as_deref().unwrap_or("");
        if key.is_empty() || key.chars().count() > 128 {
            return Err(SsmError::validation(
                "1 validation error detected: Value at 'tags.member.key' failed to satisfy \
                 constraint: Member must have length between 1 and 128",
            ));
        }
        if key.to_ascii_lowercase().starts_with("aws:") {
            return Err(SsmError::validation(
                "Tag keys can't start with the reserved prefix aws:.",
            ));
        }
        match t.value.as_deref() {
            None => return Err(SsmError::missing("tags.member.value")),
            Some(v) if v.chars().count() > 256 => {
                return Err(SsmError::validation(
                    "1 validation error detected: Value at 'tags.member.value' failed to \
                     satisfy constraint: Member must have length less than or equal to 256",
                ))
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// The store key of the parameter a tag request names, or SSM's error.
async fn target(
    ctx: &Ctx,
    resource_type: Option<ResourceTypeForTagging>,
    resource_id: Option<String>,
) -> Result<String, SsmError> {
    match resource_type {
        Some(ResourceTypeForTagging::Parameter) => {}
        Some(other) => {
            return Err(SsmError::new(
                SsmErrorKind::InvalidResourceType,
                format!(
                    "The resource type {other} is not valid. Wharf tags resource type Parameter."
                ),
            ))
        }
        None => return Err(SsmError::missing("resourceType")),
    }
    let id = resource_id.ok_or_else(|| SsmError::missing("resourceId"))?;
    let invalid = || {
        SsmError::new(
            SsmErrorKind::InvalidResourceId,
            "The resource ID is not valid. Verify the ID and try again.",
        )
    };
    let reference = rules::parse_ref(&id).map_err(|_| invalid())?;
    match lookup(ctx.store(), &ctx.region, &reference).await? {
        Some((key, _)) if reference.selector.is_none() => Ok(key),
        _ => Err(invalid()),
    }
}

/// Applies a change to a parameter's tags in one transaction.
async fn change_tags<F>(ctx: &Ctx, key: &str, change: F) -> Result<(), SsmError>
where
    F: Fn(&mut Vec<Tag>) -> Result<(), SsmError> + Send + 'static,
{
    records::update(ctx.store(), Kind::Parameter, &ctx.region, key, move |cur| {
        let cur: Option<ParameterRecord> = cur;
        let mut record = cur.ok_or_else(|| {
            SsmError::new(
                SsmErrorKind::InvalidResourceId,
                "The resource ID is not valid. Verify the ID and try again.",
            )
        })?;
        change(&mut record.tags)?;
        Ok((Change::Put(record), ()))
    })
    .await
}

/// AddTagsToResource: adds or overwrites tags by key.
pub(crate) async fn add_tags_to_resource(
    ctx: &Ctx,
    req: AddTagsToResourceRequest,
) -> Result<AddTagsToResourceResult, SsmError> {
    let new = req.tags.ok_or_else(|| SsmError::missing("tags"))?;
    validate(&new)?;
    let key = target(ctx, req.resource_type, req.resource_id).await?;
    change_tags(ctx, &key, move |tags| {
        let new = new.clone();
        for t in new {
            match tags.iter_mut().find(|x| x.key == t.key) {
                Some(x) => x.value = t.value,
                None => tags.push(t),
            }
        }
        if tags.len() > rules::MAX_TAGS {
            return Err(too_many());
        }
        tags.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(())
    })
    .await?;
    Ok(AddTagsToResourceResult {})
}

/// RemoveTagsFromResource.
pub(crate) async fn remove_tags_from_resource(
    ctx: &Ctx,
    req: RemoveTagsFromResourceRequest,
) -> Result<RemoveTagsFromResourceResult, SsmError> {
    let keys = req.tag_keys.ok_or_else(|| SsmError::missing("tagKeys"))?;
    let key = target(ctx, req.resource_type, req.resource_id).await?;
    change_tags(ctx, &key, move |tags| {
        tags.retain(|t| !t.key.as_ref().is_some_and(|k| keys.contains(k)));
        Ok(())
    })
    .await?;
    Ok(RemoveTagsFromResourceResult {})
}

/// ListTagsForResource.
pub(crate) async fn list_tags_for_resource(
    ctx: &Ctx,
    req: ListTagsForResourceRequest,
) -> Result<ListTagsForResourceResult, SsmError> {
    let key = target(ctx, req.resource_type, req.resource_id).await?;
    let record: Option<ParameterRecord> =
        records::get(ctx.store(), Kind::Parameter, &ctx.region, &key).await?;
    Ok(ListTagsForResourceResult {
        tag_list: Some(record.as_ref().map(tags_of).unwrap_or_default()),
    })
}
