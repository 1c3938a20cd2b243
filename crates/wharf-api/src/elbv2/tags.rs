//! Tags: AddTags, RemoveTags, DescribeTags, on load balancers, target
//! groups, listeners and rules (kept in the store's tag table by ARN).

use wharf_model::elbv2::arn::{ElbArn, ElbArnKind};
use wharf_model::elbv2::shapes::{
    AddTagsInput, AddTagsOutput, DescribeTagsInput, DescribeTagsOutput, RemoveTagsInput,
    RemoveTagsOutput, Tag, TagDescription,
};
use wharf_model::elbv2::{validate, ElbError, ElbErrorKind, MAX_TAGS};
use wharf_ops::elb_state::{read, write, Elb};
use wharf_store::elb::ElbView;

use super::required;
use crate::context::Ctx;

/// The most resources one tag call names.
const MAX_RESOURCES: usize = 20;

fn resources(arns: Option<Vec<String>>) -> Result<Vec<(String, ElbArnKind)>, ElbError> {
    let arns = required(arns, "resourceArns")?;
    if arns.is_empty() || arns.len() > MAX_RESOURCES {
        return Err(ElbError::validation(format!(
            "Between 1 and {MAX_RESOURCES} resource ARNs must be specified"
        )));
    }
    arns.into_iter()
        .map(|a| match ElbArn::parse(&a) {
            Some(p) => Ok((a.clone(), p.kind)),
            None => Err(ElbError::validation(format!("'{a}' is not a valid resource ARN"))),
        })
        .collect()
}

/// Checks that a tagged resource exists; its kind's NotFound if not.
fn exists<S: ElbView + ?Sized>(
    elb: &Elb<'_, S>,
    arn: &str,
    kind: ElbArnKind,
) -> Result<(), ElbError> {
    let found = match kind {
        ElbArnKind::LoadBalancer => elb.load_balancer(arn)?.is_some(),
        ElbArnKind::TargetGroup => elb.target_group(arn)?.is_some(),
        ElbArnKind::Listener => elb.listener(arn)?.is_some(),
        ElbArnKind::Rule => elb.rule(arn)?.is_some(),
    };
    if found {
        return Ok(());
    }
    Err(match kind {
        ElbArnKind::LoadBalancer => ElbError::load_balancer_not_found(),
        ElbArnKind::TargetGroup => ElbError::target_group_not_found(),
        ElbArnKind::Listener => ElbError::listener_not_found(),
        ElbArnKind::Rule => ElbError::rule_not_found(),
    })
}

/// AddTags: to every named resource, or to none.
pub(crate) async fn add_tags(ctx: &Ctx, req: AddTagsInput) -> Result<AddTagsOutput, ElbError> {
    let arns = resources(req.resource_arns)?;
    let tags = validate::tags(&required(req.tags, "tags")?)?;
    if tags.is_empty() {
        return Err(ElbError::missing("tags"));
    }
    write(ctx.store(), &ctx.region, move |elb| {
        for (arn, kind) in &arns {
            exists(elb, arn, *kind)?;
            let mut keys: Vec<String> = elb.tags(arn)?.into_iter().map(|(k, _)| k).collect();
            keys.extend(tags.iter().map(|(k, _)| k.clone()));
            keys.sort();
            keys.dedup();
            if keys.len() > MAX_TAGS {
                return Err(ElbError::new(
                    ElbErrorKind::TooManyTags,
                    format!("The resource '{arn}' would have more than {MAX_TAGS} tags"),
                ));
            }
            elb.put_tags(arn, &tags)?;
        }
        Ok(())
    })
    .await?;
    Ok(AddTagsOutput {})
}

/// RemoveTags: by key, from every named resource.
pub(crate) async fn remove_tags(
    ctx: &Ctx,
    req: RemoveTagsInput,
) -> Result<RemoveTagsOutput, ElbError> {
    let arns = resources(req.resource_arns)?;
    let keys = required(req.tag_keys, "tagKeys")?;
    write(ctx.store(), &ctx.region, move |elb| {
        for (arn, kind) in &arns {
            exists(elb, arn, *kind)?;
            elb.delete_tags(arn, &keys)?;
        }
        Ok(())
    })
    .await?;
    Ok(RemoveTagsOutput {})
}

/// DescribeTags: each named resource's tags.
pub(crate) async fn describe_tags(
    ctx: &Ctx,
    req: DescribeTagsInput,
) -> Result<DescribeTagsOutput, ElbError> {
    let arns = resources(req.resource_arns)?;
    let out = read(ctx.store(), &ctx.region, move |elb| {
        let mut out = Vec::with_capacity(arns.len());
        for (arn, kind) in arns {
            exists(elb, &arn, kind)?;
            let tags = elb
                .tags(&arn)?
                .into_iter()
                .map(|(k, v)| Tag { key: Some(k), value: Some(v) })
                .collect();
            out.push(TagDescription { resource_arn: Some(arn), tags: Some(tags) });
        }
        Ok(out)
    })
    .await?;
    Ok(DescribeTagsOutput { tag_descriptions: Some(out) })
}
