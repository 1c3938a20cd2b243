//! Port mappings and the container fields a network mode rules out.
//!
//! `awsvpc` and `host`: `hostPort` omitted or equal to `containerPort`.
//! `none`: no port mappings. A (protocol, host port) pair may appear once in
//! a task. `awsvpc` also rules out `hostname`, `links`, `dnsServers`,
//! `dnsSearchDomains` and `extraHosts`.

use std::collections::HashSet;

use crate::ecs::shapes::{ContainerDefinition, PortMapping, TransportProtocol};
use crate::error::EcsError;

use super::rules::{self, msg};
use super::validate::{Mode, Task};

/// Port mappings and network-mode restrictions of container `i`.
pub(crate) fn check_container(task: &Task, i: usize) -> Result<(), EcsError> {
    let Some(c) = task.containers.get(i) else { return Ok(()) };
    let name = task.name(i);
    check_mode_fields(c, task.mode)?;
    let mappings = c.port_mappings.as_deref().unwrap_or_default();
    if task.mode == Mode::None && !mappings.is_empty() {
        return Err(EcsError::client(msg::not_with_network_mode("portMappings", "none")));
    }
    let ranges = mappings.iter().filter(|p| p.container_port_range.is_some()).count();
    if ranges > rules::MAX_PORT_RANGES {
        return Err(EcsError::client(msg::invalid_setting("containerPortRange", name)));
    }
    for p in mappings {
        check_mapping(p, task.mode, name)?;
    }
    Ok(())
}

/// One mapping: a port (or a range) in 1..=65535, host port rules per mode.
fn check_mapping(p: &PortMapping, mode: Mode, name: &str) -> Result<(), EcsError> {
    if let Some(range) = &p.container_port_range {
        if matches!(mode, Mode::Host | Mode::None) {
            return Err(EcsError::client(msg::not_with_network_mode(
                "containerPortRange",
                mode.name(),
            )));
        }
        if p.container_port.is_some() || p.host_port.is_some() || parse_range(range).is_none() {
            return Err(EcsError::client(msg::invalid_setting("containerPortRange", name)));
        }
        return Ok(());
    }
    let Some(container_port) = p.container_port.filter(|v| (1..=65_535).contains(v)) else {
        return Err(EcsError::client(msg::invalid_setting("containerPort", name)));
    };
    if let Some(host_port) = p.host_port {
        if !(0..=65_535).contains(&host_port) {
            return Err(EcsError::client(msg::invalid_setting("hostPort", name)));
        }
        if matches!(mode, Mode::Awsvpc | Mode::Host) && host_port != container_port {
            return Err(EcsError::client(msg::ports_must_match(mode.name())));
        }
    }
    Ok(())
}

/// `"8000-8010"` as (first, last), both in 1..=65535, first < last.
pub(crate) fn parse_range(s: &str) -> Option<(i32, i32)> {
    let (a, b) = s.split_once('-')?;
    let (a, b): (i32, i32) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
    ((1..=65_535).contains(&a) && (1..=65_535).contains(&b) && a < b).then_some((a, b))
}

/// Fields a network mode does not support.
fn check_mode_fields(c: &ContainerDefinition, mode: Mode) -> Result<(), EcsError> {
    if mode != Mode::Awsvpc {
        return Ok(());
    }
    let set = |v: Option<&Vec<String>>| v.is_some_and(|v| !v.is_empty());
    let fields = [
        ("hostname", c.hostname.as_deref().is_some_and(|h| !h.is_empty())),
        ("links", set(c.links.as_ref())),
        ("dnsServers", set(c.dns_servers.as_ref())),
        ("dnsSearchDomains", set(c.dns_search_domains.as_ref())),
        ("extraHosts", c.extra_hosts.as_ref().is_some_and(|v| !v.is_empty())),
    ];
    match fields.iter().find(|(_, present)| *present) {
        Some((field, _)) => Err(EcsError::client(msg::not_with_network_mode(field, "awsvpc"))),
        None => Ok(()),
    }
}

/// The host port a mapping takes on the task's host or ENI, if fixed.
pub(crate) fn host_port(p: &PortMapping, mode: Mode) -> Option<i32> {
    match mode {
        Mode::Awsvpc | Mode::Host => p.host_port.or(p.container_port),
        Mode::Bridge => p.host_port.filter(|h| *h > 0),
        Mode::None => None,
    }
}

