//! RegisterTaskDefinition validation: the order in which the checks run and
//! the task-level rules. Each check returns the first error, as ECS answers
//! with one error per request.
//!
//! The order: family, container list, task-level enums and network mode,
//! task cpu/memory, Fargate task size, each container (identity first for all
//! containers, then everything else container by container), task-wide sums
//! and the essential container, references between containers and volumes,
//! the rest of Fargate's restrictions, and last the task-level extras
//! (placement constraints, proxy, storage, tags).

use std::collections::HashSet;

use crate::ecs::shapes::{
    Compatibility, ContainerDefinition, NetworkMode, RegisterTaskDefinitionRequest,
};
use crate::error::EcsError;

use super::rules::{self, msg};
use super::{container, enums, extras, fargate, network, references, units};

/// How the task's containers are networked, with ECS's defaults applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// `bridge`, also when absent or ECS's hidden `default`.
    Bridge,
    /// `host`.
    Host,
    /// `awsvpc`.
    Awsvpc,
    /// `none`.
    None,
}

impl Mode {
    /// The wire name, as ECS puts it in messages (`networkMode=awsvpc`).
    pub(crate) fn name(self) -> &'static str {
        match self {
            Mode::Bridge => "bridge",
            Mode::Host => "host",
            Mode::Awsvpc => "awsvpc",
            Mode::None => "none",
        }
    }
}

/// What the checks need to know about the task as a whole.
#[derive(Debug)]
pub(crate) struct Task<'a> {
    /// The request as sent.
    pub req: &'a RegisterTaskDefinitionRequest,
    /// Its containers (1 to 10 by the time a `Task` exists).
    pub containers: &'a [ContainerDefinition],
    /// The effective network mode.
    pub mode: Mode,
    /// `FARGATE` is in `requiresCompatibilities`.
    pub fargate: bool,
    /// `EXTERNAL` is in `requiresCompatibilities`.
    pub external: bool,
    /// Task cpu in CPU units, when set.
    pub cpu: Option<u32>,
    /// Task memory in MiB, when set.
    pub memory: Option<u32>,
}

impl Task<'_> {
    /// The name of container `i` for messages (`null` as ECS prints a missing one).
    pub(crate) fn name(&self, i: usize) -> &str {
        self.containers.get(i).and_then(|c| c.name.as_deref()).unwrap_or("null")
    }
}

/// Checks a RegisterTaskDefinition request the way ECS does and returns the
/// first error, with ECS's exception type and message.
pub fn validate_register(req: &RegisterTaskDefinitionRequest) -> Result<(), EcsError> {
    check_family(req.family.as_deref())?;
    let containers = match req.container_definitions.as_deref() {
        None | Some([]) => return Err(EcsError::client(msg::CONTAINERS_EMPTY)),
        Some(c) if c.len() > rules::MAX_CONTAINERS => {
            return Err(EcsError::client(msg::TOO_MANY_CONTAINERS))
        }
        Some(c) => c,
    };
    check_task_enums(req)?;
    let mode = network_mode(req.network_mode.as_ref())?;
    let cpu = task_size(req.cpu.as_deref(), "cpu", units::parse_task_cpu)?;
    let memory = task_size(req.memory.as_deref(), "memory", units::parse_task_memory)?;
    let compat = req.requires_compatibilities.as_deref().unwrap_or_default();
    let task = Task {
        req,
        containers,
        mode,
        fargate: compat.contains(&Compatibility::Fargate),
        external: compat.contains(&Compatibility::External),
        cpu,
        memory,
    };
    if !task.fargate {
        if let Some(c) = cpu {
            if c < rules::EC2_TASK_CPU.0 || c > rules::EC2_TASK_CPU.1 {
                return Err(EcsError::client(msg::task_size_invalid("cpu")));
            }
        }
    }
    fargate::check_task_size(&task)?;

    for c in containers {
        container::check_identity(c)?;
    }
    let mut names = HashSet::new();
    for c in containers {
        if !names.insert(c.name.as_deref().unwrap_or_default()) {
            return Err(EcsError::client(msg::NAMES_NOT_UNIQUE));
        }
    }
    for i in 0..containers.len() {
        container::check(&task, i)?;
        network::check_container(&task, i)?;
    }
    network::check_host_ports(&task)?;
    extras::check_task_sums(&task)?;
    references::check(&task)?;
    if task.fargate {
        fargate::check(&task)?;
    }
    if task.external && task.mode == Mode::Awsvpc {
        return Err(EcsError::client(msg::EXTERNAL_AWSVPC));
    }
    extras::check_task_extras(&task)
}

