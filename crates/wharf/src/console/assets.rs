//! The page itself: `index.html`, `app.js` and `app.css`, compiled into the
//! binary (no build step, no CDN), each served with its content type, a
//! strong `ETag` (a hash of its bytes) so a browser revalidates with
//! `If-None-Match` and gets `304 Not Modified`, and headers that keep the
//! page from running anything it did not ship.

use axum::response::{IntoResponse, Response};
use http::{header, HeaderMap, HeaderValue, StatusCode};

/// One embedded file.
#[derive(Debug, Clone, Copy)]
pub struct Asset {
    /// Its bytes.
    pub body: &'static str,
    /// Its `Content-Type`.
    pub content_type: &'static str,
    /// The hash its `ETag` carries.
    pub hash: u64,
}

/// FNV-1a, at compile time: a validator only has to change when the bytes do.
const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    hash
}

const fn asset(body: &'static str, content_type: &'static str) -> Asset {
    Asset { body, content_type, hash: fnv1a(body.as_bytes()) }
}

/// The page.
pub const INDEX: Asset = asset(include_str!("assets/index.html"), "text/html; charset=utf-8");
/// The script.
pub const APP_JS: Asset = asset(include_str!("assets/app.js"), "text/javascript; charset=utf-8");
/// The style sheet.
pub const APP_CSS: Asset = asset(include_str!("assets/app.css"), "text/css; charset=utf-8");

/// What the page may load: only its own script, style and API.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
                   connect-src 'self'; img-src 'self' data:; base-uri 'none'; \
                   form-action 'none'; frame-ancestors 'none'";

impl Asset {
    /// The `ETag`: the hash, quoted.
    pub fn etag(&self) -> String {
        format!("\"{:016x}\"", self.hash)
    }

    /// The response to a GET: the file, or `304` when the request's
    /// `If-None-Match` names its current `ETag`.
    pub fn respond(&self, request: &HeaderMap) -> Response {
        let etag = self.etag();
        let fresh = request
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
        let mut response = if fresh {
            StatusCode::NOT_MODIFIED.into_response()
        } else {
            (StatusCode::OK, self.body).into_response()
        };
        let h = response.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(self.content_type));
        if let Ok(v) = HeaderValue::from_str(&etag) {
            h.insert(header::ETAG, v);
        }
        // Revalidate every time: a new binary serves a new page at once.
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
        h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
        h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validators_follow_the_bytes() {
        assert_ne!(INDEX.hash, APP_JS.hash);
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        let mut request = HeaderMap::new();
        let first = APP_JS.respond(&request);
        assert_eq!(first.status(), StatusCode::OK);
        assert_eq!(first.headers()[header::CONTENT_TYPE], "text/javascript; charset=utf-8");
        let etag = first.headers()[header::ETAG].clone();
        request.insert(header::IF_NONE_MATCH, etag.clone());
        let again = APP_JS.respond(&request);
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(again.headers()[header::ETAG], etag);
        request.insert(header::IF_NONE_MATCH, HeaderValue::from_static("\"0000000000000000\""));
        assert_eq!(APP_JS.respond(&request).status(), StatusCode::OK);
    }
}
