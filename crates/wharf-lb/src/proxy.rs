//! One request through a listener: match a rule on the current route snapshot, then answer
//! (fixed response, redirect) or forward to a target with the `X-Forwarded-*` headers, and map
//! what goes wrong to 502/503/504 as an ALB does.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use http::header::{HeaderName, HeaderValue, CONNECTION, HOST};
use http::uri::PathAndQuery;
use http::{Request, Response, Uri, Version};
use hyper::body::Incoming;

use crate::body::LbBody;
use crate::config::Redirect;
use crate::pool::SendError;
use crate::respond::{self, error_page, Failure, Fixed, RedirectSource};
use crate::rules::{self, CompiledRule, RequestView};
use crate::select;
use crate::target::{InFlight, LiveGroup};
use crate::traffic::GroupTraffic;

/// A listener's rules, swapped whole when the configuration changes.
#[derive(Debug)]
pub struct Routes {
    /// Rules by ascending priority.
    pub rules: Vec<CompiledRule<RouteAction>>,
    /// The default rule's action.
    pub default: RouteAction,
    /// How long a target may take to answer.
    pub idle_timeout: Duration,
    /// Where the listener's own answers (fixed responses, redirects) are counted.
    pub answers: Arc<GroupTraffic>,
}

/// A rule's action, with its target groups resolved.
#[derive(Debug)]
pub enum RouteAction {
    /// Forward, by weight, to live target groups.
    Forward(Forward),
    /// A fixed response.
    Fixed(Fixed),
    /// A redirect.
    Redirect(Redirect),
}

/// A forward action made ready.
#[derive(Debug)]
pub struct Forward {
    groups: Vec<Arc<LiveGroup>>,
    /// Where each group's requests are counted.
    traffic: Vec<Arc<GroupTraffic>>,
    weights: Vec<u32>,
    turn: AtomicUsize,
}

impl Forward {
    /// Forward across `groups` with these weights, counting each group's requests in its
    /// [`GroupTraffic`].
    pub fn new(groups: Vec<(Arc<LiveGroup>, u32, Arc<GroupTraffic>)>) -> Self {
        let mut forward = Self {
            groups: Vec::with_capacity(groups.len()),
            traffic: Vec::with_capacity(groups.len()),
            weights: Vec::with_capacity(groups.len()),
            turn: AtomicUsize::new(0),
        };
        for (group, weight, traffic) in groups {
            forward.groups.push(group);
            forward.weights.push(weight);
            forward.traffic.push(traffic);
        }
        forward
    }

    /// The target groups this action forwards to.
    pub fn groups(&self) -> &[Arc<LiveGroup>] {
        &self.groups
    }

    fn group(&self) -> Option<(&LiveGroup, &Arc<GroupTraffic>)> {
        let index = match self.groups.len() {
            1 => 0,
            _ => select::weighted(&self.weights, self.turn.fetch_add(1, Ordering::Relaxed))?,
        };
        Some((self.groups.get(index)?, self.traffic.get(index)?))
    }
}

/// How a listener takes connections.
pub enum Transport {
    /// HTTP.
    Plain,
    /// HTTPS, with this TLS configuration.
    Tls(tokio_rustls::TlsAcceptor),
    /// HTTPS whose TLS could not be set up: connections are closed (never
    /// answered in plain HTTP).
    Refuse,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Plain => "Plain",
            Self::Tls(_) => "Tls",
            Self::Refuse => "Refuse",
        })
    }
}

/// What a listener's connections share.
#[derive(Debug)]
pub struct ListenerShared {
    /// The listener's port, for `X-Forwarded-Port` and redirects.
    pub port: u16,
    port_header: HeaderValue,
    /// The current rules.
    pub routes: ArcSwap<Routes>,
    /// HTTP or HTTPS, swapped when the listener changes.
    pub transport: ArcSwap<Transport>,
}

impl ListenerShared {
    /// A listener on `port` serving `routes` over `transport`.
    pub fn new(port: u16, routes: Routes, transport: Transport) -> Self {
        Self {
            port,
            port_header: HeaderValue::from(port),
            routes: ArcSwap::from_pointee(routes),
            transport: ArcSwap::from_pointee(transport),
        }
    }
}

static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
static X_FORWARDED_PORT: HeaderName = HeaderName::from_static("x-forwarded-port");
static X_AMZN_TRACE_ID: HeaderName = HeaderName::from_static("x-amzn-trace-id");
static KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
static PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");
static TE: HeaderName = HeaderName::from_static("te");
static UPGRADE: HeaderName = HeaderName::from_static("upgrade");

