//! Rule matching, pure: compiled conditions evaluated against a view of the request; rules
//! in ascending priority, first match wins, the default rule when none does.

use std::net::IpAddr;

use http::{HeaderMap, HeaderName};

use crate::config::{Condition, QueryPair};
use crate::error::LbError;
use crate::wildcard;

/// The parts of a request that rule conditions look at.
#[derive(Debug, Clone, Copy)]
pub struct RequestView<'a> {
    /// The method, as sent.
    pub method: &'a str,
    /// The URL path.
    pub path: &'a str,
    /// The raw query string, without `?`.
    pub query: Option<&'a str>,
    /// The host name (Host header or `:authority`), port included if sent.
    pub host: Option<&'a str>,
    /// The request headers.
    pub headers: &'a HeaderMap,
    /// The client's address.
    pub source: IpAddr,
}

/// A condition made ready for matching.
#[derive(Debug, Clone)]
pub enum Matcher {
    /// `path-pattern`.
    Path(Vec<String>),
    /// `host-header`.
    Host(Vec<String>),
    /// `http-request-method`.
    Method(Vec<String>),
    /// `http-header`.
    Header(HeaderName, Vec<String>),
    /// `query-string`.
    Query(Vec<QueryPair>),
    /// `source-ip`.
    SourceIp(Vec<Cidr>),
}

impl Matcher {
    /// Compiles a configured condition; a bad header name or CIDR block is an error.
    pub fn compile(condition: &Condition) -> Result<Self, LbError> {
        Ok(match condition {
            Condition::PathPattern(v) => Matcher::Path(v.clone()),
            Condition::HostHeader(v) => Matcher::Host(v.clone()),
            Condition::HttpRequestMethod(v) => Matcher::Method(v.clone()),
            Condition::HttpHeader { name, values } => {
                let name = HeaderName::from_bytes(name.as_bytes())
                    .map_err(|_| LbError::InvalidConfig(format!("invalid header name {name:?}")))?;
                Matcher::Header(name, values.clone())
            }
            Condition::QueryString(pairs) => Matcher::Query(pairs.clone()),
            Condition::SourceIp(blocks) => {
                Matcher::SourceIp(blocks.iter().map(|b| Cidr::parse(b)).collect::<Result<_, _>>()?)
            }
        })
    }

    /// Whether the request satisfies this condition (any one of its values).
    pub fn matches(&self, req: &RequestView<'_>) -> bool {
        match self {
            Matcher::Path(patterns) => {
                patterns.iter().any(|p| wildcard::matches(p, req.path, false))
            }
            Matcher::Host(patterns) => {
                let Some(host) = req.host.map(strip_port) else { return false };
                patterns.iter().any(|p| wildcard::matches(p, host, true))
            }
            Matcher::Method(methods) => methods.iter().any(|m| m == req.method),
            Matcher::Header(name, patterns) => req.headers.get_all(name).iter().any(|value| {
                let value = value.to_str().unwrap_or("");
                patterns.iter().any(|p| wildcard::matches(p, value, true))
            }),
            Matcher::Query(pairs) => {
                let Some(query) = req.query else { return false };
                pairs.iter().any(|pair| query_has(query, pair))
            }
            Matcher::SourceIp(blocks) => blocks.iter().any(|b| b.contains(req.source)),
        }
    }
}

fn strip_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        // `[::1]:80`
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

fn query_has(query: &str, pair: &QueryPair) -> bool {
    query.split('&').filter(|kv| !kv.is_empty()).any(|kv| {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        pair.key.as_deref().is_none_or(|pk| wildcard::matches(pk, k, true))
            && wildcard::matches(&pair.value, v, true)
    })
}

/// A `source-ip` CIDR block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Parses `a.b.c.d/n` or `x::y/n`; a bare address is a single host.
    pub fn parse(text: &str) -> Result<Self, LbError> {
        let bad = || LbError::InvalidConfig(format!("invalid CIDR block {text:?} in source-ip"));
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p.parse::<u8>().map_err(|_| bad())?)),
            None => (text, None),
        };
        let network: IpAddr = addr.parse().map_err(|_| bad())?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        if prefix > max {
            return Err(bad());
        }
        Ok(Self { network, prefix })
    }

    /// Whether `ip` lies in this block (an IPv4-mapped IPv6 client counts as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        match (self.network, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// A rule ready to match: its priority, conditions and whatever action type the caller uses.
#[derive(Debug)]
pub struct CompiledRule<A> {
    /// Lower is evaluated first.
    pub priority: u32,
    /// All must match.
    pub conditions: Vec<Matcher>,
    /// The action taken on a match.
    pub action: A,
}

/// Sorts rules by priority so that [`select`] can take the first match.
pub fn sort_rules<A>(rules: &mut [CompiledRule<A>]) {
    rules.sort_by_key(|r| r.priority);
}

