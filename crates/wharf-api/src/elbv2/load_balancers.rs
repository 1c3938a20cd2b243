//! Load balancers: CreateLoadBalancer, DescribeLoadBalancers,
//! DeleteLoadBalancer, Modify/DescribeLoadBalancerAttributes.

use wharf_model::elbv2::arn::{ElbArnKind, ElbArns};
use wharf_model::elbv2::shapes::{
    AvailabilityZone, CreateLoadBalancerInput, CreateLoadBalancerOutput, DeleteLoadBalancerInput,
    DeleteLoadBalancerOutput, DescribeLoadBalancerAttributesInput,
    DescribeLoadBalancerAttributesOutput, DescribeLoadBalancersInput, DescribeLoadBalancersOutput,
    IpAddressType, LoadBalancer, LoadBalancerAttribute, LoadBalancerSchemeEnum, LoadBalancerState,
    LoadBalancerStateEnum, LoadBalancerTypeEnum, ModifyLoadBalancerAttributesInput,
    ModifyLoadBalancerAttributesOutput,
};
use wharf_model::elbv2::{
    self as elb, attributes, validate, ElbError, ElbErrorKind, LoadBalancerRecord,
};
use wharf_model::IsoTimestamp;
use wharf_ops::elb_state::{read, write};
use wharf_store::elb::ElbKind;

use super::{check_arn, new_id, page, required, resume};
use crate::context::Ctx;

/// The subnets (and their zones) a load balancer is placed in: those asked
/// for, each in the next zone of the region, or two stand-ins.
fn zones(region: &str, req: &CreateLoadBalancerInput) -> Result<Vec<AvailabilityZone>, ElbError> {
    let subnets: Vec<String> = match (&req.subnets, &req.subnet_mappings) {
        (Some(_), Some(_)) => {
            return Err(ElbError::validation(
                "You can specify subnets or subnet mappings, not both",
            ))
        }
        (Some(s), None) => s.clone(),
        (None, Some(m)) => m
            .iter()
            .map(|m| {
                m.subnet_id
                    .clone()
                    .ok_or_else(|| ElbError::missing("subnetMappings.member.subnetId"))
            })
            .collect::<Result<_, _>>()?,
        (None, None) => vec!["subnet-00000000000000001".into(), "subnet-00000000000000002".into()],
    };
    if subnets.len() < 2 {
        return Err(ElbError::validation(
            "At least two subnets in two different Availability Zones must be specified",
        ));
    }
    Ok(subnets
        .into_iter()
        .enumerate()
        .map(|(i, subnet)| AvailabilityZone {
            zone_name: Some(format!("{region}{}", (b'a' + (i % 26) as u8) as char)),
            subnet_id: Some(subnet),
            load_balancer_addresses: Some(vec![]),
            ..Default::default()
        })
        .collect())
}

