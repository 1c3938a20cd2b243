//! CodeDeploy deployments to ECS services: CreateDeployment (an AppSpec given as
//! content), GetDeployment, BatchGetDeployments, ListDeployments, StopDeployment and
//! ContinueDeployment. The API stores the deployment and its plan; the CodeDeploy
//! reconciler (wharf-control) runs it through the service's task sets.

use wharf_model::codedeploy::deployment::{
    deployment_id, finished, parse_appspec, DeploymentRecord, Progress, Stage,
};
use wharf_model::codedeploy::shapes::{
    BatchGetDeploymentsInput, BatchGetDeploymentsOutput, ComputePlatform, ContinueDeploymentInput,
    CreateDeploymentInput, CreateDeploymentOutput, DeploymentCreator, DeploymentInfo,
    DeploymentReadyAction, DeploymentStatus, DeploymentWaitType, GetDeploymentInput,
    GetDeploymentOutput, ListDeploymentsInput, ListDeploymentsOutput, RevisionLocationType,
    StopDeploymentInput, StopDeploymentOutput, StopStatus,
};
use wharf_model::ecs::service::{self as ecs_service, deployment::Names};

use super::*;

fn no_deployment(id: &str) -> Error {
    Error::new(
        "DeploymentDoesNotExistException",
        format!("The deployment {id} could not be found."),
    )
}

fn deployment_id_given(given: Option<String>) -> Result<String, Error> {
    let id = given.filter(|i| !i.is_empty()).ok_or_else(|| {
        Error::new("DeploymentIdRequiredException", "At least one deployment ID must be specified.")
    })?;
    if !id.starts_with("d-") || id.len() != 11 {
        return Err(Error::new(
            "InvalidDeploymentIdException",
            format!("The deployment ID {id} was specified in an invalid format."),
        ));
    }
    Ok(id)
}

async fn load(ctx: &Ctx, id: &str) -> Result<DeploymentRecord, Error> {
    records::get(ctx.store(), Kind::CodeDeployDeployment, &ctx.region, id)
        .await?
        .ok_or_else(|| no_deployment(id))
}

async fn all(ctx: &Ctx) -> Result<Vec<DeploymentRecord>, Error> {
    let rows: Vec<(String, DeploymentRecord)> =
        records::list(ctx.store(), Kind::CodeDeployDeployment, &ctx.region, None, usize::MAX >> 1)
            .await?;
    Ok(rows.into_iter().map(|(_, d)| d).collect())
}

/// Where the deployment group's traffic goes, from Wharf's ELBv2 state: the
/// pair's target group ARNs and the listeners' default rules.
async fn routes(
    ctx: &Ctx,
    g: &DeploymentGroupInfo,
) -> Result<([String; 2], String, Option<String>), Error> {
    let pair = g
        .load_balancer_info
        .as_ref()
        .and_then(|l| l.target_group_pair_info_list.as_ref())
        .and_then(|p| p.first())
        .cloned()
        .ok_or_else(|| {
            Error::new(
                "InvalidLoadBalancerInfoException",
                "The deployment group has no target group pair.",
            )
        })?;
    let found = wharf_ops::elb_state::read(ctx.store(), &ctx.region, move |elb| {
        let mut arns = Vec::new();
        for tg in pair.target_groups.iter().flatten() {
            let name = tg.name.clone().unwrap_or_default();
            arns.push(elb.target_group_named(&name)?.and_then(|t| t.target_group.target_group_arn));
        }
        let rule = |route: Option<&wharf_model::codedeploy::shapes::TrafficRoute>| -> Result<Option<String>, wharf_model::elbv2::ElbError> {
            let Some(arn) = route.and_then(|r| r.listener_arns.as_ref()).and_then(|l| l.first()) else {
                return Ok(None);
            };
            Ok(elb.listener(arn)?.map(|l| l.default_rule_arn))
        };
        let prod = rule(pair.prod_traffic_route.as_ref())?;
        let test = rule(pair.test_traffic_route.as_ref())?;
        Ok((arns, prod, test))
    })
    .await
    .map_err(|e| {
        tracing::error!(error = %e.message, "ELBv2 state not read");
        Error::internal()
    })?;
    let (arns, prod, test) = found;
    let arns: Vec<String> = arns.into_iter().flatten().collect();
    let [a, b] = <[String; 2]>::try_from(arns).map_err(|_| {
        Error::new(
            "InvalidTargetGroupPairException",
            "A target group of the pair no longer exists.",
        )
    })?;
    let prod = prod.ok_or_else(|| {
        Error::new("InvalidLoadBalancerInfoException", "The production listener no longer exists.")
    })?;
    Ok(([a, b], prod, test))
}

