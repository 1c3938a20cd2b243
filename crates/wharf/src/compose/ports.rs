//! `ports` → ECS `portMappings`, short syntax
//! (`[HOST_IP:][HOST:]CONTAINER[/PROTOCOL]`, ranges `8000-8001:8000-8001`,
//! `[::1]:80:80` for IPv6 host addresses) and long syntax alike. A port with
//! no host port gets a dynamic one, as Compose does (bridge mode: `hostPort`
//! left out). Ranges are expanded into one mapping per port.

use wharf_model::ecs::shapes::{ApplicationProtocol, PortMapping, TransportProtocol};

use super::spec::{Port, PortLong};
use super::ComposeError;

/// Most ports one `ports` entry may expand to.
const MAX_RANGE: u32 = 100;

/// The port mappings of `ports[i]` at `field` (`services.web.ports[1]`).
pub fn port_mappings(
    port: &Port,
    field: &str,
    warnings: &mut Vec<String>,
) -> Result<Vec<PortMapping>, ComposeError> {
    match port {
        Port::Number(n) => {
            let p = port_number(&n.to_string(), field, &n.to_string())?;
            Ok(vec![mapping(p, None, TransportProtocol::Tcp)])
        }
        Port::Short(text) => short(text, field, warnings),
        Port::Long(long) => long_syntax(long, field, warnings),
    }
}

fn short(
    text: &str,
    field: &str,
    warnings: &mut Vec<String>,
) -> Result<Vec<PortMapping>, ComposeError> {
    let not_a_port = || ComposeError::invalid(field, format!("\"{text}\" is not a port"));
    let (spec, protocol) = match text.rsplit_once('/') {
        Some((spec, protocol)) => (spec, protocol),
        None => (text, "tcp"),
    };
    let (ip, rest) = if let Some(bracketed) = spec.strip_prefix('[') {
        let (ip, rest) = bracketed.split_once("]:").ok_or_else(not_a_port)?;
        (Some(ip), rest)
    } else {
        (None, spec)
    };
    let parts: Vec<&str> = rest.split(':').collect();
    let (ip, host, container) = match (ip, parts.as_slice()) {
        (None, [c]) => (None, None, *c),
        (None, [h, c]) => (None, Some(*h), *c),
        (None, [ip, h, c]) => (Some(*ip), Some(*h), *c),
        (Some(ip), [h, c]) => (Some(ip), Some(*h), *c),
        _ => return Err(not_a_port()),
    };
    let protocol = transport(protocol, field, text, warnings)?;
    let Some(protocol) = protocol else { return Ok(Vec::new()) };
    host_ip(ip, field, warnings);
    expand(container, host.filter(|h| !h.is_empty()), protocol, field, text, warnings)
}

fn long_syntax(
    long: &PortLong,
    field: &str,
    warnings: &mut Vec<String>,
) -> Result<Vec<PortMapping>, ComposeError> {
    for key in long.other.keys() {
        warnings.push(format!("{field}.{key}: not carried over"));
    }
    let target = long.target.text();
    let published = long.published.as_ref().map(|p| p.text());
    let shown = format!("{target} (published {})", published.as_deref().unwrap_or("dynamically"));
    let Some(protocol) =
        transport(long.protocol.as_deref().unwrap_or("tcp"), field, &shown, warnings)?
    else {
        return Ok(Vec::new());
    };
    host_ip(long.host_ip.as_deref(), field, warnings);
    let mut out = expand(
        &target,
        published.as_deref().filter(|p| !p.is_empty()),
        protocol,
        field,
        &shown,
        warnings,
    )?;
    if let Some(name) = &long.name {
        if out.len() == 1 && valid_port_name(name) {
            out[0].name = Some(name.clone());
        } else {
            warnings.push(format!("{field}.name: \"{name}\" is not carried over (ECS port names are 1–64 lowercase letters, digits, - and _, one per port)"));
        }
    }
    if let Some(app) = &long.app_protocol {
        let protocol = ApplicationProtocol::from(app.to_ascii_lowercase().as_str());
        if matches!(protocol, ApplicationProtocol::Unlisted(_))
            || out.iter().any(|m| m.name.is_none())
        {
            warnings.push(format!("{field}.app_protocol: \"{app}\" is not carried over (ECS takes http, http2 or grpc, on a named port)"));
        } else {
            for m in &mut out {
                m.app_protocol = Some(protocol.clone());
            }
        }
    }
    Ok(out)
}

