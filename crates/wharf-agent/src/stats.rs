//! Container CPU, memory and network figures from Docker's stats, sampled in the background
//! so that whoever reports them (`/metrics`) reads the latest sample instead of asking
//! Docker, which takes tens of milliseconds per container.
//!
//! The task drivers say which containers run ([`ContainerStats::watch`] when one starts,
//! [`ContainerStats::unwatch`] when it exits or its task ends); [`ContainerStats::run`]
//! asks Docker for each one's stats every interval, a few at a time, and keeps the answers.
//! Samples of containers no longer watched are never handed out.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::stream::{self, StreamExt};
use serde_json::Value;

use crate::runtime::Runtime;

/// How many stats calls are in flight at once: Docker answers each in tens of
/// milliseconds, and a host of many containers should not have them all asked at once.
const CONCURRENT_CALLS: usize = 4;

/// Who a container is, as metrics name it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ContainerLabels {
    /// The cluster's name.
    pub cluster: String,
    /// The task's ID (the last part of its ARN).
    pub task_id: String,
    /// The container's name in the task definition.
    pub container: String,
    /// The task definition as `family:revision`.
    pub task_definition: String,
}

/// One container's figures, from one stats answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Usage {
    /// CPU time used since the container started, in seconds (`cpu_usage.total_usage`).
    pub cpu_seconds: f64,
    /// Memory in use as `docker stats` shows it: usage less the inactive page cache.
    pub memory_bytes: u64,
    /// The memory limit (the host's memory when the container has none).
    pub memory_limit_bytes: Option<u64>,
    /// Bytes received over every network interface, if the container has its own.
    pub network_rx_bytes: Option<u64>,
    /// Bytes sent over every network interface, if the container has its own.
    pub network_tx_bytes: Option<u64>,
}

/// A container's latest figures.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerSample {
    /// Who it is.
    pub labels: Arc<ContainerLabels>,
    /// What it used.
    pub usage: Usage,
}

impl ContainerSample {
    /// The sample as an agent sends it to the server.
    pub fn to_wire(&self) -> wharf_model::agent::ContainerUsage {
        let (l, u) = (&*self.labels, &self.usage);
        wharf_model::agent::ContainerUsage {
            cluster: l.cluster.clone(),
            task_id: l.task_id.clone(),
            container: l.container.clone(),
            task_definition: l.task_definition.clone(),
            cpu_seconds: u.cpu_seconds,
            memory_bytes: u.memory_bytes,
            memory_limit_bytes: u.memory_limit_bytes,
            network_rx_bytes: u.network_rx_bytes,
            network_tx_bytes: u.network_tx_bytes,
        }
    }

    /// A sample an agent sent.
    pub fn from_wire(w: &wharf_model::agent::ContainerUsage) -> Self {
        Self {
            labels: Arc::new(ContainerLabels {
                cluster: w.cluster.clone(),
                task_id: w.task_id.clone(),
                container: w.container.clone(),
                task_definition: w.task_definition.clone(),
            }),
            usage: Usage {
                cpu_seconds: w.cpu_seconds,
                memory_bytes: w.memory_bytes,
                memory_limit_bytes: w.memory_limit_bytes,
                network_rx_bytes: w.network_rx_bytes,
                network_tx_bytes: w.network_tx_bytes,
            },
        }
    }
}

/// Reads the figures out of Docker's stats JSON (the Engine API's, cgroup v1 or v2);
/// `None` for a container that is not running (its stats carry no memory usage).
pub fn usage(stats: &Value) -> Option<Usage> {
    let cpu_ns = stats.pointer("/cpu_stats/cpu_usage/total_usage")?.as_u64()?;
    let memory = stats.get("memory_stats")?;
    let used = memory.get("usage")?.as_u64()?;
    let stat = |name: &str| memory.get("stats").and_then(|s| s.get(name)).and_then(Value::as_u64);
    // As the docker CLI computes it: cgroup v1 names the cache `total_inactive_file`,
    // cgroup v2 `inactive_file`.
    let memory_bytes = match (stat("total_inactive_file"), stat("inactive_file")) {
        (Some(v1), _) if v1 < used => used - v1,
        (_, Some(v2)) if v2 < used => used - v2,
        _ => used,
    };
    let networks = stats.get("networks").and_then(Value::as_object);
    let total = |field: &str| {
        networks.map(|n| n.values().filter_map(|i| i.get(field)?.as_u64()).sum::<u64>())
    };
    Some(Usage {
        cpu_seconds: cpu_ns as f64 / 1e9,
        memory_bytes,
        memory_limit_bytes: memory.get("limit").and_then(Value::as_u64).filter(|l| *l > 0),
        network_rx_bytes: total("rx_bytes"),
        network_tx_bytes: total("tx_bytes"),
    })
}

