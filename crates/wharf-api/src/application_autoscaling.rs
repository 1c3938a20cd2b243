//! Application Auto Scaling on AWS JSON 1.1 (`X-Amz-Target:
//! AnyScaleFrontendService.<Operation>`), for ECS services' desired count:
//! scalable targets, scaling policies (target tracking makes its two
//! CloudWatch alarms, ordinary alarms in CloudWatch's store; step scaling
//! acts when an alarm that names it is in ALARM), scheduled actions and the
//! scaling activities the leader's `wharf_control::service_scaling`
//! records. Each target is one document (`wharf_ops::autoscaling`).

use wharf_model::application_autoscaling::record::{PolicyRecord, TargetRecord};
use wharf_model::application_autoscaling::rules::{
    self, check_capacities, check_name, no_target, null, HIGH_PERIODS, LOW_PERIODS, LOW_SHARE,
};
use wharf_model::application_autoscaling::schedule;
use wharf_model::application_autoscaling::shapes::{
    Alarm, DeleteScalingPolicyRequest, DeleteScalingPolicyResponse, DeleteScheduledActionRequest,
    DeleteScheduledActionResponse, DeregisterScalableTargetRequest,
    DeregisterScalableTargetResponse, DescribeScalableTargetsRequest,
    DescribeScalableTargetsResponse, DescribeScalingActivitiesRequest,
    DescribeScalingActivitiesResponse, DescribeScalingPoliciesRequest,
    DescribeScalingPoliciesResponse, DescribeScheduledActionsRequest,
    DescribeScheduledActionsResponse, PolicyType, PutScalingPolicyRequest,
    PutScalingPolicyResponse, PutScheduledActionRequest, PutScheduledActionResponse,
    RegisterScalableTargetRequest, RegisterScalableTargetResponse, ScalableDimension,
    ScalableTarget, ScalingActivity, ScalingPolicy, ScheduledAction, ServiceNamespace,
    SuspendedState,
};
use wharf_model::application_autoscaling::ScalingError;
use wharf_model::cloudwatch::shapes::{
    ComparisonOperator, Dimension, MetricAlarm, StandardUnit, Statistic,
};
use wharf_model::ecs::service::deployment::Names;
use wharf_model::ecs::status::ServiceStatus;
use wharf_model::wire::Timestamp;
use wharf_ops::autoscaling;

use crate::context::Ctx;
use crate::protocol::{self, ApiError};

/// The `X-Amz-Target` prefix of Application Auto Scaling.
pub const TARGET_PREFIX: &str = "AnyScaleFrontendService";

/// Runs one Application Auto Scaling operation on a request body.
pub async fn handle(ctx: &Ctx, op: &str, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    protocol::operations!(ctx, op, body, {
        "RegisterScalableTarget" => register_scalable_target,
        "DescribeScalableTargets" => describe_scalable_targets,
        "DeregisterScalableTarget" => deregister_scalable_target,
        "PutScalingPolicy" => put_scaling_policy,
        "DescribeScalingPolicies" => describe_scaling_policies,
        "DeleteScalingPolicy" => delete_scaling_policy,
        "DescribeScalingActivities" => describe_scaling_activities,
        "PutScheduledAction" => put_scheduled_action,
        "DescribeScheduledActions" => describe_scheduled_actions,
        "DeleteScheduledAction" => delete_scheduled_action,
    })
}

/// A store failure as Application Auto Scaling's own error.
fn internal(e: wharf_ops::OpsError) -> ApiError {
    match e {
        wharf_ops::OpsError::Refused(e) => e.into(),
        other => {
            tracing::error!(error = %other, "application auto scaling: store failure");
            ScalingError::internal().into()
        }
    }
}

/// An operation's failure as Application Auto Scaling answers it.
fn refused(e: wharf_ops::OpsError) -> ApiError {
    match e {
        wharf_ops::OpsError::ScalingRefused(e) => e.into(),
        other => internal(other),
    }
}

fn now(ctx: &Ctx) -> i64 {
    ctx.state.ops.clock.now_millis()
}

