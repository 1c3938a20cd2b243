//! AWS Signature Version 4, as a server verifies it.
//!
//! [`read_claim`] reads what a request says about its signature (the
//! `Authorization` header, or a presigned URL's `X-Amz-*` query parameters);
//! [`canonical_request`], [`string_to_sign`], [`signing_key`] and
//! [`signature`] rebuild what the client must have signed, as AWS's
//! documentation and published test suite define them; [`check_time`]
//! refuses what is outside the 15-minute window AWS allows. The
//! [`crate::identity::Authenticator`] puts these together with the secrets.

mod canonical;
mod claim;
mod encode;
mod sign;

use canonical::write_canonical;
pub use canonical::{canonical_request, canonical_request_with, normalize_path};
pub use claim::{read_claim, Claim};
pub use encode::{percent_decode, uri_encode};
pub use sign::{sign, SigningCredentials};

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

use crate::time::format_amz_date;
use crate::AuthError;

/// Where SigV4's texts (the canonical request, the string to sign) are
/// written: a `String` to show them, or straight into a hash or an HMAC so
/// that verifying a request allocates nothing for them.
pub trait Sink {
    /// Appends `text`.
    fn put(&mut self, text: &str);

    /// Appends ASCII `bytes` (a hash takes them as they are, without the
    /// UTF-8 check `put` would need first).
    fn put_ascii(&mut self, bytes: &[u8]) {
        debug_assert!(bytes.is_ascii());
        self.put(&String::from_utf8_lossy(bytes));
    }
}

impl Sink for String {
    fn put(&mut self, text: &str) {
        self.push_str(text);
    }
}

/// A SHA-256 fed through a buffer on the stack: the canonical request
/// comes in many short pieces, and one hash update per piece costs more
/// than copying it.
pub(crate) struct BufferedHash {
    hash: Sha256,
    buf: [u8; 256],
    len: usize,
}

impl BufferedHash {
    pub(crate) fn new() -> Self {
        Self { hash: Sha256::new(), buf: [0; 256], len: 0 }
    }

    /// The digest of everything put.
    pub(crate) fn finish(mut self) -> [u8; 32] {
        self.hash.update(&self.buf[..self.len]);
        self.hash.finalize().into()
    }
}

impl Sink for BufferedHash {
    #[inline]
    fn put(&mut self, text: &str) {
        self.put_ascii(text.as_bytes());
    }

    #[inline]
    fn put_ascii(&mut self, bytes: &[u8]) {
        if self.len + bytes.len() > self.buf.len() {
            self.hash.update(&self.buf[..self.len]);
            self.len = 0;
            if bytes.len() > self.buf.len() {
                self.hash.update(bytes);
                return;
            }
        }
        self.buf[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }
}

impl Sink for Hmac<Sha256> {
    fn put(&mut self, text: &str) {
        Mac::update(self, text.as_bytes());
    }
}

/// `text` split at each `sep` (an ASCII byte, so every piece is on char
/// boundaries), as `str::split` does, with a plain byte loop: the pattern
/// searcher of `str::split` costs more than the short pieces of a
/// signature's fields.
pub(crate) fn split_at_byte(text: &str, sep: u8) -> impl Iterator<Item = &str> {
    debug_assert!(sep.is_ascii());
    let bytes = text.as_bytes();
    let mut start = Some(0);
    std::iter::from_fn(move || {
        let from = start?;
        let end = bytes[from..].iter().position(|&b| b == sep).map(|p| from + p);
        start = end.map(|e| e + 1);
        text.get(from..end.unwrap_or(bytes.len()))
    })
}

/// `x-amz-date`.
pub(crate) const X_AMZ_DATE: http::HeaderName = http::HeaderName::from_static("x-amz-date");
/// `x-amz-security-token`.
pub(crate) const X_AMZ_SECURITY_TOKEN: http::HeaderName =
    http::HeaderName::from_static("x-amz-security-token");
/// `x-amz-content-sha256`.
pub(crate) const X_AMZ_CONTENT_SHA256: http::HeaderName =
    http::HeaderName::from_static("x-amz-content-sha256");

/// The only algorithm Wharf accepts (SigV4A is not served).
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// How far a request's time may be from the server's, either way, in
/// seconds: AWS's 15 minutes.
pub const MAX_SKEW_SECS: i64 = 15 * 60;

/// The longest a presigned URL may live (`X-Amz-Expires`), in seconds: 7 days.
pub const MAX_PRESIGNED_EXPIRES: i64 = 7 * 24 * 3600;

/// What arrived: the parts of an HTTP request a signature covers.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// `GET`, `POST`, ...
    pub method: &'a str,
    /// The path as it arrived (percent-encoded as sent).
    pub path: &'a str,
    /// The query string without its `?`, as it arrived.
    pub query: &'a str,
    /// The headers.
    pub headers: &'a http::HeaderMap,
    /// The request's authority when it is not in a `Host` header (HTTP/2).
    pub authority: Option<&'a str>,
    /// The body, which the server hashes itself.
    pub body: &'a [u8],
}

/// The lower-case hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    crate::hex::encode(&Sha256::digest(data))
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length: new_from_slice cannot fail for it.
    let mut mac = match Hmac::<Sha256>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => return [0; 32],
    };
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// The signing key: `HMAC("AWS4" + secret, date)`, then region, service and
/// `aws4_request` in turn.
pub fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    hmac(&k_service, b"aws4_request")
}

