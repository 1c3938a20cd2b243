//! `wharf agent`: the agent alone, on a host other than the server's. It
//! registers this host with the server at `--endpoint`, runs the tasks the
//! server places here on the local Docker engine, and reports back, exactly
//! as the agent embedded in `wharf server` does.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;

use super::server::{default_data_dir, run_agent, shutdown_signal, AgentArgs, AgentPlacement};
use crate::remote_link::RemoteLink;

/// Options of `wharf agent`.
#[derive(Debug, clap::Args)]
pub struct AgentCommandArgs {
    /// The server's address; with several servers (an etcd store), each of them,
    /// comma-separated: the agent moves to the next when one does not answer.
    #[arg(long, env = "WHARF_ENDPOINT", default_value = "http://127.0.0.1:4590")]
    endpoint: String,
    /// The token the server asks agents for (`wharf server --agent-token`).
    #[arg(long, env = "WHARF_AGENT_TOKEN")]
    token: Option<String>,
    /// The agent's own access key id, which signs its calls (SigV4, service
    /// `ecs`) for a server with `--credentials`; its policies must allow the
    /// agent operations on this host's cluster (see the README).
    #[arg(long, env = "AWS_ACCESS_KEY_ID", hide_env_values = true)]
    access_key_id: Option<String>,
    /// The secret of `--access-key-id` (best given through the environment).
    #[arg(long, env = "AWS_SECRET_ACCESS_KEY", hide_env_values = true, requires = "access_key_id")]
    secret_access_key: Option<String>,
    /// A session token, when the agent's credentials are temporary.
    #[arg(long, env = "AWS_SESSION_TOKEN", hide_env_values = true)]
    session_token: Option<String>,
    /// A PEM file of certificates to trust for an `https://` endpoint beside
    /// the public roots: the server's own (self-signed) certificate, or its CA.
    #[arg(long, env = "WHARF_TLS_CA")]
    tls_ca: Option<PathBuf>,
    /// Where the agent keeps its state (default: the data directory's `agent/`).
    #[arg(long, env = "WHARF_AGENT_STATE_DIR")]
    state_dir: Option<PathBuf>,
    /// How often its running containers' Docker stats are sampled for the server's
    /// `/metrics` (sent with the next heartbeat): `10s`, `1m`.
    #[arg(long, env = "WHARF_STATS_INTERVAL", default_value = "10s", value_parser = parse_interval)]
    stats_interval: std::time::Duration,
    /// Where this host's DNS resolver for containers listens (UDP; answers Cloud
    /// Map private namespaces from the server's table, forwards other names to
    /// this host's resolvers): `169.254.170.2:53` by default (the address is put
    /// on the loopback interface), `off` for none. Containers use it unless
    /// `--dns-server` or their definition's `dnsServers` name others.
    #[arg(long, env = "WHARF_DNS_ADDRESS", default_value = "169.254.170.2:53")]
    dns_address: String,
    #[command(flatten)]
    agent: AgentArgs,
}

fn parse_interval(s: &str) -> Result<std::time::Duration, String> {
    wharf_agent::cleanup::parse_wait(s)
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("{s:?} is not an interval such as 10s or 1m"))
}

/// The server's IP address from its endpoint URL (`http://10.0.0.1:4590`),
/// resolving a name; `None` when it does not resolve.
fn server_ip(endpoint: &str) -> Option<std::net::IpAddr> {
    use std::net::ToSocketAddrs;
    let rest = endpoint.split_once("://").map_or(endpoint, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or(rest);
    let with_port = if authority.rsplit_once(':').is_some_and(|(_, p)| p.parse::<u16>().is_ok()) {
        authority.to_owned()
    } else if endpoint.starts_with("https://") {
        format!("{authority}:443")
    } else {
        format!("{authority}:80")
    };
    with_port.to_socket_addrs().ok()?.map(|a| a.ip()).find(|ip| ip.is_ipv4())
}

/// The whole network plan when the engine is on this host (`DOCKER_HOST`
/// unset or a unix socket); none of it when the engine is elsewhere.
fn host_networking() -> wharf_agent::HostNetworking {
    match std::env::var("DOCKER_HOST") {
        Ok(h) if !h.is_empty() && !h.starts_with("unix://") => {
            tracing::warn!(docker_host = %h, "the engine is on another host: awsvpc routes and rules are left to it");
            wharf_agent::HostNetworking::Off
        }
        _ => wharf_agent::HostNetworking::Full,
    }
}

/// Runs the agent until SIGINT or SIGTERM.
pub fn run(args: AgentCommandArgs) -> anyhow::Result<ExitCode> {
    let state_dir = match args.state_dir {
        Some(d) => d,
        None => default_data_dir()?.join("agent"),
    };
    std::fs::create_dir_all(&state_dir)
        .with_context(|| format!("cannot create {}", state_dir.display()))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let extra = match &args.tls_ca {
        Some(path) => {
            use rustls::pki_types::pem::PemObject;
            rustls::pki_types::CertificateDer::pem_file_iter(path)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .with_context(|| format!("cannot read certificates from {}", path.display()))?
        }
        None => Vec::new(),
    };
    let tls = crate::remote_link::tls_client(&extra)?;
    let mut link = RemoteLink::new(&args.endpoint, &args.agent.region, args.token, tls)
        .for_cluster(&args.agent.registered_cluster());
    if let (Some(access_key_id), Some(secret_access_key)) =
        (args.access_key_id, args.secret_access_key)
    {
        link = link.signed_by(wharf_auth::sigv4::SigningCredentials {
            access_key_id,
            secret_access_key,
            session_token: args.session_token,
        });
    }
    let server = server_ip(&args.endpoint);
    let dns_listen =
        match args.dns_address.as_str() {
            "off" | "" => None,
            a => Some(a.parse::<std::net::SocketAddr>().with_context(|| {
                format!("--dns-address {a:?} is not an address:port (or `off`)")
            })?),
        };
    runtime.block_on(async {
        // Inside the runtime: the signal handlers need its reactor.
        let shutdown = shutdown_signal();
        let placement = AgentPlacement {
            stats: Some(wharf_agent::StatsConfig {
                samples: wharf_agent::stats::ContainerStats::new(),
                interval: args.stats_interval,
            }),
            report_stats: true,
            server,
            host_network: host_networking(),
            also_fargate: false,
            dns_listen,
        };
        run_agent(args.agent, Arc::new(link), Some(state_dir), placement, shutdown).await
    })?;
    Ok(ExitCode::SUCCESS)
}
