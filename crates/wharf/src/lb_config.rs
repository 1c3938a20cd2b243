//! Stored ELBv2 records as the data plane's input: every load balancer's listeners
//! and rules, and every target group forwarded to, with their registered targets,
//! read on one snapshot of a region's ELBv2 state. Pure but for the reads.
//!
//! Targets of type `ip` are reached at their address; targets of type `instance`
//! (a container instance's EC2 ID and a host port) at the address the instance's
//! agent reported (`wharf.address`), on whichever host it runs; an ID no instance
//! has is tried on this host's loopback. Targets that have finished draining are
//! left out.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use wharf_lb::{
    Action, Algorithm, Condition, FixedResponse, HealthCheck, LbConfig, Listener, ListenerTls,
    QueryPair, Redirect, RedirectCode, Rule, Target, TargetGroup, TlsCertificate,
    WeightedTargetGroup,
};
use wharf_model::acm::CertificateRecord;
use wharf_model::elbv2::shapes::{self as elb, ActionTypeEnum, RedirectActionStatusCodeEnum};
use wharf_model::elbv2::ssl_policy;
use wharf_model::elbv2::{health, ListenerRecord, TargetGroupRecord, TargetRecord};
use wharf_store::elb::{ElbKind, ElbView};
use wharf_store::StoreError;

/// More rows than any one parent holds (ELBv2 allows 100 rules per listener).
const ALL: usize = 100_000;

/// Where each container instance is, by EC2 instance ID: what `instance` targets name.
pub type InstanceAddresses = HashMap<String, IpAddr>;

/// A region's ACM certificates by ARN: what HTTPS listeners serve.
pub type Certificates = HashMap<String, CertificateRecord>;

/// Reads a region's whole ELBv2 state into `config`, binding listeners on `bind`;
/// `instance` targets are found in `instances`.
pub fn read_region(
    view: &dyn ElbView,
    bind: IpAddr,
    now_ms: i64,
    instances: &InstanceAddresses,
    certificates: &Certificates,
    config: &mut LbConfig,
) -> Result<(), StoreError> {
    let mut used: Vec<String> = Vec::new();
    for lb in view.list(ElbKind::LoadBalancer, "", None, ALL)? {
        for row in view.list(ElbKind::Listener, &lb.arn, None, ALL)? {
            let Ok(record) = serde_json::from_str::<ListenerRecord>(&row.body) else {
                tracing::warn!(listener = %row.arn, "a stored listener could not be read");
                continue;
            };
            let rules = view
                .list(ElbKind::Rule, &row.arn, None, ALL)?
                .into_iter()
                .filter_map(|r| serde_json::from_str::<elb::Rule>(&r.body).ok())
                .filter_map(rule)
                .collect::<Vec<_>>();
            let Some(listener) = listener(&record, rules, bind, certificates) else { continue };
            forwarded_groups(&listener.default_action, &mut used);
            for r in &listener.rules {
                forwarded_groups(&r.action, &mut used);
            }
            config.listeners.push(listener);
        }
    }
    used.sort();
    used.dedup();
    for arn in used {
        let Some(row) = view.get(&arn)? else { continue };
        let Ok(record) = serde_json::from_str::<TargetGroupRecord>(&row.body) else {
            tracing::warn!(target_group = %arn, "a stored target group could not be read");
            continue;
        };
        let targets = view
            .targets(&arn)?
            .into_iter()
            .filter_map(|t| serde_json::from_str::<TargetRecord>(&t.body).ok())
            .collect::<Vec<_>>();
        config.target_groups.push(target_group(&record, &targets, instances, now_ms));
    }
    Ok(())
}

fn forwarded_groups(action: &Action, into: &mut Vec<String>) {
    if let Action::Forward(groups) = action {
        into.extend(groups.iter().map(|g| g.arn.clone()));
    }
}

/// A stored listener and its rules; `None` for one the data plane cannot serve (neither
/// HTTP nor HTTPS).
fn listener(
    record: &ListenerRecord,
    rules: Vec<Rule>,
    bind: IpAddr,
    certificates: &Certificates,
) -> Option<Listener> {
    let l = &record.listener;
    let tls = match l.protocol.as_ref().map(|p| p.as_str()) {
        None | Some("HTTP") => None,
        Some("HTTPS") => Some(listener_tls(record, certificates)),
        Some(_) => {
            tracing::warn!(listener = ?l.listener_arn, "only HTTP and HTTPS listeners are served");
            return None;
        }
    };
    let port = u16::try_from(l.port?).ok()?;
    let default_action = terminal_action(l.default_actions.as_deref().unwrap_or(&[]))?;
    let mut listener =
        Listener::new(l.listener_arn.clone().unwrap_or_default(), port, default_action);
    listener.bind_address = bind;
    listener.rules = rules;
    listener.tls = tls;
    Some(listener)
}

