//! The DNS resolver containers use (their `dnsServers`, or the awsvpc task's
//! `resolv.conf`): names of Cloud Map private namespaces are answered from
//! the table it is fed (`wharf_model::servicediscovery::dns`), every other
//! name is forwarded, as Docker's resolver forwards, to this host's
//! resolvers (`/etc/resolv.conf`) and the answer relayed unchanged. UDP only.
//!
//! The server runs one on its host (its table read from its store); an agent
//! on another host runs one of its own, its table fetched from the server
//! ([`follow_server`]), so containers on every host resolve the same names.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::watch;
use wharf_model::servicediscovery::dns::{answer, upstreams, Reply, Table};

use crate::link::ServerLink;

/// How long a forwarded query waits for the upstream resolver.
const FORWARD_TIMEOUT: Duration = Duration::from_secs(3);
/// How often an agent fetches the table from its server.
pub const FOLLOW_INTERVAL: Duration = Duration::from_millis(500);

async fn forward(upstreams: &[SocketAddr], query: &[u8]) -> Option<Vec<u8>> {
    for upstream in upstreams {
        let bind: SocketAddr = if upstream.is_ipv4() {
            (Ipv4Addr::UNSPECIFIED, 0).into()
        } else {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let Ok(socket) = UdpSocket::bind(bind).await else { continue };
        if socket.send_to(query, upstream).await.is_err() {
            continue;
        }
        let mut buf = vec![0u8; 4096];
        if let Ok(Ok(n)) = tokio::time::timeout(FORWARD_TIMEOUT, socket.recv(&mut buf)).await {
            buf.truncate(n);
            return Some(buf);
        }
    }
    None
}

/// The resolver, bound to its address.
#[derive(Debug)]
pub struct Resolver {
    socket: Arc<UdpSocket>,
    upstreams: Arc<Vec<SocketAddr>>,
}

impl Resolver {
    /// Binds `addr` (UDP), putting a 169.254.x.y address on the loopback
    /// interface first (as the task metadata endpoint's).
    pub async fn bind(addr: SocketAddr) -> std::io::Result<Self> {
        if let std::net::IpAddr::V4(ip) = addr.ip() {
            if ip.is_link_local() {
                crate::metadata::ensure_loopback_address(&ip.to_string())
                    .map_err(|e| std::io::Error::other(e.to_string()))?;
            }
        }
        let socket = UdpSocket::bind(addr).await?;
        let resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        let own = socket.local_addr()?;
        Ok(Self { socket: Arc::new(socket), upstreams: Arc::new(upstreams(&resolv, own)) })
    }

    /// The address it answers on.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// Answers queries from the latest table `tables` holds until `shutdown`
    /// turns true.
    pub async fn run(
        self,
        tables: watch::Receiver<Arc<Table>>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let mut buf = vec![0u8; 4096];
        let mut rotation = 0usize;
        loop {
            let received = tokio::select! {
                r = self.socket.recv_from(&mut buf) => r,
                _ = shutdown.wait_for(|s| *s) => break,
            };
            let Ok((n, from)) = received else { continue };
            let query = &buf[..n];
            rotation = rotation.wrapping_add(1);
            let reply = answer(&tables.borrow(), query, rotation);
            match reply {
                Reply::Answer(bytes) if !bytes.is_empty() => {
                    let _ = self.socket.send_to(&bytes, from).await;
                }
                Reply::Answer(_) => {}
                Reply::Forward => {
                    let (socket, upstreams) = (self.socket.clone(), self.upstreams.clone());
                    let query = query.to_vec();
                    tokio::spawn(async move {
                        if let Some(bytes) = forward(&upstreams, &query).await {
                            let _ = socket.send_to(&bytes, from).await;
                        }
                    });
                }
            }
        }
    }
}

/// Keeps `tables` at the server's table, fetched every [`FOLLOW_INTERVAL`]
/// through the agent's link, until `shutdown` turns true. A failed fetch
/// keeps the last table.
pub async fn follow_server(
    link: Arc<dyn ServerLink>,
    tables: watch::Sender<Arc<Table>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut warned = false;
    loop {
        match link.dns_table().await {
            Ok(table) => {
                warned = false;
                tables.send_if_modified(|t| {
                    let changed = **t != table;
                    if changed {
                        *t = Arc::new(table);
                    }
                    changed
                });
            }
            Err(e) if !warned => {
                warned = true;
                tracing::warn!(error = %e, "the DNS table could not be fetched; keeping the last");
            }
            Err(_) => {}
        }
        tokio::select! {
            () = tokio::time::sleep(FOLLOW_INTERVAL) => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
    }
}
