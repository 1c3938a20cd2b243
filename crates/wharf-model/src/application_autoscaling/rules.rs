//! Application Auto Scaling's checks and names for ECS services: resource
//! IDs (`service/<cluster>/<service>`), the one dimension Wharf scales,
//! capacities, ARNs, and the metrics and alarms a target tracking policy
//! tracks with.

use super::shapes::{
    MetricStatistic, MetricType, ScalableDimension, ServiceNamespace,
    TargetTrackingScalingPolicyConfiguration,
};
use super::ScalingError;

/// The cooldown ECS's scaling policies get when none is given, seconds.
pub const DEFAULT_COOLDOWN_S: i32 = 300;
/// The most scaling activities kept per scalable target.
pub const MAX_ACTIVITIES: usize = 100;
/// The periods the high alarm of a target tracking policy looks at.
pub const HIGH_PERIODS: u32 = 3;
/// The periods the low alarm looks at.
pub const LOW_PERIODS: u32 = 15;
/// The low alarm's threshold, as a share of the target value.
pub const LOW_SHARE: f64 = 0.9;

/// Checks the namespace and dimension (Wharf scales ECS services' desired
/// count only) and the resource ID; the cluster and service it names.
pub fn ecs_service<'a>(
    namespace: Option<&ServiceNamespace>,
    resource_id: Option<&'a str>,
    dimension: Option<&ScalableDimension>,
) -> Result<(&'a str, &'a str), ScalingError> {
    let namespace = namespace.ok_or_else(|| null("serviceNamespace"))?;
    if *namespace != ServiceNamespace::Ecs {
        return Err(ScalingError::validation(format!(
            "Unsupported service namespace: {namespace}. Wharf scales ecs only."
        )));
    }
    let resource_id = resource_id.ok_or_else(|| null("resourceId"))?;
    let dimension = dimension.ok_or_else(|| null("scalableDimension"))?;
    if *dimension != ScalableDimension::EcsServiceDesiredCount {
        return Err(ScalingError::validation(format!(
            "Unsupported scalable dimension {dimension} for service namespace ecs. Use \
             ecs:service:DesiredCount."
        )));
    }
    service_of(resource_id)
}

/// The cluster and service of `service/<cluster>/<service>`.
pub fn service_of(resource_id: &str) -> Result<(&str, &str), ScalingError> {
    let mut parts = resource_id.splitn(3, '/');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("service"), Some(c), Some(s))
            if !c.is_empty() && !s.is_empty() && !s.contains('/') =>
        {
            Ok((c, s))
        }
        _ => Err(ScalingError::validation(format!(
            "Unsupported resource ID {resource_id} for service namespace ecs. Expected \
             service/<cluster-name>/<service-name>."
        ))),
    }
}

/// The error AWS gives for a required member that is null.
pub fn null(member: &str) -> ScalingError {
    ScalingError::validation(format!(
        "1 validation error detected: Value null at '{member}' failed to satisfy constraint: \
         Member must not be null"
    ))
}

/// The key a scalable target is kept under.
pub fn key(resource_id: &str) -> String {
    format!("{resource_id}|ecs:service:DesiredCount")
}

/// `ObjectNotFoundException` for a target that is not registered.
pub fn no_target(resource_id: &str) -> ScalingError {
    ScalingError::not_found(format!(
        "No scalable target registered for service namespace: ecs, resource ID: {resource_id}, \
         scalable dimension: ecs:service:DesiredCount"
    ))
}

/// Checks a minimum and maximum capacity.
pub fn check_capacities(min: i32, max: i32) -> Result<(), ScalingError> {
    if min < 0 || max < 0 {
        return Err(ScalingError::validation("Capacities must be non-negative."));
    }
    if min > max {
        return Err(ScalingError::validation(format!(
            "Minimum capacity ({min}) cannot be greater than maximum capacity ({max})"
        )));
    }
    Ok(())
}

/// A scalable target's ARN.
pub fn target_arn(region: &str, account: &str, id: &str) -> String {
    format!("arn:aws:application-autoscaling:{region}:{account}:scalable-target/{id}")
}

/// A scaling policy's ARN.
pub fn policy_arn(region: &str, account: &str, id: &str, resource_id: &str, name: &str) -> String {
    format!(
        "arn:aws:autoscaling:{region}:{account}:scalingPolicy:{id}:resource/ecs/{resource_id}:\
         policyName/{name}"
    )
}

