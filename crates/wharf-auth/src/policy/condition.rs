//! Condition operators, as IAM applies them to the request's keys.

use super::pattern::glob;
use super::{Context, PolicyError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    StringEquals,
    StringEqualsIgnoreCase,
    StringLike,
    ArnEquals,
    ArnLike,
    NumericEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    Bool,
    Null,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SetQualifier {
    None,
    ForAnyValue,
    ForAllValues,
}

/// One condition: an operator applied to one key with the policy's values
/// (any of which may match).
#[derive(Debug, Clone)]
pub struct Condition {
    op: Op,
    negated: bool,
    if_exists: bool,
    set: SetQualifier,
    /// The condition key, lower-case.
    pub key: String,
    values: Vec<String>,
}

impl Condition {
    /// Compiles `operator` (with its qualifiers) over `key` and `values`.
    pub fn new(operator: &str, key: &str, values: Vec<String>) -> Result<Self, PolicyError> {
        let (set, rest) = if let Some(r) = operator.strip_prefix("ForAnyValue:") {
            (SetQualifier::ForAnyValue, r)
        } else if let Some(r) = operator.strip_prefix("ForAllValues:") {
            (SetQualifier::ForAllValues, r)
        } else {
            (SetQualifier::None, operator)
        };
        let (rest, if_exists) = match rest.strip_suffix("IfExists") {
            Some(r) => (r, true),
            None => (rest, false),
        };
        let (op, negated) = match rest {
            "StringEquals" => (Op::StringEquals, false),
            "StringNotEquals" => (Op::StringEquals, true),
            "StringEqualsIgnoreCase" => (Op::StringEqualsIgnoreCase, false),
            "StringNotEqualsIgnoreCase" => (Op::StringEqualsIgnoreCase, true),
            "StringLike" => (Op::StringLike, false),
            "StringNotLike" => (Op::StringLike, true),
            "ArnEquals" => (Op::ArnEquals, false),
            "ArnNotEquals" => (Op::ArnEquals, true),
            "ArnLike" => (Op::ArnLike, false),
            "ArnNotLike" => (Op::ArnLike, true),
            "NumericEquals" => (Op::NumericEquals, false),
            "NumericNotEquals" => (Op::NumericEquals, true),
            "NumericLessThan" => (Op::NumericLessThan, false),
            "NumericLessThanEquals" => (Op::NumericLessThanEquals, false),
            "NumericGreaterThan" => (Op::NumericGreaterThan, false),
            "NumericGreaterThanEquals" => (Op::NumericGreaterThanEquals, false),
            "Bool" => (Op::Bool, false),
            "Null" => (Op::Null, false),
            other => {
                return Err(PolicyError(format!(
                    "Condition operator {other:?} is not supported by Wharf."
                )))
            }
        };
        if op == Op::Null && (if_exists || set != SetQualifier::None) {
            return Err(PolicyError("Null takes no qualifier.".into()));
        }
        let numeric = matches!(
            op,
            Op::NumericEquals
                | Op::NumericLessThan
                | Op::NumericLessThanEquals
                | Op::NumericGreaterThan
                | Op::NumericGreaterThanEquals
        );
        if numeric && values.iter().any(|v| v.parse::<f64>().is_err()) {
            return Err(PolicyError(format!("{operator} on {key} needs numbers.")));
        }
        Ok(Self { op, negated, if_exists, set, key: key.to_ascii_lowercase(), values })
    }

    /// Whether the condition holds for the request.
    pub fn holds(&self, ctx: &Context) -> bool {
        let present = ctx.get(&self.key).filter(|v| !v.is_empty());
        if self.op == Op::Null {
            let wants_absent = self.values.iter().any(|v| v.eq_ignore_ascii_case("true"));
            return present.is_none() == wants_absent;
        }
        let Some(request) = present else {
            // A missing key: true with IfExists, with ForAllValues (vacuous)
            // and for a negated operator; false otherwise.
            return self.if_exists || self.set == SetQualifier::ForAllValues || self.negated;
        };
        let one = |r: &String| self.values.iter().any(|p| self.compare(p, r));
        match self.set {
            SetQualifier::None => request.iter().any(one) != self.negated,
            SetQualifier::ForAnyValue => request.iter().any(|r| one(r) != self.negated),
            SetQualifier::ForAllValues => request.iter().all(|r| one(r) != self.negated),
        }
    }

    fn compare(&self, policy: &str, request: &str) -> bool {
        let num = |s: &str| s.parse::<f64>().ok();
        match self.op {
            Op::StringEquals | Op::ArnEquals => policy == request,
            Op::StringEqualsIgnoreCase => policy.eq_ignore_ascii_case(request),
            Op::StringLike | Op::ArnLike => glob(policy.as_bytes(), request.as_bytes()),
            Op::Bool => policy.eq_ignore_ascii_case(request),
            Op::NumericEquals => num(policy).zip(num(request)).is_some_and(|(p, r)| r == p),
            Op::NumericLessThan => num(policy).zip(num(request)).is_some_and(|(p, r)| r < p),
            Op::NumericLessThanEquals => num(policy).zip(num(request)).is_some_and(|(p, r)| r <= p),
            Op::NumericGreaterThan => num(policy).zip(num(request)).is_some_and(|(p, r)| r > p),
            Op::NumericGreaterThanEquals => {
                num(policy).zip(num(request)).is_some_and(|(p, r)| r >= p)
            }
            Op::Null => false,
        }
    }
}
