//! From an ECS container definition to Docker's create body, as ECS does it.
//!
//! ECS renders a container's Docker configuration in two halves: the backend
//! turns most task-definition fields into `Config`/`HostConfig` JSON, and the
//! agent adds its own part (image, command, environment, resources, ports,
//! links, binds, `volumesFrom`, labels, namespaces). Wharf does both here, in
//! one pure function, [`container_config`]: no I/O, no clock, no randomness,
//! so every rule is a unit test.
//!
//! What the caller resolves first, and passes in a [`TaskContext`]:
//! - the Docker names of the task's containers ([`docker_name`]), for
//!   `links` and `volumesFrom` (and, under the reserved key
//!   [`NAMESPACE_PAUSE_CONTAINER`], the container holding the task's PID/IPC
//!   namespaces when `pidMode`/`ipcMode` is `task`);
//! - where each task volume lives (a host path or a Docker volume name);
//! - extra environment: resolved `secrets` and `environmentFiles`, the
//!   metadata and credentials URIs;
//! - the network the container joins ([`NetworkAttachment`]).
//!
//! The mapping follows the ECS agent (`agent/api/task/task.go`
//! `dockerConfig`/`dockerHostConfig`, `task_linux.go` `dockerCPUShares`,
//! `docker_task_engine.go` `createContainer`) and, for the backend-rendered
//! fields, the Developer Guide's "maps to ... in Create a container". Where
//! Wharf differs, the item says so.

use std::collections::HashMap;

use bollard::models::{
    ContainerCreateBody, DeviceMapping, HealthConfig, HostConfig, HostConfigLogConfig, PortBinding,
    ResourcesUlimits,
};
use wharf_model::ecs::shapes::{
    ContainerDefinition, HealthCheck, LinuxParameters, PortMapping, TaskDefinition,
};
use wharf_model::ecs::task_definition::{parse_task_cpu, parse_task_memory};

use crate::runtime::{
    LABEL_CLUSTER, LABEL_CONTAINER_NAME, LABEL_FAMILY, LABEL_INSTANCE, LABEL_REVISION,
    LABEL_TASK_ARN,
};

#[cfg(test)]
mod tests;

/// The ECS agent's name for the internal container that holds a task's PID
/// and IPC namespaces (`pidMode`/`ipcMode` `task`). Put its Docker name (or
/// ID) in [`TaskContext::docker_names`] under this key.
pub const NAMESPACE_PAUSE_CONTAINER: &str = "~internal~ecs~pause~namespace";

/// Fewest CPU shares a container gets (Linux rejects 1; Docker turns 0 into
/// 1024). The ECS agent's `minimumCPUShare`.
pub const MIN_CPU_SHARES: i64 = 2;
/// Most CPU shares the kernel accepts.
pub const MAX_CPU_SHARES: i64 = 262_144;
/// Smallest memory limit or reservation Docker 20.10 accepts (6 MiB). The ECS
/// agent raises to 4 MiB, which this engine refuses, so Wharf raises to 6.
pub const MIN_MEMORY_BYTES: i64 = 6 * MIB;
/// Docker's default swappiness, which ECS applies when `maxSwap` is set and
/// `swappiness` is not.
pub const DEFAULT_SWAPPINESS: i64 = 60;

const MIB: i64 = 1024 * 1024;
const SECOND_NS: i64 = 1_000_000_000;

/// Health check defaults, in seconds (interval, timeout, retries, start
/// period), as ECS applies them.
pub const HEALTH_DEFAULTS: (i64, i64, i64, i64) = (30, 5, 3, 0);

/// The network a container joins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetworkAttachment {
    /// Docker's default bridge (`networkMode: bridge`): ports are published,
    /// `links` work.
    Bridge,
    /// The host's network stack (`networkMode: host`): ports are exposed but
    /// never published (Docker would discard the bindings).
    Host,
    /// No network (`networkMode: none`): no ports.
    None,
    /// A user-defined Docker network, by name: ports are published; `links`
    /// are refused (legacy links belong to the default bridge).
    Network(String),
    /// Another container's network namespace (`container:<id>`), as awsvpc
    /// tasks join their pause container. Docker refuses hostname, DNS, extra
    /// hosts, exposed and published ports for such a container, so they are
    /// left out: the pause container carries them.
    Container(String),
}

impl NetworkAttachment {
    /// Docker's `HostConfig.NetworkMode` for this attachment.
    pub fn docker_mode(&self) -> String {
        match self {
            Self::Bridge => "bridge".to_owned(),
            Self::Host => "host".to_owned(),
            Self::None => "none".to_owned(),
            Self::Network(name) => name.clone(),
            Self::Container(id) => format!("container:{id}"),
        }
    }
}

