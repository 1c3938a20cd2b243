//! Load balancer and target group attributes: every key an Application Load
//! Balancer (and its `instance`/`ip` target groups) has, its default, and the
//! values ELBv2 accepts, as tables.

use super::shapes::{LoadBalancerAttribute, TargetGroupAttribute};
use super::ElbError;

/// `deregistration_delay.timeout_seconds`: how long a deregistered target drains.
pub const DEREGISTRATION_DELAY: &str = "deregistration_delay.timeout_seconds";
/// `deletion_protection.enabled`: DeleteLoadBalancer is refused while `true`.
pub const DELETION_PROTECTION: &str = "deletion_protection.enabled";

/// What values an attribute accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepts {
    /// `true` or `false`.
    Bool,
    /// An integer in the range.
    Int(i64, i64),
    /// `0`, or an integer in the range (slow start: 0 or 30–900).
    ZeroOr(i64, i64),
    /// One of these words.
    OneOf(&'static [&'static str]),
    /// Any text (bucket names, prefixes, cookie names).
    Text,
}

/// One attribute: key, default value, accepted values.
pub type AttributeSpec = (&'static str, &'static str, Accepts);

/// An Application Load Balancer's attributes as DescribeLoadBalancerAttributes
/// lists them for a new one.
pub const LOAD_BALANCER: &[AttributeSpec] = &[
    ("access_logs.s3.enabled", "false", Accepts::Bool),
    ("access_logs.s3.bucket", "", Accepts::Text),
    ("access_logs.s3.prefix", "", Accepts::Text),
    ("client_keep_alive.seconds", "3600", Accepts::Int(60, 604_800)),
    ("connection_logs.s3.enabled", "false", Accepts::Bool),
    ("connection_logs.s3.bucket", "", Accepts::Text),
    ("connection_logs.s3.prefix", "", Accepts::Text),
    ("deletion_protection.enabled", "false", Accepts::Bool),
    ("idle_timeout.timeout_seconds", "60", Accepts::Int(1, 4000)),
    ("load_balancing.cross_zone.enabled", "true", Accepts::Bool),
    (
        "routing.http.desync_mitigation_mode",
        "defensive",
        Accepts::OneOf(&["monitor", "defensive", "strictest"]),
    ),
    ("routing.http.drop_invalid_header_fields.enabled", "false", Accepts::Bool),
    ("routing.http.preserve_host_header.enabled", "false", Accepts::Bool),
    ("routing.http.x_amzn_tls_version_and_cipher_suite.enabled", "false", Accepts::Bool),
    ("routing.http.xff_client_port.enabled", "false", Accepts::Bool),
    (
        "routing.http.xff_header_processing.mode",
        "append",
        Accepts::OneOf(&["append", "preserve", "remove"]),
    ),
    ("routing.http2.enabled", "true", Accepts::Bool),
    ("waf.fail_open.enabled", "false", Accepts::Bool),
    ("zonal_shift.config.enabled", "false", Accepts::Bool),
];

/// An `instance` or `ip` target group's attributes as
/// DescribeTargetGroupAttributes lists them for a new one.
pub const TARGET_GROUP: &[AttributeSpec] = &[
    (DEREGISTRATION_DELAY, "300", Accepts::Int(0, 3600)),
    ("load_balancing.algorithm.anomaly_mitigation", "off", Accepts::OneOf(&["on", "off"])),
    (
        "load_balancing.algorithm.type",
        "round_robin",
        Accepts::OneOf(&["round_robin", "least_outstanding_requests", "weighted_random"]),
    ),
    (
        "load_balancing.cross_zone.enabled",
        "use_load_balancer_configuration",
        Accepts::OneOf(&["true", "false", "use_load_balancer_configuration"]),
    ),
    ("slow_start.duration_seconds", "0", Accepts::ZeroOr(30, 900)),
    ("stickiness.app_cookie.cookie_name", "", Accepts::Text),
    ("stickiness.app_cookie.duration_seconds", "86400", Accepts::Int(1, 604_800)),
    ("stickiness.enabled", "false", Accepts::Bool),
    ("stickiness.lb_cookie.duration_seconds", "86400", Accepts::Int(1, 604_800)),
    ("stickiness.type", "lb_cookie", Accepts::OneOf(&["lb_cookie", "app_cookie"])),
    ("target_group_health.dns_failover.minimum_healthy_targets.count", "1", Accepts::Text),
    ("target_group_health.dns_failover.minimum_healthy_targets.percentage", "off", Accepts::Text),
    (
        "target_group_health.unhealthy_state_routing.minimum_healthy_targets.count",
        "1",
        Accepts::Text,
    ),
    (
        "target_group_health.unhealthy_state_routing.minimum_healthy_targets.percentage",
        "off",
        Accepts::Text,
    ),
];

/// The defaults of a table as (key, value) pairs, in table order.
pub fn defaults(table: &[AttributeSpec]) -> Vec<(String, String)> {
    table.iter().map(|(k, v, _)| ((*k).to_owned(), (*v).to_owned())).collect()
}

