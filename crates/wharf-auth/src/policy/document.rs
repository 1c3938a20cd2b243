//! Policy documents: IAM's JSON read strictly (an element IAM does not know
//! is refused, as IAM refuses it) and compiled into patterns.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::condition::Condition;
use super::pattern::Pattern;
use super::Context;

/// A policy that could not be read; the message names the element.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PolicyError(pub String);

/// `Allow` or `Deny`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Grants.
    Allow,
    /// Refuses, whatever else grants.
    Deny,
}

/// Who a trust policy's statement is about (`Principal`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Principals {
    /// `"Principal": "*"` (or `{"AWS": "*"}`).
    pub any: bool,
    /// `AWS`: principal ARNs, or account ids (written as ids or `:root` ARNs).
    pub aws: Vec<String>,
    /// `Service`: e.g. `ecs-tasks.amazonaws.com`.
    pub service: Vec<String>,
}

impl Principals {
    /// Whether an IAM principal matches, and whether only by its account
    /// (which then needs the principal's own policy to allow it too).
    pub fn matches_aws(&self, arn: &str, account: &str) -> Option<bool> {
        if self.any || self.aws.iter().any(|p| p == arn) {
            return Some(false);
        }
        let root = format!("arn:aws:iam::{account}:root");
        self.aws.iter().any(|p| p == account || *p == root).then_some(true)
    }
}

/// One compiled statement.
#[derive(Debug, Clone)]
pub struct Statement {
    /// `Sid`, if any.
    pub sid: Option<String>,
    /// `Effect`.
    pub effect: Effect,
    /// `Action` patterns (lower-case), or `NotAction`'s when `not_action`.
    pub actions: Vec<Pattern>,
    /// Whether the actions are `NotAction`.
    pub not_action: bool,
    /// `Resource` patterns, or `NotResource`'s when `not_resource`; `None`
    /// when the statement has neither (trust policies).
    pub resources: Option<Vec<Pattern>>,
    /// Whether the resources are `NotResource`.
    pub not_resource: bool,
    /// Every condition must hold.
    pub conditions: Vec<Condition>,
    /// `Principal`, in trust policies.
    pub principals: Option<Principals>,
}

impl Statement {
    /// Whether the statement's action, resource and conditions all match.
    pub fn applies(&self, ctx: &Context) -> bool {
        self.covers_action(&ctx.action) && self.applies_beyond_action(ctx)
    }

    /// Whether its `Action` (or `NotAction`) lets it apply to `action`
    /// (any case).
    pub fn covers_action(&self, action: &str) -> bool {
        self.actions.iter().any(|p| p.matches_folded(action)) != self.not_action
    }

    /// Whether its resource and conditions match (the action aside).
    pub fn applies_beyond_action(&self, ctx: &Context) -> bool {
        if let Some(resources) = &self.resources {
            if resources.iter().any(|p| p.matches(&ctx.resource)) == self.not_resource {
                return false;
            }
        }
        self.conditions.iter().all(|c| c.holds(ctx))
    }
}

/// A compiled policy document.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Its statements, in order.
    pub statements: Vec<Statement>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

