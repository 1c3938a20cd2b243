//! The server's bounds, from outside: an oversized body gets an answer (413,
//! the protocol's error shape) instead of a reset; a client that does not
//! send its headers in time is cut off; connections beyond the limit are
//! closed; with `--throttle`, a caller past its token bucket gets
//! ThrottlingException.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use support::Server;

/// One raw request on a fresh connection; the status line and body.
fn post(server: &Server, target: &str, body: &[u8]) -> (String, String) {
    let mut s = TcpStream::connect(server.addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let head = format!(
        "POST / HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-amz-json-1.1\r\nX-Amz-Target: {target}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        server.addr,
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).expect("the server read the whole body");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("an answer, not a reset");
    let status = out.lines().next().unwrap_or("").to_owned();
    let body = out.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    (status, body)
}

#[test]
fn an_oversized_body_is_answered_not_reset() {
    let s = Server::start_with(&["--no-agent", "--listener-address", "off"]);
    let target = "AmazonEC2ContainerServiceV20141113.RegisterTaskDefinition";
    for size in [3 * 1024 * 1024, 50 * 1024 * 1024] {
        let (status, body) = post(&s, target, &vec![b' '; size]);
        assert!(status.contains(" 413 "), "{size}: {status}");
        assert!(body.contains("RequestEntityTooLargeException"), "{size}: {body}");
    }
    // The server is fine afterwards.
    let (status, _) = post(&s, "AmazonEC2ContainerServiceV20141113.ListClusters", b"{}");
    assert!(status.contains(" 200 "), "{status}");
    // curl sees the answer too (it announces the length and waits for 100-continue).
    let out = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", "-H"])
        .arg(format!("X-Amz-Target: {target}"))
        .args(["--data-binary", "@-", &s.endpoint()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            c.stdin.take().unwrap().write_all(&vec![b'x'; 4 * 1024 * 1024])?;
            c.wait_with_output()
        })
        .expect("curl");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "413");
}

#[test]
fn slow_clients_are_cut_off_and_connections_are_bounded() {
    let s = Server::start_with(&[
        "--no-agent",
        "--listener-address",
        "off",
        "--header-timeout",
        "1s",
        "--max-connections",
        "2",
    ]);
    // Headers that never finish: closed after about a second.
    let mut slow = TcpStream::connect(s.addr).unwrap();
    slow.write_all(b"POST / HTTP/1.1\r\nHost: x\r\n").unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 256];
    let n = slow.read(&mut buf).unwrap_or(0);
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(800) && waited < Duration::from_secs(5), "{waited:?}");
    assert!(
        n == 0 || String::from_utf8_lossy(&buf[..n]).contains("408"),
        "{}",
        String::from_utf8_lossy(&buf[..n])
    );
    drop(slow);
    std::thread::sleep(Duration::from_millis(100));
    // Two connections held open; a third is closed at once.
    let held: Vec<TcpStream> = (0..2).map(|_| TcpStream::connect(s.addr).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(100));
    let mut third = TcpStream::connect(s.addr).unwrap();
    third.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = third.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(third.read(&mut buf).unwrap_or(0), 0, "the third connection was served");
    drop(held);
    std::thread::sleep(Duration::from_millis(200));
    let (status, _) = post(&s, "AmazonEC2ContainerServiceV20141113.ListClusters", b"{}");
    assert!(status.contains(" 200 "), "{status}");
}

#[test]
fn throttled_callers_get_ecs_s_answer() {
    let s = Server::start_with(&["--no-agent", "--listener-address", "off", "--throttle"]);
    let target = "AmazonEC2ContainerServiceV20141113.RegisterTaskDefinition";
    let body =
        br#"{"family":"t","containerDefinitions":[{"name":"a","image":"busybox","memory":32}]}"#;
    let mut outcomes = Vec::new();
    for _ in 0..25 {
        outcomes.push(post(&s, target, body));
    }
    let ok = outcomes.iter().filter(|(st, _)| st.contains(" 200 ")).count();
    let throttled: Vec<&(String, String)> =
        outcomes.iter().filter(|(_, b)| b.contains("ThrottlingException")).collect();
    // RegisterTaskDefinition: a bucket of 20, refilled at one a second.
    assert!((20..=22).contains(&ok), "{ok} accepted");
    assert!(!throttled.is_empty());
    assert!(
        throttled[0].0.contains(" 400 ") && throttled[0].1.contains("Rate exceeded"),
        "{:?}",
        throttled[0]
    );
    // Other groups have their own buckets.
    let (status, _) = post(&s, "AmazonEC2ContainerServiceV20141113.ListClusters", b"{}");
    assert!(status.contains(" 200 "), "{status}");
}
