//! The rules CreateService, UpdateService and CreateTaskSet check that need
//! nothing but the request and the task definition.

use serde_json::Value;

use super::{percents, shift};
use crate::ecs::placement;
use crate::ecs::shapes::{
    CapacityProviderStrategyItem, DeploymentCircuitBreaker, DeploymentConfiguration,
    DeploymentController, DeploymentControllerType, DeploymentStrategy, LaunchType, LoadBalancer,
    NetworkConfiguration, NetworkMode, PlacementConstraint, PlacementStrategy, PropagateTags,
    SchedulingStrategy, Service, TaskDefinition,
};
use crate::{EcsError, EcsErrorKind};

/// Target groups a service may register with (ECS's limit).
pub const MAX_LOAD_BALANCERS: usize = 5;

/// Task sets a service may have at once (ECS's limit).
pub const MAX_TASK_SETS: usize = 5;

/// The refusal of a desired count for a DAEMON service.
pub const DAEMON_DESIRED: &str = "The daemon scheduling strategy does not support a desired count \
     for services. Remove the desired count value and try again";

/// The refusal of placement strategies for a DAEMON service.
pub const DAEMON_STRATEGY: &str = "The daemon scheduling strategy does not support placement \
     strategies. Remove the placement strategy and try again";

/// The refusal of capacity providers for a DAEMON service.
pub const DAEMON_PROVIDERS: &str = "Specifying a capacity provider strategy is not supported when \
     you create a service using the DAEMON scheduling strategy.";

/// The refusal of a launch type together with capacity providers.
pub const BOTH_LAUNCH: &str =
    "Specifying both a launch type and capacity provider strategy is not \
     supported. Remove one and try again.";

/// Whether the definition's tasks get their own network interface.
pub fn is_awsvpc(td: &TaskDefinition) -> bool {
    td.network_mode == Some(NetworkMode::Awsvpc)
}

/// The definition's network mode (`bridge` when it names none).
pub fn network_mode(td: &TaskDefinition) -> NetworkMode {
    td.network_mode.clone().unwrap_or(NetworkMode::Bridge)
}

/// Checks `networkConfiguration` against the definition's network mode.
pub fn check_network(
    td: &TaskDefinition,
    n: Option<&NetworkConfiguration>,
) -> Result<(), EcsError> {
    let given = n.and_then(|n| n.awsvpc_configuration.as_ref());
    if is_awsvpc(td) {
        let Some(vpc) = given else {
            return Err(EcsError::invalid_parameter(
                "Network Configuration must be provided when networkMode 'awsvpc' is specified.",
            ));
        };
        if vpc.subnets.as_ref().is_none_or(|s| s.is_empty()) {
            return Err(EcsError::invalid_parameter(
                "networkConfiguration.awsvpcConfiguration.subnets can not be empty.",
            ));
        }
        if vpc.subnets.as_ref().is_some_and(|s| s.len() > 16) {
            return Err(EcsError::invalid_parameter(
                "networkConfiguration.awsvpcConfiguration.subnets can have at most 16 items.",
            ));
        }
        if vpc.security_groups.as_ref().is_some_and(|s| s.len() > 5) {
            return Err(EcsError::invalid_parameter(
                "networkConfiguration.awsvpcConfiguration.securityGroups can have at most 5 items.",
            ));
        }
        if vpc.assign_public_ip.as_ref().is_some_and(|a| !a.is_known()) {
            return Err(EcsError::invalid_parameter(
                "networkConfiguration.awsvpcConfiguration.assignPublicIp must be ENABLED or \
                 DISABLED.",
            ));
        }
    } else if given.is_some() {
        return Err(EcsError::invalid_parameter(
            "Network Configuration is not valid for the given networkMode of this task definition.",
        ));
    }
    Ok(())
}

