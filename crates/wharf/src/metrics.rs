//! `GET /metrics` on the API port: the Prometheus text exposition of what the server
//! counts and holds.
//!
//! Each part comes from where it is known: API requests from the front door
//! ([`wharf_api::metrics`]), tasks and container instances from the store (grouped counts,
//! no record read), services' desired and running counts from their records, load balancer
//! traffic from the data plane ([`wharf_lb::traffic`]), and running containers' CPU and
//! memory from the embedded agent's background sampler ([`wharf_agent::stats`]) and from
//! what agents on other hosts send with their heartbeats. A scrape only reads: nothing here
//! calls Docker.

mod process;

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use http::header::CONTENT_TYPE;
use http::StatusCode;
use serde::Deserialize;
use wharf_agent::stats::{ContainerSample, ContainerStats};
use wharf_api::metrics::ApiMetrics;
use wharf_lb::Traffic;
use wharf_metrics::{Encoder, MetricType};
use wharf_model::ecs::status::ServiceStatus;
use wharf_store::{Kind, StatusCounts, Store, StoreError};

/// Service records read per store call.
const SERVICES_PAGE: usize = 1_000;

/// Where a scrape reads from.
#[derive(Debug, Clone)]
pub struct Sources {
    /// Tasks, container instances and services.
    pub store: Arc<dyn Store>,
    /// The API's request counts.
    pub api: Arc<ApiMetrics>,
    /// The load balancers' traffic, when the data plane runs.
    pub lb: Option<Arc<Traffic>>,
    /// The embedded agent's container samples, when it runs.
    pub containers: Option<ContainerStats>,
    /// What agents on other hosts sent with their heartbeats, and their interval (ms).
    pub agents: (Arc<wharf_api::agent_stats::AgentStats>, u64),
    /// The time, for how fresh the agents' figures are.
    pub clock: Arc<dyn wharf_model::clock::Clock>,
}

/// The `/metrics` route.
pub fn router(sources: Sources) -> Router {
    Router::new().route("/metrics", get(scrape)).with_state(Arc::new(sources))
}

async fn scrape(State(sources): State<Arc<Sources>>) -> Response {
    match gather(&sources).await {
        Ok(text) => ([(CONTENT_TYPE, wharf_metrics::CONTENT_TYPE)], text).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "metrics could not be gathered");
            let text = format!("metrics could not be gathered: {e}\n");
            (StatusCode::INTERNAL_SERVER_ERROR, text).into_response()
        }
    }
}

/// The whole exposition.
pub async fn gather(sources: &Sources) -> Result<String, StoreError> {
    let mut encoder = Encoder::new();
    sources.api.encode(&mut encoder);
    encode_counts(&sources.store.status_counts().await?, &mut encoder);
    encode_services(&*sources.store, &mut encoder).await?;
    encode_capacity_scaling(&*sources.store, &mut encoder).await?;
    if let Some(lb) = &sources.lb {
        lb.encode(&mut encoder);
    }
    let mut samples = sources.containers.as_ref().map(ContainerStats::latest).unwrap_or_default();
    let (agents, interval_ms) = &sources.agents;
    samples.extend(
        agents
            .latest(sources.clock.now_millis(), *interval_ms)
            .iter()
            .map(ContainerSample::from_wire),
    );
    samples.sort_by(|a, b| a.labels.cmp(&b.labels));
    encode_containers(&samples, &mut encoder);
    process::encode(&mut encoder);
    Ok(encoder.finish())
}

