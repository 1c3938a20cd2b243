//! IAM's policy language and how IAM evaluates it.
//!
//! A [`Policy`] is compiled once from its JSON ([`Policy::parse`]): action
//! and resource patterns, conditions with their operators. [`evaluate`]
//! then decides a [`Context`] (action, resource, condition keys) against a
//! principal's policies as IAM does within one account: an explicit `Deny`
//! wins, else an `Allow`, else the implicit deny.
//!
//! Supported: `Effect`, `Action`/`NotAction`, `Resource`/`NotResource`
//! (with `*` and `?` wildcards; actions case-insensitive), `Principal` (in
//! trust policies: `*`, `AWS` ARNs or account ids, `Service`), and
//! `Condition` with the `String*`, `Arn*`, `Numeric*`, `Bool` and `Null`
//! operators, `...IfExists`, and the `ForAnyValue:`/`ForAllValues:` set
//! qualifiers. Not supported: policy variables (`${aws:username}`), `Date*`
//! and `IpAddress` operators (a policy using them is refused when loaded,
//! never silently ignored).

mod condition;
mod document;
mod index;
mod pattern;

pub use condition::Condition;
pub use document::{
    trusts_aws, trusts_service, Effect, Policy, PolicyError, Principals, Statement,
};
pub use index::ActionIndex;
pub use pattern::Pattern;

/// What a request asks to do, as IAM's request context has it.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// `service:Action`, e.g. `ecs:RunTask`.
    pub action: String,
    /// The resource's ARN, or `*` for actions without resource-level permissions.
    pub resource: String,
    /// Condition keys (lower-case names) with their values.
    pub keys: Vec<(String, Vec<String>)>,
}

impl Context {
    /// A context for `action` on `resource`, with no condition keys yet.
    pub fn new(action: impl Into<String>, resource: impl Into<String>) -> Self {
        Self { action: action.into(), resource: resource.into(), keys: Vec::new() }
    }

    /// Adds a condition key's value (keys compare case-insensitively).
    pub fn with(mut self, key: &str, value: impl Into<String>) -> Self {
        self.set(key, value);
        self
    }

    /// Adds a value to a condition key.
    pub fn set(&mut self, key: &str, value: impl Into<String>) {
        let key = key.to_ascii_lowercase();
        match self.keys.iter_mut().find(|(k, _)| *k == key) {
            Some((_, values)) => values.push(value.into()),
            None => self.keys.push((key, vec![value.into()])),
        }
    }

    /// The values of a condition key (name in any case), if it is present.
    pub fn get(&self, key: &str) -> Option<&[String]> {
        self.keys.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v.as_slice())
    }
}

/// What IAM decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// An `Allow` statement matched and no `Deny` did.
    Allow,
    /// Nothing matched: denied by default.
    ImplicitDeny,
    /// A `Deny` statement matched.
    ExplicitDeny,
}

/// Evaluates a principal's identity policies for one request.
pub fn evaluate<'p>(policies: impl IntoIterator<Item = &'p Policy>, ctx: &Context) -> Decision {
    decide(
        policies.into_iter().flat_map(|p| &p.statements).filter(|s| s.covers_action(&ctx.action)),
        ctx,
    )
}

/// IAM's decision over the statements that cover the request's action:
/// an explicit deny wins, then an allow, else the implicit deny.
fn decide<'s>(statements: impl IntoIterator<Item = &'s Statement>, ctx: &Context) -> Decision {
    let mut allowed = false;
    for statement in statements {
        if statement.principals.is_some() || !statement.applies_beyond_action(ctx) {
            continue;
        }
        match statement.effect {
            Effect::Deny => return Decision::ExplicitDeny,
            Effect::Allow => allowed = true,
        }
    }
    if allowed {
        Decision::Allow
    } else {
        Decision::ImplicitDeny
    }
}

/// IAM's sentence for a refused request.
pub fn denied_message(principal_arn: &str, ctx: &Context, decision: Decision) -> String {
    let why = match decision {
        Decision::ExplicitDeny => "with an explicit deny in an identity-based policy".to_owned(),
        _ => format!("because no identity-based policy allows the {} action", ctx.action),
    };
    format!(
        "User: {principal_arn} is not authorized to perform: {} on resource: {} {why}",
        ctx.action, ctx.resource
    )
}

#[cfg(test)]
mod tests;
