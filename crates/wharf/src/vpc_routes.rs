//! The server's own host reaches every awsvpc task address: a thin loop that
//! routes each registered instance's slice through that instance's address
//! (`ip route ... proto 78`), as the agents route their peers' slices. The
//! load balancer then reaches `ip` targets on any host, without NAT.
//!
//! Slices of instances on this host itself need no route (their bridge is
//! here). The routes are removed when the server stops. Only routes into the
//! server's own VPC pool are its: several servers may share a host (the test
//! suite's do), each with its pool, and none removes another's routes. The
//! routes are checked on every pass, so one removed by hand comes back.

use std::time::Duration;

use wharf_agent::hostnet::{self, Route, SERVER_ROUTE_PROTO};
use wharf_api::AppState;
use wharf_model::ecs::network::Ipv4Net;

/// How often the instances are read again.
const INTERVAL: Duration = Duration::from_secs(2);

/// Keeps this host's routes to every slice until `shutdown` turns true, then removes them.
pub async fn run(state: AppState, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    let Some(pool) = state.vpc_pool else { return };
    let mut applied: Option<Vec<Route>> = None;
    let mut warned = false;
    loop {
        match wharf_api::ecs::vpc::all_slices(&state).await {
            Ok(slices) => {
                let wanted = tokio::task::spawn_blocking(move || {
                    hostnet::wanted_routes(&slices, &hostnet::local_addresses())
                })
                .await
                .unwrap_or_default();
                // Nothing wanted and nothing left to remove (one host): no command to run.
                let idle = wanted.is_empty() && applied.as_ref().is_some_and(Vec::is_empty);
                if !idle {
                    sync(&wanted, pool, &mut applied, &mut warned).await;
                }
            }
            Err(e) => tracing::warn!(error = %e.message, "instances not read for awsvpc routes"),
        }
        tokio::select! {
            () = tokio::time::sleep(INTERVAL) => {}
            _ = shutdown.wait_for(|stop| *stop) => break,
        }
    }
    if applied.is_some_and(|a| !a.is_empty()) {
        let _ = tokio::task::spawn_blocking(move || {
            hostnet::sync_routes(&[], SERVER_ROUTE_PROTO, &pool)
        })
        .await;
    }
}

/// Makes this host's routes into `pool` those `wanted`, noting what was applied and warning
/// once while it cannot.
async fn sync(
    wanted: &[Route],
    pool: Ipv4Net,
    applied: &mut Option<Vec<Route>>,
    warned: &mut bool,
) {
    let routes = wanted.to_vec();
    let done = tokio::task::spawn_blocking(move || {
        hostnet::sync_routes(&routes, SERVER_ROUTE_PROTO, &pool)
    })
    .await;
    match done {
        Ok(Ok(())) => {
            if applied.as_deref() != Some(wanted) {
                tracing::info!(routes = wanted.len(), "routes to awsvpc slices applied");
            }
            *applied = Some(wanted.to_vec());
            *warned = false;
        }
        Ok(Err(e)) if !*warned => {
            *warned = true;
            tracing::warn!(error = %e, "routes to other hosts' awsvpc tasks could not be set");
        }
        _ => {}
    }
}
