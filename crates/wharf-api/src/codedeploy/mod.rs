//! AWS CodeDeploy on AWS JSON 1.1 (`X-Amz-Target: CodeDeploy_20141006.<Operation>`), for
//! the ECS compute platform: applications, deployment groups and deployment
//! configurations, and deployments ([`deployments`]). One handler per operation; the rules
//! live in `wharf_model::codedeploy`.

use wharf_model::codedeploy::shapes::{
    ApplicationInfo, ComputePlatform, CreateApplicationInput, CreateApplicationOutput,
    CreateDeploymentConfigInput, CreateDeploymentConfigOutput, CreateDeploymentGroupInput,
    CreateDeploymentGroupOutput, DeleteApplicationInput, DeleteDeploymentConfigInput,
    DeleteDeploymentGroupInput, DeleteDeploymentGroupOutput, DeploymentConfigInfo,
    DeploymentGroupInfo, GetApplicationInput, GetApplicationOutput, GetDeploymentConfigInput,
    GetDeploymentConfigOutput, GetDeploymentGroupInput, GetDeploymentGroupOutput,
    ListApplicationsInput, ListApplicationsOutput, ListDeploymentConfigsInput,
    ListDeploymentConfigsOutput, ListDeploymentGroupsInput, ListDeploymentGroupsOutput,
    UpdateDeploymentGroupInput, UpdateDeploymentGroupOutput,
};
use wharf_model::codedeploy::{
    application_name, check_ecs_group, check_platform, check_routing, config_name, group_name,
    predefined, predefined_named, ApplicationRecord, CodeDeployError as Error,
};
use wharf_model::wire::Timestamp;
use wharf_store::Kind;

use crate::context::Ctx;
use crate::protocol::{self, ApiError};
use crate::records::{self, Change};

mod deployments;

/// Runs one CodeDeploy operation on a request body; the answer body or the error.
pub async fn handle(ctx: &Ctx, op: &str, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    protocol::operations!(ctx, op, body, {
        "CreateApplication" => create_application,
        "GetApplication" => get_application,
        "ListApplications" => list_applications,
        "DeleteApplication" => delete_application,
        "CreateDeploymentGroup" => create_deployment_group,
        "GetDeploymentGroup" => get_deployment_group,
        "UpdateDeploymentGroup" => update_deployment_group,
        "ListDeploymentGroups" => list_deployment_groups,
        "DeleteDeploymentGroup" => delete_deployment_group,
        "CreateDeploymentConfig" => create_deployment_config,
        "GetDeploymentConfig" => get_deployment_config,
        "ListDeploymentConfigs" => list_deployment_configs,
        "DeleteDeploymentConfig" => delete_deployment_config,
        "CreateDeployment" => deployments::create_deployment,
        "GetDeployment" => deployments::get_deployment,
        "BatchGetDeployments" => deployments::batch_get_deployments,
        "ListDeployments" => deployments::list_deployments,
        "StopDeployment" => deployments::stop_deployment,
        "ContinueDeployment" => deployments::continue_deployment,
    })
}

/// Empty answers are `{}`.
#[derive(Debug, serde::Serialize)]
struct Empty {}

fn no_application(name: &str) -> Error {
    Error::new("ApplicationDoesNotExistException", format!("No application found for name: {name}"))
}

fn no_group(app: &str, group: &str) -> Error {
    Error::new(
        "DeploymentGroupDoesNotExistException",
        format!("No Deployment Group found for name: {group} in application {app}"),
    )
}

fn new_id() -> String {
    wharf_model::ids::uuid_v4()
}

async fn load_application(ctx: &Ctx, name: &str) -> Result<ApplicationRecord, Error> {
    records::get(ctx.store(), Kind::CodeDeployApplication, &ctx.region, name)
        .await?
        .ok_or_else(|| no_application(name))
}

/// A deployment configuration by name: predefined or custom.
async fn find_config(ctx: &Ctx, name: &str) -> Result<Option<DeploymentConfigInfo>, Error> {
    if let Some(c) = predefined_named(name) {
        return Ok(Some(c));
    }
    records::get(ctx.store(), Kind::CodeDeployConfig, &ctx.region, name).await
}

