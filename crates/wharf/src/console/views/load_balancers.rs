//! Load balancers: the list (DNS name, state, listeners), and a load
//! balancer's page: listeners, each with its rules in priority order (the
//! default rule last) as readable conditions and actions, and every target
//! group they forward to with its targets' health as DescribeTargetHealth
//! reports it.

use std::sync::{Arc, Mutex};

use serde::Serialize;
use wharf_model::elbv2::shapes::{Action, Rule, RuleCondition};
use wharf_model::elbv2::{
    health, rules, ListenerRecord, LoadBalancerRecord, TargetGroupRecord, TargetRecord,
};
use wharf_store::elb::{ElbKind, ElbView};
use wharf_store::{Store, StoreError};

use super::ViewError;

/// The most rows of one kind an ELBv2 read lists (the quotas are lower).
const ELB_LIMIT: usize = 10_000;

/// One load balancer as the list shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LoadBalancerRow {
    /// Its name.
    pub name: String,
    /// Its ARN.
    pub arn: String,
    /// `DNSName`.
    pub dns_name: String,
    /// `internet-facing` or `internal`.
    pub scheme: String,
    /// `State.Code`.
    pub state: String,
    /// Its listeners, `HTTP:80`.
    pub listeners: Vec<String>,
}

/// A target and its health.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetView {
    /// An instance ID or IP address.
    pub id: String,
    /// The port.
    pub port: i32,
    /// `healthy`, `unhealthy`, `initial`, `draining`, `unused`, ...
    pub state: String,
    /// The reason code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The task it belongs to, when a service registered it (set by the
    /// service page).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
}

/// A target group with its targets' health.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetGroupHealth {
    /// Its name.
    pub name: String,
    /// Its ARN.
    pub arn: String,
    /// `HTTP:80`.
    pub protocol_port: String,
    /// `instance` or `ip`.
    pub target_type: String,
    /// `HTTP /health` (the health check's protocol and path).
    pub health_check: String,
    /// Its targets.
    pub targets: Vec<TargetView>,
}

/// One rule of a listener, readable.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleView {
    /// Its priority, or `default`.
    pub priority: String,
    /// Its conditions, `path-pattern: /api/*`.
    pub conditions: Vec<String>,
    /// Its actions, `forward: web (weight 1)`.
    pub actions: Vec<String>,
}

/// One listener and its rules.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListenerView {
    /// `HTTP:80`.
    pub protocol_port: String,
    /// Its ARN.
    pub arn: String,
    /// Its rules in priority order, the default rule last.
    pub rules: Vec<RuleView>,
}

/// A load balancer's page.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LoadBalancerPage {
    /// The row fields.
    #[serde(flatten)]
    pub row: LoadBalancerRow,
    /// Its listeners.
    pub listener_rules: Vec<ListenerView>,
    /// The target groups its listeners and rules forward to.
    pub target_groups: Vec<TargetGroupHealth>,
}

/// Runs a read on one snapshot of the region's ELBv2 state and returns what
/// it produced.
async fn read<T: Send + 'static>(
    store: &dyn Store,
    region: &str,
    f: impl FnOnce(&dyn ElbView) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, ViewError> {
    let slot = Arc::new(Mutex::new(None));
    let out = slot.clone();
    store
        .elb_read(
            region,
            Box::new(move |view| {
                let value = f(view)?;
                *out.lock().unwrap_or_else(|p| p.into_inner()) = Some(value);
                Ok(())
            }),
        )
        .await?;
    let value = slot.lock().unwrap_or_else(|p| p.into_inner()).take();
    value
        .ok_or_else(|| ViewError::Store(StoreError::Database("the ELBv2 read gave nothing".into())))
}

fn decode<T: serde::de::DeserializeOwned>(arn: &str, body: &str) -> Option<T> {
    super::parse("ELBv2 record", arn, body)
}

fn protocol_port(protocol: Option<&str>, port: Option<i32>) -> String {
    match port {
        Some(p) => format!("{}:{p}", protocol.unwrap_or("HTTP")),
        None => protocol.unwrap_or("").to_owned(),
    }
}

fn row_of(lb: &LoadBalancerRecord, listeners: &[ListenerRecord]) -> LoadBalancerRow {
    let l = &lb.load_balancer;
    LoadBalancerRow {
        name: l.load_balancer_name.clone().unwrap_or_default(),
        arn: l.load_balancer_arn.clone().unwrap_or_default(),
        dns_name: l.dns_name.clone().unwrap_or_default(),
        scheme: l.scheme.as_ref().map(|s| s.as_str().to_owned()).unwrap_or_default(),
        state: l
            .state
            .as_ref()
            .and_then(|s| s.code.as_ref())
            .map(|c| c.as_str().to_owned())
            .unwrap_or_default(),
        listeners: listeners
            .iter()
            .map(|r| {
                protocol_port(r.listener.protocol.as_ref().map(|p| p.as_str()), r.listener.port)
            })
            .collect(),
    }
}