fn random_id(ctx: &Ctx) -> String {
    let a = ctx.state.ops.entropy.next_u64();
    let b = ctx.state.ops.entropy.next_u64();
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xffff,
        b >> 48,
        b & 0xffff_ffff_ffff
    )
}

fn max_results(given: Option<i32>) -> Result<usize, ScalingError> {
    match given {
        None => Ok(50),
        Some(n) if (1..=50).contains(&n) => Ok(n as usize),
        Some(n) => Err(ScalingError::validation(format!(
            "1 validation error detected: Value '{n}' at 'maxResults' failed to satisfy \
             constraint: Member must have value less than or equal to 50"
        ))),
    }
}

/// A page of `items` after the token's position (`key` of each item).
fn page<T: Clone>(
    items: &[T],
    key: impl Fn(&T) -> String,
    token: Option<&str>,
    limit: usize,
) -> Result<(Vec<T>, Option<String>), ApiError> {
    let start = match token {
        None => 0,
        Some(t) => {
            let after = crate::pagination::decode(t)
                .map_err(|_| ScalingError::new("InvalidNextTokenException", "Invalid token"))?;
            items.iter().position(|i| key(i) > after).unwrap_or(items.len())
        }
    };
    let end = (start + limit).min(items.len());
    let next = (end < items.len()).then(|| crate::pagination::encode(&key(&items[end - 1])));
    Ok((items[start..end].to_vec(), next))
}

/// The region's target records that a request's filters select.
async fn selected(
    ctx: &Ctx,
    resource: Option<&str>,
    dimension: Option<&ScalableDimension>,
) -> Result<Vec<TargetRecord>, ApiError> {
    Ok(autoscaling::all(ctx.ops())
        .await
        .map_err(internal)?
        .into_iter()
        .filter(|r| selects(&r.target, resource, dimension))
        .collect())
}

/// A page of the `items` whose `name` is among `names` (all of them when
/// `names` is empty), in the order of their `resource|name` key.
fn page_by_name<T: Clone>(
    items: impl Iterator<Item = T>,
    names: &[String],
    name: impl Fn(&T) -> Option<String>,
    resource: impl Fn(&T) -> Option<String>,
    token: Option<&str>,
    limit: usize,
) -> Result<(Vec<T>, Option<String>), ApiError> {
    let kept: Vec<T> =
        items.filter(|i| names.is_empty() || name(i).is_some_and(|n| names.contains(&n))).collect();
    let key =
        |i: &T| format!("{}|{}", resource(i).unwrap_or_default(), name(i).unwrap_or_default());
    page(&kept, key, token, limit)
}

/// Whether a request's filters select this target.
fn selects(
    t: &ScalableTarget,
    resource: Option<&str>,
    dimension: Option<&ScalableDimension>,
) -> bool {
    resource.is_none_or(|r| t.resource_id.as_deref() == Some(r))
        && dimension.is_none_or(|d| t.scalable_dimension.as_ref() == Some(d))
}

fn namespace_ok(ns: Option<&ServiceNamespace>) -> Result<(), ScalingError> {
    match ns {
        None => Err(null("serviceNamespace")),
        Some(ServiceNamespace::Ecs) => Ok(()),
        Some(other) => Err(ScalingError::validation(format!(
            "Unsupported service namespace: {other}. Wharf scales ecs only."
        ))),
    }
}

