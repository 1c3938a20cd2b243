//! `wharf server`: the control plane. Opens the store, serves the API, and
//! shuts down cleanly on SIGINT or SIGTERM (in-flight requests finish; the
//! store's writer has committed everything it acknowledged).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use wharf_agent::metadata::CredentialsSource;
use wharf_agent::runtime::docker::DockerRuntime;
use wharf_agent::{Agent, AgentConfig, MetadataConfig, StatsConfig};
use wharf_api::AppState;
use wharf_model::clock::SystemClock;
use wharf_store::{EtcdConfig, EtcdStore, Leadership, LogStore, Solo, SqliteStore, Store};

use crate::embedded_link::EmbeddedLink;

/// Options of `wharf server`.
#[derive(Debug, clap::Args)]
pub struct ServerArgs {
    /// Address the API listens on.
    #[arg(long, env = "WHARF_LISTEN", default_value = "127.0.0.1:4590")]
    listen: SocketAddr,
    /// Directory holding Wharf's state (default: $XDG_DATA_HOME/wharf or ~/.local/share/wharf).
    #[arg(long, env = "WHARF_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Where the control plane's state lives: `sqlite` (a database in the data
    /// directory, one server) or `etcd://HOST:PORT[,HOST:PORT...][/PREFIX]` (an etcd
    /// cluster that any number of servers share; see docs/etcd.md).
    #[arg(long, env = "WHARF_STORE", default_value = "sqlite")]
    store: String,
    /// With an etcd store: the time to live of the lease the leading server (the one
    /// that runs the reconcilers) holds; another server takes over this long after
    /// the leader dies. Whole seconds, at least 2.
    #[arg(long, env = "WHARF_LEADER_LEASE", default_value = "5s", value_parser = parse_wait)]
    leader_lease: std::time::Duration,
    /// The AWS account id that ARNs carry.
    #[arg(long, env = "WHARF_ACCOUNT_ID", default_value = "000000000000")]
    account_id: String,
    /// Serve `POST /_wharf/reset`, which wipes all state (for test suites).
    #[arg(long)]
    allow_reset: bool,
    /// The principals allowed to call (JSON: users with access keys and
    /// policies, roles with trust policies; see the README). With it every
    /// AWS request must be SigV4-signed by one of them and is authorised by
    /// its policies; without it nothing is checked, which is allowed only on
    /// a loopback address.
    #[arg(long, env = "WHARF_CREDENTIALS")]
    credentials: Option<PathBuf>,
    /// Listen beyond loopback without `--credentials`: anyone who reaches
    /// the port can do anything.
    #[arg(long, env = "WHARF_INSECURE_NO_AUTH")]
    insecure_no_auth: bool,
    /// A PEM certificate chain: the API (and the agent link on the same
    /// port) is served over TLS with it and `--tls-key`.
    #[arg(long, env = "WHARF_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of `--tls-cert`.
    #[arg(long, env = "WHARF_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Connections served at once; more are closed as they arrive.
    #[arg(long, env = "WHARF_MAX_CONNECTIONS", default_value_t = 4096)]
    max_connections: usize,
    /// How long a client may take to send a request's headers, on a new or
    /// an idle keep-alive connection, and to finish a TLS handshake: `20s`.
    #[arg(long, env = "WHARF_HEADER_TIMEOUT", default_value = "20s", value_parser = parse_wait)]
    header_timeout: std::time::Duration,
    /// Throttle each caller with ECS's token buckets (ThrottlingException
    /// past them), as AWS throttles an account.
    #[arg(long, env = "WHARF_THROTTLE")]
    throttle: bool,
    /// The audit trail: every mutating call as a CloudTrail event, one JSON
    /// line each (default: `audit.jsonl` in the data directory); `off` for none.
    #[arg(long, env = "WHARF_AUDIT_LOG")]
    audit_log: Option<String>,
    /// A token agents on other hosts must present (`wharf agent --token`).
    #[arg(long, env = "WHARF_AGENT_TOKEN")]
    agent_token: Option<String>,
    /// Do not run the embedded agent: this server only places tasks, for
    /// agents elsewhere to run.
    #[arg(long, env = "WHARF_NO_AGENT")]
    no_agent: bool,
    /// The embedded agent does not serve the Fargate pool (by default it runs
    /// the region's FARGATE and FARGATE_SPOT tasks as well as its cluster's).
    #[arg(long, env = "WHARF_NO_FARGATE")]
    no_fargate: bool,
    /// The most bytes of log events kept (as CloudWatch counts `storedBytes`);
    /// beyond it the oldest events are deleted first. Default: 10 GiB with SQLite,
    /// 256 MiB with etcd (where the logs live in etcd: see docs/etcd.md).
    #[arg(long, env = "WHARF_LOGS_MAX_BYTES")]
    logs_max_bytes: Option<i64>,
    /// How often log retention runs: `90s`, `30m`, `1h`.
    #[arg(long, env = "WHARF_LOGS_RETENTION_INTERVAL", default_value = "60s", value_parser = parse_wait)]
    logs_retention_interval: std::time::Duration,
    /// The address the load balancers' listeners bind their ports on (ELBv2 has
    /// none of its own); `off` for no load balancer data plane.
    #[arg(long, env = "WHARF_LISTENER_ADDRESS", default_value = "0.0.0.0")]
    listener_address: String,
    /// How often the embedded agent samples its running containers' Docker stats for
    /// `/metrics`: `10s`, `1m`.
    #[arg(long, env = "WHARF_STATS_INTERVAL", default_value = "10s", value_parser = parse_wait)]
    stats_interval: std::time::Duration,
    /// How long an instance's agent may be silent (no heartbeat) before the
    /// instance is declared lost: its tasks are stopped and its service tasks
    /// replaced elsewhere. `30s`, `2m`. Agents send heartbeats six times as often.
    #[arg(long, env = "WHARF_INSTANCE_LOST_AFTER", default_value = "30s", value_parser = parse_wait)]
    instance_lost_after: std::time::Duration,
    /// The range clusters' awsvpc VPC ranges (a /16 each) are carved from, each
    /// instance taking a /24 slice of its cluster's; `off`: awsvpc tasks take
    /// Docker's addresses on each host, unrouted between hosts.
    #[arg(long, env = "WHARF_VPC_CIDR", default_value = wharf_model::ecs::network::DEFAULT_POOL)]
    vpc_cidr: String,
    /// Where the DNS resolver for containers listens (UDP; answers Cloud Map
    /// private namespaces, forwards other names to this host's resolvers):
    /// `169.254.170.2:53` by default (a 169.254.x.y address is put on the
    /// loopback interface), `off` for none. The embedded agent's containers
    /// use it unless their definition names `dnsServers`.
    #[arg(long, env = "WHARF_DNS_ADDRESS", default_value = "169.254.170.2:53")]
    dns_address: String,
    /// The metric period: how often services' and capacity providers'
    /// metrics are gathered and their alarms evaluated (CloudWatch's is 60s);
    /// shorter for tests and demos: `5s` (1s, 5s, 10s, 20s, 30s or a multiple
    /// of 60s, as CloudWatch's periods).
    #[arg(long, env = "WHARF_METRICS_PERIOD", default_value = "60s", value_parser = parse_period)]
    metrics_period: std::time::Duration,
    /// A command (run with `sh -c`) that adds or removes the hosts of a
    /// capacity provider's group when managed scaling wants another count:
    /// told the cluster, provider, group, desired and current counts and the
    /// hosts to remove in `WHARF_*` variables (see docs/capacity.md).
    #[arg(long, env = "WHARF_SCALING_HOOK")]
    scaling_hook: Option<String>,
    #[command(flatten)]
    agent: AgentArgs,
}

