//! AWS Cloud Map (service discovery): namespaces, services, instances and
//! operations, with Cloud Map's rules.
//!
//! A region's whole registry is one document ([`Registry`]), changed by one
//! decision per write: deleting a namespace and checking it has no services
//! see the same state, and the DNS answers ([`Registry::dns`]) are one
//! consistent view. Operations that are asynchronous in AWS (creating a
//! namespace, registering an instance) are done at once and recorded as
//! `SUCCESS`, so `GetOperation` answers what a poller waits for.

pub mod dns;
pub mod error;
pub mod shapes;

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

pub use error::{DiscoveryError, DiscoveryErrorKind};
use shapes::{
    CreateServiceRequest, DnsConfig, DnsProperties, HealthStatus, HealthStatusFilter,
    HttpInstanceSummary, HttpProperties, Instance, Namespace, NamespaceProperties, NamespaceType,
    Operation, OperationStatus, OperationType, RecordType, RoutingPolicy, Service, ServiceType,
    Tag, SOA,
};

use crate::ids::Entropy;
use crate::Timestamp;

/// The attribute holding an instance's IPv4 address.
pub const ATTR_IPV4: &str = "AWS_INSTANCE_IPV4";
/// The attribute holding an instance's port.
pub const ATTR_PORT: &str = "AWS_INSTANCE_PORT";
/// The attribute giving an instance's first health status.
pub const ATTR_INIT_HEALTH: &str = "AWS_INIT_HEALTH_STATUS";
/// How many operations the registry remembers (the oldest go first).
pub const MAX_OPERATIONS: usize = 1000;
/// How many instances a service may hold (Cloud Map's quota).
pub const MAX_INSTANCES: usize = 1000;
/// How many attributes an instance may carry.
pub const MAX_ATTRIBUTES: usize = 30;

/// A region's Cloud Map state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Registry {
    /// Namespaces by id.
    #[serde(default)]
    pub namespaces: BTreeMap<String, NamespaceRecord>,
    /// Services by id.
    #[serde(default)]
    pub services: BTreeMap<String, ServiceRecord>,
    /// Recent operations by id.
    #[serde(default)]
    pub operations: BTreeMap<String, Operation>,
}

/// A namespace as kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NamespaceRecord {
    /// The namespace as GetNamespace answers it (without `ServiceCount`).
    pub namespace: Namespace,
    /// The VPC of a private DNS namespace.
    #[serde(default)]
    pub vpc: Option<String>,
    /// Its tags.
    #[serde(default)]
    pub tags: Vec<Tag>,
}

/// A service as kept, with its instances.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceRecord {
    /// The service as GetService answers it (without `InstanceCount`).
    pub service: Service,
    /// Its tags.
    #[serde(default)]
    pub tags: Vec<Tag>,
    /// Its instances by id.
    #[serde(default)]
    pub instances: BTreeMap<String, InstanceRecord>,
    /// Counts changes to its instances (DiscoverInstances' `InstancesRevision`).
    #[serde(default)]
    pub revision: i64,
}

/// A registered instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceRecord {
    /// Its attributes.
    pub attributes: BTreeMap<String, String>,
    /// The `CreatorRequestId` it was registered with.
    #[serde(default)]
    pub creator_request_id: Option<String>,
    /// Its health (custom health checks; healthy otherwise).
    pub healthy: bool,
}

/// What a new namespace is.
#[derive(Debug, Clone, PartialEq)]
pub struct NewNamespace {
    /// `HTTP` or `DNS_PRIVATE`.
    pub kind: NamespaceType,
    /// Its name.
    pub name: String,
    /// Its VPC (private DNS).
    pub vpc: Option<String>,
    /// Its description.
    pub description: Option<String>,
    /// The idempotency token.
    pub creator_request_id: Option<String>,
    /// Its SOA TTL (private DNS).
    pub soa_ttl: Option<i64>,
    /// Its tags.
    pub tags: Vec<Tag>,
}

/// One DNS name's answers in a private namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsAnswers {
    /// A records: address and TTL.
    pub a: Vec<(Ipv4Addr, u32)>,
    /// SRV records: port, target name and TTL.
    pub srv: Vec<(u16, String, u32)>,
}

