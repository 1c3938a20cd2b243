//! A rig of test hosts (`scripts/hosts`): network namespaces on a bridge, each
//! with its own dockerd. [`Rig::up`] makes one; dropping it tears everything
//! down again, also when the test fails (its hosts' dockerd logs are printed
//! then). Agents run inside a host with [`Host::command`].
#![allow(dead_code)]

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

/// One test host.
#[derive(Debug, Clone)]
pub struct Host {
    /// 1-based.
    pub index: usize,
    /// The network namespace's path (`/var/run/netns/...`).
    pub netns: PathBuf,
    /// Its address on the rig's bridge.
    pub address: Ipv4Addr,
    /// `unix:///...docker.sock`: its dockerd.
    pub docker_host: String,
    /// Where its dockerd logs.
    pub dockerd_log: PathBuf,
}

impl Host {
    /// `program` run inside the host's network namespace, with `DOCKER_HOST`
    /// set to its dockerd (`nsenter --net`, which execs the program in place:
    /// the child's pid is the program's).
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new("nsenter");
        c.arg(format!("--net={}", self.netns.display()))
            .arg("--")
            .arg(program)
            .env("DOCKER_HOST", &self.docker_host);
        c
    }

    /// `docker -H <this host> args...`.
    pub fn docker(&self, args: &[&str]) -> Output {
        Command::new("docker")
            .arg("-H")
            .arg(&self.docker_host)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run docker")
    }
}

/// A `wharf agent` running inside a host; killed on drop (its log printed
/// when the test failed).
#[derive(Debug)]
pub struct Agent {
    child: std::process::Child,
    /// The host it runs on (1-based).
    pub host: usize,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Agent {
    /// Its pid (to read its memory, say).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What it has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Kills it (SIGKILL) and waits.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            let log = self.log();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            eprintln!("--- agent on host {} (last lines) ---", self.host);
            for l in tail.iter().rev() {
                eprintln!("{l}");
            }
        }
    }
}

impl Host {
    /// Starts `wharf-agent --endpoint <endpoint> <args>` (the agent's own
    /// program) inside this host, with a state directory of its own and `RUST_LOG` from the test's
    /// environment (default `info`).
    pub fn agent(&self, endpoint: &str, args: &[&str]) -> Agent {
        let dir = tempfile::tempdir().expect("temporary directory");
        let log = dir.path().join("agent.log");
        let file = std::fs::File::create(&log).expect("log file");
        let child = self
            .command(env!("CARGO_BIN_EXE_wharf-agent"))
            .arg("--endpoint")
            .arg(endpoint)
            .arg("--state-dir")
            .arg(dir.path().join("state"))
            .args(args)
            .env("RUST_LOG", std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()))
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("log"))
            .stderr(file)
            .spawn()
            .expect("spawn wharf agent");
        Agent { child, host: self.index, log, _dir: dir }
    }

    /// The IDs of the running containers on this host labelled with `task_arn`.
    pub fn task_containers(&self, task_arn: &str) -> Vec<String> {
        let out = self.docker(&[
            "ps",
            "-q",
            "--filter",
            &format!("label=com.amazonaws.ecs.task-arn={task_arn}"),
        ]);
        String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect()
    }
}

/// A rig of hosts; torn down on drop.
#[derive(Debug)]
pub struct Rig {
    /// The rig's name (`--rig`).
    pub name: String,
    /// The root namespace's address on the bridge: servers the hosts reach listen here.
    pub gateway: Ipv4Addr,
    /// The hosts, host 1 first.
    pub hosts: Vec<Host>,
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/hosts")
}

fn run_script(args: &[&str]) -> Output {
    Command::new(script()).args(args).stdin(Stdio::null()).output().expect("run scripts/hosts")
}

impl Rig {
    /// Brings up `n` hosts in a rig called `name` (one name per test: rigs
    /// run side by side). Fails the test, saying why, when it cannot.
    pub fn up(name: &str, n: usize) -> Rig {
        let out = run_script(&["up", &n.to_string(), "--rig", name]);
        if !out.status.success() {
            let _ = run_script(&["down", "--rig", name]);
            panic!(
                "scripts/hosts up {n} --rig {name} failed (needs root, Docker and the test \
                 image: scripts/docker-up):\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let v: Value = serde_json::from_slice(&out.stdout).expect("scripts/hosts prints JSON");
        let hosts = v["hosts"]
            .as_array()
            .expect("hosts")
            .iter()
            .map(|h| Host {
                index: h["index"].as_u64().expect("index") as usize,
                netns: PathBuf::from(h["netns"].as_str().expect("netns")),
                address: h["address"].as_str().expect("address").parse().expect("an IPv4"),
                docker_host: h["docker_host"].as_str().expect("docker_host").to_owned(),
                dockerd_log: PathBuf::from(h["dockerd_log"].as_str().expect("log")),
            })
            .collect();
        Rig {
            name: name.to_owned(),
            gateway: v["gateway"].as_str().expect("gateway").parse().expect("an IPv4"),
            hosts,
        }
    }

    /// Host `i` (1-based).
    pub fn host(&self, i: usize) -> &Host {
        &self.hosts[i - 1]
    }

    fn host_command(&self, args: &[&str]) {
        let mut all = args.to_vec();
        all.extend(["--rig", &self.name]);
        let out = run_script(&all);
        assert!(
            out.status.success(),
            "scripts/hosts {}: {}",
            all.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Cuts host `i`'s link to the bridge (`up: false`) or restores it.
    pub fn link(&self, i: usize, up: bool) {
        self.host_command(&["link", &i.to_string(), if up { "up" } else { "down" }]);
    }

    /// Powers host `i` off: its dockerd, containerd, agents and containers
    /// are killed at once.
    pub fn kill(&self, i: usize) {
        self.host_command(&["kill", &i.to_string()]);
    }

    /// Starts host `i`'s dockerd again after [`Rig::kill`].
    pub fn boot(&self, i: usize) {
        self.host_command(&["boot", &i.to_string()]);
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        if std::thread::panicking() {
            for h in &self.hosts {
                let log = std::fs::read_to_string(&h.dockerd_log).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(15).collect();
                eprintln!("--- host {} dockerd (last lines) ---", h.index);
                for l in tail.iter().rev() {
                    eprintln!("{l}");
                }
            }
        }
        let out = run_script(&["down", "--rig", &self.name]);
        if !out.status.success() {
            eprintln!(
                "scripts/hosts down --rig {} failed: {}",
                self.name,
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}