async fn register_scalable_target(
    ctx: &Ctx,
    req: RegisterScalableTargetRequest,
) -> Result<RegisterScalableTargetResponse, ApiError> {
    let resource_id = req.resource_id.clone().unwrap_or_default();
    let (cluster, service) = rules::ecs_service(
        req.service_namespace.as_ref(),
        req.resource_id.as_deref(),
        req.scalable_dimension.as_ref(),
    )?;
    let names = Names::new(&ctx.scope(), cluster, service);
    let live = wharf_ops::service::load(ctx.ops(), &names)
        .await
        .map_err(internal)?
        .is_some_and(|r| r.service.status == Some(ServiceStatus::Active));
    if !live {
        return Err(
            ScalingError::validation(format!("ECS service doesn't exist: {resource_id}")).into()
        );
    }
    if let (Some(min), Some(max)) = (req.min_capacity, req.max_capacity) {
        check_capacities(min, max)?;
    }
    let (region, account) = (ctx.region.clone(), ctx.state.ops.account_id.to_string());
    let (at, id) = (now(ctx), random_id(ctx).replace('-', ""));
    let role = req.role_arn.clone().unwrap_or_else(|| {
        format!(
            "arn:aws:iam::{account}:role/aws-service-role/ecs.application-autoscaling.amazonaws.com/\
             AWSServiceRoleForApplicationAutoScaling_ECSService"
        )
    });
    let rid = resource_id.clone();
    let rec = autoscaling::update(ctx.ops(), &resource_id, move |cur| {
        let mut rec = match cur {
            Some(rec) => rec,
            None => {
                let (Some(min), Some(max)) = (req.min_capacity, req.max_capacity) else {
                    return Err(ScalingError::validation(
                        "MinCapacity and MaxCapacity are required to register a new scalable \
                         target.",
                    ));
                };
                TargetRecord {
                    target: ScalableTarget {
                        service_namespace: Some(ServiceNamespace::Ecs),
                        resource_id: Some(rid.clone()),
                        scalable_dimension: Some(ScalableDimension::EcsServiceDesiredCount),
                        min_capacity: Some(min),
                        max_capacity: Some(max),
                        role_arn: Some(role.clone()),
                        creation_time: Some(Timestamp::from_millis(at)),
                        suspended_state: Some(SuspendedState {
                            dynamic_scaling_in_suspended: Some(false),
                            dynamic_scaling_out_suspended: Some(false),
                            scheduled_scaling_suspended: Some(false),
                        }),
                        scalable_target_arn: Some(rules::target_arn(&region, &account, &id)),
                        ..ScalableTarget::default()
                    },
                    ..TargetRecord::default()
                }
            }
        };
        let t = &mut rec.target;
        let min = req.min_capacity.or(t.min_capacity).unwrap_or(0);
        let max = req.max_capacity.or(t.max_capacity).unwrap_or(0);
        check_capacities(min, max)?;
        t.min_capacity = Some(min);
        t.max_capacity = Some(max);
        if let Some(s) = &req.suspended_state {
            let cur = t.suspended_state.get_or_insert_with(SuspendedState::default);
            for (given, kept) in [
                (s.dynamic_scaling_in_suspended, &mut cur.dynamic_scaling_in_suspended),
                (s.dynamic_scaling_out_suspended, &mut cur.dynamic_scaling_out_suspended),
                (s.scheduled_scaling_suspended, &mut cur.scheduled_scaling_suspended),
            ] {
                if given.is_some() {
                    *kept = given;
                }
            }
        }
        Ok(Some(rec))
    })
    .await
    .map_err(refused)?
    .ok_or_else(ScalingError::internal)?;
    Ok(RegisterScalableTargetResponse { scalable_target_arn: rec.target.scalable_target_arn })
}

async fn describe_scalable_targets(
    ctx: &Ctx,
    req: DescribeScalableTargetsRequest,
) -> Result<DescribeScalableTargetsResponse, ApiError> {
    namespace_ok(req.service_namespace.as_ref())?;
    let limit = max_results(req.max_results)?;
    let wanted = req.resource_ids.unwrap_or_default();
    if wanted.len() > 50 {
        return Err(ScalingError::validation("resourceIds can have at most 50 items.").into());
    }
    let all: Vec<ScalableTarget> = selected(ctx, None, req.scalable_dimension.as_ref())
        .await?
        .into_iter()
        .map(|r| r.target)
        .filter(|t| wanted.is_empty() || wanted.iter().any(|w| t.resource_id.as_deref() == Some(w)))
        .collect();
    let (targets, next_token) = page(
        &all,
        |t| t.resource_id.clone().unwrap_or_default(),
        req.next_token.as_deref(),
        limit,
    )?;
    Ok(DescribeScalableTargetsResponse { scalable_targets: Some(targets), next_token })
}

