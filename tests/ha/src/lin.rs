//! A linearizability checker (Wing and Gong's search, with Lowe's
//! memoization of visited states) for the history of one task definition
//! family: registrations, each answered with the revision it got (or with
//! nothing known, when the call failed), and reads of the latest revision.
//!
//! The sequential model is a counter: a registration takes the next number;
//! a read returns the current one (or "none" before the first). A history
//! is linearizable if its operations can be put in one order, each at a
//! point between its call and its answer, in which every answer is the
//! model's. A call whose answer was lost may take effect at any point after
//! its call, or never. Histories of different families are checked apart
//! (linearizability is compositional).

use std::collections::HashSet;
use std::time::Duration;

/// What an operation asked and what it was told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// RegisterTaskDefinition: the revision given, or `None` if the call
    /// failed (it may or may not have registered one).
    Register(Option<i32>),
    /// DescribeTaskDefinition of the family (its latest revision): what it
    /// answered, `Some(0)` for "not found". Failed reads are left out.
    Read(i32),
}

/// One call of the history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Call {
    /// What it was.
    pub op: Op,
    /// When it was made (since the history's start).
    pub invoked: Duration,
    /// When it was answered; `None` if its answer was lost.
    pub answered: Option<Duration>,
}

/// The model's step: the next counter, if `op` may happen on `counter`.
fn step(counter: i32, op: Op) -> Option<i32> {
    match op {
        Op::Register(Some(r)) => (r == counter + 1).then_some(r),
        Op::Register(None) => Some(counter + 1),
        Op::Read(r) => (r == counter).then_some(counter),
    }
}

/// Why a history is not linearizable: the longest prefix of calls that
/// could be ordered (for the failure message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotLinearizable {
    /// How many calls could be placed at most.
    pub placed: usize,
    /// Of how many that must be.
    pub of: usize,
}

/// Checks a history; `budget` bounds the states explored (an error past it
/// says so, rather than running without bound).
pub fn check(calls: &[Call], budget: usize) -> Result<(), String> {
    let mut calls: Vec<Call> = calls.to_vec();
    calls.sort_by_key(|c| c.invoked);
    let n = calls.len();
    let must: usize = calls.iter().filter(|c| c.answered.is_some()).count();
    let words = n.div_ceil(64).max(1);
    let mut seen: HashSet<(Vec<u64>, i32)> = HashSet::new();
    // Depth-first search: (linearized set, counter, placed answered calls).
    let mut stack: Vec<(Vec<u64>, i32, usize)> = vec![(vec![0; words], 0, 0)];
    let mut best = 0;
    while let Some((done, counter, placed)) = stack.pop() {
        if placed == must {
            return Ok(());
        }
        best = best.max(placed);
        if seen.len() > budget {
            return Err(format!("the search passed {budget} states without an answer"));
        }
        if !seen.insert((done.clone(), counter)) {
            continue;
        }
        let is_done = |i: usize| done[i / 64] & (1 << (i % 64)) != 0;
        // A call may go next only if it was made before every call not yet
        // placed was answered.
        let horizon = (0..n)
            .filter(|i| !is_done(*i))
            .filter_map(|i| calls[i].answered)
            .min()
            .unwrap_or(Duration::MAX);
        for i in 0..n {
            if is_done(i) || calls[i].invoked > horizon {
                continue;
            }
            if let Some(next) = step(counter, calls[i].op) {
                let mut d = done.clone();
                d[i / 64] |= 1 << (i % 64);
                let placed = placed + usize::from(calls[i].answered.is_some());
                stack.push((d, next, placed));
            }
        }
    }
    Err(format!(
        "not linearizable: at most {best} of the {must} answered calls can be ordered consistently"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(invoked: u64, answered: Option<u64>, op: Op) -> Call {
        Call {
            op,
            invoked: Duration::from_millis(invoked),
            answered: answered.map(Duration::from_millis),
        }
    }

    #[test]
    fn concurrent_registrations_may_finish_in_any_order() {
        let h = [
            at(0, Some(10), Op::Register(Some(2))),
            at(1, Some(5), Op::Register(Some(1))),
            at(11, Some(12), Op::Read(2)),
        ];
        assert_eq!(check(&h, 10_000), Ok(()));
    }

    #[test]
    fn a_revision_before_an_earlier_finished_one_is_not() {
        // Registration 1 finished before registration 2 began, yet got the
        // higher number.
        let h = [at(0, Some(1), Op::Register(Some(2))), at(2, Some(3), Op::Register(Some(1)))];
        assert!(check(&h, 10_000).is_err());
    }

    #[test]
    fn a_stale_read_is_not() {
        let h = [at(0, Some(1), Op::Register(Some(1))), at(2, Some(3), Op::Read(0))];
        assert!(check(&h, 10_000).is_err());
        // Overlapping the registration, either answer is fine.
        let h = [at(0, Some(4), Op::Register(Some(1))), at(2, Some(3), Op::Read(0))];
        assert_eq!(check(&h, 10_000), Ok(()));
    }

    #[test]
    fn a_lost_answer_may_or_may_not_have_taken_effect() {
        // The failed call took revision 1 ...
        let took = [
            at(0, None, Op::Register(None)),
            at(5, Some(6), Op::Register(Some(2))),
            at(7, Some(8), Op::Read(2)),
        ];
        assert_eq!(check(&took, 10_000), Ok(()));
        // ... or nothing at all.
        let not = [at(0, None, Op::Register(None)), at(5, Some(6), Op::Register(Some(1)))];
        assert_eq!(check(&not, 10_000), Ok(()));
        // But the same number twice is never possible.
        let twice = [at(0, Some(1), Op::Register(Some(1))), at(2, Some(3), Op::Register(Some(1)))];
        assert!(check(&twice, 10_000).is_err());
    }
}