fn listeners(view: &dyn ElbView, lb_arn: &str) -> Result<Vec<ListenerRecord>, StoreError> {
    let rows = view.list(ElbKind::Listener, lb_arn, None, ELB_LIMIT)?;
    Ok(rows.iter().filter_map(|r| decode(&r.arn, &r.body)).collect())
}

/// Every load balancer of the region, in name order.
pub async fn load_balancers(
    store: &dyn Store,
    region: &str,
) -> Result<Vec<LoadBalancerRow>, ViewError> {
    read(store, region, |view| {
        let mut out = Vec::new();
        for row in view.list(ElbKind::LoadBalancer, "", None, ELB_LIMIT)? {
            if let Some(lb) = decode::<LoadBalancerRecord>(&row.arn, &row.body) {
                out.push(row_of(&lb, &listeners(view, &row.arn)?));
            }
        }
        Ok(out)
    })
    .await
}

/// A condition as one line: `path-pattern: /api/*, /v2/*`.
pub fn condition_text(c: &RuleCondition) -> String {
    let field = c.field.as_deref().unwrap_or("?");
    let values: Vec<String> = if let Some(p) = &c.path_pattern_config {
        p.values.clone().unwrap_or_default()
    } else if let Some(h) = &c.host_header_config {
        h.values.clone().unwrap_or_default()
    } else if let Some(h) = &c.http_header_config {
        let name = h.http_header_name.clone().unwrap_or_default();
        h.values.iter().flatten().map(|v| format!("{name}={v}")).collect()
    } else if let Some(m) = &c.http_request_method_config {
        m.values.clone().unwrap_or_default()
    } else if let Some(s) = &c.source_ip_config {
        s.values.clone().unwrap_or_default()
    } else if let Some(q) = &c.query_string_config {
        q.values
            .iter()
            .flatten()
            .map(|kv| match &kv.key {
                Some(k) => format!("{k}={}", kv.value.as_deref().unwrap_or("")),
                None => kv.value.clone().unwrap_or_default(),
            })
            .collect()
    } else {
        c.values.clone().unwrap_or_default()
    };
    format!("{field}: {}", values.join(", "))
}

/// An action as one line, naming target groups by name where `name_of`
/// knows them: `forward: web (weight 1), web-green (weight 0)`.
pub fn action_text(a: &Action, name_of: &dyn Fn(&str) -> String) -> String {
    let kind = a.r#type.as_ref().map_or("?", |t| t.as_str());
    if let Some(f) = &a.fixed_response_config {
        return format!(
            "{kind}: {} {}",
            f.status_code.as_deref().unwrap_or(""),
            f.content_type.as_deref().unwrap_or("")
        )
        .trim_end()
        .to_owned();
    }
    if let Some(r) = &a.redirect_config {
        let part = |v: &Option<String>, default: &str| v.clone().unwrap_or_else(|| default.into());
        return format!(
            "{kind}: {}://{}:{}{}?{} ({})",
            part(&r.protocol, "#{protocol}"),
            part(&r.host, "#{host}"),
            part(&r.port, "#{port}"),
            part(&r.path, "/#{path}"),
            part(&r.query, "#{query}"),
            r.status_code.as_ref().map_or("", |s| s.as_str())
        );
    }
    let groups: Vec<String> = match &a.forward_config {
        Some(f) if f.target_groups.as_ref().is_some_and(|g| g.len() > 1) => f
            .target_groups
            .iter()
            .flatten()
            .map(|t| {
                let name = name_of(t.target_group_arn.as_deref().unwrap_or(""));
                format!("{name} (weight {})", t.weight.unwrap_or(1))
            })
            .collect(),
        _ => rules::target_groups(std::slice::from_ref(a)).iter().map(|a| name_of(a)).collect(),
    };
    if groups.is_empty() {
        kind.to_owned()
    } else {
        format!("{kind}: {}", groups.join(", "))
    }
}