/// A metric period: one CloudWatch accepts as a metric's period (1, 5, 10,
/// 20 or 30 seconds, or a multiple of 60), since target tracking's alarms
/// and the metrics take it.
fn parse_period(s: &str) -> Result<std::time::Duration, String> {
    parse_wait(s).and_then(|d| {
        let secs = d.as_secs();
        let whole = d.subsec_nanos() == 0;
        if whole && (matches!(secs, 1 | 5 | 10 | 20 | 30) || (secs > 0 && secs % 60 == 0)) {
            Ok(d)
        } else {
            Err(format!(
                "{s:?} is not a CloudWatch period: 1s, 5s, 10s, 20s, 30s or a multiple of 60s"
            ))
        }
    })
}

/// Options of the agent embedded in `wharf server` (and of `wharf agent`).
#[derive(Debug, Clone, clap::Args)]
pub struct AgentArgs {
    /// The cluster this host joins (created if missing), as `ECS_CLUSTER`.
    #[arg(long, env = "WHARF_CLUSTER", default_value = "default")]
    pub cluster: String,
    /// The region the agent's tasks live in.
    #[arg(long, env = "WHARF_REGION", default_value = "us-east-1")]
    pub region: String,
    /// MiB of memory not offered to tasks, as `ECS_RESERVED_MEMORY`.
    #[arg(long, env = "WHARF_RESERVED_MEMORY", default_value_t = 256)]
    pub reserved_memory: i64,
    /// Pull images even when present (`ECS_IMAGE_PULL_BEHAVIOR=always`).
    #[arg(long, env = "WHARF_ALWAYS_PULL")]
    pub always_pull: bool,
    /// How long a stopped task's containers stay before they are removed
    /// (`ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION`): `90s`, `30m`, `3h`.
    #[arg(long, env = "WHARF_TASK_CLEANUP_WAIT", default_value = "3h", value_parser = parse_wait)]
    pub task_cleanup_wait: std::time::Duration,
    /// An S3-compatible endpoint (`http://host:port`, path-style) that
    /// `environmentFiles` of type `s3` are read from, signed with this
    /// process's AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.
    #[arg(long, env = "WHARF_S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,
    /// Where the task metadata and credentials endpoints listen: ECS's
    /// 169.254.170.2:80 (added to the loopback interface), `off` for none.
    #[arg(long, env = "WHARF_METADATA_ADDRESS", default_value = "169.254.170.2:80")]
    pub metadata_address: String,
    /// DNS servers for containers whose definition names none (`dnsServers`),
    /// e.g. a Wharf server's resolver; the embedded agent uses its server's.
    #[arg(long = "dns-server", env = "WHARF_DNS_SERVERS", value_delimiter = ',')]
    pub dns_servers: Vec<String>,
    /// A JSON file mapping task role ARNs (or "*") to the credentials the
    /// credentials endpoint hands out: {"arn:...": {"AccessKeyId": ..., "SecretAccessKey": ..., "Token": ...}}.
    #[arg(long, env = "WHARF_TASK_CREDENTIALS")]
    pub task_credentials: Option<PathBuf>,
    /// This host's Availability Zone (`ecs.availability-zone`); default: the region's `a`.
    #[arg(long, env = "WHARF_AVAILABILITY_ZONE")]
    pub availability_zone: Option<String>,
    /// This host's `ecs.instance-type`; default: `wharf.c<cores>m<GiB of memory>`.
    #[arg(long, env = "WHARF_INSTANCE_TYPE")]
    pub instance_type: Option<String>,
    /// A custom attribute of this container instance, `name=value` or `name`; repeatable.
    #[arg(long = "attribute", value_name = "NAME=VALUE", value_parser = parse_attribute)]
    pub attributes: Vec<(String, Option<String>)>,
    /// The address the load balancer and other hosts reach this host at (its
    /// `instance` targets, its awsvpc tasks); default: the address it reaches
    /// the server from.
    #[arg(long, env = "WHARF_ADDRESS")]
    pub address: Option<std::net::IpAddr>,
    /// Join as Fargate capacity only: this host runs the region's `FARGATE`
    /// and `FARGATE_SPOT` tasks, of every cluster, and is no cluster's
    /// container instance (ListContainerInstances does not list it).
    #[arg(long, env = "WHARF_FARGATE", conflicts_with = "auto_scaling_group")]
    pub fargate: bool,
    /// The group (Auto Scaling group) this host belongs to: a capacity
    /// provider whose `autoScalingGroupProvider` names it places its tasks
    /// on the cluster's hosts of this group.
    #[arg(long, env = "WHARF_AUTO_SCALING_GROUP")]
    pub auto_scaling_group: Option<String>,
    /// Where ECS Exec sessions to this host's tasks are served (`wharf exec`
    /// connects here; the instance reports it): `IP:PORT`, by default this
    /// host's `--address` and a free port; `off` for none.
    #[arg(long, env = "WHARF_EXEC_ADDRESS")]
    pub exec_address: Option<String>,
    /// A PEM certificate chain for the ECS Exec listener: sessions are then
    /// served over TLS (`wss://`), so keystrokes and output do not cross the
    /// network in clear. The embedded agent of a server with `--tls-cert`
    /// uses the server's certificate unless given one.
    #[arg(long, env = "WHARF_EXEC_TLS_CERT", requires = "exec_tls_key")]
    pub exec_tls_cert: Option<PathBuf>,
    /// The PEM private key of `--exec-tls-cert`.
    #[arg(long, env = "WHARF_EXEC_TLS_KEY", requires = "exec_tls_cert")]
    pub exec_tls_key: Option<PathBuf>,
}

