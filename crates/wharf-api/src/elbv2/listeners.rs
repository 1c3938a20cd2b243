//! Listeners: CreateListener, DescribeListeners, ModifyListener,
//! DeleteListener, and an HTTPS listener's certificates
//! (AddListenerCertificates, RemoveListenerCertificates,
//! DescribeListenerCertificates). A listener's `DefaultActions` are its
//! default rule; its `Certificates` its default certificate, the others
//! being kept beside it for SNI.

use wharf_model::elbv2::arn::{self, ElbArnKind};
use wharf_model::elbv2::shapes::{
    AddListenerCertificatesInput, AddListenerCertificatesOutput, Certificate, CreateListenerInput,
    CreateListenerOutput, DeleteListenerInput, DeleteListenerOutput,
    DescribeListenerCertificatesInput, DescribeListenerCertificatesOutput, DescribeListenersInput,
    DescribeListenersOutput, Listener, ModifyListenerInput, ModifyListenerOutput, ProtocolEnum,
    RemoveListenerCertificatesInput, RemoveListenerCertificatesOutput,
};
use wharf_model::elbv2::ssl_policy;
use wharf_model::elbv2::{self as elb, rules, validate, ElbError, ElbErrorKind, ListenerRecord};
use wharf_ops::elb_state::{read, write};
use wharf_store::elb::ElbKind;

use super::{check_arn, check_forwards, new_id, page, required, resume};
use crate::context::Ctx;

/// The TLS policy an HTTPS listener gets when the request names none.
const DEFAULT_SSL_POLICY: &str = ssl_policy::DEFAULT;

/// Checks a security policy's name: one of ALB's predefined policies.
fn check_ssl_policy(name: Option<&str>) -> Result<(), ElbError> {
    match name {
        Some(n) if ssl_policy::versions(n).is_none() => Err(ElbError::new(
            ElbErrorKind::SSLPolicyNotFound,
            format!("SSL policy '{n}' not found"),
        )),
        _ => Ok(()),
    }
}

/// Checks a listener's default certificate list: exactly one, without
/// `IsDefault` (as ELBv2 wants it), that ACM holds in this region.
async fn check_default_certificate(
    ctx: &Ctx,
    certificates: Option<&[Certificate]>,
) -> Result<(), ElbError> {
    let Some(certificates) = certificates else { return Ok(()) };
    if certificates.len() > 1 {
        return Err(ElbError::validation(
            "A listener can have only one default certificate; add the others with \
             AddListenerCertificates",
        ));
    }
    check_certificates_exist(ctx, certificates).await
}

/// Every certificate named is one ACM holds in this region.
async fn check_certificates_exist(ctx: &Ctx, certificates: &[Certificate]) -> Result<(), ElbError> {
    for c in certificates {
        let arn =
            c.certificate_arn.as_deref().ok_or_else(|| ElbError::missing("certificateArn"))?;
        if !crate::acm::exists(ctx.store(), &ctx.region, &ctx.state.ops.account_id, arn).await {
            return Err(ElbError::certificate_not_found(arn));
        }
    }
    Ok(())
}

