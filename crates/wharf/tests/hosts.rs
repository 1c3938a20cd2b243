//! A cluster of many hosts on one machine (`scripts/hosts`): network
//! namespaces on a bridge, each with its own dockerd, and `wharf agent`s
//! inside them joining a server on the bridge. Needs root and Docker
//! (`scripts/docker-up`); without them the tests fail, they are not skipped.
//! nextest runs them one at a time (`.config/nextest.toml`, group `hosts`).

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use support::hosts::Rig;

/// The bytes `iptables` counted on the rig's rule that drops what a host
/// sends out of the bridge.
fn dropped_out(rig_index: &str) -> u64 {
    let out = Command::new("iptables")
        .args(["-w", "-L", &format!("WHARF-HOSTS-{rig_index}"), "-v", "-x", "-n"])
        .output()
        .expect("iptables");
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find(|l| l.contains("DROP") && l.contains(&format!("whb{rig_index}")) && l.contains(" * "))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|b| b.parse().ok())
        .unwrap_or_else(|| panic!("no drop rule in the rig's chain:\n{text}"))
}

#[test]
fn hosts_rig_connects_its_hosts_and_nothing_else() {
    let rig = Rig::up("rig-check", 2);
    let (h1, h2) = (rig.host(1), rig.host(2));
    let index = rig.gateway.octets()[2].to_string();
    // Host 1 serves a file on a published port.
    let run = h1.docker(&[
        "run",
        "-d",
        "-p",
        "8080:80",
        support::TEST_IMAGE,
        "httpd",
        "-f",
        "-p",
        "80",
        "-h",
        "/etc",
    ]);
    assert!(run.status.success(), "docker run: {}", String::from_utf8_lossy(&run.stderr));
    // The root namespace reaches it at the host's address.
    let mut answered = String::new();
    for _ in 0..100 {
        if let Ok(mut s) = TcpStream::connect((h1.address, 8080)) {
            let _ = s.write_all(b"GET /passwd HTTP/1.0\r\n\r\n");
            answered.clear();
            let _ = s.read_to_string(&mut answered);
            if answered.contains("root:x:0:0") {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(answered.contains("root:x:0:0"), "host 1 did not answer from the root namespace");
    // A container on host 2 reaches it across the bridge.
    let url = format!("http://{}:8080/passwd", h1.address);
    let fetch =
        h2.docker(&["run", "--rm", support::TEST_IMAGE, "timeout", "5", "wget", "-q", "-O-", &url]);
    assert!(
        String::from_utf8_lossy(&fetch.stdout).contains("root:x:0:0"),
        "host 2 could not reach host 1: {}",
        String::from_utf8_lossy(&fetch.stderr)
    );
    // What a host sends beyond the bridge is dropped in the root namespace.
    let before = dropped_out(&index);
    let _ = h2.docker(&["run", "--rm", support::TEST_IMAGE, "ping", "-c", "2", "-W", "1", "192.0.2.1"]);
    assert!(dropped_out(&index) > before, "a packet bound off the rig was not dropped");

    let netns = h1.netns.clone();
    drop(rig);
    assert!(!netns.exists(), "the host's network namespace is gone after teardown");
    let links = Command::new("ip").args(["-o", "link", "show"]).output().expect("ip link");
    assert!(
        !String::from_utf8_lossy(&links.stdout).contains(&format!("whb{index}:")),
        "the rig's bridge is gone after teardown"
    );
}