async fn deregister_scalable_target(
    ctx: &Ctx,
    req: DeregisterScalableTargetRequest,
) -> Result<DeregisterScalableTargetResponse, ApiError> {
    rules::ecs_service(
        req.service_namespace.as_ref(),
        req.resource_id.as_deref(),
        req.scalable_dimension.as_ref(),
    )?;
    let resource_id = req.resource_id.unwrap_or_default();
    let missing = format!(
        "No scalable target found for service namespace: ecs, resource ID: {resource_id}, \
         scalable dimension: ecs:service:DesiredCount"
    );
    let alarms: Vec<String> = autoscaling::get(ctx.ops(), &resource_id)
        .await
        .map_err(internal)?
        .into_iter()
        .flat_map(|r| r.policies)
        .flat_map(|p| alarm_names(&p.policy))
        .collect();
    autoscaling::update(ctx.ops(), &resource_id, move |cur| match cur {
        Some(_) => Ok(None),
        None => Err(ScalingError::not_found(missing.clone())),
    })
    .await
    .map_err(refused)?;
    delete_alarms(ctx, &alarms).await?;
    Ok(DeregisterScalableTargetResponse {})
}

/// The alarms a target tracking policy makes, as Application Auto Scaling
/// makes them: the high one (the metric above the target for three
/// periods) and, unless scale in is disabled, the low one (below 90% of it
/// for fifteen), named `TargetTracking-<resource>-AlarmHigh-<uuid>` (names
/// kept from `existing` when the policy is replaced), their action the
/// policy.
fn tracking_alarms(
    ctx: &Ctx,
    resource_id: &str,
    tracked: &rules::Tracked,
    target: f64,
    scale_in: bool,
    policy_arn: &str,
    existing: &[String],
) -> Vec<MetricAlarm> {
    let period = i32::try_from(ctx.state.metrics_period.as_secs()).unwrap_or(60).max(1);
    let make = |high: bool| {
        let which = if high { "AlarmHigh" } else { "AlarmLow" };
        let name =
            existing.iter().find(|n| n.contains(&format!("-{which}-"))).cloned().unwrap_or_else(
                || format!("TargetTracking-{resource_id}-{which}-{}", random_id(ctx)),
            );
        let periods = if high { HIGH_PERIODS } else { LOW_PERIODS } as i32;
        MetricAlarm {
            alarm_arn: Some(wharf_model::cloudwatch::alarm_arn(
                &ctx.region,
                &ctx.state.ops.account_id,
                &name,
            )),
            alarm_name: Some(name),
            alarm_description: Some(format!(
                "DO NOT EDIT OR DELETE. For TargetTrackingScaling policy {policy_arn}."
            )),
            alarm_configuration_updated_timestamp: Some(Timestamp::from_millis(now(ctx))),
            actions_enabled: Some(true),
            ok_actions: Some(vec![]),
            alarm_actions: Some(vec![policy_arn.to_owned()]),
            insufficient_data_actions: Some(vec![]),
            metric_name: Some(tracked.name.clone()),
            namespace: Some(tracked.namespace.clone()),
            statistic: Some(Statistic::from(tracked.statistic.as_str())),
            dimensions: Some(
                tracked
                    .dimensions
                    .iter()
                    .map(|(n, v)| Dimension { name: Some(n.clone()), value: Some(v.clone()) })
                    .collect(),
            ),
            period: Some(period),
            unit: tracked.unit.as_deref().map(StandardUnit::from),
            evaluation_periods: Some(periods),
            datapoints_to_alarm: Some(periods),
            threshold: Some(if high { target } else { target * LOW_SHARE }),
            comparison_operator: Some(if high {
                ComparisonOperator::GreaterThanThreshold
            } else {
                ComparisonOperator::LessThanThreshold
            }),
            ..MetricAlarm::default()
        }
    };
    let mut out = vec![make(true)];
    if scale_in {
        out.push(make(false));
    }
    out
}

/// The names of a policy's alarms.
fn alarm_names(p: &ScalingPolicy) -> Vec<String> {
    p.alarms.iter().flatten().filter_map(|a| a.alarm_name.clone()).collect()
}

