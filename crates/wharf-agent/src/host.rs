//! What this host offers, as RegisterContainerInstance tells ECS: CPU units
//! (1,024 per core), memory in MiB less a reserve, and the attributes the
//! ECS agent advertises for the capabilities Wharf's agent has.

use wharf_model::ecs::shapes::{
    Attribute, RegisterContainerInstanceRequest, Resource, VersionInfo,
};

/// The agent version Wharf reports in `versionInfo`.
pub const AGENT_VERSION: &str = concat!("wharf-", env!("CARGO_PKG_VERSION"));

/// Capabilities advertised, after `com.amazonaws.ecs.capability.` (the ECS
/// agent's `capabilities.go` names).
const CAPABILITIES: &[&str] = &[
    "privileged-container",
    "docker-remote-api.1.17",
    "docker-remote-api.1.18",
    "docker-remote-api.1.19",
    "docker-remote-api.1.20",
    "docker-remote-api.1.21",
    "docker-remote-api.1.22",
    "docker-remote-api.1.23",
    "docker-remote-api.1.24",
    "docker-remote-api.1.25",
    "docker-remote-api.1.26",
    "docker-remote-api.1.27",
    "docker-remote-api.1.28",
    "docker-remote-api.1.29",
    "docker-remote-api.1.30",
    "docker-remote-api.1.31",
    "docker-remote-api.1.32",
    "docker-remote-api.1.38",
    "docker-remote-api.1.39",
    "docker-remote-api.1.40",
    "docker-remote-api.1.41",
    "ecr-auth",
    "logging-driver.json-file",
    "logging-driver.awslogs",
    "logging-driver.none",
    "logging-driver.syslog",
    "logging-driver.journald",
    "logging-driver.gelf",
    "logging-driver.fluentd",
    "logging-driver.splunk",
    "selinux",
    "apparmor",
    "task-iam-role",
    "task-iam-role-network-host",
];

/// Capabilities advertised, after `ecs.capability.`.
const ECS_CAPABILITIES: &[&str] = &[
    "container-health-check",
    "container-ordering",
    "docker-plugin.local",
    "env-files.s3",
    "execution-role-awslogs",
    "execution-role-ecr-pull",
    "network.container-port-range",
    "full-sync",
    "pid-ipc-namespace-sharing",
    "private-registry-authentication.secretsmanager",
    "secrets.asm.environment-variables",
    "secrets.asm.bootstrap.log-driver",
    "secrets.ssm.environment-variables",
    "secrets.ssm.bootstrap.log-driver",
    "task-cpu-mem-limit",
    "task-eni",
    "increased-task-cpu-limit",
];

/// Facts about the host the agent runs on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostResources {
    /// CPU units: 1,024 per core.
    pub cpu: i64,
    /// Memory in MiB, less the reserve.
    pub memory: i64,
}

impl HostResources {
    /// Reads this host: its cores and `/proc/meminfo`'s `MemTotal`, less
    /// `reserved_mib` (the ECS agent's `ECS_RESERVED_MEMORY`).
    pub fn detect(reserved_mib: i64) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as i64;
        let total_kib = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("MemTotal:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<i64>().ok())
            })
            .unwrap_or(0);
        Self { cpu: cores * 1024, memory: (total_kib / 1024 - reserved_mib).max(0) }
    }
}

fn attribute(name: String, value: Option<&str>) -> Attribute {
    Attribute { name: Some(name), value: value.map(str::to_owned), ..Attribute::default() }
}

/// The RegisterContainerInstance request for this host.
pub fn registration(
    cluster: &str,
    resources: &HostResources,
    docker_version: Option<String>,
    previous_arn: Option<String>,
) -> RegisterContainerInstanceRequest {
    let int = |name: &str, v: i64| Resource {
        name: Some(name.to_owned()),
        r#type: Some("INTEGER".to_owned()),
        integer_value: Some(i32::try_from(v).unwrap_or(i32::MAX)),
        ..Resource::default()
    };
    let arch = match std::env::consts::ARCH {
        "aarch64" => "arm64",
        other => other,
    };
    let mut attributes = vec![
        attribute("ecs.os-type".into(), Some("linux")),
        attribute("ecs.os-family".into(), Some("LINUX")),
        attribute("ecs.cpu-architecture".into(), Some(arch)),
    ];
    attributes.extend(
        CAPABILITIES.iter().map(|c| attribute(format!("com.amazonaws.ecs.capability.{c}"), None)),
    );
    attributes
        .extend(ECS_CAPABILITIES.iter().map(|c| attribute(format!("ecs.capability.{c}"), None)));
    RegisterContainerInstanceRequest {
        cluster: Some(cluster.to_owned()),
        total_resources: Some(vec![int("CPU", resources.cpu), int("MEMORY", resources.memory)]),
        version_info: Some(VersionInfo {
            agent_version: Some(AGENT_VERSION.to_owned()),
            agent_hash: None,
            docker_version: docker_version.map(|v| format!("DockerVersion: {v}")),
        }),
        container_instance_arn: previous_arn,
        attributes: Some(attributes),
        ..RegisterContainerInstanceRequest::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_host_has_cpu_and_memory() {
        let r = HostResources::detect(0);
        assert!(r.cpu >= 1024 && r.cpu % 1024 == 0);
        assert!(r.memory > 0);
        assert_eq!(HostResources::detect(r.memory + 10).memory, 0);
    }

    #[test]
    fn registration_names_resources_and_capabilities() {
        let req = registration("default", &HostResources { cpu: 2048, memory: 1000 }, None, None);
        let total = req.total_resources.unwrap();
        assert_eq!(total[0].integer_value, Some(2048));
        assert_eq!(total[1].integer_value, Some(1000));
        let names: Vec<String> =
            req.attributes.unwrap().into_iter().filter_map(|a| a.name).collect();
        assert!(names.contains(&"ecs.capability.container-ordering".to_owned()));
        assert!(names.contains(&"com.amazonaws.ecs.capability.docker-remote-api.1.41".to_owned()));
    }
}
