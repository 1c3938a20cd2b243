//! HTTPS listeners with ACM certificates, through the real `aws` CLI (`aws acm`,
//! `aws elbv2`) and real TLS clients (curl, `openssl s_client`): certificates made by
//! OpenSSL are imported, described and listed as ACM does; an HTTPS listener serves
//! the default certificate, picks another by SNI, keeps to its security policy's TLS
//! versions and tells targets `X-Forwarded-Proto: https`; ACM refuses to delete a
//! certificate a listener uses. Needs the `aws` CLI, `openssl` and `curl`; no Docker.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{Aws, Server};

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}")).to_owned()
}

/// A target answering every request with the `X-Forwarded-Proto` and `-Port` it got.
fn target() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mut writer = stream;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let (mut proto, mut fport) = (String::new(), String::new());
                    loop {
                        let mut header = String::new();
                        if reader.read_line(&mut header).unwrap_or(0) == 0 {
                            return;
                        }
                        if header == "\r\n" {
                            break;
                        }
                        let lower = header.to_ascii_lowercase();
                        if let Some(v) = lower.strip_prefix("x-forwarded-proto:") {
                            proto = v.trim().to_owned();
                        }
                        if let Some(v) = lower.strip_prefix("x-forwarded-port:") {
                            fport = v.trim().to_owned();
                        }
                    }
                    let body = format!("proto={proto} port={fport}");
                    let answer =
                        format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}", body.len());
                    if writer.write_all(answer.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl").args(args).current_dir(dir).output().expect("openssl");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A self-signed certificate (a CA of itself, so clients can trust it with --cacert).
fn self_signed(dir: &Path, name: &str, key: &[&str], subject: &str, sans: &str) {
    let mut args = vec!["req", "-x509", "-newkey"];
    args.extend_from_slice(key);
    let (key_file, cert_file) = (format!("{name}.key"), format!("{name}.pem"));
    let san = format!("subjectAltName={sans}");
    args.extend_from_slice(&[
        "-nodes", "-days", "2", "-subj", subject, "-addext", &san, "-keyout", &key_file, "-out",
        &cert_file,
    ]);
    openssl(dir, &args);
}

/// `curl` over TLS to the listener for `host`, trusting `ca`; extra flags; the body, or
/// curl's error.
fn curl(dir: &Path, port: u16, host: &str, ca: &str, extra: &[&str]) -> Result<String, String> {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "10", "--cacert", ca, "--resolve"])
        .arg(format!("{host}:{port}:127.0.0.1"))
        .args(extra)
        .arg(format!("https://{host}:{port}/"))
        .current_dir(dir)
        .output()
        .expect("curl");
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// The subject of the certificate the listener serves for SNI `host` (none: no SNI).
fn served_subject(port: u16, host: Option<&str>) -> String {
    let mut args = vec!["s_client".to_owned(), "-connect".into(), format!("127.0.0.1:{port}")];
    match host {
        Some(h) => args.extend(["-servername".to_owned(), h.to_owned()]),
        None => args.push("-noservername".into()),
    }
    let out = Command::new("openssl")
        .args(&args)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("openssl s_client");
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix("subject="))
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|| panic!("no certificate served: {text}"))
}

