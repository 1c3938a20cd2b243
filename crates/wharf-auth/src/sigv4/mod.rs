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

pub use canonical::{canonical_request, canonical_request_with, normalize_path};
pub use claim::{read_claim, Claim};
pub use encode::{percent_decode, uri_encode};
pub use sign::{sign, SigningCredentials};

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

use crate::time::format_amz_date;
use crate::AuthError;

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

/// The string to sign: algorithm, request time, credential scope and the
/// hash of the canonical request, one per line.
pub fn string_to_sign(claim: &Claim<'_>, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{}\n{}/{}/{}/aws4_request\n{}",
        claim.amz_date,
        claim.date,
        claim.region,
        claim.service,
        sha256_hex(canonical_request.as_bytes())
    )
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
    let canonical = canonical_request(req, claim, normalize)?;
    let sts = string_to_sign(claim, &canonical);
    if same_signature(&signature(key, &sts), &claim.signature) {
        return Ok(());
    }
    if claim.presigned() && claim.security_token.is_some() {
        let without = canonical_request_with(req, claim, normalize, true)?;
        if same_signature(&signature(key, &string_to_sign(claim, &without)), &claim.signature) {
            return Ok(());
        }
    }
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
    let now_text = format_amz_date(now);
    if t > now + MAX_SKEW_SECS {
        return Err(AuthError::Expired(format!(
            "Signature not yet current: {} is still later than {} ({now_text} + 15 min.)",
            claim.amz_date,
            format_amz_date(now + MAX_SKEW_SECS)
        )));
    }
    match claim.expires {
        Some(expires) if now > t + expires => Err(AuthError::Expired(format!(
            "Signature expired: {} is now earlier than {} ({now_text} - {expires} sec.)",
            claim.amz_date,
            format_amz_date(now - expires)
        ))),
        Some(_) => Ok(()),
        None if t < now - MAX_SKEW_SECS => Err(AuthError::Expired(format!(
            "Signature expired: {} is now earlier than {} ({now_text} - 15 min.)",
            claim.amz_date,
            format_amz_date(now - MAX_SKEW_SECS)
        ))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests;