/// Checks each load balancer's container against the definition; the
/// target group checks need the ELBv2 state ([`check_target_groups`]).
pub fn check_containers(td: &TaskDefinition, lbs: &[LoadBalancer]) -> Result<(), EcsError> {
    for lb in lbs {
        if lb.load_balancer_name.is_some() {
            return Err(EcsError::invalid_parameter(
                "loadBalancers.loadBalancerName: Classic Load Balancers are not supported by \
                 Wharf; specify targetGroupArn.",
            ));
        }
        if lb.target_group_arn.as_deref().is_none_or(str::is_empty) {
            return Err(EcsError::invalid_parameter(
                "loadBalancers.targetGroupArn must be specified.",
            ));
        }
        let name = match lb.container_name.as_deref() {
            Some(n) if !n.is_empty() => n,
            _ => return Err(EcsError::invalid_parameter("Container Name can not be blank.")),
        };
        let Some(port) = lb.container_port else {
            return Err(EcsError::invalid_parameter(
                "loadBalancers.containerPort must be specified.",
            ));
        };
        let container = td
            .container_definitions
            .iter()
            .flatten()
            .find(|c| c.name.as_deref() == Some(name))
            .ok_or_else(|| {
                EcsError::invalid_parameter(format!(
                    "The container {name} does not exist in the task definition."
                ))
            })?;
        let has_port =
            container.port_mappings.iter().flatten().any(|p| p.container_port == Some(port));
        if !has_port {
            return Err(EcsError::invalid_parameter(format!(
                "The container {name} did not have a container port {port} defined."
            )));
        }
    }
    Ok(())
}

/// Checks placement rules; `td_constraints` counts toward ECS's limit of 10.
pub fn check_placement(
    td: Option<&TaskDefinition>,
    strategies: &[PlacementStrategy],
    constraints: &[PlacementConstraint],
) -> Result<(), EcsError> {
    placement::rules(strategies, constraints).map_err(EcsError::invalid_parameter)?;
    let in_td = td.and_then(|t| t.placement_constraints.as_ref()).map_or(0, Vec::len);
    if constraints.len() + in_td > 10 {
        return Err(EcsError::invalid_parameter(
            "placementConstraints can have at most 10 items, including those in the task \
             definition.",
        ));
    }
    Ok(())
}

