use super::*;

fn headers(pairs: &[(&str, &str)]) -> http::HeaderMap {
    let mut h = http::HeaderMap::new();
    for (k, v) in pairs {
        h.append(http::HeaderName::from_bytes(k.as_bytes()).unwrap(), v.parse().unwrap());
    }
    h
}

fn request<'a>(h: &'a http::HeaderMap, query: &'a str) -> Request<'a> {
    Request { method: "POST", path: "/", query, headers: h, authority: None, body: b"{}" }
}

#[test]
fn no_signature_is_a_missing_token() {
    let h = headers(&[("host", "x")]);
    assert_eq!(read_claim(&request(&h, "")), Err(AuthError::MissingToken));
}

#[test]
fn a_header_without_parts_names_what_is_missing() {
    let h = headers(&[(
        "authorization",
        "AWS4-HMAC-SHA256 Credential=a/20150830/us-east-1/ecs/aws4_request",
    )]);
    match read_claim(&request(&h, "")) {
        Err(AuthError::Incomplete(m)) => {
            assert!(m.contains("'Signature'"), "{m}");
            assert!(m.contains("'SignedHeaders'"), "{m}");
            assert!(m.contains("'X-Amz-Date'"), "{m}");
        }
        other => panic!("{other:?}"),
    }
    let h = headers(&[("authorization", "Bearer abc")]);
    assert!(matches!(read_claim(&request(&h, "")), Err(AuthError::Incomplete(_))));
}

#[test]
fn the_scope_date_must_be_the_request_date() {
    let h = headers(&[
        ("authorization", &format!("AWS4-HMAC-SHA256 Credential=a/20150831/us-east-1/ecs/aws4_request, SignedHeaders=host, Signature={}", "0".repeat(64))),
        ("x-amz-date", "20150830T123600Z"),
    ]);
    match read_claim(&request(&h, "")) {
        Err(AuthError::WrongScope(m)) => assert!(m.contains("'20150831' != '20150830'"), "{m}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_good_header_reads_its_parts() {
    let h = headers(&[
        ("authorization", &format!("AWS4-HMAC-SHA256 Credential=AKID/20150830/eu-west-2/ecs/aws4_request,SignedHeaders=host;x-amz-date,Signature={}", "ab".repeat(32))),
        ("x-amz-date", "20150830T123600Z"),
        ("x-amz-security-token", "tok"),
    ]);
    let c = read_claim(&request(&h, "")).unwrap();
    assert_eq!((&*c.access_key_id, &*c.region, &*c.service), ("AKID", "eu-west-2", "ecs"));
    assert_eq!(c.security_token.as_deref(), Some("tok"));
    assert_eq!(c.key_scope(), "AKID/20150830/eu-west-2/ecs");
    assert!(!c.presigned());
}

#[test]
fn a_declared_body_hash_must_be_the_body_s() {
    let h = headers(&[
        ("authorization", &format!("AWS4-HMAC-SHA256 Credential=a/20150830/us-east-1/ecs/aws4_request, SignedHeaders=host, Signature={}", "0".repeat(64))),
        ("x-amz-date", "20150830T123600Z"),
        ("host", "h"),
        ("x-amz-content-sha256", EMPTY),
    ]);
    let req = request(&h, "");
    let claim = read_claim(&req).unwrap();
    assert!(matches!(canonical_request(&req, &claim, true), Err(AuthError::BadSignature { .. })));
}

const EMPTY: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

#[test]
fn paths_normalize_as_aws_does() {
    for (path, want) in [
        ("/", "/"),
        ("//example//", "/example/"),
        ("/./", "/"),
        ("/example/..", "/"),
        ("/example1/example2/../..", "/"),
        ("/./example", "/example"),
        ("/a/b/../c", "/a/c"),
    ] {
        assert_eq!(normalize_path(path), want, "{path}");
    }
}

#[test]
fn splitting_at_a_byte_is_str_split() {
    for (text, sep) in [
        ("a,b,,c,", ','),
        ("", ','),
        (",", ','),
        ("abc", ','),
        ("ሴ;x;ሴ", ';'),
        ("AKID/20150830/us-east-1/ecs/aws4_request", '/'),
    ] {
        let ours: Vec<&str> = split_at_byte(text, sep as u8).collect();
        let std: Vec<&str> = text.split(sep).collect();
        assert_eq!(ours, std, "{text:?}");
    }
}
