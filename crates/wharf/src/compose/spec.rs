//! The Compose file's shapes, as the Compose Specification writes them, short
//! and long syntaxes alike. Only what the converter reads is typed; every
//! other key of a service lands in `other`, so that the converter can name
//! it in a warning instead of dropping it unseen.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_yaml_ng::{Mapping, Value};

/// A scalar where Compose means a string (`80`, `0.5`, `true` and `"x"` alike).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Scalar {
    /// A string.
    String(String),
    /// A whole number.
    Int(i64),
    /// A number with a fraction.
    Float(f64),
    /// `true` or `false`.
    Bool(bool),
}

impl Scalar {
    /// The scalar as Compose reads it in a string context.
    pub fn text(&self) -> String {
        match self {
            Scalar::String(s) => s.clone(),
            Scalar::Int(n) => n.to_string(),
            Scalar::Float(f) => f.to_string(),
            Scalar::Bool(b) => b.to_string(),
        }
    }
}

/// One string or a list of them (`command`, `entrypoint`, `dns`, `tmpfs`...).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum StringOrList {
    /// The string form (a command is split the way a shell would).
    String(String),
    /// The list form.
    List(Vec<Scalar>),
}

/// A list of `KEY=VALUE` strings or a map (`environment`, `labels`,
/// `sysctls`, `extra_hosts`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum ListOrMap {
    /// `- KEY=VALUE` (or `- KEY` for no value).
    List(Vec<Scalar>),
    /// `KEY: VALUE` (or `KEY:` for no value).
    Map(Mapping),
}

/// One service.
#[derive(Debug, Default, Deserialize)]
#[allow(missing_docs)] // Field names are the specification's keys.
pub struct Service {
    pub image: Option<String>,
    pub build: Option<Value>,
    pub command: Option<StringOrList>,
    pub entrypoint: Option<StringOrList>,
    pub environment: Option<ListOrMap>,
    pub env_file: Option<EnvFiles>,
    pub ports: Option<Vec<Port>>,
    pub expose: Option<Vec<Scalar>>,
    pub volumes: Option<Vec<ServiceVolume>>,
    pub volumes_from: Option<Vec<String>>,
    pub tmpfs: Option<StringOrList>,
    pub depends_on: Option<DependsOn>,
    pub links: Option<Vec<String>>,
    pub healthcheck: Option<Healthcheck>,
    pub deploy: Option<Deploy>,
    pub mem_limit: Option<Scalar>,
    pub mem_reservation: Option<Scalar>,
    pub cpus: Option<Scalar>,
    pub cpu_shares: Option<Scalar>,
    pub user: Option<Scalar>,
    pub working_dir: Option<String>,
    pub hostname: Option<String>,
    pub labels: Option<ListOrMap>,
    pub ulimits: Option<Mapping>,
    pub stop_grace_period: Option<Scalar>,
    pub init: Option<bool>,
    pub privileged: Option<bool>,
    pub read_only: Option<bool>,
    pub cap_add: Option<Vec<String>>,
    pub cap_drop: Option<Vec<String>>,
    pub extra_hosts: Option<ListOrMap>,
    pub dns: Option<StringOrList>,
    pub dns_search: Option<StringOrList>,
    pub tty: Option<bool>,
    pub stdin_open: Option<bool>,
    pub shm_size: Option<Scalar>,
    pub sysctls: Option<ListOrMap>,
    pub logging: Option<Logging>,
    pub restart: Option<Scalar>,
    pub container_name: Option<String>,
    pub networks: Option<Networks>,
    pub network_mode: Option<String>,
    pub security_opt: Option<Vec<String>>,
    pub devices: Option<Vec<Value>>,
    pub pid: Option<String>,
    pub ipc: Option<String>,
    /// Read from the YAML before interpolation (an inactive service is not interpolated).
    #[allow(dead_code)]
    pub profiles: Option<Vec<String>>,
    /// Every other key.
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

/// `env_file`: one path, or a list of paths and `{path, required}` entries.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum EnvFiles {
    /// `env_file: .env`
    One(String),
    /// `env_file: [a.env, {path: b.env, required: false}]`
    Many(Vec<EnvFileEntry>),
}

/// One `env_file` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum EnvFileEntry {
    /// A path (required).
    Path(String),
    /// The long syntax.
    Long {
        /// The file, relative to the compose file's directory.
        path: String,
        /// Whether a missing file is an error (default true).
        required: Option<bool>,
    },
}

/// One `ports` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Port {
    /// `- 80`
    Number(u64),
    /// `- "127.0.0.1:8080:80/udp"`
    Short(String),
    /// `- {target: 80, published: "8080", protocol: tcp}`
    Long(PortLong),
}