/// What the registry's identifiers and timestamps come from.
#[derive(Clone, Copy)]
pub struct Env<'a> {
    /// The region.
    pub region: &'a str,
    /// The account.
    pub account: &'a str,
    /// Now, in milliseconds.
    pub now_ms: i64,
    /// Randomness for ids.
    pub entropy: &'a dyn Entropy,
}

impl std::fmt::Debug for Env<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Env").field("region", &self.region).field("now_ms", &self.now_ms).finish()
    }
}

const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";

fn token(entropy: &dyn Entropy, len: usize) -> String {
    let mut out = String::with_capacity(len);
    let mut bits = entropy.next_u64();
    let mut left = 12;
    for _ in 0..len {
        if left == 0 {
            bits = entropy.next_u64();
            left = 12;
        }
        out.push(ALPHABET[(bits & 31) as usize] as char);
        bits >>= 5;
        left -= 1;
    }
    out
}

fn not_found(kind: DiscoveryErrorKind, what: &str, id: &str) -> DiscoveryError {
    DiscoveryError::new(kind, format!("{what} not found: {id}"))
}

fn id_of<'a>(given: &'a str, kind: &str) -> &'a str {
    given.rsplit_once(&format!(":{kind}/")).map_or(given, |(_, id)| id)
}

fn check_len(field: &str, value: &str, max: usize) -> Result<(), DiscoveryError> {
    if value.is_empty() || value.chars().count() > max {
        return Err(DiscoveryError::invalid(format!(
            "1 validation error detected: Value '{value}' at '{field}' failed to satisfy \
             constraint: Member must have length between 1 and {max}"
        )));
    }
    Ok(())
}

