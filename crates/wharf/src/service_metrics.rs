//! The metrics Wharf publishes to its CloudWatch each metric period
//! (`--metrics-period`), from what really runs:
//!
//! - `AWS/ECS` `CPUUtilization` and `MemoryUtilization` by `ClusterName` and
//!   `ServiceName`: each RUNNING task of the service counts the CPU its
//!   containers used since the last period (from their Docker stats, sampled
//!   by the agents) against the CPU units it reserves, and the memory they
//!   use against the MiB it reserves, in percent, as ECS computes a
//!   service's utilization (`wharf_model::cloudwatch::ecs`).
//! - `AWS/ApplicationELB` `RequestCount` by `LoadBalancer` and
//!   `TargetGroup`, and `RequestCountPerTarget` by `TargetGroup` (requests
//!   over the group's healthy targets), from the load balancers' counters.
//! - `AWS/ECS/ManagedScaling` `CapacityProviderReservation` by
//!   `ClusterName` and `CapacityProviderName`.
//!
//! The values of a period are dated at its start, once it has ended.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use wharf_agent::stats::ContainerStats;
use wharf_api::AppState;
use wharf_lb::Traffic;
use wharf_model::agent::ContainerUsage;
use wharf_model::cloudwatch::ecs as ecs_metrics;
use wharf_model::cloudwatch::series::{MetricKey, Stats};
use wharf_model::ecs::service::ServiceRecord;
use wharf_model::ecs::shapes::{DesiredStatus, Task};
use wharf_model::ecs::status::{ServiceStatus, TaskStatus};
use wharf_store::{Kind, Store, StoreError, TaskQuery};

/// Tasks read a page at a time.
const TASK_PAGE: usize = 1_000;

/// Where the figures come from.
#[derive(Clone)]
pub struct Gatherer {
    /// The server's state: its store, its metric data, the remote agents' stats.
    pub state: AppState,
    /// The embedded agent's containers, if it runs.
    pub embedded: Option<ContainerStats>,
    /// The load balancers' counters, if the data plane runs.
    pub lb: Option<Arc<Traffic>>,
    /// The metric period.
    pub period: Duration,
}

impl std::fmt::Debug for Gatherer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gatherer").field("period", &self.period).finish_non_exhaustive()
    }
}

/// What the previous pass saw, to count what happened since.
#[derive(Debug, Default)]
struct Previous {
    /// (task, container) → CPU seconds.
    cpu: HashMap<(String, String), f64>,
    /// (load balancer, target group) → requests.
    requests: HashMap<(String, String), u64>,
    /// When (ms).
    at_ms: Option<i64>,
}

/// A task's use in the last period: CPU units and MiB.
#[derive(Debug, Default, Clone, Copy)]
struct Use {
    cpu_units: f64,
    memory_mib: f64,
}

impl Gatherer {
    fn samples(&self, now_ms: i64) -> Vec<ContainerUsage> {
        let mut all: Vec<ContainerUsage> = self
            .embedded
            .as_ref()
            .map(|c| c.latest().iter().map(|s| s.to_wire()).collect())
            .unwrap_or_default();
        all.extend(self.state.agent_stats.latest(now_ms, self.state.heartbeat_interval_ms));
        all
    }

