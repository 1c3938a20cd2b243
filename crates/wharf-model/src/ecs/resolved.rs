//! A task definition with RunTask's `overrides` applied: the one reading of
//! "what does this task run, and what does it hold" that placement, task
//! construction, the agent and `wharf run` share.
//!
//! ECS's override rules: a container override's `command` replaces the
//! container's; its `environment` entries replace those of the same name and
//! add the rest; its `environmentFiles` are added; `cpu`, `memory`,
//! `memoryReservation` and `resourceRequirements` replace. Task-level `cpu`
//! and `memory` (strings in CPU units or vCPUs, MiB or GB), `taskRoleArn`,
//! `executionRoleArn` and `ephemeralStorage` replace the definition's.

use super::placement::Demand;
use super::shapes::{
    ContainerDefinition, ContainerOverride, KeyValuePair, NetworkMode, TaskDefinition,
    TaskOverride, TransportProtocol,
};
use super::task_definition::{parse_task_cpu, parse_task_memory};

/// A task definition as a task with these overrides runs it.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedTask {
    /// The definition with the overrides applied: containers, task-level
    /// `cpu`/`memory`, roles and ephemeral storage.
    pub definition: TaskDefinition,
    /// Task-level CPU units, when the task has a size (`"1 vCPU"` is 1024).
    pub cpu: Option<u32>,
    /// Task-level MiB, when the task has a size (`"2 GB"` is 2048).
    pub memory: Option<u32>,
}

impl ResolvedTask {
    /// Applies `overrides` (if any) to `definition`.
    pub fn new(definition: &TaskDefinition, overrides: Option<&TaskOverride>) -> Self {
        let mut td = definition.clone();
        if let Some(o) = overrides {
            if o.cpu.is_some() {
                td.cpu.clone_from(&o.cpu);
            }
            if o.memory.is_some() {
                td.memory.clone_from(&o.memory);
            }
            if o.task_role_arn.is_some() {
                td.task_role_arn.clone_from(&o.task_role_arn);
            }
            if o.execution_role_arn.is_some() {
                td.execution_role_arn.clone_from(&o.execution_role_arn);
            }
            if o.ephemeral_storage.is_some() {
                td.ephemeral_storage.clone_from(&o.ephemeral_storage);
            }
        }
        if let Some(containers) = td.container_definitions.as_mut() {
            for c in containers.iter_mut() {
                let name = c.name.clone().unwrap_or_default();
                if let Some(o) = container_override(overrides, &name) {
                    apply_container_override(c, o);
                }
            }
        }
        let cpu = td.cpu.as_deref().and_then(parse_task_cpu);
        let memory = td.memory.as_deref().and_then(parse_task_memory);
        Self { definition: td, cpu, memory }
    }

    /// The containers as they run.
    pub fn containers(&self) -> &[ContainerDefinition] {
        self.definition.container_definitions.as_deref().unwrap_or(&[])
    }

    /// What the task holds on an EC2 instance: the task size when it has one,
    /// else the sum over containers of `cpu` and of `memory` (or
    /// `memoryReservation`); static host ports of `bridge` and `host` port
    /// mappings; the attributes the definition requires.
    pub fn demand(&self) -> Demand {
        let containers = self.containers();
        let cpu = self.cpu.map(i64::from).unwrap_or_else(|| {
            containers.iter().map(|c| i64::from(c.cpu.unwrap_or(0).max(0))).sum()
        });
        let memory = self.memory.map(i64::from).unwrap_or_else(|| {
            containers
                .iter()
                .map(|c| i64::from(c.memory.or(c.memory_reservation).unwrap_or(0).max(0)))
                .sum()
        });
        let mut ports = Vec::new();
        if self.definition.network_mode != Some(NetworkMode::Awsvpc) {
            for c in containers {
                for m in c.port_mappings.as_deref().unwrap_or(&[]) {
                    if let Some(port) = m.host_port.filter(|p| *p > 0) {
                        let protocol = m.protocol.as_ref().unwrap_or(&TransportProtocol::Tcp);
                        ports.push(format!("{port}/{}", protocol.as_str()));
                    }
                }
            }
        }
        let attributes = self
            .definition
            .requires_attributes
            .as_deref()
            .unwrap_or(&[])
            .iter()
            .filter_map(|a| a.name.clone())
            .collect();
        Demand { cpu, memory, ports, attributes }
    }
}

/// The override a task has for container `name`, if any.
pub fn container_override<'a>(
    overrides: Option<&'a TaskOverride>,
    name: &str,
) -> Option<&'a ContainerOverride> {
    overrides?.container_overrides.as_deref()?.iter().find(|o| o.name.as_deref() == Some(name))
}

