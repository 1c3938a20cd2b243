//! Target groups: CreateTargetGroup, DescribeTargetGroups, ModifyTargetGroup,
//! Modify/DescribeTargetGroupAttributes, DeleteTargetGroup.

use wharf_model::elbv2::arn::{ElbArnKind, ElbArns};
use wharf_model::elbv2::shapes::{
    CreateTargetGroupInput, CreateTargetGroupOutput, DeleteTargetGroupInput,
    DeleteTargetGroupOutput, DescribeTargetGroupAttributesInput,
    DescribeTargetGroupAttributesOutput, DescribeTargetGroupsInput, DescribeTargetGroupsOutput,
    ModifyTargetGroupAttributesInput, ModifyTargetGroupAttributesOutput, ModifyTargetGroupInput,
    ModifyTargetGroupOutput, TargetGroup, TargetGroupAttribute,
};
use wharf_model::elbv2::{
    self as elb, attributes, validate, ElbError, ElbErrorKind, TargetGroupRecord,
};
use wharf_ops::elb_state::{read, write};
use wharf_store::elb::ElbKind;

use super::{check_arn, new_id, page, required, resume, with_load_balancers};
use crate::context::Ctx;

/// CreateTargetGroup: an `instance` or `ip` group with ELBv2's defaults. The
/// same name with the same settings answers the existing group.
pub(crate) async fn create_target_group(
    ctx: &Ctx,
    req: CreateTargetGroupInput,
) -> Result<CreateTargetGroupOutput, ElbError> {
    let name = required(req.name, "name")?;
    validate::name("Target group", &name)?;
    let tags = validate::tags(req.tags.as_deref().unwrap_or_default())?;
    let mut tg = validate::new_target_group(TargetGroup {
        protocol: req.protocol,
        protocol_version: req.protocol_version,
        port: req.port,
        vpc_id: req.vpc_id,
        health_check_protocol: req.health_check_protocol,
        health_check_port: req.health_check_port,
        health_check_enabled: req.health_check_enabled,
        health_check_path: req.health_check_path,
        health_check_interval_seconds: req.health_check_interval_seconds,
        health_check_timeout_seconds: req.health_check_timeout_seconds,
        healthy_threshold_count: req.healthy_threshold_count,
        unhealthy_threshold_count: req.unhealthy_threshold_count,
        matcher: req.matcher,
        target_type: req.target_type,
        ip_address_type: req.ip_address_type,
        ..Default::default()
    })?;
    let arn = ElbArns(ctx.scope()).target_group(&name, &new_id());
    tg.target_group_arn = Some(arn.clone());
    tg.target_group_name = Some(name.clone());
    let record = TargetGroupRecord {
        target_group: tg,
        attributes: attributes::defaults(attributes::TARGET_GROUP)
            .into_iter()
            .map(|(k, v)| TargetGroupAttribute { key: Some(k), value: Some(v) })
            .collect(),
    };
    let tg = write(ctx.store(), &ctx.region, move |elb| {
        let record = record.clone();
        if let Some(existing) = elb.target_group_named(&name)? {
            let (a, b) = (&existing.target_group, &record.target_group);
            let same = a.protocol == b.protocol
                && a.port == b.port
                && a.vpc_id == b.vpc_id
                && a.target_type == b.target_type;
            if !same {
                return Err(ElbError::new(
                    ElbErrorKind::DuplicateTargetGroupName,
                    format!("A target group with the same name '{name}' exists, but with different settings"),
                ));
            }
            return with_load_balancers(elb, existing);
        }
        if elb.count(ElbKind::TargetGroup, "")? >= elb::MAX_TARGET_GROUPS {
            return Err(ElbError::new(
                ElbErrorKind::TooManyTargetGroups,
                format!("The maximum number of target groups ({}) has been reached", elb::MAX_TARGET_GROUPS),
            ));
        }
        elb.put_target_group(&record)?;
        elb.put_tags(&arn, &tags)?;
        with_load_balancers(elb, record)
    })
    .await?;
    Ok(CreateTargetGroupOutput { target_groups: Some(vec![tg]) })
}

