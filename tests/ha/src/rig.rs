//! The rig: a 3-member etcd cluster, `n` wharf servers sharing it (no
//! embedded agents), and one `wharf agent` that knows every server, running
//! tasks on this machine's Docker Engine in a cluster of the rig's own.
//! Everything is stopped, and the cluster's containers removed, on drop.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use wharf_store::etcd::client::EtcdClient;
use wharf_store::etcd::local::LocalCluster;
use wharf_store::etcd::wire::RangeRequest;

use crate::api::Api;
use crate::procs::Guarded;

/// The leader lease the servers hold: short, so a test sees failovers soon.
pub const LEADER_LEASE_SECS: u64 = 2;

/// One server.
#[derive(Debug)]
pub struct Server {
    /// Its API port.
    pub port: u16,
    /// The process, while it runs.
    pub process: Option<Guarded>,
    dir: PathBuf,
}

/// The rig.
#[derive(Debug)]
pub struct Rig {
    /// The etcd members.
    pub etcd: LocalCluster,
    /// The servers.
    pub servers: Vec<Server>,
    /// The agent.
    pub agent: Option<Guarded>,
    /// The ECS cluster the agent joins (unique to the rig).
    pub cluster: String,
    /// The key prefix in etcd.
    pub prefix: String,
    /// A client of every server.
    pub api: Api,
    bin: PathBuf,
    // Last: removed after everything above is stopped.
    dir: tempfile::TempDir,
}

