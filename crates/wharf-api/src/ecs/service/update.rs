//! UpdateService.

use super::*;
use wharf_ops::network;

/// UpdateService: a desired count change scales the PRIMARY deployment; a
/// change to what the tasks run (task definition, network, load balancers,
/// platform version, capacity providers) or `forceNewDeployment` starts a
/// new deployment; the other settings change in place.
pub(crate) async fn update_service(
    ctx: &Ctx,
    req: UpdateServiceRequest,
) -> Result<UpdateServiceResponse, ApiError> {
    let names = target(ctx, req.cluster.as_deref(), req.service.clone()).await?;
    let current = load(ctx.ops(), &names).await?.ok_or_else(service_not_found)?;
    if current.service.status != Some(ServiceStatus::Active) {
        return Err(service_not_active().into());
    }
    let s = &current.service;
    let strategy = s.scheduling_strategy.clone().unwrap_or(SchedulingStrategy::Replica);
    let daemon = strategy == SchedulingStrategy::Daemon;
    let external = is_external(s);
    if let Some(c) = req.deployment_controller.as_ref().and_then(|c| c.r#type.as_ref()) {
        let now = s.deployment_controller.as_ref().and_then(|c| c.r#type.clone());
        if Some(c) != now.as_ref() {
            return Err(invalid(
                "deploymentController cannot be changed by UpdateService in Wharf.",
            ));
        }
    }
    refuse_unsupported(
        false,
        req.service_connect_configuration.as_ref().is_some_and(|c| c.enabled == Some(true)),
        req.volume_configurations.as_ref().is_some_and(|v| !v.is_empty()),
        req.vpc_lattice_configurations.as_ref().is_some_and(|v| !v.is_empty()),
    )?;
    check_update(&req, external, daemon)?;
    if model::is_code_deploy(s) {
        refuse_for_code_deploy_update(&[
            (req.task_definition.is_some(), "taskDefinition"),
            (req.load_balancers.is_some(), "loadBalancers"),
            (req.network_configuration.is_some(), "networkConfiguration"),
            (req.platform_version.is_some(), "platformVersion"),
            (req.capacity_provider_strategy.is_some(), "capacityProviderStrategy"),
            (req.force_new_deployment == Some(true), "forceNewDeployment"),
        ])?;
    }
    let mut up = ServiceUpdate {
        desired: req.desired_count,
        grace: req.health_check_grace_period_seconds,
        managed_tags: req.enable_ecs_managed_tags,
        propagate: req.propagate_tags,
        exec: req.enable_execute_command,
        az: req.availability_zone_rebalancing,
        ..ServiceUpdate::default()
    };
    if let Some(given) = req.deployment_configuration.clone() {
        let merged = merge_configuration(s.deployment_configuration.as_ref(), given);
        up.config = Some(deployment_configuration(Some(merged), &strategy)?);
    }
    if !external && (req.deployment_configuration.is_some() || req.load_balancers.is_some()) {
        let config = up.config.as_ref().or(s.deployment_configuration.as_ref());
        let lbs = req.load_balancers.as_ref().or(s.load_balancers.as_ref());
        let controller = s
            .deployment_controller
            .as_ref()
            .and_then(|c| c.r#type.clone())
            .unwrap_or(DeploymentControllerType::Ecs);
        if let Some(config) = config {
            check_strategy(config, &controller, lbs.map_or(&[][..], Vec::as_slice))?;
        }
        if req.load_balancers.is_none() {
            // A strategy that now shifts traffic needs the rules it names.
            check_listener_rules(ctx, lbs.map_or(&[][..], Vec::as_slice)).await?;
        }
    }

    // What the tasks would run with after this update. Only a change to
    // what they run needs the current definition to be readable: scaling a
    // service whose revision was since deleted still works.
    let reshapes = req.task_definition.is_some()
        || req.network_configuration.is_some()
        || req.load_balancers.is_some()
        || req.capacity_provider_strategy.is_some()
        || req.platform_version.is_some()
        || req.force_new_deployment == Some(true);
    let mut td = None;
    if !external && !model::is_code_deploy(s) {
        td = match req.task_definition.as_deref() {
            Some(given) => Some(runnable_definition(ctx.ops(), given).await?),
            None => {
                definition_by_arn(ctx.ops(), s.task_definition.as_deref().unwrap_or_default())
                    .await?
            }
        };
        if reshapes && td.is_none() {
            return Err(EcsError::client("TaskDefinition not found.").into());
        }
    }
    if let Some(registries) = req.service_registries.clone() {
        match td.as_ref() {
            Some(td) => checks::check_registries(ctx, td, &registries).await?,
            None if !registries.is_empty() => {
                return Err(invalid("serviceRegistries need the service's task definition."))
            }
            None => {}
        }
        up.registries = Some(registries);
    }
    let strategies = req.placement_strategy.clone();
    let constraints = req.placement_constraints.clone();
    if strategies.is_some() || constraints.is_some() {
        check_placement(
            td.as_ref(),
            strategies.as_deref().or(s.placement_strategy.as_deref()).unwrap_or(&[]),
            constraints.as_deref().or(s.placement_constraints.as_deref()).unwrap_or(&[]),
        )?;
    }
    up.strategies = strategies;
    up.constraints = constraints;

    if let Some(td) = td.as_ref().filter(|_| reshapes) {
        let td_arn = td.task_definition_arn.clone().unwrap_or_default();
        let network = req.network_configuration.clone().or_else(|| s.network_configuration.clone());
        let lbs =
            req.load_balancers.clone().or_else(|| s.load_balancers.clone()).unwrap_or_default();
        let (lt, cps) = match req.capacity_provider_strategy.clone().filter(|c| !c.is_empty()) {
            Some(given) => {
                placement_source(ctx, &names.cluster, td, None, Some(given), daemon).await?
            }
            None => {
                if let Some(lt) = &s.launch_type {
                    launch_type(td, Some(lt.clone()))?;
                }
                (s.launch_type.clone(), s.capacity_provider_strategy.clone())
            }
        };
        let fargate = uses_fargate(lt.as_ref(), cps.as_ref());
        let pv = match req.platform_version.clone() {
            Some(p) => platform_version(fargate, Some(p))?,
            None if fargate => s.platform_version.clone().or_else(|| Some("LATEST".to_owned())),
            None => None,
        };
        check_network(td, network.as_ref())?;
        if req.network_configuration.is_some() {
            network::check_awsvpc(ctx.ops(), network.as_ref()).await?;
        }
        if req.load_balancers.is_some() || req.task_definition.is_some() {
            check_load_balancers(ctx, td, &lbs, MAX_LOAD_BALANCERS).await?;
        }
        let rev = Revision {
            task_definition: td_arn,
            launch_type: lt,
            capacity_provider_strategy: cps,
            platform_version: pv,
            network_configuration: network,
            load_balancers: lbs,
            health_checked: health_checked(td),
            container_images: container_images(td),
        };
        let changed = Some(&rev.task_definition) != s.task_definition.as_ref()
            || rev.network_configuration != s.network_configuration
            || Some(&rev.load_balancers) != s.load_balancers.as_ref()
            || rev.platform_version != s.platform_version
            || rev.launch_type != s.launch_type
            || rev.capacity_provider_strategy != s.capacity_provider_strategy;
        if changed || req.force_new_deployment == Some(true) {
            up.deployment = Some(rev);
        }
    }

    let rec = update(ctx.ops(), &names, up).await?;
    Ok(UpdateServiceResponse { service: Some(shown(ctx, &rec, false).await?) })
}

/// The checks of an UpdateService that need only the request and what kind
/// of service it updates.
fn check_update(req: &UpdateServiceRequest, external: bool, daemon: bool) -> Result<(), EcsError> {
    if external {
        refuse_for_external_update(&[
            (req.task_definition.is_some(), "taskDefinition"),
            (req.load_balancers.is_some(), "loadBalancers"),
            (req.network_configuration.is_some(), "networkConfiguration"),
            (req.capacity_provider_strategy.is_some(), "capacityProviderStrategy"),
            (req.platform_version.is_some(), "platformVersion"),
            (req.force_new_deployment == Some(true), "forceNewDeployment"),
            (req.deployment_configuration.is_some(), "deploymentConfiguration"),
            (req.enable_execute_command.is_some(), "enableExecuteCommand"),
        ])?;
    }
    if daemon && req.desired_count.is_some() {
        return Err(EcsError::invalid_parameter(DAEMON_DESIRED));
    }
    if daemon && req.placement_strategy.as_ref().is_some_and(|p| !p.is_empty()) {
        return Err(EcsError::invalid_parameter(DAEMON_STRATEGY));
    }
    if daemon && req.capacity_provider_strategy.as_ref().is_some_and(|p| !p.is_empty()) {
        return Err(EcsError::invalid_parameter(DAEMON_PROVIDERS));
    }
    if req.desired_count.is_some_and(|d| d < 0) {
        return Err(EcsError::invalid_parameter(
            "desiredCount must be greater than or equal to 0.",
        ));
    }
    check_grace_period(req.health_check_grace_period_seconds)?;
    check_propagate(req.propagate_tags.as_ref())
}