/// An HTTPS listener's certificates (the default first) and its policy's TLS versions.
fn listener_tls(record: &ListenerRecord, certificates: &Certificates) -> ListenerTls {
    let policy = record.listener.ssl_policy.as_deref().unwrap_or(ssl_policy::DEFAULT);
    let versions = ssl_policy::versions(policy)
        .or_else(|| ssl_policy::versions(ssl_policy::DEFAULT))
        .unwrap_or(ssl_policy::Versions { legacy: false, tls12: true, tls13: true });
    let certificates = record
        .certificate_arns()
        .iter()
        .filter_map(|arn| {
            let found = certificates.get(arn);
            if found.is_none() {
                tracing::warn!(certificate = %arn, "a listener's certificate is not in ACM");
            }
            found.map(|c| tls_certificate(arn, c))
        })
        .collect();
    ListenerTls { certificates, tls12: versions.tls12, tls13: versions.tls13 }
}

fn tls_certificate(arn: &str, c: &CertificateRecord) -> TlsCertificate {
    let algorithm = c.detail.key_algorithm.as_ref().map(|k| k.as_str()).unwrap_or("");
    let (ec, key_bits) = match algorithm.split_once('-') {
        Some(("EC", "prime256v1")) => (true, 256),
        Some(("EC", "secp384r1")) => (true, 384),
        Some(("EC", _)) => (true, 521),
        Some((_, bits)) => (false, bits.parse().unwrap_or(0)),
        None => (false, 0),
    };
    let mut chain_pem = c.certificate.clone();
    if let Some(chain) = &c.chain {
        chain_pem.push('\n');
        chain_pem.push_str(chain);
    }
    TlsCertificate {
        arn: arn.to_owned(),
        names: c.names.clone(),
        ec,
        key_bits,
        not_after: c.detail.not_after.map_or(0, |t| t.0 as i64),
        chain_pem,
        key_pem: c.private_key.clone(),
    }
}

/// A stored non-default rule.
fn rule(r: elb::Rule) -> Option<Rule> {
    if r.is_default == Some(true) {
        return None;
    }
    let priority = r.priority.as_deref()?.parse().ok()?;
    let conditions = r.conditions.unwrap_or_default().iter().filter_map(condition).collect();
    let action = terminal_action(r.actions.as_deref().unwrap_or(&[]))?;
    Some(Rule { arn: r.rule_arn.unwrap_or_default(), priority, conditions, action })
}

/// The action that answers the request: the last by `Order` (authentication
/// actions, which Wharf refuses at the API, would come before it).
fn terminal_action(actions: &[elb::Action]) -> Option<Action> {
    let mut sorted: Vec<&elb::Action> = actions.iter().collect();
    sorted.sort_by_key(|a| a.order.unwrap_or(i32::MAX));
    sorted.into_iter().rev().find_map(action)
}

fn action(a: &elb::Action) -> Option<Action> {
    match a.r#type.as_ref()? {
        ActionTypeEnum::Forward => {
            let tuples = a.forward_config.as_ref().and_then(|f| f.target_groups.clone());
            let groups: Vec<WeightedTargetGroup> = match (tuples, &a.target_group_arn) {
                (Some(t), _) if !t.is_empty() => t
                    .into_iter()
                    .filter_map(|t| {
                        Some(WeightedTargetGroup {
                            arn: t.target_group_arn?,
                            weight: u32::try_from(t.weight.unwrap_or(1)).unwrap_or(0),
                        })
                    })
                    .collect(),
                (_, Some(arn)) => vec![WeightedTargetGroup { arn: arn.clone(), weight: 1 }],
                _ => return None,
            };
            Some(Action::Forward(groups))
        }
        ActionTypeEnum::FixedResponse => {
            let f = a.fixed_response_config.as_ref()?;
            Some(Action::FixedResponse(FixedResponse {
                status_code: f.status_code.as_deref()?.parse().ok()?,
                content_type: f.content_type.clone(),
                message_body: f.message_body.clone(),
            }))
        }
        ActionTypeEnum::Redirect => {
            let r = a.redirect_config.as_ref()?;
            Some(Action::Redirect(Redirect {
                protocol: r.protocol.clone(),
                host: r.host.clone(),
                port: r.port.clone(),
                path: r.path.clone(),
                query: r.query.clone(),
                status_code: match r.status_code {
                    Some(RedirectActionStatusCodeEnum::Http301) => RedirectCode::Permanent,
                    _ => RedirectCode::Found,
                },
            }))
        }
        _ => None,
    }
}

