//! What every handler gets: the shared state and the facts of its request.

use std::sync::Arc;

use wharf_model::arn::Scope;
use wharf_model::clock::Clock;
use wharf_ops::{Ops, Region};
use wharf_store::{LogStore, Store};

use crate::metrics::ApiMetrics;

/// State shared by every request.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The operations, over the store, the clock and the account.
    pub ops: Ops,
    /// Log groups, streams and events (CloudWatch Logs), in their own database.
    pub logs: Arc<LogStore>,
    /// Whether `POST /_wharf/reset` exists.
    pub allow_reset: bool,
    /// The token remote agents must present, if any.
    pub agent_token: Option<Arc<str>>,
    /// Requests counted by operation, for `/metrics`.
    pub metrics: Arc<ApiMetrics>,
    /// Image pulls under way, as agents report them.
    pub pulls: Arc<crate::pulls::PullBoard>,
    /// Containers' latest figures, as agents on other hosts report them.
    pub agent_stats: Arc<crate::agent_stats::AgentStats>,
    /// How often agents send heartbeats, in milliseconds (a fraction of the
    /// time after which a silent instance is declared lost).
    pub heartbeat_interval_ms: u64,
    /// The metric period (CloudWatch's 60 s unless `--metrics-period`): the
    /// period of the alarms target tracking makes.
    pub metrics_period: std::time::Duration,
    /// The pool clusters' awsvpc ranges come from (`--vpc-cidr`); `None`:
    /// awsvpc tasks take Docker's own addresses on each host, unrouted.
    pub vpc_pool: Option<wharf_model::ecs::network::Ipv4Net>,
    /// Who may call, when the server has a credentials file: every AWS
    /// request must then be signed by one of its keys (or by temporary
    /// credentials Wharf issued) and is authorised by its policies. `None`:
    /// requests are not checked (loopback servers without `--credentials`).
    pub auth: Option<Arc<wharf_auth::Authenticator>>,
    /// Mints temporary credentials (STS AssumeRole, task roles).
    pub sts: Arc<wharf_auth::sts::Issuer>,
    /// Token buckets per caller, when the server throttles (`--throttle`).
    pub throttle: Option<Arc<crate::throttle::Throttle>>,
    /// Where mutating calls are recorded (`--audit-log`).
    pub audit: Option<Arc<crate::audit::AuditLog>>,
    /// Whether the API is served over TLS (its endpoints are `https://`).
    pub tls: bool,
    /// Task changes, routed to the watch of the instance each concerns.
    pub instance_changes: Arc<crate::instance_changes::InstanceChanges>,
}

/// Agents' heartbeat interval unless the server says otherwise.
pub const DEFAULT_HEARTBEAT_INTERVAL_MS: u64 = 10_000;

impl AppState {
    /// The state over these stores and clock, for this account; no reset
    /// endpoint and no agent token (set those fields after, when wanted).
    pub fn new(
        store: Arc<dyn Store>,
        logs: Arc<LogStore>,
        clock: Arc<dyn Clock>,
        account_id: &str,
    ) -> Self {
        Self {
            ops: Ops::new(store, clock, account_id),
            logs,
            allow_reset: false,
            agent_token: None,
            metrics: Arc::new(ApiMetrics::new()),
            pulls: Arc::default(),
            agent_stats: Arc::default(),
            heartbeat_interval_ms: DEFAULT_HEARTBEAT_INTERVAL_MS,
            metrics_period: std::time::Duration::from_secs(60),
            vpc_pool: wharf_model::ecs::network::DEFAULT_POOL.parse().ok(),
            auth: None,
            sts: Arc::new(wharf_auth::sts::Issuer::new(crate::random::bytes())),
            throttle: None,
            audit: None,
            tls: false,
            instance_changes: Arc::default(),
        }
    }
}

/// One request's context: shared state plus its region and id.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// Shared state.
    pub state: AppState,
    /// The request's region (SigV4 credential scope, else `us-east-1`).
    pub region: String,
    /// The `x-amzn-RequestId` of this request.
    pub request_id: String,
    /// Who signed the request, when the server checks signatures.
    pub caller: Option<Arc<wharf_auth::Caller>>,
    /// The `Host` the client addressed the request to, if it named one.
    pub host: Option<String>,
}

impl Ctx {
    /// This server's endpoint as the client reached it (`http://host:port`),
    /// when the request said which host it addressed.
    pub fn endpoint(&self) -> Option<String> {
        let scheme = if self.state.tls { "https" } else { "http" };
        self.host.as_ref().map(|h| format!("{scheme}://{h}"))
    }

    /// The store.
    pub fn store(&self) -> &dyn Store {
        &*self.state.ops.store
    }

    /// The operations of the request's region.
    pub fn ops(&self) -> Region<'_> {
        self.state.ops.region(&self.region)
    }

    /// The region and account ARNs are built in.
    pub fn scope(&self) -> Scope<'_> {
        Scope { region: &self.region, account: &self.state.ops.account_id }
    }

    /// The caller's ARN: the signer's, else the account's root.
    pub fn principal_arn(&self) -> String {
        match &self.caller {
            Some(c) => c.arn.clone(),
            None => self.root_principal(),
        }
    }

    /// The ARN of the account's root principal.
    pub fn root_principal(&self) -> String {
        format!("arn:aws:iam::{}:root", self.state.ops.account_id)
    }
}
