//! DescribeServices, ListServices, ListServicesByNamespace.

use super::*;

/// DescribeServices: up to 10 services by name or ARN, DRAINING and
/// INACTIVE ones included; unknown ones in `failures` as MISSING.
pub(crate) async fn describe_services(
    ctx: &Ctx,
    req: DescribeServicesRequest,
) -> Result<DescribeServicesResponse, ApiError> {
    let given = required(req.services, "services")?;
    if given.is_empty() || given.len() > MAX_DESCRIBED {
        return Err(invalid(format!("services must have between 1 and {MAX_DESCRIBED} items.")));
    }
    let include = req.include.unwrap_or_default();
    if let Some(bad) = include.iter().find(|f| !f.is_known()) {
        return Err(invalid(format!("Invalid include '{bad}'. Valid values: TAGS.")));
    }
    let with_tags = include.contains(&ServiceField::Tags);
    let cluster = active_cluster(ctx.ops(), req.cluster.as_deref()).await?;
    let (mut services, mut failures) = (Vec::new(), Vec::new());
    for g in given {
        let (name, in_arn) = arn::resource_id(&g, "service");
        let rec = if in_arn.is_some_and(|c| c != cluster) || !is_resource_name(name) {
            None
        } else {
            load(ctx.ops(), &Names::new(&ctx.scope(), &cluster, name)).await?
        };
        match rec {
            Some(r) => services.push(shown(ctx, &r, with_tags).await?),
            None => failures.push(Failure {
                arn: Some(if arn::parse(&g).is_some() {
                    g.clone()
                } else {
                    ctx.scope().ecs_arn(&format!("service/{g}"))
                }),
                reason: Some("MISSING".to_owned()),
                detail: None,
            }),
        }
    }
    Ok(DescribeServicesResponse { services: Some(services), failures: Some(failures) })
}

/// ListServices: the ARNs of the cluster's ACTIVE services in name order,
/// by launch type and scheduling strategy; paginated (10 by default).
pub(crate) async fn list_services(
    ctx: &Ctx,
    req: ListServicesRequest,
) -> Result<ListServicesResponse, ApiError> {
    let cluster = active_cluster(ctx.ops(), req.cluster.as_deref()).await?;
    let limit = pagination::max_results(req.max_results, 10)?;
    if let Some(lt) = req.launch_type.as_ref().filter(|l| !l.is_known()) {
        return Err(invalid(format!(
            "Invalid launchType '{lt}'. Valid values: {}.",
            LaunchType::VALUES.join(", ")
        )));
    }
    if let Some(s) = req.scheduling_strategy.as_ref().filter(|s| !s.is_known()) {
        return Err(invalid(format!(
            "Invalid schedulingStrategy '{s}'. Valid values: REPLICA, DAEMON."
        )));
    }
    let prefix = format!("{cluster}/");
    let mut after = match req.next_token.as_deref() {
        Some(t) => {
            let key = pagination::decode(t)?;
            if !key.starts_with(&prefix) {
                return Err(invalid("Invalid nextToken."));
            }
            key
        }
        None => prefix.clone(),
    };
    let mut arns = Vec::new();
    loop {
        let page =
            docs::list::<ServiceRecord>(ctx.ops(), Kind::Service, Some(&after), limit + 1).await?;
        let exhausted = page.len() <= limit;
        for (key, rec) in page {
            if !key.starts_with(&prefix) {
                return Ok(ListServicesResponse { service_arns: Some(arns), next_token: None });
            }
            if arns.len() == limit {
                return Ok(ListServicesResponse {
                    service_arns: Some(arns),
                    next_token: Some(pagination::encode(&after)),
                });
            }
            after = key;
            let s = &rec.service;
            let wanted = s.status == Some(ServiceStatus::Active)
                && req.launch_type.as_ref().is_none_or(|lt| s.launch_type.as_ref() == Some(lt))
                && req.scheduling_strategy.as_ref().is_none_or(|st| {
                    s.scheduling_strategy.as_ref().unwrap_or(&SchedulingStrategy::Replica) == st
                });
            if wanted {
                arns.extend(s.service_arn.clone());
            }
        }
        if exhausted {
            return Ok(ListServicesResponse { service_arns: Some(arns), next_token: None });
        }
    }
}

/// ListServicesByNamespace: the services (of every cluster) whose
/// `serviceRegistries` register with a Cloud Map service of the namespace
/// (given by name, id or ARN). Wharf has no Service Connect, so a namespace
/// a cluster names as its Service Connect default lists only those.
pub(crate) async fn list_services_by_namespace(
    ctx: &Ctx,
    req: ListServicesByNamespaceRequest,
) -> Result<ListServicesByNamespaceResponse, ApiError> {
    let namespace = required(req.namespace, "namespace")?;
    let max = pagination::max_results(req.max_results, 10)?;
    let after = match req.next_token.as_deref() {
        Some(t) => Some(pagination::decode(t)?),
        None => None,
    };
    let short = namespace.rsplit('/').next().unwrap_or(&namespace).to_owned();
    let registry =
        wharf_ops::discovery::read(ctx.ops()).await.map_err(|e| EcsError::server(e.message))?;
    let found = registry.namespaces.values().find(|n| {
        let ns = &n.namespace;
        ns.id.as_deref() == Some(short.as_str())
            || ns.name.as_deref() == Some(namespace.as_str())
            || ns.arn.as_deref() == Some(namespace.as_str())
    });
    let clusters = docs::list_all::<Cluster>(ctx.ops(), Kind::Cluster).await?;
    let connect_default = clusters.iter().any(|(_, c)| {
        c.status == Some(ClusterStatus::Active)
            && c.service_connect_defaults
                .as_ref()
                .and_then(|d| d.namespace.as_deref())
                .is_some_and(|n| n == namespace || n.rsplit('/').next() == Some(short.as_str()))
    });
    let Some(ns) = found else {
        if connect_default {
            return Ok(ListServicesByNamespaceResponse {
                service_arns: Some(vec![]),
                next_token: None,
            });
        }
        return Err(EcsError::new(
            EcsErrorKind::NamespaceNotFoundException,
            "The specified namespace wasn't found.",
        )
        .into());
    };
    let ns_id = ns.namespace.id.clone().unwrap_or_default();
    let in_namespace = |arn: &str| {
        wharf_model::ecs::service::registries::service_id(arn)
            .and_then(|id| registry.services.get(id))
            .is_some_and(|s| s.service.namespace_id.as_deref() == Some(ns_id.as_str()))
    };
    let mut arns: Vec<String> = docs::list_all::<ServiceRecord>(ctx.ops(), Kind::Service)
        .await?
        .into_iter()
        .filter(|(_, r)| is_live(r))
        .filter(|(_, r)| {
            r.service
                .service_registries
                .iter()
                .flatten()
                .any(|g| g.registry_arn.as_deref().is_some_and(in_namespace))
        })
        .filter_map(|(_, r)| r.service.service_arn)
        .collect();
    arns.sort();
    if let Some(after) = after {
        arns.retain(|a| *a > after);
    }
    let next = (arns.len() > max).then(|| pagination::encode(&arns[max - 1]));
    arns.truncate(max);
    Ok(ListServicesByNamespaceResponse { service_arns: Some(arns), next_token: next })
}