fn valid_port_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('-')
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

fn transport(
    protocol: &str,
    field: &str,
    text: &str,
    warnings: &mut Vec<String>,
) -> Result<Option<TransportProtocol>, ComposeError> {
    match protocol.to_ascii_lowercase().as_str() {
        "tcp" => Ok(Some(TransportProtocol::Tcp)),
        "udp" => Ok(Some(TransportProtocol::Udp)),
        "sctp" => {
            warnings.push(format!(
                "{field}: \"{text}\" is not carried over (ECS ports are tcp or udp)"
            ));
            Ok(None)
        }
        other => {
            Err(ComposeError::invalid(field, format!("\"{other}\" is not a protocol (tcp or udp)")))
        }
    }
}

fn host_ip(ip: Option<&str>, field: &str, warnings: &mut Vec<String>) {
    if let Some(ip) = ip.filter(|ip| !ip.is_empty() && *ip != "0.0.0.0" && *ip != "::") {
        warnings.push(format!(
            "{field}: host IP {ip} is not carried over (ECS publishes on every interface)"
        ));
    }
}

/// Mappings for a container port (or range) and an optional host port (or range).
fn expand(
    container: &str,
    host: Option<&str>,
    protocol: TransportProtocol,
    field: &str,
    text: &str,
    warnings: &mut Vec<String>,
) -> Result<Vec<PortMapping>, ComposeError> {
    let (c_lo, c_hi) = range(container, field, text)?;
    let host = host.map(|h| range(h, field, text)).transpose()?;
    let count = c_hi - c_lo + 1;
    if count > MAX_RANGE {
        return Err(ComposeError::invalid(
            field,
            format!("\"{text}\" is a range of {count} ports; at most {MAX_RANGE} are converted"),
        ));
    }
    let host_ports: Vec<Option<u16>> = match host {
        None => vec![None; count as usize],
        Some((h_lo, h_hi)) if h_hi - h_lo + 1 == count => {
            (h_lo..=h_hi).map(|h| u16::try_from(h).ok()).collect()
        }
        Some((h_lo, h_hi)) if count == 1 => {
            warnings.push(format!("{field}: host port range {h_lo}-{h_hi} is not carried over (ECS takes one host port); a dynamic host port is used"));
            vec![None]
        }
        Some(_) => {
            return Err(ComposeError::invalid(
                field,
                format!("\"{text}\": the host and container ranges differ in size"),
            ))
        }
    };
    Ok((c_lo..=c_hi)
        .zip(host_ports)
        .filter_map(|(c, h)| u16::try_from(c).ok().map(|c| mapping(c, h, protocol.clone())))
        .collect())
}

fn range(text: &str, field: &str, whole: &str) -> Result<(u32, u32), ComposeError> {
    match text.split_once('-') {
        Some((lo, hi)) => {
            let (lo, hi) = (port_number(lo, field, whole)?, port_number(hi, field, whole)?);
            if lo > hi {
                return Err(ComposeError::invalid(
                    field,
                    format!("\"{whole}\": the range {lo}-{hi} is reversed"),
                ));
            }
            Ok((u32::from(lo), u32::from(hi)))
        }
        None => {
            let p = port_number(text, field, whole)?;
            Ok((u32::from(p), u32::from(p)))
        }
    }
}

fn port_number(text: &str, field: &str, whole: &str) -> Result<u16, ComposeError> {
    text.trim()
        .parse::<u16>()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| ComposeError::invalid(field, format!("\"{whole}\" is not a port")))
}

