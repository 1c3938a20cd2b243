//! Listeners: CreateListener, DescribeListeners, ModifyListener,
//! DeleteListener. A listener's `DefaultActions` are its default rule.

use wharf_model::elbv2::arn::{self, ElbArnKind};
use wharf_model::elbv2::shapes::{
    CreateListenerInput, CreateListenerOutput, DeleteListenerInput, DeleteListenerOutput,
    DescribeListenersInput, DescribeListenersOutput, Listener, ModifyListenerInput,
    ModifyListenerOutput, ProtocolEnum,
};
use wharf_model::elbv2::{self as elb, rules, validate, ElbError, ElbErrorKind, ListenerRecord};
use wharf_ops::elb_state::{read, write};
use wharf_store::elb::ElbKind;

use super::{check_arn, check_forwards, new_id, page, required, resume};
use crate::context::Ctx;

/// The TLS policy an HTTPS listener gets when the request names none.
const DEFAULT_SSL_POLICY: &str = "ELBSecurityPolicy-2016-08";

fn duplicate(lb: &str) -> ElbError {
    ElbError::new(
        ElbErrorKind::DuplicateListener,
        format!("A listener already exists on this port for this load balancer '{lb}'"),
    )
}

/// CreateListener: HTTP or HTTPS on a free port of the load balancer, with
/// its default actions.
pub(crate) async fn create_listener(
    ctx: &Ctx,
    req: CreateListenerInput,
) -> Result<CreateListenerOutput, ElbError> {
    let lb = required(req.load_balancer_arn, "loadBalancerArn")?;
    check_arn(ElbArnKind::LoadBalancer, &lb)?;
    let port = required(req.port, "port")?;
    validate::port("port", port)?;
    let protocol = req.protocol.unwrap_or(ProtocolEnum::Http);
    let certificates = req.certificates.filter(|c| !c.is_empty());
    validate::listener_protocol(&protocol, certificates.is_some())?;
    let actions = rules::actions(&required(req.default_actions, "defaultActions")?)?;
    let forwards = rules::target_groups(&actions);
    let tags = validate::tags(req.tags.as_deref().unwrap_or_default())?;
    let https = protocol == ProtocolEnum::Https;
    let arn = arn::listener_arn(&lb, &new_id()).ok_or_else(ElbError::load_balancer_not_found)?;
    let default_rule_arn = arn::rule_arn(&arn, &new_id()).ok_or_else(ElbError::internal)?;
    let record = ListenerRecord {
        listener: Listener {
            listener_arn: Some(arn.clone()),
            load_balancer_arn: Some(lb.clone()),
            port: Some(port),
            protocol: Some(protocol),
            certificates,
            ssl_policy: https
                .then(|| req.ssl_policy.unwrap_or_else(|| DEFAULT_SSL_POLICY.to_owned())),
            default_actions: Some(actions),
            ..Default::default()
        },
        default_rule_arn,
    };
    let listener = write(ctx.store(), &ctx.region, move |elb| {
        let record = record.clone();
        elb.load_balancer(&lb)?.ok_or_else(ElbError::load_balancer_not_found)?;
        if elb.listener_on(&lb, port)?.is_some() {
            return Err(duplicate(&lb));
        }
        if elb.count(ElbKind::Listener, &lb)? >= elb::MAX_LISTENERS {
            return Err(ElbError::new(
                ElbErrorKind::TooManyListeners,
                format!("A load balancer can have at most {} listeners", elb::MAX_LISTENERS),
            ));
        }
        check_forwards(elb, &lb, &forwards)?;
        elb.put_listener(&record, &forwards)?;
        elb.put_tags(&arn, &tags)?;
        Ok(record.listener)
    })
    .await?;
    Ok(CreateListenerOutput { listeners: Some(vec![listener]) })
}