pub(super) async fn create_deployment(
    ctx: &Ctx,
    req: CreateDeploymentInput,
) -> Result<CreateDeploymentOutput, Error> {
    let app = application_name(req.application_name)?;
    let group_name_given = req.deployment_group_name.ok_or_else(|| {
        Error::new(
            "DeploymentGroupNameRequiredException",
            "The deployment group name was not specified.",
        )
    })?;
    let group = group_name(Some(group_name_given))?;
    let revision = req.revision.ok_or_else(|| {
        Error::new("RevisionRequiredException", "The revision ID was not specified.")
    })?;
    if revision.revision_type != Some(RevisionLocationType::AppSpecContent) {
        return Err(Error::new(
            "InvalidRevisionException",
            "An ECS deployment takes its AppSpec as content: revisionType must be \
             AppSpecContent (S3, GitHub and String revisions are not served by Wharf).",
        ));
    }
    let content =
        revision.app_spec_content.as_ref().and_then(|c| c.content.clone()).ok_or_else(|| {
            Error::new("InvalidRevisionException", "appSpecContent.content must be specified.")
        })?;
    let appspec = parse_appspec(&content)?;
    let rec = load_application(ctx, &app).await?;
    let g = rec.groups.get(&group).cloned().ok_or_else(|| no_group(&app, &group))?;
    let config_name =
        req.deployment_config_name.clone().or(g.deployment_config_name.clone()).unwrap_or_default();
    let config = find_config(ctx, &config_name).await?.ok_or_else(|| {
        Error::new(
            "DeploymentConfigDoesNotExistException",
            format!("No deployment configuration found for name: {config_name}"),
        )
    })?;
    let svc = g.ecs_services.as_ref().and_then(|s| s.first()).cloned().unwrap_or_default();
    let (cluster, service) =
        (svc.cluster_name.unwrap_or_default(), svc.service_name.unwrap_or_default());
    let names = Names::new(&ctx.scope(), &cluster, &service);
    let ecs = wharf_ops::service::load(ctx.ops(), &names).await.map_err(|e| {
        tracing::error!(error = %e, "service not read");
        Error::internal()
    })?;
    if !ecs
        .as_ref()
        .is_some_and(|s| ecs_service::is_code_deploy(&s.service) && ecs_service::is_live(s))
    {
        return Err(Error::new(
            "InvalidECSServiceException",
            format!(
                "The ECS service {service} in cluster {cluster} does not exist or does not use \
                 the CODE_DEPLOY deployment controller."
            ),
        ));
    }
    if wharf_ops::lookup::runnable_definition(ctx.ops(), &appspec.task_definition).await.is_err() {
        return Err(Error::new(
            "InvalidRevisionException",
            format!("The AppSpec's TaskDefinition {} cannot be run.", appspec.task_definition),
        ));
    }
    let busy = all(ctx).await?.into_iter().any(|d| {
        d.info.application_name.as_deref() == Some(app.as_str())
            && d.info.deployment_group_name.as_deref() == Some(group.as_str())
            && !finished(d.info.status.as_ref())
    });
    if busy {
        return Err(Error::new(
            "DeploymentLimitExceededException",
            format!("The deployment group {group} already has an active deployment."),
        ));
    }
    let (target_groups, prod_rule, test_rule) = routes(ctx, &g).await?;
    let bg = g.blue_green_deployment_configuration.clone().unwrap_or_default();
    let termination_wait_ms = bg
        .terminate_blue_instances_on_deployment_success
        .as_ref()
        .and_then(|t| t.termination_wait_time_in_minutes)
        .map_or(0, |m| i64::from(m.max(0)) * 60_000);
    let ready_wait_ms = bg.deployment_ready_option.as_ref().and_then(|r| {
        (r.action_on_timeout == Some(DeploymentReadyAction::StopDeployment))
            .then(|| i64::from(r.wait_time_in_minutes.unwrap_or(0).max(0)) * 60_000)
    });
    let rollback_cfg =
        req.auto_rollback_configuration.clone().or(g.auto_rollback_configuration.clone());
    let auto_rollback = rollback_cfg.as_ref().is_some_and(|r| r.enabled == Some(true));
    let id = deployment_id(wharf_model::ids::random_u128());
    let now_ms = ctx.state.ops.clock.now_millis();
    let now = Timestamp::from_millis(now_ms);
    let info = DeploymentInfo {
        application_name: Some(app),
        deployment_group_name: Some(group),
        deployment_config_name: Some(config_name),
        deployment_id: Some(id.clone()),
        revision: Some(revision),
        status: Some(DeploymentStatus::Created),
        create_time: Some(now),
        description: req.description,
        creator: Some(DeploymentCreator::User),
        auto_rollback_configuration: rollback_cfg,
        deployment_style: g.deployment_style.clone(),
        blue_green_deployment_configuration: g.blue_green_deployment_configuration.clone(),
        load_balancer_info: g.load_balancer_info.clone(),
        compute_platform: Some(ComputePlatform::Ecs),
        instance_termination_wait_time_started: Some(false),
        ..DeploymentInfo::default()
    };
    let record = DeploymentRecord {
        info,
        cluster,
        service,
        appspec,
        target_groups,
        prod_rule,
        test_rule,
        routing: config.traffic_routing_config.unwrap_or_default(),
        termination_wait_ms,
        ready_wait_ms,
        auto_rollback,
        progress: Progress {
            stage: Stage::Created,
            stage_ms: now_ms,
            shifted: 0,
            step_ms: now_ms,
            original: None,
            continued: false,
            stop: None,
        },
    };
    let key = id.clone();
    records::update(ctx.store(), Kind::CodeDeployDeployment, &ctx.region, &key, move |cur| {
        if (cur as Option<DeploymentRecord>).is_some() {
            return Err(Error::internal());
        }
        Ok((
            Change::Put(record.clone()),
            CreateDeploymentOutput { deployment_id: Some(id.clone()) },
        ))
    })
    .await
}