impl AgentArgs {
    /// The cluster the host registers in: the Fargate pool's for `--fargate`.
    pub fn registered_cluster(&self) -> String {
        if self.fargate {
            wharf_model::ecs::capacity::FARGATE_POOL.to_owned()
        } else {
            self.cluster.clone()
        }
    }
}

fn parse_attribute(s: &str) -> Result<(String, Option<String>), String> {
    wharf_model::ecs::attributes::parse_pair(s)
}

fn parse_wait(s: &str) -> Result<std::time::Duration, String> {
    wharf_agent::cleanup::parse_wait(s)
        .ok_or_else(|| format!("{s:?} is not a wait such as 90s, 30m or 3h"))
}

/// The default data directory: `$XDG_DATA_HOME/wharf`, else `~/.local/share/wharf`.
pub fn default_data_dir() -> anyhow::Result<PathBuf> {
    if let Some(d) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(d).join("wharf"));
    }
    let home = std::env::var_os("HOME")
        .context("neither XDG_DATA_HOME nor HOME is set; pass --data-dir")?;
    Ok(PathBuf::from(home).join(".local/share/wharf"))
}

/// Runs the server until SIGINT or SIGTERM.
pub fn run(args: ServerArgs) -> anyhow::Result<ExitCode> {
    let data_dir = match args.data_dir.clone() {
        Some(d) => d,
        None => default_data_dir()?,
    };
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("cannot create data directory {}", data_dir.display()))?;
    let lock = lock_data_dir(&data_dir)?;
    check_exposure(&args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let prepared = prepare(&args, &data_dir).await?;
        // Before the port accepts anything: a SIGTERM from then on stops the server cleanly.
        let shutdown = shutdown_signal();
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        serve(listener, prepared, shutdown).await
    })?;
    drop(lock);
    Ok(ExitCode::SUCCESS)
}

