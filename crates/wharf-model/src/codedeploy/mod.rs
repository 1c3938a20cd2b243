//! AWS CodeDeploy for Amazon ECS: applications (compute platform `ECS`),
//! their deployment groups and deployment configurations, as the store keeps
//! them, and the rules CodeDeploy checks on them.
//!
//! An application is one store document ([`ApplicationRecord`]) holding its
//! deployment groups, so creating or deleting a group is one transaction. A
//! custom deployment configuration is a document of its own; the predefined
//! ECS configurations ([`predefined`]) are never stored.
//!
//! Wharf serves CodeDeploy for ECS only: `Server` and `Lambda` applications
//! are refused by name, and so are the EC2 and on-premises members of a
//! deployment group.

pub mod deployment;
mod error;
pub mod shapes;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use error::{CodeDeployError, CodeDeployErrorKind};
use shapes::{
    ApplicationInfo, ComputePlatform, CreateDeploymentGroupInput, DeploymentConfigInfo,
    DeploymentGroupInfo, DeploymentOption, DeploymentType, Tag, TimeBasedCanary, TimeBasedLinear,
    TrafficRoutingConfig, TrafficRoutingType,
};

/// The exceptions Wharf raises (the tests check each is in the model).
pub const RAISED: &[&str] = &[
    "ApplicationAlreadyExistsException",
    "ApplicationDoesNotExistException",
    "ApplicationNameRequiredException",
    "InvalidApplicationNameException",
    "InvalidComputePlatformException",
    "DeploymentGroupAlreadyExistsException",
    "DeploymentGroupDoesNotExistException",
    "DeploymentGroupNameRequiredException",
    "InvalidDeploymentGroupNameException",
    "DeploymentConfigAlreadyExistsException",
    "DeploymentConfigDoesNotExistException",
    "DeploymentConfigNameRequiredException",
    "InvalidDeploymentConfigNameException",
    "DeploymentConfigInUseException",
    "InvalidTrafficRoutingConfigurationException",
    "InvalidMinimumHealthyHostValueException",
    "RoleRequiredException",
    "InvalidRoleException",
    "InvalidDeploymentStyleException",
    "InvalidBlueGreenDeploymentConfigurationException",
    "InvalidLoadBalancerInfoException",
    "InvalidTargetGroupPairException",
    "InvalidECSServiceException",
    "ECSServiceMappingLimitExceededException",
    "InvalidInputException",
    "InvalidNextTokenException",
    "InvalidTagsToAddException",
    "InvalidRevisionException",
    "RevisionRequiredException",
    "DeploymentDoesNotExistException",
    "DeploymentIdRequiredException",
    "InvalidDeploymentIdException",
    "DeploymentAlreadyCompletedException",
    "DeploymentLimitExceededException",
    "DeploymentIsNotInReadyStateException",
    "InvalidDeploymentWaitTypeException",
    "InvalidDeploymentConfigNameException",
];

/// An application as the store keeps it: its info, tags and deployment
/// groups by name.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationRecord {
    /// What GetApplication answers.
    pub application: ApplicationInfo,
    /// Its tags.
    #[serde(default)]
    pub tags: Vec<Tag>,
    /// Its deployment groups, by name.
    #[serde(default)]
    pub groups: BTreeMap<String, DeploymentGroupInfo>,
}

/// Whether `name` is a valid application, deployment group or deployment
/// configuration name: 1 to 100 characters.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.chars().count() <= 100
}

/// Checks an application name: `ApplicationNameRequiredException` when
/// missing, `InvalidApplicationNameException` when too long.
pub fn application_name(given: Option<String>) -> Result<String, CodeDeployError> {
    let name = given.filter(|n| !n.is_empty()).ok_or_else(|| {
        CodeDeployError::new(
            "ApplicationNameRequiredException",
            "The minimum number of required application names was not specified.",
        )
    })?;
    if !valid_name(&name) {
        return Err(CodeDeployError::new(
            "InvalidApplicationNameException",
            "The application name was specified in an invalid format.",
        ));
    }
    Ok(name)
}

