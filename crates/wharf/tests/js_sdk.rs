//! The AWS SDK for JavaScript v3 (`@aws-sdk/client-ecs`, `-elastic-load-balancing-v2`,
//! `-cloudwatch-logs`, `-ec2`) runs the seed flow against a real `wharf server` whose
//! embedded agent runs the tasks on Docker: `tests/js/seed_flow.test.mjs`, under node's test
//! runner. `scripts/test` installs node and the packages (`npm ci` in `tests/js`); without
//! them this test fails saying so.

mod support;

use std::path::PathBuf;
use std::process::Command;

use support::ClusterServer;

fn js_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/js")
}

#[test]
fn the_javascript_sdk_runs_the_seed_flow() {
    let dir = js_dir();
    assert!(
        dir.join("node_modules/@aws-sdk/client-ecs").is_dir(),
        "the JavaScript SDK is not installed: run scripts/test, or `npm ci` in {}",
        dir.display()
    );
    let cluster = format!("js-{}", std::process::id());
    let world = ClusterServer::launch(
        cluster.clone(),
        &["--metadata-address", "off", "--listener-address", "127.0.0.1"],
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let out = Command::new("node")
        .args(["--test", "--test-reporter=spec", "seed_flow.test.mjs"])
        .current_dir(&dir)
        .env("WHARF_ENDPOINT", world.server.endpoint())
        .env("WHARF_CLUSTER", &cluster)
        .env("WHARF_LISTENER_PORT", port.to_string())
        .env("WHARF_IMAGE", support::TEST_IMAGE)
        .output()
        .expect("node is not installed: run scripts/test (it installs nodejs)");
    let report =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the seed flow failed:\n{report}");
    assert!(report.contains("pass 1") && report.contains("fail 0"), "{report}");
}
