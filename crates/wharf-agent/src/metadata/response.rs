//! The JSON the endpoints answer, shaped as the ECS agent's
//! (`ecs-agent/tmds/handlers/v2/response.go`, `v4/state/response.go`,
//! `agent/handlers/v4/response.go`): PascalCase names, RFC 3339 UTC times,
//! absent values left out where the agent leaves them out.

use std::collections::BTreeMap;

use serde::Serialize;
use wharf_model::ecs::shapes::NetworkMode;
use wharf_model::ecs::status::{ContainerLastStatus, ContainerStatus, TaskStatus};
use wharf_model::ecs::task_definition::{parse_task_cpu, parse_task_memory};

use super::registry::{ContainerRecord, TaskRecord, TYPE_CNI_PAUSE};
use crate::runtime::{LABEL_CLUSTER, LABEL_CONTAINER_NAME, LABEL_FAMILY, LABEL_REVISION};
use crate::runtime::{LABEL_MANAGED, LABEL_TASK_ARN};
use crate::spec::cluster_short_name;

/// Which endpoint version a response is for: v3 lacks the v4 additions
/// (`LogDriver`, `LogOptions`, `ContainerARN`, the awsvpc network
/// properties, `LaunchType`, `ServiceName`, `FaultInjectionEnabled`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Version {
    V3,
    V4,
}

/// `Limits` of a container (CPU units, memory MiB) or of a task (vCPUs, MiB).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(super) struct Limits {
    #[serde(rename = "CPU", skip_serializing_if = "Option::is_none", serialize_with = "go_float")]
    pub(super) cpu: Option<f64>,
    #[serde(rename = "Memory", skip_serializing_if = "Option::is_none")]
    pub(super) memory: Option<i64>,
}

/// One entry of `Ports`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(super) struct Port {
    #[serde(rename = "ContainerPort", skip_serializing_if = "is_zero")]
    pub(super) container_port: u16,
    #[serde(rename = "Protocol", skip_serializing_if = "String::is_empty")]
    pub(super) protocol: String,
    #[serde(rename = "HostPort", skip_serializing_if = "is_zero")]
    pub(super) host_port: u16,
    #[serde(rename = "HostIp", skip_serializing_if = "String::is_empty")]
    pub(super) host_ip: String,
}

/// A float as Go's `encoding/json` writes it: `10`, not `10.0`.
fn go_float<S: serde::Serializer>(value: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match value {
        // Whole numbers this small are exact as i64.
        Some(v) if v.fract() == 0.0 && v.abs() < 1e15 => s.serialize_i64(*v as i64),
        Some(v) => s.serialize_f64(*v),
        None => s.serialize_none(),
    }
}

fn is_zero(n: &u16) -> bool {
    *n == 0
}

/// One entry of `Networks`.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub(super) struct Network {
    #[serde(rename = "NetworkMode", skip_serializing_if = "String::is_empty")]
    pub(super) network_mode: String,
    #[serde(rename = "IPv4Addresses", skip_serializing_if = "Vec::is_empty")]
    pub(super) ipv4_addresses: Vec<String>,
    #[serde(rename = "AttachmentIndex", skip_serializing_if = "Option::is_none")]
    pub(super) attachment_index: Option<u32>,
    #[serde(rename = "MACAddress", skip_serializing_if = "String::is_empty")]
    pub(super) mac_address: String,
    #[serde(rename = "IPv4SubnetCIDRBlock", skip_serializing_if = "String::is_empty")]
    pub(super) ipv4_subnet_cidr_block: String,
    #[serde(rename = "PrivateDNSName", skip_serializing_if = "String::is_empty")]
    pub(super) private_dns_name: String,
    #[serde(rename = "SubnetGatewayIpv4Address", skip_serializing_if = "String::is_empty")]
    pub(super) subnet_gateway_ipv4_address: String,
}

/// `Health` of a container with a health check.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(super) struct HealthResponse {
    #[serde(rename = "status", skip_serializing_if = "String::is_empty")]
    pub(super) status: String,
    #[serde(rename = "statusSince", skip_serializing_if = "Option::is_none")]
    pub(super) status_since: Option<String>,
}