/// Checks a deployment configuration and fills in ECS's defaults.
pub fn deployment_configuration(
    given: Option<DeploymentConfiguration>,
    strategy: &SchedulingStrategy,
) -> Result<DeploymentConfiguration, EcsError> {
    let mut c = given.unwrap_or_default();
    let chosen = c.strategy.clone().unwrap_or(DeploymentStrategy::Rolling);
    if !chosen.is_known() {
        return Err(EcsError::invalid_parameter(format!(
            "Invalid deploymentConfiguration.strategy '{chosen}'. Valid values: ROLLING, \
             BLUE_GREEN, LINEAR, CANARY."
        )));
    }
    if chosen != DeploymentStrategy::Rolling && *strategy == SchedulingStrategy::Daemon {
        return Err(EcsError::invalid_parameter(format!(
            "deploymentConfiguration.strategy {chosen} is not supported for services using the \
             DAEMON scheduling strategy."
        )));
    }
    if c.linear_configuration.is_some() && chosen != DeploymentStrategy::Linear {
        return Err(EcsError::invalid_parameter(
            "deploymentConfiguration.linearConfiguration is only valid with the LINEAR strategy.",
        ));
    }
    if c.canary_configuration.is_some() && chosen != DeploymentStrategy::Canary {
        return Err(EcsError::invalid_parameter(
            "deploymentConfiguration.canaryConfiguration is only valid with the CANARY strategy.",
        ));
    }
    if let Some(l) = &c.linear_configuration {
        if l.step_percent.is_some_and(|p| !tenths_between(p, 30, 1000)) {
            return Err(EcsError::invalid_parameter(
                "deploymentConfiguration.linearConfiguration.stepPercent must be a multiple of \
                 0.1 from 3.0 to 100.0.",
            ));
        }
        if l.step_bake_time_in_minutes.is_some_and(|b| !(0..=1440).contains(&b)) {
            return Err(EcsError::invalid_parameter(
                "deploymentConfiguration.linearConfiguration.stepBakeTimeInMinutes must be \
                 between 0 and 1440.",
            ));
        }
    }
    if let Some(k) = &c.canary_configuration {
        if k.canary_percent.is_some_and(|p| !tenths_between(p, 1, 1000)) {
            return Err(EcsError::invalid_parameter(
                "deploymentConfiguration.canaryConfiguration.canaryPercent must be a multiple of \
                 0.1 from 0.1 to 100.0.",
            ));
        }
        if k.canary_bake_time_in_minutes.is_some_and(|b| !(0..=1440).contains(&b)) {
            return Err(EcsError::invalid_parameter(
                "deploymentConfiguration.canaryConfiguration.canaryBakeTimeInMinutes must be \
                 between 0 and 1440.",
            ));
        }
    }
    if c.lifecycle_hooks.as_ref().is_some_and(|h| !h.is_empty()) {
        return Err(EcsError::invalid_parameter(LIFECYCLE_HOOKS));
    }
    let (max, min) = percents(Some(&c), strategy);
    if !(0..=100).contains(&min) {
        return Err(EcsError::invalid_parameter(
            "deploymentConfiguration.minimumHealthyPercent must be between 0 and 100.",
        ));
    }
    if *strategy == SchedulingStrategy::Daemon && max != 100 {
        return Err(EcsError::invalid_parameter(
            "deploymentConfiguration.maximumPercent must be 100 for a service using the DAEMON \
             scheduling strategy.",
        ));
    }
    if max < 100 {
        return Err(EcsError::invalid_parameter(
            "deploymentConfiguration.maximumPercent must be at least 100.",
        ));
    }
    if let Some(cb) = &c.deployment_circuit_breaker {
        if cb.enable.is_none() || cb.rollback.is_none() {
            return Err(EcsError::invalid_parameter(
                "deploymentConfiguration.deploymentCircuitBreaker requires both enable and \
                 rollback.",
            ));
        }
    }
    if let Some(a) = &c.alarms {
        if a.enable.is_none() || a.rollback.is_none() || a.alarm_names.is_none() {
            return Err(EcsError::invalid_parameter(
                "deploymentConfiguration.alarms requires alarmNames, enable and rollback.",
            ));
        }
    }
    if c.bake_time_in_minutes.is_some_and(|b| !(0..=1440).contains(&b)) {
        return Err(EcsError::invalid_parameter(
            "deploymentConfiguration.bakeTimeInMinutes must be between 0 and 1440.",
        ));
    }
    c.maximum_percent = Some(max);
    c.minimum_healthy_percent = Some(min);
    c.deployment_circuit_breaker
        .get_or_insert(DeploymentCircuitBreaker { enable: Some(false), rollback: Some(false) });
    c.strategy = Some(chosen);
    shift::fill_defaults(&mut c);
    Ok(c)
}

/// The refusal of `deploymentConfiguration.lifecycleHooks`: ECS runs them as
/// AWS Lambda functions, which Wharf cannot invoke.
pub const LIFECYCLE_HOOKS: &str = "deploymentConfiguration.lifecycleHooks are not supported by \
     Wharf: ECS invokes them as AWS Lambda functions, and Wharf cannot run Lambda functions. \
     Remove lifecycleHooks and try again.";

/// Whether `p` is a multiple of 0.1 within `lo..=hi` tenths.
fn tenths_between(p: f64, lo: u32, hi: u32) -> bool {
    let t = p * 10.0;
    p.is_finite()
        && (t - t.round()).abs() < 1e-6
        && t.round() >= f64::from(lo)
        && t.round() <= f64::from(hi)
}

