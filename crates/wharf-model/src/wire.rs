//! Wire-level building blocks shared by every generated shape.

use serde::{Deserialize, Serialize};

/// Facts about a generated shape, taken from the service model.
pub trait Shape {
    /// The shape's name in the service model.
    const NAME: &'static str;
    /// Every member name, as spelled on the wire.
    const MEMBERS: &'static [&'static str];
    /// The members the model marks as required.
    const REQUIRED: &'static [&'static str];
}

/// A point in time as AWS JSON protocols send it: seconds since the Unix epoch,
/// with a fractional part for milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(pub f64);

impl Timestamp {
    /// A timestamp from whole milliseconds since the epoch.
    pub fn from_millis(ms: i64) -> Self {
        // Milliseconds fit exactly in an f64 for any date this side of year 287,396.
        Self(ms as f64 / 1000.0)
    }

    /// Whole milliseconds since the epoch.
    pub fn as_millis(self) -> i64 {
        (self.0 * 1000.0).round() as i64
    }
}

/// A point in time as AWS Query protocols send it: ISO 8601 text in UTC,
/// `2016-09-19T16:38:42.540Z`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct IsoTimestamp(pub String);

impl IsoTimestamp {
    /// A timestamp from whole milliseconds since the epoch.
    pub fn from_millis(ms: i64) -> Self {
        Self(crate::clock::iso8601_millis(ms))
    }
}

/// Every AWS JSON operation answers type mismatches this way.
///
/// serde's `invalid type: string "256", expected i32` in the words of ECS's
/// JSON front end: `STRING_VALUE cannot be converted to Integer`. ECS:
/// aws/aws-cdk-cli#973, aws-actions/amazon-ecs-deploy-task-definition#587 and
/// #610 (`Unrecognized collection type class ...`); the other token names
/// follow the same scheme (Wharf).
pub fn coral_message(serde: &str) -> String {
    // serde's "... at line 3 column 9" suffix is not part of the answer.
    let serde = serde.rfind(" at line ").map_or(serde, |i| &serde[..i]);
    let rest =
        serde.strip_prefix("invalid type: ").or_else(|| serde.strip_prefix("invalid value: "));
    let Some(rest) = rest else { return serde.to_owned() };
    let Some((found, expected)) = rest.rsplit_once(", expected ") else { return serde.to_owned() };
    let target = match expected {
        "i32" | "u32" | "i16" | "u16" | "u8" | "i8" => "Integer".to_owned(),
        "i64" | "u64" => "Long".to_owned(),
        "f64" | "f32" => "Double".to_owned(),
        "a string" => "String".to_owned(),
        "a boolean" => "Boolean".to_owned(),
        "a sequence" => "List".to_owned(),
        "a map" => "Map".to_owned(),
        other => other.strip_prefix("struct ").unwrap_or(other).to_owned(),
    };
    let token = found.split(' ').next().unwrap_or_default();
    match token {
        "string" => format!("STRING_VALUE cannot be converted to {target}"),
        "integer" | "floating" => format!("NUMBER_VALUE cannot be converted to {target}"),
        "boolean" => format!("BOOLEAN_VALUE cannot be converted to {target}"),
        "null" => format!("NULL_VALUE cannot be converted to {target}"),
        "map" => "Start of structure or map found where not expected.".to_owned(),
        "sequence" if expected.starts_with("struct ") => {
            format!("Unrecognized collection type class com.amazonaws.madison.frontend.{target}")
        }
        "sequence" => "Start of list found where not expected.".to_owned(),
        _ => serde.to_owned(),
    }
}