/// The `wharf` binary: `$WHARF_BIN` (set by scripts/test), else the
/// workspace's debug build.
pub fn wharf_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("WHARF_BIN") {
        return PathBuf::from(bin);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let bin = target.join("debug/wharf");
    assert!(
        bin.exists(),
        "no wharf binary at {} (cargo build -p wharf, or set WHARF_BIN)",
        bin.display()
    );
    bin
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Rig {
    /// Starts etcd, `n` servers and the agent; returns once the agent's
    /// instance is registered.
    pub async fn start(n: usize) -> Rig {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let etcd = LocalCluster::start(&dir.path().join("etcd"), 3)
            .await
            .expect("start etcd (is etcd-server installed?)");
        let suffix: String =
            format!("{:x}", std::process::id() ^ (Instant::now().elapsed().as_nanos() as u32));
        let cluster = format!("ha-{suffix}-{}", free_port());
        let prefix = format!("ha-{}", free_port());
        let servers: Vec<Server> = (0..n)
            .map(|i| Server {
                port: free_port(),
                process: None,
                dir: dir.path().join(format!("s{i}")),
            })
            .collect();
        let endpoints = servers.iter().map(|s| format!("http://127.0.0.1:{}", s.port)).collect();
        let mut rig = Rig {
            etcd,
            servers,
            agent: None,
            cluster,
            prefix,
            api: Api::new(endpoints),
            bin: wharf_bin(),
            dir,
        };
        for i in 0..n {
            rig.start_server(i).await;
        }
        rig.start_agent();
        rig.wait_for_instance().await;
        rig
    }

    /// The servers' endpoints.
    pub fn endpoints(&self) -> Vec<String> {
        self.servers.iter().map(|s| format!("http://127.0.0.1:{}", s.port)).collect()
    }

    /// Where logs go.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Starts (or restarts) server `i` and waits until it answers.
    pub async fn start_server(&mut self, i: usize) {
        let url = self.etcd.store_url(&self.prefix);
        let s = &mut self.servers[i];
        std::fs::create_dir_all(&s.dir).expect("a server directory");
        let args: Vec<String> = [
            "server",
            "--listen",
            &format!("127.0.0.1:{}", s.port),
            "--data-dir",
            &s.dir.display().to_string(),
            "--store",
            &url,
            "--no-agent",
            "--listener-address",
            "127.0.0.1",
            "--leader-lease",
            &format!("{LEADER_LEASE_SECS}s"),
        ]
        .iter()
        .map(|a| a.to_string())
        .collect();
        let log = self.dir.path().join(format!("server{i}.log"));
        let pid = self.dir.path().join(format!("server{i}.pid"));
        s.process = Some(Guarded::spawn(&self.bin, &args, &log, &pid));
        let port = s.port;
        let started = Instant::now();
        let probe = Api::new(vec![format!("http://127.0.0.1:{port}")]);
        while probe.ecs("ListClusters", json!({})).await.is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "server {i} did not start:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn start_agent(&mut self) {
        let args: Vec<String> = [
            "agent",
            "--endpoint",
            &self.endpoints().join(","),
            "--cluster",
            &self.cluster,
            "--metadata-address",
            "off",
            "--state-dir",
            &self.dir.path().join("agent").display().to_string(),
        ]
        .iter()
        .map(|a| a.to_string())
        .collect();
        let log = self.dir.path().join("agent.log");
        let pid = self.dir.path().join("agent.pid");
        self.agent = Some(Guarded::spawn(&self.bin, &args, &log, &pid));
    }

    async fn wait_for_instance(&self) {
        let started = Instant::now();
        loop {
            let listed =
                self.api.ecs("ListContainerInstances", json!({"cluster": self.cluster})).await;
            if listed
                .as_ref()
                .is_ok_and(|v| v["containerInstanceArns"].as_array().is_some_and(|a| !a.is_empty()))
            {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the agent did not register:\n{}",
                std::fs::read_to_string(self.dir.path().join("agent.log")).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The index of the leading server, as etcd's leader key names it.
    pub async fn leader(&self) -> Option<usize> {
        let client = EtcdClient::new(&self.etcd.endpoints());
        let key = format!("{}/s/leader", self.prefix);
        let r = client
            .range(&RangeRequest { key: key.as_str().into(), ..Default::default() })
            .await
            .ok()?;
        let v: Value = serde_json::from_slice(&r.kvs.first()?.value.0).ok()?;
        let name = v["name"].as_str()?.to_owned();
        self.servers.iter().position(|s| name == format!("127.0.0.1:{}", s.port))
    }

    /// Waits until some server leads; its index.
    pub async fn wait_for_leader(&self, not: Option<usize>, within: Duration) -> usize {
        let started = Instant::now();
        loop {
            if let Some(l) = self.leader().await.filter(|l| Some(*l) != not) {
                return l;
            }
            assert!(started.elapsed() < within, "no server leads after {within:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// kill -9 of server `i`.
    pub fn kill_server(&mut self, i: usize) {
        if let Some(mut p) = self.servers[i].process.take() {
            p.kill9();
        }
    }

    /// SIGSTOP of server `i`.
    pub fn pause_server(&self, i: usize) {
        if let Some(p) = &self.servers[i].process {
            p.pause();
        }
    }

    /// SIGCONT of server `i`.
    pub fn resume_server(&self, i: usize) {
        if let Some(p) = &self.servers[i].process {
            p.resume();
        }
    }

    /// The rig's containers as Docker has them: (task ARN, container name, state).
    pub fn containers(&self) -> Vec<(String, String, String)> {
        let out = Command::new("docker")
            .args([
                "ps",
                "-a",
                "--filter",
                &format!("label=com.amazonaws.ecs.cluster={}", self.cluster),
                "--format",
                "{{.Label \"com.amazonaws.ecs.task-arn\"}}|{{.Label \"com.amazonaws.ecs.container-name\"}}|{{.State}}",
            ])
            .output()
            .expect("docker ps");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| {
                let mut p = l.splitn(3, '|');
                Some((p.next()?.to_owned(), p.next()?.to_owned(), p.next()?.to_owned()))
            })
            .collect()
    }

    /// The logs of every process, for a failure message.
    pub fn logs(&self) -> String {
        let mut out = String::new();
        let mut names: Vec<_> = std::fs::read_dir(self.dir.path())
            .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
            .unwrap_or_default();
        names.sort();
        for p in names.into_iter().filter(|p| p.extension().is_some_and(|e| e == "log")) {
            let text = std::fs::read_to_string(&p).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(40).collect();
            out.push_str(&format!("==== {} (last lines)\n", p.display()));
            for l in tail.into_iter().rev() {
                out.push_str(l);
                out.push('\n');
            }
        }
        out
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        if let Some(mut a) = self.agent.take() {
            a.stop(Duration::from_secs(5));
        }
        for s in &mut self.servers {
            if let Some(mut p) = s.process.take() {
                p.stop(Duration::from_secs(5));
            }
        }
        // Only this rig's containers.
        let ids = Command::new("docker")
            .args([
                "ps",
                "-aq",
                "--filter",
                &format!("label=com.amazonaws.ecs.cluster={}", self.cluster),
            ])
            .output()
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .split_whitespace()
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        if !ids.is_empty() {
            // Bounded: Docker 20.10 can hang a removal for good (moby#44300),
            // and a test must end.
            let _ = Command::new("timeout").args(["60", "docker", "rm", "-f"]).args(&ids).output();
        }
    }
}
