//! What a request says about its signature: read from the `Authorization`
//! header, or from a presigned URL's query parameters.

use std::borrow::Cow;

use super::{
    percent_decode, split_at_byte, Request, ALGORITHM, MAX_PRESIGNED_EXPIRES, X_AMZ_DATE,
    X_AMZ_SECURITY_TOKEN,
};
use crate::time::{parse_amz_date, parse_http_date};
use crate::AuthError;

/// A signature's claims, read but not yet verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim<'a> {
    /// The access key id of the credential scope.
    pub access_key_id: Cow<'a, str>,
    /// The scope's date, `YYYYMMDD`.
    pub date: Cow<'a, str>,
    /// The scope's region.
    pub region: Cow<'a, str>,
    /// The scope's service (its signing name: `ecs`, `logs`, `elasticloadbalancing`, ...).
    pub service: Cow<'a, str>,
    /// The signed headers, lower-case, `;`-separated, as the client listed them.
    pub signed_headers: Cow<'a, str>,
    /// The signature.
    pub signature: [u8; 32],
    /// The request time as signed (`X-Amz-Date`, or the `Date` header in its basic form).
    pub amz_date: Cow<'a, str>,
    /// The request time, Unix seconds.
    pub time: i64,
    /// The session token (`X-Amz-Security-Token`), with temporary credentials.
    pub security_token: Option<Cow<'a, str>>,
    /// A presigned URL's lifetime (`X-Amz-Expires`), in seconds.
    pub expires: Option<i64>,
}

impl Claim<'_> {
    /// Whether the signature came in the query string.
    pub fn presigned(&self) -> bool {
        self.expires.is_some()
    }

    /// `access-key/date/region/service`: the part of the credential that
    /// decides the signing key (the cache key of derived keys).
    pub fn key_scope(&self) -> String {
        format!("{}/{}/{}/{}", self.access_key_id, self.date, self.region, self.service)
    }
}

/// Reads the request's signature claims. `MissingToken` when it carries
/// none; `Incomplete` when what it carries cannot be read.
pub fn read_claim<'a>(req: &Request<'a>) -> Result<Claim<'a>, AuthError> {
    if let Some(value) = req.headers.get(http::header::AUTHORIZATION) {
        let value = ascii(value)
            .ok_or_else(|| AuthError::Incomplete("Authorization header is not ASCII.".into()))?;
        return from_header(req, value);
    }
    if query_param(req.query, "X-Amz-Algorithm").is_some()
        || query_param(req.query, "X-Amz-Signature").is_some()
    {
        return from_query(req);
    }
    Err(AuthError::MissingToken)
}

fn header<'a>(req: &Request<'a>, name: &http::HeaderName) -> Option<&'a str> {
    req.headers.get(name).and_then(ascii).map(str::trim)
}

/// A header's value as text when it is ASCII (as `HeaderValue::to_str`,
/// whose byte-by-byte check costs more on a 200-byte `Authorization`: a
/// header value holds no control character but tab, so ASCII is enough).
fn ascii(value: &http::HeaderValue) -> Option<&str> {
    let bytes = value.as_bytes();
    bytes.is_ascii().then(|| std::str::from_utf8(bytes).ok()).flatten()
}

fn from_header<'a>(req: &Request<'a>, value: &'a str) -> Result<Claim<'a>, AuthError> {
    let value = value.trim();
    let Some(rest) = value.strip_prefix(ALGORITHM) else {
        let scheme = value.split_whitespace().next().unwrap_or("");
        return Err(AuthError::Incomplete(format!(
            "Unsupported authorization type '{}': Wharf accepts {ALGORITHM} only.",
            scheme.chars().take(40).collect::<String>()
        )));
    };
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',') {
        if let Some((name, v)) = part.split_once('=') {
            let v = v.trim_ascii();
            match name.trim_ascii() {
                "Credential" => credential = Some(v),
                "SignedHeaders" => signed = Some(v),
                "Signature" => signature = Some(v),
                _ => {}
            }
        }
    }
    let amz_date = header(req, &X_AMZ_DATE);
    let http_date = if amz_date.is_none() { header(req, &http::header::DATE) } else { None };
    let mut missing = String::new();
    for (present, name) in [
        (credential.is_some(), "Credential"),
        (signature.is_some(), "Signature"),
        (signed.is_some(), "SignedHeaders"),
    ] {
        if !present {
            missing.push_str(&format!("Authorization header requires '{name}' parameter. "));
        }
    }
    if amz_date.is_none() && http_date.is_none() {
        missing.push_str(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ",
        );
    }
    let (Some(credential), Some(signed), Some(signature)) = (credential, signed, signature) else {
        return Err(AuthError::Incomplete(missing.trim_end().to_owned()));
    };
    if !missing.is_empty() {
        return Err(AuthError::Incomplete(missing.trim_end().to_owned()));
    }
    let (amz_date, time) = match amz_date {
        Some(d) => (Cow::Borrowed(d), parse_amz_date(d)),
        None => {
            let t = http_date.and_then(parse_http_date);
            (Cow::Owned(t.map(crate::time::format_amz_date).unwrap_or_default()), t)
        }
    };
    let time = time.ok_or_else(|| {
        AuthError::Incomplete(format!(
            "Date must be in ISO-8601 'basic format'. Got '{}'. See http://en.wikipedia.org/wiki/ISO_8601",
            header(req, &X_AMZ_DATE).or(http_date).unwrap_or("")
        ))
    })?;
    let (access_key_id, date, region, service) = scope(credential)?;
    Claim {
        access_key_id: Cow::Borrowed(access_key_id),
        date: Cow::Borrowed(date),
        region: Cow::Borrowed(region),
        service: Cow::Borrowed(service),
        signed_headers: Cow::Borrowed(signed),
        signature: read_signature(signature)?,
        amz_date,
        time,
        security_token: header(req, &X_AMZ_SECURITY_TOKEN).map(Cow::Borrowed),
        expires: None,
    }
    .checked()
}