/// DescribeListeners: a load balancer's in port order (paged), or by ARNs.
pub(crate) async fn describe_listeners(
    ctx: &Ctx,
    req: DescribeListenersInput,
) -> Result<DescribeListenersOutput, ElbError> {
    let size = validate::page_size(req.page_size)?;
    let after = resume(req.marker.as_deref())?;
    let arns = req.listener_arns.unwrap_or_default();
    let lb = req.load_balancer_arn;
    match (&lb, arns.is_empty()) {
        (None, true) => {
            return Err(ElbError::validation(
                "You must specify either listener ARNs or a load balancer ARN",
            ))
        }
        (Some(_), false) => {
            return Err(ElbError::validation(
                "Listener ARNs and a load balancer ARN cannot be specified at the same time",
            ))
        }
        _ => {}
    }
    for a in &arns {
        check_arn(ElbArnKind::Listener, a)?;
    }
    if let Some(lb) = &lb {
        check_arn(ElbArnKind::LoadBalancer, lb)?;
    }
    let (listeners, next) = read(ctx.store(), &ctx.region, move |elb| {
        if let Some(lb) = lb {
            elb.load_balancer(&lb)?.ok_or_else(ElbError::load_balancer_not_found)?;
            let all: Vec<(String, Listener)> = elb
                .listeners(&lb)?
                .into_iter()
                .map(|l| (wharf_store::elb::sort_key(l.listener.port.unwrap_or(0)), l.listener))
                .filter(|(k, _)| after.as_deref().is_none_or(|a| k.as_str() > a))
                .collect();
            return Ok(page(all, size));
        }
        let mut out = Vec::with_capacity(arns.len());
        for a in &arns {
            out.push(elb.listener(a)?.ok_or_else(ElbError::listener_not_found)?.listener);
        }
        Ok((out, None))
    })
    .await?;
    Ok(DescribeListenersOutput { listeners: Some(listeners), next_marker: next })
}

/// ModifyListener: port, protocol, certificates, TLS policy, default actions.
pub(crate) async fn modify_listener(
    ctx: &Ctx,
    req: ModifyListenerInput,
) -> Result<ModifyListenerOutput, ElbError> {
    let arn = required(req.listener_arn.clone(), "listenerArn")?;
    check_arn(ElbArnKind::Listener, &arn)?;
    if let Some(p) = req.port {
        validate::port("port", p)?;
    }
    let actions = req.default_actions.clone().map(|a| rules::actions(&a)).transpose()?;
    let listener = write(ctx.store(), &ctx.region, move |elb| {
        let actions = actions.clone();
        let req = req.clone();
        let mut record = elb.listener(&arn)?.ok_or_else(ElbError::listener_not_found)?;
        let lb = record.listener.load_balancer_arn.clone().unwrap_or_default();
        let l = &mut record.listener;
        if let Some(port) = req.port.filter(|p| Some(*p) != l.port) {
            if elb.listener_on(&lb, port)?.is_some() {
                return Err(duplicate(&lb));
            }
            l.port = Some(port);
        }
        if let Some(p) = req.protocol {
            l.protocol = Some(p);
        }
        if let Some(c) = req.certificates {
            l.certificates = Some(c).filter(|c| !c.is_empty());
        }
        if let Some(s) = req.ssl_policy {
            l.ssl_policy = Some(s);
        }
        let protocol = l.protocol.clone().unwrap_or(ProtocolEnum::Http);
        validate::listener_protocol(&protocol, l.certificates.is_some())?;
        if protocol == ProtocolEnum::Https {
            l.ssl_policy.get_or_insert_with(|| DEFAULT_SSL_POLICY.to_owned());
        } else {
            l.ssl_policy = None;
            l.certificates = None;
        }
        if let Some(actions) = actions {
            l.default_actions = Some(actions);
        }
        let forwards = rules::target_groups(l.default_actions.as_deref().unwrap_or_default());
        check_forwards(elb, &lb, &forwards)?;
        elb.put_listener(&record, &forwards)?;
        Ok(record.listener)
    })
    .await?;
    Ok(ModifyListenerOutput { listeners: Some(vec![listener]) })
}

/// DeleteListener: with its rules.
pub(crate) async fn delete_listener(
    ctx: &Ctx,
    req: DeleteListenerInput,
) -> Result<DeleteListenerOutput, ElbError> {
    let arn = required(req.listener_arn, "listenerArn")?;
    check_arn(ElbArnKind::Listener, &arn)?;
    write(ctx.store(), &ctx.region, move |elb| {
        elb.listener(&arn)?.ok_or_else(ElbError::listener_not_found)?;
        for r in elb.rules(&arn)? {
            elb.delete(r.rule_arn.as_deref().unwrap_or_default())?;
        }
        elb.delete(&arn)
    })
    .await?;
    Ok(DeleteListenerOutput {})
}