/// `family`: required, up to 255 letters, digits, `-` and `_`.
fn check_family(family: Option<&str>) -> Result<(), EcsError> {
    match family {
        None | Some("") => Err(EcsError::client(msg::FAMILY_BLANK)),
        Some(f) if !rules::is_resource_name(f) => Err(EcsError::client(msg::FAMILY_INVALID)),
        Some(_) => Ok(()),
    }
}

/// Values outside the model's enums in task-level fields.
fn check_task_enums(req: &RegisterTaskDefinitionRequest) -> Result<(), EcsError> {
    enums::check_all(req.requires_compatibilities.as_ref(), "requiresCompatibilities")?;
    enums::check(req.pid_mode.as_ref(), "pidMode")?;
    enums::check(req.ipc_mode.as_ref(), "ipcMode")?;
    if let Some(p) = &req.runtime_platform {
        enums::check(p.cpu_architecture.as_ref(), "runtimePlatform.cpuArchitecture")?;
        enums::check(p.operating_system_family.as_ref(), "runtimePlatform.operatingSystemFamily")?;
    }
    if let Some(p) = &req.proxy_configuration {
        enums::check(p.r#type.as_ref(), "proxyConfiguration.type")?;
    }
    for (i, p) in req.placement_constraints.iter().flatten().enumerate() {
        enums::check(p.r#type.as_ref(), &format!("placementConstraints[{i}].type"))?;
    }
    Ok(())
}

/// The effective network mode: `bridge` when absent or ECS's hidden `default`.
pub(crate) fn network_mode(mode: Option<&NetworkMode>) -> Result<Mode, EcsError> {
    Ok(match mode {
        None | Some(NetworkMode::Bridge) => Mode::Bridge,
        Some(NetworkMode::Host) => Mode::Host,
        Some(NetworkMode::Awsvpc) => Mode::Awsvpc,
        Some(NetworkMode::None) => Mode::None,
        Some(NetworkMode::Unlisted(s)) if rules::HIDDEN_NETWORK_MODES.contains(&s.as_str()) => {
            Mode::Bridge
        }
        Some(other) => {
            enums::check(Some(other), "networkMode")?;
            Mode::Bridge
        }
    })
}

/// A task cpu/memory string, parsed; ECS's "Invalid '<field>' setting" otherwise.
fn task_size(
    value: Option<&str>,
    field: &str,
    parse: fn(&str) -> Option<u32>,
) -> Result<Option<u32>, EcsError> {
    match value {
        None => Ok(None),
        Some(s) => {
            parse(s).map(Some).ok_or_else(|| EcsError::client(msg::task_size_invalid(field)))
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::testutil::{accepted, add, ec2, refused, with};

    #[test]
    fn family_is_required_and_named_properly() {
        refused(
            with(ec2(), |v| drop(v.as_object_mut().map(|o| o.remove("family")))),
            "Family can not be blank.",
        );
        refused(with(ec2(), |v| v["family"] = json!("")), "Family can not be blank.");
        refused(
            with(ec2(), |v| v["family"] = json!("my app")),
            "Family contains invalid characters.",
        );
        refused(
            with(ec2(), |v| v["family"] = json!("a".repeat(256))),
            "Family contains invalid characters.",
        );
        accepted(with(ec2(), |v| v["family"] = json!("a".repeat(255))));
    }

    #[test]
    fn family_is_checked_before_containers() {
        refused(json!({}), "Family can not be blank.");
    }

    #[test]
    fn one_to_ten_containers() {
        refused(json!({"family": "f"}), "Container list cannot be empty.");
        refused(
            json!({"family": "f", "containerDefinitions": []}),
            "Container list cannot be empty.",
        );
        let eleven: Vec<_> = (0..11)
            .map(|i| json!({"name": format!("c{i}"), "image": "busybox", "memory": 8}))
            .collect();
        refused(json!({"family": "f", "containerDefinitions": eleven}), "Too many containers.");
        let ten = &eleven[..10];
        accepted(json!({"family": "f", "containerDefinitions": ten}));
    }

    #[test]
    fn container_identity() {
        refused(
            with(ec2(), |v| v["containerDefinitions"][0]["name"] = json!(null)),
            "Container.name should not be null or empty.",
        );
        refused(
            with(ec2(), |v| v["containerDefinitions"][0]["name"] = json!("")),
            "Container.name should not be null or empty.",
        );
        refused(
            with(ec2(), |v| v["containerDefinitions"][0]["name"] = json!("web.1")),
            "Container.name contains invalid characters.",
        );
        refused(
            with(ec2(), |v| v["containerDefinitions"][0]["image"] = json!("")),
            "Container.image should not be null or empty.",
        );
        refused(
            with(ec2(), |v| v["containerDefinitions"][0]["image"] = json!("a".repeat(256))),
            "Container.image should not be longer than 255 characters.",
        );
        refused(
            with(ec2(), |v| {
                let copy = v["containerDefinitions"][0].clone();
                add(v, copy);
            }),
            "Container names must be unique within a Task Definition.",
        );
    }

    #[test]
    fn placeholders_in_images_and_arns_are_accepted() {
        accepted(with(ec2(), |v| {
            v["containerDefinitions"][0]["image"] = json!("<IMAGE1_NAME>");
            v["taskRoleArn"] = json!("{{ must_env `ROLE` }}");
            v["executionRoleArn"] = json!("$$$EXECUTION_ROLE$$$");
        }));
    }

    #[test]
    fn network_mode_values() {
        refused(
            with(ec2(), |v| v["networkMode"] = json!("{{networkmode}}")),
            "Invalid value '{{networkmode}}' for networkMode. Valid values: bridge, host, awsvpc, none.",
        );
        accepted(with(ec2(), |v| v["networkMode"] = json!("default")));
        accepted(with(ec2(), |v| v["networkMode"] = json!(null)));
    }

    #[test]
    fn task_level_enums() {
        refused(
            with(ec2(), |v| v["requiresCompatibilities"] = json!(["EC2", "LAMBDA"])),
            "Invalid value 'LAMBDA' for requiresCompatibilities[1]. Valid values: EC2, FARGATE, EXTERNAL, MANAGED_INSTANCES.",
        );
        refused(
            with(ec2(), |v| v["pidMode"] = json!("shared")),
            "Invalid value 'shared' for pidMode. Valid values: host, task.",
        );
        refused(
            with(ec2(), |v| v["runtimePlatform"] = json!({"cpuArchitecture": "RISCV"})),
            "Invalid value 'RISCV' for runtimePlatform.cpuArchitecture. Valid values: X86_64, ARM64.",
        );
        refused(
            with(ec2(), |v| v["placementConstraints"] = json!([{"type": "distinctInstance"}])),
            "Invalid value 'distinctInstance' for placementConstraints[0].type. Valid values: memberOf.",
        );
    }

    #[test]
    fn task_cpu_and_memory_strings() {
        let bad_cpu = "Invalid 'cpu' setting for task. For more information, see the Troubleshooting section of the Amazon ECS Developer Guide.";
        refused(with(ec2(), |v| v["cpu"] = json!("lots")), bad_cpu);
        refused(with(ec2(), |v| v["cpu"] = json!("64")), bad_cpu);
        refused(with(ec2(), |v| v["cpu"] = json!("-1")), bad_cpu);
        refused(
            with(ec2(), |v| v["memory"] = json!("1 TB")),
            "Invalid 'memory' setting for task. For more information, see the Troubleshooting section of the Amazon ECS Developer Guide.",
        );
        accepted(with(ec2(), |v| {
            v["cpu"] = json!("1 vCPU");
            v["memory"] = json!("2 GB");
        }));
    }

    #[test]
    fn external_tasks_cannot_use_awsvpc() {
        refused(
            with(ec2(), |v| {
                v["requiresCompatibilities"] = json!(["EXTERNAL"]);
                v["networkMode"] = json!("awsvpc");
            }),
            "Tasks using the EXTERNAL launch type do not support network mode 'awsvpc'.",
        );
    }
}