/// Whether `name` is a DNS name Cloud Map accepts for a private namespace.
fn dns_name_ok(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

impl Registry {
    fn record_operation(
        &mut self,
        env: Env<'_>,
        kind: OperationType,
        targets: &[(&str, &str)],
    ) -> String {
        let id = format!("{}-{}", token(env.entropy, 32), token(env.entropy, 8));
        let at = Timestamp::from_millis(env.now_ms);
        self.operations.insert(
            id.clone(),
            Operation {
                id: Some(id.clone()),
                owner_account: Some(env.account.to_owned()),
                r#type: Some(kind),
                status: Some(OperationStatus::Success),
                create_date: Some(at),
                update_date: Some(at),
                targets: Some(
                    targets.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
                ),
                ..Operation::default()
            },
        );
        if self.operations.len() > MAX_OPERATIONS {
            let oldest = self
                .operations
                .iter()
                .min_by_key(|(_, o)| o.create_date.map(Timestamp::as_millis))
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                self.operations.remove(&k);
            }
        }
        id
    }

    /// CreateHttpNamespace and CreatePrivateDnsNamespace: the operation's id.
    /// A repeat with the same `CreatorRequestId` answers the first operation.
    pub fn create_namespace(
        &mut self,
        env: Env<'_>,
        new: NewNamespace,
    ) -> Result<String, DiscoveryError> {
        let private = new.kind == NamespaceType::DnsPrivate;
        check_len("name", &new.name, if private { 253 } else { 1024 })?;
        if private && !dns_name_ok(&new.name) {
            return Err(DiscoveryError::invalid(format!(
                "Namespace name '{}' is not a valid DNS name.",
                new.name
            )));
        }
        if !private && !new.name.bytes().all(|b| (b'!'..=b'~').contains(&b)) {
            return Err(DiscoveryError::invalid(format!(
                "Namespace name '{}' must be printable ASCII without spaces.",
                new.name
            )));
        }
        if let Some(d) = &new.description {
            if d.chars().count() > 1024 {
                return Err(DiscoveryError::invalid(
                    "Description must be at most 1024 characters.",
                ));
            }
        }
        let name = new.name.trim_end_matches('.').to_owned();
        if let Some(existing) = self
            .namespaces
            .values()
            .find(|n| n.namespace.name.as_deref().is_some_and(|x| x.eq_ignore_ascii_case(&name)))
        {
            let id = existing.namespace.id.clone().unwrap_or_default();
            if new.creator_request_id.is_some()
                && existing.namespace.creator_request_id == new.creator_request_id
            {
                let op = self.operations.iter().find(|(_, o)| {
                    o.r#type == Some(OperationType::CreateNamespace)
                        && o.targets.as_ref().and_then(|t| t.get("NAMESPACE")) == Some(&id)
                });
                if let Some((op, _)) = op {
                    return Ok(op.clone());
                }
            }
            return Err(DiscoveryError::new(
                DiscoveryErrorKind::NamespaceAlreadyExists,
                format!("Namespace with name {name} already exists: {id}"),
            ));
        }
        let id = format!("ns-{}", token(env.entropy, 16));
        let properties = if private {
            NamespaceProperties {
                dns_properties: Some(DnsProperties {
                    hosted_zone_id: Some(format!("Z{}", token(env.entropy, 20).to_uppercase())),
                    soa: Some(SOA { ttl: Some(new.soa_ttl.unwrap_or(15)) }),
                }),
                http_properties: Some(HttpProperties { http_name: Some(name.clone()) }),
            }
        } else {
            NamespaceProperties {
                dns_properties: Some(DnsProperties::default()),
                http_properties: Some(HttpProperties { http_name: Some(name.clone()) }),
            }
        };
        let namespace = Namespace {
            id: Some(id.clone()),
            arn: Some(format!(
                "arn:aws:servicediscovery:{}:{}:namespace/{id}",
                env.region, env.account
            )),
            resource_owner: Some(env.account.to_owned()),
            name: Some(name),
            r#type: Some(new.kind),
            description: new.description,
            service_count: None,
            properties: Some(properties),
            create_date: Some(Timestamp::from_millis(env.now_ms)),
            creator_request_id: new.creator_request_id,
        };
        self.namespaces
            .insert(id.clone(), NamespaceRecord { namespace, vpc: new.vpc, tags: new.tags });
        Ok(self.record_operation(env, OperationType::CreateNamespace, &[("NAMESPACE", &id)]))
    }

    /// A namespace by id or ARN, as GetNamespace answers it.
    pub fn namespace(&self, given: &str) -> Result<Namespace, DiscoveryError> {
        let id = id_of(given, "namespace");
        let rec = self
            .namespaces
            .get(id)
            .ok_or_else(|| not_found(DiscoveryErrorKind::NamespaceNotFound, "Namespace", id))?;
        let mut ns = rec.namespace.clone();
        let count =
            self.services.values().filter(|s| s.service.namespace_id.as_deref() == Some(id));
        ns.service_count = Some(i32::try_from(count.count()).unwrap_or(i32::MAX));
        Ok(ns)
    }

    /// DeleteNamespace: refused while it holds services.
    pub fn delete_namespace(
        &mut self,
        env: Env<'_>,
        given: &str,
    ) -> Result<String, DiscoveryError> {
        let id = self.namespace(given)?.id.unwrap_or_default();
        if self.services.values().any(|s| s.service.namespace_id.as_deref() == Some(&*id)) {
            return Err(DiscoveryError::new(
                DiscoveryErrorKind::ResourceInUse,
                format!("Namespace {id} has associated services; delete them first."),
            ));
        }
        self.namespaces.remove(&id);
        Ok(self.record_operation(env, OperationType::DeleteNamespace, &[("NAMESPACE", &id)]))
    }

    /// CreateService in a namespace: DNS records for a DNS namespace, none
    /// for an HTTP one; its name unique in the namespace.
    pub fn create_service(
        &mut self,
        env: Env<'_>,
        req: CreateServiceRequest,
    ) -> Result<Service, DiscoveryError> {
        let name = req.name.clone().unwrap_or_default();
        let name_ok = name.len() <= 127
            && (name == "."
                || name.split('.').all(|l| {
                    !l.is_empty()
                        && l.len() <= 63
                        && !l.starts_with('-')
                        && !l.ends_with('-')
                        && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                }));
        if !name_ok {
            return Err(DiscoveryError::invalid(format!(
                "1 validation error detected: Value '{name}' at 'name' failed to satisfy \
                 constraint: Member must satisfy regular expression pattern"
            )));
        }
        let ns_given = req
            .namespace_id
            .clone()
            .or_else(|| req.dns_config.as_ref().and_then(|d| d.namespace_id.clone()))
            .ok_or_else(|| DiscoveryError::invalid("NamespaceId is required."))?;
        let ns = self.namespace(&ns_given)?;
        let ns_id = ns.id.clone().unwrap_or_default();
        let dns = ns.r#type == Some(NamespaceType::DnsPrivate);
        let mut dns_config = req.dns_config.clone();
        match (&mut dns_config, dns) {
            (Some(_), false) => {
                return Err(DiscoveryError::invalid(
                    "DnsConfig can't be specified for a service in an HTTP namespace.",
                ))
            }
            (None, true) if req.r#type.is_none() => {
                return Err(DiscoveryError::invalid(
                    "DnsConfig is required for a service in a DNS namespace.",
                ))
            }
            (Some(c), true) => check_dns_config(c, &ns_id)?,
            _ => {}
        }
        if req.health_check_config.is_some() {
            return Err(DiscoveryError::invalid(
                "HealthCheckConfig (Route 53 health checks) is only for public DNS namespaces; \
                 use HealthCheckCustomConfig.",
            ));
        }
        if let Some(existing) = self.services.values().find(|s| {
            s.service.namespace_id.as_deref() == Some(&*ns_id)
                && s.service.name.as_deref().is_some_and(|n| n.eq_ignore_ascii_case(&name))
        }) {
            let same_request = req.creator_request_id.is_some()
                && existing.service.creator_request_id == req.creator_request_id;
            if same_request {
                return Ok(existing.service.clone());
            }
            return Err(DiscoveryError::new(
                DiscoveryErrorKind::ServiceAlreadyExists,
                format!(
                    "Service already exists: {}",
                    existing.service.id.clone().unwrap_or_default()
                ),
            ));
        }
        let id = format!("srv-{}", token(env.entropy, 16));
        let kind = match (dns_config.is_some(), req.r#type.is_some()) {
            (true, _) => ServiceType::DnsHttp,
            (false, _) => ServiceType::Http,
        };
        let service = Service {
            id: Some(id.clone()),
            arn: Some(format!(
                "arn:aws:servicediscovery:{}:{}:service/{id}",
                env.region, env.account
            )),
            resource_owner: Some(env.account.to_owned()),
            name: Some(name),
            namespace_id: Some(ns_id),
            description: req.description,
            instance_count: None,
            dns_config,
            r#type: Some(kind),
            health_check_config: None,
            health_check_custom_config: req.health_check_custom_config.map(|mut c| {
                c.failure_threshold = Some(1);
                c
            }),
            create_date: Some(Timestamp::from_millis(env.now_ms)),
            creator_request_id: req.creator_request_id,
            created_by_account: Some(env.account.to_owned()),
        };
        self.services.insert(
            id,
            ServiceRecord {
                service: service.clone(),
                tags: req.tags.unwrap_or_default(),
                instances: BTreeMap::new(),
                revision: 0,
            },
        );
        Ok(service)
    }

    /// A service by id or ARN, as GetService answers it.
    pub fn service(&self, given: &str) -> Result<Service, DiscoveryError> {
        let rec = self.service_record(given)?;
        let mut s = rec.service.clone();
        s.instance_count = Some(i32::try_from(rec.instances.len()).unwrap_or(i32::MAX));
        Ok(s)
    }

    /// A service's record by id or ARN.
    pub fn service_record(&self, given: &str) -> Result<&ServiceRecord, DiscoveryError> {
        let id = id_of(given, "service");
        self.services
            .get(id)
            .ok_or_else(|| not_found(DiscoveryErrorKind::ServiceNotFound, "Service", id))
    }

    /// DeleteService: refused while it holds instances.
    pub fn delete_service(&mut self, given: &str) -> Result<(), DiscoveryError> {
        let rec = self.service_record(given)?;
        let id = rec.service.id.clone().unwrap_or_default();
        if !rec.instances.is_empty() {
            return Err(DiscoveryError::new(
                DiscoveryErrorKind::ResourceInUse,
                format!("Service {id} contains registered instances; deregister them first."),
            ));
        }
        self.services.remove(&id);
        Ok(())
    }

    /// RegisterInstance (or its update, for an id already registered): the
    /// attributes its service's DNS records need, and health from
    /// `AWS_INIT_HEALTH_STATUS` under a custom health check.
    pub fn register_instance(
        &mut self,
        env: Env<'_>,
        service: &str,
        instance: &str,
        attributes: BTreeMap<String, String>,
        creator_request_id: Option<String>,
    ) -> Result<String, DiscoveryError> {
        check_len("instanceId", instance, 64)?;
        if attributes.len() > MAX_ATTRIBUTES {
            return Err(DiscoveryError::invalid(format!(
                "An instance can have at most {MAX_ATTRIBUTES} attributes."
            )));
        }
        for (k, v) in &attributes {
            check_len("attributes.key", k, 255)?;
            if v.chars().count() > 1024 {
                return Err(DiscoveryError::invalid(format!(
                    "The value of attribute {k} must be at most 1024 characters."
                )));
            }
        }
        let rec = self.service_record(service)?;
        let id = rec.service.id.clone().unwrap_or_default();
        let records =
            rec.service.dns_config.as_ref().map(|d| d.dns_records.clone().unwrap_or_default());
        for r in records.iter().flatten() {
            match r.r#type {
                Some(RecordType::A) | Some(RecordType::Srv) => {
                    let ip = attributes.get(ATTR_IPV4).ok_or_else(|| {
                        DiscoveryError::invalid(format!(
                            "Instance attribute {ATTR_IPV4} is required for service {id}, which \
                             has {} records.",
                            r.r#type.as_ref().map_or("", |t| t.as_str())
                        ))
                    })?;
                    if ip.parse::<Ipv4Addr>().is_err() {
                        return Err(DiscoveryError::invalid(format!(
                            "{ATTR_IPV4} '{ip}' is not an IPv4 address."
                        )));
                    }
                }
                _ => {}
            }
            if r.r#type == Some(RecordType::Srv) {
                let port = attributes.get(ATTR_PORT).ok_or_else(|| {
                    DiscoveryError::invalid(format!(
                        "Instance attribute {ATTR_PORT} is required for service {id}, which has \
                         SRV records."
                    ))
                })?;
                if port.parse::<u16>().is_err() {
                    return Err(DiscoveryError::invalid(format!(
                        "{ATTR_PORT} '{port}' must be a port from 0 to 65535."
                    )));
                }
            }
        }
        let custom = rec.service.health_check_custom_config.is_some();
        let healthy = match attributes.get(ATTR_INIT_HEALTH).map(String::as_str) {
            None | Some("HEALTHY") => true,
            Some("UNHEALTHY") if custom => false,
            Some(other) => {
                return Err(DiscoveryError::invalid(format!(
                    "{ATTR_INIT_HEALTH} '{other}' must be HEALTHY or UNHEALTHY, for a service \
                     with a custom health check."
                )))
            }
        };
        let full = rec.instances.len() >= MAX_INSTANCES && !rec.instances.contains_key(instance);
        if full {
            return Err(DiscoveryError::new(
                DiscoveryErrorKind::ResourceLimitExceeded,
                format!("Service {id} has reached its limit of {MAX_INSTANCES} instances."),
            ));
        }
        let rec = self.services.get_mut(&id).ok_or_else(|| DiscoveryError::server("gone"))?;
        let new = InstanceRecord { attributes, creator_request_id, healthy };
        if rec.instances.get(instance) != Some(&new) {
            rec.instances.insert(instance.to_owned(), new);
            rec.revision += 1;
        }
        Ok(self.record_operation(
            env,
            OperationType::RegisterInstance,
            &[("SERVICE", &id), ("INSTANCE", instance)],
        ))
    }

    /// DeregisterInstance.
    pub fn deregister_instance(
        &mut self,
        env: Env<'_>,
        service: &str,
        instance: &str,
    ) -> Result<String, DiscoveryError> {
        let id = self.service_record(service)?.service.id.clone().unwrap_or_default();
        let rec = self.services.get_mut(&id).ok_or_else(|| DiscoveryError::server("gone"))?;
        if rec.instances.remove(instance).is_none() {
            return Err(DiscoveryError::new(
                DiscoveryErrorKind::InstanceNotFound,
                format!("Instance not found: {instance}"),
            ));
        }
        rec.revision += 1;
        Ok(self.record_operation(
            env,
            OperationType::DeregisterInstance,
            &[("SERVICE", &id), ("INSTANCE", instance)],
        ))
    }

    /// An instance of a service.
    pub fn instance(&self, service: &str, instance: &str) -> Result<Instance, DiscoveryError> {
        let rec = self.service_record(service)?;
        let i = rec.instances.get(instance).ok_or_else(|| {
            DiscoveryError::new(
                DiscoveryErrorKind::InstanceNotFound,
                format!("Instance not found: {instance}"),
            )
        })?;
        Ok(Instance {
            id: Some(instance.to_owned()),
            creator_request_id: i.creator_request_id.clone(),
            attributes: Some(i.attributes.clone()),
            created_by_account: rec.service.created_by_account.clone(),
        })
    }

    /// DiscoverInstances: the instances of `service` in `namespace` (by
    /// name) whose attributes match `query`, filtered by health; and the
    /// service's revision.
    pub fn discover(
        &self,
        namespace: &str,
        service: &str,
        query: &BTreeMap<String, String>,
        health: Option<&HealthStatusFilter>,
        max: usize,
    ) -> Result<(Vec<HttpInstanceSummary>, i64), DiscoveryError> {
        let ns = self
            .namespaces
            .values()
            .find(|n| {
                n.namespace.name.as_deref().is_some_and(|x| x.eq_ignore_ascii_case(namespace))
            })
            .ok_or_else(|| {
                not_found(DiscoveryErrorKind::NamespaceNotFound, "Namespace", namespace)
            })?;
        let ns_id = ns.namespace.id.clone().unwrap_or_default();
        let rec = self
            .services
            .values()
            .find(|s| {
                s.service.namespace_id.as_deref() == Some(&*ns_id)
                    && s.service.name.as_deref().is_some_and(|n| n.eq_ignore_ascii_case(service))
            })
            .ok_or_else(|| not_found(DiscoveryErrorKind::ServiceNotFound, "Service", service))?;
        let checked = rec.service.health_check_custom_config.is_some();
        let all: Vec<(&String, &InstanceRecord)> = rec
            .instances
            .iter()
            .filter(|(_, i)| query.iter().all(|(k, v)| i.attributes.get(k) == Some(v)))
            .collect();
        let wanted: Vec<&(&String, &InstanceRecord)> = match (checked, health) {
            (false, _) | (true, Some(HealthStatusFilter::All)) => all.iter().collect(),
            (true, Some(HealthStatusFilter::Unhealthy)) => {
                all.iter().filter(|(_, i)| !i.healthy).collect()
            }
            (true, Some(HealthStatusFilter::HealthyOrElseAll)) => {
                let healthy: Vec<_> = all.iter().filter(|(_, i)| i.healthy).collect();
                if healthy.is_empty() {
                    all.iter().collect()
                } else {
                    healthy
                }
            }
            (true, _) => all.iter().filter(|(_, i)| i.healthy).collect(),
        };
        let out = wanted
            .into_iter()
            .take(max)
            .map(|(id, i)| HttpInstanceSummary {
                instance_id: Some((*id).clone()),
                namespace_name: ns.namespace.name.clone(),
                service_name: rec.service.name.clone(),
                health_status: Some(match (checked, i.healthy) {
                    (false, _) => HealthStatus::Unknown,
                    (true, true) => HealthStatus::Healthy,
                    (true, false) => HealthStatus::Unhealthy,
                }),
                attributes: Some(i.attributes.clone()),
            })
            .collect();
        Ok((out, rec.revision))
    }

    /// An operation by id.
    pub fn operation(&self, id: &str) -> Result<Operation, DiscoveryError> {
        self.operations.get(id).cloned().ok_or_else(|| {
            DiscoveryError::new(
                DiscoveryErrorKind::OperationNotFound,
                format!("Operation not found: {id}"),
            )
        })
    }

    /// The answers of every name in the private DNS namespaces: a service
    /// `web` in `internal` answers `web.internal` with its healthy instances'
    /// A records (addresses) and SRV records (port, `<instance>.web.internal`),
    /// and each SRV target answers its instance's address. Names are
    /// lowercase, without the final dot.
    pub fn dns(&self) -> BTreeMap<String, DnsAnswers> {
        let mut out: BTreeMap<String, DnsAnswers> = BTreeMap::new();
        for rec in self.services.values() {
            let Some(ns) =
                rec.service.namespace_id.as_deref().and_then(|id| self.namespaces.get(id))
            else {
                continue;
            };
            if ns.namespace.r#type != Some(NamespaceType::DnsPrivate) {
                continue;
            }
            let Some(config) = &rec.service.dns_config else { continue };
            let ns_name = ns.namespace.name.as_deref().unwrap_or_default().to_ascii_lowercase();
            let name = rec.service.name.as_deref().unwrap_or_default().to_ascii_lowercase();
            let fqdn = if name == "." { ns_name.clone() } else { format!("{name}.{ns_name}") };
            for (id, i) in rec.instances.iter().filter(|(_, i)| i.healthy) {
                let Some(ip) = i.attributes.get(ATTR_IPV4).and_then(|v| v.parse().ok()) else {
                    continue;
                };
                for r in config.dns_records.iter().flatten() {
                    let ttl = u32::try_from(r.ttl.unwrap_or(60)).unwrap_or(u32::MAX);
                    match r.r#type {
                        Some(RecordType::A) => {
                            out.entry(fqdn.clone()).or_default().a.push((ip, ttl))
                        }
                        Some(RecordType::Srv) => {
                            let port = i.attributes.get(ATTR_PORT).and_then(|p| p.parse().ok());
                            let Some(port) = port else { continue };
                            let target = format!("{}.{fqdn}", id.to_ascii_lowercase());
                            out.entry(fqdn.clone()).or_default().srv.push((
                                port,
                                target.clone(),
                                ttl,
                            ));
                            out.entry(target).or_default().a.push((ip, ttl));
                        }
                        _ => {}
                    }
                }
            }
        }
        out
    }

    /// The names of the private DNS namespaces (lowercase): names under them
    /// are answered from the registry, never forwarded.
    pub fn private_zones(&self) -> Vec<String> {
        self.namespaces
            .values()
            .filter(|n| n.namespace.r#type == Some(NamespaceType::DnsPrivate))
            .filter_map(|n| n.namespace.name.as_deref().map(str::to_ascii_lowercase))
            .collect()
    }
}

