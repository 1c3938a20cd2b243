//! Placing and launching tasks: RunTask, StartTask and the service
//! scheduler's launches all come here, so a service's task is checked,
//! built and placed exactly as a RunTask task is.
//!
//! The request is checked against its definition (`wharf_model::ecs::launch`),
//! then the store places it on the cluster's instances and inserts the tasks
//! in one transaction; the instance's agent hears of each through the
//! store's task watch.

use std::collections::BTreeMap;

use wharf_model::ecs::capacity::{self, Capacity, Share};
use wharf_model::ecs::launch::{Launch, LaunchCapacity, Placement, TaskRequest, TaskTemplate};
use wharf_model::ecs::placement::{self, Rules};
use wharf_model::ecs::service::{task_group, ServiceRecord};
use wharf_model::ecs::shapes::{
    CapacityProvider, CapacityProviderStatus, CapacityProviderStrategyItem, Cluster, DesiredStatus,
    Failure, LaunchType, NetworkConfiguration, PlacementConstraint, PlacementStrategy,
    PropagateTags, Tag, Task, TaskOverride,
};
use wharf_model::EcsError;
use wharf_store::{Kind, TaskQuery};

use crate::lookup::{active_cluster, runnable_definition, tags_of};
use crate::{docs, OpsError, Region};

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
    /// `capacityProviderStrategy`. With neither this nor a launch type (nor
    /// named instances), the cluster's default strategy applies, if it has
    /// one.
    pub capacity_provider_strategy: Option<Vec<CapacityProviderStrategyItem>>,
    /// `platformVersion` (Fargate only).
    pub platform_version: Option<String>,
    /// How many tasks (of a service's deployment) each capacity provider
    /// already runs, by provider name: the strategy's base and weights
    /// count them.
    pub existing: BTreeMap<String, u32>,
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
    let record = docs::get::<Cluster>(r, Kind::Cluster, &cluster).await?.unwrap_or_default();
    let given = req.capacity_provider_strategy.filter(|s| !s.is_empty());
    if given.is_some() && req.launch_type.is_some() {
        return Err(EcsError::invalid_parameter(
            "Specifying both a launch type and capacity provider strategy is not supported. \
             Remove one and try again.",
        )
        .into());
    }
    let by_default = req.launch_type.is_none() && req.instances.is_none();
    let strategy = given.or_else(|| {
        by_default
            .then(|| record.default_capacity_provider_strategy.clone())
            .flatten()
            .filter(|s| !s.is_empty())
    });
    let shares = match &strategy {
        Some(s) => Some(resolve(r, s, record.capacity_providers.as_deref().unwrap_or(&[])).await?),
        None => None,
    };
    let fargate = match &shares {
        Some(shares) => shares.iter().any(|s| s.capacity.is_fargate()),
        None => req.launch_type == Some(LaunchType::Fargate),
    };
    let launch_type = match &shares {
        Some(_) => Some(if fargate { LaunchType::Fargate } else { LaunchType::Ec2 }),
        None => req.launch_type,
    };
    let platform_version = match (fargate, req.platform_version.as_deref()) {
        (true, given) => capacity::platform_version(given)?,
        (false, None) => capacity::LATEST_PLATFORM_VERSION,
        (false, Some(_)) => {
            return Err(EcsError::invalid_parameter(
                "The platform version must be null when specifying an EC2 launch type.",
            )
            .into())
        }
    };
    let td = runnable_definition(r, &req.task_definition).await?;
    let network = req.network.clone();
    let of_service = req.service.is_some();
    let mut template = TaskTemplate::new(
        &td,
        TaskRequest {
            region: r.name.to_owned(),
            account: r.ops.account_id.to_string(),
            cluster,
            overrides: req.overrides,
            launch_type,
            started_by: req.started_by,
            group: req.group,
            tags: req.tags,
            network: req.network,
            service: req.service,
            now_ms: r.now_ms(),
            execute_command: req.execute_command,
        },
    )?;
    template.platform_version = platform_version.to_owned();
    if fargate {
        capacity::check_fargate_task(&template.resolved)?;
    }
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
    let capacity = match shares {
        Some(shares) => {
            let existing = shares
                .iter()
                .map(|s| req.existing.get(&s.provider).copied().unwrap_or(0))
                .collect();
            LaunchCapacity::Strategy { shares, existing }
        }
        None => LaunchCapacity::LaunchType,
    };
    let launch = Launch { template, count: req.count, instances: req.instances, rules, capacity };
    match r.store().launch_tasks(r.name, launch).await? {
        Placement::Placed { tasks, failures } => {
            Ok(Launched { tasks: tasks.into_iter().map(|t| t.task).collect(), failures })
        }
        Placement::NoContainerInstances => Err(OpsError::NoContainerInstances),
    }
}