/// Checks that a traffic-shifting strategy goes with the ECS deployment
/// controller, and each load balancer's `advancedConfiguration` with
/// such a strategy: the alternate target group and production listener
/// rule it needs (LINEAR and CANARY shift traffic, so they need a load
/// balancer).
pub fn check_strategy(
    config: &DeploymentConfiguration,
    controller: &DeploymentControllerType,
    lbs: &[LoadBalancer],
) -> Result<(), EcsError> {
    let alarms_on = config.alarms.as_ref().is_some_and(|a| a.enable == Some(true));
    if alarms_on && *controller != DeploymentControllerType::Ecs {
        return Err(EcsError::invalid_parameter(
            "deploymentConfiguration.alarms is only supported with the ECS deployment controller.",
        ));
    }
    let chosen = config.strategy.clone().unwrap_or(DeploymentStrategy::Rolling);
    if chosen == DeploymentStrategy::Rolling {
        return Ok(());
    }
    if *controller != DeploymentControllerType::Ecs {
        return Err(EcsError::invalid_parameter(format!(
            "deploymentConfiguration.strategy {chosen} is only supported with the ECS \
             deployment controller."
        )));
    }
    if lbs.is_empty() && chosen != DeploymentStrategy::BlueGreen {
        return Err(EcsError::invalid_parameter(format!(
            "The {chosen} deployment strategy requires loadBalancers with an \
             advancedConfiguration."
        )));
    }
    for lb in lbs {
        let Some(adv) = lb.advanced_configuration.as_ref() else {
            return Err(EcsError::invalid_parameter(format!(
                "loadBalancers.advancedConfiguration must be specified for the {chosen} \
                 deployment strategy."
            )));
        };
        let alternate = adv.alternate_target_group_arn.as_deref().unwrap_or_default();
        if alternate.is_empty() {
            return Err(EcsError::invalid_parameter(
                "loadBalancers.advancedConfiguration.alternateTargetGroupArn must be specified.",
            ));
        }
        if Some(alternate) == lb.target_group_arn.as_deref() {
            return Err(EcsError::invalid_parameter(
                "loadBalancers.advancedConfiguration.alternateTargetGroupArn must differ from \
                 targetGroupArn.",
            ));
        }
        if adv.production_listener_rule.as_deref().is_none_or(str::is_empty) {
            return Err(EcsError::invalid_parameter(
                "loadBalancers.advancedConfiguration.productionListenerRule must be specified.",
            ));
        }
        if adv.test_listener_rule.is_some()
            && adv.test_listener_rule == adv.production_listener_rule
        {
            return Err(EcsError::invalid_parameter(
                "loadBalancers.advancedConfiguration.testListenerRule must differ from \
                 productionListenerRule.",
            ));
        }
    }
    Ok(())
}

/// Merges an UpdateService deployment configuration over the current one.
pub fn merge_configuration(
    current: Option<&DeploymentConfiguration>,
    given: DeploymentConfiguration,
) -> DeploymentConfiguration {
    let mut c = current.cloned().unwrap_or_default();
    if given.strategy.is_some() && given.strategy != c.strategy {
        // The old strategy's own settings go with it.
        c.linear_configuration = None;
        c.canary_configuration = None;
    }
    macro_rules! over {
        ($($f:ident),*) => { $( if given.$f.is_some() { c.$f = given.$f; } )* };
    }
    over!(
        deployment_circuit_breaker,
        maximum_percent,
        minimum_healthy_percent,
        alarms,
        strategy,
        bake_time_in_minutes,
        lifecycle_hooks,
        linear_configuration,
        canary_configuration
    );
    c
}

/// Checks `healthCheckGracePeriodSeconds`.
pub fn check_grace_period(v: Option<i32>) -> Result<(), EcsError> {
    if v.is_some_and(|v| v < 0) {
        return Err(EcsError::invalid_parameter(
            "healthCheckGracePeriodSeconds must be between 0 and 2147483647.",
        ));
    }
    Ok(())
}

/// Checks `propagateTags`.
pub fn check_propagate(p: Option<&PropagateTags>) -> Result<(), EcsError> {
    match p {
        Some(p) if !p.is_known() => Err(EcsError::invalid_parameter(format!(
            "Invalid propagateTags '{p}'. Valid values: TASK_DEFINITION, SERVICE, NONE."
        ))),
        _ => Ok(()),
    }
}

/// Refuses the parts of a service Wharf does not implement, naming them.
pub fn refuse_unsupported(
    registries: bool,
    connect: bool,
    volumes: bool,
    lattice: bool,
) -> Result<(), EcsError> {
    for (given, field) in [
        (registries, "serviceRegistries"),
        (connect, "serviceConnectConfiguration"),
        (volumes, "volumeConfigurations"),
        (lattice, "vpcLatticeConfigurations"),
    ] {
        if given {
            return Err(EcsError::invalid_parameter(format!("{field} is not supported by Wharf.")));
        }
    }
    Ok(())
}

