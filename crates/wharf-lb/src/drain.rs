//! The deregistration delay, pure: a deregistering target drains for the target group's
//! delay, counted from DeregisterTargets, then it is gone.

use std::time::Duration;

/// Where a deregistering target stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DrainStatus {
    /// Still draining for this long.
    Draining {
        /// Time left before the delay expires.
        remaining: Duration,
    },
    /// The delay has passed: the target is deregistered.
    Done,
}

/// The drain status at `now_ms` of a target deregistering since `since_ms` (both
/// milliseconds since the epoch) in a target group with this deregistration delay. An ALB waits
/// the whole delay whether or not requests are in flight.
pub fn drain_status(since_ms: i64, delay: Duration, now_ms: i64) -> DrainStatus {
    let delay_ms = i64::try_from(delay.as_millis()).unwrap_or(i64::MAX);
    let deadline = since_ms.saturating_add(delay_ms);
    match deadline.checked_sub(now_ms) {
        Some(left) if left > 0 => {
            DrainStatus::Draining { remaining: Duration::from_millis(left.unsigned_abs()) }
        }
        _ => DrainStatus::Done,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drains_for_the_whole_delay_then_is_done() {
        let delay = Duration::from_secs(300);
        let since = 1_000_000;
        assert_eq!(
            drain_status(since, delay, since),
            DrainStatus::Draining { remaining: Duration::from_secs(300) }
        );
        assert_eq!(
            drain_status(since, delay, since + 299_999),
            DrainStatus::Draining { remaining: Duration::from_millis(1) }
        );
        assert_eq!(drain_status(since, delay, since + 300_000), DrainStatus::Done);
        assert_eq!(drain_status(since, delay, since + 999_999), DrainStatus::Done);
    }

    #[test]
    fn a_zero_delay_is_done_at_once_and_clock_skew_is_harmless() {
        assert_eq!(drain_status(5, Duration::ZERO, 5), DrainStatus::Done);
        assert_eq!(
            drain_status(10_000, Duration::from_secs(1), 0),
            DrainStatus::Draining { remaining: Duration::from_millis(11_000) }
        );
        assert_eq!(
            drain_status(0, Duration::MAX, 1),
            DrainStatus::Draining { remaining: Duration::from_millis(i64::MAX as u64 - 1) }
        );
    }
}
