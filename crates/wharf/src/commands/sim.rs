//! `wharf sim`: simulated container instances for scale runs. It registers
//! `--instances` hosts with the server at `--endpoint` through the agent
//! link a real `wharf agent` uses (the same HTTP client, the same calls),
//! and reports each task placed on them `RUNNING` after `--start-latency`
//! without running anything (see `wharf_agent::sim`). It lives in the main
//! binary because it is small and reuses the remote link as it is; it adds
//! no dependency.

use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use wharf_agent::host::HostResources;
use wharf_agent::sim::{Fleet, SimConfig, SimCounters};

use super::server::shutdown_signal;
use crate::remote_link::RemoteLink;

/// Options of `wharf sim`.
#[derive(Debug, clap::Args)]
pub struct SimArgs {
    /// The server's address (several, comma-separated, as for `wharf agent`).
    #[arg(long, env = "WHARF_ENDPOINT", default_value = "http://127.0.0.1:4590")]
    endpoint: String,
    /// The token the server asks agents for (`wharf server --agent-token`).
    #[arg(long, env = "WHARF_AGENT_TOKEN")]
    token: Option<String>,
    /// The cluster the hosts join (created if missing).
    #[arg(long, default_value = "default")]
    cluster: String,
    /// The region.
    #[arg(long, env = "WHARF_REGION", default_value = "us-east-1")]
    region: String,
    /// How many hosts to simulate.
    #[arg(long, default_value_t = 10)]
    instances: usize,
    /// CPU units each host registers.
    #[arg(long, default_value_t = 4096)]
    cpu: i64,
    /// MiB of memory each host registers.
    #[arg(long, default_value_t = 16_384)]
    memory: i64,
    /// How long after its assignment a task is reported RUNNING: `50ms`, `2s`.
    #[arg(long, default_value = "50ms", value_parser = parse_latency)]
    start_latency: Duration,
    /// How long after the server asks a task is reported STOPPED.
    #[arg(long, default_value = "50ms", value_parser = parse_latency)]
    stop_latency: Duration,
    /// The Availability Zones the hosts are spread over (default: the region's a, b and c).
    #[arg(long, value_delimiter = ',')]
    availability_zones: Vec<String>,
    /// A custom attribute every host registers with (repeatable).
    #[arg(long = "attribute", value_name = "NAME=VALUE", value_parser = parse_attribute)]
    attributes: Vec<(String, Option<String>)>,
    /// How many hosts register at once.
    #[arg(long, default_value_t = 32)]
    register_concurrency: usize,
    /// How often a progress line is logged (`0` for never).
    #[arg(long, default_value = "5s", value_parser = parse_latency)]
    progress_every: Duration,
}

fn parse_attribute(s: &str) -> Result<(String, Option<String>), String> {
    wharf_model::ecs::attributes::parse_pair(s)
}

/// A duration such as `50ms`, `2s`, `1m` or `0`.
fn parse_latency(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let bad = || format!("{s:?} is not a duration such as 50ms, 2s or 1m");
    if let Some(ms) = s.strip_suffix("ms") {
        return ms.parse::<u64>().map(Duration::from_millis).map_err(|_| bad());
    }
    wharf_agent::cleanup::parse_wait(s).ok_or_else(bad)
}

/// Runs the fleet until SIGINT or SIGTERM.
pub fn run(args: SimArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let tls = crate::remote_link::tls_client(&[])?;
    let link =
        RemoteLink::new(&args.endpoint, &args.region, args.token, tls).for_cluster(&args.cluster);
    let zones = if args.availability_zones.is_empty() {
        ["a", "b", "c"].iter().map(|z| format!("{}{z}", args.region)).collect()
    } else {
        args.availability_zones
    };
    let config = SimConfig {
        cluster: args.cluster,
        instances: args.instances,
        resources: HostResources { cpu: args.cpu, memory: args.memory },
        availability_zones: zones,
        instance_type: format!("wharf.sim.c{}m{}", args.cpu / 1024, (args.memory + 512) / 1024),
        attributes: args.attributes,
        start_latency: args.start_latency,
        stop_latency: args.stop_latency,
        register_concurrency: args.register_concurrency,
    };
    let every = args.progress_every;
    runtime.block_on(async move {
        let shutdown = shutdown_signal();
        let fleet = Fleet::new(Arc::new(link), Arc::new(wharf_model::clock::SystemClock), config);
        let counters = fleet.counters();
        if !every.is_zero() {
            tokio::spawn(progress(counters.clone(), every));
        }
        let outcome = fleet.run(shutdown).await;
        log_progress(&counters);
        outcome.context("a simulated host could not register")
    })?;
    Ok(ExitCode::SUCCESS)
}

async fn progress(counters: Arc<SimCounters>, every: Duration) {
    loop {
        tokio::time::sleep(every).await;
        log_progress(&counters);
    }
}

fn log_progress(c: &SimCounters) {
    tracing::info!(
        registered = c.registered.load(Ordering::Relaxed),
        assigned = c.assigned.load(Ordering::Relaxed),
        running = c.running.load(Ordering::Relaxed),
        stopped = c.stopped.load(Ordering::Relaxed),
        failed_reports = c.failed_reports.load(Ordering::Relaxed),
        "simulated fleet"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latencies_parse_in_milliseconds_and_up() {
        assert_eq!(parse_latency("50ms"), Ok(Duration::from_millis(50)));
        assert_eq!(parse_latency("0"), Ok(Duration::ZERO));
        assert_eq!(parse_latency("2s"), Ok(Duration::from_secs(2)));
        assert!(parse_latency("fast").is_err());
        assert!(parse_latency("5us").is_err());
    }
}
