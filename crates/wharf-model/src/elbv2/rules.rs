//! Listener rules: the conditions and actions ELBv2 accepts, normalised the
//! way DescribeRules gives them back (a `Values` condition also carries its
//! `*Config` form; a forward to one group carries both `TargetGroupArn` and
//! `ForwardConfig`; a redirect's absent parts are `#{...}`).

use super::shapes::{
    Action, ActionTypeEnum, FixedResponseActionConfig, ForwardActionConfig,
    HostHeaderConditionConfig, PathPatternConditionConfig, RedirectActionConfig, RuleCondition,
    TargetGroupStickinessConfig, TargetGroupTuple,
};
use super::{ElbError, ElbErrorKind, PRIORITIES};

/// Condition fields an Application Load Balancer matches on.
pub const FIELDS: &[&str] = &[
    "http-header",
    "http-request-method",
    "host-header",
    "path-pattern",
    "query-string",
    "source-ip",
];

/// The most condition values one rule may hold.
pub const MAX_CONDITION_VALUES: usize = 5;
/// The most target groups one forward action may name.
pub const MAX_FORWARD_TARGET_GROUPS: usize = 5;

/// Checks a rule priority (1–50000).
pub fn priority(p: i32) -> Result<(), ElbError> {
    if PRIORITIES.contains(&p) {
        Ok(())
    } else {
        Err(ElbError::validation(format!(
            "1 validation error detected: Value '{p}' at 'priority' failed to satisfy constraint: \
             Member must have value less than or equal to 50000 and greater than or equal to 1"
        )))
    }
}

fn value_chars(field: &str, v: &str, extra: &str) -> Result<(), ElbError> {
    if v.is_empty()
        || v.len() > 128
        || !v.chars().all(|c| c.is_ascii_alphanumeric() || extra.contains(c))
    {
        return Err(ElbError::validation(format!(
            "Condition value '{v}' is not valid for field '{field}'"
        )));
    }
    Ok(())
}

fn cidr(v: &str) -> bool {
    let Some((ip, bits)) = v.split_once('/') else { return false };
    match (ip.parse::<std::net::IpAddr>(), bits.parse::<u8>()) {
        (Ok(std::net::IpAddr::V4(_)), Ok(b)) => b <= 32,
        (Ok(std::net::IpAddr::V6(_)), Ok(b)) => b <= 128,
        _ => false,
    }
}

