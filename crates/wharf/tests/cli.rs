//! The `wharf` binary as a user runs it: `wharf validate` exit codes and
//! output, and `wharf server` stopping cleanly on SIGTERM.

use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn wharf() -> Command {
    Command::new(env!("CARGO_BIN_EXE_wharf"))
}

fn write(dir: &tempfile::TempDir, name: &str, body: &str) -> std::path::PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, body).unwrap();
    path
}

#[test]
fn validate_exits_0_for_good_files_and_1_for_bad_ones() {
    let dir = tempfile::tempdir().unwrap();
    let good = write(
        &dir,
        "good.json",
        r#"{"family":"web","containerDefinitions":[{"name":"app","image":"nginx:1.27","memory":128}]}"#,
    );
    let bad = write(
        &dir,
        "bad.json",
        r#"{"family":"web","networkMode":"awsvpc","containerDefinitions":[{"name":"app","image":"nginx:1.27","memory":128,"portMappings":[{"containerPort":80,"hostPort":8080}]}]}"#,
    );
    let broken = write(&dir, "broken.json", "{\"family\": ");

    let out = wharf().arg("validate").arg(&good).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));

    let out = wharf().arg("validate").arg(&good).arg(&bad).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("When networkMode=awsvpc, the host ports and container ports in port mappings must match."),
        "{text}"
    );
    assert!(!text.contains('\u{1b}'), "no escape codes when not on a terminal: {text}");

    let out = wharf().args(["validate", "--json"]).arg(&good).arg(&broken).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("--json prints JSON");
    let files = report.as_array().expect("an array of files");
    assert_eq!(files.len(), 2);
    assert_eq!(files[0]["valid"], true);
    assert_eq!(files[1]["valid"], false);
    assert_eq!(files[1]["error"]["type"], "SerializationException");
}

#[test]
fn server_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = wharf()
        .args(["server", "--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(dir.path())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "server did not start");
        std::thread::sleep(Duration::from_millis(10));
    }
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let exit = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "server did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(exit.success(), "exit status {exit}");
    // The data directory is free again: a second server can take it.
    let again = wharf()
        .args(["server", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .stderr(Stdio::null())
        .spawn();
    let mut again = again.unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        again.try_wait().unwrap().is_none(),
        "a second server could not take the data directory"
    );
    again.kill().unwrap();
    again.wait().unwrap();
}

#[test]
fn a_second_server_on_the_same_data_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut first = wharf()
        .args(["server", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let second = wharf()
        .args(["server", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!second.status.success());
    assert!(String::from_utf8_lossy(&second.stderr).contains("another wharf server is using"));
    first.kill().unwrap();
    first.wait().unwrap();
}