/// Deletes the named alarms.
async fn delete_alarms(ctx: &Ctx, names: &[String]) -> Result<(), ApiError> {
    for name in names {
        wharf_ops::alarms::delete(ctx.ops(), name).await.map_err(internal)?;
    }
    Ok(())
}

async fn put_scaling_policy(
    ctx: &Ctx,
    req: PutScalingPolicyRequest,
) -> Result<PutScalingPolicyResponse, ApiError> {
    let (cluster, service) = rules::ecs_service(
        req.service_namespace.as_ref(),
        req.resource_id.as_deref(),
        req.scalable_dimension.as_ref(),
    )?;
    let resource_id = req.resource_id.clone().unwrap_or_default();
    let name = req.policy_name.clone().ok_or_else(|| null("policyName"))?;
    check_name(&name, "policyName")?;
    let kind = req.policy_type.clone().unwrap_or(PolicyType::StepScaling);
    let mut alarms_for: Option<(rules::Tracked, f64, bool)> = None;
    match kind {
        PolicyType::TargetTrackingScaling => {
            let config =
                req.target_tracking_scaling_policy_configuration.as_ref().ok_or_else(|| {
                    ScalingError::validation(
                    "TargetTrackingScalingPolicyConfiguration is required for a policy of type \
                     TargetTrackingScaling.",
                )
                })?;
            let tracked = rules::tracked(config, cluster, service)?;
            let scale_in = !config.disable_scale_in.unwrap_or(false);
            alarms_for = Some((tracked, config.target_value.unwrap_or(0.0), scale_in));
        }
        PolicyType::StepScaling => {
            let config = req.step_scaling_policy_configuration.as_ref().ok_or_else(|| {
                ScalingError::validation(
                    "StepScalingPolicyConfiguration is required for a policy of type StepScaling.",
                )
            })?;
            wharf_model::application_autoscaling::step::check(config)?;
        }
        other => {
            return Err(ScalingError::validation(format!(
                "Policy type {other} is not supported by Wharf for service namespace ecs."
            ))
            .into())
        }
    }
    let existing = autoscaling::get(ctx.ops(), &resource_id).await.map_err(internal)?;
    let Some(existing) = existing else { return Err(no_target(&resource_id).into()) };
    let before = existing
        .policies
        .iter()
        .find(|p| p.policy.policy_name.as_deref() == Some(name.as_str()))
        .map(|p| p.policy.clone());
    let old_alarms = before.as_ref().map(alarm_names).unwrap_or_default();
    let policy_arn = before.as_ref().and_then(|p| p.policy_arn.clone()).unwrap_or_else(|| {
        rules::policy_arn(
            &ctx.region,
            &ctx.state.ops.account_id,
            &random_id(ctx),
            &resource_id,
            &name,
        )
    });
    let alarms = match &alarms_for {
        Some((tracked, target, scale_in)) => tracking_alarms(
            ctx,
            &resource_id,
            tracked,
            *target,
            *scale_in,
            &policy_arn,
            &old_alarms,
        ),
        None => vec![],
    };
    for alarm in &alarms {
        wharf_ops::alarms::put(ctx.ops(), alarm.clone(), Timestamp::from_millis(now(ctx)))
            .await
            .map_err(internal)?;
    }
    let kept: Vec<String> = alarms.iter().filter_map(|a| a.alarm_name.clone()).collect();
    let gone: Vec<String> = old_alarms.into_iter().filter(|n| !kept.contains(n)).collect();
    delete_alarms(ctx, &gone).await?;
    let at = now(ctx);
    let (rid, pname) = (resource_id.clone(), name.clone());
    let rec = autoscaling::update(ctx.ops(), &resource_id, move |cur| {
        let mut rec = cur.ok_or_else(|| no_target(&rid))?;
        let before = rec
            .policies
            .iter()
            .position(|p| p.policy.policy_name.as_deref() == Some(pname.as_str()));
        let created = match before.map(|i| &rec.policies[i].policy) {
            Some(p) => p.creation_time,
            None => Some(Timestamp::from_millis(at)),
        };
        let policy = ScalingPolicy {
            policy_arn: Some(policy_arn.clone()),
            policy_name: Some(pname.clone()),
            service_namespace: Some(ServiceNamespace::Ecs),
            resource_id: Some(rid.clone()),
            scalable_dimension: Some(ScalableDimension::EcsServiceDesiredCount),
            policy_type: Some(req.policy_type.clone().unwrap_or(PolicyType::StepScaling)),
            step_scaling_policy_configuration: req.step_scaling_policy_configuration.clone(),
            target_tracking_scaling_policy_configuration: req
                .target_tracking_scaling_policy_configuration
                .clone(),
            alarms: Some(
                alarms
                    .iter()
                    .map(|a| Alarm {
                        alarm_name: a.alarm_name.clone(),
                        alarm_arn: a.alarm_arn.clone(),
                    })
                    .collect(),
            ),
            creation_time: created,
            ..ScalingPolicy::default()
        };
        let record = PolicyRecord { policy };
        match before {
            Some(i) => rec.policies[i] = record,
            None => rec.policies.push(record),
        }
        Ok(Some(rec))
    })
    .await
    .map_err(refused)?
    .ok_or_else(ScalingError::internal)?;
    let p = rec
        .policies
        .into_iter()
        .find(|p| p.policy.policy_name.as_deref() == Some(name.as_str()))
        .ok_or_else(ScalingError::internal)?;
    Ok(PutScalingPolicyResponse { policy_arn: p.policy.policy_arn, alarms: p.policy.alarms })
}

