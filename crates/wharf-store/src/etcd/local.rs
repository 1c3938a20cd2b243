//! etcd members on loopback ports, for tests and benchmarks: a cluster of
//! `n` members from the `etcd` binary on `PATH` (Debian's `etcd-server`),
//! each with its own data directory, killed when the [`LocalCluster`] is
//! dropped, also when a test fails.
//!
//! Each member runs under a small shell guard that kills it when the
//! process that started it goes away, so a test killed by its runner's
//! timeout leaves no member behind either.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::client::EtcdClient;
use super::wire;

/// One member.
#[derive(Debug)]
struct Member {
    name: String,
    client_port: u16,
    peer_port: u16,
    /// The guard shell.
    guard: Option<Child>,
    /// The etcd process itself.
    pid: Option<u32>,
}

/// A local etcd cluster. Members are killed on drop.
#[derive(Debug)]
pub struct LocalCluster {
    dir: PathBuf,
    members: Vec<Member>,
    token: String,
}

/// Why the cluster could not start.
#[derive(Debug, thiserror::Error)]
pub enum LocalClusterError {
    /// A process could not be started.
    #[error("cannot start etcd: {0}")]
    Spawn(#[from] std::io::Error),
    /// The cluster did not become healthy.
    #[error("etcd did not become ready: {0}")]
    NotReady(String),
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl LocalCluster {
    /// Starts `n` members with data under `dir` and waits until the cluster
    /// answers linearizable reads.
    pub async fn start(dir: &Path, n: usize) -> Result<Self, LocalClusterError> {
        std::fs::create_dir_all(dir)?;
        let mut members = Vec::with_capacity(n);
        for i in 0..n {
            members.push(Member {
                name: format!("m{}", i + 1),
                client_port: free_port()?,
                peer_port: free_port()?,
                guard: None,
                pid: None,
            });
        }
        let token = format!("wharf-{}-{}", std::process::id(), wharf_model::ids::uuid_v4());
        let mut cluster = Self { dir: dir.to_owned(), members, token };
        for i in 0..n {
            cluster.spawn(i, true)?;
        }
        cluster.wait_ready(Duration::from_secs(30)).await?;
        Ok(cluster)
    }

    /// The members' client addresses, `127.0.0.1:port`.
    pub fn endpoints(&self) -> Vec<String> {
        self.members.iter().map(|m| format!("127.0.0.1:{}", m.client_port)).collect()
    }

    /// The `--store` value for this cluster with this key prefix:
    /// `etcd://127.0.0.1:a,127.0.0.1:b,.../prefix`.
    pub fn store_url(&self, prefix: &str) -> String {
        format!("etcd://{}/{}", self.endpoints().join(","), prefix.trim_start_matches('/'))
    }

    fn initial_cluster(&self) -> String {
        self.members
            .iter()
            .map(|m| format!("{}=http://127.0.0.1:{}", m.name, m.peer_port))
            .collect::<Vec<_>>()
            .join(",")
    }

    fn spawn(&mut self, i: usize, new: bool) -> Result<(), LocalClusterError> {
        let initial = self.initial_cluster();
        let m = &self.members[i];
        let data = self.dir.join(&m.name);
        let pid_file = self.dir.join(format!("{}.pid", m.name));
        let _ = std::fs::remove_file(&pid_file);
        let log = std::fs::File::create(self.dir.join(format!("{}.log", m.name)))?;
        let args = [
            "--name".to_owned(),
            m.name.clone(),
            "--data-dir".to_owned(),
            data.display().to_string(),
            "--listen-client-urls".to_owned(),
            format!("http://127.0.0.1:{}", m.client_port),
            "--advertise-client-urls".to_owned(),
            format!("http://127.0.0.1:{}", m.client_port),
            "--listen-peer-urls".to_owned(),
            format!("http://127.0.0.1:{}", m.peer_port),
            "--initial-advertise-peer-urls".to_owned(),
            format!("http://127.0.0.1:{}", m.peer_port),
            "--initial-cluster".to_owned(),
            initial,
            "--initial-cluster-state".to_owned(),
            if new { "new" } else { "existing" }.to_owned(),
            "--initial-cluster-token".to_owned(),
            self.token.clone(),
            "--max-txn-ops".to_owned(),
            "1024".to_owned(),
        ];
        // The guard: starts etcd, records its pid, and kills it when the
        // test process (the guard's parent) is gone.
        let script = r#"
parent=$1; pidfile=$2; shift 2
etcd "$@" &
child=$!
echo "$child" > "$pidfile"
trap 'kill -9 $child 2>/dev/null' EXIT TERM INT
while kill -0 "$parent" 2>/dev/null && kill -0 "$child" 2>/dev/null; do sleep 0.5; done
"#;
        let guard = Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg("wharf-etcd-guard")
            .arg(std::process::id().to_string())
            .arg(&pid_file)
            .args(args)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        let started = Instant::now();
        let pid = loop {
            if let Some(pid) =
                std::fs::read_to_string(&pid_file).ok().and_then(|s| s.trim().parse::<u32>().ok())
            {
                break pid;
            }
            if started.elapsed() > Duration::from_secs(10) {
                return Err(LocalClusterError::NotReady(format!("{} did not start", m.name)));
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let m = &mut self.members[i];
        m.guard = Some(guard);
        m.pid = Some(pid);
        Ok(())
    }

    async fn wait_ready(&self, within: Duration) -> Result<(), LocalClusterError> {
        let client = EtcdClient::new(&self.endpoints());
        let started = Instant::now();
        loop {
            let probe = wire::RangeRequest { key: "health".into(), ..Default::default() };
            match client.range(&probe).await {
                Ok(_) => return Ok(()),
                Err(e) if started.elapsed() > within => {
                    return Err(LocalClusterError::NotReady(e.to_string()))
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    /// Kills member `i` with SIGKILL.
    pub fn kill(&mut self, i: usize) {
        let m = &mut self.members[i];
        if let Some(pid) = m.pid.take() {
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
        }
        if let Some(mut guard) = m.guard.take() {
            let _ = guard.wait();
        }
    }

    /// Starts member `i` again on its data directory after [`Self::kill`].
    pub async fn restart(&mut self, i: usize) -> Result<(), LocalClusterError> {
        self.spawn(i, false)?;
        self.wait_ready(Duration::from_secs(30)).await
    }

    /// The index of the member that leads, as the members see it.
    pub async fn leader(&self) -> Option<usize> {
        let mut ids = Vec::new();
        let mut leader = None;
        for m in &self.members {
            if m.pid.is_none() {
                ids.push(None);
                continue;
            }
            let client = EtcdClient::new(&[format!("127.0.0.1:{}", m.client_port)]);
            let status = client.status().await.ok();
            ids.push(status.as_ref().map(|s| s.header.member_id));
            leader = leader.or(status.map(|s| s.leader).filter(|&l| l != 0));
        }
        let leader = leader?;
        ids.iter().position(|id| *id == Some(leader))
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        for i in 0..self.members.len() {
            self.kill(i);
        }
    }
}