fn from_query<'a>(req: &Request<'a>) -> Result<Claim<'a>, AuthError> {
    let get = |name: &str| query_param(req.query, name).map(|v| decode(v));
    let algorithm = get("X-Amz-Algorithm");
    if algorithm.as_deref() != Some(ALGORITHM) {
        return Err(AuthError::Incomplete(format!(
            "X-Amz-Algorithm must be {ALGORITHM}, not '{}'.",
            algorithm.unwrap_or_default().chars().take(40).collect::<String>()
        )));
    }
    let mut missing = String::new();
    let mut need = |name: &str| {
        let v = get(name);
        if v.is_none() {
            missing.push_str(&format!("AWS query-string parameters must include '{name}'. "));
        }
        v
    };
    let (credential, signed, signature, amz_date, expires) = (
        need("X-Amz-Credential"),
        need("X-Amz-SignedHeaders"),
        need("X-Amz-Signature"),
        need("X-Amz-Date"),
        need("X-Amz-Expires"),
    );
    let (Some(credential), Some(signed), Some(signature), Some(amz_date), Some(expires)) =
        (credential, signed, signature, amz_date, expires)
    else {
        return Err(AuthError::Incomplete(format!(
            "{}Re-examine the query-string parameters.",
            missing
        )));
    };
    let time = parse_amz_date(&amz_date).ok_or_else(|| {
        AuthError::Incomplete(format!(
            "X-Amz-Date must be in ISO-8601 'basic format'. Got '{amz_date}'."
        ))
    })?;
    let expires = expires
        .parse::<i64>()
        .ok()
        .filter(|e| (1..=MAX_PRESIGNED_EXPIRES).contains(e))
        .ok_or_else(|| {
        AuthError::Incomplete(format!(
            "X-Amz-Expires must be a number of seconds from 1 to {MAX_PRESIGNED_EXPIRES}."
        ))
    })?;
    let (a, d, r, s) = scope(&credential)?;
    let (a, d, r, s) = (a.to_owned(), d.to_owned(), r.to_owned(), s.to_owned());
    Claim {
        access_key_id: Cow::Owned(a),
        date: Cow::Owned(d),
        region: Cow::Owned(r),
        service: Cow::Owned(s),
        signed_headers: Cow::Owned(signed.into_owned()),
        signature: read_signature(&signature)?,
        amz_date: Cow::Owned(amz_date.into_owned()),
        time,
        security_token: get("X-Amz-Security-Token").map(|t| Cow::Owned(t.into_owned())),
        expires: Some(expires),
    }
    .checked()
}

fn decode(v: &str) -> Cow<'_, str> {
    match super::percent_decode(v) {
        Cow::Borrowed(_) => Cow::Borrowed(v),
        Cow::Owned(bytes) => Cow::Owned(String::from_utf8_lossy(&bytes).into_owned()),
    }
}

/// The raw value of a query parameter, if present (the first of its name).
pub(crate) fn query_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name || *percent_decode(k) == *name.as_bytes()).then_some(v)
    })
}

/// `AKID/20150830/us-east-1/ecs/aws4_request` into its four parts.
fn scope(credential: &str) -> Result<(&str, &str, &str, &str), AuthError> {
    let mut parts = split_at_byte(credential, b'/');
    let mut next = || parts.next();
    match (next(), next(), next(), next(), next(), next()) {
        (Some(key), Some(date), Some(region), Some(service), Some("aws4_request"), None)
            if !key.is_empty() && !region.is_empty() && !service.is_empty() =>
        {
            Ok((key, date, region, service))
        }
        (Some(_), Some(_), Some(_), Some(_), Some(last), None) => {
            Err(AuthError::Incomplete(format!(
                "Credential should be scoped with a valid terminator: 'aws4_request', not '{}'.",
                last.chars().take(40).collect::<String>()
            )))
        }
        _ => Err(AuthError::Incomplete(
            "Credential should be scoped to a valid region, and have the form \
             <access key>/<date>/<region>/<service>/aws4_request."
                .into(),
        )),
    }
}

fn read_signature(text: &str) -> Result<[u8; 32], AuthError> {
    crate::hex::decode32(text)
        .ok_or_else(|| AuthError::Incomplete("Signature must be 64 hexadecimal digits.".into()))
}

impl Claim<'_> {
    /// The checks AWS makes on a readable claim before looking at the
    /// secret: the scope's date is the request's, the region is a region.
    fn checked(self) -> Result<Self, AuthError> {
        if self.amz_date.get(0..8) != Some(&*self.date) {
            return Err(AuthError::WrongScope(format!(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{}', from '{}'.",
                self.date.chars().take(16).collect::<String>(),
                self.amz_date.get(0..8).unwrap_or(""),
                self.amz_date
            )));
        }
        let region_ok = self.region.len() <= 64
            && self
                .region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !region_ok {
            return Err(AuthError::WrongScope(
                "Credential should be scoped to a valid region. ".into(),
            ));
        }
        Ok(self)
    }
}