/// A stored condition, from its `*Config` or its plain `Values`.
fn condition(c: &elb::RuleCondition) -> Option<Condition> {
    let values = |config: Option<&Vec<String>>| -> Vec<String> {
        config.or(c.values.as_ref()).cloned().unwrap_or_default()
    };
    Some(match c.field.as_deref()? {
        "path-pattern" => Condition::PathPattern(values(
            c.path_pattern_config.as_ref().and_then(|p| p.values.as_ref()),
        )),
        "host-header" => Condition::HostHeader(values(
            c.host_header_config.as_ref().and_then(|p| p.values.as_ref()),
        )),
        "http-request-method" => Condition::HttpRequestMethod(values(
            c.http_request_method_config.as_ref().and_then(|p| p.values.as_ref()),
        )),
        "source-ip" => {
            Condition::SourceIp(values(c.source_ip_config.as_ref().and_then(|p| p.values.as_ref())))
        }
        "http-header" => {
            let h = c.http_header_config.as_ref()?;
            Condition::HttpHeader {
                name: h.http_header_name.clone()?,
                values: h.values.clone().unwrap_or_default(),
            }
        }
        "query-string" => Condition::QueryString(
            c.query_string_config
                .as_ref()?
                .values
                .iter()
                .flatten()
                .map(|kv| QueryPair {
                    key: kv.key.clone(),
                    value: kv.value.clone().unwrap_or_default(),
                })
                .collect(),
        ),
        _ => return None,
    })
}