/// Checks a strategy against the cluster's providers and resolves each
/// item: where its provider's tasks run, its base and weight.
async fn resolve(
    r: Region<'_>,
    strategy: &[CapacityProviderStrategyItem],
    associated: &[String],
) -> Result<Vec<Share>, OpsError> {
    capacity::check_strategy(strategy, associated)?;
    let mut shares = Vec::with_capacity(strategy.len());
    for item in strategy {
        let name = capacity::short_name(item.capacity_provider.as_deref().unwrap_or_default());
        let capacity = match Capacity::built_in(name) {
            Some(c) => c,
            None => {
                let provider = docs::get::<CapacityProvider>(r, Kind::CapacityProvider, name)
                    .await?
                    .filter(|p| p.status == Some(CapacityProviderStatus::Active));
                let group = provider
                    .and_then(|p| p.auto_scaling_group_provider)
                    .and_then(|a| a.auto_scaling_group_arn)
                    .ok_or_else(|| {
                        EcsError::invalid_parameter(format!(
                            "The specified capacity provider '{name}' does not exist. Specify a \
                             valid name or ARN and try again."
                        ))
                    })?;
                Capacity::Group(capacity::group_name(&group).to_owned())
            }
        };
        shares.push(Share {
            provider: name.to_owned(),
            capacity,
            base: u32::try_from(item.base.unwrap_or(0)).unwrap_or(0),
            weight: u32::try_from(item.weight.unwrap_or(0)).unwrap_or(0),
        });
    }
    Ok(shares)
}

/// How many of a service unit's tasks not yet stopped run on each capacity
/// provider.
async fn on_providers(
    r: Region<'_>,
    cluster: &str,
    service: &str,
    unit: &str,
) -> Result<BTreeMap<String, u32>, OpsError> {
    const MAX: usize = 10_000;
    let stored = r
        .store()
        .list_tasks(
            r.name,
            TaskQuery {
                cluster: cluster.to_owned(),
                service: Some(service.to_owned()),
                started_by: Some(unit.to_owned()),
                desired_status: Some(DesiredStatus::Running),
                limit: MAX,
                ..TaskQuery::default()
            },
        )
        .await?;
    let mut out = BTreeMap::new();
    for t in stored {
        let Ok(task) = serde_json::from_str::<Task>(&t.json) else { continue };
        if let Some(p) = task.capacity_provider_name {
            *out.entry(p).or_insert(0) += 1;
        }
    }
    Ok(out)
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
    let existing = match (&runs.capacity_provider_strategy, instance) {
        (Some(_), None) => on_providers(r, rec.cluster_name(), &name, unit).await?,
        _ => BTreeMap::new(),
    };
    launch(
        r,
        LaunchRequest {
            cluster: s.cluster_arn.clone(),
            task_definition: runs.task_definition.unwrap_or_default(),
            launch_type: runs.launch_type,
            capacity_provider_strategy: runs.capacity_provider_strategy,
            platform_version: runs.platform_version,
            existing,
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