/// Continuation tokens are the last name of the page before.
fn page(names: Vec<String>, token: Option<String>, size: usize) -> (Vec<String>, Option<String>) {
    let mut rest: Vec<String> =
        names.into_iter().filter(|n| token.as_ref().is_none_or(|t| n > t)).collect();
    let more = rest.len() > size;
    rest.truncate(size);
    let next = more.then(|| rest.last().cloned()).flatten();
    (rest, next)
}

async fn create_application(
    ctx: &Ctx,
    req: CreateApplicationInput,
) -> Result<CreateApplicationOutput, Error> {
    let name = application_name(req.application_name)?;
    let platform =
        check_platform(req.compute_platform.as_ref().or(Some(&ComputePlatform::Server)))?;
    let id = new_id();
    let now = Timestamp::from_millis(ctx.state.ops.clock.now_millis());
    let tags = req.tags.unwrap_or_default();
    let key = name.clone();
    records::update(ctx.store(), Kind::CodeDeployApplication, &ctx.region, &key, move |cur| {
        if let Some(existing) = cur as Option<ApplicationRecord> {
            let _ = existing;
            return Err(Error::new(
                "ApplicationAlreadyExistsException",
                format!("{name} already exists in your account"),
            ));
        }
        let record = ApplicationRecord {
            application: ApplicationInfo {
                application_id: Some(id.clone()),
                application_name: Some(name.clone()),
                create_time: Some(now),
                linked_to_git_hub: Some(false),
                compute_platform: Some(platform.clone()),
                ..ApplicationInfo::default()
            },
            tags: tags.clone(),
            ..ApplicationRecord::default()
        };
        Ok((Change::Put(record), CreateApplicationOutput { application_id: Some(id.clone()) }))
    })
    .await
}

async fn get_application(
    ctx: &Ctx,
    req: GetApplicationInput,
) -> Result<GetApplicationOutput, Error> {
    let name = application_name(req.application_name)?;
    let app = load_application(ctx, &name).await?;
    Ok(GetApplicationOutput { application: Some(app.application) })
}

async fn list_applications(
    ctx: &Ctx,
    req: ListApplicationsInput,
) -> Result<ListApplicationsOutput, Error> {
    let all: Vec<(String, ApplicationRecord)> =
        records::list(ctx.store(), Kind::CodeDeployApplication, &ctx.region, None, usize::MAX >> 1)
            .await?;
    let (names, next) = page(all.into_iter().map(|(k, _)| k).collect(), req.next_token, 100);
    Ok(ListApplicationsOutput { applications: Some(names), next_token: next })
}

async fn delete_application(ctx: &Ctx, req: DeleteApplicationInput) -> Result<Empty, Error> {
    let name = application_name(req.application_name)?;
    // Deleting an application that does not exist succeeds, as in CodeDeploy.
    records::update(ctx.store(), Kind::CodeDeployApplication, &ctx.region, &name, |cur| {
        let cur: Option<ApplicationRecord> = cur;
        Ok((if cur.is_some() { Change::Delete } else { Change::Keep }, Empty {}))
    })
    .await
}

/// The group a CreateDeploymentGroup makes, once checked.
fn group_info(app: &str, id: String, req: CreateDeploymentGroupInput) -> DeploymentGroupInfo {
    DeploymentGroupInfo {
        application_name: Some(app.to_owned()),
        deployment_group_id: Some(id),
        deployment_group_name: req.deployment_group_name,
        deployment_config_name: Some(
            req.deployment_config_name
                .unwrap_or_else(|| "CodeDeployDefault.ECSAllAtOnce".to_owned()),
        ),
        service_role_arn: req.service_role_arn,
        trigger_configurations: Some(req.trigger_configurations.unwrap_or_default()),
        alarm_configuration: req.alarm_configuration,
        auto_rollback_configuration: req.auto_rollback_configuration,
        deployment_style: req.deployment_style,
        outdated_instances_strategy: req.outdated_instances_strategy,
        blue_green_deployment_configuration: req.blue_green_deployment_configuration,
        load_balancer_info: req.load_balancer_info,
        compute_platform: Some(ComputePlatform::Ecs),
        ecs_services: req.ecs_services,
        termination_hook_enabled: Some(req.termination_hook_enabled.unwrap_or(false)),
        ..DeploymentGroupInfo::default()
    }
}

