//! `wharf run` end to end on the real Docker Engine: in plain mode (pipes)
//! and under a pseudo-terminal (`script` from util-linux), on a server it
//! embeds and on a running one, with Ctrl-C (SIGINT, and ^C typed into the
//! terminal), exit codes, and pull progress from the local registry.

mod support;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::{Aws, ClusterServer};

const IMAGE: &str = "wharf-test/busybox:1";
const REGISTRY: &str = "127.0.0.1:5000";

fn wharf() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_wharf"));
    c.env_remove("WHARF_ENDPOINT").env("AWS_DEFAULT_REGION", "us-east-1").env_remove("NO_COLOR");
    c
}

/// A task definition file of one busybox container running `script`.
fn definition(dir: &Path, family: &str, containers: Value) -> PathBuf {
    let path = dir.join(format!("{family}.json"));
    let td = json!({"family": family, "containerDefinitions": containers});
    std::fs::write(&path, td.to_string()).expect("write task definition");
    path
}

fn container(name: &str, script: &str) -> Value {
    json!({"name": name, "image": IMAGE, "memory": 64,
           "entryPoint": ["/bin/busybox"], "command": ["sh", "-c", script]})
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Collects a child's stream in the background.
fn collect(mut stream: impl Read + Send + 'static) -> Arc<Mutex<Vec<u8>>> {
    let buffer = Arc::new(Mutex::new(Vec::new()));
    let sink = buffer.clone();
    std::thread::spawn(move || {
        let mut chunk = [0u8; 4096];
        while let Ok(n) = stream.read(&mut chunk) {
            if n == 0 {
                break;
            }
            sink.lock().unwrap().extend_from_slice(&chunk[..n]);
        }
    });
    buffer
}

fn wait_for_text(buffer: &Arc<Mutex<Vec<u8>>>, needle: &str, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !text(&buffer.lock().unwrap()).contains(needle) {
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "wharf run ended ({status}) before {needle:?}:\n{}",
                text(&buffer.lock().unwrap())
            );
        }
        assert!(Instant::now() < deadline, "no {needle:?} in:\n{}", text(&buffer.lock().unwrap()));
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn wait_exit(child: &mut Child, within: Duration) -> i32 {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status.code().expect("an exit code");
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("wharf run did not end within {within:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn interrupt(child: &Child) {
    let status = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
}

#[test]
fn plain_mode_shows_statuses_and_output_and_exits_with_the_essential_code() {
    let dir = tempfile::tempdir().unwrap();
    let file = definition(
        dir.path(),
        "plain",
        json!([
            container("app", "echo hello from app; sleep 0.3; echo second line; exit 3"),
            {"name": "helper", "image": IMAGE, "memory": 64, "essential": false,
             "entryPoint": ["/bin/busybox"], "command": ["sh", "-c", "echo helper here; sleep 30"]},
        ]),
    );
    let out: Output = wharf().arg("run").arg(&file).arg("--embedded").output().unwrap();
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(3), "stdout:\n{stdout}\nstderr:\n{stderr}");
    let first = stdout.find("app    | hello from app").expect(&stdout);
    let second = stdout.find("app    | second line").expect(&stdout);
    assert!(first < second, "lines in order:\n{stdout}");
    assert!(stdout.contains("helper | helper here"), "{stdout}");
    for expected in [
        "wharf: running a server inside this command",
        "wharf: app, helper log to awslogs group /ecs/plain",
        "wharf: registered plain:1",
        "wharf: app RUNNING",
        "wharf: app STOPPED (exit code 3)",
        "stopped: Essential container in task exited",
    ] {
        assert!(stderr.contains(expected), "no {expected:?} in:\n{stderr}");
    }
    assert!(!stdout.contains('\x1b') && !stderr.contains('\x1b'), "escape codes in plain mode");
}

#[test]
fn ctrl_c_stops_the_task_gracefully_in_plain_mode() {
    let dir = tempfile::tempdir().unwrap();
    let file = definition(
        dir.path(),
        "graceful",
        json!([container(
            "app",
            "trap 'echo got TERM; exit 7' TERM; echo ready; while true; do sleep 0.1; done"
        )]),
    );
    let mut child = wharf()
        .arg("run")
        .arg(&file)
        .arg("--embedded")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = collect(child.stdout.take().unwrap());
    let stderr = collect(child.stderr.take().unwrap());
    wait_for_text(&stdout, "app | ready", &mut child);
    interrupt(&child);
    let code = wait_exit(&mut child, Duration::from_secs(30));
    std::thread::sleep(Duration::from_millis(100));
    let (stdout, stderr) = (text(&stdout.lock().unwrap()), text(&stderr.lock().unwrap()));
    assert_eq!(code, 7, "the trap's exit code:\nstdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("app | got TERM"), "{stdout}");
    assert!(stderr.contains("stopping (up to 30 s; Ctrl-C again to kill)"), "{stderr}");
    assert!(stderr.contains("Task stopped by wharf run (interrupted)"), "{stderr}");
}

#[test]
fn under_a_terminal_it_colours_and_a_second_ctrl_c_kills() {
    let dir = tempfile::tempdir().unwrap();
    let file = definition(
        dir.path(),
        "tty",
        json!([
            container("app", "trap 'echo got TERM; exit 0' TERM; echo ready; while true; do sleep 0.1; done"),
            // Ignores SIGTERM (PID 1 without a handler) for its whole stopTimeout.
            {"name": "stubborn", "image": IMAGE, "memory": 64, "essential": false, "stopTimeout": 120,
             "entryPoint": ["/bin/busybox"], "command": ["sh", "-c", "echo stubborn up; while true; do sleep 0.1; done"]},
        ]),
    );
    // `exec`, so wharf itself is the terminal's foreground process: a shell
    // left between (dash does not exec a `-c` command) would be killed by
    // the Ctrl-C, and `script -e` would report the shell's 130.
    let command = format!("exec {} run {} --embedded", env!("CARGO_BIN_EXE_wharf"), file.display());
    let mut child = Command::new("script")
        .args(["-qefc", &command, "/dev/null"])
        .env("SHELL", "/bin/sh")
        .env_remove("WHARF_ENDPOINT")
        .env_remove("NO_COLOR")
        .env("TERM", "xterm")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("script (util-linux) runs the command under a pseudo-terminal");
    let screen = collect(child.stdout.take().unwrap());
    let mut keyboard = child.stdin.take().unwrap();
    wait_for_text(&screen, "stubborn up", &mut child);
    wait_for_text(&screen, "ready", &mut child);
    keyboard.write_all(b"\x03").unwrap();
    keyboard.flush().unwrap();
    wait_for_text(&screen, "got TERM", &mut child);
    let started = Instant::now();
    keyboard.write_all(b"\x03").unwrap();
    keyboard.flush().unwrap();
    let code = wait_exit(&mut child, Duration::from_secs(60));
    std::thread::sleep(Duration::from_millis(100));
    let screen = text(&screen.lock().unwrap());
    assert_eq!(code, 0, "app, the essential container, exited 0:\n{screen}");
    assert!(
        screen.contains("killed 2 containers") || screen.contains("killed 1 containers"),
        "{screen}"
    );
    assert!(started.elapsed() < Duration::from_secs(60), "the kill did not wait for stopTimeout");
    assert!(screen.contains("\x1b[32mRUNNING\x1b[0m"), "statuses coloured:\n{screen:?}");
    assert!(
        screen.contains("\x1b[36mapp      |\x1b[0m ready"),
        "output prefixed in colour:\n{screen:?}"
    );
    assert!(
        screen.contains("stubborn STOPPED") || screen.contains("stubborn \x1b[31mSTOPPED"),
        "{screen}"
    );
}

#[test]
fn runs_a_registered_family_on_the_server_at_wharf_endpoint() {
    let cs = ClusterServer::launch(format!("cli-run-family-{}", std::process::id()), &[]);
    let server = &cs.server;
    let ecs = Aws::new(server, "ecs");
    let td = json!({"family": "greeter", "containerDefinitions": [{
        "name": "app", "image": IMAGE, "memory": 64,
        "entryPoint": ["/bin/busybox"], "command": ["sh", "-c", "echo \"greeting=$GREETING\""],
        "logConfiguration": {"logDriver": "awslogs", "options": {
            "awslogs-group": "/greeter", "awslogs-region": "us-east-1",
            "awslogs-stream-prefix": "g", "awslogs-create-group": "true"}}}]});
    ecs.ok(&["register-task-definition", "--cli-input-json", &td.to_string()]);
    let out = wharf()
        .args(["run", "--family", "greeter:1", "--count", "2", "--env", "GREETING=hi"])
        .args(["--cluster", &cs.cluster])
        .env("WHARF_ENDPOINT", server.endpoint())
        .output()
        .unwrap();
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert_eq!(stdout.matches("/app | greeting=hi").count(), 2, "both tasks' output:\n{stdout}");
    assert!(!stderr.contains("inside this command"), "used the running server:\n{stderr}");
    let stopped = ecs.ok(&[
        "list-tasks",
        "--cluster",
        &cs.cluster,
        "--desired-status",
        "STOPPED",
        "--started-by",
        "wharf-run",
    ]);
    assert_eq!(stopped["taskArns"].as_array().map(Vec::len), Some(2), "{stopped}");
}

#[test]
fn bad_input_is_refused_with_the_ecs_error_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let file = definition(dir.path(), "noimage", json!([{"name": "app", "memory": 64}]));
    let out = wharf().arg("run").arg(&file).arg("--embedded").output().unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("ClientException") && stderr.contains("image"), "{stderr}");

    let good = definition(dir.path(), "good", json!([container("app", "true")]));
    let out =
        wharf().arg("run").arg(&good).args(["--embedded", "--env", "cache:A=1"]).output().unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("no container \"cache\""), "{stderr}");

    // No Docker: said at once, and the embedded server's state goes with it.
    let started = Instant::now();
    let child = wharf()
        .arg("run")
        .arg(&good)
        .arg("--embedded")
        .env("DOCKER_HOST", format!("unix://{}/no-docker.sock", dir.path().display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let state = std::env::temp_dir().join(format!("wharf-run-{}", child.id()));
    let out = child.wait_with_output().unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("Docker Engine does not answer"), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(10), "said at once");
    assert!(!state.exists(), "{} is left behind", state.display());

    let out = wharf()
        .args(["run", "--family", "greeter", "--endpoint", "http://127.0.0.1:9"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("cannot reach the Wharf server at http://127.0.0.1:9"),
        "{}",
        text(&out.stderr)
    );
}

/// Builds an image with a layer of its own on the test image, pushes it to
/// the local registry and removes it here, so a run must pull (download)
/// it with credentials.
fn push_unique_image() -> String {
    let config = tempfile::tempdir().unwrap();
    let context = tempfile::tempdir().unwrap();
    let payload: Vec<u8> =
        (0..512 * 1024u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    std::fs::write(context.path().join("payload"), payload).unwrap();
    std::fs::write(context.path().join("stamp"), format!("{:?}", Instant::now())).unwrap();
    std::fs::write(
        context.path().join("Dockerfile"),
        format!("FROM {IMAGE}\nCOPY payload stamp /\n"),
    )
    .unwrap();
    let tag = format!("{REGISTRY}/wharf-test/run-pull:{}", std::process::id());
    let docker = |args: &[&str]| {
        let out =
            Command::new("docker").args(args).env("DOCKER_CONFIG", config.path()).output().unwrap();
        assert!(out.status.success(), "docker {args:?}: {}", text(&out.stderr));
    };
    let mut login = Command::new("docker")
        .args(["login", "--username", "wharf", "--password-stdin", REGISTRY])
        .env("DOCKER_CONFIG", config.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    login.stdin.take().unwrap().write_all(b"wharf-test").unwrap();
    assert!(login.wait().unwrap().success(), "docker login to the local registry");
    let built = Command::new("docker")
        .args(["build", "--quiet", "-t", &tag])
        .arg(context.path())
        .env("DOCKER_BUILDKIT", "0")
        .output()
        .unwrap();
    assert!(built.status.success(), "docker build: {}", text(&built.stderr));
    docker(&["push", &tag]);
    docker(&["rmi", &tag]);
    tag
}

#[test]
fn an_image_pull_is_shown_with_its_bytes() {
    let cs = ClusterServer::launch(format!("cli-run-pull-{}", std::process::id()), &[]);
    let server = &cs.server;
    let image = push_unique_image();
    let sm = Aws::new(server, "secretsmanager");
    let secret = sm.ok(&[
        "create-secret",
        "--name",
        "registry",
        "--secret-string",
        r#"{"username":"wharf","password":"wharf-test"}"#,
    ]);
    let dir = tempfile::tempdir().unwrap();
    let file = definition(
        dir.path(),
        "pulled",
        json!([{"name": "app", "image": image, "memory": 64,
                "repositoryCredentials": {"credentialsParameter": secret["ARN"]},
                "entryPoint": ["/bin/busybox"], "command": ["sh", "-c", "echo pulled and running"]}]),
    );
    let out = wharf()
        .arg("run")
        .arg(&file)
        .args(["--cluster", &cs.cluster])
        .env("WHARF_ENDPOINT", server.endpoint())
        .output()
        .unwrap();
    let _ = Command::new("docker").args(["rmi", &image]).output();
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("app | pulled and running"), "{stdout}");
    assert!(stderr.contains(&format!("wharf: app: pulling {image}")), "{stderr}");
    let pulled = format!("wharf: app: pulled {image} (");
    let line =
        stderr.lines().find(|l| l.starts_with(&pulled)).unwrap_or_else(|| panic!("{stderr}"));
    assert!(line.contains("MiB") || line.contains("KiB"), "bytes shown: {line}");
}

#[test]
fn a_compose_file_runs_directly_in_dependency_order() {
    let dir = tempfile::tempdir().unwrap();
    let compose = dir.path().join("docker-compose.yml");
    std::fs::write(
        &compose,
        format!(
            r#"name: composed
services:
  db:
    image: {IMAGE}
    entrypoint: ["/bin/busybox", "sh", "-c"]
    command: ["trap 'exit 0' TERM; echo db up; touch /tmp/ready; while true; do sleep 0.1; done"]
    healthcheck:
      test: ["CMD", "/bin/busybox", "test", "-f", "/tmp/ready"]
      interval: 5s
      retries: 3
  web:
    image: {IMAGE}
    entrypoint: ["/bin/busybox", "sh", "-c"]
    command: ["echo web up after $$DB_STATE"]
    environment:
      DB_STATE: healthy
    depends_on:
      db:
        condition: service_healthy
"#
        ),
    )
    .unwrap();
    let out = wharf().arg("run").arg(&compose).arg("--embedded").output().unwrap();
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stderr.contains("registered composed:1"), "{stderr}");
    let db = stdout.find("db  | db up").expect(&stdout);
    let web = stdout.find("web | web up after healthy").expect(&stdout);
    assert!(db < web, "web started after db was healthy:\n{stdout}");
    assert!(stderr.contains("db HEALTHY"), "{stderr}");
}