    /// One pass at `now_ms`: the period that just ended.
    async fn pass(&self, prev: &mut Previous, now_ms: i64) -> Result<(), StoreError> {
        let period_ms = i64::try_from(self.period.as_millis()).unwrap_or(60_000).max(1);
        let at = now_ms.div_euclid(period_ms) * period_ms - period_ms;
        let elapsed_s = prev.at_ms.map(|p| (now_ms - p) as f64 / 1000.0);
        prev.at_ms = Some(now_ms);
        // Each task's use since the last pass.
        let mut uses: HashMap<String, Use> = HashMap::new();
        let mut cpu_now = HashMap::new();
        for s in self.samples(now_ms) {
            let key = (s.task_id.clone(), s.container.clone());
            let u = uses.entry(s.task_id.clone()).or_default();
            u.memory_mib += s.memory_bytes as f64 / (1024.0 * 1024.0);
            if let (Some(before), Some(secs)) = (prev.cpu.get(&key), elapsed_s) {
                if secs > 0.0 && s.cpu_seconds >= *before {
                    u.cpu_units += (s.cpu_seconds - before) / secs * 1024.0;
                }
            }
            cpu_now.insert(key, s.cpu_seconds);
        }
        let first = prev.cpu.is_empty();
        prev.cpu = cpu_now;
        let store = &*self.state.ops.store;
        let metrics = &self.state.ops.metrics;
        for region in store.regions(Kind::Service).await? {
            // Each cluster's running tasks once (not once per service), and
            // only those some agent measured are read.
            type Usage = (Vec<(f64, f64)>, Vec<(f64, f64)>);
            let mut by_service: BTreeMap<(String, String), Usage> = services(store, &region)
                .await?
                .iter()
                .map(|rec| (names(rec), Usage::default()))
                .collect();
            let clusters: BTreeSet<String> = by_service.keys().map(|(c, _)| c.clone()).collect();
            for cluster in clusters {
                let mut after = None;
                loop {
                    let page = store
                        .list_tasks(
                            &region,
                            TaskQuery {
                                cluster: cluster.clone(),
                                desired_status: Some(DesiredStatus::Running),
                                after: after.clone(),
                                limit: TASK_PAGE,
                                ..TaskQuery::default()
                            },
                        )
                        .await?;
                    after = page.last().map(|t| t.id.clone());
                    for t in page.iter().filter(|t| t.last_status == TaskStatus::Running) {
                        let Some(u) = uses.get(&t.id) else { continue };
                        let Ok(task) = serde_json::from_str::<Task>(&t.json) else { continue };
                        let Some(service) =
                            task.group.as_deref().and_then(|g| g.strip_prefix("service:"))
                        else {
                            continue;
                        };
                        let Some((cpu, mem)) =
                            by_service.get_mut(&(cluster.clone(), service.to_owned()))
                        else {
                            continue;
                        };
                        let (reserved_cpu, reserved_mem) = ecs_metrics::reservation(&task);
                        if !first {
                            cpu.push((u.cpu_units, f64::from(reserved_cpu)));
                        }
                        mem.push((u.memory_mib, f64::from(reserved_mem)));
                    }
                    if page.len() < TASK_PAGE {
                        break;
                    }
                }
            }
            for ((cluster, name), (cpu, mem)) in by_service {
                let (cpu, mem) = (ecs_metrics::utilization(&cpu), ecs_metrics::utilization(&mem));
                let dims = [("ClusterName", cluster.as_str()), ("ServiceName", name.as_str())];
                for (metric, value) in [("CPUUtilization", cpu), ("MemoryUtilization", mem)] {
                    if let Some(v) = value {
                        let key = MetricKey::new("AWS/ECS", metric, &dims);
                        metrics.put(&region, key, at, v, Some("Percent".into()), now_ms);
                    }
                }
            }
        }
        self.load_balancers(prev, at, now_ms).await?;
        self.capacity_providers(at, now_ms).await?;
        Ok(())
    }

    async fn load_balancers(
        &self,
        prev: &mut Previous,
        at: i64,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let Some(lb) = &self.lb else { return Ok(()) };
        let store = &*self.state.ops.store;
        let regions = store.elb_regions().await?;
        let mut per_group: HashMap<String, f64> = HashMap::new();
        let mut now_counts = HashMap::new();
        for (load_balancer, group, total) in lb.totals() {
            if group.is_empty() {
                continue;
            }
            let key = (load_balancer.clone(), group.clone());
            let before = prev.requests.get(&key).copied();
            now_counts.insert(key, total);
            let Some(before) = before else { continue };
            let n = total.saturating_sub(before) as f64;
            *per_group.entry(group.clone()).or_default() += n;
            for region in &regions {
                let dims =
                    [("LoadBalancer", load_balancer.as_str()), ("TargetGroup", group.as_str())];
                let key = MetricKey::new("AWS/ApplicationELB", "RequestCount", &dims);
                self.state.ops.metrics.put(
                    region,
                    key,
                    at,
                    Stats::one(n),
                    Some("Count".into()),
                    now_ms,
                );
            }
        }
        prev.requests = now_counts;
        for region in &regions {
            for (group, n) in &per_group {
                let arn = format!(
                    "arn:aws:elasticloadbalancing:{region}:{}:{group}",
                    self.state.ops.account_id
                );
                let Some(healthy) = healthy_targets(store, region, &arn, now_ms).await? else {
                    continue;
                };
                let per_target = n / healthy.max(1) as f64;
                let key = MetricKey::new(
                    "AWS/ApplicationELB",
                    "RequestCountPerTarget",
                    &[("TargetGroup", group)],
                );
                self.state.ops.metrics.put(
                    region,
                    key,
                    at,
                    Stats::one(per_target),
                    Some("Count".into()),
                    now_ms,
                );
            }
        }
        Ok(())
    }