/// Checks that the configuration exists and is an ECS one.
async fn check_config(ctx: &Ctx, name: Option<&str>) -> Result<(), Error> {
    let Some(name) = name else { return Ok(()) };
    let config = find_config(ctx, name).await?.ok_or_else(|| {
        Error::new(
            "DeploymentConfigDoesNotExistException",
            format!("No deployment configuration found for name: {name}"),
        )
    })?;
    if config.compute_platform != Some(ComputePlatform::Ecs) {
        return Err(Error::new(
            "InvalidDeploymentConfigNameException",
            format!("The deployment configuration {name} is not for the ECS compute platform."),
        ));
    }
    Ok(())
}

/// Checks that the pair's target groups (by name) and listeners exist in
/// Wharf's ELBv2 state.
async fn check_load_balancing(ctx: &Ctx, g: &CreateDeploymentGroupInput) -> Result<(), Error> {
    let pairs = g
        .load_balancer_info
        .as_ref()
        .and_then(|l| l.target_group_pair_info_list.clone())
        .unwrap_or_default();
    let missing = wharf_ops::elb_state::read(ctx.store(), &ctx.region, move |elb| {
        for pair in &pairs {
            for tg in pair.target_groups.iter().flatten() {
                let name = tg.name.clone().unwrap_or_default();
                if elb.target_group_named(&name)?.is_none() {
                    return Ok(Some((
                        "InvalidTargetGroupPairException",
                        format!("The target group {name} does not exist."),
                    )));
                }
            }
            let routes = [pair.prod_traffic_route.as_ref(), pair.test_traffic_route.as_ref()];
            for arn in routes.into_iter().flatten().flat_map(|r| r.listener_arns.iter().flatten()) {
                if elb.listener(arn)?.is_none() {
                    return Ok(Some((
                        "InvalidLoadBalancerInfoException",
                        format!("The listener {arn} does not exist."),
                    )));
                }
            }
        }
        Ok(None)
    })
    .await
    .map_err(|e| {
        tracing::error!(error = %e.message, "ELBv2 state not read");
        Error::internal()
    })?;
    match missing {
        Some((code, message)) => Err(Error::new(code, message)),
        None => Ok(()),
    }
}

async fn create_deployment_group(
    ctx: &Ctx,
    req: CreateDeploymentGroupInput,
) -> Result<CreateDeploymentGroupOutput, Error> {
    let app = application_name(req.application_name.clone())?;
    let group = group_name(req.deployment_group_name.clone())?;
    check_ecs_group(&req)?;
    check_load_balancing(ctx, &req).await?;
    check_config(ctx, req.deployment_config_name.as_deref()).await?;
    let id = new_id();
    let info = group_info(&app, id.clone(), req);
    records::update(
        ctx.store(),
        Kind::CodeDeployApplication,
        &ctx.region,
        &app.clone(),
        move |cur| {
            let mut rec: ApplicationRecord = cur.ok_or_else(|| no_application(&app))?;
            if rec.groups.contains_key(&group) {
                return Err(Error::new(
                    "DeploymentGroupAlreadyExistsException",
                    format!("A deployment group with the name {group} already exists."),
                ));
            }
            let service = info.ecs_services.as_ref().and_then(|s| s.first()).cloned();
            let taken = rec
                .groups
                .values()
                .any(|g| g.ecs_services.as_ref().and_then(|s| s.first()).cloned() == service);
            if taken {
                return Err(Error::new(
                    "InvalidECSServiceException",
                    "The ECS service is already associated with a deployment group.",
                ));
            }
            rec.groups.insert(group.clone(), info.clone());
            Ok((
                Change::Put(rec),
                CreateDeploymentGroupOutput { deployment_group_id: Some(id.clone()) },
            ))
        },
    )
    .await
}

async fn get_deployment_group(
    ctx: &Ctx,
    req: GetDeploymentGroupInput,
) -> Result<GetDeploymentGroupOutput, Error> {
    let app = application_name(req.application_name)?;
    let group = group_name(req.deployment_group_name)?;
    let rec = load_application(ctx, &app).await?;
    let info = rec.groups.get(&group).cloned().ok_or_else(|| no_group(&app, &group))?;
    Ok(GetDeploymentGroupOutput { deployment_group_info: Some(info) })
}