/// Serves one request.
pub async fn handle(
    shared: &ListenerShared,
    req: Request<Incoming>,
    client_addr: SocketAddr,
    secure: bool,
) -> Response<LbBody> {
    let (req, mut in_flight, idle_timeout, traffic) = match route(shared, req, client_addr, secure)
    {
        Routed::Forward(req, in_flight, idle_timeout, traffic) => {
            (req, in_flight, idle_timeout, traffic)
        }
        Routed::Answer(response) => return response,
    };
    let target = in_flight.target();
    let sent = Instant::now();
    let response =
        match tokio::time::timeout(idle_timeout, target.pool().send(target.addr, req)).await {
            Ok(Ok((response, connection))) => {
                traffic.target_responded(sent.elapsed());
                in_flight.hold(connection);
                let (mut parts, body) = response.into_parts();
                strip_hop_by_hop(&mut parts.headers);
                Response::from_parts(parts, LbBody::Proxied(body, in_flight))
            }
            Ok(Err(SendError::ConnectTimeout)) => {
                traffic.connection_failed();
                error_page(Failure::GatewayTimeout)
            }
            Err(_) => error_page(Failure::GatewayTimeout),
            Ok(Err(SendError::Connect(error))) => {
                tracing::debug!(target = %target.addr, %error, "cannot connect to target");
                traffic.connection_failed();
                error_page(Failure::BadGateway)
            }
            Ok(Err(SendError::Failed(error))) => {
                tracing::debug!(target = %target.addr, %error, "target request failed");
                error_page(Failure::BadGateway)
            }
        };
    traffic.answered(response.status());
    response
}

/// What routing decided: forward this rewritten request to a target (counting it in the
/// target group's traffic), or answer at once (counted already).
enum Routed {
    Forward(Request<Incoming>, InFlight, Duration, Arc<GroupTraffic>),
    Answer(Response<LbBody>),
}

/// An answer the load balancer writes itself, counted where `traffic` says.
fn answer(traffic: &GroupTraffic, response: Response<LbBody>) -> Routed {
    traffic.answered(response.status());
    Routed::Answer(response)
}

/// The synchronous part: the route snapshot is held only here, never across an await.
fn route(
    shared: &ListenerShared,
    mut req: Request<Incoming>,
    client_addr: SocketAddr,
    secure: bool,
) -> Routed {
    let protocol = if secure { "https" } else { "http" };
    let routes = shared.routes.load();
    let host = req
        .headers()
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()));
    let view = RequestView {
        method: req.method().as_str(),
        path: req.uri().path(),
        query: req.uri().query(),
        host,
        headers: req.headers(),
        source: client_addr.ip(),
    };
    let forward = match rules::select(&routes.rules, &routes.default, &view) {
        RouteAction::Fixed(fixed) => return answer(&routes.answers, fixed.response()),
        RouteAction::Redirect(config) => {
            let host = host.unwrap_or("");
            let host = host
                .rsplit_once(':')
                .filter(|(_, p)| p.bytes().all(|b| b.is_ascii_digit()))
                .map_or(host, |(h, _)| h);
            let src = RedirectSource {
                protocol,
                host,
                port: shared.port,
                path: view.path,
                query: view.query.unwrap_or(""),
            };
            let location = respond::redirect_location(config, &src);
            let response = respond::redirect(config.status_code, &location);
            return answer(&routes.answers, response);
        }
        RouteAction::Forward(forward) => forward,
    };
    let Some((group, traffic)) = forward.group() else {
        return answer(&routes.answers, error_page(Failure::Unavailable));
    };
    let Some(in_flight) = group.pick() else {
        return answer(traffic, error_page(Failure::Unavailable));
    };
    let traffic = traffic.clone();
    let idle_timeout = routes.idle_timeout;
    drop(routes);

    // HTTP/2 clients send `:authority`; targets speak HTTP/1.1 and want a Host header.
    if !req.headers().contains_key(HOST) {
        if let Some(authority) = req.uri().authority() {
            if let Ok(value) = HeaderValue::from_str(authority.as_str()) {
                req.headers_mut().insert(HOST, value);
            }
        }
    }
    // Origin form (`GET /path?query HTTP/1.1`), as an ALB sends it: the connection
    // already goes to the target, and servers such as busybox httpd answer an
    // absolute-form request line with 400.
    let path =
        req.uri().path_and_query().cloned().unwrap_or_else(|| PathAndQuery::from_static("/"));
    match Uri::builder().path_and_query(path).build() {
        Ok(uri) => *req.uri_mut() = uri,
        Err(_) => return answer(&traffic, error_page(Failure::BadGateway)),
    }
    *req.version_mut() = Version::HTTP_11;
    let headers = req.headers_mut();
    strip_hop_by_hop(headers);
    append_forwarded_for(headers, client_addr);
    headers.insert(X_FORWARDED_PROTO.clone(), HeaderValue::from_static(protocol));
    headers.insert(X_FORWARDED_PORT.clone(), shared.port_header.clone());
    if !headers.contains_key(&X_AMZN_TRACE_ID) {
        headers.insert(X_AMZN_TRACE_ID.clone(), trace_id());
    }
    Routed::Forward(req, in_flight, idle_timeout, traffic)
}

