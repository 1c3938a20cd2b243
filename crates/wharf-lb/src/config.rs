//! The load balancer's input: plain types modelled on ELBv2's listeners, rules and target
//! groups, with ELBv2's defaults. The binary translates stored ELBv2 records into these.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

/// Everything the data plane serves: listeners and the target groups they forward to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LbConfig {
    /// Listeners, one per bound port.
    pub listeners: Vec<Listener>,
    /// Target groups, referenced from listener rules by ARN.
    pub target_groups: Vec<TargetGroup>,
}

/// One listener: a bound port and its rules.
#[derive(Debug, Clone, PartialEq)]
pub struct Listener {
    /// The listener's ARN (for logs; listeners are keyed by address and port).
    pub arn: String,
    /// The address to bind (ELBv2 has none; `0.0.0.0` by default, loopback in tests).
    pub bind_address: IpAddr,
    /// The port to bind (`Port`).
    pub port: u16,
    /// The rules, any order; they are evaluated by ascending priority, then the default rule.
    pub rules: Vec<Rule>,
    /// The default rule's actions (`DefaultActions`): the one that applies when no rule matches.
    pub default_action: Action,
    /// How long a target may take to answer before the client gets 504
    /// (`idle_timeout.timeout_seconds`, 60 s by default).
    pub idle_timeout: Duration,
    /// For an HTTPS listener: its certificates and TLS versions. `None`: HTTP.
    pub tls: Option<ListenerTls>,
}

/// An HTTPS listener's TLS: its certificates (the default first; the others
/// are chosen by SNI) and the TLS versions its security policy allows.
#[derive(Debug, Clone, PartialEq)]
pub struct ListenerTls {
    /// The certificates, the default first.
    pub certificates: Vec<TlsCertificate>,
    /// TLS 1.2 allowed.
    pub tls12: bool,
    /// TLS 1.3 allowed.
    pub tls13: bool,
}

/// One certificate with its key.
#[derive(Clone, PartialEq)]
pub struct TlsCertificate {
    /// The certificate's ARN (for logs).
    pub arn: String,
    /// The host names it is for (`*.example.com` covers one label).
    pub names: Vec<String>,
    /// Whether its key is an elliptic curve key (preferred over RSA when
    /// several certificates match, as an ALB prefers them).
    pub ec: bool,
    /// Its size in bits (larger preferred among matches).
    pub key_bits: u32,
    /// `NotAfter`, Unix seconds (the later preferred among matches).
    pub not_after: i64,
    /// The certificate then its chain, PEM.
    pub chain_pem: String,
    /// The private key, PEM.
    pub key_pem: String,
}

impl std::fmt::Debug for TlsCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsCertificate")
            .field("arn", &self.arn)
            .field("names", &self.names)
            .finish_non_exhaustive()
    }
}

impl Listener {
    /// A listener on `port` of all addresses, with no rules and the given default action.
    pub fn new(arn: impl Into<String>, port: u16, default_action: Action) -> Self {
        Self {
            arn: arn.into(),
            bind_address: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            port,
            rules: Vec::new(),
            default_action,
            idle_timeout: Duration::from_secs(60),
            tls: None,
        }
    }
}

/// A listener rule: conditions (all must match) and the action taken when they do.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// The rule's ARN.
    pub arn: String,
    /// Priority, 1 to 50,000; lower is evaluated first.
    pub priority: u32,
    /// The conditions; every one must match.
    pub conditions: Vec<Condition>,
    /// What to do with a matching request.
    pub action: Action,
}

/// A rule condition (`Conditions[].Field` with its config). Each lists values of which one
/// must match.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// `path-pattern`: the URL path, case-sensitive, `*` and `?` wildcards.
    PathPattern(Vec<String>),
    /// `host-header`: the host name, case-insensitive, `*` and `?` wildcards.
    HostHeader(Vec<String>),
    /// `http-request-method`: the method, exact and case-sensitive.
    HttpRequestMethod(Vec<String>),
    /// `http-header`: a header by name (case-insensitive), values with wildcards.
    HttpHeader {
        /// The header name.
        name: String,
        /// Patterns for its value, case-insensitive.
        values: Vec<String>,
    },
    /// `query-string`: key/value pairs, either side may hold wildcards; no key matches any.
    QueryString(Vec<QueryPair>),
    /// `source-ip`: client address within one of these CIDR blocks (`10.0.0.0/8`, `::1/128`).
    SourceIp(Vec<String>),
}

/// One `query-string` condition value.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryPair {
    /// The key pattern; `None` matches any key.
    pub key: Option<String>,
    /// The value pattern.
    pub value: String,
}

/// A rule's action.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// `forward`: to one or more target groups, chosen by weight.
    Forward(Vec<WeightedTargetGroup>),
    /// `fixed-response`.
    FixedResponse(FixedResponse),
    /// `redirect`.
    Redirect(Redirect),
}