/// Cloud Map's checks on a service's `DnsConfig`: one to five records, no
/// record type twice, A/AAAA/SRV/CNAME with a TTL; MULTIVALUE routing when
/// none is given.
fn check_dns_config(c: &mut DnsConfig, ns_id: &str) -> Result<(), DiscoveryError> {
    let records = c.dns_records.clone().unwrap_or_default();
    if records.is_empty() || records.len() > 5 {
        return Err(DiscoveryError::invalid("DnsConfig.DnsRecords must have 1 to 5 records."));
    }
    let mut seen = Vec::new();
    for r in &records {
        let t = r
            .r#type
            .clone()
            .ok_or_else(|| DiscoveryError::invalid("DnsRecord.Type is required."))?;
        if !t.is_known() {
            return Err(DiscoveryError::invalid(format!(
                "DnsRecord.Type '{t}' must be one of SRV, A, AAAA, CNAME."
            )));
        }
        if matches!(t, RecordType::Aaaa | RecordType::Cname) {
            return Err(DiscoveryError::invalid(format!(
                "Wharf's private DNS answers A and SRV records; {t} is not served."
            )));
        }
        if seen.contains(&t) {
            return Err(DiscoveryError::invalid(format!("DnsRecord type {t} is given twice.")));
        }
        if !r.ttl.is_some_and(|ttl| (0..=2_147_483_647).contains(&ttl)) {
            return Err(DiscoveryError::invalid("DnsRecord.TTL is required, 0 to 2147483647."));
        }
        seen.push(t);
    }
    if c.routing_policy.is_none() {
        c.routing_policy = Some(RoutingPolicy::Multivalue);
    }
    c.namespace_id = None;
    let _ = ns_id;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::SystemEntropy;
    use shapes::DnsRecord;

    fn env() -> Env<'static> {
        Env {
            region: "us-east-1",
            account: "123456789012",
            now_ms: 1_700_000_000_000,
            entropy: &SystemEntropy,
        }
    }

    fn private(r: &mut Registry, name: &str) -> String {
        r.create_namespace(
            env(),
            NewNamespace {
                kind: NamespaceType::DnsPrivate,
                name: name.into(),
                vpc: Some("vpc-12345678".into()),
                description: None,
                creator_request_id: Some("req-1".into()),
                soa_ttl: None,
                tags: vec![],
            },
        )
        .expect("namespace");
        r.namespaces.keys().next().cloned().expect("id")
    }

    fn service(r: &mut Registry, ns: &str, name: &str, types: &[RecordType]) -> String {
        let req = CreateServiceRequest {
            name: Some(name.into()),
            namespace_id: Some(ns.into()),
            dns_config: Some(DnsConfig {
                dns_records: Some(
                    types
                        .iter()
                        .map(|t| DnsRecord { r#type: Some(t.clone()), ttl: Some(10) })
                        .collect(),
                ),
                ..DnsConfig::default()
            }),
            ..CreateServiceRequest::default()
        };
        r.create_service(env(), req).expect("service").id.expect("id")
    }

    fn attrs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn namespaces_are_unique_and_idempotent_by_request_id() {
        let mut r = Registry::default();
        let ns = private(&mut r, "internal");
        let op = r.operations.keys().next().cloned().expect("op");
        let again = r.create_namespace(
            env(),
            NewNamespace {
                kind: NamespaceType::DnsPrivate,
                name: "internal".into(),
                vpc: None,
                description: None,
                creator_request_id: Some("req-1".into()),
                soa_ttl: None,
                tags: vec![],
            },
        );
        assert_eq!(again.expect("same request"), op);
        assert_eq!(r.operation(&op).expect("op").status, Some(OperationStatus::Success));
        let clash = r.create_namespace(
            env(),
            NewNamespace {
                kind: NamespaceType::Http,
                name: "INTERNAL".into(),
                vpc: None,
                description: None,
                creator_request_id: None,
                soa_ttl: None,
                tags: vec![],
            },
        );
        assert_eq!(clash.unwrap_err().kind, DiscoveryErrorKind::NamespaceAlreadyExists);
        let srv = service(&mut r, &ns, "web", &[RecordType::A]);
        assert_eq!(
            r.delete_namespace(env(), &ns).unwrap_err().kind,
            DiscoveryErrorKind::ResourceInUse
        );
        assert_eq!(r.namespace(&ns).expect("ns").service_count, Some(1));
        r.delete_service(&srv).expect("delete");
        r.delete_namespace(env(), &ns).expect("delete namespace");
        assert_eq!(r.namespace(&ns).unwrap_err().kind, DiscoveryErrorKind::NamespaceNotFound);
    }

    #[test]
    fn instances_need_the_attributes_their_records_need_and_answer_dns() {
        let mut r = Registry::default();
        let ns = private(&mut r, "internal");
        let a = service(&mut r, &ns, "web", &[RecordType::A]);
        let srv = service(&mut r, &ns, "db", &[RecordType::Srv]);
        let missing = r.register_instance(env(), &a, "t1", attrs(&[]), None).unwrap_err();
        assert!(missing.message.contains(ATTR_IPV4), "{}", missing.message);
        r.register_instance(env(), &a, "t1", attrs(&[(ATTR_IPV4, "10.0.0.1")]), None).expect("t1");
        r.register_instance(env(), &a, "t2", attrs(&[(ATTR_IPV4, "10.0.0.2")]), None).expect("t2");
        let no_port =
            r.register_instance(env(), &srv, "d1", attrs(&[(ATTR_IPV4, "10.0.1.1")]), None);
        assert!(no_port.unwrap_err().message.contains(ATTR_PORT));
        r.register_instance(
            env(),
            &srv,
            "d1",
            attrs(&[(ATTR_IPV4, "10.0.1.1"), (ATTR_PORT, "5432")]),
            None,
        )
        .expect("d1");
        let dns = r.dns();
        let web = &dns["web.internal"];
        assert_eq!(web.a.len(), 2);
        assert_eq!(dns["db.internal"].srv, [(5432, "d1.db.internal".to_owned(), 10)]);
        assert_eq!(dns["d1.db.internal"].a, [("10.0.1.1".parse().expect("ip"), 10)]);
        assert_eq!(r.delete_service(&a).unwrap_err().kind, DiscoveryErrorKind::ResourceInUse);
        r.deregister_instance(env(), &a, "t1").expect("deregister");
        assert_eq!(r.dns()["web.internal"].a.len(), 1);
        let (found, revision) =
            r.discover("internal", "web", &BTreeMap::new(), None, 100).expect("discover");
        assert_eq!((found.len(), revision), (1, 3));
        assert_eq!(found[0].health_status, Some(HealthStatus::Unknown));
        let gone = r.deregister_instance(env(), &a, "t1").unwrap_err();
        assert_eq!(gone.kind, DiscoveryErrorKind::InstanceNotFound);
        assert_eq!(r.private_zones(), ["internal"]);
    }
}
