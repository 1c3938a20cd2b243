//! CloudWatch metric data: the metrics Wharf gathers each period (ECS
//! services' CPU and memory, load balancers' requests, capacity providers'
//! reservation) and those PutMetricData is given.
//!
//! Each write is one batch of data points, kept in the store
//! ([`Kind::MetricBatch`]) for [`RETENTION_MS`], and applied to this
//! server's series in memory, which queries and alarms read. Every server
//! applies the batches the others wrote ([`catch_up`], about once a second),
//! and a server that starts applies what the store holds: a point accepted
//! by any server is seen by all of them and survives restarts. Each series
//! keeps its points for [`RETENTION_MS`] (at most [`MAX_POINTS`]).

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

use wharf_model::cloudwatch::series::{Datum, MetricBatch, MetricKey, Series, Stats};
use wharf_store::{Kind, Write};

use crate::{Ops, OpsError, Region};

/// How long points are kept: three hours.
pub const RETENTION_MS: i64 = 3 * 3600 * 1000;
/// The most points one series keeps.
pub const MAX_POINTS: usize = 4_000;

/// How far back a catch-up looks again for batches it has not applied: a
/// write is dated before it commits, so one committed late sorts before
/// batches already applied.
pub const CATCH_UP_WINDOW_MS: i64 = 30_000;
/// Batches read from the store at a time.
const BATCH_PAGE: usize = 200;

/// The region's series, by metric.
type RegionSeries = HashMap<MetricKey, Series>;

/// Every region's metric series, and which stored batches they hold.
#[derive(Debug, Default)]
pub struct MetricStore {
    regions: Mutex<HashMap<String, RegionSeries>>,
    applied: Mutex<Applied>,
}

/// What this server has applied of the stored batches.
#[derive(Debug, Default)]
struct Applied {
    /// Per region, the keys of the batches applied that a catch-up can
    /// still list (those within its window).
    keys: HashMap<String, BTreeSet<String>>,
    /// When the last catch-up began (ms); `None` before the first.
    last_ms: Option<i64>,
}

