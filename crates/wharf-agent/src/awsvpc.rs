//! `awsvpc` networking on Docker: one network namespace and one IP address
//! per task, held by a pause container on a bridge network Wharf owns, as
//! the ECS agent holds it with its pause container and an ENI. The task's
//! containers join the pause container's namespace (`container:<id>`), so
//! they share `localhost` and the task's address, which the load balancer
//! targets directly. The task's ENI attachment reports that address.

use std::collections::HashMap;

use wharf_model::agent::Assignment;
use wharf_model::ecs::shapes::{Attachment, Container, KeyValuePair, NetworkInterface, Task};
use wharf_model::ecs::status::AttachmentStatus;

use crate::pause::{pause_program, rootfs_tar, PAUSE_COMMAND, PAUSE_CONTAINER_NAME, PAUSE_IMAGE};
use crate::runtime::{
    ContainerCreateBody, ContainerInfo, ContainerState, Runtime, LABEL_CLUSTER,
    LABEL_CONTAINER_NAME, LABEL_FAMILY, LABEL_INSTANCE, LABEL_REVISION, LABEL_TASK_ARN,
};
use crate::stop::NamedError;

/// The Docker network awsvpc tasks get their addresses on.
pub const AWSVPC_NETWORK: &str = "wharf-awsvpc";

/// A task's network: its pause container and its address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskNetwork {
    /// The pause container's Docker ID.
    pub pause_id: String,
    /// The task's IPv4 address.
    pub ip: String,
}

fn failed(detail: impl std::fmt::Display) -> NamedError {
    NamedError::ResourceInitialization(format!("failed to set up the task network: {detail}"))
}

