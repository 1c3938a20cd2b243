//! ECS Exec end to end: a real `wharf server`, a task with
//! `enableExecuteCommand` on the local Docker Engine, and `wharf exec` run as
//! a user runs it: output and exit codes as `docker exec` gives them,
//! standard input, and on a pseudo-terminal an interactive shell that sees
//! the window size and its changes, with Ctrl-C going to the command. Then
//! the sessions' guards: a token opens one session once, a forged one none,
//! and a stopped task none.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::fd::OwnedFd;
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::{Aws, ClusterServer, Server};

fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `wharf exec` against `server` on `cluster`, with `args` before `--` and
/// `command` after.
fn wharf_exec(server: &Server, cluster: &str, args: &[&str], command: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_wharf"));
    c.arg("exec")
        .args(["--cluster", cluster])
        .args(args)
        .arg("--")
        .args(command)
        .env("WHARF_ENDPOINT", server.endpoint());
    c
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// One ECS call over plain HTTP: the parsed answer body (errors included).
fn ecs(server: &Server, operation: &str, body: &Value) -> Value {
    let body = body.to_string();
    let mut s = TcpStream::connect(server.addr).expect("connect");
    write!(
        s,
        "POST / HTTP/1.1\r\nHost: {}\r\nX-Amz-Target: AmazonEC2ContainerServiceV20141113.{operation}\r\n\
         Content-Type: application/x-amz-json-1.1\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        server.addr,
        body.len()
    )
    .expect("send");
    let mut answer = String::new();
    s.read_to_string(&mut answer).expect("answer");
    serde_json::from_str(answer.split_once("\r\n\r\n").map_or("", |(_, b)| b)).expect("JSON")
}

/// A pseudo-terminal of `rows` × `cols`: (master, slave).
fn pty(rows: u16, cols: u16) -> (std::fs::File, std::fs::File) {
    use rustix::pty::{grantpt, openpt, ptsname, unlockpt, OpenptFlags};
    let master: OwnedFd = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).expect("openpt");
    grantpt(&master).expect("grantpt");
    unlockpt(&master).expect("unlockpt");
    let name = ptsname(&master, Vec::new()).expect("ptsname");
    let slave = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(name.to_str().expect("a path"))
        .expect("open the pty's slave");
    set_size(&master, rows, cols);
    (std::fs::File::from(master), slave)
}

fn set_size(fd: impl std::os::fd::AsFd, rows: u16, cols: u16) {
    let size = rustix::termios::Winsize { ws_row: rows, ws_col: cols, ws_xpixel: 0, ws_ypixel: 0 };
    rustix::termios::tcsetwinsize(fd, size).expect("set the window size");
}

/// `wharf exec -it` on a pseudo-terminal: what it printed, as it comes.
struct Terminal {
    child: std::process::Child,
    master: std::fs::File,
    seen: Arc<Mutex<Vec<u8>>>,
}

