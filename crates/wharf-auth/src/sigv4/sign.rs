//! The client side, for Wharf's own clients (the agent link, tests):
//! signs a request's headers as the AWS SDKs do.

use http::HeaderValue;

use super::{canonical_request, read_claim, signature, signing_key, string_to_sign, Request};
use crate::time::format_amz_date;

/// Credentials to sign with.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningCredentials {
    /// The access key id.
    pub access_key_id: String,
    /// The secret.
    pub secret_access_key: String,
    /// A session token, with temporary credentials.
    pub session_token: Option<String>,
}

impl std::fmt::Debug for SigningCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningCredentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// Adds `X-Amz-Date`, `X-Amz-Security-Token` (with a session token) and
/// `Authorization` to `headers`, signing `host` (which must be there), the
/// `x-amz-*` headers and `content-type` when present.
#[allow(clippy::too_many_arguments)]
pub fn sign(
    method: &str,
    path: &str,
    query: &str,
    headers: &mut http::HeaderMap,
    body: &[u8],
    credentials: &SigningCredentials,
    region: &str,
    service: &str,
    now: i64,
) {
    let amz_date = format_amz_date(now);
    if let Ok(v) = HeaderValue::from_str(&amz_date) {
        headers.insert("x-amz-date", v);
    }
    if let Some(token) = &credentials.session_token {
        if let Ok(v) = HeaderValue::from_str(token) {
            headers.insert("x-amz-security-token", v);
        }
    }
    let mut names: Vec<String> = headers
        .keys()
        .map(|k| k.as_str().to_owned())
        .filter(|k| k == "host" || k == "content-type" || k.starts_with("x-amz-"))
        .collect();
    names.sort();
    names.dedup();
    let signed = names.join(";");
    let date = &amz_date[..8];
    let scope = format!("{}/{date}/{region}/{service}/aws4_request", credentials.access_key_id);
    // A placeholder signature makes a claim the canonical request is built from.
    let placeholder = format!(
        "AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders={signed}, Signature={}",
        "0".repeat(64)
    );
    if let Ok(v) = HeaderValue::from_str(&placeholder) {
        headers.insert(http::header::AUTHORIZATION, v);
    }
    let req = Request { method, path, query, headers, authority: None, body };
    let (Ok(claim), key) =
        (read_claim(&req), signing_key(&credentials.secret_access_key, date, region, service))
    else {
        return;
    };
    let Ok(canonical) = canonical_request(&req, &claim, true) else { return };
    let sig = crate::hex::encode(&signature(&key, &string_to_sign(&claim, &canonical)));
    let value =
        format!("AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders={signed}, Signature={sig}");
    if let Ok(v) = HeaderValue::from_str(&value) {
        headers.insert(http::header::AUTHORIZATION, v);
    }
}