/// Checks a deployment group name.
pub fn group_name(given: Option<String>) -> Result<String, CodeDeployError> {
    let name = given.filter(|n| !n.is_empty()).ok_or_else(|| {
        CodeDeployError::new(
            "DeploymentGroupNameRequiredException",
            "The deployment group name was not specified.",
        )
    })?;
    if !valid_name(&name) {
        return Err(CodeDeployError::new(
            "InvalidDeploymentGroupNameException",
            "The deployment group name was specified in an invalid format.",
        ));
    }
    Ok(name)
}

/// Checks a deployment configuration name.
pub fn config_name(given: Option<String>) -> Result<String, CodeDeployError> {
    let name = given.filter(|n| !n.is_empty()).ok_or_else(|| {
        CodeDeployError::new(
            "DeploymentConfigNameRequiredException",
            "The deployment configuration name was not specified.",
        )
    })?;
    if !valid_name(&name) {
        return Err(CodeDeployError::new(
            "InvalidDeploymentConfigNameException",
            "The deployment configuration name was specified in an invalid format.",
        ));
    }
    Ok(name)
}

/// Refuses compute platforms other than ECS, the one Wharf serves.
pub fn check_platform(p: Option<&ComputePlatform>) -> Result<ComputePlatform, CodeDeployError> {
    match p {
        Some(ComputePlatform::Ecs) => Ok(ComputePlatform::Ecs),
        Some(ComputePlatform::Server | ComputePlatform::Lambda) | None => {
            Err(CodeDeployError::new(
                "InvalidComputePlatformException",
                format!(
                    "computePlatform {} is not supported by Wharf; only ECS is.",
                    p.map_or("Server", ComputePlatform::as_str)
                ),
            ))
        }
        Some(other) => Err(CodeDeployError::new(
            "InvalidComputePlatformException",
            format!("The computePlatform '{other}' is invalid. Valid values: Server, Lambda, ECS."),
        )),
    }
}

/// A predefined ECS configuration.
fn ecs_config(name: &str, routing: TrafficRoutingConfig) -> DeploymentConfigInfo {
    DeploymentConfigInfo {
        deployment_config_id: Some(format!("{:08x}-0000-4000-8000-000000000000", name.len())),
        deployment_config_name: Some(name.to_owned()),
        compute_platform: Some(ComputePlatform::Ecs),
        traffic_routing_config: Some(routing),
        ..DeploymentConfigInfo::default()
    }
}

fn linear(percentage: i32, interval: i32) -> TrafficRoutingConfig {
    TrafficRoutingConfig {
        r#type: Some(TrafficRoutingType::TimeBasedLinear),
        time_based_linear: Some(TimeBasedLinear {
            linear_percentage: Some(percentage),
            linear_interval: Some(interval),
        }),
        ..TrafficRoutingConfig::default()
    }
}

fn canary(percentage: i32, interval: i32) -> TrafficRoutingConfig {
    TrafficRoutingConfig {
        r#type: Some(TrafficRoutingType::TimeBasedCanary),
        time_based_canary: Some(TimeBasedCanary {
            canary_percentage: Some(percentage),
            canary_interval: Some(interval),
        }),
        ..TrafficRoutingConfig::default()
    }
}

/// CodeDeploy's predefined ECS deployment configurations.
pub fn predefined() -> Vec<DeploymentConfigInfo> {
    let all = TrafficRoutingConfig {
        r#type: Some(TrafficRoutingType::AllAtOnce),
        ..TrafficRoutingConfig::default()
    };
    vec![
        ecs_config("CodeDeployDefault.ECSAllAtOnce", all),
        ecs_config("CodeDeployDefault.ECSLinear10PercentEvery1Minutes", linear(10, 1)),
        ecs_config("CodeDeployDefault.ECSLinear10PercentEvery3Minutes", linear(10, 3)),
        ecs_config("CodeDeployDefault.ECSCanary10Percent5Minutes", canary(10, 5)),
        ecs_config("CodeDeployDefault.ECSCanary10Percent15Minutes", canary(10, 15)),
    ]
}