/// The action of the first rule (rules sorted by priority) whose conditions all match, or
/// the default action.
pub fn select<'r, A>(rules: &'r [CompiledRule<A>], default: &'r A, req: &RequestView<'_>) -> &'r A {
    rules
        .iter()
        .find(|r| r.conditions.iter().all(|c| c.matches(req)))
        .map_or(default, |r| &r.action)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;
    use std::net::Ipv4Addr;

    fn view<'a>(headers: &'a HeaderMap, path: &'a str, query: Option<&'a str>) -> RequestView<'a> {
        RequestView {
            method: "GET",
            path,
            query,
            host: Some("www.Example.com:8080"),
            headers,
            source: IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3)),
        }
    }

    fn rule(
        priority: u32,
        conditions: Vec<Condition>,
        action: &'static str,
    ) -> CompiledRule<&'static str> {
        let conditions = conditions.iter().map(|c| Matcher::compile(c).expect("valid")).collect();
        CompiledRule { priority, conditions, action }
    }

    fn strs(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn lowest_priority_match_wins_else_default() {
        let mut rules = vec![
            rule(20, vec![Condition::PathPattern(strs(&["/api/*"]))], "api"),
            rule(10, vec![Condition::PathPattern(strs(&["/api/admin/*"]))], "admin"),
            rule(30, vec![Condition::PathPattern(strs(&["*"]))], "catch-all"),
        ];
        sort_rules(&mut rules);
        let h = HeaderMap::new();
        assert_eq!(*select(&rules, &"default", &view(&h, "/api/admin/x", None)), "admin");
        assert_eq!(*select(&rules, &"default", &view(&h, "/api/users", None)), "api");
        assert_eq!(*select(&rules, &"default", &view(&h, "/other", None)), "catch-all");
        let rules = vec![rule(1, vec![Condition::PathPattern(strs(&["/x"]))], "x")];
        assert_eq!(*select(&rules, &"default", &view(&h, "/y", None)), "default");
    }

    #[test]
    fn all_conditions_must_match_and_any_value_of_one() {
        let rules = vec![rule(
            1,
            vec![
                Condition::PathPattern(strs(&["/a", "/b"])),
                Condition::HttpRequestMethod(strs(&["GET", "HEAD"])),
            ],
            "hit",
        )];
        let h = HeaderMap::new();
        assert_eq!(*select(&rules, &"d", &view(&h, "/b", None)), "hit");
        let mut post = view(&h, "/b", None);
        post.method = "POST";
        assert_eq!(*select(&rules, &"d", &post), "d");
        let mut lower = view(&h, "/b", None);
        lower.method = "get";
        assert_eq!(*select(&rules, &"d", &lower), "d", "methods are case-sensitive");
    }

    #[test]
    fn path_is_case_sensitive_host_is_not_and_ignores_port() {
        let h = HeaderMap::new();
        let path = Matcher::compile(&Condition::PathPattern(strs(&["/API"]))).expect("valid");
        assert!(!path.matches(&view(&h, "/api", None)));
        let host =
            Matcher::compile(&Condition::HostHeader(strs(&["*.example.COM"]))).expect("valid");
        assert!(host.matches(&view(&h, "/", None)));
        let other =
            Matcher::compile(&Condition::HostHeader(strs(&["example.com"]))).expect("valid");
        assert!(!other.matches(&view(&h, "/", None)));
        let mut no_host = view(&h, "/", None);
        no_host.host = None;
        assert!(!host.matches(&no_host));
        assert_eq!(strip_port("[::1]:80"), "::1");
        assert_eq!(strip_port("a.b"), "a.b");
    }

    #[test]
    fn http_header_name_is_case_insensitive_values_wildcarded() {
        let mut h = HeaderMap::new();
        h.append("user-agent", HeaderValue::from_static("Mozilla/5.0 (iPhone)"));
        let cond = Condition::HttpHeader { name: "User-Agent".into(), values: strs(&["*iphone*"]) };
        assert!(Matcher::compile(&cond).expect("valid").matches(&view(&h, "/", None)));
        let cond = Condition::HttpHeader { name: "X-Other".into(), values: strs(&["*"]) };
        assert!(!Matcher::compile(&cond).expect("valid").matches(&view(&h, "/", None)));
        let bad = Condition::HttpHeader { name: "bad name".into(), values: vec![] };
        assert!(Matcher::compile(&bad).is_err());
    }

    #[test]
    fn query_string_pairs_with_wildcards_and_any_key() {
        let h = HeaderMap::new();
        let pair =
            |k: Option<&str>, v: &str| QueryPair { key: k.map(str::to_owned), value: v.into() };
        let m = Matcher::compile(&Condition::QueryString(vec![pair(Some("version"), "v1*")]))
            .expect("valid");
        assert!(m.matches(&view(&h, "/", Some("a=1&version=v1.2"))));
        assert!(!m.matches(&view(&h, "/", Some("version=v2"))));
        assert!(!m.matches(&view(&h, "/", None)));
        let any_key =
            Matcher::compile(&Condition::QueryString(vec![pair(None, "blue")])).expect("valid");
        assert!(any_key.matches(&view(&h, "/", Some("colour=blue"))));
        assert!(!any_key.matches(&view(&h, "/", Some("colour=red&"))));
    }

    #[test]
    fn source_ip_cidr_blocks() {
        let h = HeaderMap::new();
        let m = Matcher::compile(&Condition::SourceIp(strs(&["192.168.0.0/16", "10.0.0.0/8"])))
            .expect("valid");
        assert!(m.matches(&view(&h, "/", None)));
        let c = Cidr::parse("10.1.2.3").expect("valid");
        assert!(c.contains("10.1.2.3".parse().expect("ip")));
        assert!(!c.contains("10.1.2.4".parse().expect("ip")));
        assert!(Cidr::parse("0.0.0.0/0").expect("valid").contains("8.8.8.8".parse().expect("ip")));
        assert!(Cidr::parse("::1/128").expect("valid").contains("::1".parse().expect("ip")));
        assert!(Cidr::parse("10.0.0.0/8")
            .expect("valid")
            .contains("::ffff:10.9.9.9".parse().expect("ip")));
        assert!(Cidr::parse("10.0.0.0/33").is_err());
        assert!(Cidr::parse("nonsense/8").is_err());
    }
}
