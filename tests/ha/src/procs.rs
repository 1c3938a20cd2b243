//! Processes the suite starts: each runs under a small shell guard that
//! kills it when the test process goes away (also when a runner's timeout
//! kills the test), and is killed when its handle is dropped.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A process under a guard.
#[derive(Debug)]
pub struct Guarded {
    guard: Option<Child>,
    /// The process itself (not the guard).
    pub pid: u32,
}

impl Guarded {
    /// Starts `program args...`, output to `log`, its pid written to `pid_file`.
    pub fn spawn(program: &Path, args: &[String], log: &Path, pid_file: &Path) -> Self {
        let _ = std::fs::remove_file(pid_file);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("open a process log");
        let script = r#"
parent=$1; pidfile=$2; shift 2
"$@" &
child=$!
echo "$child" > "$pidfile"
trap 'kill -9 $child 2>/dev/null' EXIT TERM INT
while kill -0 "$parent" 2>/dev/null && kill -0 "$child" 2>/dev/null; do sleep 0.3; done
"#;
        let guard = Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg("wharf-ha-guard")
            .arg(std::process::id().to_string())
            .arg(pid_file)
            .arg(program)
            .args(args)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone a log handle"))
            .stderr(log)
            .spawn()
            .expect("start a guarded process");
        let started = Instant::now();
        let pid = loop {
            if let Some(pid) =
                std::fs::read_to_string(pid_file).ok().and_then(|s| s.trim().parse().ok())
            {
                break pid;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "{} did not start",
                program.display()
            );
            std::thread::sleep(Duration::from_millis(10));
        };
        Self { guard: Some(guard), pid }
    }

    fn signal(&self, sig: &str) {
        let _ =
            Command::new("kill").arg(sig).arg(self.pid.to_string()).stderr(Stdio::null()).status();
    }

    /// SIGKILL.
    pub fn kill9(&mut self) {
        self.signal("-KILL");
        if let Some(mut g) = self.guard.take() {
            let _ = g.wait();
        }
    }

    /// SIGTERM, then waits for it to end (SIGKILL after `within`).
    pub fn stop(&mut self, within: Duration) {
        self.signal("-TERM");
        let started = Instant::now();
        while self.alive() && started.elapsed() < within {
            std::thread::sleep(Duration::from_millis(50));
        }
        self.kill9();
    }

    /// SIGSTOP: the process freezes, its sockets stay open.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// SIGCONT.
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    /// Whether it still runs.
    pub fn alive(&self) -> bool {
        Command::new("kill")
            .arg("-0")
            .arg(self.pid.to_string())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        self.resume();
        self.kill9();
    }
}
