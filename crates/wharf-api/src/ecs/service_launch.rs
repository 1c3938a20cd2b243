//! Launching a service's tasks: the service scheduler's way into RunTask's
//! own launch, so that a service task is checked, built and placed exactly
//! as a RunTask task is, with `startedBy` the deployment (or task set) that
//! launched it, `group` `service:<name>`, and the service's placement and
//! tag propagation.

use wharf_model::ecs::placement;
use wharf_model::ecs::service::{task_group, ServiceRecord};
use wharf_model::ecs::shapes::{LaunchType, NetworkConfiguration, PropagateTags};
use wharf_model::EcsError;

use super::{tags, task};
use crate::context::{AppState, Ctx};

/// What a launch did: the tasks stored, and why some were not placed, as
/// the sentence ECS puts in its "was unable to place a task" event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceLaunch {
    /// The IDs of the tasks stored.
    pub task_ids: Vec<String>,
    /// Why tasks were left unplaced.
    pub unplaced: Option<String>,
}

/// What a deployment or task set runs.
struct Unit {
    task_definition: Option<String>,
    launch_type: Option<LaunchType>,
    network: Option<NetworkConfiguration>,
}

fn unit_of(rec: &ServiceRecord, unit: &str) -> Option<Unit> {
    let s = &rec.service;
    if let Some(d) = s.deployments.iter().flatten().find(|d| d.id.as_deref() == Some(unit)) {
        return Some(Unit {
            task_definition: d.task_definition.clone().or_else(|| s.task_definition.clone()),
            launch_type: d.launch_type.clone().or_else(|| s.launch_type.clone()),
            network: d.network_configuration.clone().or_else(|| s.network_configuration.clone()),
        });
    }
    s.task_sets.iter().flatten().find(|t| t.id.as_deref() == Some(unit)).map(|t| Unit {
        task_definition: t.task_definition.clone(),
        launch_type: t.launch_type.clone(),
        network: t.network_configuration.clone(),
    })
}

/// Launches `count` tasks of `unit` (on `instance` if given) for the service.
pub async fn launch(
    state: &AppState,
    region: &str,
    rec: &ServiceRecord,
    unit: &str,
    count: usize,
    instance: Option<&str>,
) -> Result<ServiceLaunch, EcsError> {
    let ctx = Ctx {
        state: state.clone(),
        region: region.to_owned(),
        request_id: "service-scheduler".to_owned(),
        caller: None,
    };
    let s = &rec.service;
    let name = s.service_name.clone().unwrap_or_default();
    let cluster = s.cluster_arn.as_deref().and_then(|a| a.rsplit('/').next()).map(str::to_owned);
    let u = unit_of(rec, unit)
        .ok_or_else(|| EcsError::server(format!("service {name} has no deployment {unit}")))?;
    let rules = placement::rules(
        s.placement_strategy.as_deref().unwrap_or(&[]),
        s.placement_constraints.as_deref().unwrap_or(&[]),
    )
    .map_err(EcsError::invalid_parameter)?;
    let propagated = match s.propagate_tags {
        Some(PropagateTags::Service) => match &s.service_arn {
            Some(arn) => tags::of(&ctx, arn).await.map_err(api_to_ecs)?,
            None => vec![],
        },
        _ => vec![],
    };
    let mut l = task::launch(
        &ctx,
        cluster.as_deref(),
        u.task_definition,
        None,
        u.launch_type,
        Some(unit.to_owned()),
        Some(task_group(&name)),
        Some(propagated),
        u.network,
        rules,
    )
    .await
    .map_err(api_to_ecs)?;
    l.service = Some(name);
    let only = instance.map(|i| vec![i.to_owned()]);
    match task::place_and_store(&ctx, l, count, only).await {
        Ok((tasks, failures)) => {
            let task_ids: Vec<String> = tasks
                .iter()
                .filter_map(|t| t.task_arn.as_deref())
                .filter_map(|a| a.rsplit('/').next())
                .map(str::to_owned)
                .collect();
            let unplaced = (task_ids.len() < count).then(|| closest_match(&failures));
            Ok(ServiceLaunch { task_ids, unplaced })
        }
        Err(e) if e.message.starts_with("No Container Instances") => Ok(ServiceLaunch {
            task_ids: vec![],
            unplaced: Some("No Container Instances were found in your cluster.".to_owned()),
        }),
        Err(e) => Err(api_to_ecs(e)),
    }
}

/// ECS's sentence for the closest matching instance's shortfall.
fn closest_match(failures: &[wharf_model::ecs::shapes::Failure]) -> String {
    let Some(f) = failures.first() else {
        return "No Container Instances were found in your cluster.".to_owned();
    };
    let id = f.arn.as_deref().and_then(|a| a.rsplit('/').next()).unwrap_or("unknown");
    let lacks = match f.reason.as_deref() {
        Some("RESOURCE:CPU") => "has insufficient CPU units available.",
        Some("RESOURCE:MEMORY") => "has insufficient memory available.",
        Some("RESOURCE:PORTS") => "is already using a port required by your task.",
        Some("AGENT") => "encountered error \"AGENT\".",
        _ => "is missing an attribute required by your task.",
    };
    format!("The closest matching (container-instance {id}) {lacks}")
}

fn api_to_ecs(e: crate::protocol::ApiError) -> EcsError {
    EcsError::server(format!("{}: {}", e.type_name, e.message))
}