/// Checks and normalises one condition; returns it and its count of values.
fn condition(c: &RuleCondition) -> Result<(RuleCondition, usize), ElbError> {
    let field = c.field.as_deref().ok_or_else(|| ElbError::missing("conditions.member.field"))?;
    if !FIELDS.contains(&field) {
        return Err(ElbError::validation(format!(
            "Condition field '{field}' must be one of '[{}]'",
            FIELDS.join(", ")
        )));
    }
    if c.regex_values.is_some() {
        return Err(ElbError::validation("Wharf does not serve 'RegexValues' conditions"));
    }
    let config_given = [
        c.host_header_config.is_some(),
        c.path_pattern_config.is_some(),
        c.http_header_config.is_some(),
        c.query_string_config.is_some(),
        c.http_request_method_config.is_some(),
        c.source_ip_config.is_some(),
    ]
    .iter()
    .filter(|x| **x)
    .count();
    if config_given > 1 {
        return Err(ElbError::validation(format!(
            "A condition with field '{field}' can have only one condition configuration"
        )));
    }
    let wrong_config = |name: &str| {
        ElbError::validation(format!(
            "A condition with field '{field}' cannot have a '{name}' configuration"
        ))
    };
    let mut out = RuleCondition { field: Some(field.to_owned()), ..Default::default() };
    let count;
    match field {
        "path-pattern" | "host-header" => {
            let (from_config, extra, config_name) = if field == "path-pattern" {
                if config_given == 1 && c.path_pattern_config.is_none() {
                    return Err(wrong_config("other"));
                }
                (
                    c.path_pattern_config.as_ref().and_then(|p| p.values.clone()),
                    "_-.$/~\"'@:+&*?;",
                    "PathPatternConfig",
                )
            } else {
                if config_given == 1 && c.host_header_config.is_none() {
                    return Err(wrong_config("other"));
                }
                (
                    c.host_header_config.as_ref().and_then(|p| p.values.clone()),
                    "-.*?",
                    "HostHeaderConfig",
                )
            };
            let values = match (c.values.clone(), from_config) {
                (Some(_), Some(_)) => {
                    return Err(ElbError::validation(format!(
                        "A condition cannot have both 'Values' and '{config_name}'"
                    )))
                }
                (Some(v), None) | (None, Some(v)) => v,
                (None, None) => Vec::new(),
            };
            if values.is_empty() {
                return Err(ElbError::validation(format!(
                    "A condition with field '{field}' must have at least one value"
                )));
            }
            for v in &values {
                value_chars(field, v, extra)?;
            }
            count = values.len();
            out.values = Some(values.clone());
            if field == "path-pattern" {
                out.path_pattern_config =
                    Some(PathPatternConditionConfig { values: Some(values), regex_values: None });
            } else {
                out.host_header_config =
                    Some(HostHeaderConditionConfig { values: Some(values), regex_values: None });
            }
        }
        _ if c.values.is_some() => {
            return Err(ElbError::validation(format!(
                "A condition with field '{field}' must use its configuration, not 'Values'"
            )))
        }
        "http-request-method" => {
            let cfg =
                c.http_request_method_config.clone().ok_or_else(|| wrong_config("missing"))?;
            let values = cfg.values.clone().unwrap_or_default();
            if values.is_empty() {
                return Err(ElbError::validation(
                    "HttpRequestMethodConfig must have at least one value",
                ));
            }
            for v in &values {
                if v.is_empty()
                    || v.len() > 40
                    || !v.chars().all(|c| c.is_ascii_uppercase() || c == '-' || c == '_')
                {
                    return Err(ElbError::validation(format!(
                        "HTTP request method '{v}' is not valid"
                    )));
                }
            }
            count = values.len();
            out.http_request_method_config = Some(cfg);
        }
        "http-header" => {
            let cfg = c.http_header_config.clone().ok_or_else(|| wrong_config("missing"))?;
            let name = cfg.http_header_name.as_deref().unwrap_or("");
            if name.is_empty() || name.len() > 40 {
                return Err(ElbError::validation(format!(
                    "HTTP header name '{name}' is not valid"
                )));
            }
            let values = cfg.values.clone().unwrap_or_default();
            if values.is_empty() || values.iter().any(|v| v.is_empty() || v.len() > 128) {
                return Err(ElbError::validation(
                    "HttpHeaderConfig values must be 1 to 128 characters, at least one",
                ));
            }
            count = values.len();
            out.http_header_config = Some(cfg);
        }
        "query-string" => {
            let cfg = c.query_string_config.clone().ok_or_else(|| wrong_config("missing"))?;
            let values = cfg.values.clone().unwrap_or_default();
            if values.is_empty()
                || values.iter().any(|kv| kv.value.as_deref().is_none_or(str::is_empty))
            {
                return Err(ElbError::validation(
                    "QueryStringConfig values must each have a 'Value', at least one",
                ));
            }
            count = values.len();
            out.query_string_config = Some(cfg);
        }
        _ => {
            let cfg = c.source_ip_config.clone().ok_or_else(|| wrong_config("missing"))?;
            let values = cfg.values.clone().unwrap_or_default();
            if values.is_empty() {
                return Err(ElbError::validation("SourceIpConfig must have at least one value"));
            }
            if let Some(bad) = values.iter().find(|v| !cidr(v)) {
                return Err(ElbError::validation(format!(
                    "The source IP '{bad}' is not a valid CIDR block"
                )));
            }
            count = values.len();
            out.source_ip_config = Some(cfg);
        }
    }
    Ok((out, count))
}

/// Checks and normalises a rule's conditions: at least one, each field at
/// most once (but `http-header` and `query-string`), at most five values.
pub fn conditions(conds: &[RuleCondition]) -> Result<Vec<RuleCondition>, ElbError> {
    if conds.is_empty() {
        return Err(ElbError::validation("A rule must have at least one condition"));
    }
    let mut out = Vec::with_capacity(conds.len());
    let mut total = 0;
    for c in conds {
        let (c, n) = condition(c)?;
        let field = c.field.clone().unwrap_or_default();
        let repeatable = field == "http-header" || field == "query-string";
        if !repeatable && out.iter().any(|o: &RuleCondition| o.field.as_deref() == Some(&field)) {
            return Err(ElbError::validation(format!(
                "A rule can only have one '{field}' condition"
            )));
        }
        total += n;
        out.push(c);
    }
    if total > MAX_CONDITION_VALUES {
        return Err(ElbError::validation(format!(
            "A rule can only have '{MAX_CONDITION_VALUES}' condition values"
        )));
    }
    Ok(out)
}

