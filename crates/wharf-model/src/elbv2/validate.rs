//! The checks and defaults ELBv2 applies to load balancers, target groups,
//! listeners, targets, tags and paging, as pure functions of the request.

use std::net::IpAddr;

use super::shapes::{
    Matcher, ProtocolEnum, Tag, TargetDescription, TargetGroup, TargetGroupIpAddressTypeEnum,
    TargetTypeEnum,
};
use super::{ElbError, ElbErrorKind, MAX_NAME_LEN, MAX_PAGE_SIZE, MAX_TAGS};

/// Checks a load balancer or target group name: at most 32 alphanumerics
/// and hyphens, no hyphen first or last (and for a load balancer, not
/// starting `internal-`). `what` is "Load balancer" or "Target group".
pub fn name(what: &str, name: &str) -> Result<(), ElbError> {
    if name.is_empty() {
        return Err(ElbError::validation(format!("{what} name cannot be empty")));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(ElbError::validation(format!(
            "{what} name cannot be longer than '{MAX_NAME_LEN}' characters"
        )));
    }
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(ElbError::validation(format!(
            "{what} name '{name}' can only contain characters that are alphanumeric characters \
             or hyphens(-)"
        )));
    }
    if name.starts_with('-') || name.ends_with('-') {
        return Err(ElbError::validation(format!(
            "{what} name '{name}' cannot begin or end with '-'"
        )));
    }
    if what == "Load balancer" && name.starts_with("internal-") {
        return Err(ElbError::validation(format!(
            "Load balancer name '{name}' cannot begin with 'internal-'"
        )));
    }
    Ok(())
}

/// Checks a port member (1–65535).
pub fn port(member: &str, port: i32) -> Result<(), ElbError> {
    if (1..=65535).contains(&port) {
        Ok(())
    } else {
        Err(ElbError::validation(format!(
            "1 validation error detected: Value '{port}' at '{member}' failed to satisfy \
             constraint: Member must have value less than or equal to 65535 and greater than or \
             equal to 1"
        )))
    }
}

fn range(member: &str, value: i32, lo: i32, hi: i32) -> Result<(), ElbError> {
    if (lo..=hi).contains(&value) {
        Ok(())
    } else {
        Err(ElbError::validation(format!(
            "1 validation error detected: Value '{value}' at '{member}' failed to satisfy \
             constraint: Member must have value less than or equal to {hi} and greater than or \
             equal to {lo}"
        )))
    }
}

/// The protocols an Application Load Balancer speaks.
fn http(p: &ProtocolEnum) -> bool {
    matches!(p, ProtocolEnum::Http | ProtocolEnum::Https)
}

/// Checks a listener's protocol: HTTP or HTTPS (HTTPS with a certificate).
pub fn listener_protocol(p: &ProtocolEnum, has_certificate: bool) -> Result<(), ElbError> {
    if !p.is_known() {
        return Err(ElbError::validation(format!(
            "1 validation error detected: Value '{p}' at 'protocol' failed to satisfy constraint: \
             Member must satisfy enum value set: [{}]",
            ProtocolEnum::VALUES.join(", ")
        )));
    }
    if !http(p) {
        return Err(ElbError::new(
            ElbErrorKind::UnsupportedProtocol,
            format!("Protocol '{p}' is not supported by load balancers of type 'application'"),
        ));
    }
    if *p == ProtocolEnum::Https && !has_certificate {
        return Err(ElbError::validation("A certificate must be specified for HTTPS listeners"));
    }
    Ok(())
}