/// The group as a creation request, to check it again after an update.
fn as_request(g: &DeploymentGroupInfo) -> CreateDeploymentGroupInput {
    CreateDeploymentGroupInput {
        application_name: g.application_name.clone(),
        deployment_group_name: g.deployment_group_name.clone(),
        deployment_config_name: g.deployment_config_name.clone(),
        service_role_arn: g.service_role_arn.clone(),
        deployment_style: g.deployment_style.clone(),
        blue_green_deployment_configuration: g.blue_green_deployment_configuration.clone(),
        load_balancer_info: g.load_balancer_info.clone(),
        ecs_services: g.ecs_services.clone(),
        ..CreateDeploymentGroupInput::default()
    }
}

async fn update_deployment_group(
    ctx: &Ctx,
    req: UpdateDeploymentGroupInput,
) -> Result<UpdateDeploymentGroupOutput, Error> {
    let app = application_name(req.application_name.clone())?;
    let current = group_name(req.current_deployment_group_name.clone())?;
    if let Some(new) = req.new_deployment_group_name.clone() {
        group_name(Some(new))?;
    }
    check_config(ctx, req.deployment_config_name.as_deref()).await?;
    for (given, field) in [
        (req.ec2_tag_filters.as_ref().is_some_and(|v| !v.is_empty()), "ec2TagFilters"),
        (req.ec2_tag_set.is_some(), "ec2TagSet"),
        (req.on_premises_tag_set.is_some(), "onPremisesTagSet"),
        (req.auto_scaling_groups.as_ref().is_some_and(|v| !v.is_empty()), "autoScalingGroups"),
    ] {
        if given {
            return Err(Error::invalid_input(format!(
                "{field} cannot be specified for an ECS deployment group."
            )));
        }
    }
    records::update(
        ctx.store(),
        Kind::CodeDeployApplication,
        &ctx.region,
        &app.clone(),
        move |cur| {
            let mut rec: ApplicationRecord = cur.ok_or_else(|| no_application(&app))?;
            let mut g = rec.groups.remove(&current).ok_or_else(|| no_group(&app, &current))?;
            macro_rules! over {
            ($($f:ident),*) => { $( if req.$f.is_some() { g.$f = req.$f.clone(); } )* };
        }
            over!(
                deployment_config_name,
                service_role_arn,
                trigger_configurations,
                alarm_configuration,
                auto_rollback_configuration,
                outdated_instances_strategy,
                deployment_style,
                blue_green_deployment_configuration,
                load_balancer_info,
                ecs_services,
                termination_hook_enabled
            );
            let name = req.new_deployment_group_name.clone().unwrap_or_else(|| current.clone());
            if rec.groups.contains_key(&name) {
                return Err(Error::new(
                    "DeploymentGroupAlreadyExistsException",
                    format!("A deployment group with the name {name} already exists."),
                ));
            }
            g.deployment_group_name = Some(name.clone());
            check_ecs_group(&as_request(&g))?;
            rec.groups.insert(name, g);
            Ok((
                Change::Put(rec),
                UpdateDeploymentGroupOutput { hooks_not_cleaned_up: Some(vec![]) },
            ))
        },
    )
    .await
}

async fn list_deployment_groups(
    ctx: &Ctx,
    req: ListDeploymentGroupsInput,
) -> Result<ListDeploymentGroupsOutput, Error> {
    let app = application_name(req.application_name)?;
    let rec = load_application(ctx, &app).await?;
    let (names, next) = page(rec.groups.keys().cloned().collect(), req.next_token, 100);
    Ok(ListDeploymentGroupsOutput {
        application_name: Some(app),
        deployment_groups: Some(names),
        next_token: next,
    })
}

async fn delete_deployment_group(
    ctx: &Ctx,
    req: DeleteDeploymentGroupInput,
) -> Result<DeleteDeploymentGroupOutput, Error> {
    let app = application_name(req.application_name)?;
    let group = group_name(req.deployment_group_name)?;
    records::update(
        ctx.store(),
        Kind::CodeDeployApplication,
        &ctx.region,
        &app.clone(),
        move |cur| {
            let mut rec: ApplicationRecord = cur.ok_or_else(|| no_application(&app))?;
            let answer = DeleteDeploymentGroupOutput { hooks_not_cleaned_up: Some(vec![]) };
            if rec.groups.remove(&group).is_none() {
                return Ok((Change::Keep, answer));
            }
            Ok((Change::Put(rec), answer))
        },
    )
    .await
}

