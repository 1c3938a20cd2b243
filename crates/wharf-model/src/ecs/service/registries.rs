//! A service's `serviceRegistries` (Cloud Map), as ECS has them: the checks
//! CreateService and UpdateService make, and which of the service's tasks
//! are registered, as which instances.
//!
//! A task is registered (instance id: its task ID) once it is RUNNING and,
//! when its definition has container health checks, HEALTHY; it is
//! deregistered as soon as the scheduler decides to stop it (before its
//! load balancer targets drain), when it turns unhealthy or stops. An
//! `awsvpc` task is its address (A records, and SRV with the registry's
//! port); a `bridge` or `host` task is its host's address and the host port
//! its container port is bound to (SRV records).

use std::collections::BTreeMap;

use super::super::shapes::{
    DesiredStatus, HealthStatus, NetworkMode, ServiceRegistry, Task, TaskDefinition,
};
use super::super::status::TaskStatus;
use super::TaskNotes;
use crate::servicediscovery::shapes::RecordType;
use crate::servicediscovery::{Registry, ATTR_INIT_HEALTH, ATTR_IPV4, ATTR_PORT};
use crate::EcsError;

fn invalid(m: impl Into<String>) -> EcsError {
    EcsError::invalid_parameter(m)
}

/// The Cloud Map service id of a registry ARN
/// (`arn:aws:servicediscovery:<region>:<account>:service/srv-...`).
pub fn service_id(registry_arn: &str) -> Option<&str> {
    let (head, id) = registry_arn.rsplit_once(":service/")?;
    (head.starts_with("arn:aws:servicediscovery:") && id.starts_with("srv-")).then_some(id)
}

/// ECS's checks of `serviceRegistries` against the definition and the
/// region's Cloud Map registry: at most one, an existing Cloud Map service,
/// and the port its records need.
pub fn check(
    td: &TaskDefinition,
    given: &[ServiceRegistry],
    registry: &Registry,
) -> Result<(), EcsError> {
    if given.len() > 1 {
        return Err(invalid("serviceRegistries can have at most 1 item."));
    }
    let Some(r) = given.first() else { return Ok(()) };
    let arn = r.registry_arn.as_deref().ok_or_else(|| invalid("registryArn is required."))?;
    let id = service_id(arn).ok_or_else(|| {
        invalid(format!("The registryArn '{arn}' is not a Cloud Map service ARN."))
    })?;
    let service = registry
        .service_record(id)
        .map_err(|_| invalid(format!("The service discovery registry {arn} does not exist.")))?;
    let types: Vec<RecordType> = service
        .service
        .dns_config
        .as_ref()
        .and_then(|d| d.dns_records.clone())
        .unwrap_or_default()
        .into_iter()
        .filter_map(|d| d.r#type)
        .collect();
    if r.container_name.is_some() != r.container_port.is_some() {
        return Err(invalid(
            "When specifying containerName or containerPort for a service registry, specify both.",
        ));
    }
    if let Some(name) = &r.container_name {
        let container = td
            .container_definitions
            .iter()
            .flatten()
            .find(|c| c.name.as_deref() == Some(name))
            .ok_or_else(|| {
                invalid(format!("The container {name} does not exist in the task definition."))
            })?;
        let port = r.container_port.unwrap_or(0);
        let mapped =
            container.port_mappings.iter().flatten().any(|m| m.container_port == Some(port));
        if !mapped {
            return Err(invalid(format!(
                "The container {name} does not have a port mapping for containerPort {port}."
            )));
        }
    }
    if let Some(port) = r.port {
        if !(0..=65535).contains(&port) {
            return Err(invalid("serviceRegistries.port must be between 0 and 65535."));
        }
    }
    let awsvpc = td.network_mode == Some(NetworkMode::Awsvpc);
    let srv = types.contains(&RecordType::Srv);
    if awsvpc && srv && r.port.is_none() && r.container_port.is_none() {
        return Err(invalid(
            "The service registry has SRV records: specify port, or containerName and \
             containerPort, in serviceRegistries.",
        ));
    }
    if !awsvpc && types.contains(&RecordType::A) {
        return Err(invalid(
            "Service discovery A records are supported only with the awsvpc network mode; use \
             SRV records for bridge and host.",
        ));
    }
    if !awsvpc && srv && r.container_port.is_none() {
        return Err(invalid(
            "For the bridge and host network modes, specify containerName and containerPort \
             in serviceRegistries.",
        ));
    }
    Ok(())
}

/// What registering a task needs to know of the service.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The cluster's name.
    pub cluster: &'a str,
    /// The service's name.
    pub service: &'a str,
    /// The region.
    pub region: &'a str,
    /// Whether the task definition has container health checks.
    pub health_checked: bool,
}

