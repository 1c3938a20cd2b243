//! Amazon ECS on AWS JSON 1.1: one handler per operation, grouped by resource.
//!
//! A handler takes the operation's input shape and returns its output shape;
//! [`handle`] does the parsing and writing around it, so a handler is only
//! what the operation means.

pub(crate) mod account_setting;
mod attributes;
mod capacity_provider;
pub(crate) mod cluster;
pub(crate) mod container_instance;
mod input;
pub(crate) mod service;
mod tags;
pub(crate) mod task;
mod task_definition;
pub mod vpc;

use crate::context::Ctx;
use crate::protocol::{self, ApiError};

/// A task definition by family, family:revision or ARN (the latest ACTIVE
/// revision for a family): its family, revision and JSON, for authorization.
pub(crate) async fn task_definition_lookup(
    ctx: &Ctx,
    given: &str,
) -> Option<(String, i32, String)> {
    let found = task_definition::find(ctx, given).await.ok().flatten()?;
    Some((found.family, found.revision, found.json))
}

/// Runs one ECS operation on a request body; the answer body or the error.
pub async fn handle(ctx: &Ctx, op: &str, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    if op == "RegisterTaskDefinition" {
        // The task definition document has its own size limit and its own
        // reading, with ECS's words for type mismatches.
        let req = task_definition::decode(body)?;
        let registered = Box::pin(task_definition::register_task_definition(ctx, req)).await?;
        return protocol::to_body(&registered);
    }
    protocol::operations!(ctx, op, body, {
        "CreateCluster" => cluster::create_cluster,
        "DescribeClusters" => cluster::describe_clusters,
        "ListClusters" => cluster::list_clusters,
        "UpdateCluster" => cluster::update_cluster,
        "UpdateClusterSettings" => cluster::update_cluster_settings,
        "PutClusterCapacityProviders" => cluster::put_cluster_capacity_providers,
        "DeleteCluster" => cluster::delete_cluster,
        "DescribeTaskDefinition" => task_definition::describe_task_definition,
        "ListTaskDefinitions" => task_definition::list_task_definitions,
        "ListTaskDefinitionFamilies" => task_definition::list_task_definition_families,
        "DeregisterTaskDefinition" => task_definition::deregister_task_definition,
        "DeleteTaskDefinitions" => task_definition::delete_task_definitions,
        "TagResource" => tags::tag_resource,
        "UntagResource" => tags::untag_resource,
        "ListTagsForResource" => tags::list_tags_for_resource,
        "ListAccountSettings" => account_setting::list_account_settings,
        "PutAccountSetting" => account_setting::put_account_setting,
        "PutAccountSettingDefault" => account_setting::put_account_setting_default,
        "DeleteAccountSetting" => account_setting::delete_account_setting,
        "CreateCapacityProvider" => capacity_provider::create_capacity_provider,
        "DescribeCapacityProviders" => capacity_provider::describe_capacity_providers,
        "UpdateCapacityProvider" => capacity_provider::update_capacity_provider,
        "DeleteCapacityProvider" => capacity_provider::delete_capacity_provider,
        "RegisterContainerInstance" => container_instance::register_container_instance,
        "DeregisterContainerInstance" => container_instance::deregister_container_instance,
        "DescribeContainerInstances" => container_instance::describe_container_instances,
        "ListContainerInstances" => container_instance::list_container_instances,
        "UpdateContainerInstancesState" => container_instance::update_container_instances_state,
        "DiscoverPollEndpoint" => container_instance::discover_poll_endpoint,
        "PutAttributes" => attributes::put_attributes,
        "ListAttributes" => attributes::list_attributes,
        "DeleteAttributes" => attributes::delete_attributes,
        "RunTask" => task::run_task,
        "StartTask" => task::start_task,
        "StopTask" => task::stop_task,
        "ExecuteCommand" => task::execute_command,
        "DescribeTasks" => task::describe_tasks,
        "ListTasks" => task::list_tasks,
        "CreateService" => service::create_service,
        "UpdateService" => service::update_service,
        "DeleteService" => service::delete_service,
        "DescribeServices" => service::describe_services,
        "ListServices" => service::list_services,
        "ListServicesByNamespace" => service::list_services_by_namespace,
        "DescribeServiceDeployments" => service::describe_service_deployments,
        "ListServiceDeployments" => service::list_service_deployments,
        "DescribeServiceRevisions" => service::describe_service_revisions,
        "StopServiceDeployment" => service::stop_service_deployment,
        "CreateTaskSet" => service::create_task_set,
        "UpdateTaskSet" => service::update_task_set,
        "DeleteTaskSet" => service::delete_task_set,
        "DescribeTaskSets" => service::describe_task_sets,
        "UpdateServicePrimaryTaskSet" => service::update_service_primary_task_set,
    })
}