fn strip_hop_by_hop(headers: &mut http::HeaderMap) {
    if let Some(connection) = headers.remove(CONNECTION) {
        if let Ok(names) = connection.to_str() {
            for name in names.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                headers.remove(name);
            }
        }
    }
    for name in [&KEEP_ALIVE, &PROXY_CONNECTION, &TE, &UPGRADE] {
        headers.remove(name);
    }
}

/// Appends the client's address to `X-Forwarded-For`, as an ALB does.
fn append_forwarded_for(headers: &mut http::HeaderMap, client_addr: SocketAddr) {
    let ip = client_addr.ip().to_canonical();
    let mut existing =
        headers.get_all(&X_FORWARDED_FOR).iter().filter_map(|v| v.to_str().ok()).peekable();
    let value = if existing.peek().is_none() {
        ip.to_string()
    } else {
        let mut joined = String::with_capacity(64);
        for v in existing {
            joined.push_str(v);
            joined.push_str(", ");
        }
        joined.push_str(&ip.to_string());
        joined
    };
    if let Ok(value) = HeaderValue::from_str(&value) {
        headers.insert(X_FORWARDED_FOR.clone(), value);
    }
}

/// A new `X-Amzn-Trace-Id`: `Root=1-<epoch seconds, 8 hex>-<96 random bits, 24 hex>`.
pub fn trace_id() -> HeaderValue {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) as u32;
    let random = fastrand::u128(..);
    let mut buf = *b"Root=1-00000000-000000000000000000000000";
    for i in 0..8 {
        buf[7 + i] = HEX[((secs >> (28 - 4 * i)) & 0xf) as usize];
    }
    for i in 0..24 {
        buf[16 + i] = HEX[((random >> (4 * i)) & 0xf) as usize];
    }
    HeaderValue::from_bytes(&buf).unwrap_or_else(|_| HeaderValue::from_static("Root=1-0-0"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_ids_have_albs_shape() {
        let id = trace_id();
        let id = id.to_str().expect("ascii");
        let parts: Vec<&str> = id.split('-').collect();
        assert_eq!(parts[0], "Root=1");
        assert_eq!(parts[1].len(), 8);
        assert_eq!(parts[2].len(), 24);
        assert!(parts[1..].iter().all(|p| p.bytes().all(|b| b.is_ascii_hexdigit())));
        assert_ne!(trace_id(), trace_id());
    }

    #[test]
    fn forwarded_for_appends() {
        let mut h = http::HeaderMap::new();
        let addr: SocketAddr = "10.0.0.9:5555".parse().expect("addr");
        append_forwarded_for(&mut h, addr);
        assert_eq!(h[&X_FORWARDED_FOR], "10.0.0.9");
        append_forwarded_for(&mut h, "[::ffff:10.0.0.10]:1".parse().expect("addr"));
        assert_eq!(h[&X_FORWARDED_FOR], "10.0.0.9, 10.0.0.10");
    }

    #[test]
    fn hop_by_hop_headers_go() {
        let mut h = http::HeaderMap::new();
        h.insert(CONNECTION, HeaderValue::from_static("keep-alive, x-private"));
        h.insert("x-private", HeaderValue::from_static("1"));
        h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        h.insert("x-kept", HeaderValue::from_static("1"));
        strip_hop_by_hop(&mut h);
        assert_eq!(h.len(), 1);
        assert!(h.contains_key("x-kept"));
    }
}