/// The predefined configuration of that name.
pub fn predefined_named(name: &str) -> Option<DeploymentConfigInfo> {
    predefined().into_iter().find(|c| c.deployment_config_name.as_deref() == Some(name))
}

/// Checks a custom configuration's traffic routing (ECS configurations
/// route traffic; `minimumHealthyHosts` is for the Server platform).
pub fn check_routing(r: Option<&TrafficRoutingConfig>) -> Result<(), CodeDeployError> {
    let bad = |m: &str| CodeDeployError::new("InvalidTrafficRoutingConfigurationException", m);
    let Some(r) = r else { return Err(bad("trafficRoutingConfig must be specified for ECS.")) };
    let pct_ok = |p: Option<i32>| p.is_some_and(|p| (1..=99).contains(&p));
    let minutes_ok = |m: Option<i32>| m.is_some_and(|m| (1..=2880).contains(&m));
    match &r.r#type {
        Some(TrafficRoutingType::AllAtOnce) => Ok(()),
        Some(TrafficRoutingType::TimeBasedLinear) => {
            let l = r.time_based_linear.as_ref().ok_or_else(|| {
                bad("timeBasedLinear must be specified for a TimeBasedLinear configuration.")
            })?;
            if !pct_ok(l.linear_percentage) || !minutes_ok(l.linear_interval) {
                return Err(bad(
                    "timeBasedLinear.linearPercentage must be 1 to 99 and linearInterval 1 to \
                     2880 minutes.",
                ));
            }
            Ok(())
        }
        Some(TrafficRoutingType::TimeBasedCanary) => {
            let c = r.time_based_canary.as_ref().ok_or_else(|| {
                bad("timeBasedCanary must be specified for a TimeBasedCanary configuration.")
            })?;
            if !pct_ok(c.canary_percentage) || !minutes_ok(c.canary_interval) {
                return Err(bad(
                    "timeBasedCanary.canaryPercentage must be 1 to 99 and canaryInterval 1 to \
                     2880 minutes.",
                ));
            }
            Ok(())
        }
        _ => Err(bad(
            "trafficRoutingConfig.type must be one of TimeBasedCanary, TimeBasedLinear, AllAtOnce.",
        )),
    }
}

