//! The canonical request: method, URI, query, headers, signed header names
//! and payload hash, one per line, as the client must have built it.

use super::{percent_decode, sha256_hex, uri_encode, Claim, Request};
use crate::AuthError;

/// The SHA-256 of an empty body, which most GETs carry.
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// The canonical request for `req` under `claim`. `normalize` removes `.`
/// and `..` segments and empty ones from the path first, as every service
/// but S3 does. Fails (as a signature mismatch) when a signed header is
/// missing or the body's hash is not the one the client declared.
pub fn canonical_request(
    req: &Request<'_>,
    claim: &Claim<'_>,
    normalize: bool,
) -> Result<String, AuthError> {
    canonical_request_with(req, claim, normalize, false)
}

/// [`canonical_request`], leaving a presigned URL's `X-Amz-Security-Token`
/// out when `token_added_after` (the client appended it after signing, as
/// some AWS clients do).
pub fn canonical_request_with(
    req: &Request<'_>,
    claim: &Claim<'_>,
    normalize: bool,
    token_added_after: bool,
) -> Result<String, AuthError> {
    let mut out = String::with_capacity(256 + req.query.len());
    out.push_str(req.method);
    out.push('\n');
    let path = if req.path.is_empty() { "/" } else { req.path };
    if normalize {
        uri_encode(normalize_path(path).as_bytes(), false, &mut out);
    } else {
        uri_encode(path.as_bytes(), false, &mut out);
    }
    out.push('\n');
    canonical_query(req.query, claim.presigned(), token_added_after, &mut out);
    out.push('\n');
    for name in claim.signed_headers.split(';') {
        out.push_str(name);
        out.push(':');
        let mut first = true;
        let mut found = false;
        for value in req.headers.get_all(name) {
            found = true;
            if !first {
                out.push(',');
            }
            first = false;
            push_trimmed(&String::from_utf8_lossy(value.as_bytes()), &mut out);
        }
        if !found {
            match (name, req.authority) {
                ("host", Some(authority)) => out.push_str(authority),
                _ => {
                    return Err(AuthError::BadSignature {
                        details: format!(
                            " The header '{}' is signed but not in the request.",
                            name.chars().take(64).collect::<String>()
                        ),
                    })
                }
            }
        }
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&claim.signed_headers);
    out.push('\n');
    let computed = if req.body.is_empty() { EMPTY_SHA256.to_owned() } else { sha256_hex(req.body) };
    match req.headers.get("x-amz-content-sha256").and_then(|v| v.to_str().ok()).map(str::trim) {
        Some(declared) if declared == "UNSIGNED-PAYLOAD" && req.body.is_empty() => {
            out.push_str(declared)
        }
        Some(declared) if !declared.eq_ignore_ascii_case(&computed) => {
            return Err(AuthError::BadSignature {
                details:
                    " The provided 'x-amz-content-sha256' header does not match what was computed."
                        .into(),
            })
        }
        _ => out.push_str(&computed),
    }
    Ok(out)
}

/// Header values trimmed, with runs of spaces (and folded lines) as one space.
fn push_trimmed(value: &str, out: &mut String) {
    let mut pending_space = false;
    let mut any = false;
    for c in value.trim().chars() {
        if c == ' ' || c == '\t' || c == '\n' || c == '\r' {
            pending_space = any;
        } else {
            if pending_space {
                out.push(' ');
                pending_space = false;
            }
            out.push(c);
            any = true;
        }
    }
}

/// The query's parameters decoded, re-encoded and sorted (the presigned
/// URL's own signature left out).
fn canonical_query(query: &str, presigned: bool, token_added_after: bool, out: &mut String) {
    if query.is_empty() {
        return;
    }
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let (mut key, mut value) = (String::new(), String::new());
            uri_encode(&percent_decode(k), true, &mut key);
            if presigned
                && (key == "X-Amz-Signature"
                    || (token_added_after && key == "X-Amz-Security-Token"))
            {
                return None;
            }
            uri_encode(&percent_decode(v), true, &mut value);
            Some((key, value))
        })
        .collect();
    pairs.sort_unstable();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
}

/// The path with empty, `.` and `..` segments resolved, keeping a trailing slash.
pub fn normalize_path(path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let mut out = String::with_capacity(path.len());
    for s in &segments {
        out.push('/');
        out.push_str(s);
    }
    let trailing = path.ends_with('/') || path.ends_with("/.") || path.ends_with("/..");
    if out.is_empty() || trailing {
        out.push('/');
    }
    out
}
