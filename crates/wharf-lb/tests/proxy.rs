//! A real listener on 127.0.0.1 in front of tiny hyper targets.

mod common;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::*;
use http_body_util::{BodyExt, Empty};
use hyper::Request;
use tokio::sync::mpsc;
use wharf_lb::{
    Action, Condition, FixedResponse, Reason, Redirect, RedirectCode, Rule, TargetState,
};

async fn two_targets() -> (Arc<TestTarget>, Arc<TestTarget>, mpsc::UnboundedReceiver<&'static str>)
{
    let (held_tx, held_rx) = mpsc::unbounded_channel();
    let a = TestTarget::start("a", held_tx.clone()).await;
    let b = TestTarget::start("b", held_tx).await;
    (a, b, held_rx)
}

/// Two targets behind one listener, both healthy.
async fn serving_two() -> (Arc<TestTarget>, Arc<TestTarget>, wharf_lb::LoadBalancer, Reports, u16) {
    let (a, b, _held) = two_targets().await;
    let (lb, mut reports) = balancer();
    let port = free_port();
    lb.apply(config(vec![listener(port, Action::forward("tg"))], vec![group("tg", &[&a, &b])]))
        .await
        .expect("applied");
    reports.until("a", TargetState::Healthy).await;
    reports.until("b", TargetState::Healthy).await;
    (a, b, lb, reports, port)
}

/// Target `a` alone behind one listener, healthy.
async fn serving_one() -> (Arc<TestTarget>, wharf_lb::LoadBalancer, u16) {
    let (a, _b, _held) = two_targets().await;
    let (lb, mut reports) = balancer();
    let port = free_port();
    lb.apply(config(vec![listener(port, Action::forward("tg"))], vec![group("tg", &[&a])]))
        .await
        .expect("applied");
    reports.until("a", TargetState::Healthy).await;
    (a, lb, port)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_alternate_between_healthy_targets() {
    let (_a, _b, _lb, _reports, port) = serving_two().await;

    let client = client();
    let mut seen = Vec::new();
    for _ in 0..6 {
        let (status, headers, body) = get(&client, port, "/").await;
        assert_eq!(status, 200);
        assert!(headers.get("server").is_none(), "a target's answer is passed through");
        seen.push(body);
    }
    assert!(seen.windows(2).all(|w| w[0] != w[1]), "round robin alternates: {seen:?}");
    assert_eq!(seen.iter().filter(|s| *s == "a").count(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_target_turns_unhealthy_gets_no_traffic_then_recovers() {
    let (_a, b, _lb, mut reports, port) = serving_two().await;

    b.health_code.store(500, Ordering::SeqCst);
    let report = reports.until("b", TargetState::Unhealthy).await;
    assert_eq!(report.reason, Some(Reason::ResponseCodeMismatch(500)));
    assert_eq!(report.reason.map(Reason::code), Some("Target.ResponseCodeMismatch"));
    assert_eq!(report.description.as_deref(), Some("Health checks failed with these codes: [500]"));
    assert_eq!(report.target_group_arn, "tg");
    assert_eq!(report.port, b.addr.port());

    let client = client();
    for _ in 0..6 {
        assert_eq!(get(&client, port, "/").await.2, "a");
    }

    b.health_code.store(200, Ordering::SeqCst);
    reports.until("b", TargetState::Healthy).await;
    let mut bodies = Vec::new();
    for _ in 0..4 {
        bodies.push(get(&client, port, "/").await.2);
    }
    assert!(bodies.iter().any(|s| s == "b"), "b is back: {bodies:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alb_error_answers_502_503_504() {
    let (a, _b, _held) = two_targets().await;
    let (lb, mut reports) = balancer();
    let port = free_port();
    let mut l = listener(port, Action::forward("tg"));
    l.idle_timeout = Duration::from_millis(300);
    l.rules = vec![Rule {
        arn: "r1".into(),
        priority: 1,
        conditions: vec![Condition::PathPattern(vec!["/empty/*".into()])],
        action: Action::forward("empty"),
    }];
    lb.apply(config(vec![l], vec![group("tg", &[&a]), group("empty", &[])]))
        .await
        .expect("applied");
    reports.until("a", TargetState::Healthy).await;
    let client = client();

    let (status, headers, body) = get(&client, port, "/close").await;
    assert_eq!(status, 502);
    assert_eq!(headers["server"], "awselb/2.0");
    assert_eq!(headers["content-type"], "text/html");
    assert!(body.contains("<title>502 Bad Gateway</title>"), "{body}");

    let (status, _, body) = get(&client, port, "/empty/x").await;
    assert_eq!(status, 503);
    assert!(body.contains("503 Service Temporarily Unavailable"), "{body}");

    let started = std::time::Instant::now();
    let (status, _, body) = get(&client, port, "/slow").await;
    assert_eq!(status, 504);
    assert!(body.contains("504 Gateway Time-out"), "{body}");
    assert!(started.elapsed() < Duration::from_secs(5));

    // The 502 for a target that is not listening at all.
    let dead = free_port();
    let mut g = group("tg", &[&a]);
    g.targets[0].port = Some(dead);
    g.health_check.enabled = false;
    lb.apply(config(vec![listener(port, Action::forward("tg"))], vec![g])).await.expect("applied");
    assert_eq!(get(&client, port, "/").await.0, 502);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn targets_see_x_forwarded_headers_and_a_trace_id() {
    let (_a, _lb, port) = serving_one().await;
    let client = client();

    let (_, _, body) = get(&client, port, "/echo").await;
    assert!(body.contains("x-forwarded-for: 127.0.0.1\n"), "{body}");
    assert!(body.contains("x-forwarded-proto: http\n"), "{body}");
    assert!(body.contains(&format!("x-forwarded-port: {port}\n")), "{body}");
    assert!(body.contains("host: app.example.com\n"), "the client's Host is kept: {body}");
    assert!(body.contains("x-amzn-trace-id: Root=1-"), "{body}");

    let request = Request::get(format!("http://127.0.0.1:{port}/echo"))
        .header("x-forwarded-for", "203.0.113.7")
        .header("x-amzn-trace-id", "Root=1-5759e988-bd862e3fe1be46a994272793")
        .body(Empty::<Bytes>::new())
        .expect("request");
    let (_, _, body) = send(&client, request).await;
    assert!(body.contains("x-forwarded-for: 203.0.113.7, 127.0.0.1\n"), "{body}");
    assert!(body.contains("x-amzn-trace-id: Root=1-5759e988-bd862e3fe1be46a994272793\n"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixed_response_and_redirect_rules() {
    let (lb, _reports) = balancer();
    let port = free_port();
    let mut l = listener(
        port,
        Action::FixedResponse(FixedResponse {
            status_code: 404,
            content_type: Some("application/json".into()),
            message_body: Some("{\"error\":\"not here\"}".into()),
        }),
    );
    l.rules = vec![Rule {
        arn: "r".into(),
        priority: 5,
        conditions: vec![Condition::PathPattern(vec!["/old/*".into()])],
        action: Action::Redirect(Redirect {
            protocol: Some("HTTPS".into()),
            host: None,
            port: Some("443".into()),
            path: Some("/new/#{path}".into()),
            query: None,
            status_code: RedirectCode::Permanent,
        }),
    }];
    lb.apply(config(vec![l], vec![])).await.expect("applied");
    let client = client();

    let (status, headers, body) = get(&client, port, "/anything").await;
    assert_eq!((status, body.as_str()), (404, "{\"error\":\"not here\"}"));
    assert_eq!(headers["content-type"], "application/json");

    let (status, headers, _) = get(&client, port, "/old/page?x=1").await;
    assert_eq!(status, 301);
    assert_eq!(headers["location"], "https://app.example.com:443/new/old/page?x=1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_clients_with_prior_knowledge_are_served() {
    let (_a, _lb, port) = serving_one().await;

    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .http2_only(true)
        .build_http::<Empty<Bytes>>();
    let request = Request::get(format!("http://app.example.com:{port}/echo"))
        .body(Empty::new())
        .expect("request");
    // Connect to loopback while the URI names another host: override via the Host-less h2 authority.
    let request = {
        let (mut parts, body) = request.into_parts();
        parts.uri = format!("http://127.0.0.1:{port}/echo").parse().expect("uri");
        Request::from_parts(parts, body)
    };
    let response = tokio::time::timeout(WAIT, client.request(request))
        .await
        .expect("in time")
        .expect("answer");
    assert_eq!(response.version(), http::Version::HTTP_2);
    assert_eq!(response.status(), 200);
    let body = response.into_body().collect().await.expect("body").to_bytes();
    let body = String::from_utf8_lossy(&body);
    assert!(body.starts_with("a\n"), "{body}");
    assert!(body.contains(&format!("host: 127.0.0.1:{port}\n")), "{body}");
}

/// A target written like busybox httpd: it reads one request head, answers it with
/// `Connection: close` and closes the connection at once; it answers 400 to any request
/// line that is not in origin form. Sends each request line it reads.
async fn closing_target(lines: mpsc::UnboundedSender<String>) -> std::net::SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind((LOCALHOST, 0)).await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let lines = lines.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&head).into_owned();
                let line = text.lines().next().unwrap_or("").to_owned();
                let origin = line.split_whitespace().nth(1).is_some_and(|u| u.starts_with('/'));
                let _ = lines.send(line);
                let answer: &[u8] = if origin {
                    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
                } else {
                    b"HTTP/1.1 400 Bad Request\r\nContent-Length: 3\r\nConnection: close\r\n\r\nbad"
                };
                let _ = stream.write_all(answer).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_that_closes_after_each_answer_is_healthy_and_gets_origin_form_requests() {
    let (lines_tx, mut lines) = mpsc::unbounded_channel();
    let addr = closing_target(lines_tx).await;
    let (lb, mut reports) = balancer();
    let port = free_port();
    let mut g = wharf_lb::TargetGroup::new("tg", 80);
    g.health_check = common::quick_health_check();
    // Every check must pass: one taken for a failure (the connection's end seen before
    // the answer) would show as an unhealthy report.
    g.health_check.unhealthy_threshold = 1;
    g.targets = vec![wharf_lb::Target {
        id: "busybox".into(),
        address: addr.ip(),
        port: Some(addr.port()),
        registered_at: 0,
        deregistering_since: None,
    }];
    lb.apply(config(vec![listener(port, Action::forward("tg"))], vec![g])).await.expect("applied");
    reports.until("busybox", TargetState::Healthy).await;
    // Twenty more checks (100 ms apart), none failing.
    tokio::time::sleep(Duration::from_secs(2)).await;
    while let Ok(report) = reports.rx_try() {
        assert_ne!(report.state, TargetState::Unhealthy, "a passing check was failed: {report:?}");
    }

    let client = client();
    let (status, _, body) = get(&client, port, "/some/page?x=1").await;
    assert_eq!((status, body.as_str()), (200, "ok"));
    let mut seen = Vec::new();
    while let Ok(line) = lines.try_recv() {
        seen.push(line);
    }
    assert!(seen.contains(&"GET /some/page?x=1 HTTP/1.1".to_owned()), "request lines: {seen:?}");
    assert!(seen.iter().all(|l| l.split_whitespace().nth(1).is_some_and(|u| u.starts_with('/'))));
}