/// Applies one container override, as ECS does.
pub fn apply_container_override(c: &mut ContainerDefinition, o: &ContainerOverride) {
    if o.command.is_some() {
        c.command.clone_from(&o.command);
    }
    if let Some(env) = &o.environment {
        merge_environment(c.environment.get_or_insert_with(Vec::new), env);
    }
    if let Some(files) = &o.environment_files {
        c.environment_files.get_or_insert_with(Vec::new).extend(files.iter().cloned());
    }
    if o.cpu.is_some() {
        c.cpu = o.cpu;
    }
    if o.memory.is_some() {
        c.memory = o.memory;
    }
    if o.memory_reservation.is_some() {
        c.memory_reservation = o.memory_reservation;
    }
    if o.resource_requirements.is_some() {
        c.resource_requirements.clone_from(&o.resource_requirements);
    }
}

/// Merges environment entries into a list: an entry replaces the one of the
/// same name, or is added.
pub fn merge_environment(list: &mut Vec<KeyValuePair>, given: &[KeyValuePair]) {
    for kv in given {
        match list.iter_mut().find(|e| e.name == kv.name) {
            Some(e) => e.value.clone_from(&kv.value),
            None => list.push(kv.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn td(v: serde_json::Value) -> TaskDefinition {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn command_replaces_environment_merges() {
        let d = td(json!({"containerDefinitions": [{
            "name": "web", "command": ["a"], "memory": 64,
            "environment": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]
        }]}));
        let o: TaskOverride = serde_json::from_value(json!({"containerOverrides": [{
            "name": "web", "command": ["b", "c"], "memory": 128,
            "environment": [{"name": "B", "value": "3"}, {"name": "C", "value": "4"}]
        }]}))
        .unwrap();
        let r = ResolvedTask::new(&d, Some(&o));
        let out = serde_json::to_value(&r.containers()[0]).unwrap();
        assert_eq!(out["command"], json!(["b", "c"]));
        assert_eq!(out["memory"], 128);
        assert_eq!(
            out["environment"],
            json!([{"name": "A", "value": "1"}, {"name": "B", "value": "3"}, {"name": "C", "value": "4"}])
        );
    }

    /// A task size given in vCPUs and GB is read the same way everywhere:
    /// placement reserves what the agent then enforces.
    #[test]
    fn task_size_in_any_unit_is_what_placement_reserves() {
        let d = td(json!({"cpu": "256", "memory": "512", "containerDefinitions": [
            {"name": "a", "cpu": 10, "memory": 64}]}));
        let o: TaskOverride =
            serde_json::from_value(json!({"cpu": "1 vCPU", "memory": "2 GB"})).unwrap();
        let r = ResolvedTask::new(&d, Some(&o));
        assert_eq!((r.cpu, r.memory), (Some(1024), Some(2048)));
        let demand = r.demand();
        assert_eq!((demand.cpu, demand.memory), (1024, 2048));
        assert_eq!(r.definition.memory.as_deref(), Some("2 GB"));
    }

    #[test]
    fn without_a_task_size_containers_add_up() {
        let d = td(json!({"networkMode": "bridge", "containerDefinitions": [
            {"name": "a", "cpu": 100, "memory": 64, "portMappings": [{"containerPort": 80, "hostPort": 8080}]},
            {"name": "b", "memoryReservation": 32, "portMappings": [
                {"containerPort": 53, "hostPort": 53, "protocol": "udp"}, {"containerPort": 9}]}
        ]}));
        let o: TaskOverride = serde_json::from_value(json!({"containerOverrides": [
            {"name": "b", "cpu": 50}]}))
        .unwrap();
        let demand = ResolvedTask::new(&d, Some(&o)).demand();
        assert_eq!((demand.cpu, demand.memory), (150, 96));
        assert_eq!(demand.ports, vec!["8080/tcp".to_owned(), "53/udp".to_owned()]);
    }

    #[test]
    fn demand_from_definition_and_overrides() {
        let d = td(json!({
            "networkMode": "bridge",
            "containerDefinitions": [
                {"name": "a", "cpu": 128, "memory": 256, "portMappings": [{"containerPort": 80, "hostPort": 8080}]},
                {"name": "b", "cpu": 64, "memoryReservation": 100, "portMappings": [{"containerPort": 81, "hostPort": 0, "protocol": "udp"}]}
            ]
        }));
        let demand = |o: Option<&TaskOverride>| ResolvedTask::new(&d, o).demand();
        assert_eq!(
            demand(None),
            Demand { cpu: 192, memory: 356, ports: vec!["8080/tcp".into()], attributes: vec![] }
        );
        let o: TaskOverride =
            serde_json::from_value(json!({"containerOverrides": [{"name": "a", "memory": 512}]}))
                .unwrap();
        assert_eq!(demand(Some(&o)).memory, 612);
        let o: TaskOverride =
            serde_json::from_value(json!({"cpu": "1024", "memory": "2048"})).unwrap();
        assert_eq!((demand(Some(&o)).cpu, demand(Some(&o)).memory), (1024, 2048));
    }
}