/// CreateLoadBalancer: an Application Load Balancer, `provisioning` in the
/// answer (Wharf provisions at once: describes say `active`). The same name
/// with the same settings answers the existing one, as ELBv2 does.
pub(crate) async fn create_load_balancer(
    ctx: &Ctx,
    req: CreateLoadBalancerInput,
) -> Result<CreateLoadBalancerOutput, ElbError> {
    let name = required(req.name.clone(), "name")?;
    validate::name("Load balancer", &name)?;
    let kind = req.r#type.clone().unwrap_or(LoadBalancerTypeEnum::Application);
    if kind != LoadBalancerTypeEnum::Application {
        return Err(ElbError::validation(format!(
            "Wharf serves Application Load Balancers only: load balancer type '{kind}' is not \
             supported"
        )));
    }
    let scheme = req.scheme.clone().unwrap_or(LoadBalancerSchemeEnum::InternetFacing);
    if !scheme.is_known() {
        return Err(ElbError::new(
            ElbErrorKind::InvalidScheme,
            format!(
                "The scheme '{scheme}' is not valid; it must be 'internet-facing' or 'internal'"
            ),
        ));
    }
    let ip_type = req.ip_address_type.clone().unwrap_or(IpAddressType::Ipv4);
    if !ip_type.is_known() {
        return Err(ElbError::validation(format!(
            "1 validation error detected: Value '{ip_type}' at 'ipAddressType' failed to satisfy \
             constraint: Member must satisfy enum value set: [{}]",
            IpAddressType::VALUES.join(", ")
        )));
    }
    let tags = validate::tags(req.tags.as_deref().unwrap_or_default())?;
    let zones = zones(&ctx.region, &req)?;
    let id = new_id();
    let arn = ElbArns(ctx.scope()).load_balancer(&name, &id);
    let number = u64::from_str_radix(&id[..8], 16).unwrap_or(0) % 9_000_000_000 + 1_000_000_000;
    let internal = scheme == LoadBalancerSchemeEnum::Internal;
    let lb = LoadBalancer {
        load_balancer_arn: Some(arn.clone()),
        dns_name: Some(elb::dns_name(&name, number, &ctx.region, internal)),
        canonical_hosted_zone_id: Some(elb::canonical_hosted_zone_id(&ctx.region).to_owned()),
        created_time: Some(IsoTimestamp::from_millis(ctx.state.ops.clock.now_millis())),
        load_balancer_name: Some(name.clone()),
        scheme: Some(scheme.clone()),
        vpc_id: Some(elb::DEFAULT_VPC_ID.to_owned()),
        state: Some(LoadBalancerState { code: Some(LoadBalancerStateEnum::Active), reason: None }),
        r#type: Some(kind),
        availability_zones: Some(zones),
        security_groups: Some(
            req.security_groups
                .clone()
                .unwrap_or_else(|| vec![elb::DEFAULT_SECURITY_GROUP.to_owned()]),
        ),
        ip_address_type: Some(ip_type),
        ..Default::default()
    };
    let record = LoadBalancerRecord {
        load_balancer: lb,
        attributes: attributes::defaults(attributes::LOAD_BALANCER)
            .into_iter()
            .map(|(k, v)| LoadBalancerAttribute { key: Some(k), value: Some(v) })
            .collect(),
    };
    let (mut lb, created) = write(ctx.store(), &ctx.region, move |elb| {
        let record = record.clone();
        if let Some(existing) = elb.load_balancer_named(&name)? {
            let same = existing.load_balancer.scheme.as_ref() == Some(&scheme);
            if !same {
                return Err(ElbError::new(
                    ElbErrorKind::DuplicateLoadBalancerName,
                    format!("A load balancer with the same name '{name}' exists, but with different settings"),
                ));
            }
            return Ok((existing.load_balancer, false));
        }
        if elb.count(ElbKind::LoadBalancer, "")? >= elb::MAX_LOAD_BALANCERS {
            return Err(ElbError::new(
                ElbErrorKind::TooManyLoadBalancers,
                format!("The maximum number of load balancers ({}) has been reached", elb::MAX_LOAD_BALANCERS),
            ));
        }
        elb.put_load_balancer(&record)?;
        elb.put_tags(&arn, &tags)?;
        Ok((record.load_balancer, true))
    })
    .await?;
    if created {
        lb.state = Some(LoadBalancerState {
            code: Some(LoadBalancerStateEnum::Provisioning),
            reason: None,
        });
    }
    Ok(CreateLoadBalancerOutput { load_balancers: Some(vec![lb]) })
}