fn args(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn wait_for<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn https_listeners_serve_acm_certificates_by_sni_and_policy() {
    let dir = tempfile::tempdir().expect("dir");
    let d = dir.path();
    self_signed(d, "a", &["rsa:2048"], "/O=Wharf/CN=a.example.test", "DNS:a.example.test");
    self_signed(
        d,
        "b",
        &["ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
        "/CN=b.example.test",
        "DNS:*.b.example.test",
    );
    let file = |n: &str| format!("fileb://{}", d.join(n).display());
    let server = Server::start_with(&["--no-agent", "--listener-address", "127.0.0.1"]);
    let acm = Aws::new(&server, "acm");
    let elb = Aws::new(&server, "elbv2");

    // ImportCertificate, and ACM's checks: a key that is not the certificate's.
    let a = s(&acm.ok(&[
        "import-certificate",
        "--certificate",
        &file("a.pem"),
        "--private-key",
        &file("a.key"),
        "--tags",
        "Key=team,Value=web",
    ])["CertificateArn"]);
    assert!(a.starts_with("arn:aws:acm:us-east-1:"), "{a}");
    let b = s(&acm.ok(&[
        "import-certificate",
        "--certificate",
        &file("b.pem"),
        "--private-key",
        &file("b.key"),
    ])["CertificateArn"]);
    let err = acm.fails(&[
        "import-certificate",
        "--certificate",
        &file("a.pem"),
        "--private-key",
        &file("b.key"),
    ]);
    assert!(err.contains("ValidationException") && err.contains("does not match"), "{err}");

    let detail = acm.ok(&["describe-certificate", "--certificate-arn", &a])["Certificate"].clone();
    assert_eq!(detail["DomainName"], "a.example.test");
    assert_eq!(detail["SubjectAlternativeNames"], serde_json::json!(["a.example.test"]));
    assert_eq!(detail["KeyAlgorithm"], "RSA-2048");
    assert_eq!(detail["SignatureAlgorithm"], "SHA256WITHRSA");
    assert_eq!(
        (detail["Status"].as_str(), detail["Type"].as_str()),
        (Some("ISSUED"), Some("IMPORTED"))
    );
    assert_eq!(detail["Subject"], "O=Wharf,CN=a.example.test");
    assert_eq!(detail["InUseBy"], serde_json::json!([]));
    assert!(detail.get("PrivateKey").is_none());
    let pem = acm.ok(&["get-certificate", "--certificate-arn", &a]);
    assert_eq!(
        s(&pem["Certificate"]).trim(),
        std::fs::read_to_string(d.join("a.pem")).unwrap().trim()
    );
    let tags = acm.ok(&["list-tags-for-certificate", "--certificate-arn", &a]);
    assert_eq!(tags["Tags"], serde_json::json!([{"Key": "team", "Value": "web"}]));
    // ListCertificates lists RSA 1024 and 2048 keys unless told otherwise, as ACM does.
    let listed = acm.ok(&["list-certificates"]);
    let arns: Vec<String> = listed["CertificateSummaryList"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| s(&c["CertificateArn"]))
        .collect();
    assert_eq!(arns, std::slice::from_ref(&a));
    let listed = acm.ok(&["list-certificates", "--includes", "keyTypes=EC_prime256v1"]);
    assert_eq!(listed["CertificateSummaryList"][0]["CertificateArn"], b.as_str());
    assert_eq!(listed["CertificateSummaryList"][0]["KeyAlgorithm"], "EC-prime256v1");

    // An HTTPS listener: its checks first.
    let back = target();
    let tg = elb.quick_target_group("web", "ip", Some(5));
    elb.ok(&[
        "register-targets",
        "--target-group-arn",
        &tg,
        "--targets",
        &format!("Id=127.0.0.1,Port={back}"),
    ]);
    let lb = s(&elb.ok(&[
        "create-load-balancer",
        "--name",
        "secure",
        "--subnets",
        "subnet-1",
        "subnet-2",
    ])["LoadBalancers"][0]["LoadBalancerArn"]);
    let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).unwrap().port();
    let port_text = port.to_string();
    let forward = format!("Type=forward,TargetGroupArn={tg}");
    let create = |extra: &[&str]| {
        let mut args = vec![
            "create-listener",
            "--load-balancer-arn",
            &lb,
            "--protocol",
            "HTTPS",
            "--port",
            &port_text,
            "--default-actions",
            &forward,
        ];
        args.extend_from_slice(extra);
        args.iter().map(|a| a.to_string()).collect::<Vec<String>>()
    };
    let err = elb.fails(&args(&create(&[])));
    assert!(err.contains("ValidationError") && err.contains("certificate"), "{err}");
    let missing = a.replace(a.rsplit('/').next().unwrap(), "00000000-0000-0000-0000-000000000000");
    let err = elb.fails(&args(&create(&["--certificates", &format!("CertificateArn={missing}")])));
    assert!(err.contains("CertificateNotFound"), "{err}");
    let err = elb.fails(&args(&create(&[
        "--certificates",
        &format!("CertificateArn={a}"),
        "--ssl-policy",
        "ELBSecurityPolicy-Nope",
    ])));
    assert!(err.contains("SSLPolicyNotFound") && err.contains("ELBSecurityPolicy-Nope"), "{err}");

    let listener = elb.ok(&args(&create(&["--certificates", &format!("CertificateArn={a}")])));
    let listener = &listener["Listeners"][0];
    assert_eq!(listener["Protocol"], "HTTPS");
    assert_eq!(listener["SslPolicy"], "ELBSecurityPolicy-2016-08");
    assert_eq!(listener["Certificates"], serde_json::json!([{"CertificateArn": a}]));
    let listener_arn = s(&listener["ListenerArn"]);

    // The default certificate over TLS, verified by curl; targets hear https.
    let body = wait_for("the HTTPS listener to answer", || {
        curl(d, port, "a.example.test", "a.pem", &[]).ok().filter(|b| b.starts_with("proto="))
    });
    assert_eq!(body, format!("proto=https port={port}"));
    assert_eq!(served_subject(port, None), "O = Wharf, CN = a.example.test");

    // A second certificate, chosen by SNI; other names still get the default.
    let added = elb.ok(&[
        "add-listener-certificates",
        "--listener-arn",
        &listener_arn,
        "--certificates",
        &format!("CertificateArn={b}"),
    ]);
    assert_eq!(added["Certificates"][0]["IsDefault"], false);
    let certs = elb.ok(&["describe-listener-certificates", "--listener-arn", &listener_arn]);
    assert_eq!(
        certs["Certificates"],
        serde_json::json!([{"CertificateArn": a, "IsDefault": true}, {"CertificateArn": b, "IsDefault": false}])
    );
    wait_for("the SNI certificate", || {
        (served_subject(port, Some("api.b.example.test")) == "CN = b.example.test").then_some(())
    });
    assert_eq!(
        curl(d, port, "api.b.example.test", "b.pem", &[]).unwrap(),
        format!("proto=https port={port}")
    );
    assert_eq!(served_subject(port, Some("other.example.test")), "O = Wharf, CN = a.example.test");
    assert_eq!(
        served_subject(port, Some("deep.api.b.example.test")),
        "O = Wharf, CN = a.example.test"
    );
    let err = elb.fails(&[
        "remove-listener-certificates",
        "--listener-arn",
        &listener_arn,
        "--certificates",
        &format!("CertificateArn={a}"),
    ]);
    assert!(err.contains("OperationNotPermitted"), "{err}");

    // The security policy decides the TLS versions.
    elb.ok(&[
        "modify-listener",
        "--listener-arn",
        &listener_arn,
        "--ssl-policy",
        "ELBSecurityPolicy-TLS13-1-3-2021-06",
    ]);
    wait_for("TLS 1.2 to be refused", || {
        curl(d, port, "a.example.test", "a.pem", &["--tls-max", "1.2"]).err()
    });
    curl(d, port, "a.example.test", "a.pem", &["--tlsv1.3"])
        .expect("TLS 1.3 under a TLS 1.3 policy");
    elb.ok(&[
        "modify-listener",
        "--listener-arn",
        &listener_arn,
        "--ssl-policy",
        "ELBSecurityPolicy-TLS-1-2-2017-01",
    ]);
    wait_for("TLS 1.3 to be refused", || {
        curl(d, port, "a.example.test", "a.pem", &["--tlsv1.3"]).err()
    });
    curl(d, port, "a.example.test", "a.pem", &["--tls-max", "1.2"])
        .expect("TLS 1.2 under a TLS 1.2 policy");

    // A certificate in use cannot be deleted; ACM names who uses it.
    let detail = acm.ok(&["describe-certificate", "--certificate-arn", &b])["Certificate"].clone();
    assert_eq!(detail["InUseBy"], serde_json::json!([lb]));
    let err = acm.fails(&["delete-certificate", "--certificate-arn", &b]);
    assert!(err.contains("ResourceInUseException") && err.contains(&lb), "{err}");
    elb.ok(&[
        "remove-listener-certificates",
        "--listener-arn",
        &listener_arn,
        "--certificates",
        &format!("CertificateArn={b}"),
    ]);
    acm.ok(&["delete-certificate", "--certificate-arn", &b]);
    let err = acm.fails(&["describe-certificate", "--certificate-arn", &b]);
    assert!(err.contains("ResourceNotFoundException"), "{err}");
    let err =
        acm.fails(&["describe-certificate", "--certificate-arn", "arn:aws:acm:us-east-1:12:nope"]);
    assert!(err.contains("InvalidArnException"), "{err}");
    // Once the listener is gone, so is the last use of a.
    elb.ok(&["delete-listener", "--listener-arn", &listener_arn]);
    acm.ok(&["delete-certificate", "--certificate-arn", &a]);
}
