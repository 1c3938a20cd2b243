//! Services: CreateService, UpdateService, DeleteService, DescribeServices,
//! ListServices, ListServicesByNamespace, DescribeServiceDeployments,
//! ListServiceDeployments, DescribeServiceRevisions, and the task set calls
//! of the EXTERNAL deployment controller (CreateTaskSet, UpdateTaskSet,
//! DeleteTaskSet, DescribeTaskSets, UpdateServicePrimaryTaskSet).
//!
//! The API only writes desired state into the service's
//! [`ServiceRecord`] and returns; the service scheduler (wharf-control)
//! starts and stops the tasks and owns the counts, rollout states after
//! IN_PROGRESS, events, the circuit breaker, the status of service
//! deployments after their creation and the DRAINING → INACTIVE step. So a
//! handler never writes a whole record it read earlier: every change goes
//! through [`docs::update`] with a closure that edits the record as it is at
//! that moment, leaving the scheduler's fields as they are.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use wharf_model::arn;
use wharf_model::ecs::launch::launch_type;
use wharf_model::ecs::placement;
use wharf_model::ecs::service::{self as model, DeploymentNotes, ServiceRecord, Throttle};
use wharf_model::ecs::shapes::{
    CapacityProviderStrategyItem, Cluster, ContainerImage, CreateServiceRequest,
    CreateServiceResponse, CreateTaskSetRequest, CreateTaskSetResponse, DeleteServiceRequest,
    DeleteServiceResponse, DeleteTaskSetRequest, DeleteTaskSetResponse, Deployment,
    DeploymentCircuitBreaker, DeploymentConfiguration, DeploymentController,
    DeploymentControllerType, DeploymentStrategy, DescribeServiceDeploymentsRequest,
    DescribeServiceDeploymentsResponse, DescribeServiceRevisionsRequest,
    DescribeServiceRevisionsResponse, DescribeServicesRequest, DescribeServicesResponse,
    DescribeTaskSetsRequest, DescribeTaskSetsResponse, Failure, LaunchType,
    ListServiceDeploymentsRequest, ListServiceDeploymentsResponse, ListServicesByNamespaceRequest,
    ListServicesByNamespaceResponse, ListServicesRequest, ListServicesResponse, LoadBalancer,
    NetworkConfiguration, PlacementConstraint, PlacementStrategy, PropagateTags, Scale, ScaleUnit,
    SchedulingStrategy, Service, ServiceCurrentRevisionSummary, ServiceDeployment,
    ServiceDeploymentBrief, ServiceDeploymentCircuitBreaker,
    ServiceDeploymentRollbackMonitorsStatus, ServiceDeploymentStatus, ServiceField,
    ServiceRevision, ServiceRevisionSummary, StabilityStatus, TaskDefinition, TaskSet,
    TaskSetField, UpdateServicePrimaryTaskSetRequest, UpdateServicePrimaryTaskSetResponse,
    UpdateServiceRequest, UpdateServiceResponse, UpdateTaskSetRequest, UpdateTaskSetResponse,
};
use wharf_model::ecs::status::{ClusterStatus, DeploymentStatus, ServiceStatus, TaskSetStatus};
use wharf_model::ecs::tags as ecs_tags;
use wharf_model::elbv2::shapes::TargetTypeEnum;
use wharf_model::elbv2::TargetGroupRecord;
use wharf_model::wire::Timestamp;
use wharf_model::{EcsError, EcsErrorKind};
use wharf_ops::docs::{self, Change};
use wharf_ops::lookup::{active_cluster, add_tags, runnable_definition, tags_of};
use wharf_store::elb::ElbKind;
use wharf_store::Kind;

use super::input::{is_resource_name, required};
use crate::context::Ctx;
use crate::pagination;
use crate::protocol::ApiError;

/// Target groups a service may register with (ECS's limit).
pub const MAX_LOAD_BALANCERS: usize = 5;
/// Task sets a service may have at once (ECS's limit).
pub const MAX_TASK_SETS: usize = 5;
/// Services one DescribeServices call may name.
pub const MAX_DESCRIBED: usize = 10;
/// ARNs one DescribeServiceDeployments or DescribeServiceRevisions call may name.
pub const MAX_DESCRIBED_DEPLOYMENTS: usize = 20;

const DAEMON_DESIRED: &str = "The daemon scheduling strategy does not support a desired count \
     for services. Remove the desired count value and try again";
const DAEMON_STRATEGY: &str = "The daemon scheduling strategy does not support placement \
     strategies. Remove the placement strategy and try again";
const DAEMON_PROVIDERS: &str = "Specifying a capacity provider strategy is not supported when \
     you create a service using the DAEMON scheduling strategy.";
const BOTH_LAUNCH: &str = "Specifying both a launch type and capacity provider strategy is not \
     supported. Remove one and try again.";
const NOT_EXTERNAL: &str = "Amazon ECS only supports task set management on services configured \
     to use external deployment controllers.";

fn service_not_found() -> EcsError {
    EcsError::new(EcsErrorKind::ServiceNotFoundException, "Service not found.")
}

fn service_not_active() -> EcsError {
    EcsError::new(EcsErrorKind::ServiceNotActiveException, "Service was not ACTIVE.")
}

fn task_set_not_found() -> EcsError {
    EcsError::new(EcsErrorKind::TaskSetNotFoundException, "The specified task set does not exist.")
}

fn invalid(message: impl Into<String>) -> ApiError {
    EcsError::invalid_parameter(message).into()
}

/// The 21-character id at the end of a ServiceDeployment ARN.
fn random_deployment_suffix() -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let bits = uuid::Uuid::new_v4().as_u128();
    (0..21).map(|i| ALPHABET[((bits >> (i * 6)) & 63) as usize] as char).collect()
}

/// The ARNs of one service and the prefixes of its deployments' ARNs.
#[derive(Debug, Clone)]
struct Names {
    cluster: String,
    name: String,
    service_arn: String,
    cluster_arn: String,
    deployment_prefix: String,
    revision_prefix: String,
    task_set_prefix: String,
}

