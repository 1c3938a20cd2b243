//! CreateService.

use super::*;
use wharf_ops::network;

/// A role name as ECS shows it: a full IAM role ARN.
fn role_arn(ctx: &Ctx, role: String) -> String {
    if role.starts_with("arn:") {
        role
    } else {
        format!("arn:aws:iam::{}:role/{}", ctx.state.ops.account_id, role.trim_start_matches('/'))
    }
}

/// CreateService: checks everything ECS checks, then stores the service
/// ACTIVE with one IN_PROGRESS PRIMARY deployment (none for EXTERNAL). An
/// identical repeat returns the existing service.
pub(crate) async fn create_service(
    ctx: &Ctx,
    req: CreateServiceRequest,
) -> Result<CreateServiceResponse, ApiError> {
    let cluster = active_cluster(ctx.ops(), req.cluster.as_deref()).await?;
    let name = required(req.service_name, "serviceName")?;
    if !is_resource_name(&name) {
        return Err(invalid(
            "Invalid serviceName. Up to 255 letters (uppercase and lowercase), numbers, \
             underscores, and hyphens are allowed.",
        ));
    }
    if req.client_token.as_deref().is_some_and(|t| {
        t.is_empty() || t.len() > 36 || !t.bytes().all(|b| (33..=126).contains(&b))
    }) {
        return Err(invalid("clientToken must be 1 to 36 ASCII characters in the range 33-126."));
    }
    let controller = deployment_controller(req.deployment_controller)?;
    let external = controller == DeploymentControllerType::External;
    let (strategy, desired) = scheduling(req.scheduling_strategy, external, req.desired_count)?;
    let daemon = strategy == SchedulingStrategy::Daemon;
    let code_deploy = controller == DeploymentControllerType::CodeDeploy;
    if daemon && code_deploy {
        return Err(invalid(
            "The daemon scheduling strategy does not support the CODE_DEPLOY deployment \
             controller.",
        ));
    }
    let strategies = req.placement_strategy.unwrap_or_default();
    let constraints = req.placement_constraints.unwrap_or_default();
    if daemon && !strategies.is_empty() {
        return Err(invalid(DAEMON_STRATEGY));
    }
    let registries = req.service_registries.clone().unwrap_or_default();
    refuse_unsupported(
        false,
        req.service_connect_configuration.as_ref().is_some_and(|c| c.enabled == Some(true)),
        req.volume_configurations.as_ref().is_some_and(|v| !v.is_empty()),
        req.vpc_lattice_configurations.as_ref().is_some_and(|v| !v.is_empty()),
    )?;
    let config = deployment_configuration(req.deployment_configuration, &strategy)?;
    let load_balancers = req.load_balancers.unwrap_or_default();
    check_strategy(&config, &controller, &load_balancers)?;
    check_grace_period(req.health_check_grace_period_seconds)?;
    check_propagate(req.propagate_tags.as_ref())?;
    let tag_list = req.tags.unwrap_or_default();
    ecs_tags::validate(&tag_list)?;

    let names = Names::new(&ctx.scope(), &cluster, &name);
    let now = ctx.state.ops.clock.now_millis();
    let mut service = Service {
        service_arn: Some(names.service_arn.clone()),
        service_name: Some(name.clone()),
        cluster_arn: Some(names.cluster_arn.clone()),
        status: Some(ServiceStatus::Active),
        desired_count: Some(desired),
        running_count: Some(0),
        pending_count: Some(0),
        deployment_configuration: Some(config),
        deployments: Some(vec![]),
        events: Some(vec![]),
        role_arn: req.role.map(|r| role_arn(ctx, r)),
        created_at: Some(Timestamp::from_millis(now)),
        placement_constraints: Some(constraints.clone()),
        placement_strategy: Some(strategies.clone()),
        health_check_grace_period_seconds: Some(req.health_check_grace_period_seconds.unwrap_or(0)),
        scheduling_strategy: Some(strategy.clone()),
        deployment_controller: Some(DeploymentController { r#type: Some(controller.clone()) }),
        created_by: Some(ctx.root_principal()),
        enable_ecs_managed_tags: Some(req.enable_ecs_managed_tags.unwrap_or(false)),
        propagate_tags: Some(req.propagate_tags.unwrap_or(PropagateTags::None)),
        enable_execute_command: Some(req.enable_execute_command.unwrap_or(false)),
        availability_zone_rebalancing: req.availability_zone_rebalancing,
        ..Service::default()
    };
    let revision = if external {
        if req.task_definition.is_some() {
            // ECS's words: the task definition goes on the task set.
            return Err(invalid("TaskDefinition must be blank."));
        }
        refuse_for_external(&[
            (req.task_definition.is_some(), "taskDefinition"),
            (!load_balancers.is_empty(), "loadBalancers"),
            (req.network_configuration.is_some(), "networkConfiguration"),
            (req.launch_type.is_some(), "launchType"),
            (req.capacity_provider_strategy.is_some(), "capacityProviderStrategy"),
            (req.platform_version.is_some(), "platformVersion"),
            (!registries.is_empty(), "serviceRegistries"),
        ])?;
        check_placement(None, &strategies, &constraints)?;
        service.task_sets = Some(vec![]);
        None
    } else {
        let td = runnable_definition(ctx.ops(), &required(req.task_definition, "taskDefinition")?)
            .await?;
        check_placement(Some(&td), &strategies, &constraints)?;
        let (lt, cps) = placement_source(
            ctx,
            &cluster,
            &td,
            req.launch_type,
            req.capacity_provider_strategy,
            daemon,
        )
        .await?;
        let fargate = uses_fargate(lt.as_ref(), cps.as_ref());
        if daemon && fargate {
            return Err(invalid(
                "The daemon scheduling strategy is not supported with the FARGATE launch type.",
            ));
        }
        let pv = platform_version(fargate, req.platform_version)?;
        check_network(&td, req.network_configuration.as_ref())?;
        if service.role_arn.is_some() && is_awsvpc(&td) {
            // awsvpc services register through the service-linked role.
            return Err(invalid(
                "You cannot specify an IAM role for services that require a service linked role.",
            ));
        }
        if code_deploy && load_balancers.len() != 1 {
            return Err(invalid(
                "A service using the CODE_DEPLOY deployment controller requires exactly one \
                 loadBalancers entry (its target group takes the first task set).",
            ));
        }
        network::check_awsvpc(ctx.ops(), req.network_configuration.as_ref()).await?;
        checks::check_registries(ctx, &td, &registries).await?;
        service.service_registries = Some(registries.clone());
        check_load_balancers(ctx, &td, &load_balancers, MAX_LOAD_BALANCERS).await?;
        let rev = Revision {
            task_definition: td.task_definition_arn.clone().unwrap_or_default(),
            launch_type: lt.clone(),
            capacity_provider_strategy: cps.clone(),
            platform_version: pv.clone(),
            network_configuration: req.network_configuration.clone(),
            load_balancers: load_balancers.clone(),
            health_checked: health_checked(&td),
            container_images: container_images(&td),
        };
        service.task_definition = Some(rev.task_definition.clone());
        service.launch_type = lt;
        service.capacity_provider_strategy = cps;
        service.platform_version = pv;
        service.platform_family = rev.platform_family();
        service.network_configuration = req.network_configuration;
        service.load_balancers = Some(load_balancers);
        if code_deploy {
            service.task_sets = Some(vec![]);
        }
        Some(rev)
    };

    let rec = create(ctx.ops(), &names, service, revision, tag_list).await?;
    Ok(CreateServiceResponse { service: Some(shown(ctx, &rec, true).await?) })
}