pub(super) async fn get_deployment(
    ctx: &Ctx,
    req: GetDeploymentInput,
) -> Result<GetDeploymentOutput, Error> {
    let id = deployment_id_given(req.deployment_id)?;
    Ok(GetDeploymentOutput { deployment_info: Some(load(ctx, &id).await?.info) })
}

pub(super) async fn batch_get_deployments(
    ctx: &Ctx,
    req: BatchGetDeploymentsInput,
) -> Result<BatchGetDeploymentsOutput, Error> {
    let ids = req.deployment_ids.unwrap_or_default();
    if ids.len() > 25 {
        return Err(Error::new(
            "BatchLimitExceededException",
            "The maximum number of names or IDs allowed for this request (25) was exceeded.",
        ));
    }
    let mut out = Vec::new();
    for id in ids {
        let id = deployment_id_given(Some(id))?;
        if let Some(d) = records::get::<DeploymentRecord, Error>(
            ctx.store(),
            Kind::CodeDeployDeployment,
            &ctx.region,
            &id,
        )
        .await?
        {
            out.push(d.info);
        }
    }
    Ok(BatchGetDeploymentsOutput { deployments_info: Some(out) })
}

pub(super) async fn list_deployments(
    ctx: &Ctx,
    req: ListDeploymentsInput,
) -> Result<ListDeploymentsOutput, Error> {
    if req.deployment_group_name.is_some() && req.application_name.is_none() {
        return Err(Error::new(
            "ApplicationNameRequiredException",
            "An application name must be given with a deployment group name.",
        ));
    }
    if let Some(app) = &req.application_name {
        load_application(ctx, app).await?;
    }
    let statuses = req.include_only_statuses.unwrap_or_default();
    let mut found: Vec<DeploymentRecord> = all(ctx)
        .await?
        .into_iter()
        .filter(|d| {
            req.application_name.is_none() || d.info.application_name == req.application_name
        })
        .filter(|d| {
            req.deployment_group_name.is_none()
                || d.info.deployment_group_name == req.deployment_group_name
        })
        .filter(|d| {
            statuses.is_empty() || d.info.status.as_ref().is_some_and(|s| statuses.contains(s))
        })
        .collect();
    // Newest first.
    found.sort_by_key(|d| std::cmp::Reverse(d.info.create_time.map(|t| t.as_millis())));
    let ids: Vec<String> = found.into_iter().filter_map(|d| d.info.deployment_id).collect();
    let start = match &req.next_token {
        Some(t) => ids.iter().position(|i| i == t).map_or(ids.len(), |p| p + 1),
        None => 0,
    };
    let page: Vec<String> = ids.iter().skip(start).take(100).cloned().collect();
    let next = (start + page.len() < ids.len()).then(|| page.last().cloned()).flatten();
    Ok(ListDeploymentsOutput { deployments: Some(page), next_token: next })
}

