//! Test fixtures: tiny hyper targets on 127.0.0.1, a client, a health report receiver.
#![allow(dead_code, missing_docs)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, Notify};
use wharf_lb::{
    Action, HealthCheck, HealthReport, LbConfig, Listener, LoadBalancer, Target, TargetGroup,
    TargetState,
};
use wharf_model::clock::SystemClock;

pub const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
/// Every wait in these tests is bounded by this.
pub const WAIT: Duration = Duration::from_secs(10);

/// A target: answers `<name>` on most paths, with switches for health and misbehaviour.
///
/// - `/health`: the code in `health_code` (200 unless changed);
/// - `/echo`: its name, then one `name: value` line per request header;
/// - `/close`: closes the connection without answering;
/// - `/slow`: never answers (until the connection is dropped);
/// - `/hold`: announces itself on `held`, answers once `release` is notified.
#[derive(Debug)]
pub struct TestTarget {
    pub name: &'static str,
    pub addr: SocketAddr,
    pub health_code: AtomicU16,
    pub release: Notify,
    held: mpsc::UnboundedSender<&'static str>,
}

impl TestTarget {
    pub async fn start(name: &'static str, held: mpsc::UnboundedSender<&'static str>) -> Arc<Self> {
        let listener = TcpListener::bind((LOCALHOST, 0)).await.expect("bind target");
        let addr = listener.local_addr().expect("addr");
        let target = Arc::new(Self {
            name,
            addr,
            health_code: AtomicU16::new(200),
            release: Notify::new(),
            held,
        });
        let t = target.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                let t = t.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| {
                        let t = t.clone();
                        async move { t.answer(req).await }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        target
    }

    async fn answer(
        &self,
        req: Request<Incoming>,
    ) -> Result<Response<Full<Bytes>>, std::io::Error> {
        let text = match req.uri().path() {
            "/health" => {
                let code = self.health_code.load(Ordering::SeqCst);
                let mut r = Response::new(Full::new(Bytes::from_static(b"health")));
                *r.status_mut() = hyper::StatusCode::from_u16(code).expect("code");
                return Ok(r);
            }
            "/echo" => {
                let mut s = format!("{}\n", self.name);
                for (k, v) in req.headers() {
                    s.push_str(&format!("{}: {}\n", k, v.to_str().unwrap_or("?")));
                }
                s
            }
            "/close" => return Err(std::io::Error::other("closing on purpose")),
            "/slow" => {
                std::future::pending::<()>().await;
                String::new()
            }
            "/hold" => {
                let released = self.release.notified();
                let _ = self.held.send(self.name);
                released.await;
                self.name.to_owned()
            }
            _ => self.name.to_owned(),
        };
        Ok(Response::new(Full::new(Bytes::from(text))))
    }

    pub fn target(&self) -> Target {
        Target {
            id: self.name.to_owned(),
            address: self.addr.ip(),
            port: Some(self.addr.port()),
            registered_at: 0,
            deregistering_since: None,
        }
    }
}

/// Fast health checks for tests.
pub fn quick_health_check() -> HealthCheck {
    HealthCheck {
        path: "/health".into(),
        interval: Duration::from_millis(100),
        timeout: Duration::from_millis(80),
        healthy_threshold: 2,
        unhealthy_threshold: 2,
        ..HealthCheck::default()
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind((LOCALHOST, 0)).expect("bind").local_addr().expect("addr").port()
}

pub fn group(arn: &str, targets: &[&Arc<TestTarget>]) -> TargetGroup {
    let mut g = TargetGroup::new(arn, 80);
    g.health_check = quick_health_check();
    g.targets = targets.iter().map(|t| t.target()).collect();
    g
}

pub fn listener(port: u16, default_action: Action) -> Listener {
    let mut l = Listener::new("arn:listener", port, default_action);
    l.bind_address = LOCALHOST;
    l
}

/// A load balancer whose health reports arrive on the returned receiver.
pub fn balancer() -> (LoadBalancer, Reports) {
    let (tx, rx) = mpsc::unbounded_channel::<HealthReport>();
    let lb = LoadBalancer::new(Arc::new(SystemClock), Arc::new(tx)).expect("inside a runtime");
    (lb, Reports { rx, pending: Vec::new() })
}

/// Health reports, in order; each is handed out once.
pub struct Reports {
    rx: mpsc::UnboundedReceiver<HealthReport>,
    pending: Vec<HealthReport>,
}

impl Reports {
    /// The next report already received, if any (held back ones first).
    pub fn rx_try(&mut self) -> Result<HealthReport, ()> {
        if !self.pending.is_empty() {
            return Ok(self.pending.remove(0));
        }
        self.rx.try_recv().map_err(|_| ())
    }

    /// Waits (bounded) for a report, not handed out before, on `target_id` in `state`.
    pub async fn until(&mut self, target_id: &str, state: TargetState) -> HealthReport {
        let wanted = |r: &HealthReport| r.target_id == target_id && r.state == state;
        if let Some(i) = self.pending.iter().position(wanted) {
            return self.pending.remove(i);
        }
        let wait = async {
            loop {
                let report = self.rx.recv().await.expect("reports channel open");
                if wanted(&report) {
                    return report;
                }
                self.pending.push(report);
            }
        };
        tokio::time::timeout(WAIT, wait)
            .await
            .unwrap_or_else(|_| panic!("no report of {target_id} turning {state} in time"))
    }
}

pub type TestClient = Client<HttpConnector, Empty<Bytes>>;

pub fn client() -> TestClient {
    Client::builder(TokioExecutor::new()).build_http()
}

/// GET `path` on the listener at `port`: status, headers and body text.
pub async fn get(client: &TestClient, port: u16, path: &str) -> (u16, http::HeaderMap, String) {
    let uri = format!("http://127.0.0.1:{port}{path}");
    let request =
        Request::get(uri).header("host", "app.example.com").body(Empty::new()).expect("request");
    send(client, request).await
}

pub async fn send(
    client: &TestClient,
    request: Request<Empty<Bytes>>,
) -> (u16, http::HeaderMap, String) {
    let response = tokio::time::timeout(WAIT, client.request(request))
        .await
        .expect("answer in time")
        .expect("answer");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.expect("body").to_bytes();
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

pub fn config(listeners: Vec<Listener>, target_groups: Vec<TargetGroup>) -> LbConfig {
    LbConfig { listeners, target_groups }
}
