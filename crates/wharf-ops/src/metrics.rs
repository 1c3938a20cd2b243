//! CloudWatch metric data, kept in this server's memory: the metrics Wharf
//! gathers each period (ECS services' CPU and memory, load balancers'
//! requests, capacity providers' reservation) and those PutMetricData is
//! given. Each series keeps its points for [`RETENTION_MS`] (at most
//! [`MAX_POINTS`]); they are not written to the store, so a restart starts
//! them afresh, and with several servers each answers what it gathered or
//! was given.

use std::collections::HashMap;
use std::sync::Mutex;

use wharf_model::cloudwatch::series::{MetricKey, Series, Stats};

/// How long points are kept: three hours.
pub const RETENTION_MS: i64 = 3 * 3600 * 1000;
/// The most points one series keeps.
pub const MAX_POINTS: usize = 4_000;

/// The region's series, by metric.
type Region = HashMap<MetricKey, Series>;

/// Every region's metric series.
#[derive(Debug, Default)]
pub struct MetricStore {
    regions: Mutex<HashMap<String, Region>>,
}

impl MetricStore {
    /// No series yet.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Region>> {
        self.regions.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Adds values to a series at `ts_ms` (`now_ms` decides what is too old).
    pub fn put(
        &self,
        region: &str,
        key: MetricKey,
        ts_ms: i64,
        stats: Stats,
        unit: Option<String>,
        now_ms: i64,
    ) {
        let mut all = self.lock();
        let series = all.entry(region.to_owned()).or_default().entry(key).or_default();
        series.put(ts_ms, stats, MAX_POINTS, now_ms - RETENTION_MS);
        if unit.is_some() {
            series.unit = unit;
        }
    }

    /// The values of a series by period in `[start_ms, end_ms)`, oldest
    /// first; empty when there is no such series.
    pub fn query(
        &self,
        region: &str,
        key: &MetricKey,
        start_ms: i64,
        end_ms: i64,
        period_ms: i64,
    ) -> Vec<(i64, Stats)> {
        let all = self.lock();
        all.get(region)
            .and_then(|r| r.get(key))
            .map(|s| s.aggregate(start_ms, end_ms, period_ms))
            .unwrap_or_default()
    }

    /// The unit a series' values were put with, if any.
    pub fn unit(&self, region: &str, key: &MetricKey) -> Option<String> {
        self.lock().get(region)?.get(key)?.unit.clone()
    }

    /// The region's metrics that `keep` accepts, with their newest point's
    /// time, sorted.
    pub fn list(&self, region: &str, keep: impl Fn(&MetricKey) -> bool) -> Vec<(MetricKey, i64)> {
        let all = self.lock();
        let mut out: Vec<(MetricKey, i64)> = all
            .get(region)
            .map(|r| {
                r.iter()
                    .filter(|(k, _)| keep(k))
                    .filter_map(|(k, s)| Some((k.clone(), s.last_ms()?)))
                    .collect()
            })
            .unwrap_or_default();
        out.sort();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wharf_model::cloudwatch::shapes::Statistic;

    #[test]
    fn series_are_kept_per_region_and_metric() {
        let m = MetricStore::new();
        let cpu = MetricKey::new(
            "AWS/ECS",
            "CPUUtilization",
            &[("ClusterName", "c"), ("ServiceName", "web")],
        );
        m.put("us-east-1", cpu.clone(), 60_000, Stats::one(40.0), Some("Percent".into()), 60_000);
        m.put("us-east-1", cpu.clone(), 60_500, Stats::one(60.0), None, 60_500);
        let got = m.query("us-east-1", &cpu, 60_000, 120_000, 60_000);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].1.statistic(&Statistic::Average), Some(50.0));
        assert!(m.query("eu-west-1", &cpu, 0, 120_000, 60_000).is_empty());
        assert_eq!(m.list("us-east-1", |k| k.namespace == "AWS/ECS"), vec![(cpu.clone(), 60_500)]);
        // More than three hours later both points are gone.
        let later = 60_500 + RETENTION_MS + 1;
        m.put("us-east-1", cpu.clone(), later, Stats::one(1.0), None, later);
        let left = m.query("us-east-1", &cpu, 0, i64::MAX, 60_000);
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].1.statistic(&Statistic::Sum), Some(1.0));
    }
}
