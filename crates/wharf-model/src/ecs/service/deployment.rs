//! Starting a deployment: how a service's record takes a new PRIMARY
//! deployment of a revision, with its ServiceDeployment and ServiceRevision,
//! as CreateService, UpdateService and a rollback do.

use super::{
    circuit_breaker, deployment_alarms, failure_threshold, key, new_deployment, shift,
    DeploymentNotes, ServiceRecord, Throttle, MAX_HISTORY,
};
use crate::arn::Scope;
use crate::ecs::shapes::{
    AvailabilityZoneRebalancing, CapacityProviderStrategyItem, ContainerImage, Deployment,
    DeploymentConfiguration, LaunchType, LoadBalancer, NetworkConfiguration, PlacementConstraint,
    PlacementStrategy, PropagateTags, ServiceCurrentRevisionSummary, ServiceDeployment,
    ServiceDeploymentCircuitBreaker, ServiceDeploymentRollbackMonitorsStatus,
    ServiceDeploymentStatus, ServiceRevision, ServiceRevisionSummary, TaskDefinition,
};
use crate::ecs::status::DeploymentStatus;
use crate::ids;
use crate::wire::Timestamp;

/// The 21-character id at the end of a ServiceDeployment ARN.
pub fn random_deployment_suffix() -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let bits = ids::random_u128();
    (0..21).map(|i| ALPHABET[((bits >> (i * 6)) & 63) as usize] as char).collect()
}

/// The ARNs of one service and the prefixes of its deployments' ARNs.
#[derive(Debug, Clone)]
pub struct Names {
    /// The cluster's name.
    pub cluster: String,
    /// The service's name.
    pub name: String,
    /// The service's ARN.
    pub service_arn: String,
    /// The cluster's ARN.
    pub cluster_arn: String,
    /// What its ServiceDeployment ARNs start with.
    pub deployment_prefix: String,
    /// What its ServiceRevision ARNs start with.
    pub revision_prefix: String,
    /// What its task set ARNs start with.
    pub task_set_prefix: String,
}

impl Names {
    /// The names of service `name` of `cluster` in `scope`.
    pub fn new(scope: &Scope<'_>, cluster: &str, name: &str) -> Self {
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

    /// The service's key in the store.
    pub fn key(&self) -> String {
        key(&self.cluster, &self.name)
    }
}

/// Where a service's tasks come from: what a deployment (or task set) runs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Revision {
    /// The task definition's ARN.
    pub task_definition: String,
    /// Its launch type, when it has one.
    pub launch_type: Option<LaunchType>,
    /// Its capacity provider strategy, when it has one.
    pub capacity_provider_strategy: Option<Vec<CapacityProviderStrategyItem>>,
    /// Its Fargate platform version.
    pub platform_version: Option<String>,
    /// Its `awsvpc` network.
    pub network_configuration: Option<NetworkConfiguration>,
    /// The target groups its tasks register with.
    pub load_balancers: Vec<LoadBalancer>,
    /// Whether an essential container has a health check.
    pub health_checked: bool,
    /// Its containers' images.
    pub container_images: Vec<ContainerImage>,
}

impl Revision {
    /// `platformFamily`: `Linux` on Fargate.
    pub fn platform_family(&self) -> Option<String> {
        (self.launch_type == Some(LaunchType::Fargate)).then(|| "Linux".to_owned())
    }
}

/// Whether an essential container of the definition has a health check.
pub fn health_checked(td: &TaskDefinition) -> bool {
    td.container_definitions
        .iter()
        .flatten()
        .any(|c| c.essential.unwrap_or(true) && c.health_check.is_some())
}

/// The images a revision deploys, by container.
pub fn container_images(td: &TaskDefinition) -> Vec<ContainerImage> {
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

/// A revision's counts, as a ServiceDeployment lists its revisions.
pub fn summary(arn: &str, d: &Deployment) -> ServiceRevisionSummary {
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
pub fn start_deployment(
    rec: &mut ServiceRecord,
    names: &Names,
    rev: &Revision,
    now: i64,
    random: u64,
) {
    let id = rec.new_unit_id(random);
    let digits = id.trim_start_matches("ecs-svc/").to_owned();
    let desired = rec.service.desired_count.unwrap_or(0);
    let revision_arn = format!("{}{digits}", names.revision_prefix);
    let deployment_arn = format!("{}{}", names.deployment_prefix, random_deployment_suffix());

    let mut d = new_deployment(&id, desired, now);
    d.task_definition = Some(rev.task_definition.clone());
    d.launch_type = rev.launch_type.clone();
    d.capacity_provider_strategy = rev.capacity_provider_strategy.clone();
    d.platform_version = rev.platform_version.clone();
    d.platform_family = rev.platform_family();
    d.network_configuration = rev.network_configuration.clone();

    let config = rec.service.deployment_configuration.clone();
    let (load_balancers, shift) = if shift::shifts(config.as_ref()) {
        let blue = blue_of(rec);
        let blue_lbs =
            blue.as_ref().and_then(|b| rec.deployments.get(b)).map(|n| n.load_balancers.clone());
        let green = shift::green_load_balancers(&rev.load_balancers, blue_lbs.as_deref());
        (green, Some(shift::Shift::new(blue, now)))
    } else {
        (rev.load_balancers.clone(), None)
    };
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
            load_balancers,
            health_checked: rev.health_checked,
            failures: 0,
            service_deployment_arn: deployment_arn.clone(),
            service_revision_arn: revision_arn.clone(),
            shift: shift.clone(),
            settled_ms: None,
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
    let (breaker_on, _) = circuit_breaker(config.as_ref());
    let alarms = deployment_alarms(config.as_ref());
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
        lifecycle_stage: shift.map(|s| s.stage),
        deployment_configuration: config,
        deployment_circuit_breaker: Some(ServiceDeploymentCircuitBreaker {
            status: Some(if breaker_on {
                ServiceDeploymentRollbackMonitorsStatus::Monitoring
            } else {
                ServiceDeploymentRollbackMonitorsStatus::Disabled
            }),
            failure_count: Some(0),
            threshold: Some(failure_threshold(desired) as i32),
        }),
        alarms: Some(alarms),
        ..ServiceDeployment::default()
    });
    while rec.history.len() > MAX_HISTORY {
        rec.history.remove(0);
    }
    while rec.revisions.len() > MAX_HISTORY {
        rec.revisions.remove(0);
    }
    rec.throttle = Throttle::default();
    rec.service.current_service_deployment = Some(deployment_arn);
    rec.service.current_service_revisions = Some(current);
}