fn group_health(
    view: &dyn ElbView,
    arn: &str,
    now_ms: i64,
) -> Result<Option<TargetGroupHealth>, StoreError> {
    let Some(row) = view.get(arn)?.filter(|r| r.kind == ElbKind::TargetGroup) else {
        return Ok(None);
    };
    let Some(record) = decode::<TargetGroupRecord>(arn, &row.body) else { return Ok(None) };
    let in_use = !view.uses_of(arn)?.is_empty();
    let delay = record.deregistration_delay_ms();
    let mut targets = Vec::new();
    for t in view.targets(arn)? {
        let Some(target) = decode::<TargetRecord>(arn, &t.body) else { continue };
        if health::is_gone(&target, delay, now_ms) {
            continue;
        }
        let h = health::describe(Some(&target), in_use, delay, now_ms);
        targets.push(TargetView {
            id: t.id,
            port: t.port,
            state: h.state.as_ref().map(|s| s.as_str().to_owned()).unwrap_or_default(),
            reason: h.reason.as_ref().map(|r| r.as_str().to_owned()),
            description: h.description,
            task: None,
        });
    }
    let g = &record.target_group;
    let check_protocol = g.health_check_protocol.as_ref().or(g.protocol.as_ref());
    Ok(Some(TargetGroupHealth {
        name: g.target_group_name.clone().unwrap_or_default(),
        arn: arn.to_owned(),
        protocol_port: protocol_port(g.protocol.as_ref().map(|p| p.as_str()), g.port),
        target_type: g.target_type.as_ref().map(|t| t.as_str().to_owned()).unwrap_or_default(),
        health_check: format!(
            "{} {}",
            check_protocol.map_or("HTTP", |p| p.as_str()),
            g.health_check_path.as_deref().unwrap_or("/")
        ),
        targets,
    }))
}

/// A target group with its targets' health at `now_ms`; `None` if there is
/// no such group.
pub async fn target_group_health(
    store: &dyn Store,
    region: &str,
    arn: &str,
    now_ms: i64,
) -> Result<Option<TargetGroupHealth>, ViewError> {
    let arn = arn.to_owned();
    read(store, region, move |view| group_health(view, &arn, now_ms)).await
}

/// The page of the load balancer named `name`.
pub async fn load_balancer(
    store: &dyn Store,
    region: &str,
    name: &str,
    now_ms: i64,
) -> Result<LoadBalancerPage, ViewError> {
    let wanted = name.to_owned();
    let page = read(store, region, move |view| {
        let Some(row) = view.find(ElbKind::LoadBalancer, "", &wanted)? else { return Ok(None) };
        let Some(lb) = decode::<LoadBalancerRecord>(&row.arn, &row.body) else { return Ok(None) };
        let listener_records = listeners(view, &row.arn)?;
        // Each listener's rules in priority order, its default rule last.
        let mut rules_of: Vec<Vec<Rule>> = Vec::new();
        for l in &listener_records {
            let arn = l.listener.listener_arn.as_deref().unwrap_or("");
            let rows = view.list(ElbKind::Rule, arn, None, ELB_LIMIT)?;
            let mut rules: Vec<Rule> =
                rows.iter().filter_map(|r| decode(&r.arn, &r.body)).collect();
            rules.push(Rule {
                priority: Some("default".to_owned()),
                actions: l.listener.default_actions.clone(),
                ..Rule::default()
            });
            rules_of.push(rules);
        }
        let mut group_arns: Vec<String> = Vec::new();
        for rule in rules_of.iter().flatten() {
            for g in rules::target_groups(rule.actions.as_deref().unwrap_or(&[])) {
                if !group_arns.contains(&g) {
                    group_arns.push(g);
                }
            }
        }
        let mut target_groups = Vec::new();
        for arn in &group_arns {
            target_groups.extend(group_health(view, arn, now_ms)?);
        }
        let name_of = |arn: &str| {
            target_groups
                .iter()
                .find(|g: &&TargetGroupHealth| g.arn == arn)
                .map_or_else(|| super::short_id(arn).to_owned(), |g| g.name.clone())
        };
        let listener_rules = listener_records
            .iter()
            .zip(&rules_of)
            .map(|(l, rules)| ListenerView {
                protocol_port: protocol_port(
                    l.listener.protocol.as_ref().map(|p| p.as_str()),
                    l.listener.port,
                ),
                arn: l.listener.listener_arn.clone().unwrap_or_default(),
                rules: rules
                    .iter()
                    .map(|r| RuleView {
                        priority: r.priority.clone().unwrap_or_default(),
                        conditions: r.conditions.iter().flatten().map(condition_text).collect(),
                        actions: r
                            .actions
                            .iter()
                            .flatten()
                            .map(|a| action_text(a, &name_of))
                            .collect(),
                    })
                    .collect(),
            })
            .collect();
        Ok(Some(LoadBalancerPage {
            row: row_of(&lb, &listener_records),
            listener_rules,
            target_groups,
        }))
    })
    .await?;
    page.ok_or_else(|| ViewError::NotFound(format!("Load balancer '{name}' not found.")))
}