/// The instance a task should be registered as (its attributes), or `None`
/// while it should not be registered. `notes` are the scheduler's (a task
/// being stopped is deregistered first); `host_ip` is the address of its
/// host, for `bridge` and `host` tasks.
pub fn instance_of(
    ctx: Context<'_>,
    r: &ServiceRegistry,
    task: &Task,
    notes: Option<&TaskNotes>,
    host_ip: Option<&str>,
) -> Option<BTreeMap<String, String>> {
    let running = task.last_status == Some(TaskStatus::Running)
        && task.desired_status == Some(DesiredStatus::Running)
        && notes.is_none_or(|n| n.stopping.is_none());
    let healthy = match task.health_status {
        Some(HealthStatus::Healthy) => true,
        Some(HealthStatus::Unhealthy) => false,
        _ => !ctx.health_checked,
    };
    if !running || !healthy {
        return None;
    }
    let task_ip = task
        .attachments
        .iter()
        .flatten()
        .flat_map(|a| a.details.iter().flatten())
        .find(|d| d.name.as_deref() == Some("privateIPv4Address"))
        .and_then(|d| d.value.clone());
    let mut attrs = BTreeMap::new();
    let (ip, port) = match task_ip {
        Some(ip) => (ip, r.port.or(r.container_port)),
        None => {
            let container = task
                .containers
                .iter()
                .flatten()
                .find(|c| c.name.is_some() && c.name == r.container_name)?;
            let port = container
                .network_bindings
                .iter()
                .flatten()
                .find(|b| b.container_port == r.container_port)
                .and_then(|b| b.host_port)?;
            (host_ip?.to_owned(), Some(port))
        }
    };
    attrs.insert(ATTR_IPV4.to_owned(), ip);
    if let Some(p) = port {
        attrs.insert(ATTR_PORT.to_owned(), p.to_string());
    }
    attrs.insert(ATTR_INIT_HEALTH.to_owned(), "HEALTHY".to_owned());
    if let Some(z) = &task.availability_zone {
        attrs.insert("AVAILABILITY_ZONE".to_owned(), z.clone());
    }
    attrs.insert("ECS_CLUSTER_NAME".to_owned(), ctx.cluster.to_owned());
    attrs.insert("ECS_SERVICE_NAME".to_owned(), ctx.service.to_owned());
    if let Some(arn) = &task.task_definition_arn {
        let family = arn.rsplit('/').next().and_then(|f| f.split(':').next()).unwrap_or("");
        attrs.insert("ECS_TASK_DEFINITION_FAMILY".to_owned(), family.to_owned());
    }
    attrs.insert("REGION".to_owned(), ctx.region.to_owned());
    Some(attrs)
}

/// Whether an instance's attributes say ECS registered it for this service
/// (so the scheduler may deregister it).
pub fn registered_by(attrs: &BTreeMap<String, String>, cluster: &str, service: &str) -> bool {
    attrs.get("ECS_CLUSTER_NAME").map(String::as_str) == Some(cluster)
        && attrs.get("ECS_SERVICE_NAME").map(String::as_str) == Some(service)
}

/// A change to make in Cloud Map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Register (or update) this instance with these attributes.
    Register(String, BTreeMap<String, String>),
    /// Deregister this instance.
    Deregister(String),
}

/// The changes that bring the Cloud Map service's instances registered by
/// this ECS service (`current`) to `wanted` (task ID to attributes).
pub fn plan(
    wanted: &BTreeMap<String, BTreeMap<String, String>>,
    current: &BTreeMap<String, BTreeMap<String, String>>,
) -> Vec<Change> {
    let mut out = Vec::new();
    for (id, attrs) in wanted {
        if current.get(id) != Some(attrs) {
            out.push(Change::Register(id.clone(), attrs.clone()));
        }
    }
    for id in current.keys().filter(|id| !wanted.contains_key(*id)) {
        out.push(Change::Deregister(id.clone()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn task(status: &str, health: &str) -> Task {
        serde_json::from_value(json!({
            "lastStatus": status, "desiredStatus": "RUNNING", "healthStatus": health,
            "availabilityZone": "us-east-1a",
            "taskDefinitionArn": "arn:aws:ecs:us-east-1:1:task-definition/web:3",
            "attachments": [{"type": "ElasticNetworkInterface", "status": "ATTACHED",
                "details": [{"name": "privateIPv4Address", "value": "10.0.0.7"}]}]
        }))
        .expect("task")
    }

    fn ctx(health_checked: bool) -> Context<'static> {
        Context { cluster: "c", service: "web", region: "us-east-1", health_checked }
    }

    #[test]
    fn a_task_registers_when_running_and_healthy_and_leaves_when_stopping() {
        let r = ServiceRegistry { registry_arn: Some("x".into()), ..ServiceRegistry::default() };
        let attrs = instance_of(ctx(true), &r, &task("RUNNING", "HEALTHY"), None, None);
        let attrs = attrs.expect("registered");
        assert_eq!(attrs[ATTR_IPV4], "10.0.0.7");
        assert_eq!(attrs["ECS_TASK_DEFINITION_FAMILY"], "web");
        assert!(registered_by(&attrs, "c", "web") && !registered_by(&attrs, "c", "api"));
        assert_eq!(instance_of(ctx(true), &r, &task("RUNNING", "UNKNOWN"), None, None), None);
        assert!(instance_of(ctx(false), &r, &task("RUNNING", "UNKNOWN"), None, None).is_some());
        assert_eq!(instance_of(ctx(false), &r, &task("PENDING", "UNKNOWN"), None, None), None);
        let stopping = TaskNotes {
            stopping: Some(super::super::Stopping {
                reason: "scale in".into(),
                stop_code: super::super::super::shapes::TaskStopCode::ServiceSchedulerInitiated,
                stop_after_ms: 0,
                stop_sent: false,
            }),
            ..TaskNotes::default()
        };
        let t = task("RUNNING", "HEALTHY");
        assert_eq!(instance_of(ctx(true), &r, &t, Some(&stopping), None), None);
    }

    #[test]
    fn plans_register_new_and_deregister_gone() {
        let a: BTreeMap<String, String> = [("k".to_owned(), "v".to_owned())].into();
        let wanted = BTreeMap::from([("t1".to_owned(), a.clone()), ("t2".to_owned(), a.clone())]);
        let current = BTreeMap::from([("t2".to_owned(), a.clone()), ("t3".to_owned(), a.clone())]);
        assert_eq!(
            plan(&wanted, &current),
            [Change::Register("t1".into(), a), Change::Deregister("t3".into())]
        );
    }
}