/// A certificate list as ELBv2 stores and answers it: ARNs only.
fn arns_only(certificates: &[Certificate]) -> Vec<Certificate> {
    certificates
        .iter()
        .map(|c| Certificate { certificate_arn: c.certificate_arn.clone(), is_default: None })
        .collect()
}

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
    let certificates = req.certificates.filter(|c| !c.is_empty()).map(|c| arns_only(&c));
    validate::listener_protocol(&protocol, certificates.is_some())?;
    let https = protocol == ProtocolEnum::Https;
    if https {
        check_ssl_policy(req.ssl_policy.as_deref())?;
        check_default_certificate(ctx, certificates.as_deref()).await?;
    }
    let actions = rules::actions(&required(req.default_actions, "defaultActions")?)?;
    let forwards = rules::target_groups(&actions);
    let tags = validate::tags(req.tags.as_deref().unwrap_or_default())?;
    let arn = arn::listener_arn(&lb, &new_id()).ok_or_else(ElbError::load_balancer_not_found)?;
    let default_rule_arn = arn::rule_arn(&arn, &new_id()).ok_or_else(ElbError::internal)?;
    let record = ListenerRecord {
        listener: Listener {
            listener_arn: Some(arn.clone()),
            load_balancer_arn: Some(lb.clone()),
            port: Some(port),
            protocol: Some(protocol),
            certificates: certificates.filter(|_| https),
            ssl_policy: https
                .then(|| req.ssl_policy.unwrap_or_else(|| DEFAULT_SSL_POLICY.to_owned())),
            default_actions: Some(actions),
            ..Default::default()
        },
        default_rule_arn,
        extra_certificates: Vec::new(),
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
    check_ssl_policy(req.ssl_policy.as_deref())?;
    let new_default = req.certificates.clone().filter(|c| !c.is_empty()).map(|c| arns_only(&c));
    check_default_certificate(ctx, new_default.as_deref()).await?;
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
        if req.certificates.is_some() {
            l.certificates = new_default.clone();
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
            record.extra_certificates.clear();
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

/// The listener `arn` names, which must be an HTTPS listener.
fn https_listener<S: wharf_store::elb::ElbView + ?Sized>(
    elb: &wharf_ops::elb_state::Elb<'_, S>,
    arn: &str,
) -> Result<ListenerRecord, ElbError> {
    let record = elb.listener(arn)?.ok_or_else(ElbError::listener_not_found)?;
    if record.listener.protocol != Some(ProtocolEnum::Https) {
        return Err(ElbError::new(
            ElbErrorKind::OperationNotPermitted,
            format!(
                "Listener '{arn}' is not an HTTPS listener: only HTTPS listeners have certificates"
            ),
        ));
    }
    Ok(record)
}

/// The certificates of a `Certificates` member, which must be there and not empty.
fn certificate_list(given: Option<Vec<Certificate>>) -> Result<Vec<Certificate>, ElbError> {
    let list = required(given, "certificates")?;
    if list.is_empty() {
        return Err(ElbError::validation(
            "1 validation error detected: Value '[]' at 'certificates' failed to satisfy \
             constraint: Member must have length greater than or equal to 1",
        ));
    }
    Ok(arns_only(&list))
}

/// AddListenerCertificates: certificates an HTTPS listener may choose by
/// SNI besides its default one.
pub(crate) async fn add_listener_certificates(
    ctx: &Ctx,
    req: AddListenerCertificatesInput,
) -> Result<AddListenerCertificatesOutput, ElbError> {
    let arn = required(req.listener_arn, "listenerArn")?;
    check_arn(ElbArnKind::Listener, &arn)?;
    let added = certificate_list(req.certificates)?;
    check_certificates_exist(ctx, &added).await?;
    let answer = added
        .iter()
        .map(|c| Certificate {
            certificate_arn: c.certificate_arn.clone(),
            is_default: Some(false),
        })
        .collect();
    write(ctx.store(), &ctx.region, move |elb| {
        let mut record = https_listener(elb, &arn)?;
        for c in added.iter().filter_map(|c| c.certificate_arn.clone()) {
            if !record.certificate_arns().contains(&c) {
                record.extra_certificates.push(c);
            }
        }
        if record.extra_certificates.len() > elb::MAX_LISTENER_CERTIFICATES {
            return Err(ElbError::new(
                ElbErrorKind::TooManyCertificates,
                format!(
                    "A listener can have at most {} certificates besides its default one",
                    elb::MAX_LISTENER_CERTIFICATES
                ),
            ));
        }
        let lb = record.listener.load_balancer_arn.clone().unwrap_or_default();
        let forwards =
            rules::target_groups(record.listener.default_actions.as_deref().unwrap_or_default());
        check_forwards(elb, &lb, &forwards)?;
        elb.put_listener(&record, &forwards)
    })
    .await?;
    Ok(AddListenerCertificatesOutput { certificates: Some(answer) })
}

/// RemoveListenerCertificates: the default certificate stays (change it with ModifyListener).
pub(crate) async fn remove_listener_certificates(
    ctx: &Ctx,
    req: RemoveListenerCertificatesInput,
) -> Result<RemoveListenerCertificatesOutput, ElbError> {
    let arn = required(req.listener_arn, "listenerArn")?;
    check_arn(ElbArnKind::Listener, &arn)?;
    let removed: Vec<String> =
        certificate_list(req.certificates)?.into_iter().filter_map(|c| c.certificate_arn).collect();
    write(ctx.store(), &ctx.region, move |elb| {
        let mut record = https_listener(elb, &arn)?;
        let default = record.listener.certificates.iter().flatten().filter_map(|c| c.certificate_arn.as_ref());
        if default.into_iter().any(|d| removed.contains(d)) {
            return Err(ElbError::new(
                ElbErrorKind::OperationNotPermitted,
                "The default certificate cannot be removed from a listener; replace it with ModifyListener",
            ));
        }
        record.extra_certificates.retain(|c| !removed.contains(c));
        let lb = record.listener.load_balancer_arn.clone().unwrap_or_default();
        let forwards = rules::target_groups(record.listener.default_actions.as_deref().unwrap_or_default());
        check_forwards(elb, &lb, &forwards)?;
        elb.put_listener(&record, &forwards)
    })
    .await?;
    Ok(RemoveListenerCertificatesOutput {})
}

/// DescribeListenerCertificates: the default certificate (`IsDefault`) and
/// the others, paged.
pub(crate) async fn describe_listener_certificates(
    ctx: &Ctx,
    req: DescribeListenerCertificatesInput,
) -> Result<DescribeListenerCertificatesOutput, ElbError> {
    let arn = required(req.listener_arn, "listenerArn")?;
    check_arn(ElbArnKind::Listener, &arn)?;
    let size = validate::page_size(req.page_size)?;
    let after = resume(req.marker.as_deref())?;
    let (certificates, next) = read(ctx.store(), &ctx.region, move |elb| {
        let record = elb.listener(&arn)?.ok_or_else(ElbError::listener_not_found)?;
        let all: Vec<(String, Certificate)> = record
            .certificate_arns()
            .into_iter()
            .enumerate()
            .map(|(i, c)| {
                let cert = Certificate {
                    certificate_arn: Some(c),
                    is_default: Some(i == 0 && record.listener.certificates.is_some()),
                };
                (format!("{i:06}"), cert)
            })
            .filter(|(k, _)| after.as_deref().is_none_or(|a| k.as_str() > a))
            .collect();
        Ok(page(all, size))
    })
    .await?;
    Ok(DescribeListenerCertificatesOutput { certificates: Some(certificates), next_marker: next })
}