/// A signing key made ready to sign: the HMAC keyed with it (its inner and
/// outer pads hashed once), cloned for each request. Cached by the
/// [`crate::Authenticator`] per access key, date, region and service.
#[derive(Clone)]
pub struct SigningKey(Hmac<Sha256>);

impl SigningKey {
    /// The ready HMAC of a [`signing_key`].
    pub fn new(key: &[u8; 32]) -> Self {
        // HMAC accepts keys of any length: new_from_slice cannot fail for it.
        match Hmac::<Sha256>::new_from_slice(key) {
            Ok(mac) => Self(mac),
            Err(_) => Self(Hmac::<Sha256>::new(&Default::default())),
        }
    }

    /// The signature of the string to sign for `canonical_hash` (the hex
    /// SHA-256 of the canonical request).
    fn sign(&self, claim: &Claim<'_>, canonical_hash: &str) -> [u8; 32] {
        let mut mac = self.0.clone();
        write_string_to_sign(claim, canonical_hash, &mut mac);
        mac.finalize().into_bytes().into()
    }
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(..)")
    }
}

/// The string to sign: algorithm, request time, credential scope and the
/// hash of the canonical request, one per line.
pub fn string_to_sign(claim: &Claim<'_>, canonical_request: &str) -> String {
    let hash = crate::hex::encode32(&Sha256::digest(canonical_request.as_bytes()).into());
    let mut out = String::with_capacity(160);
    write_string_to_sign(claim, crate::hex::as_str(&hash), &mut out);
    out
}

fn write_string_to_sign<S: Sink + ?Sized>(claim: &Claim<'_>, canonical_hash: &str, out: &mut S) {
    for part in [
        ALGORITHM,
        "\n",
        &claim.amz_date,
        "\n",
        &claim.date,
        "/",
        &claim.region,
        "/",
        &claim.service,
        "/aws4_request\n",
        canonical_hash,
    ] {
        out.put(part);
    }
}

/// The signature of a string to sign under a signing key.
pub fn signature(key: &[u8; 32], string_to_sign: &str) -> [u8; 32] {
    hmac(key, string_to_sign.as_bytes())
}

/// Whether two signatures are equal, in time that does not depend on where
/// they differ.
pub fn same_signature(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Verifies a request's signature under the signing key its claim's scope
/// derives. On a mismatch the error carries the canonical request and string
/// to sign the server expected, as AWS's message does. A presigned URL whose
/// session token was appended after signing is accepted too.
pub fn verify(
    req: &Request<'_>,
    claim: &Claim<'_>,
    key: &[u8; 32],
    normalize: bool,
) -> Result<(), AuthError> {
    verify_with(req, claim, &SigningKey::new(key), normalize)
}

/// [`verify`] with a ready [`SigningKey`]: the canonical request is hashed
/// as it is written and the string to sign goes straight into the HMAC.
pub fn verify_with(
    req: &Request<'_>,
    claim: &Claim<'_>,
    key: &SigningKey,
    normalize: bool,
) -> Result<(), AuthError> {
    let matches = |token_added_after: bool| -> Result<bool, AuthError> {
        let mut hash = BufferedHash::new();
        write_canonical(req, claim, normalize, token_added_after, &mut hash)?;
        let hex = crate::hex::encode32(&hash.finish());
        Ok(same_signature(&key.sign(claim, crate::hex::as_str(&hex)), &claim.signature))
    };
    if matches(false)? {
        return Ok(());
    }
    if claim.presigned() && claim.security_token.is_some() && matches(true)? {
        return Ok(());
    }
    // The slow path, for the message: the texts the client should have signed.
    let canonical = canonical_request(req, claim, normalize)?;
    let sts = string_to_sign(claim, &canonical);
    Err(AuthError::BadSignature {
        details: format!(
            "\n\nThe Canonical String for this request should have been\n'{canonical}'\n\nThe String-to-Sign should have been\n'{sts}'\n"
        ),
    })
}

/// Refuses a request whose time is more than [`MAX_SKEW_SECS`] from `now`
/// (Unix seconds), or a presigned URL past its `X-Amz-Expires`, in AWS's words.
pub fn check_time(claim: &Claim<'_>, now: i64) -> Result<(), AuthError> {
    let t = claim.time;
    if t > now + MAX_SKEW_SECS {
        return Err(AuthError::Expired(format!(
            "Signature not yet current: {} is still later than {} ({} + 15 min.)",
            claim.amz_date,
            format_amz_date(now + MAX_SKEW_SECS),
            format_amz_date(now)
        )));
    }
    match claim.expires {
        Some(expires) if now > t + expires => Err(AuthError::Expired(format!(
            "Signature expired: {} is now earlier than {} ({} - {expires} sec.)",
            claim.amz_date,
            format_amz_date(now - expires),
            format_amz_date(now)
        ))),
        Some(_) => Ok(()),
        None if t < now - MAX_SKEW_SECS => Err(AuthError::Expired(format!(
            "Signature expired: {} is now earlier than {} ({} - 15 min.)",
            claim.amz_date,
            format_amz_date(now - MAX_SKEW_SECS),
            format_amz_date(now)
        ))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests;
