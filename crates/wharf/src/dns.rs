//! The server's DNS resolver for containers: Wharf's resolver
//! (`wharf_agent::dns`) on `--dns-address`, its table of Cloud Map's private
//! namespaces (`wharf_ops::discovery::dns_table`) rebuilt from the store when
//! this server writes Cloud Map (`wharf_ops::discovery::changes`) and every
//! [`REFRESH`] (writes of other servers sharing the store). Agents on other
//! hosts run the same resolver with the table they fetch from a server.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use wharf_model::servicediscovery::dns::Table;
use wharf_ops::Ops;

/// How often the table is rebuilt without a change heard of.
pub const REFRESH: Duration = Duration::from_secs(1);

/// Keeps `tables` at the store's table until `shutdown` turns true.
pub async fn feed(
    ops: Ops,
    tables: watch::Sender<Arc<Table>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut changes = ops.discovery_changes.subscribe();
    loop {
        match wharf_ops::discovery::dns_table(&ops).await {
            Ok(fresh) => {
                tables.send_if_modified(|t| {
                    let changed = **t != fresh;
                    if changed {
                        *t = Arc::new(fresh);
                    }
                    changed
                });
            }
            Err(e) => tracing::warn!(error = %e.message, "DNS table not refreshed"),
        }
        tokio::select! {
            _ = changes.changed() => {}
            _ = tokio::time::sleep(REFRESH) => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
    }
}
