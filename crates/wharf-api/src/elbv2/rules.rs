//! Listener rules: CreateRule, DescribeRules, ModifyRule, SetRulePriorities,
//! DeleteRule. The default rule is the listener's `DefaultActions` under the
//! ARN kept in its record; it is listed last, with priority `default`.

use std::collections::BTreeMap;

use wharf_model::elbv2::arn::{self, ElbArn, ElbArnKind};
use wharf_model::elbv2::shapes::{
    CreateRuleInput, CreateRuleOutput, DeleteRuleInput, DeleteRuleOutput, DescribeRulesInput,
    DescribeRulesOutput, ModifyRuleInput, ModifyRuleOutput, Rule, SetRulePrioritiesInput,
    SetRulePrioritiesOutput,
};
use wharf_model::elbv2::{self as elb, rules, validate, ElbError, ElbErrorKind, ListenerRecord};
use wharf_ops::elb_state::{read, write, Elb};
use wharf_store::elb::{ElbKind, ElbView};

use super::{check_arn, check_forwards, new_id, page, required, resume};
use crate::context::Ctx;

/// The default rule of a listener, as DescribeRules shows it.
fn default_rule(l: &ListenerRecord) -> Rule {
    Rule {
        rule_arn: Some(l.default_rule_arn.clone()),
        priority: Some("default".to_owned()),
        conditions: Some(vec![]),
        actions: l.listener.default_actions.clone(),
        is_default: Some(true),
        ..Default::default()
    }
}

fn in_use(priority: i32) -> ElbError {
    ElbError::new(ElbErrorKind::PriorityInUse, format!("Priority '{priority}' is currently in use"))
}

/// A rule ARN's listener and load balancer ARNs.
fn parents(rule_arn: &str) -> Result<(String, String), ElbError> {
    let parsed = ElbArn::parse(rule_arn).ok_or_else(ElbError::rule_not_found)?;
    match (parsed.listener(), parsed.load_balancer()) {
        (Some(l), Some(lb)) => Ok((l, lb)),
        _ => Err(ElbError::rule_not_found()),
    }
}

/// A rule by ARN: a stored one, or a listener's default rule (with its
/// listener record).
fn find<S: ElbView + ?Sized>(
    elb: &Elb<'_, S>,
    rule_arn: &str,
) -> Result<(Rule, Option<ListenerRecord>), ElbError> {
    if let Some(r) = elb.rule(rule_arn)? {
        return Ok((r, None));
    }
    let (listener, _) = parents(rule_arn)?;
    match elb.listener(&listener)? {
        Some(l) if l.default_rule_arn == rule_arn => Ok((default_rule(&l), Some(l))),
        _ => Err(ElbError::rule_not_found()),
    }
}

/// How many non-default rules a load balancer has.
fn rule_count<S: ElbView + ?Sized>(elb: &Elb<'_, S>, lb: &str) -> Result<usize, ElbError> {
    let mut n = 0;
    for l in elb.listeners(lb)? {
        n += elb.count(ElbKind::Rule, l.listener.listener_arn.as_deref().unwrap_or_default())?;
    }
    Ok(n)
}

/// CreateRule: conditions, actions and a free priority on a listener.
pub(crate) async fn create_rule(
    ctx: &Ctx,
    req: CreateRuleInput,
) -> Result<CreateRuleOutput, ElbError> {
    let listener = required(req.listener_arn, "listenerArn")?;
    check_arn(ElbArnKind::Listener, &listener)?;
    let priority = required(req.priority, "priority")?;
    rules::priority(priority)?;
    if req.transforms.is_some_and(|t| !t.is_empty()) {
        return Err(ElbError::validation("Wharf does not serve rule 'Transforms'"));
    }
    let conditions = rules::conditions(&required(req.conditions, "conditions")?)?;
    let actions = rules::actions(&required(req.actions, "actions")?)?;
    let forwards = rules::target_groups(&actions);
    let tags = validate::tags(req.tags.as_deref().unwrap_or_default())?;
    let arn = arn::rule_arn(&listener, &new_id()).ok_or_else(ElbError::listener_not_found)?;
    let rule = Rule {
        rule_arn: Some(arn.clone()),
        priority: Some(priority.to_string()),
        conditions: Some(conditions),
        actions: Some(actions),
        is_default: Some(false),
        ..Default::default()
    };
    let rule = write(ctx.store(), &ctx.region, move |elb| {
        let rule = rule.clone();
        let l = elb.listener(&listener)?.ok_or_else(ElbError::listener_not_found)?;
        let lb = l.listener.load_balancer_arn.unwrap_or_default();
        if elb.rule_at(&listener, priority)?.is_some() {
            return Err(in_use(priority));
        }
        if rule_count(elb, &lb)? >= elb::MAX_RULES {
            return Err(ElbError::new(
                ElbErrorKind::TooManyRules,
                format!("A load balancer can have at most {} rules", elb::MAX_RULES),
            ));
        }
        check_forwards(elb, &lb, &forwards)?;
        elb.put_rule(&listener, &lb, &rule, &forwards)?;
        elb.put_tags(&arn, &tags)?;
        Ok(rule)
    })
    .await?;
    Ok(CreateRuleOutput { rules: Some(vec![rule]) })
}