/// DescribeLoadBalancers: by ARNs, by names, or all in name order, paged.
pub(crate) async fn describe_load_balancers(
    ctx: &Ctx,
    req: DescribeLoadBalancersInput,
) -> Result<DescribeLoadBalancersOutput, ElbError> {
    let size = validate::page_size(req.page_size)?;
    let after = resume(req.marker.as_deref())?;
    let (arns, names) = (req.load_balancer_arns.unwrap_or_default(), req.names.unwrap_or_default());
    if !arns.is_empty() && !names.is_empty() {
        return Err(ElbError::validation(
            "Load balancer names and load balancer ARNs cannot be specified at the same time",
        ));
    }
    for a in &arns {
        check_arn(ElbArnKind::LoadBalancer, a)?;
    }
    let (lbs, next) = read(ctx.store(), &ctx.region, move |elb| {
        if !arns.is_empty() {
            let mut out = Vec::with_capacity(arns.len());
            for a in &arns {
                out.push(
                    elb.load_balancer(a)?
                        .ok_or_else(ElbError::load_balancer_not_found)?
                        .load_balancer,
                );
            }
            return Ok((out, None));
        }
        if !names.is_empty() {
            let mut out = Vec::with_capacity(names.len());
            let mut missing = Vec::new();
            for n in &names {
                match elb.load_balancer_named(n)? {
                    Some(r) => out.push(r.load_balancer),
                    None => missing.push(n.as_str()),
                }
            }
            if !missing.is_empty() {
                return Err(ElbError::new(
                    ElbErrorKind::LoadBalancerNotFound,
                    format!("Load balancers '[{}]' not found", missing.join(", ")),
                ));
            }
            return Ok((out, None));
        }
        let rows = elb.load_balancers(after.as_deref(), size + 1)?;
        let (records, next) = page(rows, size);
        Ok((records.into_iter().map(|r| r.load_balancer).collect(), next))
    })
    .await?;
    Ok(DescribeLoadBalancersOutput { load_balancers: Some(lbs), next_marker: next })
}

/// DeleteLoadBalancer: with its listeners and their rules; a load balancer
/// that does not exist is already deleted; deletion protection refuses.
pub(crate) async fn delete_load_balancer(
    ctx: &Ctx,
    req: DeleteLoadBalancerInput,
) -> Result<DeleteLoadBalancerOutput, ElbError> {
    let arn = required(req.load_balancer_arn, "loadBalancerArn")?;
    check_arn(ElbArnKind::LoadBalancer, &arn)?;
    write(ctx.store(), &ctx.region, move |elb| {
        let Some(record) = elb.load_balancer(&arn)? else { return Ok(()) };
        let protected = record
            .attributes
            .iter()
            .any(|a| a.key.as_deref() == Some(attributes::DELETION_PROTECTION) && a.value.as_deref() == Some("true"));
        if protected {
            return Err(ElbError::new(
                ElbErrorKind::OperationNotPermitted,
                format!("Load balancer '{arn}' cannot be deleted because deletion protection is enabled"),
            ));
        }
        for l in elb.listeners(&arn)? {
            let l_arn = l.listener.listener_arn.unwrap_or_default();
            for r in elb.rules(&l_arn)? {
                elb.delete(r.rule_arn.as_deref().unwrap_or_default())?;
            }
            elb.delete(&l_arn)?;
        }
        elb.delete(&arn)
    })
    .await?;
    Ok(DeleteLoadBalancerOutput {})
}

/// ModifyLoadBalancerAttributes: all the changes or none; answers every
/// attribute.
pub(crate) async fn modify_load_balancer_attributes(
    ctx: &Ctx,
    req: ModifyLoadBalancerAttributesInput,
) -> Result<ModifyLoadBalancerAttributesOutput, ElbError> {
    let arn = required(req.load_balancer_arn, "loadBalancerArn")?;
    check_arn(ElbArnKind::LoadBalancer, &arn)?;
    let changes = required(req.attributes, "attributes")?;
    let attrs = write(ctx.store(), &ctx.region, move |elb| {
        let mut record = elb.load_balancer(&arn)?.ok_or_else(ElbError::load_balancer_not_found)?;
        attributes::modify_load_balancer(&mut record.attributes, &changes)?;
        elb.put_load_balancer(&record)?;
        Ok(record.attributes)
    })
    .await?;
    Ok(ModifyLoadBalancerAttributesOutput { attributes: Some(attrs) })
}

/// DescribeLoadBalancerAttributes.
pub(crate) async fn describe_load_balancer_attributes(
    ctx: &Ctx,
    req: DescribeLoadBalancerAttributesInput,
) -> Result<DescribeLoadBalancerAttributesOutput, ElbError> {
    let arn = required(req.load_balancer_arn, "loadBalancerArn")?;
    check_arn(ElbArnKind::LoadBalancer, &arn)?;
    let attrs = read(ctx.store(), &ctx.region, move |elb| {
        Ok(elb.load_balancer(&arn)?.ok_or_else(ElbError::load_balancer_not_found)?.attributes)
    })
    .await?;
    Ok(DescribeLoadBalancerAttributesOutput { attributes: Some(attrs) })
}