fn mapping(container: u16, host: Option<u16>, protocol: TransportProtocol) -> PortMapping {
    PortMapping {
        container_port: Some(i32::from(container)),
        host_port: host.map(i32::from),
        protocol: Some(protocol),
        ..PortMapping::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (container port, host port, protocol) of each mapping, or the error.
    type Mapped = Result<Vec<(i32, Option<i32>, String)>, String>;

    fn ports(yaml: &str) -> (Mapped, Vec<String>) {
        let port: Port = serde_yaml_ng::from_str(yaml).expect("yaml");
        let mut w = Vec::new();
        let out = port_mappings(&port, "services.web.ports[1]", &mut w)
            .map(|ms| {
                ms.into_iter()
                    .map(|m| {
                        let proto = serde_json::to_value(m.protocol).expect("json");
                        (
                            m.container_port.unwrap_or(0),
                            m.host_port,
                            proto.as_str().unwrap_or("").to_owned(),
                        )
                    })
                    .collect()
            })
            .map_err(|e| e.to_string());
        (out, w)
    }

    #[test]
    fn short_syntax() {
        assert_eq!(ports("\"8080:80\"").0, Ok(vec![(80, Some(8080), "tcp".into())]));
        assert_eq!(ports("\"80\"").0, Ok(vec![(80, None, "tcp".into())]));
        assert_eq!(ports("80").0, Ok(vec![(80, None, "tcp".into())]));
        assert_eq!(
            ports("3000:3000").0,
            Ok(vec![(3000, Some(3000), "tcp".into())]),
            "YAML reads 3000:3000 as a string"
        );
        assert_eq!(ports("\"5000:5000/udp\"").0, Ok(vec![(5000, Some(5000), "udp".into())]));
        assert_eq!(
            ports("\"8000-8001:9000-9001\"").0,
            Ok(vec![(9000, Some(8000), "tcp".into()), (9001, Some(8001), "tcp".into())])
        );
        assert_eq!(
            ports("\"7000-7001\"").0,
            Ok(vec![(7000, None, "tcp".into()), (7001, None, "tcp".into())])
        );
        assert_eq!(ports("\"127.0.0.1::5000\"").0, Ok(vec![(5000, None, "tcp".into())]));
        assert_eq!(ports("\":2283:2283\"").0, Ok(vec![(2283, Some(2283), "tcp".into())]));
        let (out, w) = ports("\"127.0.0.1:8080:80/udp\"");
        assert_eq!(out, Ok(vec![(80, Some(8080), "udp".into())]));
        assert_eq!(w, ["services.web.ports[1]: host IP 127.0.0.1 is not carried over (ECS publishes on every interface)"]);
        let (out, w) = ports("\"[::1]:6001:6001\"");
        assert_eq!(out, Ok(vec![(6001, Some(6001), "tcp".into())]));
        assert_eq!(w.len(), 1);
        let (out, w) = ports("\"9000-9010:80\"");
        assert_eq!(out, Ok(vec![(80, None, "tcp".into())]));
        assert!(w[0].contains("host port range 9000-9010"), "{w:?}");
    }

    #[test]
    fn long_syntax_carries_names() {
        let port: Port = serde_yaml_ng::from_str("{target: 80, published: \"8080\", protocol: tcp, mode: host, name: web, app_protocol: http}").expect("yaml");
        let mut w = Vec::new();
        let m = port_mappings(&port, "f", &mut w).expect("ok");
        assert_eq!(
            serde_json::to_value(&m).expect("json"),
            serde_json::json!([{"containerPort": 80, "hostPort": 8080, "protocol": "tcp", "name": "web", "appProtocol": "http"}])
        );
        assert!(w.is_empty(), "{w:?}");
        let (out, _) = ports("{target: 53, protocol: udp}");
        assert_eq!(out, Ok(vec![(53, None, "udp".into())]));
        let (_, w) = ports("{target: 80, app_protocol: http, x-extra: 1}");
        assert_eq!(w.len(), 2, "{w:?}");
    }

    #[test]
    fn bad_ports_name_the_field() {
        assert_eq!(
            ports("\"80:abc\"").0,
            Err("services.web.ports[1]: \"80:abc\" is not a port".into())
        );
        assert_eq!(
            ports("\"70000\"").0,
            Err("services.web.ports[1]: \"70000\" is not a port".into())
        );
        assert_eq!(
            ports("\"1:2:3:4\"").0,
            Err("services.web.ports[1]: \"1:2:3:4\" is not a port".into())
        );
        assert_eq!(
            ports("\"80/icmp\"").0,
            Err("services.web.ports[1]: \"icmp\" is not a protocol (tcp or udp)".into())
        );
        assert_eq!(ports("\"8000-8002:80-81\"").0, Err("services.web.ports[1]: \"8000-8002:80-81\": the host and container ranges differ in size".into()));
        assert!(ports("\"1-1000\"").0.unwrap_err().contains("range of 1000 ports"));
        let (out, w) = ports("\"80/sctp\"");
        assert_eq!(out, Ok(vec![]));
        assert_eq!(w.len(), 1);
    }
}