/// Sets up the task's network: the pause image and the network if missing
/// (on the instance's slice when `settings.network` says), then the pause
/// container (or the one already running for this task, after an agent
/// restart), labelled with `settings.instance_arn`.
pub async fn provision(
    runtime: &dyn Runtime,
    assignment: &Assignment,
    task_id: &str,
    adopted: Option<&ContainerInfo>,
    settings: crate::provision::Settings<'_>,
) -> Result<TaskNetwork, NamedError> {
    let crate::provision::Settings { dns, network, instance_arn, .. } = settings;
    if let Some(info) = adopted.filter(|i| i.state == ContainerState::Running) {
        if let Some(ip) = info.addresses.get(AWSVPC_NETWORK) {
            return Ok(TaskNetwork { pause_id: info.id.clone(), ip: ip.clone() });
        }
    }
    if let Some(stale) = adopted {
        runtime.remove_container(&stale.id).await.map_err(failed)?;
    }
    let program = pause_program(std::env::consts::ARCH)
        .ok_or_else(|| failed(format!("no pause program for {}", std::env::consts::ARCH)))?;
    runtime.import_image(PAUSE_IMAGE, rootfs_tar("pause", &program)).await.map_err(failed)?;
    runtime.ensure_network(AWSVPC_NETWORK, network).await.map_err(failed)?;
    let td = &assignment.definition;
    let family = td.family.clone().unwrap_or_default();
    let revision = td.revision.unwrap_or(0);
    let task_arn = assignment.task.task_arn.clone().unwrap_or_default();
    let labels = HashMap::from([
        (LABEL_TASK_ARN.to_owned(), task_arn),
        (LABEL_CONTAINER_NAME.to_owned(), PAUSE_CONTAINER_NAME.to_owned()),
        (LABEL_CLUSTER.to_owned(), assignment.cluster.clone()),
        (LABEL_INSTANCE.to_owned(), instance_arn.to_owned()),
        (LABEL_FAMILY.to_owned(), family.clone()),
        (LABEL_REVISION.to_owned(), revision.to_string()),
    ]);
    let servers = task_dns(&td.container_definitions, dns);
    let config = ContainerCreateBody {
        image: Some(PAUSE_IMAGE.to_owned()),
        cmd: Some(vec![PAUSE_COMMAND.to_owned()]),
        labels: Some(labels),
        host_config: Some(bollard::models::HostConfig {
            network_mode: Some(AWSVPC_NETWORK.to_owned()),
            // Docker's embedded resolver forwards to these servers until the
            // task's resolv.conf names them itself (below).
            dns: servers.clone(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let name = format!("ecs-{family}-{revision}-internalecspause-{task_id}");
    let id = runtime.create_container(&name, config).await.map_err(failed)?;
    let info = runtime.start_container(&id).await.map_err(failed)?;
    let ip = info
        .addresses
        .get(AWSVPC_NETWORK)
        .cloned()
        .ok_or_else(|| failed("the pause container got no address"))?;
    if let Some(servers) = servers {
        // As an ECS task's ENI names its VPC's resolver: the task's containers
        // ask these servers directly, not through Docker's embedded resolver
        // (a hop that costs its own latency; ECS tasks do not rely on the
        // container names it serves).
        match runtime.set_resolvers(&id, &servers).await {
            Ok(true) => {}
            Ok(false) => tracing::debug!("the engine's resolv.conf is not on this host"),
            Err(e) => tracing::warn!(error = %e, "the task keeps Docker's resolver"),
        }
    }
    Ok(TaskNetwork { pause_id: id, ip })
}

/// The DNS servers of an awsvpc task's network: the first `dnsServers` a
/// container names, else the agent's (`None`: Docker's default).
fn task_dns(
    defs: &Option<Vec<wharf_model::ecs::shapes::ContainerDefinition>>,
    agent: &[String],
) -> Option<Vec<String>> {
    let named = defs.iter().flatten().find_map(|d| d.dns_servers.clone().filter(|s| !s.is_empty()));
    named.or_else(|| (!agent.is_empty()).then(|| agent.to_vec()))
}

/// Stops and removes the pause container: the task's address is released.
pub async fn release(runtime: &dyn Runtime, network: &TaskNetwork) {
    let _ = runtime.stop_container(&network.pause_id, std::time::Duration::ZERO).await;
    if let Err(e) = runtime.remove_container(&network.pause_id).await {
        tracing::warn!(error = %e, "the pause container was not removed");
    }
}

/// Docker's MAC address for a bridge address (`02:42` and the IPv4 bytes).
fn mac_of(ip: &str) -> String {
    let bytes: Vec<String> =
        ip.split('.').map(|b| format!("{:02x}", b.parse::<u8>().unwrap_or(0))).collect();
    format!("02:42:{}", bytes.join(":"))
}

/// The report of the task's ENI attachment in `status` (`ATTACHED`, then
/// `DELETED`), with the containers' network interfaces.
pub fn report(assignment: &Assignment, network: &TaskNetwork, status: AttachmentStatus) -> Task {
    let task = &assignment.task;
    let region = task
        .task_arn
        .as_deref()
        .and_then(|a| a.split(':').nth(3))
        .unwrap_or("us-east-1")
        .to_owned();
    let previous = task.attachments.as_deref().unwrap_or(&[]).first();
    let attachment_id =
        previous.and_then(|a| a.id.clone()).unwrap_or_else(|| uuid_like(&network.pause_id));
    let subnet = previous
        .and_then(|a| a.details.as_deref())
        .and_then(|d| d.iter().find(|kv| kv.name.as_deref() == Some("subnetId")))
        .and_then(|kv| kv.value.clone())
        .unwrap_or_else(|| "subnet-wharf".to_owned());
    let dns_zone = if region == "us-east-1" {
        "ec2.internal".to_owned()
    } else {
        format!("{region}.compute.internal")
    };
    let kv = |name: &str, value: String| KeyValuePair {
        name: Some(name.to_owned()),
        value: Some(value),
    };
    let attachment = Attachment {
        id: Some(attachment_id.clone()),
        r#type: Some("ElasticNetworkInterface".to_owned()),
        status: Some(status),
        details: Some(vec![
            kv("subnetId", subnet),
            kv(
                "networkInterfaceId",
                format!("eni-{}", &network.pause_id[..17.min(network.pause_id.len())]),
            ),
            kv("macAddress", mac_of(&network.ip)),
            kv("privateDnsName", format!("ip-{}.{dns_zone}", network.ip.replace('.', "-"))),
            kv("privateIPv4Address", network.ip.clone()),
        ]),
    };
    let containers = task
        .containers
        .as_deref()
        .unwrap_or(&[])
        .iter()
        .map(|c| Container {
            name: c.name.clone(),
            network_interfaces: Some(vec![NetworkInterface {
                attachment_id: Some(attachment_id.clone()),
                private_ipv4_address: Some(network.ip.clone()),
                ..NetworkInterface::default()
            }]),
            ..Container::default()
        })
        .collect();
    Task {
        task_arn: task.task_arn.clone(),
        attachments: Some(vec![attachment]),
        containers: Some(containers),
        ..Task::default()
    }
}

/// An attachment ID for a task that had none: the shape of a UUID, from
/// the container ID.
fn uuid_like(id: &str) -> String {
    let hex: String = id.chars().chain(std::iter::repeat('0')).take(32).collect();
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}
