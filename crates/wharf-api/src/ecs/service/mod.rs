//! Services: CreateService, UpdateService, DeleteService, DescribeServices,
//! ListServices, ListServicesByNamespace, DescribeServiceDeployments,
//! ListServiceDeployments, DescribeServiceRevisions, and the task set calls
//! of the EXTERNAL deployment controller (CreateTaskSet, UpdateTaskSet,
//! DeleteTaskSet, DescribeTaskSets, UpdateServicePrimaryTaskSet).
//!
//! One file per verb: [`create`], [`update`], [`delete`], [`describe`]
//! (DescribeServices and the listings), [`deployments`], [`task_sets`];
//! [`checks`] holds the checks that read Wharf's state. The rules that need
//! only the request live in `wharf_model::ecs::service::validate`; starting
//! a deployment in `wharf_model::ecs::service::deployment`.
//!
//! The API only writes desired state into the service's [`ServiceRecord`]
//! and returns; the service scheduler (wharf-control) starts and stops the
//! tasks and owns the counts, rollout states after IN_PROGRESS, events, the
//! circuit breaker, the status of service deployments after their creation
//! and the DRAINING → INACTIVE step. So a handler never writes a whole
//! record it read earlier: every change goes through
//! `wharf_ops::service::update_active` with a closure that edits the record
//! as it is at that moment, leaving the scheduler's fields as they are.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use wharf_model::arn;
use wharf_model::ecs::launch::launch_type;
use wharf_model::ecs::service::deployment::{
    container_images, health_checked, Names, Revision, ServiceUpdate,
};
use wharf_model::ecs::service::validate::{
    check_containers, check_grace_period, check_network, check_placement, check_propagate,
    check_strategy, deployment_configuration, deployment_controller, is_awsvpc,
    merge_configuration, network_mode, platform_version, refuse_for_code_deploy_update,
    refuse_for_external, refuse_for_external_update, refuse_unsupported, scheduling, uses_fargate,
    BOTH_LAUNCH, DAEMON_DESIRED, DAEMON_PROVIDERS, DAEMON_STRATEGY, MAX_LOAD_BALANCERS,
};
use wharf_model::ecs::service::{
    self as model, forgotten, is_external, is_live, service_not_active, service_not_found,
    task_set_not_found, ServiceRecord,
};
use wharf_model::ecs::shapes::{
    CapacityProviderStrategyItem, Cluster, CreateServiceRequest, CreateServiceResponse,
    CreateTaskSetRequest, CreateTaskSetResponse, DeleteServiceRequest, DeleteServiceResponse,
    DeleteTaskSetRequest, DeleteTaskSetResponse, DeploymentController, DeploymentControllerType,
    DescribeServiceDeploymentsRequest, DescribeServiceDeploymentsResponse,
    DescribeServiceRevisionsRequest, DescribeServiceRevisionsResponse, DescribeServicesRequest,
    DescribeServicesResponse, DescribeTaskSetsRequest, DescribeTaskSetsResponse, Failure,
    LaunchType, ListServiceDeploymentsRequest, ListServiceDeploymentsResponse,
    ListServicesByNamespaceRequest, ListServicesByNamespaceResponse, ListServicesRequest,
    ListServicesResponse, LoadBalancer, NetworkMode, PropagateTags, Scale, ScaleUnit,
    SchedulingStrategy, Service, ServiceDeploymentBrief, ServiceDeploymentStatus, ServiceField,
    StopServiceDeploymentRequest, StopServiceDeploymentResponse, StopServiceDeploymentStopType,
    TaskDefinition, TaskSet, TaskSetField, UpdateServicePrimaryTaskSetRequest,
    UpdateServicePrimaryTaskSetResponse, UpdateServiceRequest, UpdateServiceResponse,
    UpdateTaskSetRequest, UpdateTaskSetResponse,
};
use wharf_model::ecs::status::{ClusterStatus, ServiceStatus, TaskSetStatus};
use wharf_model::ecs::tags as ecs_tags;
use wharf_model::elbv2::shapes::TargetTypeEnum;
use wharf_model::elbv2::TargetGroupRecord;
use wharf_model::wire::Timestamp;
use wharf_model::{EcsError, EcsErrorKind};
use wharf_ops::docs;
use wharf_ops::lookup::{active_cluster, definition_by_arn, runnable_definition, tags_of};
use wharf_ops::service::{create, load, update, update_active};
use wharf_store::elb::ElbKind;
use wharf_store::Kind;

use super::input::{is_resource_name, required};
use crate::context::Ctx;
use crate::pagination;
use crate::protocol::ApiError;

/// Services one DescribeServices call may name.
pub const MAX_DESCRIBED: usize = 10;

/// ARNs one DescribeServiceDeployments or DescribeServiceRevisions call may name.
pub const MAX_DESCRIBED_DEPLOYMENTS: usize = 20;

const NOT_EXTERNAL: &str = "Amazon ECS only supports task set management on services configured \
     to use external deployment controllers.";

fn invalid(message: impl Into<String>) -> ApiError {
    EcsError::invalid_parameter(message).into()
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
    Ok(Names::new(&ctx.scope(), &cluster, name))
}

/// The service as an answer shows it: task sets only for EXTERNAL, tags
/// only when asked for.
async fn shown(ctx: &Ctx, rec: &ServiceRecord, with_tags: bool) -> Result<Service, ApiError> {
    let mut s = rec.service.clone();
    if model::uses_task_sets(&s) {
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

mod checks;
mod create;
mod delete;
mod deployments;
mod describe;
mod task_sets;
mod update;

use checks::{check_listener_rules, check_load_balancers, placement_source};

pub(crate) use create::create_service;
pub(crate) use delete::delete_service;
pub(crate) use deployments::{
    describe_service_deployments, describe_service_revisions, list_service_deployments,
    stop_service_deployment,
};
pub(crate) use describe::{describe_services, list_services, list_services_by_namespace};
pub(crate) use task_sets::{
    create_task_set, delete_task_set, describe_task_sets, update_service_primary_task_set,
    update_task_set,
};
pub(crate) use update::update_service;

#[cfg(test)]
mod tests {
    use super::task_sets::task_set_id;
    use super::*;
    use wharf_model::ecs::service::task_set::computed_desired;

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
}