impl Action {
    /// Forward everything to one target group.
    pub fn forward(target_group_arn: impl Into<String>) -> Self {
        Action::Forward(vec![WeightedTargetGroup { arn: target_group_arn.into(), weight: 1 }])
    }
}

/// A target group named by a forward action, with its weight (0 to 999).
#[derive(Debug, Clone, PartialEq)]
pub struct WeightedTargetGroup {
    /// The target group's ARN.
    pub arn: String,
    /// Its weight; a group of weight 0 gets no requests.
    pub weight: u32,
}

/// `FixedResponseConfig`.
#[derive(Debug, Clone, PartialEq)]
pub struct FixedResponse {
    /// `StatusCode`, 2XX, 4XX or 5XX.
    pub status_code: u16,
    /// `ContentType`: `text/plain` (the default), `text/css`, `text/html`,
    /// `application/javascript` or `application/json`.
    pub content_type: Option<String>,
    /// `MessageBody`, up to 1,024 characters.
    pub message_body: Option<String>,
}

/// `RedirectConfig`. Each component may use `#{protocol}`, `#{host}`, `#{port}`, `#{path}`
/// and `#{query}`; `None` keeps the request's own.
#[derive(Debug, Clone, PartialEq)]
pub struct Redirect {
    /// `Protocol`: `HTTP`, `HTTPS` or `#{protocol}`.
    pub protocol: Option<String>,
    /// `Host`.
    pub host: Option<String>,
    /// `Port`.
    pub port: Option<String>,
    /// `Path`, starting with `/`; the default is `/#{path}`.
    pub path: Option<String>,
    /// `Query`, without the leading `?`; the default is `#{query}`.
    pub query: Option<String>,
    /// `StatusCode`: `HTTP_301` or `HTTP_302`.
    pub status_code: RedirectCode,
}

/// A redirect's status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedirectCode {
    /// `HTTP_301`: moved permanently.
    Permanent,
    /// `HTTP_302`: found.
    Found,
}

/// How a target group picks a target (`load_balancing.algorithm.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Algorithm {
    /// `round_robin`, the default.
    #[default]
    RoundRobin,
    /// `least_outstanding_requests`.
    LeastOutstandingRequests,
}

/// A target group and its registered targets.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetGroup {
    /// The target group's ARN.
    pub arn: String,
    /// The targets' port when a target names none (`Port`).
    pub port: u16,
    /// Health check settings.
    pub health_check: HealthCheck,
    /// `deregistration_delay.timeout_seconds`: 300 s by default.
    pub deregistration_delay: Duration,
    /// `load_balancing.algorithm.type`.
    pub algorithm: Algorithm,
    /// `slow_start.duration_seconds`: accepted, 0 by default; not applied yet.
    pub slow_start: Duration,
    /// The registered targets, including those deregistering.
    pub targets: Vec<Target>,
}

impl TargetGroup {
    /// A target group with ELBv2's defaults and no targets.
    pub fn new(arn: impl Into<String>, port: u16) -> Self {
        Self {
            arn: arn.into(),
            port,
            health_check: HealthCheck::default(),
            deregistration_delay: Duration::from_secs(300),
            algorithm: Algorithm::RoundRobin,
            slow_start: Duration::ZERO,
            targets: Vec::new(),
        }
    }
}

/// A target group's health check settings, with ELBv2's defaults for `ip` targets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthCheck {
    /// `HealthCheckEnabled`; when false targets are `unavailable` and receive traffic.
    pub enabled: bool,
    /// `HealthCheckPath`: `/`.
    pub path: String,
    /// `HealthCheckPort`: `None` is `traffic-port`.
    pub port: Option<u16>,
    /// `HealthCheckIntervalSeconds`: 30 s.
    pub interval: Duration,
    /// `HealthCheckTimeoutSeconds`: 5 s.
    pub timeout: Duration,
    /// `HealthyThresholdCount`: 5.
    pub healthy_threshold: u32,
    /// `UnhealthyThresholdCount`: 2.
    pub unhealthy_threshold: u32,
    /// `Matcher.HttpCode`: `200`; lists (`200,202`) and ranges (`200-299`).
    pub matcher: String,
}

impl Default for HealthCheck {
    fn default() -> Self {
        Self {
            enabled: true,
            path: "/".to_owned(),
            port: None,
            interval: Duration::from_secs(30),
            timeout: Duration::from_secs(5),
            healthy_threshold: 5,
            unhealthy_threshold: 2,
            matcher: "200".to_owned(),
        }
    }
}

/// A registered target.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// The target's ID (an IP address or instance ID, as registered).
    pub id: String,
    /// Where to connect.
    pub address: IpAddr,
    /// The port; `None` is the target group's.
    pub port: Option<u16>,
    /// When it was registered, milliseconds since the epoch.
    pub registered_at: i64,
    /// When DeregisterTargets was called for it, milliseconds since the epoch.
    pub deregistering_since: Option<i64>,
}