/// A server started inside another command (`wharf run`), on a free
/// loopback port, until [`EmbeddedServer::stop`].
#[derive(Debug)]
pub struct EmbeddedServer {
    /// `http://127.0.0.1:<port>`.
    pub endpoint: String,
    stop: tokio::sync::oneshot::Sender<()>,
    running: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl EmbeddedServer {
    /// Starts a server (and its agent) with these arguments on the current
    /// Tokio runtime; `args.listen` is replaced by a free loopback port and
    /// `args.data_dir` must be set.
    pub async fn start(mut args: ServerArgs) -> anyhow::Result<Self> {
        let data_dir =
            args.data_dir.clone().context("an embedded server needs a data directory")?;
        std::fs::create_dir_all(&data_dir)
            .with_context(|| format!("cannot create data directory {}", data_dir.display()))?;
        args.listen = SocketAddr::from(([127, 0, 0, 1], 0));
        let prepared = prepare(&args, &data_dir).await?;
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .context("cannot listen on a loopback port")?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let running = tokio::spawn(serve(listener, prepared, async move {
            let _ = stopped.await;
        }));
        Ok(Self { endpoint, stop, running })
    }

    /// Stops it as SIGTERM would stop `wharf server`, and waits.
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        self.running.await.context("the embedded server panicked")?
    }
}

/// How often agents send heartbeats: six to a grace period, at most every 10 s.
fn heartbeat_interval(lost_after: std::time::Duration) -> std::time::Duration {
    (lost_after / 6).min(std::time::Duration::from_secs(10))
}

/// Refuses to serve beyond loopback without credentials, unless told to.
fn check_exposure(args: &ServerArgs) -> anyhow::Result<()> {
    if args.listen.ip().is_loopback() || args.credentials.is_some() {
        return Ok(());
    }
    if args.insecure_no_auth {
        tracing::warn!(
            listen = %args.listen,
            "serving beyond loopback with no authentication (--insecure-no-auth)"
        );
        return Ok(());
    }
    anyhow::bail!(
        "--listen {} is not a loopback address: give --credentials FILE so that requests are \
         authenticated, or --insecure-no-auth to serve it to anyone who can reach it",
        args.listen
    )
}

/// What [`serve`] runs: the state, and the parts to start beside the API.
struct Prepared {
    state: AppState,
    /// How this server comes to run the reconcilers.
    leadership: Arc<dyn Leadership>,
    agent: Option<(AgentArgs, PathBuf)>,
    /// Whether the embedded agent serves the Fargate pool too.
    embedded_fargate: bool,
    logs_retention_interval: std::time::Duration,
    /// How often the embedded agent samples its containers' stats.
    stats_interval: std::time::Duration,
    listeners: Option<std::net::IpAddr>,
    /// How long an agent may be silent.
    instance_lost_after: std::time::Duration,
    /// The metric period.
    metrics_period: std::time::Duration,
    /// The capacity providers' scaling hook.
    scaling_hook: Option<String>,
    /// Where the DNS resolver listens, if anywhere.
    dns: Option<SocketAddr>,
    /// TLS for the API, when configured.
    tls: Option<Arc<rustls::ServerConfig>>,
    /// Connection limits.
    limits: crate::listen::Limits,
}

/// Opens the control plane's store as `--store` says, and how this server
/// comes to lead.
/// The default budget of log events with SQLite: 10 GiB.
const SQLITE_LOGS_MAX_BYTES: i64 = 10 * 1024 * 1024 * 1024;

/// The default budget of log events with etcd: 256 MiB (etcd's default quota
/// is 2 GiB, and deleted events stay in its history until compacted).
const ETCD_LOGS_MAX_BYTES: i64 = 256 * 1024 * 1024;

/// The opened store, how this server comes to lead, and the etcd store when
/// it is one (the logs live there too).
type Opened = (Arc<dyn Store>, Arc<dyn Leadership>, Option<EtcdStore>);

async fn open_store(args: &ServerArgs, data_dir: &std::path::Path) -> anyhow::Result<Opened> {
    if args.store == "sqlite" {
        let db = data_dir.join("wharf.db");
        let store: Arc<dyn Store> = Arc::new(
            SqliteStore::open(&db).with_context(|| format!("cannot open {}", db.display()))?,
        );
        return Ok((store.clone(), Arc::new(Solo(store)), None));
    }
    let config = EtcdConfig::parse(&args.store)
        .map_err(|e| anyhow::anyhow!("--store: {e} (sqlite, or etcd://HOST:PORT,...)"))?;
    if args.leader_lease.as_secs() < 2 || args.leader_lease.subsec_nanos() != 0 {
        anyhow::bail!("--leader-lease must be whole seconds, at least 2s");
    }
    let store = EtcdStore::open(config)
        .await
        .with_context(|| format!("cannot open the etcd store {}", args.store))?;
    let election =
        wharf_store::etcd::Election::new(&store, args.leader_lease, &args.listen.to_string());
    Ok((Arc::new(store.clone()), Arc::new(election), Some(store)))
}