#[derive(Debug, Default)]
struct Inner {
    /// Docker container ID → who it is, for every running container.
    watched: Mutex<BTreeMap<String, Arc<ContainerLabels>>>,
    /// The last round's answers, by Docker container ID.
    latest: Mutex<Arc<BTreeMap<String, ContainerSample>>>,
}

/// The running containers to sample and their latest samples. Cheap to clone (clones
/// share one set); no lock is held across an `.await`.
#[derive(Debug, Clone, Default)]
pub struct ContainerStats {
    inner: Arc<Inner>,
}

impl ContainerStats {
    /// Nothing watched, nothing sampled.
    pub fn new() -> Self {
        Self::default()
    }

    /// Samples the container with this Docker ID from the next round on.
    pub fn watch(&self, docker_id: &str, labels: ContainerLabels) {
        let mut watched = self.inner.watched.lock().unwrap_or_else(|e| e.into_inner());
        watched.insert(docker_id.to_owned(), Arc::new(labels));
    }

    /// Stops sampling the container, and forgets its last sample.
    pub fn unwatch(&self, docker_id: &str) {
        let mut watched = self.inner.watched.lock().unwrap_or_else(|e| e.into_inner());
        watched.remove(docker_id);
    }

    /// The latest sample of every container still watched, in label order.
    pub fn latest(&self) -> Vec<ContainerSample> {
        let latest = self.inner.latest.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let watched = self.inner.watched.lock().unwrap_or_else(|e| e.into_inner());
        let mut samples: Vec<ContainerSample> = latest
            .iter()
            .filter(|(id, _)| watched.contains_key(*id))
            .map(|(_, sample)| sample.clone())
            .collect();
        drop(watched);
        samples.sort_by(|a, b| a.labels.cmp(&b.labels));
        samples
    }

    /// One round: asks the runtime for every watched container's stats, a few at a time,
    /// and keeps the answers. A container whose stats cannot be had has no sample.
    pub async fn sample(&self, runtime: &Arc<dyn Runtime>) {
        let targets: Vec<(String, Arc<ContainerLabels>)> = {
            let watched = self.inner.watched.lock().unwrap_or_else(|e| e.into_inner());
            watched.iter().map(|(id, labels)| (id.clone(), labels.clone())).collect()
        };
        let answers: Vec<(String, Option<ContainerSample>)> = stream::iter(targets)
            .map(|(id, labels)| {
                let runtime = runtime.clone();
                async move {
                    let sample = match runtime.stats(&id).await {
                        Ok(stats) => usage(&stats).map(|usage| ContainerSample { labels, usage }),
                        Err(e) => {
                            tracing::debug!(container = %id, error = %e, "container stats failed");
                            None
                        }
                    };
                    (id, sample)
                }
            })
            .buffer_unordered(CONCURRENT_CALLS)
            .collect()
            .await;
        let latest = answers.into_iter().filter_map(|(id, s)| Some((id, s?))).collect();
        *self.inner.latest.lock().unwrap_or_else(|e| e.into_inner()) = Arc::new(latest);
    }

