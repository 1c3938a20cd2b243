//! Answers the load balancer writes itself, worded as an ALB words them: error pages,
//! fixed responses and redirects (with ELBv2's `#{...}` placeholders).

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE, LOCATION, SERVER};
use http::{Response, StatusCode};

use crate::body::LbBody;
use crate::config::{FixedResponse, Redirect, RedirectCode};
use crate::error::LbError;

/// ALB's `Server` header.
const AWSELB: HeaderValue = HeaderValue::from_static("awselb/2.0");
const TEXT_HTML: HeaderValue = HeaderValue::from_static("text/html");

/// Why the load balancer answers instead of a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// 502: the target refused or reset the connection, or answered with something not HTTP.
    BadGateway,
    /// 503: the target group has no target to send to.
    Unavailable,
    /// 504: the target did not answer within the idle timeout.
    GatewayTimeout,
    /// 500: the load balancer could not build an answer (a redirect to an unsendable URL).
    Internal,
}

impl Failure {
    fn page(self) -> (StatusCode, &'static str) {
        match self {
            Failure::BadGateway => (
                StatusCode::BAD_GATEWAY,
                "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n",
            ),
            Failure::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n<body>\r\n<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n</body>\r\n</html>\r\n",
            ),
            Failure::GatewayTimeout => (
                StatusCode::GATEWAY_TIMEOUT,
                "<html>\r\n<head><title>504 Gateway Time-out</title></head>\r\n<body>\r\n<center><h1>504 Gateway Time-out</h1></center>\r\n</body>\r\n</html>\r\n",
            ),
            Failure::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "<html>\r\n<head><title>500 Internal Server Error</title></head>\r\n<body>\r\n<center><h1>500 Internal Server Error</h1></center>\r\n</body>\r\n</html>\r\n",
            ),
        }
    }
}

/// The ALB error page for `failure`.
pub fn error_page(failure: Failure) -> Response<LbBody> {
    let (status, html) = failure.page();
    respond(status, TEXT_HTML, Bytes::from_static(html.as_bytes()))
}

