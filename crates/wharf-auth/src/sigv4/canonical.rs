//! The canonical request: method, URI, query, headers, signed header names
//! and payload hash, one per line, as the client must have built it.
//!
//! It is written into a [`Sink`]: straight into the hash when a request is
//! verified (nothing allocated for a plain request), or into a `String` when
//! it must be shown (a signature that does not match, the test suite).

use std::borrow::Cow;

use sha2::{Digest, Sha256};

use super::encode::encode_to;
use super::{percent_decode, split_at_byte, uri_encode, Claim, Request, Sink};
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
    write_canonical(req, claim, normalize, token_added_after, &mut out)?;
    Ok(out)
}

/// Writes the canonical request into `out` (see [`canonical_request_with`]).
pub(crate) fn write_canonical<S: Sink + ?Sized>(
    req: &Request<'_>,
    claim: &Claim<'_>,
    normalize: bool,
    token_added_after: bool,
    out: &mut S,
) -> Result<(), AuthError> {
    out.put(req.method);
    out.put("\n");
    let path = if req.path.is_empty() { "/" } else { req.path };
    let path = if normalize { normalized(path) } else { Cow::Borrowed(path) };
    encode_to(path.as_bytes(), false, out);
    out.put("\n");
    if !req.query.is_empty() {
        let mut query = String::with_capacity(req.query.len() + 16);
        canonical_query(req.query, claim.presigned(), token_added_after, &mut query);
        out.put(&query);
    }
    out.put("\n");
    for name in split_at_byte(&claim.signed_headers, b';') {
        out.put(name);
        out.put(":");
        let mut found = false;
        for (header, value) in req.headers.iter() {
            if header.as_str() != name {
                continue;
            }
            if found {
                out.put(",");
            }
            found = true;
            let bytes = value.as_bytes();
            // Most values are printable ASCII without a space (a content
            // type, a host, a date, a target): they go in as they are.
            if bytes.iter().fold(true, |acc, &b| acc & (b > b' ') & (b < 0x7f)) {
                out.put_ascii(bytes);
            } else {
                push_trimmed(&String::from_utf8_lossy(bytes), out);
            }
        }
        if !found {
            match (name, req.authority) {
                ("host", Some(authority)) => out.put(authority),
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
        out.put("\n");
    }
    out.put("\n");
    out.put(&claim.signed_headers);
    out.put("\n");
    let digest =
        (!req.body.is_empty()).then(|| crate::hex::encode32(&Sha256::digest(req.body).into()));
    let computed = digest.as_ref().map_or(EMPTY_SHA256, crate::hex::as_str);
    let declared =
        req.headers.get(super::X_AMZ_CONTENT_SHA256).and_then(|v| v.to_str().ok()).map(str::trim);
    match declared {
        Some(declared) if declared == "UNSIGNED-PAYLOAD" && req.body.is_empty() => {
            out.put(declared)
        }
        Some(declared) if !declared.eq_ignore_ascii_case(computed) => {
            return Err(AuthError::BadSignature {
                details:
                    " The provided 'x-amz-content-sha256' header does not match what was computed."
                        .into(),
            })
        }
        _ => out.put(computed),
    }
    Ok(())
}

/// Header values trimmed, with runs of spaces (and folded lines) as one space.
fn push_trimmed<S: Sink + ?Sized>(value: &str, out: &mut S) {
    let bytes = value.as_bytes();
    // Most values need nothing done: no space at either end, no tab or line
    // break, no two spaces in a row. Checked without early exits, which the
    // compiler turns into wide compares.
    let edges = value.starts_with(char::is_whitespace) || value.ends_with(char::is_whitespace);
    let breaks = bytes.iter().fold(false, |acc, &b| acc | matches!(b, b'\t' | b'\n' | b'\r'));
    let doubled = bytes.windows(2).fold(false, |acc, w| acc | ((w[0] == b' ') & (w[1] == b' ')));
    if !(edges || breaks || doubled) {
        out.put(value);
        return;
    }
    let value = value.trim();
    let mut squeezed = String::with_capacity(value.len());
    let mut pending_space = false;
    for c in value.chars() {
        if c == ' ' || c == '\t' || c == '\n' || c == '\r' {
            pending_space = true;
        } else {
            if pending_space {
                squeezed.push(' ');
                pending_space = false;
            }
            squeezed.push(c);
        }
    }
    out.put(&squeezed);
}

/// The query's parameters decoded, re-encoded and sorted (the presigned
/// URL's own signature left out).
fn canonical_query(query: &str, presigned: bool, token_added_after: bool, out: &mut String) {
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

/// The path normalized, borrowed when it already is (`/`, `/a/b`: no
/// empty, `.` or `..` segment).
fn normalized(path: &str) -> Cow<'_, str> {
    let plain = path.strip_prefix('/').is_some_and(|rest| {
        let mut segments = rest.split('/').peekable();
        while let Some(seg) = segments.next() {
            let last = segments.peek().is_none();
            if seg == "." || seg == ".." || (seg.is_empty() && !last) {
                return false;
            }
        }
        true
    });
    if plain {
        Cow::Borrowed(path)
    } else {
        Cow::Owned(normalize_path(path))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_normal_path_is_borrowed_and_others_are_normalized() {
        for path in ["/", "/a", "/a/b/", "/.well-known/x", "/a..b"] {
            assert!(matches!(normalized(path), Cow::Borrowed(_)), "{path}");
            assert_eq!(normalized(path), normalize_path(path), "{path}");
        }
        for path in ["", "a", "//", "/a//b", "/./a", "/a/..", "/a/.", "/a/../b/"] {
            assert_eq!(normalized(path), normalize_path(path), "{path}");
        }
    }

    #[test]
    fn header_values_are_trimmed_and_squeezed() {
        for (value, want) in
            [("a", "a"), ("  a b  ", "a b"), ("a   b\tc", "a b c"), ("a\r\n  b", "a b"), ("", "")]
        {
            let mut out = String::new();
            push_trimmed(value, &mut out);
            assert_eq!(out, want, "{value:?}");
        }
    }
}