/// A stored target group and its targets that have not finished draining.
fn target_group(
    record: &TargetGroupRecord,
    targets: &[TargetRecord],
    instances: &InstanceAddresses,
    now_ms: i64,
) -> TargetGroup {
    let g = &record.target_group;
    let port = g.port.and_then(|p| u16::try_from(p).ok()).unwrap_or(80);
    let mut out = TargetGroup::new(g.target_group_arn.clone().unwrap_or_default(), port);
    let secs = |v: Option<i32>, default: u64| {
        Duration::from_secs(v.and_then(|v| u64::try_from(v).ok()).unwrap_or(default))
    };
    let defaults = HealthCheck::default();
    out.health_check = HealthCheck {
        enabled: g.health_check_enabled.unwrap_or(true),
        path: g.health_check_path.clone().unwrap_or(defaults.path),
        port: g.health_check_port.as_deref().and_then(|p| p.parse().ok()),
        interval: secs(g.health_check_interval_seconds, 30),
        timeout: secs(g.health_check_timeout_seconds, 5),
        healthy_threshold: g
            .healthy_threshold_count
            .and_then(|v| u32::try_from(v).ok())
            .unwrap_or(5),
        unhealthy_threshold: g
            .unhealthy_threshold_count
            .and_then(|v| u32::try_from(v).ok())
            .unwrap_or(2),
        matcher: g.matcher.as_ref().and_then(|m| m.http_code.clone()).unwrap_or(defaults.matcher),
    };
    let delay_ms = record.deregistration_delay_ms();
    out.deregistration_delay = Duration::from_millis(u64::try_from(delay_ms).unwrap_or(0));
    if record.attribute("load_balancing.algorithm.type") == Some("least_outstanding_requests") {
        out.algorithm = Algorithm::LeastOutstandingRequests;
    }
    let is_ip = g.target_type.as_ref().is_some_and(|t| t.as_str() == "ip");
    out.targets = targets
        .iter()
        .filter(|t| !health::is_gone(t, delay_ms, now_ms))
        .filter_map(|t| {
            let id = t.target.id.clone()?;
            let address = if is_ip {
                id.parse().ok()?
            } else {
                instances.get(&id).copied().unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
            };
            Some(Target {
                id,
                address,
                port: t.target.port.and_then(|p| u16::try_from(p).ok()),
                registered_at: t.registered_ms,
                deregistering_since: t.deregistered_ms,
            })
        })
        .collect();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn actions_and_conditions_from_their_stored_forms() {
        let forward: elb::Action = serde_json::from_value(json!({
            "Type": "forward",
            "ForwardConfig": {"TargetGroups": [
                {"TargetGroupArn": "tg-a", "Weight": 3}, {"TargetGroupArn": "tg-b", "Weight": 0}]}
        }))
        .unwrap();
        assert_eq!(
            action(&forward),
            Some(Action::Forward(vec![
                WeightedTargetGroup { arn: "tg-a".into(), weight: 3 },
                WeightedTargetGroup { arn: "tg-b".into(), weight: 0 },
            ]))
        );
        let plain: elb::Action =
            serde_json::from_value(json!({"Type": "forward", "TargetGroupArn": "tg-c"})).unwrap();
        assert_eq!(action(&plain), Some(Action::forward("tg-c")));
        let fixed: elb::Action = serde_json::from_value(json!({"Type": "fixed-response",
            "FixedResponseConfig": {"StatusCode": "404", "ContentType": "text/plain", "MessageBody": "no"}}))
        .unwrap();
        assert!(matches!(action(&fixed), Some(Action::FixedResponse(f)) if f.status_code == 404));

        let values: elb::RuleCondition =
            serde_json::from_value(json!({"Field": "path-pattern", "Values": ["/api/*"]})).unwrap();
        assert_eq!(condition(&values), Some(Condition::PathPattern(vec!["/api/*".into()])));
        let config: elb::RuleCondition = serde_json::from_value(json!({
            "Field": "host-header", "HostHeaderConfig": {"Values": ["*.example.com"]}}))
        .unwrap();
        assert_eq!(condition(&config), Some(Condition::HostHeader(vec!["*.example.com".into()])));
        let query: elb::RuleCondition = serde_json::from_value(json!({
            "Field": "query-string", "QueryStringConfig": {"Values": [{"Key": "v", "Value": "2"}]}}))
        .unwrap();
        assert_eq!(
            condition(&query),
            Some(Condition::QueryString(vec![QueryPair {
                key: Some("v".into()),
                value: "2".into()
            }]))
        );
    }

    #[test]
    fn target_groups_keep_settings_and_drop_drained_targets() {
        let record: TargetGroupRecord = serde_json::from_value(json!({
            "TargetGroup": {"TargetGroupArn": "tg", "Port": 8080, "TargetType": "ip",
                "HealthCheckPath": "/health", "HealthCheckIntervalSeconds": 5,
                "HealthyThresholdCount": 2, "Matcher": {"HttpCode": "200-299"}},
            "Attributes": [{"Key": "deregistration_delay.timeout_seconds", "Value": "10"},
                           {"Key": "load_balancing.algorithm.type", "Value": "least_outstanding_requests"}]
        }))
        .unwrap();
        let target = |id: &str, deregistered: Option<i64>| TargetRecord {
            target: elb::TargetDescription {
                id: Some(id.into()),
                port: Some(9000),
                ..Default::default()
            },
            registered_ms: 0,
            deregistered_ms: deregistered,
            health: None,
        };
        let targets = [
            target("10.0.0.1", None),
            target("10.0.0.2", Some(1_000)),
            target("10.0.0.3", Some(0)),
        ];
        let g = target_group(&record, &targets, &InstanceAddresses::new(), 10_500);
        assert_eq!(g.port, 8080);
        assert_eq!(g.health_check.path, "/health");
        assert_eq!(g.health_check.interval, Duration::from_secs(5));
        assert_eq!(g.health_check.healthy_threshold, 2);
        assert_eq!(g.health_check.matcher, "200-299");
        assert_eq!(g.deregistration_delay, Duration::from_secs(10));
        assert_eq!(g.algorithm, Algorithm::LeastOutstandingRequests);
        let ids: Vec<&str> = g.targets.iter().map(|t| t.id.as_str()).collect();
        assert_eq!(ids, ["10.0.0.1", "10.0.0.2"], "10.0.0.3 has drained");
        assert_eq!(g.targets[1].deregistering_since, Some(1_000));
        assert_eq!(g.targets[0].address, "10.0.0.1".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn instance_targets_are_reached_where_their_instance_is() {
        let record: TargetGroupRecord = serde_json::from_value(json!({
            "TargetGroup": {"TargetGroupArn": "tg", "Port": 80, "TargetType": "instance"},
            "Attributes": []
        }))
        .unwrap();
        let target = |id: &str| TargetRecord {
            target: elb::TargetDescription {
                id: Some(id.into()),
                port: Some(32768),
                ..Default::default()
            },
            registered_ms: 0,
            deregistered_ms: None,
            health: None,
        };
        let instances =
            InstanceAddresses::from([("wharf-a".to_owned(), "10.77.0.11".parse().unwrap())]);
        let g = target_group(&record, &[target("wharf-a"), target("i-unknown")], &instances, 0);
        assert_eq!(g.targets[0].address, "10.77.0.11".parse::<IpAddr>().unwrap());
        assert_eq!(g.targets[1].address, IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert_eq!(g.targets[0].port, Some(32768));
    }
}