/// A container's metadata: `${ECS_CONTAINER_METADATA_URI_V4}` and each
/// entry of the task's `Containers`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(super) struct ContainerResponse {
    #[serde(rename = "DockerId")]
    pub(super) docker_id: String,
    #[serde(rename = "Name")]
    pub(super) name: String,
    #[serde(rename = "DockerName")]
    pub(super) docker_name: String,
    #[serde(rename = "Image")]
    pub(super) image: String,
    #[serde(rename = "ImageID")]
    pub(super) image_id: String,
    #[serde(rename = "Ports", skip_serializing_if = "Vec::is_empty")]
    pub(super) ports: Vec<Port>,
    #[serde(rename = "Labels", skip_serializing_if = "BTreeMap::is_empty")]
    pub(super) labels: BTreeMap<String, String>,
    #[serde(rename = "DesiredStatus")]
    pub(super) desired_status: String,
    #[serde(rename = "KnownStatus")]
    pub(super) known_status: String,
    #[serde(rename = "ExitCode", skip_serializing_if = "Option::is_none")]
    pub(super) exit_code: Option<i32>,
    #[serde(rename = "Limits")]
    pub(super) limits: Limits,
    #[serde(rename = "CreatedAt", skip_serializing_if = "Option::is_none")]
    pub(super) created_at: Option<String>,
    #[serde(rename = "StartedAt", skip_serializing_if = "Option::is_none")]
    pub(super) started_at: Option<String>,
    #[serde(rename = "FinishedAt", skip_serializing_if = "Option::is_none")]
    pub(super) finished_at: Option<String>,
    #[serde(rename = "Type")]
    pub(super) kind: String,
    #[serde(rename = "Networks", skip_serializing_if = "Vec::is_empty")]
    pub(super) networks: Vec<Network>,
    #[serde(rename = "Health", skip_serializing_if = "Option::is_none")]
    pub(super) health: Option<HealthResponse>,
    #[serde(rename = "LogDriver", skip_serializing_if = "Option::is_none")]
    pub(super) log_driver: Option<String>,
    #[serde(rename = "LogOptions", skip_serializing_if = "Option::is_none")]
    pub(super) log_options: Option<BTreeMap<String, String>>,
    #[serde(rename = "ContainerARN", skip_serializing_if = "Option::is_none")]
    pub(super) container_arn: Option<String>,
}

/// A task's metadata: `${ECS_CONTAINER_METADATA_URI_V4}/task`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(super) struct TaskResponse {
    #[serde(rename = "Cluster")]
    pub(super) cluster: String,
    #[serde(rename = "TaskARN")]
    pub(super) task_arn: String,
    #[serde(rename = "Family")]
    pub(super) family: String,
    #[serde(rename = "Revision")]
    pub(super) revision: String,
    #[serde(rename = "DesiredStatus", skip_serializing_if = "String::is_empty")]
    pub(super) desired_status: String,
    #[serde(rename = "KnownStatus")]
    pub(super) known_status: String,
    #[serde(rename = "Limits", skip_serializing_if = "Option::is_none")]
    pub(super) limits: Option<Limits>,
    #[serde(rename = "PullStartedAt", skip_serializing_if = "Option::is_none")]
    pub(super) pull_started_at: Option<String>,
    #[serde(rename = "PullStoppedAt", skip_serializing_if = "Option::is_none")]
    pub(super) pull_stopped_at: Option<String>,
    #[serde(rename = "ExecutionStoppedAt", skip_serializing_if = "Option::is_none")]
    pub(super) execution_stopped_at: Option<String>,
    #[serde(rename = "AvailabilityZone", skip_serializing_if = "Option::is_none")]
    pub(super) availability_zone: Option<String>,
    #[serde(rename = "TaskTags", skip_serializing_if = "Option::is_none")]
    pub(super) task_tags: Option<BTreeMap<String, String>>,
    #[serde(rename = "LaunchType", skip_serializing_if = "Option::is_none")]
    pub(super) launch_type: Option<String>,
    #[serde(rename = "Containers", skip_serializing_if = "Vec::is_empty")]
    pub(super) containers: Vec<ContainerResponse>,
    #[serde(rename = "ServiceName", skip_serializing_if = "Option::is_none")]
    pub(super) service_name: Option<String>,
    #[serde(rename = "FaultInjectionEnabled", skip_serializing_if = "Option::is_none")]
    pub(super) fault_injection_enabled: Option<bool>,
}