async fn describe_scaling_policies(
    ctx: &Ctx,
    req: DescribeScalingPoliciesRequest,
) -> Result<DescribeScalingPoliciesResponse, ApiError> {
    namespace_ok(req.service_namespace.as_ref())?;
    let limit = max_results(req.max_results)?;
    let names = req.policy_names.unwrap_or_default();
    let all = selected(ctx, req.resource_id.as_deref(), req.scalable_dimension.as_ref())
        .await?
        .into_iter()
        .flat_map(|r| r.policies.into_iter().map(|p| p.policy));
    let name = |p: &ScalingPolicy| p.policy_name.clone();
    let resource = |p: &ScalingPolicy| p.resource_id.clone();
    let (policies, next_token) =
        page_by_name(all, &names, name, resource, req.next_token.as_deref(), limit)?;
    Ok(DescribeScalingPoliciesResponse { scaling_policies: Some(policies), next_token })
}

async fn delete_scaling_policy(
    ctx: &Ctx,
    req: DeleteScalingPolicyRequest,
) -> Result<DeleteScalingPolicyResponse, ApiError> {
    rules::ecs_service(
        req.service_namespace.as_ref(),
        req.resource_id.as_deref(),
        req.scalable_dimension.as_ref(),
    )?;
    let resource_id = req.resource_id.unwrap_or_default();
    let name = req.policy_name.ok_or_else(|| null("policyName"))?;
    let missing = format!(
        "No scaling policy found for service namespace: ecs, resource ID: {resource_id}, \
         scalable dimension: ecs:service:DesiredCount, policy name: {name}"
    );
    let alarms: Vec<String> = autoscaling::get(ctx.ops(), &resource_id)
        .await
        .map_err(internal)?
        .into_iter()
        .flat_map(|r| r.policies)
        .filter(|p| p.policy.policy_name.as_deref() == Some(name.as_str()))
        .flat_map(|p| alarm_names(&p.policy))
        .collect();
    autoscaling::update(ctx.ops(), &resource_id, move |cur| {
        let mut rec = cur.ok_or_else(|| ScalingError::not_found(missing.clone()))?;
        let before = rec.policies.len();
        rec.policies.retain(|p| p.policy.policy_name.as_deref() != Some(name.as_str()));
        if rec.policies.len() == before {
            return Err(ScalingError::not_found(missing.clone()));
        }
        Ok(Some(rec))
    })
    .await
    .map_err(refused)?;
    delete_alarms(ctx, &alarms).await?;
    Ok(DeleteScalingPolicyResponse {})
}