    async fn capacity_providers(&self, at: i64, now_ms: i64) -> Result<(), StoreError> {
        use wharf_model::ecs::capacity::scaling::Status;
        let store = &*self.state.ops.store;
        for region in store.regions(Kind::CapacityScaling).await? {
            for (key, body) in store.list(Kind::CapacityScaling, &region, None, usize::MAX).await? {
                let Some((cluster, provider)) = key.split_once('/') else { continue };
                let Ok(s) = serde_json::from_str::<Status>(&body) else { continue };
                let dims = [("ClusterName", cluster), ("CapacityProviderName", provider)];
                let key =
                    MetricKey::new("AWS/ECS/ManagedScaling", "CapacityProviderReservation", &dims);
                let v = Stats::one(s.capacity_provider_reservation);
                self.state.ops.metrics.put(&region, key, at, v, Some("Percent".into()), now_ms);
            }
        }
        Ok(())
    }
}

fn names(rec: &ServiceRecord) -> (String, String) {
    let cluster = rec
        .service
        .cluster_arn
        .as_deref()
        .map(|a| wharf_model::arn::cluster_name(a).to_owned())
        .unwrap_or_default();
    (cluster, rec.service.service_name.clone().unwrap_or_default())
}

/// Every ACTIVE service of a region.
async fn services(store: &dyn Store, region: &str) -> Result<Vec<ServiceRecord>, StoreError> {
    const PAGE: usize = 500;
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = store.list(Kind::Service, region, after.as_deref(), PAGE).await?;
        let full = page.len() == PAGE;
        after = page.last().map(|(k, _)| k.clone());
        for (_, body) in page {
            if let Ok(rec) = serde_json::from_str::<ServiceRecord>(&body) {
                if rec.service.status == Some(ServiceStatus::Active) {
                    out.push(rec);
                }
            }
        }
        if !full {
            return Ok(out);
        }
    }
}

/// How many targets of a target group are healthy; `None` when the group is
/// not in this region.
async fn healthy_targets(
    store: &dyn Store,
    region: &str,
    arn: &str,
    now_ms: i64,
) -> Result<Option<usize>, StoreError> {
    use wharf_model::elbv2::shapes::TargetHealthStateEnum;
    let found = Arc::new(std::sync::Mutex::new(None));
    let out = found.clone();
    let arn = arn.to_owned();
    store
        .elb_read(
            region,
            Box::new(move |elb| {
                if elb.get(&arn)?.is_none() {
                    return Ok(());
                }
                let in_use = !elb.uses_of(&arn)?.is_empty();
                let mut healthy = 0;
                for t in elb.targets(&arn)? {
                    let Ok(record) =
                        serde_json::from_str::<wharf_model::elbv2::TargetRecord>(&t.body)
                    else {
                        continue;
                    };
                    let h = wharf_model::elbv2::health::describe(Some(&record), in_use, 0, now_ms);
                    healthy += usize::from(h.state == Some(TargetHealthStateEnum::Healthy));
                }
                if let Ok(mut o) = out.lock() {
                    *o = Some(healthy);
                }
                Ok(())
            }),
        )
        .await?;
    let got = *found.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    Ok(got)
}

/// Runs a pass just after each period ends, until `shutdown` turns true.
pub async fn run(gatherer: Gatherer, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    let mut prev = Previous::default();
    let period_ms = i64::try_from(gatherer.period.as_millis()).unwrap_or(60_000).max(1);
    loop {
        let now = gatherer.state.ops.clock.now_millis();
        // A tenth of a period after the boundary: the agents' last samples are in.
        let next = (now.div_euclid(period_ms) + 1) * period_ms + period_ms / 10;
        let wait = Duration::from_millis(u64::try_from(next - now).unwrap_or(0));
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
        let now = gatherer.state.ops.clock.now_millis();
        if let Err(e) = gatherer.pass(&mut prev, now).await {
            tracing::warn!(error = %e, "metrics were not gathered");
        }
    }
}
