//! The history of a service's deployments: DescribeServiceDeployments,
//! ListServiceDeployments and DescribeServiceRevisions, read from the
//! service's record.

use super::*;

/// Reads the services named by sub-resource ARNs, once each.
async fn records_for(
    ctx: &Ctx,
    arns: &[String],
    kind: &str,
) -> Result<BTreeMap<(String, String), ServiceRecord>, ApiError> {
    let mut out = BTreeMap::new();
    for g in arns {
        let Some((cluster, service, _)) = sub_resource(g, kind) else { continue };
        let k = (cluster.to_owned(), service.to_owned());
        if out.contains_key(&k) {
            continue;
        }
        if let Some(r) = load(ctx.ops(), &Names::new(&ctx.scope(), cluster, service)).await? {
            out.insert(k, r);
        }
    }
    Ok(out)
}

fn check_describe_count(n: usize, field: &str) -> Result<(), EcsError> {
    if n == 0 || n > MAX_DESCRIBED_DEPLOYMENTS {
        return Err(EcsError::invalid_parameter(format!(
            "{field} must have between 1 and {MAX_DESCRIBED_DEPLOYMENTS} items."
        )));
    }
    Ok(())
}

/// DescribeServiceDeployments: ServiceDeployment records by ARN; unknown
/// ones in `failures` as MISSING.
pub(crate) async fn describe_service_deployments(
    ctx: &Ctx,
    req: DescribeServiceDeploymentsRequest,
) -> Result<DescribeServiceDeploymentsResponse, ApiError> {
    let given = required(req.service_deployment_arns, "serviceDeploymentArns")?;
    check_describe_count(given.len(), "serviceDeploymentArns")?;
    let records = records_for(ctx, &given, "service-deployment").await?;
    let (mut found, mut failures) = (Vec::new(), Vec::new());
    for g in &given {
        let hit = sub_resource(g, "service-deployment")
            .and_then(|(c, s, _)| records.get(&(c.to_owned(), s.to_owned())))
            .and_then(|r| {
                r.history.iter().find(|d| d.service_deployment_arn.as_deref() == Some(g.as_str()))
            });
        match hit {
            Some(d) => found.push(d.clone()),
            None => failures.push(missing(g)),
        }
    }
    Ok(DescribeServiceDeploymentsResponse {
        service_deployments: Some(found),
        failures: Some(failures),
    })
}

/// ListServiceDeployments: a service's deployments newest first, by status
/// and creation time; paginated (20 by default).
pub(crate) async fn list_service_deployments(
    ctx: &Ctx,
    req: ListServiceDeploymentsRequest,
) -> Result<ListServiceDeploymentsResponse, ApiError> {
    let names = target(ctx, req.cluster.as_deref(), req.service).await?;
    let limit = pagination::max_results(req.max_results, 20)?;
    let statuses = req.status.unwrap_or_default();
    if let Some(bad) = statuses.iter().find(|s| !s.is_known()) {
        return Err(invalid(format!(
            "Invalid status '{bad}'. Valid values: {}.",
            ServiceDeploymentStatus::VALUES.join(", ")
        )));
    }
    let (before, after_t) = req.created_at.map(|c| (c.before, c.after)).unwrap_or((None, None));
    let rec = load(ctx.ops(), &names).await?.ok_or_else(service_not_found)?;
    let resume = req.next_token.as_deref().map(pagination::decode).transpose()?;
    let mut seen_resume = resume.is_none();
    let mut out = Vec::new();
    let mut next_token = None;
    for d in rec.history.iter().rev() {
        let arn = d.service_deployment_arn.clone().unwrap_or_default();
        if !seen_resume {
            seen_resume = resume.as_deref() == Some(arn.as_str());
            continue;
        }
        let created = d.created_at.map(Timestamp::as_millis).unwrap_or(0);
        let wanted = (statuses.is_empty()
            || d.status.as_ref().is_some_and(|s| statuses.contains(s)))
            && before.is_none_or(|b| created < b.as_millis())
            && after_t.is_none_or(|a| created > a.as_millis());
        if !wanted {
            continue;
        }
        if out.len() == limit {
            next_token = out
                .last()
                .and_then(|b: &ServiceDeploymentBrief| b.service_deployment_arn.as_deref())
                .map(pagination::encode);
            break;
        }
        out.push(ServiceDeploymentBrief {
            service_deployment_arn: Some(arn),
            service_arn: d.service_arn.clone(),
            cluster_arn: d.cluster_arn.clone(),
            started_at: d.started_at,
            created_at: d.created_at,
            finished_at: d.finished_at,
            target_service_revision_arn: d
                .target_service_revision
                .as_ref()
                .and_then(|t| t.arn.clone()),
            status: d.status.clone(),
            status_reason: d.status_reason.clone(),
        });
    }
    if !seen_resume {
        return Err(invalid("Invalid nextToken."));
    }
    Ok(ListServiceDeploymentsResponse { service_deployments: Some(out), next_token })
}