/// DescribeRules: a listener's in priority order then its default rule
/// (paged), or by ARNs.
pub(crate) async fn describe_rules(
    ctx: &Ctx,
    req: DescribeRulesInput,
) -> Result<DescribeRulesOutput, ElbError> {
    let size = validate::page_size(req.page_size)?;
    let after = resume(req.marker.as_deref())?;
    let arns = req.rule_arns.unwrap_or_default();
    let listener = req.listener_arn;
    match (&listener, arns.is_empty()) {
        (None, true) => {
            return Err(ElbError::validation(
                "You must specify either listener rule ARNs or a listener ARN",
            ))
        }
        (Some(_), false) => {
            return Err(ElbError::validation(
                "Listener rule ARNs and a listener ARN cannot be specified at the same time",
            ))
        }
        _ => {}
    }
    for a in &arns {
        check_arn(ElbArnKind::Rule, a)?;
    }
    if let Some(l) = &listener {
        check_arn(ElbArnKind::Listener, l)?;
    }
    let (rules, next) = read(ctx.store(), &ctx.region, move |elb| {
        if let Some(listener) = listener {
            let l = elb.listener(&listener)?.ok_or_else(ElbError::listener_not_found)?;
            // Stored rules sort by zero-padded priority; the default rule after them.
            let mut all: Vec<(String, Rule)> = elb
                .rules(&listener)?
                .into_iter()
                .map(|r| {
                    let p = r.priority.as_deref().and_then(|p| p.parse().ok()).unwrap_or(0);
                    (wharf_store::elb::sort_key(p), r)
                })
                .collect();
            all.push(("default".to_owned(), default_rule(&l)));
            all.retain(|(k, _)| after.as_deref().is_none_or(|a| k.as_str() > a));
            return Ok(page(all, size));
        }
        let mut out = Vec::with_capacity(arns.len());
        for a in &arns {
            out.push(find(elb, a)?.0);
        }
        Ok((out, None))
    })
    .await?;
    Ok(DescribeRulesOutput { rules: Some(rules), next_marker: next })
}

/// ModifyRule: new conditions and/or actions. The default rule takes only
/// actions (they become the listener's default actions).
pub(crate) async fn modify_rule(
    ctx: &Ctx,
    req: ModifyRuleInput,
) -> Result<ModifyRuleOutput, ElbError> {
    let arn = required(req.rule_arn, "ruleArn")?;
    check_arn(ElbArnKind::Rule, &arn)?;
    if req.transforms.is_some_and(|t| !t.is_empty()) {
        return Err(ElbError::validation("Wharf does not serve rule 'Transforms'"));
    }
    let conditions = req.conditions.map(|c| rules::conditions(&c)).transpose()?;
    let actions = req.actions.map(|a| rules::actions(&a)).transpose()?;
    let rule = write(ctx.store(), &ctx.region, move |elb| {
        let actions = actions.clone();
        let conditions = conditions.clone();
        let (mut rule, listener) = find(elb, &arn)?;
        let (listener_arn, lb) = parents(&arn)?;
        if let Some(mut l) = listener {
            if conditions.is_some() {
                return Err(ElbError::new(
                    ElbErrorKind::OperationNotPermitted,
                    "The conditions of a default rule cannot be modified",
                ));
            }
            if let Some(actions) = actions {
                l.listener.default_actions = Some(actions);
            }
            let forwards =
                rules::target_groups(l.listener.default_actions.as_deref().unwrap_or_default());
            check_forwards(elb, &lb, &forwards)?;
            elb.put_listener(&l, &forwards)?;
            return Ok(default_rule(&l));
        }
        if let Some(c) = conditions {
            rule.conditions = Some(c);
        }
        if let Some(a) = actions {
            rule.actions = Some(a);
        }
        let forwards = rules::target_groups(rule.actions.as_deref().unwrap_or_default());
        check_forwards(elb, &lb, &forwards)?;
        elb.put_rule(&listener_arn, &lb, &rule, &forwards)?;
        Ok(rule)
    })
    .await?;
    Ok(ModifyRuleOutput { rules: Some(vec![rule]) })
}