/// Checks the arguments and opens the stores in `data_dir`.
async fn prepare(args: &ServerArgs, data_dir: &std::path::Path) -> anyhow::Result<Prepared> {
    if args.account_id.len() != 12 || !args.account_id.bytes().all(|b| b.is_ascii_digit()) {
        anyhow::bail!("--account-id must be twelve digits, not {:?}", args.account_id);
    }
    let (store, leadership, etcd) = open_store(args, data_dir).await?;
    let logs_max_bytes = args.logs_max_bytes.unwrap_or(if etcd.is_some() {
        ETCD_LOGS_MAX_BYTES
    } else {
        SQLITE_LOGS_MAX_BYTES
    });
    if logs_max_bytes <= 0 {
        anyhow::bail!("--logs-max-bytes must be positive, not {logs_max_bytes}");
    }
    let logs_db = data_dir.join("logs.sqlite3");
    let logs = match &etcd {
        None => LogStore::open(&logs_db, logs_max_bytes),
        Some(etcd) => LogStore::open_replicated(&logs_db, logs_max_bytes, etcd).await,
    }
    .with_context(|| format!("cannot open {}", logs_db.display()))?;
    let usage = logs.usage();
    tracing::info!(
        stored_bytes = usage.stored_bytes,
        max_bytes = usage.max_bytes,
        file_bytes = usage.file_bytes,
        "log store open"
    );
    let mut state = AppState::new(store, Arc::new(logs), Arc::new(SystemClock), &args.account_id);
    // Servers sharing an etcd store share the STS key too; one server keeps it
    // in its data directory.
    state.sts = Arc::new(match &etcd {
        Some(_) => crate::security::shared_sts_issuer(&*state.ops.store).await?,
        None => crate::security::sts_issuer(data_dir)?,
    });
    if let Some(path) = &args.credentials {
        state.auth = Some(Arc::new(crate::security::authenticator(path, &state.sts)?));
    }
    state.allow_reset = args.allow_reset;
    if args.instance_lost_after < std::time::Duration::from_millis(600) {
        anyhow::bail!("--instance-lost-after must be at least 600ms");
    }
    state.heartbeat_interval_ms = heartbeat_interval(args.instance_lost_after).as_millis() as u64;
    state.metrics_period = args.metrics_period;
    state.vpc_pool = match args.vpc_cidr.as_str() {
        "off" | "" => None,
        cidr => {
            let pool: wharf_model::ecs::network::Ipv4Net =
                cidr.parse().map_err(|e| anyhow::anyhow!("--vpc-cidr: {e}"))?;
            if pool.count(wharf_model::ecs::network::VPC_PREFIX) == 0 {
                anyhow::bail!(
                    "--vpc-cidr {cidr} must be a /16 or larger (each cluster takes a /16)"
                );
            }
            Some(pool)
        }
    };
    if args.throttle {
        state.throttle = Some(Arc::default());
    }
    let audit = match args.audit_log.as_deref() {
        Some("off") => None,
        Some(path) => Some(PathBuf::from(path)),
        None => Some(data_dir.join("audit.jsonl")),
    };
    if let Some(path) = audit {
        let log = wharf_api::audit::AuditLog::open(&path)
            .with_context(|| format!("cannot open the audit log {}", path.display()))?;
        state.audit = Some(Arc::new(log));
    }
    state.agent_token = args.agent_token.as_deref().map(Into::into);
    if args.stats_interval.is_zero() {
        anyhow::bail!("--stats-interval must be at least 1s");
    }
    let listeners = match args.listener_address.as_str() {
        "off" | "" => None,
        a => Some(a.parse::<std::net::IpAddr>().with_context(|| {
            format!("--listener-address {a:?} is not an IP address (or `off`)")
        })?),
    };
    if args.max_connections == 0 {
        anyhow::bail!("--max-connections must be at least 1");
    }
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(crate::listen::tls_config(cert, key)?),
        _ => None,
    };
    state.tls = tls.is_some();
    let dns =
        match args.dns_address.as_str() {
            "off" | "" => None,
            a => Some(a.parse::<SocketAddr>().with_context(|| {
                format!("--dns-address {a:?} is not an address:port (or `off`)")
            })?),
        };
    Ok(Prepared {
        dns,
        tls,
        limits: crate::listen::Limits {
            max_connections: args.max_connections,
            header_timeout: args.header_timeout,
        },
        state,
        leadership,
        agent: (!args.no_agent).then(|| (embedded_agent_args(args), data_dir.to_owned())),
        embedded_fargate: !args.no_fargate,
        logs_retention_interval: args.logs_retention_interval,
        stats_interval: args.stats_interval,
        listeners,
        instance_lost_after: args.instance_lost_after,
        metrics_period: args.metrics_period,
        scaling_hook: args.scaling_hook.clone(),
    })
}