async fn describe_scaling_activities(
    ctx: &Ctx,
    req: DescribeScalingActivitiesRequest,
) -> Result<DescribeScalingActivitiesResponse, ApiError> {
    namespace_ok(req.service_namespace.as_ref())?;
    let limit = max_results(req.max_results)?;
    let mut all: Vec<ScalingActivity> =
        selected(ctx, req.resource_id.as_deref(), req.scalable_dimension.as_ref())
            .await?
            .into_iter()
            .flat_map(|r| r.activities)
            .collect();
    all.sort_by_cached_key(activity_key);
    let (scaling_activities, next_token) =
        page(&all, activity_key, req.next_token.as_deref(), limit)?;
    Ok(DescribeScalingActivitiesResponse {
        scaling_activities: Some(scaling_activities),
        next_token,
    })
}

/// Where an activity sorts: newest first across targets, then by id. The
/// page token is this key, so a page stays where it was when newer
/// activities arrive meanwhile.
fn activity_key(a: &ScalingActivity) -> String {
    let start = a.start_time.map_or(0, Timestamp::as_millis);
    format!("{:020}|{}", i64::MAX - start, a.activity_id.as_deref().unwrap_or_default())
}

/// Time zones Wharf's schedules run in.
fn check_timezone(tz: Option<&str>) -> Result<(), ScalingError> {
    match tz {
        None | Some("UTC" | "Etc/UTC" | "Etc/GMT" | "GMT") => Ok(()),
        Some(other) => Err(ScalingError::validation(format!(
            "Time zone {other} is not supported by Wharf: schedules run in UTC."
        ))),
    }
}

async fn put_scheduled_action(
    ctx: &Ctx,
    req: PutScheduledActionRequest,
) -> Result<PutScheduledActionResponse, ApiError> {
    rules::ecs_service(
        req.service_namespace.as_ref(),
        req.resource_id.as_deref(),
        req.scalable_dimension.as_ref(),
    )?;
    let resource_id = req.resource_id.clone().unwrap_or_default();
    let name = req.scheduled_action_name.clone().ok_or_else(|| null("scheduledActionName"))?;
    check_name(&name, "scheduledActionName")?;
    if let Some(s) = &req.schedule {
        schedule::parse(s).map_err(ScalingError::validation)?;
    }
    check_timezone(req.timezone.as_deref())?;
    if let Some(a) = &req.scalable_target_action {
        if let (Some(min), Some(max)) = (a.min_capacity, a.max_capacity) {
            check_capacities(min, max)?;
        }
    }
    if let (Some(s), Some(e)) = (req.start_time, req.end_time) {
        if s.as_millis() >= e.as_millis() {
            return Err(
                ScalingError::validation("The start time must be before the end time.").into()
            );
        }
    }
    let (region, account, at, id) =
        (ctx.region.clone(), ctx.state.ops.account_id.to_string(), now(ctx), random_id(ctx));
    let rid = resource_id.clone();
    autoscaling::update(ctx.ops(), &resource_id, move |cur| {
        let mut rec = cur.ok_or_else(|| no_target(&rid))?;
        let i = rec
            .scheduled
            .iter()
            .position(|a| a.scheduled_action_name.as_deref() == Some(name.as_str()));
        let before = i.map(|i| rec.scheduled[i].clone());
        let schedule =
            req.schedule.clone().or_else(|| before.as_ref().and_then(|b| b.schedule.clone()));
        if schedule.is_none() {
            return Err(null("schedule"));
        }
        let action = ScheduledAction {
            scheduled_action_name: Some(name.clone()),
            scheduled_action_arn: before
                .as_ref()
                .and_then(|b| b.scheduled_action_arn.clone())
                .or_else(|| Some(rules::scheduled_action_arn(&region, &account, &id, &rid, &name))),
            service_namespace: Some(ServiceNamespace::Ecs),
            schedule,
            timezone: req
                .timezone
                .clone()
                .or_else(|| before.as_ref().and_then(|b| b.timezone.clone())),
            resource_id: Some(rid.clone()),
            scalable_dimension: Some(ScalableDimension::EcsServiceDesiredCount),
            start_time: req.start_time.or_else(|| before.as_ref().and_then(|b| b.start_time)),
            end_time: req.end_time.or_else(|| before.as_ref().and_then(|b| b.end_time)),
            scalable_target_action: req
                .scalable_target_action
                .clone()
                .or_else(|| before.as_ref().and_then(|b| b.scalable_target_action.clone())),
            creation_time: before
                .as_ref()
                .and_then(|b| b.creation_time)
                .or(Some(Timestamp::from_millis(at))),
        };
        match i {
            Some(i) => {
                rec.scheduled[i] = action;
                // Changed: it runs by its new schedule from now on.
                rec.memory.scheduled_runs.insert(name.clone(), at);
            }
            None => rec.scheduled.push(action),
        }
        Ok(Some(rec))
    })
    .await
    .map_err(refused)?;
    Ok(PutScheduledActionResponse {})
}