/// DescribeServiceRevisions: service revisions by ARN; unknown ones in
/// `failures` as MISSING.
pub(crate) async fn describe_service_revisions(
    ctx: &Ctx,
    req: DescribeServiceRevisionsRequest,
) -> Result<DescribeServiceRevisionsResponse, ApiError> {
    let given = required(req.service_revision_arns, "serviceRevisionArns")?;
    check_describe_count(given.len(), "serviceRevisionArns")?;
    let records = records_for(ctx, &given, "service-revision").await?;
    let (mut found, mut failures) = (Vec::new(), Vec::new());
    for g in &given {
        let hit = sub_resource(g, "service-revision")
            .and_then(|(c, s, _)| records.get(&(c.to_owned(), s.to_owned())))
            .and_then(|r| {
                r.revisions.iter().find(|v| v.service_revision_arn.as_deref() == Some(g.as_str()))
            });
        match hit {
            Some(v) => found.push(v.clone()),
            None => failures.push(missing(g)),
        }
    }
    Ok(DescribeServiceRevisionsResponse {
        service_revisions: Some(found),
        failures: Some(failures),
    })
}

/// StopServiceDeployment (stopType ROLLBACK, the only one ECS takes): a
/// PENDING or IN_PROGRESS service deployment becomes ROLLBACK_REQUESTED and
/// the scheduler rolls it back; one already stopping or rolling back goes
/// on; a finished one is a conflict.
pub(crate) async fn stop_service_deployment(
    ctx: &Ctx,
    req: StopServiceDeploymentRequest,
) -> Result<StopServiceDeploymentResponse, ApiError> {
    let arn = required(req.service_deployment_arn, "serviceDeploymentArn")?;
    match req.stop_type {
        None | Some(StopServiceDeploymentStopType::Rollback) => {}
        Some(other) => {
            return Err(invalid(format!(
                "Invalid stopType '{other}'. The valid values are ROLLBACK."
            )))
        }
    }
    let not_found = || {
        EcsError::new(
            wharf_model::EcsErrorKind::ServiceDeploymentNotFoundException,
            "The service deployment does not exist.",
        )
    };
    let (cluster, service, _) = sub_resource(&arn, "service-deployment").ok_or_else(not_found)?;
    let names = Names::new(&ctx.scope(), cluster, service);
    let wanted = arn.clone();
    update_active(ctx.ops(), &names, move |r| {
        let h = r
            .history
            .iter_mut()
            .find(|h| h.service_deployment_arn.as_deref() == Some(wanted.as_str()))
            .ok_or_else(not_found)?;
        match h.status {
            Some(ServiceDeploymentStatus::Pending | ServiceDeploymentStatus::InProgress) => {
                h.status = Some(ServiceDeploymentStatus::RollbackRequested);
                h.status_reason = Some(model::ROLLBACK_REQUESTED_REASON.to_owned());
                Ok(())
            }
            Some(
                ServiceDeploymentStatus::StopRequested
                | ServiceDeploymentStatus::RollbackRequested
                | ServiceDeploymentStatus::RollbackInProgress,
            ) => Ok(()),
            _ => Err(EcsError::new(
                wharf_model::EcsErrorKind::ConflictException,
                "The service deployment is not in progress and cannot be stopped.",
            )),
        }
    })
    .await
    .map_err(|e| match e {
        wharf_ops::OpsError::Refused(e)
            if e.kind == wharf_model::EcsErrorKind::ServiceNotFoundException =>
        {
            ApiError::from(not_found())
        }
        other => ApiError::from(other),
    })?;
    Ok(StopServiceDeploymentResponse { service_deployment_arn: Some(arn) })
}
