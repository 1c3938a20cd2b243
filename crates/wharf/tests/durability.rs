//! Nothing acknowledged is lost: registrations (and, in the log store, log
//! events) hammer a real `wharf server`, which is killed with SIGKILL
//! mid-stream and started again on the same data directory. Every
//! acknowledged revision must be there, intact, and the numbering must carry
//! on without reusing a revision; every acknowledged log event must be there
//! exactly once.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn start(data_dir: &std::path::Path, port: u16) -> Child {
    let child = Command::new(env!("CARGO_BIN_EXE_wharf"))
        .args(["server", "--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(data_dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start wharf server");
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "server did not start listening");
        std::thread::sleep(Duration::from_millis(10));
    }
    child
}

/// One ECS call over a fresh connection; (status, body).
fn call(port: u16, op: &str, body: &str) -> std::io::Result<(u16, String)> {
    call_service(port, "AmazonEC2ContainerServiceV20141113", op, body)
}

/// One AWS JSON 1.1 call to a service (its `X-Amz-Target` prefix); (status, body).
fn call_service(port: u16, target: &str, op: &str, body: &str) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-amz-json-1.1\r\n\
         X-Amz-Target: {target}.{op}\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    let status = out.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = out.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    Ok((status, body))
}

const TASKDEF: &str = r#"{"family":"crash","containerDefinitions":[{"name":"app","image":"busybox:1.36","memory":64}]}"#;

#[test]
fn kill_9_loses_no_acknowledged_registration() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut server = start(dir.path(), port);

    let acked = Arc::new(Mutex::new(Vec::<i64>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..8)
        .map(|_| {
            let (acked, stop) = (acked.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let Ok((200, body)) = call(port, "RegisterTaskDefinition", TASKDEF) else {
                        continue;
                    };
                    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
                    acked.lock().unwrap().push(v["taskDefinition"]["revision"].as_i64().unwrap());
                }
            })
        })
        .collect();
    // Let a few hundred registrations through, then pull the plug mid-stream.
    let deadline = Instant::now() + Duration::from_secs(20);
    while acked.lock().unwrap().len() < 300 {
        assert!(Instant::now() < deadline, "registrations are not going through");
        std::thread::sleep(Duration::from_millis(5));
    }
    server.kill().unwrap(); // SIGKILL
    server.wait().unwrap();
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }

    let acked = acked.lock().unwrap().clone();
    let max_acked = *acked.iter().max().unwrap();
    let mut server = start(dir.path(), port);
    for rev in &acked {
        let (status, body) =
            call(port, "DescribeTaskDefinition", &format!(r#"{{"taskDefinition":"crash:{rev}"}}"#))
                .unwrap();
        assert_eq!(status, 200, "acknowledged revision {rev} was lost: {body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["taskDefinition"]["revision"], *rev);
        assert_eq!(v["taskDefinition"]["containerDefinitions"][0]["image"], "busybox:1.36");
    }
    let (status, body) = call(port, "RegisterTaskDefinition", TASKDEF).unwrap();
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(v["taskDefinition"]["revision"].as_i64().unwrap() > max_acked, "a revision was reused");
    server.kill().unwrap();
    server.wait().unwrap();
}

fn logs_call(port: u16, op: &str, body: &serde_json::Value) -> (u16, serde_json::Value) {
    let (status, body) = call_service(port, "Logs_20140328", op, &body.to_string()).unwrap();
    (status, serde_json::from_str(&body).unwrap_or(serde_json::Value::Null))
}

#[test]
fn kill_9_loses_no_acknowledged_log_event() {
    use serde_json::json;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut server = start(dir.path(), port);
    assert_eq!(logs_call(port, "CreateLogGroup", &json!({"logGroupName": "/crash"})).0, 200);
    for w in 0..4 {
        let stream = json!({"logGroupName": "/crash", "logStreamName": format!("w{w}")});
        assert_eq!(logs_call(port, "CreateLogStream", &stream).0, 200);
    }
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let (acked, stop) = (acked.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let now = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .unwrap()
                        .as_millis() as i64;
                    let batch: Vec<String> = (0..50).map(|i| format!("w{w}-{n}-{i}")).collect();
                    let events: Vec<_> =
                        batch.iter().map(|m| json!({"timestamp": now, "message": m})).collect();
                    let body = json!({"logGroupName": "/crash", "logStreamName": format!("w{w}"),
                                      "logEvents": events});
                    let Ok((200, _)) =
                        call_service(port, "Logs_20140328", "PutLogEvents", &body.to_string())
                    else {
                        continue;
                    };
                    acked.lock().unwrap().extend(batch);
                }
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(20);
    while acked.lock().unwrap().len() < 5_000 {
        assert!(Instant::now() < deadline, "log events are not going through");
        std::thread::sleep(Duration::from_millis(5));
    }
    server.kill().unwrap(); // SIGKILL
    server.wait().unwrap();
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }

    let acked = acked.lock().unwrap().clone();
    let mut server = start(dir.path(), port);
    let mut found = std::collections::HashMap::<String, usize>::new();
    let mut body = json!({"logGroupName": "/crash"});
    loop {
        let (status, page) = logs_call(port, "FilterLogEvents", &body);
        assert_eq!(status, 200, "{page}");
        for e in page["events"].as_array().unwrap() {
            *found.entry(e["message"].as_str().unwrap().to_owned()).or_default() += 1;
        }
        match page["nextToken"].as_str() {
            Some(t) => body["nextToken"] = json!(t),
            None => break,
        }
    }
    for m in &acked {
        assert_eq!(found.get(m), Some(&1), "acknowledged event {m} lost or doubled");
    }
    // A batch is one transaction: none is there in part.
    let mut per_batch = std::collections::HashMap::<String, usize>::new();
    for m in found.keys() {
        let batch = m.rsplit_once('-').unwrap().0.to_owned();
        *per_batch.entry(batch).or_default() += 1;
    }
    assert!(per_batch.values().all(|&n| n == 50), "a half-written batch");
    server.kill().unwrap();
    server.wait().unwrap();
}
