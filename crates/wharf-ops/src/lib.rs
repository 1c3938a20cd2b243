//! Wharf's operations layer: what each ECS and ELBv2 operation with effects
//! does, written once. API handlers parse a request, check it and call an
//! operation here; reconcilers decide and call the same operation. Nothing
//! here parses a protocol or decides on a schedule.
//!
//! - [`launch`]: place and launch tasks (RunTask, StartTask, services);
//! - [`stop`]: stop a task (StopTask, the service scheduler);
//! - [`instances`]: a container instance's status (draining, deregistering);
//! - [`spot`]: interrupt a Fargate Spot task (Wharf's own command);
//! - [`targets`]: register and deregister load balancer targets
//!   (RegisterTargets/DeregisterTargets, the service scheduler);
//! - [`service`]: read a service's record, change it atomically while it
//!   is ACTIVE (CreateService's deployment, UpdateService, DeleteService,
//!   task sets);
//! - [`network`] and [`discovery`]: a region's EC2 network and Cloud Map
//!   registry, each one document changed atomically;
//! - [`alarms`]: the CloudWatch alarms deployments watch, by one rule;
//! - [`lookup`]: the reads every operation shares (an ACTIVE cluster, a
//!   runnable task definition, a resource's tags);
//! - [`docs`] and [`elb_state`]: typed access to the store's records;
//! - [`metrics`]: the CloudWatch metric data this server holds;
//! - [`autoscaling`]: scalable targets' records and the scaling of a
//!   service's desired count.
//!
//! It stands on `wharf-model` (the rules, pure) and `wharf-store` (the
//! state); `wharf-api` and `wharf-control` stand on it and never on each
//! other.

pub mod alarms;
pub mod autoscaling;
pub mod discovery;
pub mod docs;
pub mod elb_state;
mod error;
pub mod instances;
pub mod launch;
pub mod lookup;
pub mod metrics;
pub mod network;
pub mod service;
pub mod spot;
pub mod stop;
pub mod targets;
pub mod traffic;

use std::sync::Arc;

use wharf_model::arn::Scope;
use wharf_model::clock::Clock;
use wharf_model::ids::{Entropy, SystemEntropy};
use wharf_store::Store;

pub use error::OpsError;

/// What every operation works with: the store, the time, the account and
/// the random part of new identifiers.
#[derive(Debug, Clone)]
pub struct Ops {
    /// Where everything is kept.
    pub store: Arc<dyn Store>,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// The account ARNs carry.
    pub account_id: Arc<str>,
    /// The random part of new ids (tests fix it to make draws coincide).
    pub entropy: Arc<dyn Entropy>,
    /// Counts this server's Cloud Map writes, so that the DNS answers follow
    /// them at once ([`discovery::changes`]).
    pub discovery_changes: Arc<tokio::sync::watch::Sender<u64>>,
    /// CloudWatch metric data this server holds.
    pub metrics: Arc<metrics::MetricStore>,
}

impl Ops {
    /// Operations over this store and clock, for this account.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, account_id: &str) -> Self {
        Self {
            store,
            clock,
            account_id: account_id.into(),
            entropy: Arc::new(SystemEntropy),
            discovery_changes: Arc::new(tokio::sync::watch::channel(0).0),
            metrics: Arc::new(metrics::MetricStore::new()),
        }
    }

    /// The operations of one region.
    pub fn region<'a>(&'a self, region: &'a str) -> Region<'a> {
        Region { ops: self, name: region }
    }
}

/// The operations of one region: each operation is a method of this.
#[derive(Debug, Clone, Copy)]
pub struct Region<'a> {
    /// The shared state.
    pub ops: &'a Ops,
    /// The region's name.
    pub name: &'a str,
}

impl<'a> Region<'a> {
    /// The store.
    pub fn store(&self) -> &'a dyn Store {
        &*self.ops.store
    }

    /// The region and account ARNs are built in.
    pub fn scope(&self) -> Scope<'a> {
        Scope { region: self.name, account: &self.ops.account_id }
    }

    /// Milliseconds since the epoch, by the clock.
    pub fn now_ms(&self) -> i64 {
        self.ops.clock.now_millis()
    }
}