/// Checks one (key, value) against a table; `what` names the resource in
/// messages ("Load balancer" or "Target group").
fn check(table: &[AttributeSpec], what: &str, key: &str, value: &str) -> Result<(), ElbError> {
    let Some((_, _, accepts)) = table.iter().find(|(k, _, _)| *k == key) else {
        return Err(ElbError::validation(format!(
            "{what} attribute key '{key}' is not recognized"
        )));
    };
    let bad =
        || ElbError::config(format!("{what} attribute '{key}' cannot have the value '{value}'"));
    match *accepts {
        Accepts::Bool if value == "true" || value == "false" => Ok(()),
        Accepts::Bool => Err(bad()),
        Accepts::Int(lo, hi) => match value.parse::<i64>() {
            Ok(n) if (lo..=hi).contains(&n) => Ok(()),
            _ => Err(ElbError::config(format!(
                "{what} attribute '{key}' must be an integer between {lo} and {hi}, not '{value}'"
            ))),
        },
        Accepts::ZeroOr(lo, hi) => match value.parse::<i64>() {
            Ok(n) if n == 0 || (lo..=hi).contains(&n) => Ok(()),
            _ => Err(ElbError::config(format!(
                "{what} attribute '{key}' must be 0 or an integer between {lo} and {hi}, not \
                 '{value}'"
            ))),
        },
        Accepts::OneOf(words) if words.contains(&value) => Ok(()),
        Accepts::OneOf(words) => Err(ElbError::config(format!(
            "{what} attribute '{key}' must be one of '{}', not '{value}'",
            words.join(", ")
        ))),
        Accepts::Text => Ok(()),
    }
}

/// Applies changes to a stored attribute list after checking every one;
/// nothing changes if one is refused.
fn apply(
    table: &[AttributeSpec],
    what: &str,
    current: &mut Vec<(String, String)>,
    changes: &[(Option<String>, Option<String>)],
) -> Result<(), ElbError> {
    if changes.is_empty() {
        return Err(ElbError::missing("attributes"));
    }
    let mut next = current.clone();
    for (key, value) in changes {
        let key = key.as_deref().ok_or_else(|| ElbError::missing("attributes.member.key"))?;
        let value = value.as_deref().unwrap_or("");
        check(table, what, key, value)?;
        match next.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value.to_owned(),
            None => next.push((key.to_owned(), value.to_owned())),
        }
    }
    *current = next;
    Ok(())
}

/// Applies ModifyLoadBalancerAttributes' changes.
pub fn modify_load_balancer(
    current: &mut Vec<LoadBalancerAttribute>,
    changes: &[LoadBalancerAttribute],
) -> Result<(), ElbError> {
    let mut pairs = to_pairs(current.iter().map(|a| (&a.key, &a.value)));
    let changes: Vec<_> = changes.iter().map(|a| (a.key.clone(), a.value.clone())).collect();
    apply(LOAD_BALANCER, "Load balancer", &mut pairs, &changes)?;
    *current = pairs
        .into_iter()
        .map(|(k, v)| LoadBalancerAttribute { key: Some(k), value: Some(v) })
        .collect();
    Ok(())
}

/// Applies ModifyTargetGroupAttributes' changes.
pub fn modify_target_group(
    current: &mut Vec<TargetGroupAttribute>,
    changes: &[TargetGroupAttribute],
) -> Result<(), ElbError> {
    let mut pairs = to_pairs(current.iter().map(|a| (&a.key, &a.value)));
    let changes: Vec<_> = changes.iter().map(|a| (a.key.clone(), a.value.clone())).collect();
    apply(TARGET_GROUP, "Target group", &mut pairs, &changes)?;
    *current = pairs
        .into_iter()
        .map(|(k, v)| TargetGroupAttribute { key: Some(k), value: Some(v) })
        .collect();
    Ok(())
}

fn to_pairs<'a>(
    it: impl Iterator<Item = (&'a Option<String>, &'a Option<String>)>,
) -> Vec<(String, String)> {
    it.map(|(k, v)| (k.clone().unwrap_or_default(), v.clone().unwrap_or_default())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tg(key: &str, value: &str) -> TargetGroupAttribute {
        TargetGroupAttribute { key: Some(key.into()), value: Some(value.into()) }
    }

    #[test]
    fn defaults_then_a_change_and_a_refusal_that_changes_nothing() {
        let mut attrs: Vec<TargetGroupAttribute> = defaults(TARGET_GROUP)
            .into_iter()
            .map(|(k, v)| TargetGroupAttribute { key: Some(k), value: Some(v) })
            .collect();
        modify_target_group(&mut attrs, &[tg(DEREGISTRATION_DELAY, "5")]).unwrap();
        let delay = attrs.iter().find(|a| a.key.as_deref() == Some(DEREGISTRATION_DELAY));
        assert_eq!(delay.and_then(|a| a.value.as_deref()), Some("5"));
        let before = attrs.clone();
        let e = modify_target_group(
            &mut attrs,
            &[tg(DEREGISTRATION_DELAY, "7"), tg("stickiness.type", "source_ip")],
        )
        .unwrap_err();
        assert_eq!(e.kind, super::super::ElbErrorKind::InvalidConfigurationRequest);
        assert_eq!(attrs, before);
        let e = modify_target_group(&mut attrs, &[tg("nope", "1")]).unwrap_err();
        assert!(e.message.contains("'nope'"), "{e}");
    }
}
