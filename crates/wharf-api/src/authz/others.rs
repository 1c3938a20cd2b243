//! CloudWatch Logs, SSM Parameter Store, Secrets Manager, ELBv2 and ACM
//! operations as IAM sees them: the resource is the log group (or stream),
//! parameter, secret, load balancing resource or certificate the request
//! names.

use serde_json::Value;
use wharf_auth::policy::Context;

use super::{action_prefix, request_tags};
use crate::context::Ctx;

/// The checks of one operation of a service other than ECS (empty: the
/// action on `*`).
pub(super) async fn contexts(ctx: &Ctx, service: &str, op: &str, body: &[u8]) -> Vec<Context> {
    let action = format!("{}:{op}", action_prefix(service));
    let (region, account) = (ctx.region.as_str(), &*ctx.state.ops.account_id);
    match service {
        "logs" => {
            let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            let Some(group) = body.get("logGroupName").and_then(Value::as_str) else {
                return vec![];
            };
            let mut resource = format!("arn:aws:logs:{region}:{account}:log-group:{group}");
            match body.get("logStreamName").and_then(Value::as_str) {
                Some(stream) => resource.push_str(&format!(":log-stream:{stream}")),
                None => resource.push_str(":*"),
            }
            let mut c = Context::new(action, resource);
            if let Some(Value::Object(tags)) = body.get("tags") {
                for (k, v) in tags {
                    c.set(&format!("aws:RequestTag/{k}"), v.as_str().unwrap_or("").to_owned());
                    c.set("aws:TagKeys", k.clone());
                }
            }
            vec![c]
        }
        "ssm" => {
            let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            let arn = |name: &str| {
                if name.starts_with("arn:") {
                    return name.to_owned();
                }
                let name = name.split(':').next().unwrap_or(name);
                let sep = if name.starts_with('/') { "" } else { "/" };
                format!("arn:aws:ssm:{region}:{account}:parameter{sep}{name}")
            };
            let mut names: Vec<String> = Vec::new();
            for field in ["Name", "Path", "ResourceId"] {
                if let Some(n) = body.get(field).and_then(Value::as_str) {
                    names.push(n.to_owned());
                }
            }
            if let Some(Value::Array(items)) = body.get("Names") {
                names.extend(items.iter().filter_map(Value::as_str).map(str::to_owned));
            }
            names
                .iter()
                .map(|n| {
                    let mut c = Context::new(action.clone(), arn(n));
                    request_tags(&mut c, body.get("Tags"), "Key", "Value");
                    c
                })
                .collect()
        }
        "secretsmanager" => {
            let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            let id = body.get("SecretId").or(body.get("Name")).and_then(Value::as_str);
            let Some(id) = id else { return vec![] };
            let arn = secret_arn(ctx, id).await;
            let mut c = Context::new(action, arn);
            request_tags(&mut c, body.get("Tags"), "Key", "Value");
            vec![c]
        }
        "elbv2" => {
            let params = crate::query::params(body);
            let get = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
            let resource = [
                "LoadBalancerArn",
                "ListenerArn",
                "RuleArn",
                "TargetGroupArn",
                "ResourceArns.member.1",
            ]
            .iter()
            .find_map(|f| get(f))
            .unwrap_or_else(|| "*".into());
            let mut c = Context::new(action, resource);
            let mut i = 1;
            while let Some(k) = get(&format!("Tags.member.{i}.Key")) {
                let v = get(&format!("Tags.member.{i}.Value")).unwrap_or_default();
                c.set(&format!("aws:RequestTag/{k}"), v);
                c.set("aws:TagKeys", k);
                i += 1;
            }
            vec![c]
        }
        "acm" => {
            let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            let resource = body.get("CertificateArn").and_then(Value::as_str).unwrap_or("*");
            let mut c = Context::new(action, resource);
            request_tags(&mut c, body.get("Tags"), "Key", "Value");
            vec![c]
        }
        _ => vec![],
    }
}

/// A secret's full ARN (with its random suffix) when it exists; else the
/// ARN a new secret of that name would have, without the suffix.
async fn secret_arn(ctx: &Ctx, id: &str) -> String {
    let now = ctx.state.ops.clock.now();
    if let Ok(Some((_, record))) =
        crate::secretsmanager::find(ctx.store(), &ctx.region, now, id).await
    {
        if let Some(arn) = record.secret.arn {
            return arn;
        }
    }
    if id.starts_with("arn:") {
        id.to_owned()
    } else {
        format!("arn:aws:secretsmanager:{}:{}:secret:{id}", ctx.region, ctx.state.ops.account_id)
    }
}