/// DescribeTargetGroups: by load balancer, by ARNs, by names, or all in
/// name order, paged.
pub(crate) async fn describe_target_groups(
    ctx: &Ctx,
    req: DescribeTargetGroupsInput,
) -> Result<DescribeTargetGroupsOutput, ElbError> {
    let size = validate::page_size(req.page_size)?;
    let after = resume(req.marker.as_deref())?;
    let (arns, names) = (req.target_group_arns.unwrap_or_default(), req.names.unwrap_or_default());
    let lb = req.load_balancer_arn;
    let given = [!arns.is_empty(), !names.is_empty(), lb.is_some()].iter().filter(|g| **g).count();
    if given > 1 {
        return Err(ElbError::validation(
            "Target group names, target group ARNs, and a load balancer ARN cannot be specified at \
             the same time",
        ));
    }
    for a in &arns {
        check_arn(ElbArnKind::TargetGroup, a)?;
    }
    if let Some(lb) = &lb {
        check_arn(ElbArnKind::LoadBalancer, lb)?;
    }
    let (tgs, next) = read(ctx.store(), &ctx.region, move |elb| {
        let mut out = Vec::new();
        if let Some(lb) = lb {
            elb.load_balancer(&lb)?.ok_or_else(ElbError::load_balancer_not_found)?;
            let mut tgs: Vec<String> =
                elb.uses_in(&lb)?.into_iter().map(|u| u.target_group_arn).collect();
            tgs.dedup();
            for a in tgs {
                if let Some(r) = elb.target_group(&a)? {
                    out.push(with_load_balancers(elb, r)?);
                }
            }
            return Ok((out, None));
        }
        if !arns.is_empty() {
            for a in &arns {
                let r = elb.target_group(a)?.ok_or_else(ElbError::target_group_not_found)?;
                out.push(with_load_balancers(elb, r)?);
            }
            return Ok((out, None));
        }
        if !names.is_empty() {
            for n in &names {
                let r = elb.target_group_named(n)?.ok_or_else(|| {
                    ElbError::new(
                        ElbErrorKind::TargetGroupNotFound,
                        format!("Target groups '[{n}]' not found"),
                    )
                })?;
                out.push(with_load_balancers(elb, r)?);
            }
            return Ok((out, None));
        }
        let rows = elb.target_groups(after.as_deref(), size + 1)?;
        let (records, next) = page(rows, size);
        for r in records {
            out.push(with_load_balancers(elb, r)?);
        }
        Ok((out, next))
    })
    .await?;
    Ok(DescribeTargetGroupsOutput { target_groups: Some(tgs), next_marker: next })
}

/// ModifyTargetGroup: health check settings; checked as a whole after the
/// change.
pub(crate) async fn modify_target_group(
    ctx: &Ctx,
    req: ModifyTargetGroupInput,
) -> Result<ModifyTargetGroupOutput, ElbError> {
    let arn = required(req.target_group_arn.clone(), "targetGroupArn")?;
    check_arn(ElbArnKind::TargetGroup, &arn)?;
    let tg = write(ctx.store(), &ctx.region, move |elb| {
        let req = req.clone();
        let mut record = elb.target_group(&arn)?.ok_or_else(ElbError::target_group_not_found)?;
        let tg = &mut record.target_group;
        macro_rules! set {
            ($($field:ident),*) => { $(if let Some(v) = req.$field { tg.$field = Some(v); })* };
        }
        set!(
            health_check_protocol,
            health_check_port,
            health_check_path,
            health_check_enabled,
            health_check_interval_seconds,
            health_check_timeout_seconds,
            healthy_threshold_count,
            unhealthy_threshold_count,
            matcher
        );
        validate::health_check(tg)?;
        elb.put_target_group(&record)?;
        with_load_balancers(elb, record)
    })
    .await?;
    Ok(ModifyTargetGroupOutput { target_groups: Some(vec![tg]) })
}

/// ModifyTargetGroupAttributes: all the changes or none; answers every
/// attribute.
pub(crate) async fn modify_target_group_attributes(
    ctx: &Ctx,
    req: ModifyTargetGroupAttributesInput,
) -> Result<ModifyTargetGroupAttributesOutput, ElbError> {
    let arn = required(req.target_group_arn, "targetGroupArn")?;
    check_arn(ElbArnKind::TargetGroup, &arn)?;
    let changes = required(req.attributes, "attributes")?;
    let attrs = write(ctx.store(), &ctx.region, move |elb| {
        let mut record = elb.target_group(&arn)?.ok_or_else(ElbError::target_group_not_found)?;
        attributes::modify_target_group(&mut record.attributes, &changes)?;
        elb.put_target_group(&record)?;
        Ok(record.attributes)
    })
    .await?;
    Ok(ModifyTargetGroupAttributesOutput { attributes: Some(attrs) })
}

/// DescribeTargetGroupAttributes.
pub(crate) async fn describe_target_group_attributes(
    ctx: &Ctx,
    req: DescribeTargetGroupAttributesInput,
) -> Result<DescribeTargetGroupAttributesOutput, ElbError> {
    let arn = required(req.target_group_arn, "targetGroupArn")?;
    check_arn(ElbArnKind::TargetGroup, &arn)?;
    let attrs = read(ctx.store(), &ctx.region, move |elb| {
        Ok(elb.target_group(&arn)?.ok_or_else(ElbError::target_group_not_found)?.attributes)
    })
    .await?;
    Ok(DescribeTargetGroupAttributesOutput { attributes: Some(attrs) })
}

/// DeleteTargetGroup: refused while a listener or rule forwards to it; a
/// group that does not exist is already deleted. Its targets and tags go
/// with it.
pub(crate) async fn delete_target_group(
    ctx: &Ctx,
    req: DeleteTargetGroupInput,
) -> Result<DeleteTargetGroupOutput, ElbError> {
    let arn = required(req.target_group_arn, "targetGroupArn")?;
    check_arn(ElbArnKind::TargetGroup, &arn)?;
    write(ctx.store(), &ctx.region, move |elb| {
        if elb.target_group(&arn)?.is_none() {
            return Ok(());
        }
        if !elb.uses_of(&arn)?.is_empty() {
            return Err(ElbError::new(
                ElbErrorKind::ResourceInUse,
                format!("Target group '{arn}' is currently in use by a listener or a rule"),
            ));
        }
        elb.delete(&arn)
    })
    .await?;
    Ok(DeleteTargetGroupOutput {})
}