async fn serve(
    listener: tokio::net::TcpListener,
    prepared: Prepared,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let Prepared {
        state,
        leadership,
        mut agent,
        embedded_fargate,
        logs_retention_interval,
        stats_interval,
        listeners,
        instance_lost_after,
        metrics_period,
        scaling_hook,
        dns,
        tls,
        limits,
    } = prepared;
    let addr = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    tracing::info!(account = %state.ops.account_id, reset = state.allow_reset, "listening on {scheme}://{addr}");
    let (stop_agent, agent_stopped) = tokio::sync::watch::channel(false);
    let mut metrics = crate::metrics::Sources {
        store: state.ops.store.clone(),
        api: state.metrics.clone(),
        lb: listeners.map(|_| Arc::new(wharf_lb::Traffic::new())),
        containers: None,
        agents: (state.agent_stats.clone(), state.heartbeat_interval_ms),
        clock: state.ops.clock.clone(),
    };
    let resolver = match dns {
        Some(addr) => start_resolver(addr, &state, agent_stopped.clone()).await,
        None => None,
    };
    if let (Some(addr), Some((args, _))) = (resolver, agent.as_mut()) {
        if args.dns_servers.is_empty() {
            args.dns_servers = vec![addr.ip().to_string()];
        }
    }
    let agent_task = agent.map(|(args, dir)| {
        let link = EmbeddedLink::new(state.clone(), args.region.clone());
        let samples = wharf_agent::stats::ContainerStats::new();
        metrics.containers = Some(samples.clone());
        // At least two samples a metric period, so services' CPU is measured over it.
        let interval =
            stats_interval.min(metrics_period / 2).max(std::time::Duration::from_secs(1));
        let stats = StatsConfig { samples, interval };
        let mut stopped = agent_stopped.clone();
        tokio::spawn(async move {
            let shutdown = async move {
                let _ = stopped.wait_for(|s| *s).await;
            };
            let placement = AgentPlacement {
                stats: Some(stats),
                report_stats: false,
                server: Some(addr.ip()),
                host_network: wharf_agent::HostNetworking::Rules,
                also_fargate: embedded_fargate,
                // The server's own resolver serves this host.
                dns_listen: None,
            };
            if let Err(e) = run_agent(args, Arc::new(link), Some(dir), placement, shutdown).await {
                tracing::error!(
                    "the embedded agent stopped: {e:#}; tasks will not run on this host"
                );
            }
        })
    });
    let (leading_tx, leading) = tokio::sync::watch::channel(false);
    let reconcilers = tokio::spawn(crate::leading::run(
        leadership,
        state.clone(),
        crate::leading::Intervals {
            logs_retention: logs_retention_interval,
            instance_lost_after,
            metrics_period,
        },
        crate::leading::Hooks { scaling: scaling_hook },
        leading_tx,
        agent_stopped.clone(),
    ));
    let data_plane = listeners.zip(metrics.lb.clone()).map(|(bind, traffic)| {
        tokio::spawn(crate::load_balancing::run(
            state.ops.store.clone(),
            state.ops.clock.clone(),
            bind,
            traffic,
            leading.clone(),
            agent_stopped.clone(),
        ))
    });
    let routes = tokio::spawn(crate::vpc_routes::run(state.clone(), agent_stopped.clone()));
    let metric_data = tokio::spawn(wharf_control::metric_batches::follow(
        state.ops.clone(),
        agent_stopped.clone(),
    ));
    let gatherer = tokio::spawn(crate::service_metrics::run(
        crate::service_metrics::Gatherer {
            state: state.clone(),
            embedded: metrics.containers.clone(),
            lb: metrics.lb.clone(),
            period: metrics_period,
        },
        agent_stopped.clone(),
    ));
    let audit = state.audit.clone();
    let app = wharf_api::router(state.clone())
        .merge(crate::console::routes().with_state(state))
        .merge(crate::metrics::router(metrics));
    crate::listen::serve(listener, app, tls, limits, shutdown).await?;
    if let Some(audit) = audit {
        // Calls answered before the shutdown are in the trail before the process ends.
        let _ = tokio::task::spawn_blocking(move || audit.flush()).await;
    }
    let _ = stop_agent.send(true);
    let _ = reconcilers.await;
    let _ = routes.await;
    let _ = metric_data.await;
    let _ = gatherer.await;
    if let Some(task) = data_plane {
        let _ = task.await;
    }
    if let Some(task) = agent_task {
        let _ = task.await;
    }
    tracing::info!("stopped");
    Ok(())
}

/// The address an agent reports: `--address`, else the one this host reaches
/// `server` (its IP) from, else loopback (a server that listens on every
/// address: this host's address toward the rest of the network).
fn agent_address(args: &AgentArgs, server: Option<std::net::IpAddr>) -> std::net::IpAddr {
    use std::net::{IpAddr, Ipv4Addr};
    if let Some(a) = args.address {
        return a;
    }
    match server {
        Some(ip) if ip.is_loopback() => ip,
        Some(ip) if !ip.is_unspecified() => {
            wharf_agent::host::address_toward(&format!("{ip}:9")).unwrap_or(ip)
        }
        // Any address routed the way the rest of the network is.
        _ => wharf_agent::host::address_toward("192.0.2.1:9")
            .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST)),
    }
}