/// Checks what an ECS deployment group needs (CreateDeploymentGroup, and
/// UpdateDeploymentGroup on the merged group): a service role, the
/// BLUE_GREEN / WITH_TRAFFIC_CONTROL style, a blue/green configuration, one
/// ECS service and one target group pair of two groups with one production
/// listener; refuses the EC2 and on-premises members.
pub fn check_ecs_group(g: &CreateDeploymentGroupInput) -> Result<(), CodeDeployError> {
    if g.service_role_arn.as_deref().is_none_or(str::is_empty) {
        return Err(CodeDeployError::new(
            "RoleRequiredException",
            "The role ID was not specified.",
        ));
    }
    if g.service_role_arn.as_deref().is_some_and(|r| !r.starts_with("arn:")) {
        return Err(CodeDeployError::new(
            "InvalidRoleException",
            "The service role ARN was specified in an invalid format.",
        ));
    }
    for (given, field) in [
        (g.ec2_tag_filters_given(), "ec2TagFilters"),
        (
            g.on_premises_instance_tag_filters.as_ref().is_some_and(|v| !v.is_empty()),
            "onPremisesInstanceTagFilters",
        ),
        (g.auto_scaling_groups.as_ref().is_some_and(|v| !v.is_empty()), "autoScalingGroups"),
        (g.on_premises_tag_set.is_some(), "onPremisesTagSet"),
    ] {
        if given {
            return Err(CodeDeployError::invalid_input(format!(
                "{field} cannot be specified for an ECS deployment group."
            )));
        }
    }
    let style = g.deployment_style.as_ref();
    if style.and_then(|s| s.deployment_type.as_ref()) != Some(&DeploymentType::BlueGreen)
        || style.and_then(|s| s.deployment_option.as_ref())
            != Some(&DeploymentOption::WithTrafficControl)
    {
        return Err(CodeDeployError::new(
            "InvalidDeploymentStyleException",
            "An ECS deployment group requires deploymentStyle deploymentType BLUE_GREEN and \
             deploymentOption WITH_TRAFFIC_CONTROL.",
        ));
    }
    if g.blue_green_deployment_configuration.is_none() {
        return Err(CodeDeployError::new(
            "InvalidBlueGreenDeploymentConfigurationException",
            "blueGreenDeploymentConfiguration must be specified for an ECS deployment group.",
        ));
    }
    let services = g.ecs_services.as_deref().unwrap_or_default();
    if services.is_empty() {
        return Err(CodeDeployError::new(
            "InvalidECSServiceException",
            "ecsServices must name one ECS service (serviceName and clusterName).",
        ));
    }
    if services.len() > 1 {
        return Err(CodeDeployError::new(
            "ECSServiceMappingLimitExceededException",
            "An ECS deployment group can name only one ECS service.",
        ));
    }
    if services[0].service_name.as_deref().is_none_or(str::is_empty)
        || services[0].cluster_name.as_deref().is_none_or(str::is_empty)
    {
        return Err(CodeDeployError::new(
            "InvalidECSServiceException",
            "ecsServices requires serviceName and clusterName.",
        ));
    }
    let pairs = g
        .load_balancer_info
        .as_ref()
        .and_then(|l| l.target_group_pair_info_list.as_deref())
        .unwrap_or_default();
    if pairs.len() != 1 {
        return Err(CodeDeployError::new(
            "InvalidLoadBalancerInfoException",
            "loadBalancerInfo.targetGroupPairInfoList must have exactly one target group pair \
             for an ECS deployment group.",
        ));
    }
    let pair = &pairs[0];
    let groups = pair.target_groups.as_deref().unwrap_or_default();
    if groups.len() != 2 || groups.iter().any(|t| t.name.as_deref().is_none_or(str::is_empty)) {
        return Err(CodeDeployError::new(
            "InvalidTargetGroupPairException",
            "targetGroupPairInfoList.targetGroups must name two target groups.",
        ));
    }
    if groups[0].name == groups[1].name {
        return Err(CodeDeployError::new(
            "InvalidTargetGroupPairException",
            "The two target groups of a pair must be different.",
        ));
    }
    let prod = pair.prod_traffic_route.as_ref().and_then(|r| r.listener_arns.as_deref());
    if prod.is_none_or(|l| l.len() != 1) {
        return Err(CodeDeployError::new(
            "InvalidTargetGroupPairException",
            "targetGroupPairInfoList.prodTrafficRoute.listenerArns must have one listener.",
        ));
    }
    if pair
        .test_traffic_route
        .as_ref()
        .and_then(|r| r.listener_arns.as_ref())
        .is_some_and(|l| l.len() > 1)
    {
        return Err(CodeDeployError::new(
            "InvalidTargetGroupPairException",
            "targetGroupPairInfoList.testTrafficRoute.listenerArns can have at most one listener.",
        ));
    }
    Ok(())
}

impl CreateDeploymentGroupInput {
    fn ec2_tag_filters_given(&self) -> bool {
        self.ec2_tag_filters.as_ref().is_some_and(|v| !v.is_empty()) || self.ec2_tag_set.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_predefined_ecs_configurations_are_valid() {
        let all = predefined();
        assert_eq!(all.len(), 5);
        for c in &all {
            check_routing(c.traffic_routing_config.as_ref()).expect("valid");
        }
        let c = predefined_named("CodeDeployDefault.ECSCanary10Percent15Minutes").expect("known");
        let canary = c.traffic_routing_config.and_then(|r| r.time_based_canary).expect("canary");
        assert_eq!((canary.canary_percentage, canary.canary_interval), (Some(10), Some(15)));
    }

    #[test]
    fn routing_outside_its_bounds_is_refused() {
        assert!(check_routing(Some(&linear(0, 1))).is_err());
        assert!(check_routing(Some(&linear(10, 0))).is_err());
        assert!(check_routing(Some(&canary(100, 1))).is_err());
        assert!(check_routing(None).is_err());
    }
}
