//! The checks of a service request that read Wharf's state: target groups
//! and the cluster's capacity providers.

use super::*;
use wharf_model::ecs::capacity;

/// Checks that each load balancer's target group exists, is used by a
/// listener or rule, and has a target type the network mode can register.
pub(super) async fn check_target_groups(
    ctx: &Ctx,
    td: &TaskDefinition,
    lbs: &[LoadBalancer],
) -> Result<(), ApiError> {
    if lbs.is_empty() {
        return Ok(());
    }
    let arns: Vec<String> = lbs.iter().filter_map(|l| l.target_group_arn.clone()).collect();
    type Found = Vec<Option<(String, bool)>>;
    let slot: Arc<Mutex<Option<Found>>> = Arc::new(Mutex::new(None));
    let out = slot.clone();
    let wanted = arns.clone();
    ctx.store()
        .elb_read(
            &ctx.region,
            Box::new(move |v| {
                let mut found = Vec::with_capacity(wanted.len());
                for arn in &wanted {
                    found.push(match v.get(arn)? {
                        Some(row) if row.kind == ElbKind::TargetGroup => {
                            Some((row.body, !v.uses_of(arn)?.is_empty()))
                        }
                        _ => None,
                    });
                }
                if let Ok(mut s) = out.lock() {
                    *s = Some(found);
                }
                Ok(())
            }),
        )
        .await?;
    let found = slot
        .lock()
        .ok()
        .and_then(|mut s| s.take())
        .ok_or_else(|| EcsError::server("The target groups could not be read."))?;
    let mode = network_mode(td);
    for (arn, f) in arns.iter().zip(found) {
        let Some((body, used)) = f else {
            return Err(invalid(format!(
                "The target group with targetGroupArn {arn} does not exist."
            )));
        };
        if !used {
            return Err(invalid(format!(
                "The target group with targetGroupArn {arn} does not have an associated load \
                 balancer."
            )));
        }
        let record: TargetGroupRecord = serde_json::from_str(&body).map_err(|e| {
            tracing::error!(error = %e, arn = %arn, "stored target group does not parse");
            EcsError::server("Wharf could not read its state.")
        })?;
        let target_type =
            record.target_group.target_type.clone().unwrap_or(TargetTypeEnum::Instance);
        let fits = match target_type {
            TargetTypeEnum::Ip => mode == NetworkMode::Awsvpc,
            TargetTypeEnum::Instance => matches!(mode, NetworkMode::Bridge | NetworkMode::Host),
            _ => false,
        };
        if !fits {
            return Err(invalid(format!(
                "The provided target group {arn} has target type {}, which is incompatible with \
                 the {mode} network mode specified in the task definition.",
                target_type.as_str()
            )));
        }
    }
    Ok(())
}

/// Checks `loadBalancers` completely: count, containers, target groups.
pub(super) async fn check_load_balancers(
    ctx: &Ctx,
    td: &TaskDefinition,
    lbs: &[LoadBalancer],
    max: usize,
) -> Result<(), ApiError> {
    if lbs.len() > max {
        return Err(invalid(format!("loadBalancers can have at most {max} items.")));
    }
    check_containers(td, lbs)?;
    // Each blue/green pair's alternate group is checked as its main one is.
    let mut groups = lbs.to_vec();
    groups.extend(lbs.iter().filter_map(|lb| {
        let alternate = lb.advanced_configuration.as_ref()?.alternate_target_group_arn.clone()?;
        Some(LoadBalancer { target_group_arn: Some(alternate), ..lb.clone() })
    }));
    check_target_groups(ctx, td, &groups).await?;
    check_listener_rules(ctx, lbs).await
}

/// Checks that the listener rules of each `advancedConfiguration` exist and
/// that its production rule forwards to one of the pair's target groups.
pub(super) async fn check_listener_rules(ctx: &Ctx, lbs: &[LoadBalancer]) -> Result<(), ApiError> {
    let mut wanted = Vec::new();
    for lb in lbs {
        let Some(adv) = lb.advanced_configuration.as_ref() else { continue };
        wanted.extend(adv.production_listener_rule.clone());
        wanted.extend(adv.test_listener_rule.clone());
    }
    if wanted.is_empty() {
        return Ok(());
    }
    let found =
        wharf_ops::traffic::forwards(ctx.store(), &ctx.region, wanted).await.map_err(|e| {
            tracing::error!(error = %e.message, "listener rules not read");
            EcsError::server("Wharf could not read its state.")
        })?;
    for lb in lbs {
        let Some(adv) = lb.advanced_configuration.as_ref() else { continue };
        for (field, rule) in [
            ("productionListenerRule", &adv.production_listener_rule),
            ("testListenerRule", &adv.test_listener_rule),
        ] {
            let Some(rule) = rule else { continue };
            let Some(forward) = found.get(rule) else {
                return Err(invalid(format!(
                    "loadBalancers.advancedConfiguration.{field}: the listener rule {rule} does \
                     not exist."
                )));
            };
            let pair = [lb.target_group_arn.as_ref(), adv.alternate_target_group_arn.as_ref()];
            if field == "productionListenerRule"
                && !forward.iter().any(|(g, _)| pair.contains(&Some(g)))
            {
                return Err(invalid(format!(
                    "loadBalancers.advancedConfiguration.productionListenerRule: the listener \
                     rule {rule} does not forward to targetGroupArn or alternateTargetGroupArn."
                )));
            }
        }
    }
    Ok(())
}

/// The launch type or capacity provider strategy a service or task set
/// runs with, checked against the definition and the cluster.
pub(super) async fn placement_source(
    ctx: &Ctx,
    cluster: &str,
    td: &TaskDefinition,
    given_launch: Option<LaunchType>,
    given_strategy: Option<Vec<CapacityProviderStrategyItem>>,
    daemon: bool,
) -> Result<(Option<LaunchType>, Option<Vec<CapacityProviderStrategyItem>>), ApiError> {
    let strategy = given_strategy.filter(|s| !s.is_empty());
    if strategy.is_some() && given_launch.is_some() {
        return Err(invalid(BOTH_LAUNCH));
    }
    if let Some(lt) = given_launch {
        return Ok((Some(launch_type(td, Some(lt))?), None));
    }
    let c = docs::get::<Cluster>(ctx.ops(), Kind::Cluster, cluster)
        .await?
        .ok_or_else(EcsError::cluster_not_found)?;
    let strategy = match strategy {
        Some(s) => Some(s),
        None => c.default_capacity_provider_strategy.clone().filter(|s| !s.is_empty()),
    };
    let Some(strategy) = strategy else {
        return Ok((Some(launch_type(td, None)?), None));
    };
    if daemon {
        return Err(invalid(DAEMON_PROVIDERS));
    }
    let associated = c.capacity_providers.unwrap_or_default();
    capacity::check_strategy(&strategy, &associated)?;
    let fargate = capacity::strategy_is_fargate(&strategy);
    launch_type(td, Some(if fargate { LaunchType::Fargate } else { LaunchType::Ec2 }))?;
    Ok((None, Some(strategy)))
}

/// `serviceRegistries` as ECS checks them against the task definition and
/// the region's Cloud Map services.
pub(super) async fn check_registries(
    ctx: &Ctx,
    td: &TaskDefinition,
    registries: &[wharf_model::ecs::shapes::ServiceRegistry],
) -> Result<(), ApiError> {
    if registries.is_empty() {
        return Ok(());
    }
    let registry =
        wharf_ops::discovery::read(ctx.ops()).await.map_err(|e| EcsError::server(e.message))?;
    Ok(wharf_model::ecs::service::registries::check(td, registries, &registry)?)
}
