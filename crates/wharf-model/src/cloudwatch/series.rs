//! Metric series: one metric (namespace, name, dimensions) and its data
//! points, kept as statistic sets, and the statistics CloudWatch derives
//! from them over a period. Pure: the server keeps the series
//! (`wharf_ops::metrics`).

use std::collections::VecDeque;

use super::shapes::{Dimension, Statistic};

/// A metric: namespace, name and dimensions (sorted by name, as
/// CloudWatch treats them: a set).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MetricKey {
    /// `AWS/ECS`, or a custom namespace.
    pub namespace: String,
    /// `CPUUtilization`.
    pub name: String,
    /// (name, value), sorted by name.
    pub dimensions: Vec<(String, String)>,
}

impl MetricKey {
    /// A key from its parts; the dimensions are sorted.
    pub fn new(namespace: &str, name: &str, dimensions: &[(&str, &str)]) -> Self {
        let mut dims: Vec<(String, String)> =
            dimensions.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect();
        dims.sort();
        Self { namespace: namespace.to_owned(), name: name.to_owned(), dimensions: dims }
    }

    /// A key from wire dimensions.
    pub fn of(namespace: &str, name: &str, dimensions: &[Dimension]) -> Self {
        let mut dims: Vec<(String, String)> = dimensions
            .iter()
            .map(|d| (d.name.clone().unwrap_or_default(), d.value.clone().unwrap_or_default()))
            .collect();
        dims.sort();
        Self { namespace: namespace.to_owned(), name: name.to_owned(), dimensions: dims }
    }

    /// Its dimensions as wire shapes.
    pub fn wire_dimensions(&self) -> Vec<Dimension> {
        self.dimensions
            .iter()
            .map(|(n, v)| Dimension { name: Some(n.clone()), value: Some(v.clone()) })
            .collect()
    }
}

/// A statistic set: what CloudWatch keeps of the values of one moment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stats {
    /// How many values.
    pub count: f64,
    /// Their sum.
    pub sum: f64,
    /// The smallest.
    pub min: f64,
    /// The largest.
    pub max: f64,
}

impl Stats {
    /// One value.
    pub fn one(v: f64) -> Self {
        Self { count: 1.0, sum: v, min: v, max: v }
    }

    /// Both sets together.
    pub fn merge(self, other: Stats) -> Stats {
        Stats {
            count: self.count + other.count,
            sum: self.sum + other.sum,
            min: self.min.min(other.min),
            max: self.max.max(other.max),
        }
    }

    /// A statistic of the set; `None` for one Wharf does not compute.
    pub fn statistic(&self, s: &Statistic) -> Option<f64> {
        match s {
            Statistic::SampleCount => Some(self.count),
            Statistic::Sum => Some(self.sum),
            Statistic::Minimum => Some(self.min),
            Statistic::Maximum => Some(self.max),
            Statistic::Average => (self.count > 0.0).then(|| self.sum / self.count),
            Statistic::Unlisted(_) => None,
        }
    }
}

/// A series' points, oldest first: (time in ms, the values then).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Series {
    points: VecDeque<(i64, Stats)>,
    /// The unit given with its values, if any.
    pub unit: Option<String>,
}

impl Series {
    /// Adds values at `ts_ms` (merged with what is there at that very ms),
    /// keeping at most `keep` points and none before `horizon_ms`.
    pub fn put(&mut self, ts_ms: i64, stats: Stats, keep: usize, horizon_ms: i64) {
        let at = self.points.partition_point(|(t, _)| *t < ts_ms);
        match self.points.get_mut(at) {
            Some((t, s)) if *t == ts_ms => *s = s.merge(stats),
            _ => self.points.insert(at, (ts_ms, stats)),
        }
        while self.points.front().is_some_and(|(t, _)| *t < horizon_ms) {
            self.points.pop_front();
        }
        while self.points.len() > keep.max(1) {
            self.points.pop_front();
        }
    }

    /// The newest point's time.
    pub fn last_ms(&self) -> Option<i64> {
        self.points.back().map(|(t, _)| *t)
    }

    /// The values of each `period_ms` period in `[start_ms, end_ms)` that
    /// has any, oldest first, each with the start of its period (periods
    /// are aligned to `start_ms`).
    pub fn aggregate(&self, start_ms: i64, end_ms: i64, period_ms: i64) -> Vec<(i64, Stats)> {
        let period_ms = period_ms.max(1);
        let mut out: Vec<(i64, Stats)> = Vec::new();
        let from = self.points.partition_point(|(t, _)| *t < start_ms);
        for (t, s) in self.points.iter().skip(from) {
            if *t >= end_ms {
                break;
            }
            let bucket = start_ms + (t - start_ms) / period_ms * period_ms;
            match out.last_mut() {
                Some((b, acc)) if *b == bucket => *acc = acc.merge(*s),
                _ => out.push((bucket, *s)),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_aggregate_by_period() {
        let mut s = Series::default();
        for (t, v) in [(1_000, 10.0), (30_000, 30.0), (61_000, 50.0), (59_999, 20.0)] {
            s.put(t, Stats::one(v), 100, 0);
        }
        let a = s.aggregate(0, 120_000, 60_000);
        assert_eq!(a.len(), 2);
        assert_eq!(a[0].0, 0);
        assert_eq!(a[0].1.statistic(&Statistic::Average), Some(20.0));
        assert_eq!(a[0].1.statistic(&Statistic::Maximum), Some(30.0));
        assert_eq!(a[0].1.statistic(&Statistic::SampleCount), Some(3.0));
        assert_eq!(a[1].1.statistic(&Statistic::Sum), Some(50.0));
        // The end is exclusive; the start aligns the periods.
        assert_eq!(s.aggregate(30_000, 61_000, 30_000).len(), 1);
    }

    #[test]
    fn old_points_go() {
        let mut s = Series::default();
        for t in 0..10 {
            s.put(t * 1_000, Stats::one(1.0), 5, 0);
        }
        assert_eq!(s.aggregate(0, 100_000, 1_000).len(), 5);
        s.put(10_000, Stats::one(1.0), 100, 8_000);
        assert_eq!(s.aggregate(0, 100_000, 1_000)[0].0, 8_000);
        // The same ms merges.
        s.put(10_000, Stats::one(3.0), 100, 0);
        let last = *s.aggregate(10_000, 10_001, 1).last().unwrap();
        assert_eq!(last.1.statistic(&Statistic::Average), Some(2.0));
    }

    #[test]
    fn dimensions_are_a_set() {
        assert_eq!(
            MetricKey::new(
                "AWS/ECS",
                "CPUUtilization",
                &[("ServiceName", "web"), ("ClusterName", "c")]
            ),
            MetricKey::new(
                "AWS/ECS",
                "CPUUtilization",
                &[("ClusterName", "c"), ("ServiceName", "web")]
            )
        );
    }
}