impl Names {
    fn new(ctx: &Ctx, cluster: &str, name: &str) -> Self {
        let scope = ctx.scope();
        Self {
            cluster: cluster.to_owned(),
            name: name.to_owned(),
            service_arn: scope.ecs_arn(&format!("service/{cluster}/{name}")),
            cluster_arn: scope.cluster_arn(cluster),
            deployment_prefix: scope.ecs_arn(&format!("service-deployment/{cluster}/{name}/")),
            revision_prefix: scope.ecs_arn(&format!("service-revision/{cluster}/{name}/")),
            task_set_prefix: scope.ecs_arn(&format!("task-set/{cluster}/{name}/")),
        }
    }

    fn key(&self) -> String {
        model::key(&self.cluster, &self.name)
    }
}

/// Where a service's tasks come from: what a deployment (or task set) runs.
#[derive(Debug, Clone, Default, PartialEq)]
struct Revision {
    task_definition: String,
    launch_type: Option<LaunchType>,
    capacity_provider_strategy: Option<Vec<CapacityProviderStrategyItem>>,
    platform_version: Option<String>,
    network_configuration: Option<NetworkConfiguration>,
    load_balancers: Vec<LoadBalancer>,
    health_checked: bool,
    container_images: Vec<ContainerImage>,
}

impl Revision {
    fn platform_family(&self) -> Option<String> {
        (self.launch_type == Some(LaunchType::Fargate)).then(|| "Linux".to_owned())
    }
}

/// Whether an essential container of the definition has a health check.
fn health_checked(td: &TaskDefinition) -> bool {
    td.container_definitions
        .iter()
        .flatten()
        .any(|c| c.essential.unwrap_or(true) && c.health_check.is_some())
}

fn container_images(td: &TaskDefinition) -> Vec<ContainerImage> {
    td.container_definitions
        .iter()
        .flatten()
        .map(|c| ContainerImage {
            container_name: c.name.clone(),
            image_digest: None,
            image: c.image.clone(),
        })
        .collect()
}

fn is_awsvpc(td: &TaskDefinition) -> bool {
    td.network_mode.as_ref().is_some_and(|m| m.as_str() == "awsvpc")
}

fn network_mode(td: &TaskDefinition) -> String {
    td.network_mode.as_ref().map(|m| m.as_str().to_owned()).unwrap_or_else(|| "bridge".to_owned())
}

