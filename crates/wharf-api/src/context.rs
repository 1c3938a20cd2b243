//! What every handler gets: the shared state and the facts of its request.

use std::sync::Arc;

use wharf_model::arn::Scope;
use wharf_model::clock::Clock;
use wharf_store::{LogStore, Store};

use crate::metrics::ApiMetrics;

/// State shared by every request.
#[derive(Debug, Clone)]
pub struct AppState {
    /// Where everything is kept.
    pub store: Arc<dyn Store>,
    /// Log groups, streams and events (CloudWatch Logs), in their own database.
    pub logs: Arc<LogStore>,
    /// The time source.
    pub clock: Arc<dyn Clock>,
    /// The account id that ARNs carry.
    pub account_id: Arc<str>,
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
    /// The random part of new ids (fixed by tests that make draws coincide).
    pub entropy: Arc<dyn wharf_model::ids::Entropy>,
    /// How often agents send heartbeats, in milliseconds (a fraction of the
    /// time after which a silent instance is declared lost).
    pub heartbeat_interval_ms: u64,
    /// The pool clusters' awsvpc ranges come from (`--vpc-cidr`); `None`:
    /// awsvpc tasks take Docker's own addresses on each host, unrouted.
    pub vpc_pool: Option<wharf_model::ecs::network::Ipv4Net>,
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
            store,
            logs,
            clock,
            account_id: account_id.into(),
            allow_reset: false,
            agent_token: None,
            metrics: Arc::new(ApiMetrics::new()),
            pulls: Arc::default(),
            agent_stats: Arc::default(),
            entropy: Arc::new(wharf_model::ids::SystemEntropy),
            heartbeat_interval_ms: DEFAULT_HEARTBEAT_INTERVAL_MS,
            vpc_pool: wharf_model::ecs::network::DEFAULT_POOL.parse().ok(),
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
}

impl Ctx {
    /// The store.
    pub fn store(&self) -> &dyn Store {
        &*self.state.store
    }

    /// The region and account ARNs are built in.
    pub fn scope(&self) -> Scope<'_> {
        Scope { region: &self.region, account: &self.state.account_id }
    }

    /// The ARN of the account's root principal.
    pub fn root_principal(&self) -> String {
        format!("arn:aws:iam::{}:root", self.state.account_id)
    }
}
