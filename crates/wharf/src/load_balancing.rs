//! The Application Load Balancer data plane inside `wharf server`: the stored ELBv2 state
//! ([`crate::lb_config`]) applied to a [`wharf_lb::LoadBalancer`] whenever it changes, and
//! the targets' health as the data plane observes it written back, where
//! DescribeTargetHealth reads it.
//!
//! The loop is thin: it waits for the store's ELBv2 change feed, reads every region on one
//! snapshot each, and applies the result when it differs from what runs.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use tokio::sync::{broadcast, mpsc, watch};
use wharf_lb::{HealthReport, LbConfig, LoadBalancer, Traffic};
use wharf_model::clock::Clock;
use wharf_model::ecs::attributes::{value_of, ADDRESS};
use wharf_model::ecs::shapes::ContainerInstance;
use wharf_model::elbv2::shapes::{TargetHealthReasonEnum, TargetHealthStateEnum};
use wharf_model::elbv2::{ObservedHealth, TargetRecord};
use wharf_store::elb::TargetRow;
use wharf_store::{Kind, Store, StoreError};

use crate::lb_config::{Certificates, InstanceAddresses};
use wharf_model::acm::CertificateRecord;

/// How often instances' addresses are read again, for `instance` targets whose instance
/// registered again from elsewhere (target changes are applied at once).
const INSTANCE_REFRESH: std::time::Duration = std::time::Duration::from_secs(5);

/// Runs the data plane until `shutdown` turns true. Listeners bind on `bind`; what they
/// serve is counted in `traffic`. Every server runs one, as every node of an ALB routes;
/// the health each observes is written back only while `leading` (the leading server's
/// observations are the ones DescribeTargetHealth shows, so servers do not overwrite each
/// other's).
pub async fn run(
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    bind: IpAddr,
    traffic: Arc<Traffic>,
    leading: watch::Receiver<bool>,
    mut shutdown: watch::Receiver<bool>,
) {
    let (reports, health) = mpsc::unbounded_channel::<HealthReport>();
    let lb = match LoadBalancer::new(clock.clone(), Arc::new(reports)) {
        Ok(lb) => lb.with_traffic(traffic),
        Err(e) => {
            tracing::error!(error = %e, "the load balancer data plane could not start");
            return;
        }
    };
    let writer = tokio::spawn(write_health(store.clone(), clock.clone(), leading, health));
    let mut changes = store.elb_changes();
    let mut running: Option<LbConfig> = None;
    let mut refresh = tokio::time::interval(INSTANCE_REFRESH);
    refresh.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        match read(&*store, bind, clock.now_millis()).await {
            Ok(config) if running.as_ref() != Some(&config) => {
                if let Err(e) = lb.apply(config.clone()).await {
                    tracing::warn!(error = %e, "the load balancer could not apply all of its state");
                }
                running = Some(config);
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "ELBv2 state could not be read"),
        }
        tokio::select! {
            changed = changes.recv() => match changed {
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {
                    // Several writes at once are applied together.
                    while changes.try_recv().is_ok() {}
                }
                Err(broadcast::error::RecvError::Closed) => break,
            },
            _ = refresh.tick() => {}
            _ = shutdown.wait_for(|stop| *stop) => break,
        }
    }
    let _ = lb.apply(LbConfig::default()).await;
    writer.abort();
}

/// Every container instance of a region with the address its agent reported, by
/// EC2 instance ID.
async fn instance_addresses(
    store: &dyn Store,
    region: &str,
) -> Result<InstanceAddresses, StoreError> {
    let mut out = InstanceAddresses::new();
    let clusters = wharf_ops::lookup::instance_clusters(store, region).await?;
    for cluster in &clusters {
        for u in store.instances(region, cluster, None).await? {
            let Ok(ci) = serde_json::from_str::<ContainerInstance>(&u.instance.json) else {
                continue;
            };
            let attributes = ci.attributes.as_deref().unwrap_or(&[]);
            let address = value_of(attributes, ADDRESS).and_then(|a| a.parse().ok());
            if let (Some(id), Some(address)) = (ci.ec2_instance_id, address) {
                out.insert(id, address);
            }
        }
    }
    Ok(out)
}

