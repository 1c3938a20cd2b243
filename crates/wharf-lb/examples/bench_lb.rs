//! A Wharf listener for `bench/lb.sh`: one listener forwarding, round robin, to the given
//! targets; prints `ready` once every target is healthy. Usage:
//! `bench_lb LISTEN_PORT TARGET_PORT...` (all on 127.0.0.1).

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use tokio::sync::mpsc;
use wharf_lb::{
    Action, HealthReport, LbConfig, Listener, LoadBalancer, Target, TargetGroup, TargetState,
};
use wharf_model::clock::SystemClock;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<u16>());
    let port = args.next().ok_or("usage: bench_lb LISTEN_PORT TARGET_PORT...")??;
    let targets = args.collect::<Result<Vec<_>, _>>()?;
    let workers = std::env::var("WORKERS").ok().and_then(|w| w.parse().ok()).unwrap_or(2);
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(workers).enable_all().build()?;
    runtime.block_on(async move {
        let localhost = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let (tx, mut rx) = mpsc::unbounded_channel::<HealthReport>();
        let lb = LoadBalancer::with_workers(Arc::new(SystemClock), Arc::new(tx), workers)?;
        let mut group = TargetGroup::new(
            "arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/bench/1",
            80,
        );
        group.targets = targets
            .iter()
            .map(|&p| Target {
                id: format!("127.0.0.1:{p}"),
                address: localhost,
                port: Some(p),
                registered_at: 0,
                deregistering_since: None,
            })
            .collect();
        let mut listener =
            Listener::new("arn:bench-listener", port, Action::forward(group.arn.clone()));
        listener.bind_address = localhost;
        lb.apply(LbConfig { listeners: vec![listener], target_groups: vec![group] }).await?;
        let mut healthy = 0;
        while healthy < targets.len() {
            match rx.recv().await {
                Some(r) if r.state == TargetState::Healthy => healthy += 1,
                Some(_) => {}
                None => return Err("health reports stopped".into()),
            }
        }
        println!("ready");
        std::future::pending::<()>().await;
        Ok(())
    })
}
