//! The load balancer answering: `aws elbv2` sets up a target group of two targets,
//! a load balancer, a listener and a rule, and HTTP requests to the listener's port
//! reach the targets in turn, as health checks find them healthy; a deregistered
//! target drains and gets no more requests. The targets are small HTTP servers on
//! loopback. Needs the `aws` CLI; no Docker.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{Aws, Server};

/// A target answering every request with its name, on a free loopback port.
fn target(name: &'static str) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || serve(stream, name));
        }
    });
    port
}

fn serve(stream: TcpStream, name: &str) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut writer = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut forwarded = String::new();
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            if header == "\r\n" {
                break;
            }
            if header.to_ascii_lowercase().starts_with("x-forwarded-for:") {
                forwarded = header[16..].trim().to_owned();
            }
        }
        let body = format!("{name} {forwarded}");
        let answer = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: text/plain\r\n\r\n{body}",
            body.len()
        );
        if writer.write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}

/// GET `path` on the listener: status and body.
fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: front.example\r\nConnection: close\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, text.split_once("\r\n\r\n")?.1.to_owned()))
}

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}")).to_owned()
}

fn wait_for<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_listener_balances_healthy_targets_and_drains_a_deregistered_one() {
    let server = Server::start_with(&["--no-agent", "--listener-address", "127.0.0.1"]);
    let elb = Aws::new(&server, "elbv2");
    let (a, b) = (target("A"), target("B"));
    let listen =
        TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("port").port();

    let tg_arn = elb.quick_target_group("web", "ip", Some(5));
    let (_, listener_arn) = elb.forwarding_listener("front", listen, &tg_arn);
    elb.ok(&[
        "create-rule", "--listener-arn", &listener_arn, "--priority", "10", "--conditions",
        "Field=path-pattern,Values=/maintenance*", "--actions",
        "Type=fixed-response,FixedResponseConfig={StatusCode=503,ContentType=text/plain,MessageBody=back soon}",
    ]);

    // No targets yet: the listener answers 503 as an ALB does.
    let (status, _) = wait_for("the listener to open", || get(listen, "/"));
    assert_eq!(status, 503);
    let (status, body) = get(listen, "/maintenance/now").expect("an answer");
    assert_eq!((status, body.as_str()), (503, "back soon"), "the rule's fixed response");

    elb.ok(&[
        "register-targets",
        "--target-group-arn",
        &tg_arn,
        "--targets",
        &format!("Id=127.0.0.1,Port={a}"),
        &format!("Id=127.0.0.1,Port={b}"),
    ]);
    // Health checks find both healthy, and DescribeTargetHealth says so.
    wait_for("both targets healthy", || {
        let h = elb.ok(&["describe-target-health", "--target-group-arn", &tg_arn]);
        let states: Vec<String> = h["TargetHealthDescriptions"]
            .as_array()?
            .iter()
            .map(|d| s(&d["TargetHealth"]["State"]))
            .collect();
        (states == ["healthy", "healthy"]).then_some(())
    });
    let answers: Vec<String> = (0..6).map(|_| get(listen, "/").expect("an answer").1).collect();
    let from_a = answers.iter().filter(|b| b.starts_with("A ")).count();
    assert_eq!(from_a, 3, "round robin over two targets: {answers:?}");
    assert!(answers.iter().all(|b| b.ends_with("127.0.0.1")), "X-Forwarded-For: {answers:?}");

    // B is deregistered: it drains, and every request goes to A.
    elb.ok(&[
        "deregister-targets",
        "--target-group-arn",
        &tg_arn,
        "--targets",
        &format!("Id=127.0.0.1,Port={b}"),
    ]);
    let h = elb.ok(&["describe-target-health", "--target-group-arn", &tg_arn]);
    let draining = h["TargetHealthDescriptions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["Target"]["Port"] == b)
        .expect("B while it drains")
        .clone();
    assert_eq!(draining["TargetHealth"]["State"], "draining");
    wait_for("requests to reach only A", || {
        let answers: Vec<String> = (0..4).filter_map(|_| get(listen, "/")).map(|r| r.1).collect();
        answers.iter().all(|b| b.starts_with("A ")).then_some(())
    });
    wait_for("B to be gone after the deregistration delay", || {
        let h = elb.ok(&["describe-target-health", "--target-group-arn", &tg_arn]);
        (h["TargetHealthDescriptions"].as_array()?.len() == 1).then_some(())
    });
}
