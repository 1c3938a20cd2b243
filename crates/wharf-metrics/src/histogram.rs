//! [`Histogram`]: durations counted into fixed buckets with atomics, for request latency.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Bucket upper bounds, in seconds, for request latency: from half a millisecond (an API
/// call answered from memory, a proxied request on loopback) to ten seconds.
pub const LATENCY_SECONDS: &[f64] =
    &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// Durations counted into buckets: one atomic per bucket and one for the sum, so that
/// [`Histogram::observe`] takes no lock and allocates nothing.
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [f64],
    /// Each bound in nanoseconds, to compare with an observation without floats.
    bounds_ns: Box<[u64]>,
    /// Observations per bucket (not cumulative); the last is above every bound (`+Inf`).
    counts: Box<[AtomicU64]>,
    sum_ns: AtomicU64,
}

impl Histogram {
    /// An empty histogram with these upper bounds in seconds (ascending; `+Inf` is implied).
    pub fn new(bounds: &'static [f64]) -> Self {
        debug_assert!(bounds.windows(2).all(|w| w[0] < w[1]), "bounds must ascend");
        Self {
            bounds,
            bounds_ns: bounds.iter().map(|b| (b * 1e9) as u64).collect(),
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_ns: AtomicU64::new(0),
        }
    }

    /// Counts one observation.
    pub fn observe(&self, elapsed: Duration) {
        let ns = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        let bucket = self.bounds_ns.partition_point(|&bound| bound < ns);
        self.counts[bucket].fetch_add(1, Ordering::Relaxed);
        self.sum_ns.fetch_add(ns, Ordering::Relaxed);
    }

    /// The counts so far. The total is the sum of the buckets, so the snapshot is
    /// consistent even while observations go on (the sum may be a few observations ahead).
    pub fn snapshot(&self) -> HistogramSnapshot {
        let mut cumulative = Vec::with_capacity(self.counts.len());
        let mut total = 0;
        for count in self.counts.iter() {
            total += count.load(Ordering::Relaxed);
            cumulative.push(total);
        }
        HistogramSnapshot {
            bounds: self.bounds,
            cumulative,
            sum_seconds: self.sum_ns.load(Ordering::Relaxed) as f64 / 1e9,
        }
    }
}

/// A histogram's counts at one moment, as the exposition writes them.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramSnapshot {
    /// Upper bounds in seconds, ascending, without `+Inf`.
    pub bounds: &'static [f64],
    /// Observations at or below each bound, then the total (`le="+Inf"`).
    pub cumulative: Vec<u64>,
    /// The sum of every observation, in seconds.
    pub sum_seconds: f64,
}

impl HistogramSnapshot {
    /// How many observations there were.
    pub fn count(&self) -> u64 {
        self.cumulative.last().copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_fall_in_the_first_bucket_that_holds_them() {
        static BOUNDS: &[f64] = &[0.001, 0.01, 0.1];
        let h = Histogram::new(BOUNDS);
        h.observe(Duration::from_micros(500));
        h.observe(Duration::from_millis(1)); // on the bound: `le` is inclusive
        h.observe(Duration::from_millis(5));
        h.observe(Duration::from_secs(3));
        let s = h.snapshot();
        assert_eq!(s.cumulative, vec![2, 3, 3, 4]);
        assert_eq!(s.count(), 4);
        assert!((s.sum_seconds - 3.0065).abs() < 1e-9, "{}", s.sum_seconds);
    }

    #[test]
    fn an_empty_histogram_counts_nothing() {
        let s = Histogram::new(LATENCY_SECONDS).snapshot();
        assert_eq!(s.cumulative.len(), LATENCY_SECONDS.len() + 1);
        assert_eq!((s.count(), s.sum_seconds), (0, 0.0));
    }
}