fn respond(status: StatusCode, content_type: HeaderValue, body: Bytes) -> Response<LbBody> {
    let mut response = Response::new(LbBody::full(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(SERVER, AWSELB);
    headers.insert(CONTENT_TYPE, content_type);
    response
}

/// A fixed-response action made ready: status, content type and body built once, cloned
/// cheaply per request.
#[derive(Debug, Clone)]
pub struct Fixed {
    status: StatusCode,
    content_type: HeaderValue,
    body: Bytes,
}

impl Fixed {
    /// Checks and prepares a `FixedResponseConfig`.
    pub fn compile(config: &FixedResponse) -> Result<Self, LbError> {
        let status = StatusCode::from_u16(config.status_code)
            .ok()
            .filter(|s| s.is_success() || s.is_client_error() || s.is_server_error())
            .ok_or_else(|| {
                LbError::InvalidConfig(format!(
                    "fixed-response StatusCode {} is not 2XX, 4XX or 5XX",
                    config.status_code
                ))
            })?;
        let content_type = config.content_type.as_deref().unwrap_or("text/plain");
        let content_type = HeaderValue::from_str(content_type).map_err(|_| {
            LbError::InvalidConfig(format!("fixed-response ContentType {content_type:?}"))
        })?;
        let body = Bytes::from(config.message_body.clone().unwrap_or_default());
        Ok(Self { status, content_type, body })
    }

    /// The response.
    pub fn response(&self) -> Response<LbBody> {
        respond(self.status, self.content_type.clone(), self.body.clone())
    }
}

/// The request's parts that redirect placeholders stand for.
#[derive(Debug, Clone, Copy)]
pub struct RedirectSource<'a> {
    /// `http` (listeners here are HTTP).
    pub protocol: &'a str,
    /// The Host header, without its port.
    pub host: &'a str,
    /// The listener's port.
    pub port: u16,
    /// The path, with its leading `/`.
    pub path: &'a str,
    /// The query, without `?`, empty if none.
    pub query: &'a str,
}

/// The `Location` a redirect action sends: each component templated, then
/// `protocol://host:port/path?query` (the port always written, as an ALB writes it).
pub fn redirect_location(config: &Redirect, src: &RedirectSource<'_>) -> String {
    let port = src.port.to_string();
    let path_without_slash = src.path.strip_prefix('/').unwrap_or(src.path);
    let fill = |template: Option<&str>, default: &str| {
        let template = template.unwrap_or(default);
        let mut out = String::with_capacity(template.len() + 16);
        let mut rest = template;
        while let Some(at) = rest.find("#{") {
            out.push_str(&rest[..at]);
            let after = &rest[at..];
            let (value, len) = [
                ("#{protocol}", src.protocol),
                ("#{host}", src.host),
                ("#{port}", port.as_str()),
                ("#{path}", path_without_slash),
                ("#{query}", src.query),
            ]
            .iter()
            .find(|(name, _)| after.starts_with(name))
            .map_or(("#{", 2), |(name, value)| (*value, name.len()));
            out.push_str(value);
            rest = &after[len..];
        }
        out.push_str(rest);
        out
    };
    let protocol = fill(config.protocol.as_deref(), "#{protocol}").to_ascii_lowercase();
    let host = fill(config.host.as_deref(), "#{host}");
    let port = fill(config.port.as_deref(), "#{port}");
    let mut path = fill(config.path.as_deref(), "/#{path}");
    if !path.starts_with('/') {
        path.insert(0, '/');
    }
    let query = fill(config.query.as_deref(), "#{query}");
    let mut location = format!("{protocol}://{host}:{port}{path}");
    if !query.is_empty() {
        location.push('?');
        location.push_str(&query);
    }
    location
}

/// The redirect response for a computed `Location`.
pub fn redirect(code: RedirectCode, location: &str) -> Response<LbBody> {
    let (status, html): (_, &'static str) = match code {
        RedirectCode::Permanent => (
            StatusCode::MOVED_PERMANENTLY,
            "<html>\r\n<head><title>301 Moved Permanently</title></head>\r\n<body>\r\n<center><h1>301 Moved Permanently</h1></center>\r\n</body>\r\n</html>\r\n",
        ),
        RedirectCode::Found => (
            StatusCode::FOUND,
            "<html>\r\n<head><title>302 Found</title></head>\r\n<body>\r\n<center><h1>302 Found</h1></center>\r\n</body>\r\n</html>\r\n",
        ),
    };
    let mut response = respond(status, TEXT_HTML, Bytes::from_static(html.as_bytes()));
    match HeaderValue::from_str(location) {
        Ok(value) => {
            response.headers_mut().insert(LOCATION, value);
            response
        }
        // A template that produced an unsendable header: answer 500 rather than send garbage.
        Err(_) => error_page(Failure::Internal),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src() -> RedirectSource<'static> {
        RedirectSource {
            protocol: "http",
            host: "example.com",
            port: 80,
            path: "/a/b",
            query: "x=1",
        }
    }

    fn cfg() -> Redirect {
        Redirect {
            protocol: None,
            host: None,
            port: None,
            path: None,
            query: None,
            status_code: RedirectCode::Permanent,
        }
    }

    #[test]
    fn defaults_keep_every_component() {
        assert_eq!(redirect_location(&cfg(), &src()), "http://example.com:80/a/b?x=1");
        let no_query = RedirectSource { query: "", ..src() };
        assert_eq!(redirect_location(&cfg(), &no_query), "http://example.com:80/a/b");
    }

    #[test]
    fn http_to_https() {
        let c = Redirect { protocol: Some("HTTPS".into()), port: Some("443".into()), ..cfg() };
        assert_eq!(redirect_location(&c, &src()), "https://example.com:443/a/b?x=1");
    }

    #[test]
    fn placeholders_combine_in_any_component() {
        let c = Redirect {
            host: Some("new.#{host}".into()),
            path: Some("/v2/#{path}/#{port}".into()),
            query: Some("#{query}&from=#{host}".into()),
            ..cfg()
        };
        assert_eq!(
            redirect_location(&c, &src()),
            "http://new.example.com:80/v2/a/b/80?x=1&from=example.com"
        );
        let odd = Redirect { path: Some("/#{nope}#{".into()), ..cfg() };
        assert_eq!(redirect_location(&odd, &src()), "http://example.com:80/#{nope}#{?x=1");
    }

    #[test]
    fn pages_are_albs() {
        let r = error_page(Failure::BadGateway);
        assert_eq!(r.status(), 502);
        assert_eq!(r.headers()[SERVER], "awselb/2.0");
        let r = redirect(RedirectCode::Found, "http://x:80/");
        assert_eq!(
            (r.status().as_u16(), &r.headers()[LOCATION]),
            (302, &HeaderValue::from_static("http://x:80/"))
        );
        let bad = FixedResponse { status_code: 302, content_type: None, message_body: None };
        assert!(Fixed::compile(&bad).is_err());
        let ok = FixedResponse {
            status_code: 418,
            content_type: None,
            message_body: Some("tea".into()),
        };
        let r = Fixed::compile(&ok).expect("valid").response();
        assert_eq!(
            (r.status().as_u16(), &r.headers()[CONTENT_TYPE]),
            (418, &HeaderValue::from_static("text/plain"))
        );
    }
}
