//! The parts of AWS Signature Version 4 the front door reads. Signatures are
//! accepted without verification for now; the credential scope still decides
//! the request's region, as in AWS.

use http::HeaderMap;

/// The region used when a request is not signed.
pub const DEFAULT_REGION: &str = "us-east-1";

/// The region named in the request's SigV4 credential scope
/// (`Credential=AKID/20240101/<region>/<service>/aws4_request`), if signed.
pub fn region(headers: &HeaderMap) -> Option<&str> {
    let auth = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let rest = auth.strip_prefix("AWS4-HMAC-SHA256")?;
    let cred = rest.split(',').find_map(|p| p.trim().strip_prefix("Credential="))?;
    let mut scope = cred.split('/');
    let (_key, _date, region) = (scope.next()?, scope.next()?, scope.next()?);
    let valid = !region.is_empty()
        && region.len() <= 64
        && region.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    valid.then_some(region)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_auth(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(http::header::AUTHORIZATION, v.parse().unwrap());
        h
    }

    #[test]
    fn reads_the_region_from_the_credential_scope() {
        let h = with_auth(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/eu-west-2/ecs/aws4_request, \
             SignedHeaders=host;x-amz-date, Signature=abc",
        );
        assert_eq!(region(&h), Some("eu-west-2"));
    }

    #[test]
    fn unsigned_or_odd_requests_have_no_region() {
        assert_eq!(region(&HeaderMap::new()), None);
        assert_eq!(region(&with_auth("Basic Zm9vOmJhcg==")), None);
        assert_eq!(region(&with_auth("AWS4-HMAC-SHA256 Credential=a/b/EU WEST/ecs/x")), None);
    }
}