/// Everything about the task that one container's configuration depends on,
/// resolved by the caller.
#[derive(Debug, Clone)]
pub struct TaskContext<'a> {
    /// The task's ARN (label `com.amazonaws.ecs.task-arn`).
    pub task_arn: &'a str,
    /// The cluster, short name or ARN (the label carries the short name).
    pub cluster: &'a str,
    /// The container instance running the task (label [`LABEL_INSTANCE`]).
    pub instance_arn: &'a str,
    /// The task definition: `family`, `revision`, `cpu`, `memory`,
    /// `volumes`, `pidMode`, `ipcMode` are read.
    pub definition: &'a TaskDefinition,
    /// Container name → Docker container name (or ID), for `links` and
    /// `volumesFrom`; [`NAMESPACE_PAUSE_CONTAINER`] for `task` namespaces.
    pub docker_names: &'a HashMap<String, String>,
    /// Task volume name → Docker volume name, or host path of a bind mount.
    pub volume_names: &'a HashMap<String, String>,
    /// Variables added after `environment`: resolved secrets and environment
    /// files, metadata and credentials URIs. A name `environment` already
    /// sets keeps its `environment` value; among these, the first wins.
    pub extra_env: &'a [(String, String)],
    /// The network the container joins.
    pub network: NetworkAttachment,
    /// The task's own cgroup, when its size bounds its containers together
    /// ([`crate::task_cgroup`]).
    pub cgroup_parent: Option<&'a str>,
    /// The DNS servers when the definition names none (`dnsServers`).
    pub default_dns: &'a [String],
}

/// A container definition Wharf cannot turn into a Docker configuration.
/// Each message names the field, the way ECS names it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    /// A field that must be present is absent or empty.
    #[error("{field} is required")]
    Missing {
        /// The field, e.g. `containerDefinitions[web].image`.
        field: String,
    },
    /// A field holds a value that cannot be mapped.
    #[error("{field}: {reason}")]
    Invalid {
        /// The field.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A mount point names a volume the task does not have, or one whose
    /// location was not resolved.
    #[error("{field}: {reason} volume '{volume}'")]
    Volume {
        /// The field.
        field: String,
        /// The volume named.
        volume: String,
        /// `unknown` or `unresolved`.
        reason: &'static str,
    },
    /// A link or `volumesFrom` names a container with no Docker name.
    #[error("{field}: unknown container '{container}'")]
    UnknownContainer {
        /// The field.
        field: String,
        /// The container named.
        container: String,
    },
}

impl SpecError {
    fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid { field: field.into(), reason: reason.into() }
    }
}