async fn describe_scheduled_actions(
    ctx: &Ctx,
    req: DescribeScheduledActionsRequest,
) -> Result<DescribeScheduledActionsResponse, ApiError> {
    namespace_ok(req.service_namespace.as_ref())?;
    let limit = max_results(req.max_results)?;
    let names = req.scheduled_action_names.unwrap_or_default();
    let all = selected(ctx, req.resource_id.as_deref(), req.scalable_dimension.as_ref())
        .await?
        .into_iter()
        .flat_map(|r| r.scheduled);
    let name = |a: &ScheduledAction| a.scheduled_action_name.clone();
    let resource = |a: &ScheduledAction| a.resource_id.clone();
    let (actions, next_token) =
        page_by_name(all, &names, name, resource, req.next_token.as_deref(), limit)?;
    Ok(DescribeScheduledActionsResponse { scheduled_actions: Some(actions), next_token })
}

async fn delete_scheduled_action(
    ctx: &Ctx,
    req: DeleteScheduledActionRequest,
) -> Result<DeleteScheduledActionResponse, ApiError> {
    rules::ecs_service(
        req.service_namespace.as_ref(),
        req.resource_id.as_deref(),
        req.scalable_dimension.as_ref(),
    )?;
    let resource_id = req.resource_id.unwrap_or_default();
    let name = req.scheduled_action_name.ok_or_else(|| null("scheduledActionName"))?;
    let missing = format!(
        "No scheduled action found for service namespace: ecs, resource ID: {resource_id}, \
         scalable dimension: ecs:service:DesiredCount, scheduled action name: {name}"
    );
    autoscaling::update(ctx.ops(), &resource_id, move |cur| {
        let mut rec = cur.ok_or_else(|| ScalingError::not_found(missing.clone()))?;
        let before = rec.scheduled.len();
        rec.scheduled.retain(|a| a.scheduled_action_name.as_deref() != Some(name.as_str()));
        if rec.scheduled.len() == before {
            return Err(ScalingError::not_found(missing.clone()));
        }
        rec.memory.scheduled_runs.remove(&name);
        Ok(Some(rec))
    })
    .await
    .map_err(refused)?;
    Ok(DeleteScheduledActionResponse {})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn activity(id: &str, start_ms: i64) -> ScalingActivity {
        ScalingActivity {
            activity_id: Some(id.to_owned()),
            start_time: Some(Timestamp::from_millis(start_ms)),
            ..ScalingActivity::default()
        }
    }

    #[test]
    fn activities_page_newest_first_and_stay_put_when_newer_ones_arrive() {
        let mut all = vec![activity("a", 1_000), activity("c", 3_000), activity("b", 2_000)];
        all.sort_by_cached_key(activity_key);
        let ids = |v: &[ScalingActivity]| -> Vec<String> {
            v.iter().map(|a| a.activity_id.clone().unwrap_or_default()).collect()
        };
        assert_eq!(ids(&all), ["c", "b", "a"]);
        let (first, token) = page(&all, activity_key, None, 2).expect("a page");
        assert_eq!(ids(&first), ["c", "b"]);
        // A newer activity arrives before the next page is asked for.
        all.push(activity("d", 4_000));
        all.sort_by_cached_key(activity_key);
        let (second, token) = page(&all, activity_key, token.as_deref(), 2).expect("a page");
        assert_eq!(ids(&second), ["a"]);
        assert_eq!(token, None);
    }
}
