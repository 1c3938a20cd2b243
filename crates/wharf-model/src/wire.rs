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