/// The Docker container name of a task's container, as the ECS agent forms
/// it: `ecs-{family}-{revision}-{container}-{task id}`. The ECS agent ends with
/// 20 random hex digits; Wharf uses the task ID so that the name is
/// deterministic (a restarted agent finds the container again, and a second
/// create for the same task and container fails instead of duplicating it).
/// Characters outside Docker's name set are dropped (in the container name,
/// everything but `[A-Za-z0-9-]`, as the ECS agent does).
pub fn docker_name(family: &str, revision: i32, container: &str, task_id: &str) -> String {
    let family = keep(family, |c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    let container = keep(container, |c| c.is_ascii_alphanumeric() || c == '-');
    let task_id = keep(task_id, |c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    format!("ecs-{family}-{revision}-{container}-{task_id}")
}

fn keep(s: &str, ok: impl Fn(char) -> bool) -> String {
    s.chars().filter(|&c| ok(c)).collect()
}

/// The short name of a cluster given by name or ARN
/// (`arn:aws:ecs:region:account:cluster/name` → `name`).
pub fn cluster_short_name(cluster: &str) -> &str {
    match cluster.strip_prefix("arn:") {
        Some(rest) => rest.rsplit_once(":cluster/").map_or(cluster, |(_, name)| name),
        None => cluster,
    }
}

/// Docker's create body for one container of a task.
///
/// Mapped (ECS field → Docker): `image` → `Image`; `command` → `Cmd`;
/// `entryPoint` → `Entrypoint`; `environment` + extra → `Env`;
/// `workingDirectory` → `WorkingDir`; `user` → `User`; `cpu` → `CpuShares`;
/// `memory` → `Memory`; `memoryReservation` → `MemoryReservation`;
/// `portMappings` → `ExposedPorts` + `PortBindings`; `links` → `Links`;
/// `mountPoints` → `Binds`; `volumesFrom` → `VolumesFrom`; `healthCheck` →
/// `Healthcheck`; `stopTimeout` → `StopTimeout`; `ulimits` → `Ulimits`;
/// `linuxParameters` → `CapAdd`/`CapDrop`/`Init`/`ShmSize`/`Tmpfs`/`Devices`/
/// `MemorySwap`/`MemorySwappiness`; `readonlyRootFilesystem` →
/// `ReadonlyRootfs`; `privileged` → `Privileged`; `dockerSecurityOptions` →
/// `SecurityOpt`; `disableNetworking` → `NetworkDisabled`; `dockerLabels` +
/// the agent's labels → `Labels`; `hostname` → `Hostname`; `dnsServers` →
/// `Dns`; `dnsSearchDomains` → `DnsSearch`; `extraHosts` → `ExtraHosts`;
/// `systemControls` → `Sysctls`; `interactive` → `OpenStdin`;
/// `pseudoTerminal` → `Tty`; `logConfiguration` → `LogConfig`; task
/// `pidMode`/`ipcMode` → `PidMode`/`IpcMode`; the network → `NetworkMode`.
///
/// Not mapped here: `essential`, `dependsOn`, `startTimeout`, `restartPolicy`
/// (the task machine's rules), `repositoryCredentials` (the pull), `secrets`
/// and `environmentFiles` (resolved by the caller into
/// [`TaskContext::extra_env`]), `resourceRequirements` (GPUs),
/// `firelensConfiguration`, `credentialSpecs`, `versionConsistency`.
pub fn container_config(
    ctx: &TaskContext<'_>,
    def: &ContainerDefinition,
) -> Result<ContainerCreateBody, SpecError> {
    let name =
        def.name.as_deref().filter(|n| !n.is_empty()).ok_or_else(|| SpecError::Missing {
            field: "containerDefinitions[].name".to_owned(),
        })?;
    let at = |field: &str| format!("containerDefinitions[{name}].{field}");
    let image = def
        .image
        .as_deref()
        .filter(|i| !i.trim().is_empty())
        .ok_or_else(|| SpecError::Missing { field: at("image") })?;
    let network = &ctx.network;
    let joins_container = matches!(network, NetworkAttachment::Container(_));

    let (exposed_ports, port_bindings) = ports(network, def.port_mappings.as_deref(), &at)?;
    let (memory, memory_reservation) = memory(ctx, def);
    let mut host = HostConfig {
        network_mode: Some(network.docker_mode()),
        cpu_shares: Some(cpu_shares(ctx, def)),
        memory,
        memory_reservation,
        port_bindings,
        links: links(ctx, def.links.as_deref(), &at)?,
        binds: binds(ctx, def, &at)?,
        volumes_from: volumes_from(ctx, def, &at)?,
        ulimits: ulimits(def),
        readonly_rootfs: def.readonly_root_filesystem,
        privileged: def.privileged,
        security_opt: non_empty(def.docker_security_options.clone()),
        extra_hosts: if joins_container { None } else { extra_hosts(def, &at)? },
        dns: if joins_container {
            None
        } else {
            non_empty(def.dns_servers.clone()).or_else(|| non_empty(Some(ctx.default_dns.to_vec())))
        },
        dns_search: if joins_container { None } else { non_empty(def.dns_search_domains.clone()) },
        sysctls: sysctls(def, &at)?,
        log_config: log_config(def),
        cgroup_parent: ctx.cgroup_parent.map(str::to_owned),
        ..Default::default()
    };
    if let Some(linux) = &def.linux_parameters {
        apply_linux_parameters(&mut host, linux, &at)?;
    }
    apply_namespaces(ctx, &mut host)?;

    Ok(ContainerCreateBody {
        image: Some(image.to_owned()),
        cmd: def.command.clone(),
        entrypoint: def.entry_point.clone(),
        env: Some(environment(ctx, def, &at)?),
        working_dir: def.working_directory.clone().filter(|w| !w.is_empty()),
        user: def.user.clone().filter(|u| !u.is_empty()),
        hostname: if joins_container {
            None
        } else {
            def.hostname.clone().filter(|h| !h.is_empty())
        },
        exposed_ports,
        healthcheck: def.health_check.as_ref().map(|h| healthcheck(h, &at)).transpose()?,
        stop_timeout: def.stop_timeout.map(i64::from),
        labels: Some(labels(ctx, def, name)?),
        open_stdin: def.interactive,
        tty: def.pseudo_terminal,
        network_disabled: def.disable_networking,
        host_config: Some(host),
        ..Default::default()
    })
}

fn non_empty(v: Option<Vec<String>>) -> Option<Vec<String>> {
    v.filter(|v| !v.is_empty())
}

/// `environment` (a later duplicate replaces an earlier one, as ECS keeps a
/// map), then the extra variables whose names `environment` does not set.
fn environment(
    ctx: &TaskContext<'_>,
    def: &ContainerDefinition,
    at: &dyn Fn(&str) -> String,
) -> Result<Vec<String>, SpecError> {
    let mut order: Vec<String> = Vec::new();
    let mut values: HashMap<String, String> = HashMap::new();
    for (i, pair) in def.environment.iter().flatten().enumerate() {
        let key =
            pair.name.as_deref().filter(|k| !k.is_empty()).ok_or_else(|| SpecError::Missing {
                field: at(&format!("environment[{i}].name")),
            })?;
        if key.contains('=') {
            return Err(SpecError::invalid(
                at(&format!("environment[{i}].name")),
                format!("'{key}' contains '='"),
            ));
        }
        let value = pair.value.clone().unwrap_or_default();
        if values.insert(key.to_owned(), value).is_none() {
            order.push(key.to_owned());
        }
    }
    for (key, value) in ctx.extra_env {
        if !values.contains_key(key) {
            values.insert(key.clone(), value.clone());
            order.push(key.clone());
        }
    }
    Ok(order
        .into_iter()
        .map(|k| {
            let v = values.get(&k).map(String::as_str).unwrap_or_default();
            format!("{k}={v}")
        })
        .collect())
}

/// CPU shares: the container's `cpu`, at least 2 and at most 262144 (the ECS
/// agent's `dockerCPUShares`). With no container `cpu`, the ECS agent gives 2
/// shares inside the task's cgroup; Wharf makes no task cgroup, so the task's
/// `cpu` stands in when it is set (else 2), keeping the container's weight
/// against other tasks' containers.
fn cpu_shares(ctx: &TaskContext<'_>, def: &ContainerDefinition) -> i64 {
    let container = def.cpu.filter(|&c| c > 0).map(i64::from);
    let task = ctx.definition.cpu.as_deref().and_then(parse_task_cpu).map(i64::from);
    container.or(task).unwrap_or(MIN_CPU_SHARES).clamp(MIN_CPU_SHARES, MAX_CPU_SHARES)
}

/// Hard limit and reservation in bytes. Container `memory` first; without it,
/// the task's `memory` (the ECS agent bounds the task's cgroup instead; Wharf
/// makes no task cgroup, so each container is bounded by the task's memory).
/// Non-zero values below 6 MiB are raised to 6 MiB (Docker's minimum).
fn memory(ctx: &TaskContext<'_>, def: &ContainerDefinition) -> (Option<i64>, Option<i64>) {
    let mib = |v: i64| (v * MIB).max(MIN_MEMORY_BYTES);
    let task = ctx.definition.memory.as_deref().and_then(parse_task_memory).map(i64::from);
    let hard = def.memory.filter(|&m| m > 0).map(i64::from).or(task).map(mib);
    let soft = def.memory_reservation.filter(|&m| m > 0).map(|m| mib(i64::from(m)));
    (hard, soft)
}

type Ports = (Option<Vec<String>>, Option<HashMap<String, Option<Vec<PortBinding>>>>);

/// `ExposedPorts` and `PortBindings`. A `hostPort` of 0 or none asks Docker
/// for a port from the host's ephemeral range (`HostPort: ""`); the ECS agent
/// picks the port itself, Docker does the same job here. Host mode exposes
/// but publishes nothing; `none` and a joined namespace neither.
fn ports(
    network: &NetworkAttachment,
    mappings: Option<&[PortMapping]>,
    at: &dyn Fn(&str) -> String,
) -> Result<Ports, SpecError> {
    let (expose, publish) = match network {
        NetworkAttachment::Bridge | NetworkAttachment::Network(_) => (true, true),
        NetworkAttachment::Host => (true, false),
        NetworkAttachment::None | NetworkAttachment::Container(_) => (false, false),
    };
    let mappings = mappings.unwrap_or_default();
    if !expose || mappings.is_empty() {
        return Ok((None, None));
    }
    let mut exposed: Vec<String> = Vec::new();
    let mut bindings: HashMap<String, Option<Vec<PortBinding>>> = HashMap::new();
    for (i, m) in mappings.iter().enumerate() {
        let field = |f: &str| at(&format!("portMappings[{i}].{f}"));
        let protocol = m.protocol.as_ref().map_or("tcp", |p| p.as_str());
        if protocol != "tcp" && protocol != "udp" {
            return Err(SpecError::invalid(
                field("protocol"),
                format!("'{protocol}' is not tcp or udp"),
            ));
        }
        let container_ports: Vec<u16> = match (m.container_port, m.container_port_range.as_deref())
        {
            (Some(p), _) => vec![port(p).ok_or_else(|| {
                SpecError::invalid(field("containerPort"), format!("{p} is not a port"))
            })?],
            (None, Some(range)) => port_range(range).ok_or_else(|| {
                SpecError::invalid(
                    field("containerPortRange"),
                    format!("'{range}' is not a port range"),
                )
            })?,
            (None, None) => return Err(SpecError::Missing { field: field("containerPort") }),
        };
        let host_port = match m.host_port {
            None | Some(0) => String::new(),
            Some(p) if m.container_port_range.is_some() && m.container_port.is_none() => {
                return Err(SpecError::invalid(
                    field("hostPort"),
                    format!("{p} cannot be set with containerPortRange"),
                ))
            }
            Some(p) => port(p)
                .ok_or_else(|| SpecError::invalid(field("hostPort"), format!("{p} is not a port")))?
                .to_string(),
        };
        for p in container_ports {
            let key = format!("{p}/{protocol}");
            if !exposed.contains(&key) {
                exposed.push(key.clone());
            }
            if publish {
                bindings
                    .entry(key)
                    .or_insert_with(|| Some(Vec::new()))
                    .get_or_insert_with(Vec::new)
                    .push(PortBinding { host_ip: None, host_port: Some(host_port.clone()) });
            }
        }
    }
    Ok((Some(exposed), publish.then_some(bindings)))
}

fn port(p: i32) -> Option<u16> {
    u16::try_from(p).ok().filter(|&p| p > 0)
}

/// `"8000-8010"` → every port in it (ECS caps a range's size by its own
/// validation; a reversed or empty range is refused here).
fn port_range(range: &str) -> Option<Vec<u16>> {
    let (lo, hi) = range.split_once('-')?;
    let lo: u16 = lo.trim().parse().ok().filter(|&p| p > 0)?;
    let hi: u16 = hi.trim().parse().ok()?;
    (lo < hi).then(|| (lo..=hi).collect())
}

/// `links`: `<docker name>:<alias>` (alias defaults to the name), default
/// bridge only.
fn links(
    ctx: &TaskContext<'_>,
    links: Option<&[String]>,
    at: &dyn Fn(&str) -> String,
) -> Result<Option<Vec<String>>, SpecError> {
    let links = links.unwrap_or_default();
    if links.is_empty() {
        return Ok(None);
    }
    if ctx.network != NetworkAttachment::Bridge {
        return Err(SpecError::invalid(
            at("links"),
            format!("links are not supported with network mode {}", ctx.network.docker_mode()),
        ));
    }
    links
        .iter()
        .enumerate()
        .map(|(i, link)| {
            let field = at(&format!("links[{i}]"));
            let mut parts = link.split(':');
            let target = parts.next().unwrap_or_default();
            let alias = parts.next().unwrap_or(target);
            if parts.next().is_some() || target.is_empty() || alias.is_empty() {
                return Err(SpecError::invalid(field, format!("'{link}' is not name[:alias]")));
            }
            let docker = ctx.docker_names.get(target).ok_or_else(|| {
                SpecError::UnknownContainer { field, container: target.to_owned() }
            })?;
            Ok(format!("{docker}:{alias}"))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// `mountPoints` → `Binds` `source:containerPath[:ro]`, the source being the
/// resolved host path or Docker volume name of the task volume.
fn binds(
    ctx: &TaskContext<'_>,
    def: &ContainerDefinition,
    at: &dyn Fn(&str) -> String,
) -> Result<Option<Vec<String>>, SpecError> {
    let mounts = def.mount_points.as_deref().unwrap_or_default();
    if mounts.is_empty() {
        return Ok(None);
    }
    let volumes = ctx.definition.volumes.as_deref().unwrap_or_default();
    mounts
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let field = |f: &str| at(&format!("mountPoints[{i}].{f}"));
            let volume = m
                .source_volume
                .as_deref()
                .filter(|v| !v.is_empty())
                .ok_or_else(|| SpecError::Missing { field: field("sourceVolume") })?;
            let target = m
                .container_path
                .as_deref()
                .filter(|p| !p.is_empty())
                .ok_or_else(|| SpecError::Missing { field: field("containerPath") })?;
            let declared =
                volumes.iter().find(|v| v.name.as_deref() == Some(volume)).ok_or_else(|| {
                    SpecError::Volume {
                        field: field("sourceVolume"),
                        volume: volume.to_owned(),
                        reason: "unknown",
                    }
                })?;
            let source = ctx
                .volume_names
                .get(volume)
                .cloned()
                .or_else(|| {
                    // A host path needs no provisioning: use it as written.
                    declared
                        .host
                        .as_ref()
                        .and_then(|h| h.source_path.clone())
                        .filter(|p| !p.is_empty())
                })
                .ok_or_else(|| SpecError::Volume {
                    field: field("sourceVolume"),
                    volume: volume.to_owned(),
                    reason: "unresolved",
                })?;
            let ro = if m.read_only == Some(true) { ":ro" } else { "" };
            Ok(format!("{source}:{target}{ro}"))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// `volumesFrom` → `<docker name>[:ro]`.
fn volumes_from(
    ctx: &TaskContext<'_>,
    def: &ContainerDefinition,
    at: &dyn Fn(&str) -> String,
) -> Result<Option<Vec<String>>, SpecError> {
    let from = def.volumes_from.as_deref().unwrap_or_default();
    if from.is_empty() {
        return Ok(None);
    }
    from.iter()
        .enumerate()
        .map(|(i, v)| {
            let field = at(&format!("volumesFrom[{i}].sourceContainer"));
            let source = v
                .source_container
                .as_deref()
                .filter(|s| !s.is_empty())
                .ok_or_else(|| SpecError::Missing { field: field.clone() })?;
            let docker = ctx.docker_names.get(source).ok_or_else(|| {
                SpecError::UnknownContainer { field, container: source.to_owned() }
            })?;
            let ro = if v.read_only == Some(true) { ":ro" } else { "" };
            Ok(format!("{docker}{ro}"))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// `healthCheck` → `Healthcheck`, durations in nanoseconds, ECS's defaults
/// for what is absent. A command with neither `CMD` nor `CMD-SHELL` (nor
/// Docker's `NONE`) first is taken as `CMD`.
fn healthcheck(h: &HealthCheck, at: &dyn Fn(&str) -> String) -> Result<HealthConfig, SpecError> {
    let command = h.command.as_deref().unwrap_or_default();
    if command.is_empty() || command.iter().all(|c| c.is_empty()) {
        return Err(SpecError::Missing { field: at("healthCheck.command") });
    }
    let mut test: Vec<String> = command.to_vec();
    if !matches!(test[0].as_str(), "CMD" | "CMD-SHELL" | "NONE") {
        test.insert(0, "CMD".to_owned());
    }
    if test.len() < 2 && test[0] != "NONE" {
        return Err(SpecError::invalid(
            at("healthCheck.command"),
            format!("'{}' names no command", test[0]),
        ));
    }
    let (interval, timeout, retries, start_period) = HEALTH_DEFAULTS;
    let secs = |v: Option<i32>, d: i64| v.map_or(d, i64::from) * SECOND_NS;
    Ok(HealthConfig {
        test: Some(test),
        interval: Some(secs(h.interval, interval)),
        timeout: Some(secs(h.timeout, timeout)),
        retries: Some(h.retries.map_or(retries, i64::from)),
        start_period: Some(secs(h.start_period, start_period)),
        start_interval: None,
    })
}

fn ulimits(def: &ContainerDefinition) -> Option<Vec<ResourcesUlimits>> {
    let u: Vec<ResourcesUlimits> = def
        .ulimits
        .iter()
        .flatten()
        .filter_map(|u| {
            Some(ResourcesUlimits {
                name: Some(u.name.as_ref()?.as_str().to_owned()),
                soft: u.soft_limit.map(i64::from),
                hard: u.hard_limit.map(i64::from),
            })
        })
        .collect();
    (!u.is_empty()).then_some(u)
}

fn extra_hosts(
    def: &ContainerDefinition,
    at: &dyn Fn(&str) -> String,
) -> Result<Option<Vec<String>>, SpecError> {
    let hosts = def.extra_hosts.as_deref().unwrap_or_default();
    if hosts.is_empty() {
        return Ok(None);
    }
    hosts
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let name = h.hostname.as_deref().filter(|s| !s.is_empty()).ok_or_else(|| {
                SpecError::Missing { field: at(&format!("extraHosts[{i}].hostname")) }
            })?;
            let ip = h.ip_address.as_deref().filter(|s| !s.is_empty()).ok_or_else(|| {
                SpecError::Missing { field: at(&format!("extraHosts[{i}].ipAddress")) }
            })?;
            Ok(format!("{name}:{ip}"))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

fn sysctls(
    def: &ContainerDefinition,
    at: &dyn Fn(&str) -> String,
) -> Result<Option<HashMap<String, String>>, SpecError> {
    let controls = def.system_controls.as_deref().unwrap_or_default();
    if controls.is_empty() {
        return Ok(None);
    }
    let mut out = HashMap::new();
    for (i, c) in controls.iter().enumerate() {
        let key = c.namespace.as_deref().filter(|s| !s.is_empty()).ok_or_else(|| {
            SpecError::Missing { field: at(&format!("systemControls[{i}].namespace")) }
        })?;
        out.insert(key.to_owned(), c.value.clone().unwrap_or_default());
    }
    Ok(Some(out))
}

/// The size at which the `json-file` log of an `awslogs` container rotates.
pub const AWSLOGS_JSON_FILE_MAX_SIZE: &str = "64m";
/// How many `json-file` logs of an `awslogs` container are kept.
pub const AWSLOGS_JSON_FILE_MAX_FILES: &str = "4";

/// `logConfiguration` → `LogConfig`. `awslogs` (and `awsfirelens`, which
/// Wharf does not run) become `json-file`: the agent reads the container's
/// output and ships it to the Logs API itself. Its files rotate at
/// [`AWSLOGS_JSON_FILE_MAX_SIZE`] × [`AWSLOGS_JSON_FILE_MAX_FILES`], far more
/// than the few seconds of output the agent ever reads again after a
/// restart, so a chatty container cannot fill the disk. Other drivers pass
/// through with their options (their `secretOptions` are not resolved).
fn log_config(def: &ContainerDefinition) -> Option<HostConfigLogConfig> {
    let lc = def.log_configuration.as_ref()?;
    let driver = lc.log_driver.as_ref()?.as_str();
    if matches!(driver, "awslogs" | "awsfirelens") {
        let config = HashMap::from([
            ("max-size".to_owned(), AWSLOGS_JSON_FILE_MAX_SIZE.to_owned()),
            ("max-file".to_owned(), AWSLOGS_JSON_FILE_MAX_FILES.to_owned()),
        ]);
        return Some(HostConfigLogConfig {
            typ: Some("json-file".to_owned()),
            config: Some(config),
        });
    }
    let mut options: Option<HashMap<String, String>> =
        lc.options.as_ref().map(|o| o.iter().map(|(k, v)| (k.clone(), v.clone())).collect());
    // The ECS agent's buffer for non-blocking delivery when none is given.
    if let Some(o) =
        options.as_mut().filter(|o| o.get("mode").map(String::as_str) == Some("non-blocking"))
    {
        o.entry("max-buffer-size".to_owned()).or_insert_with(|| "10m".to_owned());
    }
    Some(HostConfigLogConfig { typ: Some(driver.to_owned()), config: options })
}

fn apply_linux_parameters(
    host: &mut HostConfig,
    linux: &LinuxParameters,
    at: &dyn Fn(&str) -> String,
) -> Result<(), SpecError> {
    if let Some(caps) = &linux.capabilities {
        host.cap_add = non_empty(caps.add.clone());
        host.cap_drop = non_empty(caps.drop.clone());
    }
    host.init = linux.init_process_enabled;
    if let Some(shm) = linux.shared_memory_size {
        if shm <= 0 {
            return Err(SpecError::invalid(
                at("linuxParameters.sharedMemorySize"),
                format!("{shm} is not a positive size in MiB"),
            ));
        }
        host.shm_size = Some(i64::from(shm) * MIB);
    }
    let tmpfs = linux.tmpfs.as_deref().unwrap_or_default();
    if !tmpfs.is_empty() {
        let mut out = HashMap::new();
        for (i, t) in tmpfs.iter().enumerate() {
            let field = |f: &str| at(&format!("linuxParameters.tmpfs[{i}].{f}"));
            let path = t
                .container_path
                .as_deref()
                .filter(|p| !p.is_empty())
                .ok_or_else(|| SpecError::Missing { field: field("containerPath") })?;
            let size = t.size.ok_or_else(|| SpecError::Missing { field: field("size") })?;
            if size <= 0 {
                return Err(SpecError::invalid(
                    field("size"),
                    format!("{size} is not a positive size in MiB"),
                ));
            }
            let mut options: Vec<String> = t.mount_options.clone().unwrap_or_default();
            options.push(format!("size={size}m"));
            out.insert(path.to_owned(), options.join(","));
        }
        host.tmpfs = Some(out);
    }
    let devices = linux.devices.as_deref().unwrap_or_default();
    if !devices.is_empty() {
        let mapped = devices
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let host_path =
                    d.host_path.as_deref().filter(|p| !p.is_empty()).ok_or_else(|| {
                        SpecError::Missing {
                            field: at(&format!("linuxParameters.devices[{i}].hostPath")),
                        }
                    })?;
                let permissions = match d.permissions.as_deref() {
                    None | Some([]) => "rwm".to_owned(),
                    Some(list) => {
                        let has = |p: &str| list.iter().any(|x| x.as_str() == p);
                        let mut s = String::new();
                        for (name, letter) in [("read", 'r'), ("write", 'w'), ("mknod", 'm')] {
                            if has(name) {
                                s.push(letter);
                            }
                        }
                        s
                    }
                };
                Ok(DeviceMapping {
                    path_on_host: Some(host_path.to_owned()),
                    path_in_container: Some(
                        d.container_path
                            .clone()
                            .filter(|p| !p.is_empty())
                            .unwrap_or_else(|| host_path.to_owned()),
                    ),
                    cgroup_permissions: Some(permissions),
                })
            })
            .collect::<Result<Vec<_>, SpecError>>()?;
        host.devices = Some(mapped);
    }
    // maxSwap: total memory+swap; 0 turns swap off. Needs a hard limit
    // (Docker refuses MemorySwap without Memory). swappiness counts only with
    // maxSwap.
    if let (Some(max_swap), Some(memory)) = (linux.max_swap, host.memory) {
        if max_swap < 0 {
            return Err(SpecError::invalid(
                at("linuxParameters.maxSwap"),
                format!("{max_swap} is not a size in MiB"),
            ));
        }
        host.memory_swap = Some(memory + i64::from(max_swap) * MIB);
        host.memory_swappiness = Some(linux.swappiness.map_or(DEFAULT_SWAPPINESS, i64::from));
    }
    Ok(())
}

/// Task `pidMode`/`ipcMode`: `host` and `none` directly, `task` by joining the
/// namespace container named under [`NAMESPACE_PAUSE_CONTAINER`].
fn apply_namespaces(ctx: &TaskContext<'_>, host: &mut HostConfig) -> Result<(), SpecError> {
    let task_ns = |field: &str| {
        ctx.docker_names
            .get(NAMESPACE_PAUSE_CONTAINER)
            .map(|n| format!("container:{n}"))
            .ok_or_else(|| {
                SpecError::invalid(
                    field,
                    format!("'task' needs the {NAMESPACE_PAUSE_CONTAINER} container"),
                )
            })
    };
    if let Some(mode) = &ctx.definition.pid_mode {
        host.pid_mode = match mode.as_str() {
            "host" => Some("host".to_owned()),
            "task" => Some(task_ns("pidMode")?),
            other => {
                return Err(SpecError::invalid("pidMode", format!("'{other}' is not host or task")))
            }
        };
    }
    if let Some(mode) = &ctx.definition.ipc_mode {
        host.ipc_mode = match mode.as_str() {
            "host" => Some("host".to_owned()),
            "none" => Some("none".to_owned()),
            "task" => Some(task_ns("ipcMode")?),
            other => {
                return Err(SpecError::invalid(
                    "ipcMode",
                    format!("'{other}' is not host, task or none"),
                ))
            }
        };
    }
    Ok(())
}

/// `dockerLabels`, then the agent's labels, which win on the same key.
fn labels(
    ctx: &TaskContext<'_>,
    def: &ContainerDefinition,
    name: &str,
) -> Result<HashMap<String, String>, SpecError> {
    let family = ctx
        .definition
        .family
        .as_deref()
        .filter(|f| !f.is_empty())
        .ok_or_else(|| SpecError::Missing { field: "family".to_owned() })?;
    let revision = ctx
        .definition
        .revision
        .ok_or_else(|| SpecError::Missing { field: "revision".to_owned() })?;
    let mut labels: HashMap<String, String> =
        def.docker_labels.iter().flatten().map(|(k, v)| (k.clone(), v.clone())).collect();
    labels.insert(LABEL_TASK_ARN.to_owned(), ctx.task_arn.to_owned());
    labels.insert(LABEL_CONTAINER_NAME.to_owned(), name.to_owned());
    labels.insert(LABEL_CLUSTER.to_owned(), cluster_short_name(ctx.cluster).to_owned());
    labels.insert(LABEL_INSTANCE.to_owned(), ctx.instance_arn.to_owned());
    labels.insert(LABEL_FAMILY.to_owned(), family.to_owned());
    labels.insert(LABEL_REVISION.to_owned(), revision.to_string());
    Ok(labels)
}
