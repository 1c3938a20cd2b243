//! The authenticator end to end: requests signed as the SDKs sign them,
//! with long-term keys and with STS session credentials, verified against a
//! credentials file; each AWS refusal for what is wrong.

use std::sync::Arc;

use wharf_auth::sigv4::{self, Request, SigningCredentials};
use wharf_auth::sts::Issuer;
use wharf_auth::{AuthError, Authenticator, Directory};

const NOW: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z
const FILE: &str = r#"{
  "users": [{"arn": "arn:aws:iam::123456789012:user/alice",
             "accessKeys": [{"accessKeyId": "AKIAALICE0000001", "secretAccessKey": "alice-secret-0000000000"}]}],
  "roles": [{"arn": "arn:aws:iam::123456789012:role/app"}]
}"#;

fn authenticator() -> Authenticator {
    Authenticator::new(Arc::new(Directory::from_json(FILE).unwrap()), Issuer::new([3; 32]))
}

fn alice() -> SigningCredentials {
    SigningCredentials {
        access_key_id: "AKIAALICE0000001".into(),
        secret_access_key: "alice-secret-0000000000".into(),
        session_token: None,
    }
}

fn signed(creds: &SigningCredentials, body: &[u8], at: i64) -> http::HeaderMap {
    let mut h = http::HeaderMap::new();
    h.insert("host", "127.0.0.1:4590".parse().unwrap());
    h.insert("content-type", "application/x-amz-json-1.1".parse().unwrap());
    h.insert("x-amz-target", "AmazonEC2ContainerServiceV20141113.ListClusters".parse().unwrap());
    sigv4::sign("POST", "/", "", &mut h, body, creds, "eu-west-1", "ecs", at);
    h
}

fn check(
    a: &Authenticator,
    h: &http::HeaderMap,
    body: &[u8],
    now: i64,
) -> Result<std::sync::Arc<wharf_auth::Caller>, AuthError> {
    a.authenticate(
        &Request { method: "POST", path: "/", query: "", headers: h, authority: None, body },
        now,
    )
}

#[test]
fn a_user_s_signed_request_is_alice_in_her_region() {
    let a = authenticator();
    let h = signed(&alice(), b"{}", NOW);
    for _ in 0..2 {
        // The second time, the signing key comes from the cache.
        let caller = check(&a, &h, b"{}", NOW + 60).unwrap();
        assert_eq!(caller.arn, "arn:aws:iam::123456789012:user/alice");
        assert_eq!((caller.region.as_str(), caller.service.as_str()), ("eu-west-1", "ecs"));
        assert_eq!(caller.account(), "123456789012");
    }
}

#[test]
fn each_fault_gets_its_aws_refusal() {
    let a = authenticator();
    let h = signed(&alice(), b"{}", NOW);
    assert!(matches!(check(&a, &h, b"{\"x\":1}", NOW), Err(AuthError::BadSignature { .. })));
    assert!(matches!(check(&a, &h, b"{}", NOW + 16 * 60), Err(AuthError::Expired(_))));
    let wrong = SigningCredentials { secret_access_key: "nope-nope-nope-nope".into(), ..alice() };
    match check(&a, &signed(&wrong, b"{}", NOW), b"{}", NOW) {
        Err(e @ AuthError::BadSignature { .. }) => {
            assert_eq!(e.json_type(), "InvalidSignatureException");
            assert!(e
                .to_string()
                .contains("The Canonical String for this request should have been"));
            assert!(!e.to_string().contains("alice-secret"));
        }
        other => panic!("{other:?}"),
    }
    let stranger = SigningCredentials { access_key_id: "AKIASTRANGER0001".into(), ..alice() };
    assert_eq!(
        check(&a, &signed(&stranger, b"{}", NOW), b"{}", NOW).unwrap_err(),
        AuthError::UnknownKey
    );
    assert_eq!(
        check(&a, &http::HeaderMap::new(), b"{}", NOW).unwrap_err(),
        AuthError::MissingToken
    );
}

#[test]
fn sts_credentials_act_as_the_assumed_role_until_they_expire() {
    let a = authenticator();
    let c =
        a.issuer().mint("arn:aws:iam::123456789012:role/app", "job-1", None, NOW + 900, [9; 10]);
    let creds = SigningCredentials {
        access_key_id: c.access_key_id.clone(),
        secret_access_key: c.secret_access_key.clone(),
        session_token: Some(c.session_token.clone()),
    };
    let caller = check(&a, &signed(&creds, b"{}", NOW), b"{}", NOW).unwrap();
    assert_eq!(caller.arn, "arn:aws:sts::123456789012:assumed-role/app/job-1");
    assert!(caller.user_id().starts_with("AROA") && caller.user_id().ends_with(":job-1"));
    // The scope's signing key is cached now, but a session's token is still
    // opened (and its expiry checked) on every request.
    let again = check(&a, &signed(&creds, b"{}", NOW + 899), b"{}", NOW + 899).unwrap();
    assert_eq!(again.arn, caller.arn);
    assert_eq!(
        check(&a, &signed(&creds, b"{}", NOW + 900), b"{}", NOW + 900).unwrap_err(),
        AuthError::ExpiredToken
    );
    // Another key's token, or no token, is not accepted for an ASIA key.
    let other = Issuer::new([4; 32]).mint(
        "arn:aws:iam::123456789012:role/app",
        "x",
        None,
        NOW + 900,
        [9; 10],
    );
    let forged = SigningCredentials { session_token: Some(other.session_token), ..creds.clone() };
    assert_eq!(
        check(&a, &signed(&forged, b"{}", NOW), b"{}", NOW).unwrap_err(),
        AuthError::UnknownKey
    );
    let bare = SigningCredentials { session_token: None, ..creds };
    assert_eq!(
        check(&a, &signed(&bare, b"{}", NOW), b"{}", NOW).unwrap_err(),
        AuthError::UnknownKey
    );
}

#[test]
fn cached_keys_are_per_scope_and_a_wrong_signature_still_fails() {
    let a = authenticator();
    let sign_for = |region: &str, service: &str, at: i64| {
        let mut h = http::HeaderMap::new();
        h.insert("host", "127.0.0.1:4590".parse().unwrap());
        sigv4::sign("POST", "/", "", &mut h, b"{}", &alice(), region, service, at);
        h
    };
    // Several scopes of one key, each verified twice (derived, then cached),
    // interleaved; a day later the date's scope is new again.
    for round in 0..2 {
        for (region, service) in [("eu-west-1", "ecs"), ("us-east-1", "ecs"), ("eu-west-1", "logs")]
        {
            let at = NOW + round * 86_400;
            let caller = check(&a, &sign_for(region, service, at), b"{}", at).unwrap();
            assert_eq!((caller.region.as_str(), caller.service.as_str()), (region, service));
        }
    }
    // A signature made with another secret under a cached scope is refused.
    let mut wrong = alice();
    wrong.secret_access_key = "not-alice-secret-000000".into();
    let mut h = http::HeaderMap::new();
    h.insert("host", "127.0.0.1:4590".parse().unwrap());
    sigv4::sign("POST", "/", "", &mut h, b"{}", &wrong, "eu-west-1", "ecs", NOW);
    assert!(matches!(check(&a, &h, b"{}", NOW), Err(AuthError::BadSignature { .. })));
    // So is a good signature over another body.
    let good = sign_for("eu-west-1", "ecs", NOW);
    assert!(matches!(check(&a, &good, b"{\"x\":1}", NOW), Err(AuthError::BadSignature { .. })));
}
