//! Authorization, IAM-style, at the front door: what each operation asks to
//! do (its IAM action, the resources it touches, the condition keys ECS
//! documents for it), decided by [`wharf_auth::identity::Principal::evaluate`] against
//! the caller's identity policies. Explicit deny wins; nothing allowed is
//! denied; the refusal is IAM's sentence in an `AccessDeniedException`.
//!
//! The mapping per service lives beside this file (`ecs.rs`, `others.rs`);
//! it reads the request body only for the operations whose resources are in
//! it, and the store only for what a request names indirectly (a task
//! definition's roles for `iam:PassRole`, a resource's tags when a policy
//! asks for `aws:ResourceTag/...`).

mod ecs;
mod others;

use wharf_auth::policy::{self, Context, Decision};
use wharf_auth::{AuthError, Caller};

use crate::context::Ctx;

/// The IAM service prefix of each service Wharf serves, by its name in the
/// front door.
pub fn action_prefix(service: &str) -> &str {
    match service {
        "elbv2" => "elasticloadbalancing",
        other => other,
    }
}

/// The SigV4 signing name a service's requests are scoped to.
pub fn signing_name(service: &str) -> &str {
    match service {
        "cloudwatch" => "monitoring",
        other => action_prefix(other),
    }
}

/// Decides whether `caller` may run `op` of `service` with this body; when
/// it may, the resources the operation names (as [`resources`] gives them, for
/// the audit trail, which then need not work them out again).
pub async fn authorize(
    ctx: &Ctx,
    caller: &Caller,
    service: &str,
    op: &str,
    body: &[u8],
) -> Result<Vec<String>, AuthError> {
    let mut checks = match service {
        "ecs" => ecs::contexts(ctx, op, body).await,
        _ => others::contexts(ctx, service, op, body).await,
    };
    if checks.is_empty() {
        checks.push(Context::new(format!("{}:{op}", action_prefix(service)), "*"));
    }
    let wants_tags = caller.principal.uses_key_prefix("aws:resourcetag/");
    let mut named = Vec::new();
    for mut check in checks {
        add_principal_keys(&mut check, caller, &ctx.region);
        if wants_tags && check.resource.starts_with("arn:") {
            let tags = ctx.store().tags(&ctx.region, &check.resource).await.unwrap_or_default();
            for (k, v) in tags {
                check.set(&format!("aws:ResourceTag/{k}"), v);
            }
        }
        let decision = caller.principal.evaluate(&check);
        if decision != Decision::Allow {
            return Err(AuthError::AccessDenied(policy::denied_message(
                &caller.arn,
                &check,
                decision,
            )));
        }
        if check.resource != "*" {
            named.push(check.resource);
        }
    }
    named.dedup();
    Ok(named)
}

/// Whether `caller` may run `action` (`ecs:DescribeTasks`) on any resource:
/// for Wharf's own read endpoints (`/_wharf/v1/...`), which name no single
/// resource, so only a statement whose `Resource` is `*` allows them.
pub fn authorize_action(caller: &Caller, region: &str, action: &str) -> Result<(), AuthError> {
    let mut check = Context::new(action.to_owned(), "*");
    add_principal_keys(&mut check, caller, region);
    match caller.principal.evaluate(&check) {
        Decision::Allow => Ok(()),
        decision => {
            Err(AuthError::AccessDenied(policy::denied_message(&caller.arn, &check, decision)))
        }
    }
}

/// The resources an operation names (for the audit trail): what
/// authorization checks, without `*`.
pub async fn resources(ctx: &Ctx, service: &str, op: &str, body: &[u8]) -> Vec<String> {
    let checks = match service {
        "ecs" => ecs::contexts(ctx, op, body).await,
        "sts" => vec![],
        _ => others::contexts(ctx, service, op, body).await,
    };
    let mut out: Vec<String> =
        checks.into_iter().map(|c| c.resource).filter(|r| r != "*").collect();
    out.dedup();
    out
}

/// The global condition keys every request carries, those the caller's
/// policies name (a key no condition names cannot change the decision).
fn add_principal_keys(check: &mut Context, caller: &Caller, region: &str) {
    let p = &caller.principal;
    if p.condition_keys.is_empty() {
        return;
    }
    if p.uses_key("aws:principalarn") {
        check.set("aws:PrincipalArn", p.arn.clone());
    }
    if p.uses_key("aws:principalaccount") {
        check.set("aws:PrincipalAccount", caller.account().to_owned());
    }
    if p.uses_key("aws:requestedregion") {
        check.set("aws:RequestedRegion", region.to_owned());
    }
    if caller.session.is_none() && p.uses_key("aws:username") {
        check.set("aws:username", p.name.clone());
    }
    if p.uses_key("aws:userid") {
        check.set("aws:userid", caller.user_id());
    }
}

/// `tags: [{key, value}]` (ECS) as `aws:RequestTag/KEY` and `aws:TagKeys`.
pub(crate) fn request_tags(
    check: &mut Context,
    tags: Option<&serde_json::Value>,
    key: &str,
    value: &str,
) {
    let Some(serde_json::Value::Array(tags)) = tags else { return };
    for tag in tags {
        if let Some(k) = tag.get(key).and_then(|k| k.as_str()) {
            let v = tag.get(value).and_then(|v| v.as_str()).unwrap_or("");
            check.set(&format!("aws:RequestTag/{k}"), v.to_owned());
            check.set("aws:TagKeys", k.to_owned());
        }
    }
}