/// Where an agent runs relative to its server, and what follows from it.
#[derive(Debug)]
pub struct AgentPlacement {
    /// Its containers' stats are sampled here, when given.
    pub stats: Option<StatsConfig>,
    /// Whether the samples go to the server with the heartbeats (an agent
    /// on another host; the embedded agent's are read in place).
    pub report_stats: bool,
    /// The server's address, which the host's own address is found from when
    /// `--address` does not give it.
    pub server: Option<std::net::IpAddr>,
    /// How much of the awsvpc network plan it applies to this host.
    pub host_network: wharf_agent::HostNetworking,
    /// Whether it serves the Fargate pool beside its cluster (the embedded
    /// agent, unless `--no-fargate`).
    pub also_fargate: bool,
    /// Where it runs a DNS resolver for its containers (an agent on another
    /// host than its server's resolver), if anywhere.
    pub dns_listen: Option<SocketAddr>,
}

/// Connects to Docker and runs an agent until `shutdown`.
pub async fn run_agent(
    args: AgentArgs,
    link: Arc<dyn wharf_agent::link::ServerLink>,
    state_dir: Option<PathBuf>,
    placement: AgentPlacement,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let AgentPlacement { stats, report_stats, server, host_network, also_fargate, dns_listen } =
        placement;
    let runtime = DockerRuntime::connect().await.context("cannot reach Docker Engine")?;
    let metadata = match args.metadata_address.as_str() {
        "off" | "" => None,
        address => Some(MetadataConfig {
            listen: address.parse().with_context(|| {
                format!("--metadata-address {address:?} is not an address:port")
            })?,
            credentials: match &args.task_credentials {
                Some(path) => CredentialsSource::from_file(path)
                    .with_context(|| format!("cannot read {}", path.display()))?,
                None => CredentialsSource::none(),
            },
        }),
    };
    let address = agent_address(&args, server);
    let exec = bind_exec(args.exec_address.as_deref(), address).await?;
    let exec_tls = match (&args.exec_tls_cert, &args.exec_tls_key) {
        (Some(cert), Some(key)) => Some(crate::listen::tls_config_http1(cert, key)?),
        _ => None,
    };
    let exec_endpoint = match &exec {
        Some(l) => Some(format!(
            "{}://{}",
            if exec_tls.is_some() { "https" } else { "http" },
            l.local_addr()?
        )),
        None => None,
    };
    let identity = wharf_agent::host::HostIdentity {
        availability_zone: args
            .availability_zone
            .clone()
            .unwrap_or_else(|| format!("{}a", args.region)),
        instance_type: args.instance_type.clone(),
        address: Some(address.to_string()),
        attributes: args.attributes.clone(),
        fargate: args.fargate || also_fargate,
        group: args.auto_scaling_group.clone(),
        exec_endpoint,
    };
    let config = AgentConfig {
        report_stats,
        host_network,
        identity,
        cluster: args.registered_cluster(),
        reserved_memory_mib: args.reserved_memory,
        always_pull: args.always_pull,
        state_dir,
        cleanup_wait: args.task_cleanup_wait,
        s3: args.s3_endpoint.map(|url| wharf_agent::s3::S3Endpoint {
            url,
            region: args.region.clone(),
            credentials: wharf_agent::s3::Credentials::from_env(),
        }),
        metadata,
        stats,
        dns_servers: args.dns_servers,
        dns_listen,
    };
    let agent = Agent::new(Arc::new(runtime), link, Arc::new(SystemClock), config);
    let exec_server = match exec {
        Some(listener) => {
            let tls = if exec_tls.is_some() { "wss" } else { "ws" };
            tracing::info!(address = %listener.local_addr()?, scheme = tls, "serving ECS Exec sessions");
            let sessions = agent.exec_service().router();
            Some(tokio::spawn(async move {
                let limits = crate::listen::Limits {
                    max_connections: EXEC_MAX_CONNECTIONS,
                    header_timeout: std::time::Duration::from_secs(10),
                };
                let served = crate::listen::serve(
                    listener,
                    sessions,
                    exec_tls,
                    limits,
                    std::future::pending(),
                )
                .await;
                if let Err(e) = served {
                    tracing::error!(error = %e, "ECS Exec sessions are no longer served");
                }
            }))
        }
        None => None,
    };
    let ran = agent.run(shutdown).await;
    if let Some(server) = exec_server {
        server.abort();
    }
    ran?;
    Ok(())
}

/// How many ECS Exec connections one agent serves at once.
const EXEC_MAX_CONNECTIONS: usize = 256;