/// Builds a new `instance` or `ip` target group from CreateTargetGroup's
/// settings, with ELBv2's defaults for what the request leaves out, and
/// checks it. `arn` and `name` are set by the caller.
pub fn new_target_group(mut tg: TargetGroup) -> Result<TargetGroup, ElbError> {
    let target_type = tg.target_type.clone().unwrap_or(TargetTypeEnum::Instance);
    match &target_type {
        TargetTypeEnum::Instance | TargetTypeEnum::Ip => {}
        TargetTypeEnum::Lambda | TargetTypeEnum::Alb => {
            return Err(ElbError::validation(format!(
                "Wharf serves target groups of target type 'instance' and 'ip', not \
                 '{target_type}'"
            )))
        }
        TargetTypeEnum::Unlisted(t) => {
            return Err(ElbError::validation(format!(
                "1 validation error detected: Value '{t}' at 'targetType' failed to satisfy \
                 constraint: Member must satisfy enum value set: [{}]",
                TargetTypeEnum::VALUES.join(", ")
            )))
        }
    }
    let protocol = tg.protocol.clone().ok_or_else(|| {
        ElbError::validation("A protocol must be specified for target groups of this target type")
    })?;
    if !http(&protocol) {
        return Err(ElbError::new(
            ElbErrorKind::UnsupportedProtocol,
            format!(
                "Wharf serves Application Load Balancers: target group protocol '{protocol}' is \
                 not supported, only HTTP and HTTPS"
            ),
        ));
    }
    let port_value = tg.port.ok_or_else(|| {
        ElbError::validation("A port must be specified for target groups of this target type")
    })?;
    port("port", port_value)?;
    let version = tg.protocol_version.clone().unwrap_or_else(|| "HTTP1".to_owned());
    if !matches!(version.as_str(), "HTTP1" | "HTTP2" | "GRPC") {
        return Err(ElbError::validation(format!(
            "Protocol version '{version}' is not valid; it must be one of 'HTTP1', 'HTTP2', 'GRPC'"
        )));
    }
    let grpc = version == "GRPC";
    tg.ip_address_type.get_or_insert(TargetGroupIpAddressTypeEnum::Ipv4);
    if let Some(t) = tg.ip_address_type.as_ref().filter(|t| !t.is_known()) {
        return Err(ElbError::validation(format!(
            "1 validation error detected: Value '{t}' at 'ipAddressType' failed to satisfy \
             constraint: Member must satisfy enum value set: [ipv4, ipv6]"
        )));
    }
    tg.health_check_protocol.get_or_insert(protocol.clone());
    tg.health_check_port.get_or_insert_with(|| "traffic-port".to_owned());
    tg.health_check_enabled.get_or_insert(true);
    tg.health_check_interval_seconds.get_or_insert(30);
    tg.health_check_timeout_seconds.get_or_insert(5);
    tg.healthy_threshold_count.get_or_insert(5);
    tg.unhealthy_threshold_count.get_or_insert(2);
    tg.health_check_path
        .get_or_insert_with(|| if grpc { "/AWS.ALB/healthcheck" } else { "/" }.to_owned());
    let matcher = tg.matcher.get_or_insert_with(Matcher::default);
    if matcher.http_code.is_none() && matcher.grpc_code.is_none() {
        if grpc {
            matcher.grpc_code = Some("12".to_owned());
        } else {
            matcher.http_code = Some("200".to_owned());
        }
    }
    tg.target_type = Some(target_type);
    tg.protocol_version = Some(version);
    tg.vpc_id.get_or_insert_with(|| super::DEFAULT_VPC_ID.to_owned());
    health_check(&tg)?;
    Ok(tg)
}

/// Checks a target group's health check settings as a whole (after
/// CreateTargetGroup's defaults or ModifyTargetGroup's changes).
pub fn health_check(tg: &TargetGroup) -> Result<(), ElbError> {
    if let Some(p) = &tg.health_check_protocol {
        if !http(p) {
            return Err(ElbError::validation(format!(
                "Health check protocol '{p}' is not supported for target groups with the '{}' \
                 protocol",
                tg.protocol.as_ref().map(ProtocolEnum::as_str).unwrap_or("HTTP")
            )));
        }
    }
    if let Some(p) = tg.health_check_port.as_deref() {
        if p != "traffic-port" && !p.parse::<i32>().is_ok_and(|n| (1..=65535).contains(&n)) {
            return Err(ElbError::validation(format!(
                "Health check port '{p}' must be 'traffic-port' or a port between 1 and 65535"
            )));
        }
    }
    let interval = tg.health_check_interval_seconds.unwrap_or(30);
    let timeout = tg.health_check_timeout_seconds.unwrap_or(5);
    range("healthCheckIntervalSeconds", interval, 5, 300)?;
    range("healthCheckTimeoutSeconds", timeout, 2, 120)?;
    range("healthyThresholdCount", tg.healthy_threshold_count.unwrap_or(5), 2, 10)?;
    range("unhealthyThresholdCount", tg.unhealthy_threshold_count.unwrap_or(2), 2, 10)?;
    if timeout >= interval {
        return Err(ElbError::config("Health check interval must be greater than the timeout."));
    }
    if let Some(path) = tg.health_check_path.as_deref() {
        if !path.starts_with('/') || path.len() > 1024 {
            return Err(ElbError::validation(format!(
                "Health check path '{path}' must begin with '/' and be at most 1024 characters"
            )));
        }
    }
    if let Some(code) = tg.matcher.as_ref().and_then(|m| m.http_code.as_deref()) {
        http_codes(code)?;
    }
    Ok(())
}

/// Checks a matcher's `HttpCode`: `200`, `200,202` or `200-299`, codes 200–499.
fn http_codes(spec: &str) -> Result<(), ElbError> {
    let code = |s: &str| s.parse::<u16>().ok().filter(|c| (200..=499).contains(c));
    let ok = !spec.is_empty()
        && spec.split(',').all(|part| match part.split_once('-') {
            Some((a, b)) => matches!((code(a), code(b)), (Some(a), Some(b)) if a <= b),
            None => code(part).is_some(),
        });
    if ok {
        Ok(())
    } else {
        Err(ElbError::validation(format!(
            "Health check matcher HTTP code '{spec}' must be a value between 200 and 499, a list \
             such as '200,202', or a range such as '200-299'"
        )))
    }
}

