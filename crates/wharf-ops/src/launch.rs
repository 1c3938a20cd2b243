//! Placing and launching tasks: RunTask, StartTask and the service
//! scheduler's launches all come here, so a service's task is checked,
//! built and placed exactly as a RunTask task is.
//!
//! The request is checked against its definition (`wharf_model::ecs::launch`),
//! then the store places it on the cluster's instances and inserts the tasks
//! in one transaction; the instance's agent hears of each through the
//! store's task watch.

use wharf_model::ecs::launch::{Launch, Placement, TaskRequest, TaskTemplate};
use wharf_model::ecs::placement::{self, Rules};
use wharf_model::ecs::service::{task_group, ServiceRecord};
use wharf_model::ecs::shapes::{
    Failure, LaunchType, NetworkConfiguration, PlacementConstraint, PlacementStrategy,
    PropagateTags, Tag, Task, TaskOverride,
};
use wharf_model::EcsError;

use crate::lookup::{active_cluster, runnable_definition, tags_of};
use crate::{OpsError, Region};

/// One launch, as RunTask, StartTask or a service asks for it.
#[derive(Debug, Clone, Default)]
pub struct LaunchRequest {
    /// The cluster (name or ARN); `default` when absent.
    pub cluster: Option<String>,
    /// The task definition (family, `family:revision` or ARN).
    pub task_definition: String,
    /// RunTask's `overrides`.
    pub overrides: Option<TaskOverride>,
    /// `launchType`.
    pub launch_type: Option<LaunchType>,
    /// `startedBy`.
    pub started_by: Option<String>,
    /// `group`.
    pub group: Option<String>,
    /// `tags`.
    pub tags: Option<Vec<Tag>>,
    /// `networkConfiguration`.
    pub network: Option<NetworkConfiguration>,
    /// `placementStrategy`.
    pub placement_strategy: Vec<PlacementStrategy>,
    /// `placementConstraints`.
    pub placement_constraints: Vec<PlacementConstraint>,
    /// Whether the definition's own `memberOf` constraints apply too
    /// (RunTask and services; StartTask names its instances).
    pub definition_constraints: bool,
    /// How many tasks.
    pub count: usize,
    /// Only these instances (their IDs).
    pub instances: Option<Vec<String>>,
    /// `enableExecuteCommand`.
    pub execute_command: bool,
    /// The service that owns the tasks.
    pub service: Option<String>,
}

/// What a launch did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Launched {
    /// The tasks stored, as RunTask answers them.
    pub tasks: Vec<Task>,
    /// Why others were not placed, instance by instance (ECS's `failures`).
    pub failures: Vec<Failure>,
}

impl Launched {
    /// The IDs of the tasks stored.
    pub fn task_ids(&self) -> Vec<String> {
        self.tasks
            .iter()
            .filter_map(|t| t.task_arn.as_deref())
            .filter_map(|a| a.rsplit('/').next())
            .map(str::to_owned)
            .collect()
    }
}

/// Checks a launch and places and stores its tasks.
pub async fn launch(r: Region<'_>, req: LaunchRequest) -> Result<Launched, OpsError> {
    let cluster = active_cluster(r, req.cluster.as_deref()).await?;
    let td = runnable_definition(r, &req.task_definition).await?;
    let network = req.network.clone();
    let of_service = req.service.is_some();
    let template = TaskTemplate::new(
        &td,
        TaskRequest {
            region: r.name.to_owned(),
            account: r.ops.account_id.to_string(),
            cluster,
            overrides: req.overrides,
            launch_type: req.launch_type,
            started_by: req.started_by,
            group: req.group,
            tags: req.tags,
            network: req.network,
            service: req.service,
            now_ms: r.now_ms(),
            execute_command: req.execute_command,
        },
    )?;
    if !of_service {
        // A service's configuration was checked when it was created or updated.
        crate::network::check_awsvpc(r, network.as_ref()).await?;
    }
    let rules = placement::rules(&req.placement_strategy, &req.placement_constraints)
        .map_err(EcsError::invalid_parameter)?;
    let mut rules = Rules { group: Some(template.group.clone()), ..rules };
    if req.definition_constraints {
        placement::add_definition_constraints(
            &mut rules,
            td.placement_constraints.as_deref().unwrap_or(&[]),
        )
        .map_err(EcsError::invalid_parameter)?;
    }
    let launch = Launch { template, count: req.count, instances: req.instances, rules };
    match r.store().launch_tasks(r.name, launch).await? {
        Placement::Placed { tasks, failures } => {
            Ok(Launched { tasks: tasks.into_iter().map(|t| t.task).collect(), failures })
        }
        Placement::NoContainerInstances => Err(OpsError::NoContainerInstances),
    }
}

/// Launches `count` tasks of a service's deployment or task set `unit`
/// (on `instance` if given): `startedBy` the unit, `group`
/// `service:<name>`, the service's placement and tag propagation.
pub async fn for_service(
    r: Region<'_>,
    rec: &ServiceRecord,
    unit: &str,
    count: usize,
    instance: Option<&str>,
) -> Result<Launched, OpsError> {
    let s = &rec.service;
    let name = s.service_name.clone().unwrap_or_default();
    let runs = rec
        .unit_runs(unit)
        .ok_or_else(|| EcsError::server(format!("service {name} has no deployment {unit}")))?;
    let tags = match (&s.propagate_tags, &s.service_arn) {
        (Some(PropagateTags::Service), Some(arn)) => tags_of(r, arn).await?,
        _ => vec![],
    };
    launch(
        r,
        LaunchRequest {
            cluster: s.cluster_arn.clone(),
            task_definition: runs.task_definition.unwrap_or_default(),
            launch_type: runs.launch_type,
            started_by: Some(unit.to_owned()),
            group: Some(task_group(&name)),
            tags: Some(tags),
            network: runs.network,
            placement_strategy: s.placement_strategy.clone().unwrap_or_default(),
            placement_constraints: s.placement_constraints.clone().unwrap_or_default(),
            definition_constraints: true,
            count,
            instances: instance.map(|i| vec![i.to_owned()]),
            service: Some(name),
            execute_command: s.enable_execute_command.unwrap_or(false),
            ..LaunchRequest::default()
        },
    )
    .await
}