/// The body of a credentials answer, as the ECS agent's `IAMRoleCredentials`.
#[derive(Clone, PartialEq, Serialize)]
pub(super) struct CredentialsResponse {
    #[serde(rename = "RoleArn")]
    pub(super) role_arn: String,
    #[serde(rename = "AccessKeyId")]
    pub(super) access_key_id: String,
    #[serde(rename = "SecretAccessKey")]
    pub(super) secret_access_key: String,
    #[serde(rename = "Token")]
    pub(super) token: String,
    #[serde(rename = "Expiration")]
    pub(super) expiration: String,
}

impl std::fmt::Debug for CredentialsResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialsResponse")
            .field("role_arn", &self.role_arn)
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// The error body of the credentials endpoint (`{"code", "message"}`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(super) struct ErrorMessage {
    pub(super) code: &'static str,
    pub(super) message: String,
}

/// RFC 3339 in UTC, as Go's `time.Time` marshals (fraction without trailing
/// zeros, none when whole): `2020-10-02T00:15:07.62Z`.
pub(super) fn rfc3339(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let frac = ms.rem_euclid(1000);
    let mut out = rfc3339_seconds(secs);
    if frac != 0 {
        out.pop(); // the Z
        let digits = format!("{frac:03}");
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
        out.push('Z');
    }
    out
}

/// RFC 3339 in UTC to the second: `2017-05-23T00:36:22Z`.
pub(super) fn rfc3339_seconds(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rest = secs.rem_euclid(86_400);
    let (y, m, d) = wharf_model::clock::civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rest / 3600, (rest % 3600) / 60, rest % 60)
}

fn network_mode(record: &TaskRecord) -> NetworkMode {
    record.definition.network_mode.clone().unwrap_or(NetworkMode::Bridge)
}

/// The container's status in the ECS agent's words (`NONE`, `PULLED`,
/// `CREATED`, `RUNNING`, `STOPPED`).
fn known_status(record: &TaskRecord, c: &ContainerRecord) -> ContainerStatus {
    let reported = record
        .task
        .containers
        .as_deref()
        .unwrap_or_default()
        .iter()
        .find(|t| t.name.as_deref() == Some(c.name.as_str()))
        .and_then(|t| t.last_status);
    let stopped = reported == Some(ContainerLastStatus::Stopped);
    if c.exit_code.is_some() || c.finished_at_ms.is_some() || stopped {
        ContainerStatus::Stopped
    } else if c.running || reported == Some(ContainerLastStatus::Running) {
        ContainerStatus::Running
    } else if c.docker_id.is_some() {
        ContainerStatus::Created
    } else if record.task.pull_stopped_at.is_some() {
        ContainerStatus::Pulled
    } else {
        ContainerStatus::None
    }
}

fn desired_status(record: &TaskRecord) -> String {
    match &record.task.desired_status {
        Some(d) if !d.as_str().is_empty() => d.as_str().to_owned(),
        _ => "RUNNING".to_owned(),
    }
}

/// The labels the agent puts on a container, for one not seen started yet.
fn expected_labels(record: &TaskRecord, c: &ContainerRecord) -> BTreeMap<String, String> {
    let mut labels: BTreeMap<String, String> = c
        .definition
        .as_ref()
        .and_then(|d| d.docker_labels.clone())
        .unwrap_or_default()
        .into_iter()
        .collect();
    labels.insert(LABEL_TASK_ARN.to_owned(), record.task_arn().to_owned());
    labels.insert(LABEL_CONTAINER_NAME.to_owned(), c.name.clone());
    labels.insert(LABEL_FAMILY.to_owned(), record.definition.family.clone().unwrap_or_default());
    labels.insert(
        LABEL_REVISION.to_owned(),
        record.definition.revision.unwrap_or_default().to_string(),
    );
    labels.insert(LABEL_CLUSTER.to_owned(), cluster_short_name(&record.cluster).to_owned());
    labels
}