/// A scheduled action's ARN.
pub fn scheduled_action_arn(
    region: &str,
    account: &str,
    id: &str,
    resource_id: &str,
    name: &str,
) -> String {
    format!(
        "arn:aws:autoscaling:{region}:{account}:scheduledAction:{id}:resource/ecs/{resource_id}:\
         scheduledActionName/{name}"
    )
}

/// Checks a policy or action name: 1 to 256 characters, no `:`, `/` or `|`.
pub fn check_name(name: &str, member: &str) -> Result<(), ScalingError> {
    let ok = (1..=256).contains(&name.chars().count()) && !name.contains([':', '/', '|']);
    if ok {
        Ok(())
    } else {
        Err(ScalingError::validation(format!(
            "1 validation error detected: Value '{name}' at '{member}' failed to satisfy \
             constraint: Member must satisfy regular expression pattern: \
             [\\p{{Print}}&&[^|:/]]+ and length 1 to 256"
        )))
    }
}

/// The metric a target tracking policy tracks: namespace, name,
/// dimensions and statistic.
#[derive(Debug, Clone, PartialEq)]
pub struct Tracked {
    /// `AWS/ECS`, ...
    pub namespace: String,
    /// `CPUUtilization`, ...
    pub name: String,
    /// (name, value).
    pub dimensions: Vec<(String, String)>,
    /// `Average`, `Sum`, ...
    pub statistic: String,
    /// The unit, if the policy named one.
    pub unit: Option<String>,
}