pub(super) async fn stop_deployment(
    ctx: &Ctx,
    req: StopDeploymentInput,
) -> Result<StopDeploymentOutput, Error> {
    let id = deployment_id_given(req.deployment_id)?;
    let rollback = req.auto_rollback_enabled;
    let key = id.clone();
    records::update(ctx.store(), Kind::CodeDeployDeployment, &ctx.region, &key, move |cur| {
        let mut d: DeploymentRecord = cur.ok_or_else(|| no_deployment(&id))?;
        if finished(d.info.status.as_ref()) {
            return Err(Error::new(
                "DeploymentAlreadyCompletedException",
                format!("The deployment {id} is already completed."),
            ));
        }
        d.progress.stop = Some(rollback.unwrap_or(d.auto_rollback));
        let answer = StopDeploymentOutput {
            status: Some(StopStatus::Pending),
            status_message: Some("Stopping the deployment.".to_owned()),
        };
        Ok((Change::Put(d), answer))
    })
    .await
}

pub(super) async fn continue_deployment(
    ctx: &Ctx,
    req: ContinueDeploymentInput,
) -> Result<Empty, Error> {
    let id = deployment_id_given(req.deployment_id)?;
    match req.deployment_wait_type {
        None | Some(DeploymentWaitType::ReadyWait) => {}
        Some(other) => {
            return Err(Error::new(
                "InvalidDeploymentWaitTypeException",
                format!(
                    "The wait type {other} is not valid for this deployment: it is waiting \
                         for traffic to be rerouted (READY_WAIT)."
                ),
            ))
        }
    }
    let key = id.clone();
    records::update(ctx.store(), Kind::CodeDeployDeployment, &ctx.region, &key, move |cur| {
        let mut d: DeploymentRecord = cur.ok_or_else(|| no_deployment(&id))?;
        if d.progress.stage != Stage::Ready {
            return Err(Error::new(
                "DeploymentIsNotInReadyStateException",
                format!("The deployment {id} is not in the Ready state."),
            ));
        }
        d.progress.continued = true;
        Ok((Change::Put(d), Empty {}))
    })
    .await
}