async fn create_deployment_config(
    ctx: &Ctx,
    req: CreateDeploymentConfigInput,
) -> Result<CreateDeploymentConfigOutput, Error> {
    let name = config_name(req.deployment_config_name)?;
    check_platform(req.compute_platform.as_ref())?;
    if req.minimum_healthy_hosts.is_some() {
        return Err(Error::new(
            "InvalidMinimumHealthyHostValueException",
            "minimumHealthyHosts applies to the Server compute platform, not ECS.",
        ));
    }
    check_routing(req.traffic_routing_config.as_ref())?;
    if predefined_named(&name).is_some() || name.starts_with("CodeDeployDefault.") {
        return Err(Error::new(
            "DeploymentConfigAlreadyExistsException",
            format!("A deployment configuration with the name {name} already exists."),
        ));
    }
    let id = new_id();
    let info = DeploymentConfigInfo {
        deployment_config_id: Some(id.clone()),
        deployment_config_name: Some(name.clone()),
        create_time: Some(Timestamp::from_millis(ctx.state.ops.clock.now_millis())),
        compute_platform: Some(ComputePlatform::Ecs),
        traffic_routing_config: req.traffic_routing_config,
        ..DeploymentConfigInfo::default()
    };
    records::update(ctx.store(), Kind::CodeDeployConfig, &ctx.region, &name.clone(), move |cur| {
        if (cur as Option<DeploymentConfigInfo>).is_some() {
            return Err(Error::new(
                "DeploymentConfigAlreadyExistsException",
                format!("A deployment configuration with the name {name} already exists."),
            ));
        }
        Ok((
            Change::Put(info.clone()),
            CreateDeploymentConfigOutput { deployment_config_id: Some(id.clone()) },
        ))
    })
    .await
}

async fn get_deployment_config(
    ctx: &Ctx,
    req: GetDeploymentConfigInput,
) -> Result<GetDeploymentConfigOutput, Error> {
    let name = config_name(req.deployment_config_name)?;
    let info = find_config(ctx, &name).await?.ok_or_else(|| {
        Error::new(
            "DeploymentConfigDoesNotExistException",
            format!("No deployment configuration found for name: {name}"),
        )
    })?;
    Ok(GetDeploymentConfigOutput { deployment_config_info: Some(info) })
}

async fn list_deployment_configs(
    ctx: &Ctx,
    req: ListDeploymentConfigsInput,
) -> Result<ListDeploymentConfigsOutput, Error> {
    let custom: Vec<(String, DeploymentConfigInfo)> =
        records::list(ctx.store(), Kind::CodeDeployConfig, &ctx.region, None, usize::MAX >> 1)
            .await?;
    let mut names: Vec<String> =
        predefined().into_iter().filter_map(|c| c.deployment_config_name).collect();
    names.extend(custom.into_iter().map(|(k, _)| k));
    names.sort();
    let (names, next) = page(names, req.next_token, 100);
    Ok(ListDeploymentConfigsOutput { deployment_configs_list: Some(names), next_token: next })
}

async fn delete_deployment_config(
    ctx: &Ctx,
    req: DeleteDeploymentConfigInput,
) -> Result<Empty, Error> {
    let name = config_name(req.deployment_config_name)?;
    if predefined_named(&name).is_some() {
        return Err(Error::new(
            "InvalidDeploymentConfigNameException",
            format!("The predefined deployment configuration {name} cannot be deleted."),
        ));
    }
    let apps: Vec<(String, ApplicationRecord)> =
        records::list(ctx.store(), Kind::CodeDeployApplication, &ctx.region, None, usize::MAX >> 1)
            .await?;
    let used = apps
        .iter()
        .flat_map(|(_, a)| a.groups.values())
        .any(|g| g.deployment_config_name.as_deref() == Some(name.as_str()));
    if used {
        return Err(Error::new(
            "DeploymentConfigInUseException",
            format!("The deployment configuration {name} is in use by a deployment group."),
        ));
    }
    records::update(ctx.store(), Kind::CodeDeployConfig, &ctx.region, &name, |cur| {
        let cur: Option<DeploymentConfigInfo> = cur;
        Ok((if cur.is_some() { Change::Delete } else { Change::Keep }, Empty {}))
    })
    .await
}