/// Each custom capacity provider's managed scaling, by region, cluster and
/// provider: `CapacityProviderReservation` and the hosts its group needs,
/// has and should have.
async fn encode_capacity_scaling(
    store: &dyn Store,
    encoder: &mut Encoder,
) -> Result<(), StoreError> {
    use wharf_model::ecs::capacity::scaling::Status;
    let mut rows: Vec<(String, String, String, Status)> = Vec::new();
    for region in store.regions(Kind::CapacityScaling).await? {
        for (key, body) in store.list(Kind::CapacityScaling, &region, None, usize::MAX).await? {
            let Some((cluster, provider)) = key.split_once('/') else { continue };
            let Ok(status) = serde_json::from_str::<Status>(&body) else { continue };
            rows.push((region.clone(), cluster.to_owned(), provider.to_owned(), status));
        }
    }
    type Value = fn(&Status) -> f64;
    let families: [(&'static str, &str, Value); 4] = [
        (
            "wharf_capacity_provider_reservation",
            "CapacityProviderReservation of a custom capacity provider in a cluster (percent).",
            |s| s.capacity_provider_reservation,
        ),
        ("wharf_capacity_provider_needed_hosts", "Hosts its group needs (M).", |s| {
            f64::from(s.needed)
        }),
        ("wharf_capacity_provider_hosts", "Hosts its group has (N).", |s| f64::from(s.current)),
        (
            "wharf_capacity_provider_desired_hosts",
            "Hosts its group should have, as managed scaling decided.",
            |s| f64::from(s.desired),
        ),
    ];
    for (name, help, value) in families {
        let mut family = encoder.family(name, help, MetricType::Gauge);
        for (region, cluster, provider, status) in &rows {
            let labels = [
                ("region", region.as_str()),
                ("cluster", cluster.as_str()),
                ("capacity_provider", provider.as_str()),
            ];
            family.sample(&labels, value(status));
        }
    }
    Ok(())
}

fn encode_counts(counts: &StatusCounts, encoder: &mut Encoder) {
    let mut tasks = encoder.family(
        "wharf_tasks",
        "Tasks by region, cluster, lastStatus and desiredStatus (stopped tasks until they are \
         purged).",
        MetricType::Gauge,
    );
    for t in &counts.tasks {
        let labels = [
            ("region", t.region.as_str()),
            ("cluster", &t.cluster),
            ("last_status", t.last_status.as_str()),
            ("desired_status", t.desired_status.as_str()),
        ];
        tasks.sample(&labels, t.count as f64);
    }
    let mut instances = encoder.family(
        "wharf_container_instances",
        "Container instances by region, cluster and status.",
        MetricType::Gauge,
    );
    for i in &counts.instances {
        let labels =
            [("region", i.region.as_str()), ("cluster", &i.cluster), ("status", i.status.as_str())];
        instances.sample(&labels, i.count as f64);
    }
}

/// What `/metrics` reads of a stored service record (the rest is skipped unparsed).
#[derive(Debug, Deserialize)]
struct StoredService {
    service: ServiceCounts,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ServiceCounts {
    status: Option<ServiceStatus>,
    desired_count: Option<i64>,
    running_count: Option<i64>,
    pending_count: Option<i64>,
}

/// One service's counts, with its region, cluster and name.
struct ServiceRow {
    region: String,
    cluster: String,
    name: String,
    counts: ServiceCounts,
}

async fn encode_services(store: &dyn Store, encoder: &mut Encoder) -> Result<(), StoreError> {
    let mut rows = Vec::new();
    for region in store.regions(Kind::Service).await? {
        let mut after: Option<String> = None;
        loop {
            let page = store.list(Kind::Service, &region, after.as_deref(), SERVICES_PAGE).await?;
            let full = page.len() == SERVICES_PAGE;
            after = page.last().map(|(key, _)| key.clone());
            for (key, body) in page {
                let Some((cluster, name)) = key.split_once('/') else { continue };
                let Ok(record) = serde_json::from_str::<StoredService>(&body) else {
                    tracing::warn!(service = %key, "a stored service could not be read");
                    continue;
                };
                if record.service.status == Some(ServiceStatus::Inactive) {
                    continue;
                }
                rows.push(ServiceRow {
                    region: region.clone(),
                    cluster: cluster.to_owned(),
                    name: name.to_owned(),
                    counts: record.service,
                });
            }
            if !full {
                break;
            }
        }
    }
    type Count = fn(&ServiceCounts) -> Option<i64>;
    let families: [(&'static str, &str, Count); 3] = [
        (
            "wharf_service_desired_tasks",
            "A service's desiredCount, by region, cluster and service.",
            |c| c.desired_count,
        ),
        (
            "wharf_service_running_tasks",
            "A service's runningCount: its tasks in the RUNNING state.",
            |c| c.running_count,
        ),
        (
            "wharf_service_pending_tasks",
            "A service's pendingCount: its tasks in the PENDING state.",
            |c| c.pending_count,
        ),
    ];
    for (name, help, value) in families {
        let mut family = encoder.family(name, help, MetricType::Gauge);
        for row in &rows {
            let labels = [
                ("region", row.region.as_str()),
                ("cluster", &row.cluster),
                ("service", &row.name),
            ];
            family.sample(&labels, value(&row.counts).unwrap_or(0) as f64);
        }
    }
    Ok(())
}

fn encode_containers(samples: &[ContainerSample], encoder: &mut Encoder) {
    type Value = fn(&ContainerSample) -> Option<f64>;
    let families: [(&'static str, &str, MetricType, Value); 5] = [
        (
            "wharf_container_cpu_usage_seconds_total",
            "CPU time a running container has used, from Docker's stats (sampled every \
             --stats-interval).",
            MetricType::Counter,
            |s| Some(s.usage.cpu_seconds),
        ),
        (
            "wharf_container_memory_usage_bytes",
            "Memory a running container uses, as `docker stats` shows it (usage less the \
             inactive page cache).",
            MetricType::Gauge,
            |s| Some(s.usage.memory_bytes as f64),
        ),
        (
            "wharf_container_memory_limit_bytes",
            "A running container's memory limit (the host's memory when it has none).",
            MetricType::Gauge,
            |s| s.usage.memory_limit_bytes.map(|b| b as f64),
        ),
        (
            "wharf_container_network_receive_bytes_total",
            "Bytes a running container has received, over all its interfaces (containers with \
             a network namespace of their own).",
            MetricType::Counter,
            |s| s.usage.network_rx_bytes.map(|b| b as f64),
        ),
        (
            "wharf_container_network_transmit_bytes_total",
            "Bytes a running container has sent, over all its interfaces.",
            MetricType::Counter,
            |s| s.usage.network_tx_bytes.map(|b| b as f64),
        ),
    ];
    for (name, help, kind, value) in families {
        let mut family = encoder.family(name, help, kind);
        for sample in samples {
            let Some(v) = value(sample) else { continue };
            let l = &sample.labels;
            let labels = [
                ("cluster", l.cluster.as_str()),
                ("task_id", &l.task_id),
                ("container", &l.container),
                ("task_definition", &l.task_definition),
            ];
            family.sample(&labels, v);
        }
    }
}