/// The metric a target tracking configuration tracks for the service
/// `cluster`/`service`, checked as Application Auto Scaling checks it.
pub fn tracked(
    config: &TargetTrackingScalingPolicyConfiguration,
    cluster: &str,
    service: &str,
) -> Result<Tracked, ScalingError> {
    let target = config
        .target_value
        .ok_or_else(|| null("targetTrackingScalingPolicyConfiguration.targetValue"))?;
    if !(target.is_finite() && target > 0.0) {
        return Err(ScalingError::validation("The target value must be greater than 0."));
    }
    for (value, member) in [
        (config.scale_out_cooldown, "scaleOutCooldown"),
        (config.scale_in_cooldown, "scaleInCooldown"),
    ] {
        if value.is_some_and(|v| !(0..=86_400).contains(&v)) {
            return Err(ScalingError::validation(format!(
                "{member} must be between 0 and 86400 seconds."
            )));
        }
    }
    let service_dims = vec![
        ("ClusterName".to_owned(), cluster.to_owned()),
        ("ServiceName".to_owned(), service.to_owned()),
    ];
    match (&config.predefined_metric_specification, &config.customized_metric_specification) {
        (Some(p), None) => {
            let t = p.predefined_metric_type.as_ref().ok_or_else(|| {
                null("targetTrackingScalingPolicyConfiguration.predefinedMetricSpecification.predefinedMetricType")
            })?;
            match t {
                MetricType::ECSServiceAverageCPUUtilization
                | MetricType::ECSServiceAverageMemoryUtilization => {
                    if p.resource_label.is_some() {
                        return Err(ScalingError::validation(format!(
                            "The resource label is not allowed for predefined metric type {t}."
                        )));
                    }
                    let name = if *t == MetricType::ECSServiceAverageCPUUtilization {
                        "CPUUtilization"
                    } else {
                        "MemoryUtilization"
                    };
                    Ok(Tracked {
                        namespace: "AWS/ECS".into(),
                        name: name.into(),
                        dimensions: service_dims,
                        statistic: "Average".into(),
                        unit: Some("Percent".into()),
                    })
                }
                MetricType::ALBRequestCountPerTarget => {
                    let label = p.resource_label.as_deref().ok_or_else(|| {
                        ScalingError::validation(
                            "A resource label is required for predefined metric type \
                             ALBRequestCountPerTarget.",
                        )
                    })?;
                    let group = label
                        .split_once("/targetgroup/")
                        .filter(|(lb, _)| lb.starts_with("app/"))
                        .map(|(_, tg)| format!("targetgroup/{tg}"))
                        .ok_or_else(|| {
                            ScalingError::validation(format!(
                                "Invalid resource label {label} for predefined metric type \
                                 ALBRequestCountPerTarget. Expected \
                                 app/<load-balancer-name>/<load-balancer-id>/targetgroup/\
                                 <target-group-name>/<target-group-id>."
                            ))
                        })?;
                    Ok(Tracked {
                        namespace: "AWS/ApplicationELB".into(),
                        name: "RequestCountPerTarget".into(),
                        dimensions: vec![("TargetGroup".into(), group)],
                        statistic: "Sum".into(),
                        unit: None,
                    })
                }
                other => Err(ScalingError::validation(format!(
                    "Unsupported predefined metric type {other} for service namespace ecs."
                ))),
            }
        }
        (None, Some(c)) => {
            if c.metrics.as_ref().is_some_and(|m| !m.is_empty()) {
                return Err(ScalingError::validation(
                    "Metric math (customizedMetricSpecification.metrics) is not supported by \
                     Wharf; name one metric.",
                ));
            }
            let name = c.metric_name.clone().ok_or_else(|| {
                null("targetTrackingScalingPolicyConfiguration.customizedMetricSpecification.metricName")
            })?;
            let namespace = c.namespace.clone().ok_or_else(|| {
                null("targetTrackingScalingPolicyConfiguration.customizedMetricSpecification.namespace")
            })?;
            let statistic = c.statistic.clone().ok_or_else(|| {
                null("targetTrackingScalingPolicyConfiguration.customizedMetricSpecification.statistic")
            })?;
            if matches!(statistic, MetricStatistic::Unlisted(_)) {
                return Err(ScalingError::validation(format!(
                    "Invalid statistic {statistic}: Average, Minimum, Maximum, SampleCount or Sum."
                )));
            }
            let mut dims: Vec<(String, String)> = c
                .dimensions
                .iter()
                .flatten()
                .map(|d| (d.name.clone().unwrap_or_default(), d.value.clone().unwrap_or_default()))
                .collect();
            dims.sort();
            Ok(Tracked {
                namespace,
                name,
                dimensions: dims,
                statistic: statistic.as_str().to_owned(),
                unit: c.unit.clone(),
            })
        }
        (Some(_), Some(_)) => Err(ScalingError::validation(
            "Specify either a predefined metric specification or a customized metric \
             specification, not both.",
        )),
        (None, None) => Err(ScalingError::validation(
            "A target tracking scaling policy configuration needs a predefined metric \
             specification or a customized metric specification.",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::application_autoscaling::shapes::PredefinedMetricSpecification;

    #[test]
    fn resource_ids_name_a_service() {
        assert_eq!(service_of("service/default/web").unwrap(), ("default", "web"));
        assert!(service_of("service/default").is_err());
        assert!(service_of("table/x").is_err());
        let e = ecs_service(Some(&ServiceNamespace::Dynamodb), Some("table/x"), None).unwrap_err();
        assert_eq!(e.kind.wire_name(), "ValidationException");
        let e = ecs_service(None, None, None).unwrap_err();
        assert!(e.message.contains("'serviceNamespace'"), "{}", e.message);
    }

    #[test]
    fn predefined_metrics_map_to_cloudwatch() {
        let config =
            |t: MetricType, label: Option<&str>| TargetTrackingScalingPolicyConfiguration {
                target_value: Some(50.0),
                predefined_metric_specification: Some(PredefinedMetricSpecification {
                    predefined_metric_type: Some(t),
                    resource_label: label.map(Into::into),
                }),
                ..Default::default()
            };
        let cpu = tracked(&config(MetricType::ECSServiceAverageCPUUtilization, None), "c", "web")
            .unwrap();
        assert_eq!((cpu.namespace.as_str(), cpu.name.as_str()), ("AWS/ECS", "CPUUtilization"));
        assert_eq!(cpu.dimensions[1], ("ServiceName".into(), "web".into()));
        let label = "app/lb/1234/targetgroup/tg/5678";
        let alb = tracked(&config(MetricType::ALBRequestCountPerTarget, Some(label)), "c", "web")
            .unwrap();
        assert_eq!(alb.dimensions, vec![("TargetGroup".into(), "targetgroup/tg/5678".into())]);
        assert!(tracked(&config(MetricType::ALBRequestCountPerTarget, None), "c", "w").is_err());
        assert!(
            tracked(&config(MetricType::DynamoDBReadCapacityUtilization, None), "c", "w").is_err()
        );
    }
}