impl<T> OneOrMany<T> {
    fn into_vec(self) -> Vec<T> {
        match self {
            Self::One(t) => vec![t],
            Self::Many(v) => v,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDocument {
    #[serde(rename = "Version")]
    version: Option<String>,
    #[serde(rename = "Id")]
    _id: Option<String>,
    #[serde(rename = "Statement")]
    statement: serde_json::Value,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStatement {
    #[serde(rename = "Sid")]
    sid: Option<String>,
    #[serde(rename = "Effect")]
    effect: String,
    #[serde(rename = "Action")]
    action: Option<OneOrMany<String>>,
    #[serde(rename = "NotAction")]
    not_action: Option<OneOrMany<String>>,
    #[serde(rename = "Resource")]
    resource: Option<OneOrMany<String>>,
    #[serde(rename = "NotResource")]
    not_resource: Option<OneOrMany<String>>,
    #[serde(rename = "Condition")]
    condition: Option<BTreeMap<String, BTreeMap<String, serde_json::Value>>>,
    #[serde(rename = "Principal")]
    principal: Option<serde_json::Value>,
    #[serde(rename = "NotPrincipal")]
    not_principal: Option<serde_json::Value>,
}

impl Policy {
    /// Reads and compiles a policy document given as JSON.
    pub fn parse(value: &serde_json::Value) -> Result<Self, PolicyError> {
        let raw: RawDocument = serde_json::from_value(value.clone())
            .map_err(|e| PolicyError(format!("Syntax errors in policy: {e}")))?;
        if let Some(v) = &raw.version {
            if v != "2012-10-17" && v != "2008-10-17" {
                return Err(PolicyError(format!("The policy Version {v:?} is not 2012-10-17.")));
            }
        }
        let raw_statements = match raw.statement {
            serde_json::Value::Array(items) => items,
            one => vec![one],
        };
        let statements = raw_statements
            .into_iter()
            .enumerate()
            .map(|(i, s)| {
                serde_json::from_value::<RawStatement>(s)
                    .map_err(|e| PolicyError(format!("Syntax errors in policy: {e}")))
                    .and_then(compile)
                    .map_err(|e| PolicyError(format!("Statement[{i}]: {}", e.0)))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { statements })
    }

    /// Whether any statement names a condition key with this prefix (lower-case).
    pub fn uses_key_prefix(&self, prefix: &str) -> bool {
        self.statements.iter().flat_map(|s| &s.conditions).any(|c| c.key.starts_with(prefix))
    }
}

fn compile(raw: RawStatement) -> Result<Statement, PolicyError> {
    let effect = match raw.effect.as_str() {
        "Allow" => Effect::Allow,
        "Deny" => Effect::Deny,
        other => return Err(PolicyError(format!("Effect must be Allow or Deny, not {other:?}."))),
    };
    let (actions, not_action) = match (raw.action, raw.not_action) {
        (Some(a), None) => (a, false),
        (None, Some(a)) => (a, true),
        _ => {
            return Err(PolicyError(
                "a statement needs exactly one of Action and NotAction.".into(),
            ))
        }
    };
    let actions = actions.into_vec();
    for a in &actions {
        if a != "*" && !a.contains(':') {
            return Err(PolicyError(format!("Action {a:?} must be service:Action (or *).")));
        }
    }
    let resources = match (raw.resource, raw.not_resource) {
        (Some(r), None) => Some((r, false)),
        (None, Some(r)) => Some((r, true)),
        (None, None) => None,
        _ => return Err(PolicyError("a statement has both Resource and NotResource.".into())),
    };
    if raw.not_principal.is_some() {
        return Err(PolicyError("NotPrincipal is not supported.".into()));
    }
    let principals = raw.principal.map(|p| principals(&p)).transpose()?;
    if resources.is_none() && principals.is_none() {
        return Err(PolicyError("a statement needs Resource or NotResource.".into()));
    }
    let mut conditions = Vec::new();
    for (operator, keys) in raw.condition.unwrap_or_default() {
        for (key, values) in keys {
            let values = match values {
                serde_json::Value::Array(items) => items,
                one => vec![one],
            };
            let values = values
                .into_iter()
                .map(|v| match v {
                    serde_json::Value::String(s) => Ok(s),
                    serde_json::Value::Bool(b) => Ok(b.to_string()),
                    serde_json::Value::Number(n) => Ok(n.to_string()),
                    other => Err(PolicyError(format!(
                        "Condition {operator}/{key}: {other} is not a value."
                    ))),
                })
                .collect::<Result<Vec<_>, _>>()?;
            conditions.push(Condition::new(&operator, &key, values)?);
        }
    }
    let not_resource = resources.as_ref().is_some_and(|(_, n)| *n);
    Ok(Statement {
        sid: raw.sid,
        effect,
        actions: actions.iter().map(|a| Pattern::new(a, true)).collect(),
        not_action,
        resources: resources
            .map(|(r, _)| r.into_vec().iter().map(|r| Pattern::new(r, false)).collect()),
        not_resource,
        conditions,
        principals,
    })
}

fn principals(value: &serde_json::Value) -> Result<Principals, PolicyError> {
    let strings = |v: &serde_json::Value| -> Result<Vec<String>, PolicyError> {
        match v {
            serde_json::Value::String(s) => Ok(vec![s.clone()]),
            serde_json::Value::Array(a) => a
                .iter()
                .map(|x| {
                    x.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| PolicyError("Principal values must be strings.".into()))
                })
                .collect(),
            _ => Err(PolicyError("Principal values must be strings.".into())),
        }
    };
    let mut out = Principals::default();
    match value {
        serde_json::Value::String(s) if s == "*" => out.any = true,
        serde_json::Value::Object(map) => {
            for (kind, v) in map {
                match kind.as_str() {
                    "AWS" => {
                        let arns = strings(v)?;
                        out.any |= arns.iter().any(|a| a == "*");
                        out.aws.extend(arns);
                    }
                    "Service" => out.service.extend(strings(v)?),
                    other => {
                        return Err(PolicyError(format!(
                            "Principal type {other:?} is not supported."
                        )))
                    }
                }
            }
        }
        _ => return Err(PolicyError("Principal must be \"*\" or an object.".into())),
    }
    Ok(out)
}

/// Trust-policy evaluation (who may assume a role): whether `principal`
/// may perform `action` (`sts:AssumeRole`) by a statement of `trust`.
/// `Some(by_account)` when allowed (`by_account`: only through the account,
/// so the caller's own policies must allow it too); `None` when not.
pub fn trusts_aws(trust: &Policy, action: &str, arn: &str, account: &str) -> Option<bool> {
    trust_decision(trust, action, |p| p.matches_aws(arn, account))
}

/// Whether a trust policy lets an AWS service (`ecs-tasks.amazonaws.com`) assume the role.
pub fn trusts_service(trust: &Policy, action: &str, service: &str) -> bool {
    trust_decision(trust, action, |p| {
        (p.any || p.service.iter().any(|s| s == service)).then_some(false)
    })
    .is_some()
}

fn trust_decision(
    trust: &Policy,
    action: &str,
    principal: impl Fn(&Principals) -> Option<bool>,
) -> Option<bool> {
    let ctx = Context::new(action, "*");
    let mut allowed: Option<bool> = None;
    for s in &trust.statements {
        let Some(p) = &s.principals else { continue };
        let Some(by_account) = principal(p) else { continue };
        if !s.applies(&ctx) {
            continue;
        }
        match s.effect {
            Effect::Deny => return None,
            Effect::Allow => allowed = Some(allowed.map_or(by_account, |b| b && by_account)),
        }
    }
    allowed
}