/// The deployment serving production traffic when a new one starts: the
/// last completed one while it still has tasks, else the PRIMARY.
fn blue_of(rec: &ServiceRecord) -> Option<String> {
    let listed =
        |id: &str| rec.service.deployments.iter().flatten().any(|d| d.id.as_deref() == Some(id));
    let completed = rec.last_completed.as_ref().and_then(|d| d.id.clone());
    completed.filter(|id| listed(id)).or_else(|| {
        rec.service
            .deployments
            .iter()
            .flatten()
            .find(|d| d.status == Some(DeploymentStatus::Primary))
            .and_then(|d| d.id.clone())
    })
}

/// What an UpdateService changes (or an auto scaling action, with only
/// `desired`), decided before the atomic update of the record; each `None`
/// leaves the setting as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServiceUpdate {
    /// A new desired count: the PRIMARY deployment scales to it.
    pub desired: Option<i32>,
    /// A new revision to deploy.
    pub deployment: Option<Revision>,
    /// A new deployment configuration (already merged and checked).
    pub config: Option<DeploymentConfiguration>,
    /// `healthCheckGracePeriodSeconds`.
    pub grace: Option<i32>,
    /// `placementConstraints`.
    pub constraints: Option<Vec<PlacementConstraint>>,
    /// `placementStrategy`.
    pub strategies: Option<Vec<PlacementStrategy>>,
    /// `enableECSManagedTags`.
    pub managed_tags: Option<bool>,
    /// `propagateTags`.
    pub propagate: Option<PropagateTags>,
    /// `enableExecuteCommand`.
    pub exec: Option<bool>,
    /// `availabilityZoneRebalancing`.
    pub az: Option<AvailabilityZoneRebalancing>,
    /// `serviceRegistries` (already checked).
    pub registries: Option<Vec<super::super::shapes::ServiceRegistry>>,
}

impl ServiceUpdate {
    /// Applies the update to the service's record: settings change in place,
    /// a new desired count scales the PRIMARY deployment, and a new revision
    /// starts a deployment.
    pub fn apply(self, rec: &mut ServiceRecord, names: &Names, now: i64, random: u64) {
        let s = &mut rec.service;
        if let Some(d) = self.desired {
            s.desired_count = Some(d);
            for dep in s.deployments.iter_mut().flatten() {
                if dep.status == Some(DeploymentStatus::Primary) {
                    dep.desired_count = Some(d);
                    dep.updated_at = Some(Timestamp::from_millis(now));
                }
            }
        }
        if self.config.is_some() {
            s.deployment_configuration = self.config;
        }
        if self.grace.is_some() {
            s.health_check_grace_period_seconds = self.grace;
        }
        if self.constraints.is_some() {
            s.placement_constraints = self.constraints;
        }
        if self.strategies.is_some() {
            s.placement_strategy = self.strategies;
        }
        if self.managed_tags.is_some() {
            s.enable_ecs_managed_tags = self.managed_tags;
        }
        if self.propagate.is_some() {
            s.propagate_tags = self.propagate;
        }
        if self.registries.is_some() {
            s.service_registries = self.registries;
        }
        if self.exec.is_some() {
            s.enable_execute_command = self.exec;
        }
        if self.az.is_some() {
            s.availability_zone_rebalancing = self.az;
        }
        if let Some(rev) = self.deployment {
            s.task_definition = Some(rev.task_definition.clone());
            s.launch_type = rev.launch_type.clone();
            s.capacity_provider_strategy = rev.capacity_provider_strategy.clone();
            s.platform_version = rev.platform_version.clone();
            s.platform_family = rev.platform_family();
            s.network_configuration = rev.network_configuration.clone();
            s.load_balancers = Some(rev.load_balancers.clone());
            start_deployment(rec, names, &rev, now, random);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deployment_suffixes_are_21_url_safe_characters() {
        let s = random_deployment_suffix();
        assert_eq!(s.len(), 21);
        assert!(s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_ne!(s, random_deployment_suffix());
    }
}
