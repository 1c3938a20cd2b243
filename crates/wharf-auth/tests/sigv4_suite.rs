//! AWS's published SigV4 test suite (vendored under `tests/sigv4-suite`, see
//! its PROVENANCE.md), run through Wharf's verifier: for every case, both
//! the header-signed and the presigned request are read, their canonical
//! request and string to sign rebuilt and compared with the suite's, and
//! their signature verified; then the same request, tampered with, fails.

use std::path::{Path, PathBuf};

use wharf_auth::sigv4::{self, Request};
use wharf_auth::AuthError;

struct Case {
    name: String,
    dir: PathBuf,
    secret: String,
    normalize: bool,
    now: i64,
}

fn cases() -> Vec<Case> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sigv4-suite/v4");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&root).expect("the vendored suite is there") {
        let dir = entry.unwrap().path();
        let ctx: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("context.json")).unwrap())
                .unwrap();
        let ts = ctx["timestamp"].as_str().unwrap().replace(['-', ':'], "");
        out.push(Case {
            name: dir.file_name().unwrap().to_string_lossy().into_owned(),
            secret: ctx["credentials"]["secret_access_key"].as_str().unwrap().to_owned(),
            normalize: ctx["normalize"].as_bool().unwrap(),
            now: wharf_auth::time::parse_amz_date(&ts).unwrap(),
            dir,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    assert!(out.len() >= 30, "only {} cases", out.len());
    out
}

/// A request as the suite writes it: request line, headers (continuation
/// lines start with white space), a blank line, the body.
struct Raw {
    method: String,
    path: String,
    query: String,
    headers: http::HeaderMap,
    body: Vec<u8>,
}

fn parse(text: &str) -> Raw {
    let (head, body) = match text.find("\n\n") {
        Some(i) => (&text[..i], &text[i + 2..]),
        None => (text.trim_end_matches('\n'), ""),
    };
    let mut lines = head.lines();
    let request_line = lines.next().unwrap();
    let (method, rest) = request_line.split_once(' ').unwrap();
    let target = rest.strip_suffix(" HTTP/1.1").unwrap();
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut pairs: Vec<(String, String)> = Vec::new();
    for line in lines {
        if line.starts_with(' ') || line.starts_with('\t') {
            let last = pairs.last_mut().unwrap();
            last.1.push(' ');
            last.1.push_str(line.trim());
        } else {
            let (k, v) = line.split_once(':').unwrap();
            pairs.push((k.to_owned(), v.to_owned()));
        }
    }
    let mut headers = http::HeaderMap::new();
    for (k, v) in pairs {
        headers.append(
            http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            http::HeaderValue::from_bytes(v.as_bytes()).unwrap(),
        );
    }
    Raw {
        method: method.into(),
        path: path.into(),
        query: query.into(),
        headers,
        body: body.as_bytes().to_vec(),
    }
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap()
}

/// Verifies a signed request as the server does; the canonical request and
/// string to sign are returned for comparison.
fn verify(
    raw: &Raw,
    secret: &str,
    normalize: bool,
    now: i64,
) -> Result<(String, String), AuthError> {
    let req = Request {
        method: &raw.method,
        path: &raw.path,
        query: &raw.query,
        headers: &raw.headers,
        authority: None,
        body: &raw.body,
    };
    let claim = sigv4::read_claim(&req)?;
    sigv4::check_time(&claim, now)?;
    let key = sigv4::signing_key(secret, &claim.date, &claim.region, &claim.service);
    sigv4::verify(&req, &claim, &key, normalize)?;
    // The texts the suite states, for comparison (post-sts-header-after signs
    // its presigned URL before the session token is appended).
    let after = claim.presigned() && raw.query.contains("X-Amz-Security-Token") && {
        let plain = sigv4::canonical_request(&req, &claim, normalize)?;
        !sigv4::same_signature(
            &sigv4::signature(&key, &sigv4::string_to_sign(&claim, &plain)),
            &claim.signature,
        )
    };
    let canonical = sigv4::canonical_request_with(&req, &claim, normalize, after)?;
    let sts = sigv4::string_to_sign(&claim, &canonical);
    Ok((canonical, sts))
}

#[test]
fn every_header_signed_request_of_the_suite_verifies() {
    for case in cases() {
        let raw = parse(&read(&case.dir, "header-signed-request.txt"));
        let (canonical, sts) = verify(&raw, &case.secret, case.normalize, case.now)
            .unwrap_or_else(|e| panic!("{}: {e:?}", case.name));
        assert_eq!(canonical, read(&case.dir, "header-canonical-request.txt"), "{}", case.name);
        assert_eq!(sts, read(&case.dir, "header-string-to-sign.txt"), "{}", case.name);
    }
}

#[test]
fn every_presigned_request_of_the_suite_verifies() {
    for case in cases() {
        let raw = parse(&read(&case.dir, "query-signed-request.txt"));
        let (canonical, sts) = verify(&raw, &case.secret, case.normalize, case.now)
            .unwrap_or_else(|e| panic!("{}: {e:?}", case.name));
        assert_eq!(canonical, read(&case.dir, "query-canonical-request.txt"), "{}", case.name);
        assert_eq!(sts, read(&case.dir, "query-string-to-sign.txt"), "{}", case.name);
        let signature = read(&case.dir, "query-signature.txt");
        assert!(raw.query.contains(signature.trim()), "{}", case.name);
    }
}

#[test]
fn a_tampered_request_or_the_wrong_secret_fails() {
    for case in cases() {
        let mut raw = parse(&read(&case.dir, "header-signed-request.txt"));
        assert!(matches!(
            verify(&raw, "not-the-secret", case.normalize, case.now),
            Err(AuthError::BadSignature { .. })
        ));
        raw.body.extend_from_slice(b"x");
        // A changed body changes the hash; with a declared x-amz-content-sha256 the
        // mismatch is caught before the signature.
        assert!(
            matches!(
                verify(&raw, &case.secret, case.normalize, case.now),
                Err(AuthError::BadSignature { .. })
            ),
            "{}: a changed body still verified",
            case.name
        );
    }
}

#[test]
fn the_suite_is_refused_outside_the_fifteen_minute_window() {
    for case in cases() {
        let raw = parse(&read(&case.dir, "header-signed-request.txt"));
        for (offset, words) in
            [(15 * 60 + 1, "Signature expired"), (-(15 * 60 + 1), "not yet current")]
        {
            match verify(&raw, &case.secret, case.normalize, case.now + offset) {
                Err(AuthError::Expired(m)) => assert!(m.contains(words), "{m}"),
                other => panic!("{}: {other:?}", case.name),
            }
        }
        assert!(verify(&raw, &case.secret, case.normalize, case.now + 15 * 60).is_ok());
        // A presigned URL lives for its X-Amz-Expires (3600 s in the suite).
        let raw = parse(&read(&case.dir, "query-signed-request.txt"));
        assert!(verify(&raw, &case.secret, case.normalize, case.now + 3600).is_ok());
        assert!(matches!(
            verify(&raw, &case.secret, case.normalize, case.now + 3601),
            Err(AuthError::Expired(_))
        ));
    }
}
