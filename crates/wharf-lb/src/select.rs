//! Target selection, pure: which targets may receive requests, round robin, least
//! outstanding requests, and weighted choice among a forward action's target groups.

use crate::health::TargetState;

/// Indices of the targets that may get new requests: the healthy ones (and those whose health
/// checks are disabled); when there are none, every target that is not draining or unused,
/// since an ALB fails open and routes across unhealthy targets.
pub fn routable(states: &[TargetState]) -> Vec<usize> {
    let pick = |f: fn(TargetState) -> bool| {
        states.iter().enumerate().filter(|(_, s)| f(**s)).map(|(i, _)| i).collect::<Vec<_>>()
    };
    let healthy = pick(|s| matches!(s, TargetState::Healthy | TargetState::Unavailable));
    if !healthy.is_empty() {
        return healthy;
    }
    pick(|s| matches!(s, TargetState::Initial | TargetState::Unhealthy))
}

/// Round robin: the `counter`th pick among `len` targets.
pub fn round_robin(len: usize, counter: usize) -> Option<usize> {
    (len > 0).then(|| counter % len)
}

/// Least outstanding requests: the target with the fewest in flight; ties go to the first
/// one at or after `start`, so that equal targets still take turns.
pub fn least_outstanding(
    in_flight: impl ExactSizeIterator<Item = u32>,
    start: usize,
) -> Option<usize> {
    let len = in_flight.len();
    if len == 0 {
        return None;
    }
    let start = start % len;
    in_flight.enumerate().map(|(i, n)| (n, (i + len - start) % len, i)).min().map(|(_, _, i)| i)
}

/// Weighted choice: the `counter`th pick among groups of these weights; `None` when all
/// weights are 0. Over any `sum(weights)` consecutive counters each group gets exactly its
/// weight.
pub fn weighted(weights: &[u32], counter: usize) -> Option<usize> {
    let total: u64 = weights.iter().map(|&w| u64::from(w)).sum();
    if total == 0 {
        return None;
    }
    let mut n = (counter as u64) % total;
    for (i, &w) in weights.iter().enumerate() {
        if n < u64::from(w) {
            return Some(i);
        }
        n -= u64::from(w);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use TargetState::*;

    #[test]
    fn only_healthy_targets_are_routable() {
        assert_eq!(routable(&[Healthy, Unhealthy, Initial, Healthy, Draining]), vec![0, 3]);
        assert_eq!(routable(&[Unavailable, Unhealthy]), vec![0]);
    }

    #[test]
    fn with_none_healthy_it_fails_open_but_never_to_draining() {
        assert_eq!(routable(&[Unhealthy, Draining, Initial, Unused]), vec![0, 2]);
        assert!(routable(&[Draining, Unused]).is_empty());
        assert!(routable(&[]).is_empty());
    }

    #[test]
    fn round_robin_takes_turns() {
        let picks: Vec<_> = (0..6).filter_map(|c| round_robin(3, c)).collect();
        assert_eq!(picks, vec![0, 1, 2, 0, 1, 2]);
        assert_eq!(round_robin(0, 5), None);
    }

    #[test]
    fn least_outstanding_prefers_the_idlest_and_rotates_ties() {
        assert_eq!(least_outstanding([3, 1, 2].into_iter(), 0), Some(1));
        assert_eq!(least_outstanding([0, 0, 0].into_iter(), 0), Some(0));
        assert_eq!(least_outstanding([0, 0, 0].into_iter(), 1), Some(1));
        assert_eq!(least_outstanding([0, 5, 0].into_iter(), 1), Some(2));
        assert_eq!(least_outstanding([0, 5, 0].into_iter(), 7), Some(2));
        assert_eq!(
            least_outstanding(std::iter::empty::<u32>().collect::<Vec<_>>().into_iter(), 0),
            None
        );
    }

    #[test]
    fn weighted_forward_gives_each_group_its_share() {
        let mut counts = [0; 3];
        for c in 0..1000 {
            counts[weighted(&[1, 3, 0], c).expect("some weight")] += 1;
        }
        assert_eq!(counts, [250, 750, 0]);
        assert_eq!(weighted(&[0, 0], 1), None);
        assert_eq!(weighted(&[], 1), None);
        assert_eq!(weighted(&[999], usize::MAX), Some(0));
    }
}