/// Checks a target for RegisterTargets and fills its port from the group's.
pub fn target(tg: &TargetGroup, t: &TargetDescription) -> Result<TargetDescription, ElbError> {
    let id = t.id.as_deref().ok_or_else(|| ElbError::missing("targets.member.id"))?;
    let target_port = t.port.or(tg.port).ok_or_else(|| {
        ElbError::validation(format!("A port must be specified for target '{id}'"))
    })?;
    port("targets.member.port", target_port)?;
    match tg.target_type.as_ref().unwrap_or(&TargetTypeEnum::Instance) {
        TargetTypeEnum::Ip => {
            let ipv6 = tg.ip_address_type == Some(TargetGroupIpAddressTypeEnum::Ipv6);
            match id.parse::<IpAddr>() {
                Ok(IpAddr::V4(_)) if !ipv6 => {}
                Ok(IpAddr::V6(_)) if ipv6 => {}
                _ => {
                    return Err(ElbError::new(
                        ElbErrorKind::InvalidTarget,
                        format!(
                            "The IP address '{id}' is not a valid {} address",
                            if ipv6 { "IPv6" } else { "IPv4" }
                        ),
                    ))
                }
            }
        }
        _ => {
            let hex = id.strip_prefix("i-").filter(|h| {
                !h.is_empty() && h.len() <= 17 && h.chars().all(|c| c.is_ascii_alphanumeric())
            });
            if hex.is_none() {
                return Err(ElbError::new(
                    ElbErrorKind::InvalidTarget,
                    format!("The following targets are not valid instances: '{id}'"),
                ));
            }
        }
    }
    Ok(TargetDescription {
        id: Some(id.to_owned()),
        port: Some(target_port),
        availability_zone: t.availability_zone.clone(),
        quic_server_id: None,
    })
}

/// Checks tags for a create call or AddTags: keys present, unique, not
/// `aws:`-prefixed, within length; returns them as (key, value).
pub fn tags(tags: &[Tag]) -> Result<Vec<(String, String)>, ElbError> {
    if tags.len() > MAX_TAGS {
        return Err(ElbError::new(
            ElbErrorKind::TooManyTags,
            format!("A resource can have at most {MAX_TAGS} tags"),
        ));
    }
    let mut out: Vec<(String, String)> = Vec::with_capacity(tags.len());
    for t in tags {
        let key = t.key.as_deref().ok_or_else(|| ElbError::missing("tags.member.key"))?;
        if key.is_empty() || key.len() > 128 {
            return Err(ElbError::validation(format!(
                "Tag key '{key}' must be between 1 and 128 characters long"
            )));
        }
        if key.starts_with("aws:") {
            return Err(ElbError::validation(format!(
                "Tag key '{key}' cannot start with the reserved prefix 'aws:'"
            )));
        }
        let value = t.value.clone().unwrap_or_default();
        if value.len() > 256 {
            return Err(ElbError::validation(format!(
                "The value of tag '{key}' cannot be longer than 256 characters"
            )));
        }
        if out.iter().any(|(k, _)| k == key) {
            return Err(ElbError::new(
                ElbErrorKind::DuplicateTagKeys,
                format!("Tag key '{key}' is duplicated"),
            ));
        }
        out.push((key.to_owned(), value));
    }
    Ok(out)
}

/// A Describe call's `PageSize` (1–400); `None` means all.
pub fn page_size(size: Option<i32>) -> Result<usize, ElbError> {
    match size {
        None => Ok(MAX_PAGE_SIZE as usize),
        Some(n) => {
            range("pageSize", n, 1, MAX_PAGE_SIZE)?;
            Ok(n as usize)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_elbv2s_rules() {
        assert!(name("Target group", "web-80").is_ok());
        assert!(name("Target group", "web_80").unwrap_err().message.contains("'web_80'"));
        assert!(name("Target group", "-web").is_err());
        assert!(name("Load balancer", "internal-x").is_err());
        assert!(name("Load balancer", &"a".repeat(33)).is_err());
    }

    #[test]
    fn a_new_target_group_gets_alb_defaults() {
        let tg = new_target_group(TargetGroup {
            protocol: Some(ProtocolEnum::Http),
            port: Some(80),
            target_type: Some(TargetTypeEnum::Ip),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(tg.health_check_path.as_deref(), Some("/"));
        assert_eq!(tg.health_check_interval_seconds, Some(30));
        assert_eq!(tg.health_check_timeout_seconds, Some(5));
        assert_eq!(tg.healthy_threshold_count, Some(5));
        assert_eq!(tg.unhealthy_threshold_count, Some(2));
        assert_eq!(tg.matcher.and_then(|m| m.http_code).as_deref(), Some("200"));
        assert_eq!(tg.health_check_port.as_deref(), Some("traffic-port"));
        let tcp =
            TargetGroup { protocol: Some(ProtocolEnum::Tcp), port: Some(80), ..Default::default() };
        assert_eq!(new_target_group(tcp).unwrap_err().kind, ElbErrorKind::UnsupportedProtocol);
    }

    #[test]
    fn matcher_codes() {
        assert!(http_codes("200").is_ok());
        assert!(http_codes("200,202").is_ok());
        assert!(http_codes("200-299").is_ok());
        assert!(http_codes("600").is_err());
        assert!(http_codes("299-200").is_err());
    }
}