fn ports(record: &TaskRecord, c: &ContainerRecord) -> Vec<Port> {
    let mode = network_mode(record);
    if !c.ports.is_empty() && mode != NetworkMode::Awsvpc {
        return c
            .ports
            .iter()
            .map(|p| Port {
                container_port: p.container_port,
                protocol: p.protocol.clone(),
                host_port: p.host_port,
                host_ip: p.host_ip.clone(),
            })
            .collect();
    }
    // No published ports: awsvpc and host answer on the container's own
    // port; a bridge container not started yet has no host port yet.
    let mappings = c.definition.as_ref().and_then(|d| d.port_mappings.as_deref());
    mappings
        .unwrap_or_default()
        .iter()
        .filter_map(|m| {
            let container_port = u16::try_from(m.container_port?).ok()?;
            let host_port = match mode {
                NetworkMode::Awsvpc => container_port,
                _ => m.host_port.and_then(|p| u16::try_from(p).ok()).unwrap_or(0),
            };
            let protocol = m.protocol.as_ref().map_or("tcp", |p| p.as_str()).to_owned();
            Some(Port { container_port, protocol, host_port, host_ip: String::new() })
        })
        .collect()
}

/// A detail of the task's ENI attachment (awsvpc), by name.
fn attachment_detail(record: &TaskRecord, name: &str) -> Option<String> {
    let attachments = record.task.attachments.as_deref()?;
    attachments
        .iter()
        .filter_map(|a| a.details.as_deref())
        .flatten()
        .find(|kv| kv.name.as_deref() == Some(name))
        .and_then(|kv| kv.value.clone())
}

fn networks(record: &TaskRecord, c: &ContainerRecord, version: Version) -> Vec<Network> {
    let mode = network_mode(record);
    if mode == NetworkMode::Awsvpc {
        let Some(ip) = attachment_detail(record, "privateIPv4Address") else { return Vec::new() };
        let mut network = Network {
            network_mode: "awsvpc".to_owned(),
            ipv4_addresses: vec![ip],
            ..Network::default()
        };
        if version == Version::V4 {
            network.attachment_index = Some(0);
            network.mac_address = attachment_detail(record, "macAddress").unwrap_or_default();
            network.private_dns_name =
                attachment_detail(record, "privateDnsName").unwrap_or_default();
        }
        return vec![network];
    }
    if c.docker_id.is_none() {
        return Vec::new();
    }
    if c.addresses.is_empty() {
        if !matches!(mode, NetworkMode::Host | NetworkMode::None) {
            // Not started yet: no address yet.
            return Vec::new();
        }
        // Docker lists `host` (or `none`) with an empty address, and the
        // ECS agent passes that on.
        return vec![Network {
            network_mode: mode.as_str().to_owned(),
            ipv4_addresses: vec![String::new()],
            ..Network::default()
        }];
    }
    let mut list: Vec<Network> = c
        .addresses
        .iter()
        .map(|(name, ip)| Network {
            network_mode: name.clone(),
            ipv4_addresses: vec![ip.clone()],
            ..Network::default()
        })
        .collect();
    list.sort_by(|a, b| a.network_mode.cmp(&b.network_mode));
    list
}