impl Terminal {
    fn start(mut command: Command) -> Terminal {
        let (master, slave) = pty(24, 80);
        let child = command
            .stdin(Stdio::from(slave.try_clone().unwrap()))
            .stdout(Stdio::from(slave.try_clone().unwrap()))
            .stderr(Stdio::from(slave))
            .spawn()
            .expect("start wharf exec");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (mut reader, into) = (master.try_clone().unwrap(), seen.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                into.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        Terminal { child, master, seen }
    }

    fn seen(&self) -> String {
        text(&self.seen.lock().unwrap())
    }

    fn wait_for_text(&self, what: &str) {
        wait_for(&format!("{what:?} on the terminal"), Duration::from_secs(20), || {
            self.seen().contains(what).then_some(())
        });
    }

    fn type_in(&mut self, keys: &str) {
        self.master.write_all(keys.as_bytes()).expect("type");
    }

    fn exit_code(mut self) -> i32 {
        let status = wait_for("wharf exec to exit", Duration::from_secs(20), || {
            self.child.try_wait().expect("wait")
        });
        status.code().expect("an exit code")
    }
}

#[test]
fn wharf_exec_runs_commands_in_a_tasks_container_as_docker_exec_does() {
    let cluster = format!("exec-{}", std::process::id());
    let world = ClusterServer::launch(
        cluster.clone(),
        &["--metadata-address", "off", "--listener-address", "off"],
    );
    let server = &world.server;
    let ecs_cli = Aws::new(server, "ecs");
    let td = json!({"family": "shell", "containerDefinitions": [
        {"name": "app", "image": support::TEST_IMAGE, "memory": 32, "stopTimeout": 1,
         "command": ["sleep", "600"]},
        {"name": "side", "image": support::TEST_IMAGE, "memory": 16, "stopTimeout": 1,
         "command": ["sleep", "600"]}]});
    ecs_cli.ok(&["register-task-definition", "--cli-input-json", &td.to_string()]);
    let ran = ecs_cli.ok(&[
        "run-task",
        "--cluster",
        &cluster,
        "--task-definition",
        "shell",
        "--enable-execute-command",
    ]);
    let task = ran["tasks"][0]["taskArn"].as_str().expect("a task").to_owned();
    let _containers = support::TaskContainers(task.clone());
    ecs_cli.ok(&["wait", "tasks-running", "--cluster", &cluster, "--tasks", &task]);
    let instance = ecs_cli.ok(&["list-container-instances", "--cluster", &cluster]);
    let described = ecs_cli.ok(&[
        "describe-container-instances",
        "--cluster",
        &cluster,
        "--container-instances",
        instance["containerInstanceArns"][0].as_str().unwrap(),
    ]);
    let attrs = described["containerInstances"][0]["attributes"].to_string();
    assert!(attrs.contains("ecs.capability.execute-command"), "{attrs}");
    assert!(attrs.contains("wharf.exec-endpoint"), "{attrs}");
    let described = ecs_cli.ok(&["describe-tasks", "--cluster", &cluster, "--tasks", &task]);
    for c in described["tasks"][0]["containers"].as_array().unwrap() {
        let agent = &c["managedAgents"][0];
        assert_eq!(
            (agent["name"].as_str(), agent["lastStatus"].as_str()),
            (Some("ExecuteCommandAgent"), Some("RUNNING")),
            "{c}"
        );
        assert!(agent["lastStartedAt"].is_number(), "{c}");
    }
    let id = task.rsplit('/').next().unwrap().to_owned();
    let run = |args: &[&str], command: &[&str]| -> Output {
        wharf_exec(server, &cluster, args, command).stdin(Stdio::null()).output().expect("run")
    };

    // Output on its streams, and the command's exit code.
    let out = run(&[&id, "-c", "app"], &["sh", "-c", "echo out; echo err >&2; exit 7"]);
    assert_eq!(out.status.code(), Some(7), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "out\n");
    assert_eq!(text(&out.stderr), "err\n");
    // A command that does not exist: Docker's message and 126, as docker exec.
    let out = run(&[&id, "-c", "side"], &["no-such-command"]);
    assert_eq!(out.status.code(), Some(126));
    assert!(text(&out.stdout).contains("executable file not found"), "{}", text(&out.stdout));
    // ECS's refusals come through.
    let out = run(&[&id], &["true"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("Container name is required"), "{}", text(&out.stderr));
    // Words keep their quoting across ExecuteCommand's one command string.
    let out = run(&[&id, "-c", "app"], &["sh", "-c", "printf '%s|' \"$@\"", "x", "a b", "it's"]);
    assert_eq!(text(&out.stdout), "a b|it's|");

    // -i: standard input, to its end.
    let input = "0123456789abcdef".repeat(20_000);
    let mut child = wharf_exec(server, &cluster, &["-i", &id, "-c", "app"], &["sh", "-c", "wc -c"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().expect("wait");
    writer.join().unwrap().expect("stdin written");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stdout).trim(), "320000");

    // -it on a terminal: a shell that sees the window and its changes.
    let mut term =
        Terminal::start(wharf_exec(server, &cluster, &["-it", &id, "-c", "app"], &["sh"]));
    term.wait_for_text("# ");
    term.type_in("stty size\r");
    term.wait_for_text("24 80");
    set_size(&term.master, 50, 132);
    let kill =
        Command::new("kill").args(["-WINCH", &term.child.id().to_string()]).status().expect("kill");
    assert!(kill.success());
    std::thread::sleep(Duration::from_millis(300));
    term.type_in("stty size\r");
    term.wait_for_text("50 132");
    term.type_in("exit 3\r");
    assert_eq!(term.exit_code(), 3);
    // Ctrl-C goes to the command on the terminal (SIGINT: 130), as docker exec -it.
    let mut term =
        Terminal::start(wharf_exec(server, &cluster, &["-it", &id, "-c", "app"], &["sleep", "60"]));
    std::thread::sleep(Duration::from_secs(1));
    let started = Instant::now();
    term.type_in("\x03");
    assert_eq!(term.exit_code(), 130);
    assert!(started.elapsed() < Duration::from_secs(10));
    // -it without a terminal, as docker exec says it.
    let out = run(&["-it", &id, "-c", "app"], &["sh"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("the input device is not a TTY"));

    // The session's guards, at the WebSocket itself.
    let granted = ecs(
        server,
        "ExecuteCommand",
        &json!({"cluster": cluster, "task": task, "container": "app", "interactive": true,
                "command": "true"}),
    );
    let url = granted["session"]["streamUrl"].as_str().expect("a session").to_owned();
    let token = granted["session"]["tokenValue"].as_str().unwrap().to_owned();
    let first = open_session(&url, &token);
    assert_eq!(first, json!("started"), "the first use opens it");
    let again = open_session(&url, &token);
    assert!(again.to_string().contains("opened already"), "{again}");
    let forged = format!("{}x", &token[..token.len() - 1]);
    let other = ecs(
        server,
        "ExecuteCommand",
        &json!({"cluster": cluster, "task": task, "container": "app", "interactive": true,
                "command": "true"}),
    );
    let other_url = other["session"]["streamUrl"].as_str().unwrap();
    let refused = open_session(other_url, &forged);
    assert!(refused.to_string().contains("not valid"), "{refused}");
    let other_token = other["session"]["tokenValue"].as_str().unwrap();
    let wrong = open_session(&url, other_token);
    assert!(wrong.to_string().contains("another session"), "{wrong}");

    // A stopped task grants nothing.
    ecs_cli.ok(&["stop-task", "--cluster", &cluster, "--task", &task]);
    ecs_cli.ok(&["wait", "tasks-stopped", "--cluster", &cluster, "--tasks", &task]);
    let out = run(&[&id, "-c", "app"], &["true"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("not RUNNING"), "{}", text(&out.stderr));
}

/// Opens a session's WebSocket with `token`: `"started"`, or the agent's
/// refusal as `{"error": {"message": ...}}`.
fn open_session(url: &str, token: &str) -> Value {
    use tokio_tungstenite::tungstenite::Message;
    let rest = url.strip_prefix("ws://").expect("a ws:// URL");
    let authority = rest.split('/').next().unwrap();
    let stream = TcpStream::connect(authority).expect("reach the agent");
    let (mut socket, _) = tokio_tungstenite::tungstenite::client(url, stream).expect("handshake");
    let open = json!({"tokenValue": token, "tty": false, "stdin": false});
    socket.send(Message::Text(open.to_string().into())).expect("send");
    loop {
        match socket.read().expect("an answer") {
            Message::Text(t) => return serde_json::from_str(&t).expect("JSON"),
            Message::Close(_) => panic!("closed without an answer"),
            _ => {}
        }
    }
}
