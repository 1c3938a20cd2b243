//! SigV4 header and query parsing: an arbitrary Authorization header,
//! X-Amz-Date, session token and query string, read and (when readable)
//! canonicalised and verified; never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wharf_auth::sigv4::{self, Request};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(4, '\n');
    let (auth, date, query, body) = (
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
    );
    let mut headers = http::HeaderMap::new();
    if let Ok(v) = http::HeaderValue::from_str(auth) {
        if !auth.is_empty() {
            headers.insert(http::header::AUTHORIZATION, v);
        }
    }
    if let Ok(v) = http::HeaderValue::from_str(date) {
        headers.insert("x-amz-date", v.clone());
        headers.insert("host", v);
    }
    let req = Request {
        method: "POST",
        path: query.split('?').next().unwrap_or("/"),
        query,
        headers: &headers,
        authority: None,
        body: body.as_bytes(),
    };
    if let Ok(claim) = sigv4::read_claim(&req) {
        let _ = sigv4::check_time(&claim, 1_440_938_160);
        let key = sigv4::signing_key("secret", &claim.date, &claim.region, &claim.service);
        let _ = sigv4::verify(&req, &claim, &key, true);
        let _ = sigv4::verify(&req, &claim, &key, false);
    }
    let _ = sigv4::normalize_path(query);
});