/// The long syntax of a port.
#[derive(Debug, Clone, Deserialize)]
#[allow(missing_docs)]
pub struct PortLong {
    pub target: Scalar,
    pub published: Option<Scalar>,
    pub host_ip: Option<String>,
    pub protocol: Option<String>,
    /// `host` or `ingress`: accepted, bridge mode publishes either way.
    #[allow(dead_code)]
    pub mode: Option<String>,
    pub name: Option<String>,
    pub app_protocol: Option<String>,
    /// Every other key.
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

/// One `volumes` entry of a service.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum ServiceVolume {
    /// `- db:/var/lib/db:ro`, `- ./conf:/etc/app`, `- /cache`
    Short(String),
    /// `- {type: bind, source: ./conf, target: /etc/app, read_only: true}`
    Long(VolumeLong),
}

/// The long syntax of a service volume.
#[derive(Debug, Clone, Deserialize)]
#[allow(missing_docs)]
pub struct VolumeLong {
    #[serde(rename = "type")]
    pub kind: String,
    pub source: Option<String>,
    pub target: Option<String>,
    pub read_only: Option<bool>,
    pub tmpfs: Option<TmpfsOptions>,
    /// Every other key (`bind`, `volume`, `consistency`...).
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

/// `tmpfs:` options of a long-syntax volume.
#[derive(Debug, Clone, Deserialize)]
#[allow(missing_docs)]
pub struct TmpfsOptions {
    pub size: Option<Scalar>,
    pub mode: Option<Scalar>,
}

/// `depends_on`: a list of services, or a map with conditions.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum DependsOn {
    /// `- db` (service_started).
    List(Vec<String>),
    /// `db: {condition: service_healthy}`, in file order.
    Map(Mapping),
}

/// One entry of the map form of `depends_on`.
#[derive(Debug, Clone, Default, Deserialize)]
#[allow(missing_docs)]
pub struct DependsOnEntry {
    pub condition: Option<String>,
    pub restart: Option<bool>,
    pub required: Option<bool>,
    /// Every other key.
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

/// `healthcheck`.
#[derive(Debug, Clone, Default, Deserialize)]
#[allow(missing_docs)]
pub struct Healthcheck {
    pub test: Option<StringOrList>,
    pub interval: Option<Scalar>,
    pub timeout: Option<Scalar>,
    pub retries: Option<Scalar>,
    pub start_period: Option<Scalar>,
    pub disable: Option<bool>,
    /// Every other key (`start_interval`...).
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

/// `deploy`.
#[derive(Debug, Clone, Default, Deserialize)]
#[allow(missing_docs)]
pub struct Deploy {
    pub resources: Option<Resources>,
    pub restart_policy: Option<RestartPolicy>,
    /// Every other key (`replicas`, `mode`, `placement`...).
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

/// `deploy.resources`.
#[derive(Debug, Clone, Default, Deserialize)]
#[allow(missing_docs)]
pub struct Resources {
    pub limits: Option<ResourceSet>,
    pub reservations: Option<ResourceSet>,
}

/// `deploy.resources.limits` or `.reservations`.
#[derive(Debug, Clone, Default, Deserialize)]
#[allow(missing_docs)]
pub struct ResourceSet {
    pub cpus: Option<Scalar>,
    pub memory: Option<Scalar>,
    /// Every other key (`pids`, `devices`...).
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

/// `deploy.restart_policy`.
#[derive(Debug, Clone, Default, Deserialize)]
#[allow(missing_docs)]
pub struct RestartPolicy {
    pub condition: Option<String>,
    pub max_attempts: Option<Scalar>,
    /// Every other key (`delay`, `window`).
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

/// `logging`.
#[derive(Debug, Clone, Default, Deserialize)]
#[allow(missing_docs)]
pub struct Logging {
    pub driver: Option<String>,
    pub options: Option<Mapping>,
}

/// A service's `networks`: a list of names, or a map with per-network settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Networks {
    /// `- backend` (no aliases)
    List(#[allow(dead_code)] Vec<String>),
    /// `backend: {aliases: [db]}`
    Map(Mapping),
}

impl Networks {
    /// Every `aliases` entry across the networks.
    pub fn aliases(&self) -> Vec<String> {
        let Networks::Map(map) = self else { return Vec::new() };
        map.values()
            .filter_map(|v| v.get("aliases").and_then(Value::as_sequence))
            .flatten()
            .filter_map(|a| a.as_str().map(str::to_owned))
            .collect()
    }
}

/// One entry of the top-level `volumes`.
#[derive(Debug, Clone, Default, Deserialize)]
#[allow(missing_docs)]
pub struct TopVolume {
    pub driver: Option<String>,
    pub driver_opts: Option<Mapping>,
    pub external: Option<Value>,
    pub labels: Option<ListOrMap>,
    pub name: Option<String>,
    /// Every other key.
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}