    /// Samples every `interval` until `shutdown` turns true (or its sender goes).
    pub async fn run(
        self,
        runtime: Arc<dyn Runtime>,
        interval: Duration,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let stopped = async move {
            let _ = shutdown.wait_for(|stop| *stop).await;
        };
        tokio::pin!(stopped);
        loop {
            tokio::select! {
                _ = ticks.tick() => self.sample(&runtime).await,
                () = &mut stopped => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::fake::FakeRuntime;
    use crate::runtime::ContainerCreateBody;
    use serde_json::json;

    #[test]
    fn usage_reads_cgroup_v2_stats() {
        let stats = json!({
            "cpu_stats": {"cpu_usage": {"total_usage": 2_500_000_000_u64}},
            "memory_stats": {"usage": 10_000_000, "limit": 33_554_432,
                             "stats": {"inactive_file": 4_000_000, "anon": 6_000_000}},
            "networks": {"eth0": {"rx_bytes": 100, "tx_bytes": 7},
                         "eth1": {"rx_bytes": 20, "tx_bytes": 3}}
        });
        assert_eq!(
            usage(&stats),
            Some(Usage {
                cpu_seconds: 2.5,
                memory_bytes: 6_000_000,
                memory_limit_bytes: Some(33_554_432),
                network_rx_bytes: Some(120),
                network_tx_bytes: Some(10),
            })
        );
    }

    #[test]
    fn usage_reads_cgroup_v1_stats_and_tolerates_what_is_missing() {
        let stats = json!({
            "cpu_stats": {"cpu_usage": {"total_usage": 1_000}},
            "memory_stats": {"usage": 5_000, "stats": {"total_inactive_file": 1_000, "cache": 3_000}}
        });
        let u = usage(&stats).expect("usage");
        assert_eq!((u.memory_bytes, u.memory_limit_bytes, u.network_rx_bytes), (4_000, None, None));
        // More cache than usage: usage as it is.
        let odd = json!({"cpu_stats": {"cpu_usage": {"total_usage": 1}},
                         "memory_stats": {"usage": 5, "stats": {"inactive_file": 9}}});
        assert_eq!(usage(&odd).map(|u| u.memory_bytes), Some(5));
        // A stopped container: no memory usage, no sample.
        let stopped = json!({"cpu_stats": {"cpu_usage": {"total_usage": 1}}, "memory_stats": {}});
        assert_eq!(usage(&stopped), None);
    }

    fn labels(task: &str, container: &str) -> ContainerLabels {
        ContainerLabels {
            cluster: "default".into(),
            task_id: task.into(),
            container: container.into(),
            task_definition: "web:3".into(),
        }
    }

    #[tokio::test]
    async fn rounds_keep_the_latest_sample_of_each_watched_container() {
        let fake = Arc::new(FakeRuntime::new());
        fake.add_image("img:1");
        let mut ids = Vec::new();
        for name in ["a", "b"] {
            let body = ContainerCreateBody { image: Some("img:1".into()), ..Default::default() };
            let id = fake.create_container(name, body).await.unwrap();
            fake.start_container(&id).await.unwrap();
            ids.push(id);
        }
        let runtime: Arc<dyn Runtime> = fake.clone();
        let stats = ContainerStats::new();
        stats.sample(&runtime).await;
        assert!(stats.latest().is_empty(), "nothing watched, nothing sampled");

        stats.watch(&ids[1], labels("t1", "web"));
        stats.watch(&ids[0], labels("t1", "app"));
        stats.watch("gone", labels("t2", "web"));
        assert!(stats.latest().is_empty(), "no sample before a round");
        stats.sample(&runtime).await;
        let latest = stats.latest();
        let names: Vec<&str> = latest.iter().map(|s| s.labels.container.as_str()).collect();
        assert_eq!(names, ["app", "web"], "in label order; the missing container has none");
        assert_eq!(latest[0].usage.memory_bytes, 1_048_576);
        let first = latest[0].usage.cpu_seconds;
        stats.sample(&runtime).await;
        assert!(stats.latest()[0].usage.cpu_seconds > first, "a new round, new figures");

        stats.unwatch(&ids[0]);
        let names: Vec<String> =
            stats.latest().iter().map(|s| s.labels.container.clone()).collect();
        assert_eq!(names, ["web"], "an unwatched container's sample is not handed out");
        fake.exit(&ids[1], 0);
        stats.sample(&runtime).await;
        assert!(stats.latest().is_empty(), "a stopped container has no sample");
    }
}