fn forward(a: &Action) -> Result<Action, ElbError> {
    let mut groups: Vec<TargetGroupTuple> =
        a.forward_config.as_ref().and_then(|f| f.target_groups.clone()).unwrap_or_default();
    let stickiness =
        a.forward_config.as_ref().and_then(|f| f.target_group_stickiness_config.clone());
    match (&a.target_group_arn, groups.len()) {
        (None, 0) => {
            return Err(ElbError::validation(
                "A forward action must have a 'TargetGroupArn' or a 'ForwardConfig' with target groups",
            ))
        }
        (Some(arn), 0) => groups.push(TargetGroupTuple { target_group_arn: Some(arn.clone()), weight: Some(1) }),
        (Some(arn), 1) if groups[0].target_group_arn.as_deref() == Some(arn) => {}
        (Some(_), _) => {
            return Err(ElbError::new(
                ElbErrorKind::InvalidLoadBalancerAction,
                "You cannot specify both a 'TargetGroupArn' and a 'ForwardConfig' naming other target groups",
            ))
        }
        (None, _) => {}
    }
    if groups.len() > MAX_FORWARD_TARGET_GROUPS {
        return Err(ElbError::validation(format!(
            "A forward action can have at most {MAX_FORWARD_TARGET_GROUPS} target groups"
        )));
    }
    for g in &mut groups {
        let arn = g.target_group_arn.as_deref().ok_or_else(|| {
            ElbError::missing("actions.member.forwardConfig.targetGroups.member.targetGroupArn")
        })?;
        if !super::arn::is(super::arn::ElbArnKind::TargetGroup, arn) {
            return Err(ElbError::validation(format!("'{arn}' is not a valid target group ARN")));
        }
        let w = *g.weight.get_or_insert(1);
        if !(0..=999).contains(&w) {
            return Err(ElbError::validation(format!(
                "Target group weight '{w}' must be between 0 and 999"
            )));
        }
    }
    if groups
        .iter()
        .enumerate()
        .any(|(i, g)| groups[..i].iter().any(|h| h.target_group_arn == g.target_group_arn))
    {
        return Err(ElbError::validation(
            "A forward action cannot name the same target group twice",
        ));
    }
    let mut stickiness = stickiness
        .unwrap_or(TargetGroupStickinessConfig { enabled: Some(false), duration_seconds: None });
    stickiness.enabled.get_or_insert(false);
    if stickiness.enabled == Some(true) {
        let d = stickiness.duration_seconds.ok_or_else(|| {
            ElbError::validation(
                "A stickiness duration must be specified when stickiness is enabled",
            )
        })?;
        if !(1..=604_800).contains(&d) {
            return Err(ElbError::validation(format!(
                "Stickiness duration '{d}' must be between 1 and 604800 seconds"
            )));
        }
    }
    let single = (groups.len() == 1).then(|| groups[0].target_group_arn.clone()).flatten();
    Ok(Action {
        r#type: Some(ActionTypeEnum::Forward),
        target_group_arn: single,
        order: a.order,
        forward_config: Some(ForwardActionConfig {
            target_groups: Some(groups),
            target_group_stickiness_config: Some(stickiness),
        }),
        ..Default::default()
    })
}

fn fixed_response(a: &Action) -> Result<Action, ElbError> {
    let cfg = a.fixed_response_config.clone().ok_or_else(|| {
        ElbError::validation("A fixed-response action must have a 'FixedResponseConfig'")
    })?;
    let code = cfg
        .status_code
        .as_deref()
        .ok_or_else(|| ElbError::missing("actions.member.fixedResponseConfig.statusCode"))?;
    let b = code.as_bytes();
    if b.len() != 3
        || !matches!(b[0], b'2' | b'4' | b'5')
        || !code.chars().all(|c| c.is_ascii_digit())
    {
        return Err(ElbError::validation(format!(
            "Fixed-response status code '{code}' must be a 2XX, 4XX or 5XX code"
        )));
    }
    const TYPES: &[&str] =
        &["text/plain", "text/css", "text/html", "application/javascript", "application/json"];
    if let Some(t) = cfg.content_type.as_deref().filter(|t| !TYPES.contains(t)) {
        return Err(ElbError::validation(format!(
            "Fixed-response content type '{t}' must be one of '{}'",
            TYPES.join(", ")
        )));
    }
    if cfg.message_body.as_deref().is_some_and(|m| m.len() > 1024) {
        return Err(ElbError::validation(
            "Fixed-response message body cannot be longer than 1024 characters",
        ));
    }
    Ok(Action {
        r#type: Some(ActionTypeEnum::FixedResponse),
        order: a.order,
        fixed_response_config: Some(FixedResponseActionConfig { ..cfg }),
        ..Default::default()
    })
}