/// A container's metadata.
pub(super) fn container(
    record: &TaskRecord,
    c: &ContainerRecord,
    version: Version,
) -> ContainerResponse {
    let reported = record
        .task
        .containers
        .as_deref()
        .unwrap_or_default()
        .iter()
        .find(|t| t.name.as_deref() == Some(c.name.as_str()));
    let def = c.definition.as_ref();
    let labels: BTreeMap<String, String> = match &c.labels {
        Some(l) => l
            .iter()
            .filter(|(k, _)| k.as_str() != LABEL_MANAGED)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        None => expected_labels(record, c),
    };
    let memory = def.and_then(|d| d.memory.or(d.memory_reservation)).unwrap_or(0);
    let log = def.and_then(|d| d.log_configuration.as_ref()).filter(|_| version == Version::V4);
    let health = def.and_then(|d| d.health_check.as_ref()).map(|_| match &c.health {
        Some((status, since)) => {
            HealthResponse { status: status.clone(), status_since: Some(rfc3339(*since)) }
        }
        None => HealthResponse { status: "UNKNOWN".to_owned(), status_since: None },
    });
    ContainerResponse {
        docker_id: c.docker_id.clone().unwrap_or_default(),
        name: c.name.clone(),
        docker_name: c.docker_name.clone().unwrap_or_default(),
        image: c.image(),
        image_id: reported.and_then(|r| r.image_digest.clone()).unwrap_or_default(),
        ports: ports(record, c),
        labels,
        desired_status: desired_status(record),
        known_status: known_status(record, c).as_str().to_owned(),
        exit_code: c.exit_code.or_else(|| reported.and_then(|r| r.exit_code)),
        limits: Limits {
            cpu: Some(f64::from(def.and_then(|d| d.cpu).unwrap_or(0))),
            memory: Some(i64::from(memory)),
        },
        created_at: c.created_at_ms.map(rfc3339),
        started_at: c.started_at_ms.map(rfc3339),
        finished_at: c.finished_at_ms.map(rfc3339),
        kind: c.kind.to_owned(),
        networks: networks(record, c, version),
        health,
        log_driver: log.and_then(|l| l.log_driver.as_ref()).map(|d| d.as_str().to_owned()),
        log_options: log.and_then(|l| l.options.clone()),
        container_arn: reported
            .and_then(|r| r.container_arn.clone())
            .filter(|_| version == Version::V4 && c.kind != TYPE_CNI_PAUSE),
    }
}

/// A task's metadata, with the containers Docker has (the ECS agent lists
/// only those).
pub(super) fn task(record: &TaskRecord, version: Version, with_tags: bool) -> TaskResponse {
    let t = &record.task;
    let td = &record.definition;
    let cpu = t.cpu.as_deref().or(td.cpu.as_deref()).and_then(parse_task_cpu);
    let memory = t.memory.as_deref().or(td.memory.as_deref()).and_then(parse_task_memory);
    let limits = (cpu.is_some() || memory.is_some())
        .then(|| Limits { cpu: cpu.map(|c| f64::from(c) / 1024.0), memory: memory.map(i64::from) });
    let v4 = version == Version::V4;
    let service_name = t
        .group
        .as_deref()
        .and_then(|g| g.strip_prefix("service:"))
        .map(str::to_owned)
        .filter(|_| v4);
    let task_tags = with_tags.then(|| {
        t.tags
            .as_deref()
            .unwrap_or_default()
            .iter()
            .filter_map(|tag| Some((tag.key.clone()?, tag.value.clone().unwrap_or_default())))
            .collect()
    });
    TaskResponse {
        cluster: cluster_short_name(&record.cluster).to_owned(),
        task_arn: record.task_arn().to_owned(),
        family: td.family.clone().unwrap_or_default(),
        revision: td.revision.unwrap_or_default().to_string(),
        desired_status: desired_status(record),
        known_status: t.last_status.map_or("NONE", TaskStatus::as_str).to_owned(),
        limits,
        pull_started_at: t.pull_started_at.map(|s| rfc3339(s.as_millis())),
        pull_stopped_at: t.pull_stopped_at.map(|s| rfc3339(s.as_millis())),
        execution_stopped_at: t.execution_stopped_at.map(|s| rfc3339(s.as_millis())),
        availability_zone: t.availability_zone.clone().filter(|z| !z.is_empty()),
        task_tags,
        launch_type: t.launch_type.as_ref().map(|l| l.as_str().to_owned()).filter(|_| v4),
        containers: record
            .containers
            .iter()
            .filter(|c| c.docker_id.is_some())
            .map(|c| container(record, c, version))
            .collect(),
        service_name,
        fault_injection_enabled: v4.then(|| td.enable_fault_injection.unwrap_or(false)),
    }
}