/// Checks `networkConfiguration` against the definition's network mode.
fn check_network(td: &TaskDefinition, n: Option<&NetworkConfiguration>) -> Result<(), EcsError> {
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
fn check_containers(td: &TaskDefinition, lbs: &[LoadBalancer]) -> Result<(), EcsError> {
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

/// Checks that each load balancer's target group exists, is used by a
/// listener or rule, and has a target type the network mode can register.
async fn check_target_groups(
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
            TargetTypeEnum::Ip => mode == "awsvpc",
            TargetTypeEnum::Instance => mode == "bridge" || mode == "host",
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
async fn check_load_balancers(
    ctx: &Ctx,
    td: &TaskDefinition,
    lbs: &[LoadBalancer],
    max: usize,
) -> Result<(), ApiError> {
    if lbs.len() > max {
        return Err(invalid(format!("loadBalancers can have at most {max} items.")));
    }
    check_containers(td, lbs)?;
    check_target_groups(ctx, td, lbs).await
}

/// Checks placement rules; `td_constraints` counts toward ECS's limit of 10.
fn check_placement(
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
fn deployment_configuration(
    given: Option<DeploymentConfiguration>,
    strategy: &SchedulingStrategy,
) -> Result<DeploymentConfiguration, EcsError> {
    let mut c = given.unwrap_or_default();
    match &c.strategy {
        None | Some(DeploymentStrategy::Rolling) => {}
        Some(other) => {
            return Err(EcsError::invalid_parameter(format!(
                "deploymentConfiguration.strategy {other} is not supported by Wharf; only ROLLING \
                 is."
            )))
        }
    }
    if c.linear_configuration.is_some() || c.canary_configuration.is_some() {
        return Err(EcsError::invalid_parameter(
            "deploymentConfiguration.linearConfiguration and canaryConfiguration apply only to \
             the LINEAR and CANARY strategies, which Wharf does not support.",
        ));
    }
    if c.lifecycle_hooks.as_ref().is_some_and(|h| !h.is_empty()) {
        return Err(EcsError::invalid_parameter(
            "deploymentConfiguration.lifecycleHooks are not supported by Wharf.",
        ));
    }
    let (max, min) = model::percents(Some(&c), strategy);
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
    if c.bake_time_in_minutes.is_some_and(|b| !(0..=1440).contains(&b)) {
        return Err(EcsError::invalid_parameter(
            "deploymentConfiguration.bakeTimeInMinutes must be between 0 and 1440.",
        ));
    }
    c.maximum_percent = Some(max);
    c.minimum_healthy_percent = Some(min);
    c.deployment_circuit_breaker
        .get_or_insert(DeploymentCircuitBreaker { enable: Some(false), rollback: Some(false) });
    c.strategy = Some(DeploymentStrategy::Rolling);
    Ok(c)
}

/// Merges an UpdateService deployment configuration over the current one.
fn merge_configuration(
    current: Option<&DeploymentConfiguration>,
    given: DeploymentConfiguration,
) -> DeploymentConfiguration {
    let mut c = current.cloned().unwrap_or_default();
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

fn check_grace_period(v: Option<i32>) -> Result<(), EcsError> {
    if v.is_some_and(|v| v < 0) {
        return Err(EcsError::invalid_parameter(
            "healthCheckGracePeriodSeconds must be between 0 and 2147483647.",
        ));
    }
    Ok(())
}

fn check_propagate(p: Option<&PropagateTags>) -> Result<(), EcsError> {
    match p {
        Some(p) if !p.is_known() => Err(EcsError::invalid_parameter(format!(
            "Invalid propagateTags '{p}'. Valid values: TASK_DEFINITION, SERVICE, NONE."
        ))),
        _ => Ok(()),
    }
}

/// Refuses the parts of a service Wharf does not implement, naming them.
fn refuse_unsupported(
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

/// The launch type or capacity provider strategy a service or task set
/// runs with, checked against the definition and the cluster.
async fn placement_source(
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
    if strategy.len() > 20 {
        return Err(invalid("capacityProviderStrategy can have at most 20 items."));
    }
    let associated = c.capacity_providers.unwrap_or_default();
    for item in &strategy {
        let name = required(
            item.capacity_provider.as_deref(),
            "capacityProviderStrategy.capacityProvider",
        )?;
        let short = |n: &str| n.rsplit('/').next().unwrap_or(n).to_owned();
        if !associated.iter().any(|a| short(a) == short(name)) {
            return Err(invalid(
                "The specified capacity provider strategy cannot contain a capacity provider \
                 that is not associated with the cluster. Associate the capacity provider with \
                 the cluster or specify a valid capacity provider and try again.",
            ));
        }
        if item.weight.is_some_and(|w| !(0..=1000).contains(&w)) {
            return Err(invalid("capacityProviderStrategy.weight must be between 0 and 1000."));
        }
        if item.base.is_some_and(|b| !(0..=100_000).contains(&b)) {
            return Err(invalid("capacityProviderStrategy.base must be between 0 and 100000."));
        }
    }
    let fargate = strategy
        .iter()
        .any(|i| i.capacity_provider.as_deref().is_some_and(|n| n.starts_with("FARGATE")));
    launch_type(td, Some(if fargate { LaunchType::Fargate } else { LaunchType::Ec2 }))?;
    Ok((None, Some(strategy)))
}

/// `platformVersion` as the service shows it: `LATEST` for Fargate unless
/// given (one of Fargate's Linux versions); refused for the other launch
/// types.
fn platform_version(fargate: bool, given: Option<String>) -> Result<Option<String>, EcsError> {
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

fn uses_fargate(lt: Option<&LaunchType>, cps: Option<&Vec<CapacityProviderStrategyItem>>) -> bool {
    lt == Some(&LaunchType::Fargate)
        || cps.is_some_and(|s| {
            s.iter()
                .any(|i| i.capacity_provider.as_deref().is_some_and(|n| n.starts_with("FARGATE")))
        })
}

/// Reads a stored service; an INACTIVE one past its keeping time counts as
/// gone.
async fn load(ctx: &Ctx, names: &Names) -> Result<Option<ServiceRecord>, ApiError> {
    let rec = docs::get::<ServiceRecord>(ctx.ops(), Kind::Service, &names.key()).await?;
    let now = ctx.state.ops.clock.now_millis();
    Ok(rec.filter(|r| !forgotten(r, now)))
}

fn forgotten(r: &ServiceRecord, now: i64) -> bool {
    r.service.status == Some(ServiceStatus::Inactive)
        && r.inactive_ms.is_some_and(|t| now - t > model::INACTIVE_KEPT_MS)
}

fn is_live(r: &ServiceRecord) -> bool {
    matches!(r.service.status, Some(ServiceStatus::Active | ServiceStatus::Draining))
}

fn is_external(s: &Service) -> bool {
    s.deployment_controller.as_ref().and_then(|c| c.r#type.as_ref())
        == Some(&DeploymentControllerType::External)
}

/// The cluster and service a request names (a service ARN names its
/// cluster, which then need not be given again).
async fn target(
    ctx: &Ctx,
    cluster: Option<&str>,
    service: Option<String>,
) -> Result<Names, ApiError> {
    let given = required(service, "service")?;
    let (name, in_arn) = arn::resource_id(&given, "service");
    let cluster = active_cluster(ctx.ops(), cluster.or(in_arn)).await?;
    if in_arn.is_some_and(|c| c != cluster) || name.is_empty() {
        return Err(service_not_found().into());
    }
    Ok(Names::new(ctx, &cluster, name))
}

/// Applies `change` to the ACTIVE service the names point at, inside one
/// atomic update of its current record; the record afterwards.
async fn modify_active<F>(ctx: &Ctx, names: &Names, change: F) -> Result<ServiceRecord, ApiError>
where
    F: FnOnce(&mut ServiceRecord) -> Result<(), EcsError> + Send + 'static,
{
    let now = ctx.state.ops.clock.now_millis();
    let updated =
        docs::update::<ServiceRecord, _>(ctx.ops(), Kind::Service, &names.key(), move |cur| {
            match cur {
                Some(mut r) if !forgotten(&r, now) => {
                    if r.service.status != Some(ServiceStatus::Active) {
                        return Err(service_not_active());
                    }
                    change(&mut r)?;
                    Ok(Change::Put(r))
                }
                _ => Err(service_not_found()),
            }
        })
        .await?;
    updated.ok_or_else(|| service_not_found().into())
}

/// The service as an answer shows it: task sets only for EXTERNAL, tags
/// only when asked for.
async fn shown(ctx: &Ctx, rec: &ServiceRecord, with_tags: bool) -> Result<Service, ApiError> {
    let mut s = rec.service.clone();
    if is_external(&s) {
        s.task_sets.get_or_insert_with(Vec::new);
    } else {
        s.task_sets = None;
    }
    s.deployments.get_or_insert_with(Vec::new);
    s.events.get_or_insert_with(Vec::new);
    s.tags = if with_tags {
        Some(tags_of(ctx.ops(), s.service_arn.as_deref().unwrap_or_default()).await?)
    } else {
        None
    };
    Ok(s)
}

fn summary(arn: &str, d: &Deployment) -> ServiceRevisionSummary {
    ServiceRevisionSummary {
        arn: Some(arn.to_owned()),
        requested_task_count: d.desired_count,
        running_task_count: d.running_count,
        pending_task_count: d.pending_count,
        ..ServiceRevisionSummary::default()
    }
}

/// Starts a new PRIMARY deployment of `rev` on the record: the old PRIMARY
/// becomes ACTIVE with a desired count of 0, and the new one gets its
/// notes, ServiceDeployment and ServiceRevision.
fn start_deployment(rec: &mut ServiceRecord, names: &Names, rev: &Revision, now: i64, random: u64) {
    let id = rec.new_unit_id(random);
    let digits = id.trim_start_matches("ecs-svc/").to_owned();
    let desired = rec.service.desired_count.unwrap_or(0);
    let revision_arn = format!("{}{digits}", names.revision_prefix);
    let deployment_arn = format!("{}{}", names.deployment_prefix, random_deployment_suffix());

    let mut d = model::new_deployment(&id, desired, now);
    d.task_definition = Some(rev.task_definition.clone());
    d.launch_type = rev.launch_type.clone();
    d.capacity_provider_strategy = rev.capacity_provider_strategy.clone();
    d.platform_version = rev.platform_version.clone();
    d.platform_family = rev.platform_family();
    d.network_configuration = rev.network_configuration.clone();

    let deployments = rec.service.deployments.get_or_insert_with(Vec::new);
    let mut sources = Vec::new();
    for old in deployments.iter_mut() {
        if old.status == Some(DeploymentStatus::Primary) {
            let old_id = old.id.clone().unwrap_or_default();
            if let Some(notes) = rec.deployments.get(&old_id) {
                if !notes.service_revision_arn.is_empty() {
                    sources.push(summary(&notes.service_revision_arn, old));
                }
            }
            old.status = Some(DeploymentStatus::Active);
            old.desired_count = Some(0);
            old.updated_at = Some(Timestamp::from_millis(now));
        }
    }
    let target = summary(&revision_arn, &d);
    let mut current: Vec<ServiceCurrentRevisionSummary> = vec![ServiceCurrentRevisionSummary {
        arn: Some(revision_arn.clone()),
        requested_task_count: Some(desired),
        running_task_count: Some(0),
        pending_task_count: Some(0),
    }];
    for old in deployments.iter() {
        let notes = rec.deployments.get(old.id.as_deref().unwrap_or_default());
        if let Some(n) = notes.filter(|n| !n.service_revision_arn.is_empty()) {
            current.push(ServiceCurrentRevisionSummary {
                arn: Some(n.service_revision_arn.clone()),
                requested_task_count: old.desired_count,
                running_task_count: old.running_count,
                pending_task_count: old.pending_count,
            });
        }
    }
    deployments.insert(0, d);
    rec.deployments.insert(
        id,
        DeploymentNotes {
            load_balancers: rev.load_balancers.clone(),
            health_checked: rev.health_checked,
            failures: 0,
            service_deployment_arn: deployment_arn.clone(),
            service_revision_arn: revision_arn.clone(),
        },
    );
    let at = Some(Timestamp::from_millis(now));
    rec.revisions.push(ServiceRevision {
        service_revision_arn: Some(revision_arn),
        service_arn: Some(names.service_arn.clone()),
        cluster_arn: Some(names.cluster_arn.clone()),
        task_definition: Some(rev.task_definition.clone()),
        capacity_provider_strategy: rev.capacity_provider_strategy.clone(),
        launch_type: rev.launch_type.clone(),
        platform_version: rev.platform_version.clone(),
        platform_family: rev.platform_family(),
        load_balancers: Some(rev.load_balancers.clone()),
        network_configuration: rev.network_configuration.clone(),
        container_images: Some(rev.container_images.clone()),
        guard_duty_enabled: Some(false),
        created_at: at,
        ..ServiceRevision::default()
    });
    let config = rec.service.deployment_configuration.clone();
    let (breaker_on, _) = model::circuit_breaker(config.as_ref());
    rec.history.push(ServiceDeployment {
        service_deployment_arn: Some(deployment_arn.clone()),
        service_arn: Some(names.service_arn.clone()),
        cluster_arn: Some(names.cluster_arn.clone()),
        created_at: at,
        started_at: at,
        updated_at: at,
        source_service_revisions: Some(sources),
        target_service_revision: Some(target),
        status: Some(ServiceDeploymentStatus::InProgress),
        deployment_configuration: config,
        deployment_circuit_breaker: Some(ServiceDeploymentCircuitBreaker {
            status: Some(if breaker_on {
                ServiceDeploymentRollbackMonitorsStatus::Monitoring
            } else {
                ServiceDeploymentRollbackMonitorsStatus::Disabled
            }),
            failure_count: Some(0),
            threshold: Some(model::failure_threshold(desired) as i32),
        }),
        ..ServiceDeployment::default()
    });
    while rec.history.len() > model::MAX_HISTORY {
        rec.history.remove(0);
    }
    while rec.revisions.len() > model::MAX_HISTORY {
        rec.revisions.remove(0);
    }
    rec.throttle = Throttle::default();
    rec.service.current_service_deployment = Some(deployment_arn);
    rec.service.current_service_revisions = Some(current);
}

/// What CreateService compares to decide whether a repeat is identical.
fn spec(s: &Service) -> Value {
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
    let controller =
        req.deployment_controller.and_then(|c| c.r#type).unwrap_or(DeploymentControllerType::Ecs);
    match &controller {
        DeploymentControllerType::Ecs | DeploymentControllerType::External => {}
        DeploymentControllerType::CodeDeploy => {
            return Err(invalid(
                "deploymentController type CODE_DEPLOY is not supported by Wharf; use ECS or \
                 EXTERNAL.",
            ))
        }
        other => {
            return Err(invalid(format!(
                "Invalid deploymentController type '{other}'. Valid values: ECS, CODE_DEPLOY, \
                 EXTERNAL."
            )))
        }
    }
    let external = controller == DeploymentControllerType::External;
    let strategy = req.scheduling_strategy.unwrap_or(SchedulingStrategy::Replica);
    if !strategy.is_known() {
        return Err(invalid(format!(
            "Invalid schedulingStrategy '{strategy}'. Valid values: REPLICA, DAEMON."
        )));
    }
    let daemon = strategy == SchedulingStrategy::Daemon;
    if daemon && external {
        return Err(invalid(
            "The daemon scheduling strategy does not support the EXTERNAL deployment controller.",
        ));
    }
    if daemon && req.desired_count.is_some() {
        return Err(invalid(DAEMON_DESIRED));
    }
    let desired = match (daemon, external, req.desired_count) {
        (true, _, _) => 0,
        (false, true, d) => d.unwrap_or(0),
        (false, false, d) => required(d, "desiredCount")?,
    };
    if desired < 0 {
        return Err(invalid("desiredCount must be greater than or equal to 0."));
    }
    let strategies = req.placement_strategy.unwrap_or_default();
    let constraints = req.placement_constraints.unwrap_or_default();
    if daemon && !strategies.is_empty() {
        return Err(invalid(DAEMON_STRATEGY));
    }
    refuse_unsupported(
        req.service_registries.as_ref().is_some_and(|r| !r.is_empty()),
        req.service_connect_configuration.as_ref().is_some_and(|c| c.enabled == Some(true)),
        req.volume_configurations.as_ref().is_some_and(|v| !v.is_empty()),
        req.vpc_lattice_configurations.as_ref().is_some_and(|v| !v.is_empty()),
    )?;
    let config = deployment_configuration(req.deployment_configuration, &strategy)?;
    check_grace_period(req.health_check_grace_period_seconds)?;
    check_propagate(req.propagate_tags.as_ref())?;
    let tag_list = req.tags.unwrap_or_default();
    ecs_tags::validate(&tag_list)?;

    let names = Names::new(ctx, &cluster, &name);
    let now = ctx.state.ops.clock.now_millis();
    let load_balancers = req.load_balancers.unwrap_or_default();
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
        for (given, field) in [
            (req.task_definition.is_some(), "taskDefinition"),
            (!load_balancers.is_empty(), "loadBalancers"),
            (req.network_configuration.is_some(), "networkConfiguration"),
            (req.launch_type.is_some(), "launchType"),
            (req.capacity_provider_strategy.is_some(), "capacityProviderStrategy"),
            (req.platform_version.is_some(), "platformVersion"),
        ] {
            if given {
                return Err(invalid(format!(
                    "{field} cannot be specified for a service that uses the EXTERNAL deployment \
                     controller; specify it on the task set."
                )));
            }
        }
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
        Some(rev)
    };

    let wanted = spec(&service);
    let names2 = names.clone();
    let random = ctx.state.ops.entropy.next_u64();
    // Whether this call created the service (not an identical one before it).
    let created = Arc::new(Mutex::new(false));
    let created_in = created.clone();
    let rec =
        docs::update::<ServiceRecord, _>(ctx.ops(), Kind::Service, &names.key(), move |cur| {
            if let Some(existing) = cur.as_ref().filter(|c| is_live(c)) {
                // A DRAINING service still holds its name: ECS refuses any
                // CreateService of it, identical or not.
                let active = existing.service.status == Some(ServiceStatus::Active);
                return if active && spec(&existing.service) == wanted {
                    Ok(Change::Keep)
                } else {
                    Err(EcsError::invalid_parameter("Creation of service was not idempotent."))
                };
            }
            // A service created again under its old name keeps its id sequence.
            let unit_ids = cur.map(|old| old.unit_ids).unwrap_or_default();
            let mut rec = ServiceRecord { service, unit_ids, ..ServiceRecord::default() };
            if let Some(rev) = &revision {
                start_deployment(&mut rec, &names2, rev, now, random);
            }
            if let Ok(mut c) = created_in.lock() {
                *c = true;
            }
            Ok(Change::Put(rec))
        })
        .await?
        .ok_or_else(|| EcsError::server("The service was not created."))?;
    let fresh = created.lock().map(|c| *c).unwrap_or(false);
    if fresh {
        // A service of the same name that went INACTIVE left its tags under
        // the same ARN; the new one starts with only its own.
        let old: Vec<String> = ctx
            .store()
            .tags(&ctx.region, &names.service_arn)
            .await?
            .into_iter()
            .map(|t| t.0)
            .collect();
        if !old.is_empty() {
            ctx.store().untag(&ctx.region, &names.service_arn, old).await?;
        }
        if !tag_list.is_empty() {
            add_tags(ctx.ops(), &names.service_arn, tag_list).await?;
        }
    }
    Ok(CreateServiceResponse { service: Some(shown(ctx, &rec, true).await?) })
}

/// A task definition by its full ARN, whatever its status (a service keeps
/// running a revision deregistered after it was deployed).
async fn definition_by_arn(ctx: &Ctx, given: &str) -> Result<Option<TaskDefinition>, ApiError> {
    let Some(arn::TaskDefinitionRef::Revision(family, rev)) = arn::task_definition_ref(given)
    else {
        return Ok(None);
    };
    let Ok(rev) = i32::try_from(rev) else { return Ok(None) };
    match ctx.store().get_task_definition(&ctx.region, family, Some(rev)).await? {
        Some(stored) => Ok(serde_json::from_str(&stored.json).ok()),
        None => Ok(None),
    }
}

/// What an UpdateService changes, decided before the atomic update.
#[derive(Default)]
struct Update {
    desired: Option<i32>,
    deployment: Option<Revision>,
    config: Option<DeploymentConfiguration>,
    grace: Option<i32>,
    constraints: Option<Vec<PlacementConstraint>>,
    strategies: Option<Vec<PlacementStrategy>>,
    managed_tags: Option<bool>,
    propagate: Option<PropagateTags>,
    exec: Option<bool>,
    az: Option<wharf_model::ecs::shapes::AvailabilityZoneRebalancing>,
}

/// UpdateService: a desired count change scales the PRIMARY deployment; a
/// change to what the tasks run (task definition, network, load balancers,
/// platform version, capacity providers) or `forceNewDeployment` starts a
/// new deployment; the other settings change in place.
pub(crate) async fn update_service(
    ctx: &Ctx,
    req: UpdateServiceRequest,
) -> Result<UpdateServiceResponse, ApiError> {
    let names = target(ctx, req.cluster.as_deref(), req.service).await?;
    let current = load(ctx, &names).await?.ok_or_else(service_not_found)?;
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
        req.service_registries.as_ref().is_some_and(|r| !r.is_empty()),
        req.service_connect_configuration.as_ref().is_some_and(|c| c.enabled == Some(true)),
        req.volume_configurations.as_ref().is_some_and(|v| !v.is_empty()),
        req.vpc_lattice_configurations.as_ref().is_some_and(|v| !v.is_empty()),
    )?;
    if external {
        for (given, field) in [
            (req.task_definition.is_some(), "taskDefinition"),
            (req.load_balancers.is_some(), "loadBalancers"),
            (req.network_configuration.is_some(), "networkConfiguration"),
            (req.capacity_provider_strategy.is_some(), "capacityProviderStrategy"),
            (req.platform_version.is_some(), "platformVersion"),
            (req.force_new_deployment == Some(true), "forceNewDeployment"),
            (req.deployment_configuration.is_some(), "deploymentConfiguration"),
            (req.enable_execute_command.is_some(), "enableExecuteCommand"),
        ] {
            if given {
                return Err(invalid(format!(
                    "For a service that uses the EXTERNAL deployment controller, only the desired \
                     count, placement constraints and strategies, health check grace period, \
                     enableECSManagedTags and propagateTags can be updated; {field} cannot."
                )));
            }
        }
    }
    if daemon && req.desired_count.is_some() {
        return Err(invalid(DAEMON_DESIRED));
    }
    if daemon && req.placement_strategy.as_ref().is_some_and(|p| !p.is_empty()) {
        return Err(invalid(DAEMON_STRATEGY));
    }
    if daemon && req.capacity_provider_strategy.as_ref().is_some_and(|p| !p.is_empty()) {
        return Err(invalid(DAEMON_PROVIDERS));
    }
    if req.desired_count.is_some_and(|d| d < 0) {
        return Err(invalid("desiredCount must be greater than or equal to 0."));
    }
    check_grace_period(req.health_check_grace_period_seconds)?;
    check_propagate(req.propagate_tags.as_ref())?;
    let mut up = Update {
        desired: req.desired_count,
        grace: req.health_check_grace_period_seconds,
        managed_tags: req.enable_ecs_managed_tags,
        propagate: req.propagate_tags,
        exec: req.enable_execute_command,
        az: req.availability_zone_rebalancing,
        ..Update::default()
    };
    if let Some(given) = req.deployment_configuration {
        let merged = merge_configuration(s.deployment_configuration.as_ref(), given);
        up.config = Some(deployment_configuration(Some(merged), &strategy)?);
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
    if !external {
        td = match req.task_definition.as_deref() {
            Some(given) => Some(runnable_definition(ctx.ops(), given).await?),
            None => {
                definition_by_arn(ctx, s.task_definition.as_deref().unwrap_or_default()).await?
            }
        };
        if reshapes && td.is_none() {
            return Err(EcsError::client("TaskDefinition not found.").into());
        }
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

    let now = ctx.state.ops.clock.now_millis();
    let names2 = names.clone();
    let random = ctx.state.ops.entropy.next_u64();
    let rec = modify_active(ctx, &names, move |r| {
        let s = &mut r.service;
        if let Some(d) = up.desired {
            s.desired_count = Some(d);
            for dep in s.deployments.iter_mut().flatten() {
                if dep.status == Some(DeploymentStatus::Primary) {
                    dep.desired_count = Some(d);
                    dep.updated_at = Some(Timestamp::from_millis(now));
                }
            }
        }
        if let Some(c) = up.config {
            s.deployment_configuration = Some(c);
        }
        if let Some(g) = up.grace {
            s.health_check_grace_period_seconds = Some(g);
        }
        if let Some(c) = up.constraints {
            s.placement_constraints = Some(c);
        }
        if let Some(p) = up.strategies {
            s.placement_strategy = Some(p);
        }
        if let Some(m) = up.managed_tags {
            s.enable_ecs_managed_tags = Some(m);
        }
        if let Some(p) = up.propagate {
            s.propagate_tags = Some(p);
        }
        if let Some(e) = up.exec {
            s.enable_execute_command = Some(e);
        }
        if let Some(a) = up.az {
            s.availability_zone_rebalancing = Some(a);
        }
        if let Some(rev) = up.deployment {
            s.task_definition = Some(rev.task_definition.clone());
            s.launch_type = rev.launch_type.clone();
            s.capacity_provider_strategy = rev.capacity_provider_strategy.clone();
            s.platform_version = rev.platform_version.clone();
            s.platform_family = rev.platform_family();
            s.network_configuration = rev.network_configuration.clone();
            s.load_balancers = Some(rev.load_balancers.clone());
            start_deployment(r, &names2, &rev, now, random);
        }
        Ok(())
    })
    .await?;
    Ok(UpdateServiceResponse { service: Some(shown(ctx, &rec, false).await?) })
}

/// DeleteService: the service becomes DRAINING with a desired count of 0
/// (the scheduler stops its tasks and then makes it INACTIVE). A REPLICA
/// service scaled above 0 needs `force`.
pub(crate) async fn delete_service(
    ctx: &Ctx,
    req: DeleteServiceRequest,
) -> Result<DeleteServiceResponse, ApiError> {
    let names = target(ctx, req.cluster.as_deref(), req.service).await?;
    let force = req.force.unwrap_or(false);
    let now = ctx.state.ops.clock.now_millis();
    let rec = modify_active(ctx, &names, move |r| {
        let s = &mut r.service;
        let daemon = s.scheduling_strategy == Some(SchedulingStrategy::Daemon);
        if !daemon && !force && s.desired_count.unwrap_or(0) > 0 {
            return Err(EcsError::invalid_parameter(
                "The service cannot be stopped while it is scaled above 0.",
            ));
        }
        s.status = Some(ServiceStatus::Draining);
        s.desired_count = Some(0);
        for d in s.deployments.iter_mut().flatten() {
            d.desired_count = Some(0);
            d.updated_at = Some(Timestamp::from_millis(now));
        }
        for t in s.task_sets.iter_mut().flatten() {
            t.status = Some(TaskSetStatus::Draining);
            t.updated_at = Some(Timestamp::from_millis(now));
        }
        Ok(())
    })
    .await?;
    Ok(DeleteServiceResponse { service: Some(shown(ctx, &rec, false).await?) })
}

/// DescribeServices: up to 10 services by name or ARN, DRAINING and
/// INACTIVE ones included; unknown ones in `failures` as MISSING.
pub(crate) async fn describe_services(
    ctx: &Ctx,
    req: DescribeServicesRequest,
) -> Result<DescribeServicesResponse, ApiError> {
    let given = required(req.services, "services")?;
    if given.is_empty() || given.len() > MAX_DESCRIBED {
        return Err(invalid(format!("services must have between 1 and {MAX_DESCRIBED} items.")));
    }
    let include = req.include.unwrap_or_default();
    if let Some(bad) = include.iter().find(|f| !f.is_known()) {
        return Err(invalid(format!("Invalid include '{bad}'. Valid values: TAGS.")));
    }
    let with_tags = include.contains(&ServiceField::Tags);
    let cluster = active_cluster(ctx.ops(), req.cluster.as_deref()).await?;
    let (mut services, mut failures) = (Vec::new(), Vec::new());
    for g in given {
        let (name, in_arn) = arn::resource_id(&g, "service");
        let rec = if in_arn.is_some_and(|c| c != cluster) || !is_resource_name(name) {
            None
        } else {
            load(ctx, &Names::new(ctx, &cluster, name)).await?
        };
        match rec {
            Some(r) => services.push(shown(ctx, &r, with_tags).await?),
            None => failures.push(Failure {
                arn: Some(if arn::parse(&g).is_some() {
                    g.clone()
                } else {
                    ctx.scope().ecs_arn(&format!("service/{g}"))
                }),
                reason: Some("MISSING".to_owned()),
                detail: None,
            }),
        }
    }
    Ok(DescribeServicesResponse { services: Some(services), failures: Some(failures) })
}

/// Every service record of a cluster, in name order (for checks that need
/// them all, such as DeleteCluster's).
pub(crate) async fn all_in_cluster(
    ctx: &Ctx,
    cluster: &str,
) -> Result<Vec<ServiceRecord>, ApiError> {
    const PAGE: usize = 100;
    let prefix = format!("{cluster}/");
    let mut after = prefix.clone();
    let mut out = Vec::new();
    loop {
        let page =
            docs::list::<ServiceRecord>(ctx.ops(), Kind::Service, Some(&after), PAGE).await?;
        let full = page.len() == PAGE;
        for (key, rec) in page {
            if !key.starts_with(&prefix) {
                return Ok(out);
            }
            after = key;
            out.push(rec);
        }
        if !full {
            return Ok(out);
        }
    }
}

/// Whether a cluster holds services that are ACTIVE or DRAINING (which
/// keep it from being deleted).
pub(crate) async fn has_live_services(ctx: &Ctx, cluster: &str) -> Result<bool, ApiError> {
    Ok(all_in_cluster(ctx, cluster).await?.iter().any(is_live))
}

/// How many ACTIVE services a cluster has (`activeServicesCount`).
pub(crate) async fn active_count(ctx: &Ctx, cluster: &str) -> Result<i32, ApiError> {
    let all = all_in_cluster(ctx, cluster).await?;
    let n = all.iter().filter(|r| r.service.status == Some(ServiceStatus::Active)).count();
    Ok(i32::try_from(n).unwrap_or(i32::MAX))
}

/// ListServices: the ARNs of the cluster's ACTIVE services in name order,
/// by launch type and scheduling strategy; paginated (10 by default).
pub(crate) async fn list_services(
    ctx: &Ctx,
    req: ListServicesRequest,
) -> Result<ListServicesResponse, ApiError> {
    let cluster = active_cluster(ctx.ops(), req.cluster.as_deref()).await?;
    let limit = pagination::max_results(req.max_results, 10)?;
    if let Some(lt) = req.launch_type.as_ref().filter(|l| !l.is_known()) {
        return Err(invalid(format!(
            "Invalid launchType '{lt}'. Valid values: {}.",
            LaunchType::VALUES.join(", ")
        )));
    }
    if let Some(s) = req.scheduling_strategy.as_ref().filter(|s| !s.is_known()) {
        return Err(invalid(format!(
            "Invalid schedulingStrategy '{s}'. Valid values: REPLICA, DAEMON."
        )));
    }
    let prefix = format!("{cluster}/");
    let mut after = match req.next_token.as_deref() {
        Some(t) => {
            let key = pagination::decode(t)?;
            if !key.starts_with(&prefix) {
                return Err(invalid("Invalid nextToken."));
            }
            key
        }
        None => prefix.clone(),
    };
    let mut arns = Vec::new();
    loop {
        let page =
            docs::list::<ServiceRecord>(ctx.ops(), Kind::Service, Some(&after), limit + 1).await?;
        let exhausted = page.len() <= limit;
        for (key, rec) in page {
            if !key.starts_with(&prefix) {
                return Ok(ListServicesResponse { service_arns: Some(arns), next_token: None });
            }
            if arns.len() == limit {
                return Ok(ListServicesResponse {
                    service_arns: Some(arns),
                    next_token: Some(pagination::encode(&after)),
                });
            }
            after = key;
            let s = &rec.service;
            let wanted = s.status == Some(ServiceStatus::Active)
                && req.launch_type.as_ref().is_none_or(|lt| s.launch_type.as_ref() == Some(lt))
                && req.scheduling_strategy.as_ref().is_none_or(|st| {
                    s.scheduling_strategy.as_ref().unwrap_or(&SchedulingStrategy::Replica) == st
                });
            if wanted {
                arns.extend(s.service_arn.clone());
            }
        }
        if exhausted {
            return Ok(ListServicesResponse { service_arns: Some(arns), next_token: None });
        }
    }
}

/// ListServicesByNamespace. Wharf has no Cloud Map and no Service Connect,
/// so no service is ever in a namespace: a namespace that a cluster names
/// as its Service Connect default (which ECS would have created) lists no
/// services; any other is NamespaceNotFoundException, as ECS answers for a
/// namespace that does not exist.
pub(crate) async fn list_services_by_namespace(
    ctx: &Ctx,
    req: ListServicesByNamespaceRequest,
) -> Result<ListServicesByNamespaceResponse, ApiError> {
    let namespace = required(req.namespace, "namespace")?;
    pagination::max_results(req.max_results, 10)?;
    if let Some(t) = req.next_token.as_deref() {
        pagination::decode(t)?;
    }
    let short = namespace.rsplit('/').next().unwrap_or(&namespace).to_owned();
    let clusters = docs::list_all::<Cluster>(ctx.ops(), Kind::Cluster).await?;
    let known = clusters.iter().any(|(_, c)| {
        c.status == Some(ClusterStatus::Active)
            && c.service_connect_defaults
                .as_ref()
                .and_then(|d| d.namespace.as_deref())
                .is_some_and(|n| n == namespace || n.rsplit('/').next() == Some(short.as_str()))
    });
    if !known {
        return Err(EcsError::new(
            EcsErrorKind::NamespaceNotFoundException,
            "The specified namespace wasn't found.",
        )
        .into());
    }
    Ok(ListServicesByNamespaceResponse { service_arns: Some(vec![]), next_token: None })
}

mod deployments;
mod task_sets;

pub(crate) use deployments::{
    describe_service_deployments, describe_service_revisions, list_service_deployments,
};
pub(crate) use task_sets::{
    create_task_set, delete_task_set, describe_task_sets, update_service_primary_task_set,
    update_task_set,
};
/// The (cluster, service) an ARN of a service's sub-resource names:
/// `…:<kind>/<cluster>/<service>/<rest>`.
fn sub_resource<'a>(given: &'a str, kind: &str) -> Option<(&'a str, &'a str, &'a str)> {
    let a = arn::parse(given)?;
    if a.kind != kind {
        return None;
    }
    let mut parts = a.rest.splitn(3, '/');
    let (cluster, service, rest) = (parts.next()?, parts.next()?, parts.next()?);
    (!cluster.is_empty() && !service.is_empty() && !rest.is_empty())
        .then_some((cluster, service, rest))
}

fn missing(arn: &str) -> Failure {
    Failure { arn: Some(arn.to_owned()), reason: Some("MISSING".to_owned()), detail: None }
}

/// Whether a service (`service/<cluster>/<name>`) or task set
/// (`task-set/<cluster>/<service>/<id>`) named by a tag call's ARN exists;
/// the error ECS gives when it does not.
pub(crate) async fn check_taggable(ctx: &Ctx, kind: &str, rest: &str) -> Result<(), ApiError> {
    let now = ctx.state.ops.clock.now_millis();
    let mut parts = rest.splitn(3, '/');
    let (cluster, service) = match (parts.next(), parts.next()) {
        (Some(c), Some(s)) if !c.is_empty() && !s.is_empty() => (c, s),
        _ => return Err(invalid("The specified resourceArn is not valid.")),
    };
    let rec = docs::get::<ServiceRecord>(ctx.ops(), Kind::Service, &model::key(cluster, service))
        .await?
        .filter(|r| is_live(r) && !forgotten(r, now));
    let Some(rec) = rec else { return Err(service_not_found().into()) };
    if kind == "task-set" {
        let id = parts.next().unwrap_or_default();
        let exists = rec.service.task_sets.iter().flatten().any(|t| t.id.as_deref() == Some(id));
        if !exists {
            return Err(task_set_not_found().into());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::task_sets::{computed_desired, task_set_id};
    use super::*;

    #[test]
    fn task_set_ids_come_from_ids_and_arns() {
        assert_eq!(task_set_id("ecs-svc/123").as_deref(), Some("ecs-svc/123"));
        let arn = "arn:aws:ecs:us-east-1:123456789012:task-set/c/s/ecs-svc/42";
        assert_eq!(task_set_id(arn).as_deref(), Some("ecs-svc/42"));
        assert_eq!(task_set_id("ecs-svc/"), None);
        assert_eq!(task_set_id("nonsense"), None);
        assert_eq!(task_set_id("arn:aws:ecs:us-east-1:1:service/c/s"), None);
    }

    #[test]
    fn computed_desired_count_rounds_up() {
        let s = |v| Scale { value: Some(v), unit: Some(ScaleUnit::Percent) };
        assert_eq!(computed_desired(3, &s(50.0)), 2);
        assert_eq!(computed_desired(4, &s(100.0)), 4);
        assert_eq!(computed_desired(4, &s(0.0)), 0);
        assert_eq!(computed_desired(10, &s(1.0)), 1);
    }

    #[test]
    fn deployment_suffixes_are_21_url_safe_characters() {
        let s = random_deployment_suffix();
        assert_eq!(s.len(), 21);
        assert!(s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_ne!(s, random_deployment_suffix());
    }

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
}