fn redirect(a: &Action) -> Result<Action, ElbError> {
    let cfg = a
        .redirect_config
        .clone()
        .ok_or_else(|| ElbError::validation("A redirect action must have a 'RedirectConfig'"))?;
    let status = cfg
        .status_code
        .clone()
        .ok_or_else(|| ElbError::missing("actions.member.redirectConfig.statusCode"))?;
    if !status.is_known() {
        return Err(ElbError::validation(format!(
            "Redirect status code '{status}' must be one of 'HTTP_301', 'HTTP_302'"
        )));
    }
    let protocol = cfg.protocol.unwrap_or_else(|| "#{protocol}".to_owned());
    if !matches!(protocol.as_str(), "HTTP" | "HTTPS" | "#{protocol}") {
        return Err(ElbError::validation(format!(
            "Redirect protocol '{protocol}' must be 'HTTP', 'HTTPS' or '#{{protocol}}'"
        )));
    }
    let path = cfg.path.unwrap_or_else(|| "/#{path}".to_owned());
    if !path.starts_with('/') {
        return Err(ElbError::validation(format!("Redirect path '{path}' must start with '/'")));
    }
    let out = RedirectActionConfig {
        protocol: Some(protocol),
        port: Some(cfg.port.unwrap_or_else(|| "#{port}".to_owned())),
        host: Some(cfg.host.unwrap_or_else(|| "#{host}".to_owned())),
        path: Some(path),
        query: Some(cfg.query.unwrap_or_else(|| "#{query}".to_owned())),
        status_code: Some(status),
    };
    let unchanged = out.protocol.as_deref() == Some("#{protocol}")
        && out.port.as_deref() == Some("#{port}")
        && out.host.as_deref() == Some("#{host}")
        && out.path.as_deref() == Some("/#{path}")
        && out.query.as_deref() == Some("#{query}");
    if unchanged {
        return Err(ElbError::new(
            ElbErrorKind::InvalidLoadBalancerAction,
            "The redirect configuration is not valid because it creates a loop.",
        ));
    }
    Ok(Action {
        r#type: Some(ActionTypeEnum::Redirect),
        order: a.order,
        redirect_config: Some(out),
        ..Default::default()
    })
}

/// Checks and normalises a rule's (or a listener's default) actions: exactly
/// one of forward, fixed-response or redirect.
pub fn actions(actions: &[Action]) -> Result<Vec<Action>, ElbError> {
    if actions.is_empty() {
        return Err(ElbError::validation("At least one action must be specified"));
    }
    if actions.len() > 1 {
        return Err(ElbError::new(
            ElbErrorKind::TooManyActions,
            "A rule can have only one 'forward', 'redirect' or 'fixed-response' action",
        ));
    }
    let a = &actions[0];
    if let Some(o) = a.order.filter(|o| !(1..=50_000).contains(o)) {
        return Err(ElbError::validation(format!(
            "Action order '{o}' must be between 1 and 50000"
        )));
    }
    let t = a.r#type.clone().ok_or_else(|| ElbError::missing("actions.member.type"))?;
    let action = match t {
        ActionTypeEnum::Forward => forward(a)?,
        ActionTypeEnum::FixedResponse => fixed_response(a)?,
        ActionTypeEnum::Redirect => redirect(a)?,
        ActionTypeEnum::Unlisted(t) => {
            return Err(ElbError::validation(format!(
                "1 validation error detected: Value '{t}' at 'actions.member.type' failed to \
                 satisfy constraint: Member must satisfy enum value set: [{}]",
                ActionTypeEnum::VALUES.join(", ")
            )))
        }
        other => {
            return Err(ElbError::new(
                ElbErrorKind::InvalidLoadBalancerAction,
                format!("Wharf does not serve '{other}' actions"),
            ))
        }
    };
    Ok(vec![action])
}

/// The target groups normalised actions forward to.
pub fn target_groups(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .filter_map(|a| a.forward_config.as_ref())
        .flat_map(|f| f.target_groups.iter().flatten())
        .filter_map(|g| g.target_group_arn.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_condition_in_values_form_gets_its_config_form() {
        let c = RuleCondition {
            field: Some("path-pattern".into()),
            values: Some(vec!["/api/*".into()]),
            ..Default::default()
        };
        let out = conditions(&[c]).unwrap();
        assert_eq!(
            out[0].path_pattern_config.as_ref().and_then(|p| p.values.clone()),
            Some(vec!["/api/*".to_string()])
        );
        let bad = RuleCondition { field: Some("cookie".into()), ..Default::default() };
        assert!(conditions(&[bad]).unwrap_err().message.contains("'cookie'"));
    }

    #[test]
    fn forward_to_one_group_carries_both_forms() {
        let arn =
            "arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/web/0123456789abcdef";
        let a = Action {
            r#type: Some(ActionTypeEnum::Forward),
            target_group_arn: Some(arn.into()),
            ..Default::default()
        };
        let out = actions(&[a]).unwrap();
        assert_eq!(out[0].target_group_arn.as_deref(), Some(arn));
        assert_eq!(target_groups(&out), vec![arn.to_string()]);
        let loop_ = Action {
            r#type: Some(ActionTypeEnum::Redirect),
            redirect_config: Some(RedirectActionConfig {
                status_code: Some("HTTP_301".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(actions(&[loop_]).unwrap_err().kind, ElbErrorKind::InvalidLoadBalancerAction);
    }
}