/// `platformVersion` as the service shows it: `LATEST` for Fargate unless
/// given (one of Fargate's Linux versions); refused for the other launch
/// types.
pub fn platform_version(fargate: bool, given: Option<String>) -> Result<Option<String>, EcsError> {
    const KNOWN: &[&str] = &["LATEST", "1.4.0", "1.3.0", "1.2.0", "1.1.0", "1.0.0"];
    match (fargate, given) {
        (true, Some(g)) if !KNOWN.contains(&g.as_str()) => Err(EcsError::new(
            EcsErrorKind::PlatformUnknownException,
            "The specified platform version does not exist.",
        )),
        (true, g) => Ok(Some(g.unwrap_or_else(|| "LATEST".to_owned()))),
        (false, None) => Ok(None),
        (false, Some(_)) => Err(EcsError::invalid_parameter(
            "The platform version must be null when specifying an EC2 launch type.",
        )),
    }
}

/// Whether a launch type or capacity provider strategy runs on Fargate.
pub fn uses_fargate(
    lt: Option<&LaunchType>,
    cps: Option<&Vec<CapacityProviderStrategyItem>>,
) -> bool {
    lt == Some(&LaunchType::Fargate)
        || cps.is_some_and(|s| {
            s.iter()
                .any(|i| i.capacity_provider.as_deref().is_some_and(|n| n.starts_with("FARGATE")))
        })
}