/// A region's ACM certificates, by ARN (what HTTPS listeners serve).
async fn certificates(store: &dyn Store, region: &str) -> Result<Certificates, StoreError> {
    let mut out = Certificates::new();
    let mut after: Option<String> = None;
    loop {
        let page = store.list(Kind::Certificate, region, after.as_deref(), 500).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.0.clone());
        for (id, json) in &page {
            match serde_json::from_str::<CertificateRecord>(json) {
                Ok(c) => {
                    if let Some(arn) = c.detail.certificate_arn.clone() {
                        out.insert(arn, c);
                    }
                }
                Err(e) => {
                    tracing::warn!(certificate = %id, error = %e, "a stored certificate could not be read")
                }
            }
        }
    }
    Ok(out)
}

/// Every region's ELBv2 state, on one snapshot per region.
async fn read(store: &dyn Store, bind: IpAddr, now_ms: i64) -> Result<LbConfig, StoreError> {
    let mut config = LbConfig::default();
    for region in store.elb_regions().await? {
        let instances = instance_addresses(store, &region).await?;
        let certificates = certificates(store, &region).await?;
        let (tx, rx) = std::sync::mpsc::channel();
        store
            .elb_read(
                &region,
                Box::new(move |view| {
                    let mut part = LbConfig::default();
                    crate::lb_config::read_region(
                        view,
                        bind,
                        now_ms,
                        &instances,
                        &certificates,
                        &mut part,
                    )?;
                    let _ = tx.send(part);
                    Ok(())
                }),
            )
            .await?;
        if let Ok(part) = rx.try_recv() {
            config.listeners.extend(part.listeners);
            config.target_groups.extend(part.target_groups);
        }
    }
    Ok(config)
}

/// Writes each health change into the target's record, in its own transaction that reads
/// the record again (so a deregistration in between is kept).
async fn write_health(
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    mut leading: watch::Receiver<bool>,
    mut reports: mpsc::UnboundedReceiver<HealthReport>,
) {
    // What this server last saw of each target while another led: written
    // when it comes to lead, so a change seen meanwhile is not lost.
    let mut unwritten: HashMap<(String, String, u16), HealthReport> = HashMap::new();
    loop {
        let report = tokio::select! {
            report = reports.recv() => match report {
                Some(r) => r,
                None => return,
            },
            changed = leading.changed() => {
                if changed.is_err() {
                    return;
                }
                if *leading.borrow_and_update() {
                    for (_, report) in unwritten.drain() {
                        store_health(&*store, &*clock, report).await;
                    }
                }
                continue;
            }
        };
        if *leading.borrow() {
            store_health(&*store, &*clock, report).await;
        } else {
            let at = (report.target_group_arn.clone(), report.target_id.clone(), report.port);
            unwritten.insert(at, report);
        }
    }
}

/// Writes one observation into its target's record.
async fn store_health(store: &dyn Store, clock: &dyn Clock, report: HealthReport) {
    let Some(region) = report.target_group_arn.split(':').nth(3).map(str::to_owned) else {
        return;
    };
    let observed = ObservedHealth {
        state: TargetHealthStateEnum::from(report.state.as_str()),
        reason: report.reason.map(|r| TargetHealthReasonEnum::from(r.code())),
        description: report.description.clone(),
        observed_ms: clock.now_millis(),
    };
    let write = Box::new(move |tx: &dyn wharf_store::elb::ElbTx| {
        let port = i32::from(report.port);
        let rows = tx.targets(&report.target_group_arn)?;
        let Some(row) = rows.into_iter().find(|r| r.id == report.target_id && r.port == port)
        else {
            return Ok(());
        };
        let Ok(mut record) = serde_json::from_str::<TargetRecord>(&row.body) else {
            return Ok(());
        };
        record.health = Some(observed.clone());
        let body = serde_json::to_string(&record)
            .map_err(|e| StoreError::Database(format!("a target record: {e}")))?;
        tx.put_target(&report.target_group_arn, &TargetRow { id: row.id, port, body })
    });
    if let Err(e) = store.elb_write(&region, write).await {
        tracing::warn!(error = %e, "a target's health could not be stored");
    }
}