/// SetRulePriorities: all the moves or none; a priority may be taken by a
/// rule that moves away in the same call.
pub(crate) async fn set_rule_priorities(
    ctx: &Ctx,
    req: SetRulePrioritiesInput,
) -> Result<SetRulePrioritiesOutput, ElbError> {
    let pairs = required(req.rule_priorities, "rulePriorities")?;
    if pairs.is_empty() {
        return Err(ElbError::missing("rulePriorities"));
    }
    let mut moves: Vec<(String, i32)> = Vec::with_capacity(pairs.len());
    for p in pairs {
        let arn = required(p.rule_arn, "rulePriorities.member.ruleArn")?;
        check_arn(ElbArnKind::Rule, &arn)?;
        let priority = required(p.priority, "rulePriorities.member.priority")?;
        rules::priority(priority)?;
        if moves.iter().any(|(a, _)| *a == arn) {
            return Err(ElbError::validation(format!("Rule '{arn}' is given more than once")));
        }
        moves.push((arn, priority));
    }
    let rules = write(ctx.store(), &ctx.region, move |elb| {
        // Per listener: the final priority of each rule, moved or not.
        let mut finals: BTreeMap<String, BTreeMap<i32, String>> = BTreeMap::new();
        let mut moved = Vec::with_capacity(moves.len());
        for (arn, priority) in &moves {
            let (rule, listener) = find(elb, arn)?;
            if listener.is_some() {
                return Err(ElbError::new(
                    ElbErrorKind::OperationNotPermitted,
                    format!("The priority of the default rule '{arn}' cannot be changed"),
                ));
            }
            let (listener_arn, lb) = parents(arn)?;
            if !finals.contains_key(&listener_arn) {
                let mut current = BTreeMap::new();
                for r in elb.rules(&listener_arn)? {
                    let p = r.priority.as_deref().and_then(|p| p.parse().ok()).unwrap_or(0);
                    current.insert(p, r.rule_arn.unwrap_or_default());
                }
                finals.insert(listener_arn.clone(), current);
            }
            moved.push((rule, listener_arn, lb, *priority));
        }
        for (rule, listener_arn, _, _) in &moved {
            if let Some(f) = finals.get_mut(listener_arn) {
                f.retain(|_, a| Some(a.as_str()) != rule.rule_arn.as_deref());
            }
        }
        for (rule, listener_arn, _, priority) in &moved {
            let f = finals.entry(listener_arn.clone()).or_default();
            if f.insert(*priority, rule.rule_arn.clone().unwrap_or_default()).is_some() {
                return Err(in_use(*priority));
            }
        }
        let mut out = Vec::with_capacity(moved.len());
        for (mut rule, listener_arn, lb, priority) in moved {
            rule.priority = Some(priority.to_string());
            let forwards = rules::target_groups(rule.actions.as_deref().unwrap_or_default());
            elb.put_rule(&listener_arn, &lb, &rule, &forwards)?;
            out.push(rule);
        }
        Ok(out)
    })
    .await?;
    Ok(SetRulePrioritiesOutput { rules: Some(rules) })
}

/// DeleteRule: a non-default rule.
pub(crate) async fn delete_rule(
    ctx: &Ctx,
    req: DeleteRuleInput,
) -> Result<DeleteRuleOutput, ElbError> {
    let arn = required(req.rule_arn, "ruleArn")?;
    check_arn(ElbArnKind::Rule, &arn)?;
    write(ctx.store(), &ctx.region, move |elb| {
        let (_, listener) = find(elb, &arn)?;
        if listener.is_some() {
            return Err(ElbError::new(
                ElbErrorKind::OperationNotPermitted,
                format!("Default rule '{arn}' cannot be deleted"),
            ));
        }
        elb.delete(&arn)
    })
    .await?;
    Ok(DeleteRuleOutput {})
}