/// What CreateService compares to decide whether a repeat is identical.
pub fn spec(s: &Service) -> Value {
    const KEYS: &[&str] = &[
        "taskDefinition",
        "desiredCount",
        "launchType",
        "capacityProviderStrategy",
        "platformVersion",
        "loadBalancers",
        "networkConfiguration",
        "placementConstraints",
        "placementStrategy",
        "schedulingStrategy",
        "deploymentController",
        "deploymentConfiguration",
        "healthCheckGracePeriodSeconds",
        "enableECSManagedTags",
        "propagateTags",
        "enableExecuteCommand",
        "roleArn",
        "availabilityZoneRebalancing",
    ];
    let v = serde_json::to_value(s).unwrap_or(Value::Null);
    let daemon = s.scheduling_strategy == Some(SchedulingStrategy::Daemon);
    KEYS.iter()
        .filter(|k| !(daemon && **k == "desiredCount"))
        .map(|k| ((*k).to_owned(), v.get(*k).cloned().unwrap_or(Value::Null)))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// The deployment controller a CreateService asks for (`ECS` when none).
pub fn deployment_controller(
    given: Option<DeploymentController>,
) -> Result<DeploymentControllerType, EcsError> {
    let controller = given.and_then(|c| c.r#type).unwrap_or(DeploymentControllerType::Ecs);
    match &controller {
        DeploymentControllerType::Ecs
        | DeploymentControllerType::External
        | DeploymentControllerType::CodeDeploy => Ok(controller),
        other => Err(EcsError::invalid_parameter(format!(
            "Invalid deploymentController type '{other}'. Valid values: ECS, CODE_DEPLOY, \
             EXTERNAL."
        ))),
    }
}

/// Refuses, by name, what an UpdateService of a service of the CODE_DEPLOY
/// controller may not change: what its tasks run changes with a CodeDeploy
/// deployment.
pub fn refuse_for_code_deploy_update(fields: &[(bool, &str)]) -> Result<(), EcsError> {
    match fields.iter().find(|(given, _)| *given) {
        Some((_, field)) => Err(EcsError::invalid_parameter(format!(
            "Unable to update {field} on a service using the CODE_DEPLOY deployment controller. \
             Use AWS CodeDeploy to deploy a new task definition, network configuration, platform \
             version or load balancer."
        ))),
        None => Ok(()),
    }
}

/// A CreateService's scheduling strategy (`REPLICA` when none) and desired
/// count: required for a REPLICA service of the ECS controller, 0 when an
/// EXTERNAL one gives none, refused for DAEMON (which runs one task per
/// instance).
pub fn scheduling(
    given: Option<SchedulingStrategy>,
    external: bool,
    desired: Option<i32>,
) -> Result<(SchedulingStrategy, i32), EcsError> {
    let strategy = given.unwrap_or(SchedulingStrategy::Replica);
    if !strategy.is_known() {
        return Err(EcsError::invalid_parameter(format!(
            "Invalid schedulingStrategy '{strategy}'. Valid values: REPLICA, DAEMON."
        )));
    }
    let daemon = strategy == SchedulingStrategy::Daemon;
    if daemon && external {
        return Err(EcsError::invalid_parameter(
            "The daemon scheduling strategy does not support the EXTERNAL deployment controller.",
        ));
    }
    if daemon && desired.is_some() {
        return Err(EcsError::invalid_parameter(DAEMON_DESIRED));
    }
    let desired = match (daemon, external, desired) {
        (true, _, _) => 0,
        (false, true, d) => d.unwrap_or(0),
        (false, false, Some(d)) => d,
        (false, false, None) => {
            return Err(EcsError::invalid_parameter("desiredCount must be specified."))
        }
    };
    if desired < 0 {
        return Err(EcsError::invalid_parameter(
            "desiredCount must be greater than or equal to 0.",
        ));
    }
    Ok((strategy, desired))
}

/// Refuses what a service of the EXTERNAL controller takes on its task sets
/// instead: each `(given, field)` given is refused by name.
pub fn refuse_for_external(fields: &[(bool, &str)]) -> Result<(), EcsError> {
    match fields.iter().find(|(given, _)| *given) {
        Some((_, field)) => Err(EcsError::invalid_parameter(format!(
            "{field} cannot be specified for a service that uses the EXTERNAL deployment \
             controller; specify it on the task set."
        ))),
        None => Ok(()),
    }
}

/// Refuses, by name, what an UpdateService of a service of the EXTERNAL
/// controller may not change: each `(given, field)` given.
pub fn refuse_for_external_update(fields: &[(bool, &str)]) -> Result<(), EcsError> {
    match fields.iter().find(|(given, _)| *given) {
        Some((_, field)) => Err(EcsError::invalid_parameter(format!(
            "For a service that uses the EXTERNAL deployment controller, only the desired \
             count, placement constraints and strategies, health check grace period, \
             enableECSManagedTags and propagateTags can be updated; {field} cannot."
        ))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_fill_in_as_ecs_shows_them() {
        let c = deployment_configuration(None, &SchedulingStrategy::Replica).unwrap();
        assert_eq!((c.maximum_percent, c.minimum_healthy_percent), (Some(200), Some(100)));
        assert_eq!(c.strategy, Some(DeploymentStrategy::Rolling));
        let d = deployment_configuration(None, &SchedulingStrategy::Daemon).unwrap();
        assert_eq!((d.maximum_percent, d.minimum_healthy_percent), (Some(100), Some(0)));
        let bad = DeploymentConfiguration { maximum_percent: Some(200), ..Default::default() };
        assert!(deployment_configuration(Some(bad), &SchedulingStrategy::Daemon).is_err());
    }

    #[test]
    fn deployment_alarms_need_every_member_and_the_ecs_controller() {
        use crate::ecs::shapes::DeploymentAlarms;
        let with =
            |a: DeploymentAlarms| DeploymentConfiguration { alarms: Some(a), ..Default::default() };
        let full = DeploymentAlarms {
            alarm_names: Some(vec!["a".into()]),
            enable: Some(true),
            rollback: Some(false),
        };
        let c = deployment_configuration(Some(with(full.clone())), &SchedulingStrategy::Replica);
        assert!(c.is_ok(), "{c:?}");
        for partial in [
            DeploymentAlarms { alarm_names: None, ..full.clone() },
            DeploymentAlarms { enable: None, ..full.clone() },
            DeploymentAlarms { rollback: None, ..full.clone() },
        ] {
            let err = deployment_configuration(Some(with(partial)), &SchedulingStrategy::Replica)
                .expect_err("refused");
            assert!(err.message.contains("deploymentConfiguration.alarms"), "{err:?}");
        }
        let config = with(full.clone());
        assert!(check_strategy(&config, &DeploymentControllerType::Ecs, &[]).is_ok());
        let err = check_strategy(&config, &DeploymentControllerType::CodeDeploy, &[])
            .expect_err("refused");
        assert!(err.message.contains("deploymentConfiguration.alarms"), "{err:?}");
        // Disabled alarms are kept whatever the controller.
        let off = with(DeploymentAlarms { enable: Some(false), ..full });
        assert!(check_strategy(&off, &DeploymentControllerType::External, &[]).is_ok());
    }
}