/// The embedded agent's options: the server's own certificate serves its
/// ECS Exec sessions too, unless the agent was given one.
fn embedded_agent_args(args: &ServerArgs) -> AgentArgs {
    let mut agent = args.agent.clone();
    if agent.exec_tls_cert.is_none() {
        agent.exec_tls_cert.clone_from(&args.tls_cert);
        agent.exec_tls_key.clone_from(&args.tls_key);
    }
    agent
}

/// The ECS Exec listener: `--exec-address` (`off`: none), by default the
/// agent's address and a free port. A fixed address that cannot be bound
/// is an error; the default one is logged and left out.
async fn bind_exec(
    given: Option<&str>,
    address: std::net::IpAddr,
) -> anyhow::Result<Option<tokio::net::TcpListener>> {
    match given {
        Some("off") => Ok(None),
        Some(a) => {
            let at: SocketAddr = a
                .parse()
                .with_context(|| format!("--exec-address {a:?} is not an IP:PORT (or `off`)"))?;
            let listener = tokio::net::TcpListener::bind(at)
                .await
                .with_context(|| format!("cannot listen on --exec-address {at}"))?;
            Ok(Some(listener))
        }
        None => match tokio::net::TcpListener::bind(SocketAddr::new(address, 0)).await {
            Ok(l) => Ok(Some(l)),
            Err(e) => {
                tracing::warn!(error = %e, %address, "no ECS Exec sessions: cannot listen");
                Ok(None)
            }
        },
    }
}

/// Binds and starts the DNS resolver (a 169.254.x.y address is put on the
/// loopback interface first); its address, or `None` (logged) when it
/// cannot listen there, in which case containers keep Docker's resolver.
async fn start_resolver(
    addr: SocketAddr,
    state: &AppState,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Option<SocketAddr> {
    match wharf_agent::dns::Resolver::bind(addr).await {
        Ok(resolver) => {
            let bound = resolver.local_addr().ok()?;
            tracing::info!(address = %bound, "DNS resolver for containers listening");
            let (tables, table) = tokio::sync::watch::channel(Arc::default());
            tokio::spawn(crate::dns::feed(state.ops.clone(), tables, stop.clone()));
            tokio::spawn(resolver.run(table, stop));
            Some(bound)
        }
        Err(e) => {
            tracing::warn!(error = %e, %addr, "no DNS resolver for containers: cannot listen");
            None
        }
    }
}

/// This host's address as its containers reach it (the source address of
/// its default route), for `bridge` and `host` tasks' SRV records.
pub(crate) fn host_address() -> Option<String> {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect("192.0.2.1:9").ok()?;
    Some(socket.local_addr().ok()?.ip().to_string())
}

/// Resolves on SIGINT or SIGTERM. The handlers are installed when this is
/// called, not when the future is first polled: a signal that arrives while
/// the server is still starting is not lost (nor does it kill the process).
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let interrupt = signal(SignalKind::interrupt());
        let term = signal(SignalKind::terminate());
        async move {
            match (interrupt, term) {
                (Ok(mut interrupt), Ok(mut term)) => {
                    tokio::select! {
                        _ = interrupt.recv() => {},
                        _ = term.recv() => {},
                    }
                }
                (interrupt, term) => {
                    tracing::warn!("cannot watch SIGINT and SIGTERM; stopping on Ctrl-C only");
                    drop((interrupt, term));
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
            tracing::info!("shutting down");
        }
    }
    #[cfg(not(unix))]
    async move {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutting down");
    }
}

/// Takes an exclusive lock on the data directory, so two servers never share
/// one database. Released when the returned file is dropped (or the process dies).
fn lock_data_dir(dir: &std::path::Path) -> anyhow::Result<std::fs::File> {
    let path = dir.join("lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => {
            anyhow::bail!("another wharf server is using {}", dir.display())
        }
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("cannot lock {}", path.display()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        server: ServerArgs,
    }

    fn embedded(args: &[&str]) -> AgentArgs {
        let cli = Cli::try_parse_from(std::iter::once("wharf").chain(args.iter().copied()))
            .expect("the options parse");
        embedded_agent_args(&cli.server)
    }

    #[test]
    fn the_embedded_agent_serves_exec_sessions_with_the_servers_certificate_unless_given_one() {
        let agent = embedded(&["--tls-cert", "api.pem", "--tls-key", "api.key"]);
        assert_eq!(agent.exec_tls_cert, Some(PathBuf::from("api.pem")));
        assert_eq!(agent.exec_tls_key, Some(PathBuf::from("api.key")));
        let agent = embedded(&[
            "--tls-cert",
            "api.pem",
            "--tls-key",
            "api.key",
            "--exec-tls-cert",
            "exec.pem",
            "--exec-tls-key",
            "exec.key",
        ]);
        assert_eq!(agent.exec_tls_cert, Some(PathBuf::from("exec.pem")));
        assert_eq!(agent.exec_tls_key, Some(PathBuf::from("exec.key")));
        let agent = embedded(&[]);
        assert_eq!((agent.exec_tls_cert, agent.exec_tls_key), (None, None));
    }
}
