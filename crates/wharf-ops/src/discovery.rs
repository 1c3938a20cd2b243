//! A region's Cloud Map registry (`wharf_model::servicediscovery::Registry`):
//! read it, change it in one atomic write (for the Cloud Map API and for
//! ECS services registering their tasks), and hear of changes.

use std::sync::{Arc, Mutex};

use wharf_model::servicediscovery::dns::Table;
use wharf_model::servicediscovery::{DiscoveryError, Env, Registry};
use wharf_model::EcsError;
use wharf_store::{Kind, StoreError, Write};

use crate::Region;

/// The key of the registry document in its region.
pub const KEY: &str = "registry";

fn failed(e: impl std::fmt::Display) -> DiscoveryError {
    tracing::error!(error = %e, "the Cloud Map registry could not be read or written");
    DiscoveryError::server("Wharf could not read or write its Cloud Map state.")
}

fn parse(json: Option<String>) -> Result<Registry, DiscoveryError> {
    match json {
        Some(j) => serde_json::from_str(&j).map_err(failed),
        None => Ok(Registry::default()),
    }
}

/// The registry as it is.
pub async fn read(r: Region<'_>) -> Result<Registry, DiscoveryError> {
    parse(r.store().get(Kind::Discovery, r.name, KEY).await.map_err(failed)?)
}

/// The DNS answers of every region's private namespaces: what the resolvers
/// of every host answer from.
pub async fn dns_table(ops: &crate::Ops) -> Result<Table, DiscoveryError> {
    let mut table = Table::default();
    for region in ops.store.regions(Kind::Discovery).await.map_err(failed)? {
        let registry = read(ops.region(&region)).await?;
        table.zones.extend(registry.private_zones());
        for (name, answers) in registry.dns() {
            let slot = table.names.entry(name).or_default();
            slot.a.extend(answers.a);
            slot.srv.extend(answers.srv);
        }
    }
    Ok(table)
}

/// A receiver that sees a new value after each Cloud Map write this server
/// makes (the DNS answers follow it).
pub fn changes(r: Region<'_>) -> tokio::sync::watch::Receiver<u64> {
    r.ops.discovery_changes.subscribe()
}

/// Changes the registry in one atomic write; `change` gets the registry and
/// the environment ids and dates come from, and its result is returned. An
/// error writes nothing. `change` may run more than once.
pub async fn change<T, F>(r: Region<'_>, change: F) -> Result<T, DiscoveryError>
where
    T: Send + 'static,
    F: Fn(&mut Registry, Env<'_>) -> Result<T, DiscoveryError> + Send + Sync + 'static,
{
    let out: Arc<Mutex<Option<Result<T, DiscoveryError>>>> = Arc::new(Mutex::new(None));
    let out_in = out.clone();
    let entropy = r.ops.entropy.clone();
    let account = r.ops.account_id.clone();
    let region = r.name.to_owned();
    let now_ms = r.now_ms();
    let written = r
        .store()
        .update(
            Kind::Discovery,
            r.name,
            KEY,
            Box::new(move |current| {
                let refused = |e: DiscoveryError| EcsError::server(e.message);
                let mut registry = parse(current).map_err(refused)?;
                let before = registry.clone();
                let env = Env { region: &region, account: &account, now_ms, entropy: &*entropy };
                let result = change(&mut registry, env);
                let failed_now = result.is_err();
                if let Ok(mut o) = out_in.lock() {
                    *o = Some(result);
                }
                if failed_now {
                    return Err(EcsError::client("refused"));
                }
                if registry == before {
                    return Ok(Write::Keep);
                }
                serde_json::to_string(&registry)
                    .map(Write::Put)
                    .map_err(|e| EcsError::server(e.to_string()))
            }),
        )
        .await;
    let result = out.lock().ok().and_then(|mut o| o.take());
    let answer = match (written, result) {
        (_, Some(Err(e))) => Err(e),
        (Ok(_), Some(Ok(v))) => Ok(v),
        (Err(StoreError::Rejected(e)), _) => Err(failed(e.message)),
        (Err(e), _) => Err(failed(e)),
        (Ok(_), None) => Err(failed("the change did not run")),
    };
    if answer.is_ok() {
        r.ops.discovery_changes.send_modify(|n| *n = n.wrapping_add(1));
    }
    answer
}
