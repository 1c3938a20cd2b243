//! What this host offers, as RegisterContainerInstance tells ECS: CPU units
//! (1,024 per core), memory in MiB less a reserve, and the attributes the
//! ECS agent advertises for the capabilities Wharf's agent has.

use wharf_model::ecs::attributes::{self, attribute};
use wharf_model::ecs::capacity;
use wharf_model::ecs::shapes::{RegisterContainerInstanceRequest, Resource, VersionInfo};

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

/// Who this host is, beyond its resources: what `wharf agent`'s flags say
/// (ECS's agent reads the same from EC2's instance metadata and
/// `ECS_INSTANCE_ATTRIBUTES`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostIdentity {
    /// `ecs.availability-zone`.
    pub availability_zone: String,
    /// `ecs.instance-type`; `None`: named after the host's size.
    pub instance_type: Option<String>,
    /// The address the load balancer and other hosts reach this host at.
    pub address: Option<String>,
    /// Custom attributes (`--attribute name=value`).
    pub attributes: Vec<(String, Option<String>)>,
    /// Whether it serves the region's Fargate pool (`wharf.fargate`).
    pub fargate: bool,
    /// The group (Auto Scaling group) it joined (`wharf.auto-scaling-group`).
    pub group: Option<String>,
    /// Where the agent serves ECS Exec sessions (`http://address:port`), if it does.
    pub exec_endpoint: Option<String>,
}

impl HostIdentity {
    /// The instance type reported: the one given, else `wharf.c<cores>m<GiB>`
    /// after the host's CPU units and memory.
    pub fn instance_type(&self, resources: &HostResources) -> String {
        self.instance_type.clone().unwrap_or_else(|| {
            format!("wharf.c{}m{}", resources.cpu / 1024, (resources.memory + 512) / 1024)
        })
    }
}

/// The address this host sends from to reach `server` (`host:port`): the
/// one the server, and the hosts beside it, reach this host at. Asks the
/// routing table (a UDP socket's `connect` sends nothing); `None` when the
/// name does not resolve or there is no route.
pub fn address_toward(server: &str) -> Option<std::net::IpAddr> {
    use std::net::{ToSocketAddrs, UdpSocket};
    let target = server.to_socket_addrs().ok()?.find(|a| a.is_ipv4())?;
    let socket = UdpSocket::bind(("0.0.0.0", 0)).ok()?;
    socket.connect(target).ok()?;
    Some(socket.local_addr().ok()?.ip())
}

/// The RegisterContainerInstance request for this host.
pub fn registration(
    cluster: &str,
    resources: &HostResources,
    identity: &HostIdentity,
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
        attribute(attributes::OS_TYPE, Some("linux")),
        attribute("ecs.os-family", Some("LINUX")),
        attribute(attributes::CPU_ARCHITECTURE, Some(arch)),
        attribute(attributes::AVAILABILITY_ZONE, Some(&identity.availability_zone)),
        attribute(attributes::INSTANCE_TYPE, Some(&identity.instance_type(resources))),
    ];
    if let Some(address) = &identity.address {
        attributes.push(attribute(attributes::ADDRESS, Some(address)));
    }
    if identity.fargate {
        attributes.push(attribute(capacity::FARGATE_ATTRIBUTE, Some("true")));
    }
    if let Some(group) = &identity.group {
        attributes.push(attribute(capacity::GROUP_ATTRIBUTE, Some(group)));
    }
    if let Some(endpoint) = &identity.exec_endpoint {
        attributes.push(attribute(attributes::EXEC_ENDPOINT, Some(endpoint)));
        attributes.push(attribute(attributes::EXECUTE_COMMAND, None));
    }
    attributes.extend(identity.attributes.iter().map(|(n, v)| attribute(n.clone(), v.as_deref())));
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
    fn the_address_toward_a_server_is_a_local_one() {
        assert_eq!(address_toward("127.0.0.1:4590"), Some("127.0.0.1".parse().unwrap()));
        assert_eq!(address_toward("no-such-host.invalid:1"), None);
    }

    #[test]
    fn registration_names_resources_and_capabilities() {
        let identity = HostIdentity {
            availability_zone: "eu-west-1b".into(),
            instance_type: None,
            address: Some("10.0.0.7".into()),
            attributes: vec![("stack".into(), Some("prod".into())), ("gpu".into(), None)],
            fargate: true,
            group: Some("web-asg".into()),
            exec_endpoint: Some("http://10.0.0.7:4591".into()),
        };
        let resources = HostResources { cpu: 2048, memory: 3900 };
        let req = registration("default", &resources, &identity, None, None);
        let total = req.total_resources.unwrap();
        assert_eq!(total[0].integer_value, Some(2048));
        assert_eq!(total[1].integer_value, Some(3900));
        let all = req.attributes.unwrap();
        let value = |n: &str| attributes::value_of(&all, n).map(str::to_owned);
        assert_eq!(value("ecs.availability-zone").as_deref(), Some("eu-west-1b"));
        assert_eq!(value("ecs.instance-type").as_deref(), Some("wharf.c2m4"));
        assert_eq!(value("wharf.address").as_deref(), Some("10.0.0.7"));
        assert_eq!(value("stack").as_deref(), Some("prod"));
        assert_eq!(value("wharf.fargate").as_deref(), Some("true"));
        assert_eq!(value("wharf.auto-scaling-group").as_deref(), Some("web-asg"));
        assert_eq!(value("wharf.exec-endpoint").as_deref(), Some("http://10.0.0.7:4591"));
        let names: Vec<String> = all.into_iter().filter_map(|a| a.name).collect();
        assert!(names.contains(&"gpu".to_owned()));
        assert!(names.contains(&"ecs.capability.execute-command".to_owned()));
        assert!(names.contains(&"ecs.capability.container-ordering".to_owned()));
        assert!(names.contains(&"com.amazonaws.ecs.capability.docker-remote-api.1.41".to_owned()));
    }
}
