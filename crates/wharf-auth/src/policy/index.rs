//! A principal's policies precompiled per action: which statements an
//! action can match (their `Action`/`NotAction`), worked out the first time
//! the action is asked about and kept. A request then checks only those
//! statements' resources and conditions, instead of every pattern of every
//! statement. Actions are a closed vocabulary (each service's operations),
//! so the memo stays small; past [`MAX_ACTIONS`] it stops growing and the
//! rest are decided by the full scan.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use super::{decide, Context, Decision, Policy, Statement};

/// How many distinct actions one principal's memo keeps.
pub const MAX_ACTIONS: usize = 2048;

/// The (policy, statement) positions of the statements covering one action.
type Positions = Arc<[(u32, u32)]>;

/// The memo: action (as the request spells it) → the statements that cover it.
#[derive(Debug, Default)]
pub struct ActionIndex {
    memo: RwLock<HashMap<Box<str>, Positions>>,
}

impl ActionIndex {
    /// Evaluates `policies` (always the same ones for one index) for a
    /// request, as [`super::evaluate`] does.
    pub fn evaluate(&self, policies: &[Policy], ctx: &Context) -> Decision {
        let cached = self.memo.read().ok().and_then(|m| m.get(ctx.action.as_str()).cloned());
        let positions = match cached {
            Some(p) => p,
            None => {
                let p = covering(policies, &ctx.action);
                if let Ok(mut memo) = self.memo.write() {
                    if memo.len() < MAX_ACTIONS {
                        memo.insert(ctx.action.clone().into_boxed_str(), p.clone());
                    }
                }
                p
            }
        };
        let statements = positions.iter().filter_map(|&(p, s)| statement(policies, p, s));
        decide(statements, ctx)
    }
}

fn statement(policies: &[Policy], p: u32, s: u32) -> Option<&Statement> {
    policies.get(p as usize)?.statements.get(s as usize)
}

/// The positions of the statements whose action patterns cover `action`.
fn covering(policies: &[Policy], action: &str) -> Positions {
    let mut out = Vec::new();
    for (p, policy) in policies.iter().enumerate() {
        for (s, statement) in policy.statements.iter().enumerate() {
            if statement.covers_action(action) {
                out.push((p as u32, s as u32));
            }
        }
    }
    out.into()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::policy::evaluate;

    #[test]
    fn the_index_decides_as_the_full_scan_does() {
        let policy = Policy::parse(&json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "ecs:Describe*", "Resource": "*"},
            {"Effect": "Deny", "Action": "ecs:DescribeTasks", "Resource": "arn:aws:ecs:*:*:task/prod/*"},
            {"Effect": "Allow", "NotAction": ["ecs:*"], "Resource": "*"},
            {"Effect": "Allow", "Action": "ecs:RunTask", "Resource": "*",
             "Condition": {"StringEquals": {"ecs:cluster": "arn:aws:ecs:us-east-1:1:cluster/a"}}}
        ]}))
        .unwrap();
        let policies = [policy];
        let index = ActionIndex::default();
        let cases = [
            Context::new("ecs:DescribeTasks", "arn:aws:ecs:us-east-1:1:task/dev/1"),
            Context::new("ecs:DescribeTasks", "arn:aws:ecs:us-east-1:1:task/prod/1"),
            Context::new("ECS:describetasks", "arn:aws:ecs:us-east-1:1:task/prod/1"),
            Context::new("logs:PutLogEvents", "*"),
            Context::new("ecs:RunTask", "*")
                .with("ecs:cluster", "arn:aws:ecs:us-east-1:1:cluster/a"),
            Context::new("ecs:RunTask", "*")
                .with("ecs:cluster", "arn:aws:ecs:us-east-1:1:cluster/b"),
            Context::new("ecs:DeleteCluster", "*"),
        ];
        let want = [
            Decision::Allow,
            Decision::ExplicitDeny,
            Decision::ExplicitDeny,
            Decision::Allow,
            Decision::Allow,
            Decision::ImplicitDeny,
            Decision::ImplicitDeny,
        ];
        // Twice: computed, then from the memo.
        for _ in 0..2 {
            for (ctx, want) in cases.iter().zip(want) {
                assert_eq!(index.evaluate(&policies, ctx), want, "{ctx:?}");
                assert_eq!(evaluate(&policies, ctx), want, "{ctx:?}");
            }
        }
    }
}