/// No (protocol, host port) twice in the task.
pub(crate) fn check_host_ports(task: &Task) -> Result<(), EcsError> {
    let mut seen = HashSet::new();
    for p in task.containers.iter().flat_map(|c| c.port_mappings.iter().flatten()) {
        if p.container_port_range.is_some() {
            continue;
        }
        let Some(port) = host_port(p, task.mode) else { continue };
        let protocol = p.protocol.as_ref().map_or("tcp", TransportProtocol::as_str);
        if !seen.insert((protocol.to_owned(), port)) {
            return Err(EcsError::client(msg::host_port_twice(protocol, port)));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::super::testutil::{accepted, add, ec2, refused, with};
    use super::parse_range;

    fn ports(mode: &str, mappings: Value) -> Value {
        with(ec2(), |v| {
            v["networkMode"] = json!(mode);
            v["containerDefinitions"][0]["portMappings"] = mappings;
        })
    }

    #[test]
    fn awsvpc_and_host_need_matching_ports() {
        refused(
            ports("awsvpc", json!([{"containerPort": 8080, "hostPort": 80}])),
            "When networkMode=awsvpc, the host ports and container ports in port mappings must match.",
        );
        refused(
            ports("host", json!([{"containerPort": 8080, "hostPort": 0}])),
            "When networkMode=host, the host ports and container ports in port mappings must match.",
        );
        accepted(ports("awsvpc", json!([{"containerPort": 8080}])));
        accepted(ports("host", json!([{"containerPort": 8080, "hostPort": 8080}])));
        accepted(ports(
            "bridge",
            json!([{"containerPort": 8080, "hostPort": 80}, {"containerPort": 9000}]),
        ));
    }

    #[test]
    fn port_numbers() {
        for bad in [json!({}), json!({"containerPort": 0}), json!({"containerPort": 65_536})] {
            refused(
                ports("bridge", json!([bad])),
                "Invalid 'containerPort' setting for container 'app'.",
            );
        }
        refused(
            ports("bridge", json!([{"containerPort": 80, "hostPort": -1}])),
            "Invalid 'hostPort' setting for container 'app'.",
        );
        refused(
            ports("none", json!([{"containerPort": 80}])),
            "portMappings is not supported on container when networkMode=none.",
        );
        accepted(ports("none", json!([])));
    }

    #[test]
    fn a_host_port_once_per_task() {
        refused(
            ports(
                "bridge",
                json!([{"containerPort": 80, "hostPort": 3000}, {"containerPort": 81, "hostPort": 3000}]),
            ),
            "TCP host port '3000' is mapped multiple times in task.",
        );
        refused(
            with(ports("awsvpc", json!([{"containerPort": 53, "protocol": "udp"}])), |v| {
                add(
                    v,
                    json!({"name": "b", "image": "x", "memory": 8, "portMappings": [{"containerPort": 53, "protocol": "udp"}]}),
                );
            }),
            "UDP host port '53' is mapped multiple times in task.",
        );
        accepted(ports(
            "awsvpc",
            json!([{"containerPort": 53, "protocol": "tcp"}, {"containerPort": 53, "protocol": "udp"}]),
        ));
        accepted(ports(
            "bridge",
            json!([{"containerPort": 80, "hostPort": 0}, {"containerPort": 81, "hostPort": 0}]),
        ));
    }

    #[test]
    fn port_ranges() {
        assert_eq!(parse_range("8000-8010"), Some((8000, 8010)));
        assert_eq!(parse_range("8010-8000"), None);
        assert_eq!(parse_range("0-10"), None);
        assert_eq!(parse_range("80"), None);
        accepted(ports("awsvpc", json!([{"containerPortRange": "8000-8010"}])));
        refused(
            ports("awsvpc", json!([{"containerPortRange": "8000-8010", "hostPort": 8000}])),
            "Invalid 'containerPortRange' setting for container 'app'.",
        );
        refused(
            ports("host", json!([{"containerPortRange": "8000-8010"}])),
            "containerPortRange is not supported on container when networkMode=host.",
        );
    }

    #[test]
    fn awsvpc_rules_out_host_level_fields() {
        let awsvpc = |field: &str, value: Value| {
            with(ec2(), |v| {
                v["networkMode"] = json!("awsvpc");
                v["containerDefinitions"][0][field] = value;
            })
        };
        refused(
            awsvpc("hostname", json!("web")),
            "hostname is not supported on container when networkMode=awsvpc.",
        );
        refused(
            awsvpc("dnsServers", json!(["1.1.1.1"])),
            "dnsServers is not supported on container when networkMode=awsvpc.",
        );
        refused(
            awsvpc("dnsSearchDomains", json!(["corp"])),
            "dnsSearchDomains is not supported on container when networkMode=awsvpc.",
        );
        refused(
            awsvpc("extraHosts", json!([{"hostname": "a", "ipAddress": "1.2.3.4"}])),
            "extraHosts is not supported on container when networkMode=awsvpc.",
        );
        refused(
            awsvpc("links", json!(["app"])),
            "links is not supported on container when networkMode=awsvpc.",
        );
        accepted(awsvpc("dnsServers", json!([])));
        accepted(awsvpc("hostname", json!(null)));
    }
}