impl MetricStore {
    /// No series yet.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, RegionSeries>> {
        self.regions.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn applied(&self) -> std::sync::MutexGuard<'_, Applied> {
        self.applied.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Applies the stored batch `key` of `region` unless it already was.
    fn apply(&self, region: &str, key: &str, batch: MetricBatch, now_ms: i64) {
        {
            let mut applied = self.applied();
            let keys = applied.keys.entry(region.to_owned()).or_default();
            if !keys.insert(key.to_owned()) {
                return;
            }
        }
        for d in batch.datums {
            self.put(region, d.key, d.ts_ms, d.stats, d.unit, now_ms);
        }
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

/// The store key of a batch written at `now_ms`: the time first, so that
/// keys sort by it, then a random part.
fn batch_key(now_ms: i64, random: u64) -> String {
    format!("{:013}-{random:016x}", now_ms.max(0))
}

/// The first key of batches written at or after `ms`.
fn from_key(ms: i64) -> String {
    format!("{:013}", ms.max(0))
}

/// Keeps `datums` (one write's data points): in the store first, then in
/// this server's series. Nothing is kept if the store refuses.
pub async fn record(r: Region<'_>, mut datums: Vec<Datum>) -> Result<(), OpsError> {
    // JSON has no NaN or infinity; CloudWatch refuses them too.
    datums.retain(|d| <[f64; 4]>::from(d.stats).iter().all(|v| v.is_finite()));
    if datums.is_empty() {
        return Ok(());
    }
    let now = r.now_ms();
    let key = batch_key(now, r.ops.entropy.next_u64());
    let batch = MetricBatch { datums };
    let json = serde_json::to_string(&batch)
        .map_err(|e| OpsError::Store(wharf_store::StoreError::Database(e.to_string())))?;
    r.store()
        .update(Kind::MetricBatch, r.name, &key, Box::new(move |_| Ok(Write::Put(json.clone()))))
        .await?;
    r.ops.metrics.apply(r.name, &key, batch, now);
    Ok(())
}

/// Applies the batches other servers wrote since the last catch-up (at the
/// first, every batch the store still keeps); how many were applied.
pub async fn catch_up(ops: &Ops) -> Result<usize, OpsError> {
    let now = ops.clock.now_millis();
    let last = ops.metrics.applied().last_ms;
    let from = last.map_or(now - RETENTION_MS, |t| t - CATCH_UP_WINDOW_MS);
    let mut applied = 0;
    for region in ops.store.regions(Kind::MetricBatch).await? {
        let mut after = from_key(from);
        loop {
            let page = ops.store.list(Kind::MetricBatch, &region, Some(&after), BATCH_PAGE).await?;
            let full = page.len() == BATCH_PAGE;
            for (key, json) in &page {
                if ops.metrics.applied().keys.get(&region).is_some_and(|k| k.contains(key)) {
                    continue;
                }
                match serde_json::from_str::<MetricBatch>(json) {
                    Ok(batch) => {
                        ops.metrics.apply(&region, key, batch, now);
                        applied += 1;
                    }
                    Err(e) => {
                        tracing::warn!(key, error = %e, "a stored metric batch does not parse")
                    }
                }
            }
            match page.last() {
                Some((key, _)) if full => after.clone_from(key),
                _ => break,
            }
        }
    }
    // What the next catch-up cannot list again need not be remembered.
    let mut state = ops.metrics.applied();
    let floor = from_key(now - CATCH_UP_WINDOW_MS);
    for keys in state.keys.values_mut() {
        *keys = keys.split_off(&floor);
    }
    state.last_ms = Some(now);
    Ok(applied)
}

/// Deletes the batches older than [`RETENTION_MS`]; how many.
pub async fn expire(ops: &Ops) -> Result<usize, OpsError> {
    let horizon = from_key(ops.clock.now_millis() - RETENTION_MS);
    let mut deleted = 0;
    for region in ops.store.regions(Kind::MetricBatch).await? {
        loop {
            let page = ops.store.list(Kind::MetricBatch, &region, None, BATCH_PAGE).await?;
            let old: Vec<&String> =
                page.iter().map(|(k, _)| k).take_while(|k| **k < horizon).collect();
            for key in &old {
                ops.store
                    .update(Kind::MetricBatch, &region, key, Box::new(|_| Ok(Write::Delete)))
                    .await?;
            }
            deleted += old.len();
            if old.len() < BATCH_PAGE {
                break;
            }
        }
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use wharf_model::clock::{Clock, FakeClock};
    use wharf_model::cloudwatch::shapes::Statistic;
    use wharf_store::SqliteStore;

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

    /// Two servers on one store, the second's clock and store shared.
    fn servers(dir: &std::path::Path) -> (Ops, Ops, Arc<FakeClock>) {
        let store: Arc<dyn wharf_store::Store> =
            Arc::new(SqliteStore::open(&dir.join("wharf.db")).expect("store"));
        let clock = Arc::new(FakeClock::at(1_800_000_000_000));
        let a = Ops::new(store.clone(), clock.clone(), "000000000000");
        let b = Ops::new(store, clock.clone(), "000000000000");
        (a, b, clock)
    }

    fn backlog(ts_ms: i64, v: f64) -> Datum {
        Datum {
            key: MetricKey::new("App", "Backlog", &[("Queue", "q")]),
            ts_ms,
            stats: Stats::one(v),
            unit: Some("Count".into()),
        }
    }

    fn sum(ops: &Ops, now: i64) -> Option<f64> {
        let key = MetricKey::new("App", "Backlog", &[("Queue", "q")]);
        let points = ops.metrics.query("us-east-1", &key, now - 600_000, now + 1, 600_000);
        points.first().and_then(|(_, s)| s.statistic(&Statistic::Sum))
    }

    #[tokio::test]
    async fn a_write_to_one_server_is_seen_by_the_others_and_after_a_restart() {
        let dir = tempfile::tempdir().expect("dir");
        let (a, b, clock) = servers(dir.path());
        let now = clock.now_millis();
        // Nothing stored yet: the first catch-up reads the whole retention.
        assert_eq!(catch_up(&b).await.expect("catch up"), 0);
        record(a.region("us-east-1"), vec![backlog(now, 3.0), backlog(now, 4.0)])
            .await
            .expect("kept");
        assert_eq!(sum(&a, now), Some(7.0), "the writer holds it at once");
        assert_eq!(sum(&b, now), None);
        clock.advance_millis(1_000);
        assert_eq!(catch_up(&b).await.expect("catch up"), 1);
        assert_eq!(sum(&b, now), Some(7.0));
        // Neither applies a batch twice.
        assert_eq!(catch_up(&a).await.expect("catch up"), 0);
        assert_eq!(catch_up(&b).await.expect("catch up"), 0);
        assert_eq!((sum(&a, now), sum(&b, now)), (Some(7.0), Some(7.0)));
        // Points that are not numbers JSON can hold are not kept.
        record(a.region("us-east-1"), vec![backlog(now, f64::NAN)]).await.expect("nothing to keep");
        assert_eq!(
            a.store.list(Kind::MetricBatch, "us-east-1", None, 10).await.expect("list").len(),
            1
        );

        // A server that starts later reads what the store keeps.
        let restarted = Ops::new(a.store.clone(), clock.clone(), "000000000000");
        assert_eq!(catch_up(&restarted).await.expect("catch up"), 1);
        assert_eq!(sum(&restarted, now), Some(7.0));

        // After the retention the batch is deleted.
        assert_eq!(expire(&a).await.expect("expire"), 0);
        clock.advance_millis(RETENTION_MS);
        assert_eq!(expire(&a).await.expect("expire"), 1);
        let fresh = Ops::new(a.store.clone(), clock.clone(), "000000000000");
        assert_eq!(catch_up(&fresh).await.expect("catch up"), 0);
    }

    #[tokio::test]
    async fn a_batch_committed_late_is_still_applied() {
        let dir = tempfile::tempdir().expect("dir");
        let (a, b, clock) = servers(dir.path());
        let now = clock.now_millis();
        catch_up(&b).await.expect("catch up");
        clock.advance_millis(5_000);
        catch_up(&b).await.expect("catch up");
        // A write dated before b's last catch-up that commits after it.
        let key = batch_key(now + 4_000, 7);
        let json =
            serde_json::to_string(&MetricBatch { datums: vec![backlog(now, 2.0)] }).expect("JSON");
        a.store
            .update(
                Kind::MetricBatch,
                "us-east-1",
                &key,
                Box::new(move |_| Ok(Write::Put(json.clone()))),
            )
            .await
            .expect("stored");
        clock.advance_millis(1_000);
        assert_eq!(catch_up(&b).await.expect("catch up"), 1);
        assert_eq!(sum(&b, now), Some(2.0));
    }
}
