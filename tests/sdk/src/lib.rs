//! Test harness for exercising `wharf server` with the real Rust AWS SDK (`aws-sdk-ecs`).
//!
//! Each test starts its own server ([`Server::start`]) on a free loopback port with a fresh
//! temporary data directory and `--allow-reset`, and gets SDK clients pointed at it
//! ([`Server::client`], [`Server::client_in`]). The server process is killed when the
//! [`Server`] is dropped, also when the test panics, so no test leaves a process behind.
//!
//! The binary is taken from `WHARF_BIN`, else `<workspace>/target/debug/wharf`. Building it
//! is the caller's job (`cargo build -p wharf`); a missing binary fails the test with a
//! message saying so, it is never skipped.
//!
//! The SDK talks plain HTTP (no TLS stack is compiled in), signs with SigV4 using static test
//! credentials, and never retries, so a server error is seen as it is rather than hidden
//! behind a retry.

use std::fmt::Debug;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::BehaviorVersion;
use aws_sdk_ecs::config::http::HttpResponse;
use aws_sdk_ecs::config::{Credentials, Region};
use aws_sdk_ecs::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

pub use aws_sdk_ecs;

/// The account id the harness starts the server with (Wharf's default).
pub const ACCOUNT_ID: &str = "000000000000";

/// The region used by [`Server::client`].
pub const REGION: &str = "us-east-1";

/// How long to wait for a freshly spawned server to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// A running `wharf server`, killed on drop.
#[derive(Debug)]
pub struct Server {
    child: Option<Child>,
    addr: SocketAddr,
    data_dir: tempfile::TempDir,
    log_path: PathBuf,
    allow_reset: bool,
    extra_args: Vec<String>,
}

/// Where the `wharf` binary is: `WHARF_BIN`, else `<workspace>/target/debug/wharf`.
pub fn wharf_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("WHARF_BIN") {
        return PathBuf::from(bin);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/debug/wharf")
}

impl Server {
    /// Starts a server with `--allow-reset` on a free port and a new temporary data directory.
    pub fn start() -> Server {
        Self::start_with(true)
    }

    /// Starts a server, with or without `--allow-reset`.
    pub fn start_with(allow_reset: bool) -> Server {
        Self::start_with_args(allow_reset, &[])
    }

    /// Starts a server, with or without `--allow-reset`, passing `args` (such as
    /// `["--cluster", "name"]`) after the harness's own arguments, on this start and on every
    /// restart.
    pub fn start_with_args(allow_reset: bool, args: &[&str]) -> Server {
        let data_dir = tempfile::Builder::new()
            .prefix("wharf-sdk-test-")
            .tempdir()
            .expect("create a temporary data directory");
        let log_path = data_dir.path().join("server.log");
        let mut server = Server {
            child: None,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir,
            log_path,
            allow_reset,
            extra_args: args.iter().map(|a| (*a).to_owned()).collect(),
        };
        server.spawn().unwrap_or_else(|e| panic!("{e:#}"));
        server
    }

    /// Kills the server with SIGKILL (no clean shutdown) and starts it again on the same data
    /// directory and port: what was acknowledged before must still be there.
    pub fn kill_and_restart(&mut self) {
        self.kill();
        self.spawn().unwrap_or_else(|e| panic!("{e:#}"));
    }

    /// Kills the server with SIGKILL and leaves it down (containers its embedded agent
    /// started keep running) until [`Server::restart`].
    pub fn sigkill(&mut self) {
        self.kill();
    }

    /// Starts the server again on the same data directory and port, after
    /// [`Server::sigkill`]. Panics if it is still running.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "restart: the server is still running");
        self.spawn().unwrap_or_else(|e| panic!("{e:#}"));
    }

    /// The `http://127.0.0.1:PORT` endpoint URL.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The socket address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The server's data directory.
    pub fn data_dir(&self) -> &Path {
        self.data_dir.path()
    }

    /// What the server wrote to stdout and stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// An ECS client for [`REGION`].
    pub async fn client(&self) -> aws_sdk_ecs::Client {
        self.client_in(REGION).await
    }

    /// An ECS client for `region`; requests are SigV4-signed with that region in the scope.
    pub async fn client_in(&self, region: &str) -> aws_sdk_ecs::Client {
        let config = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(region.to_owned()))
            .credentials_provider(Credentials::new("test", "test", None, None, "wharf-tests"))
            .endpoint_url(self.endpoint())
            .http_client(aws_smithy_http_client::Builder::new().build_http())
            .retry_config(RetryConfig::disabled())
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(5))
                    .operation_timeout(Duration::from_secs(30))
                    .build(),
            )
            .load()
            .await;
        aws_sdk_ecs::Client::new(&config)
    }

    /// Sends a raw HTTP/1.1 request and returns the status code and body.
    pub fn raw_request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> anyhow::Result<(u16, String)> {
        let mut stream = TcpStream::connect_timeout(&self.addr, Duration::from_secs(5))?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
            self.addr,
            body.len()
        );
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        stream.write_all(request.as_bytes())?;
        stream.write_all(body)?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response)?;
        let text = String::from_utf8_lossy(&response).into_owned();
        let status = text
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse::<u16>().ok())
            .with_context(|| format!("no status line in response {text:?}"))?;
        let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
        Ok((status, body))
    }

    /// Sends an AWS JSON 1.1 request (`X-Amz-Target: <target>`, unsigned, so in `us-east-1`)
    /// and returns the HTTP status and the parsed JSON body (`null` when the body is empty).
    pub fn json_request(
        &self,
        target: &str,
        body: &serde_json::Value,
    ) -> anyhow::Result<(u16, serde_json::Value)> {
        let (status, text) = self.raw_request(
            "POST",
            "/",
            &[("X-Amz-Target", target), ("Content-Type", "application/x-amz-json-1.1")],
            body.to_string().as_bytes(),
        )?;
        let value = if text.trim().is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_str(&text).with_context(|| format!("{target}: body {text:?}"))?
        };
        Ok((status, value))
    }

    /// Calls SSM Parameter Store operation `op` (such as `PutParameter`) and returns the
    /// answer; panics unless the server answers 2xx.
    pub fn ssm(&self, op: &str, body: serde_json::Value) -> serde_json::Value {
        self.json_ok(&format!("AmazonSSM.{op}"), &body)
    }

    /// Calls Secrets Manager operation `op` (such as `CreateSecret`) and returns the answer;
    /// panics unless the server answers 2xx.
    pub fn secretsmanager(&self, op: &str, body: serde_json::Value) -> serde_json::Value {
        self.json_ok(&format!("secretsmanager.{op}"), &body)
    }

    fn json_ok(&self, target: &str, body: &serde_json::Value) -> serde_json::Value {
        let (status, value) =
            self.json_request(target, body).unwrap_or_else(|e| panic!("{target}: {e:#}"));
        assert!((200..300).contains(&status), "{target} answered {status}: {value}");
        value
    }

    /// `POST /_wharf/reset`: wipes all state. Panics unless the server answers 2xx.
    pub fn reset(&self) {
        let (status, body) =
            self.raw_request("POST", "/_wharf/reset", &[], b"").expect("reset request");
        assert!((200..300).contains(&status), "reset answered {status}: {body}");
    }

    fn spawn(&mut self) -> anyhow::Result<()> {
        let bin = wharf_bin();
        if !bin.is_file() {
            bail!(
                "the wharf binary is not at {} — build it first (`cargo build -p wharf`) or set \
                 WHARF_BIN",
                bin.display()
            );
        }
        // Reuse the port on a restart; pick a fresh one otherwise. A port picked this way can
        // in principle be taken by someone else before the server binds it, so a server that
        // exits at once is given a few more ports.
        let keep_port = self.addr.port() != 0;
        let mut last_error = None;
        for _ in 0..if keep_port { 1 } else { 5 } {
            if !keep_port {
                self.addr = free_port()?;
            }
            match self.try_spawn(&bin) {
                Ok(child) => {
                    self.child = Some(child);
                    return Ok(());
                }
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.expect("at least one attempt"))
    }

    fn try_spawn(&self, bin: &Path) -> anyhow::Result<Child> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .context("open the server log")?;
        let mut command = Command::new(bin);
        command
            .arg("server")
            .arg("--listen")
            .arg(self.addr.to_string())
            .arg("--data-dir")
            .arg(self.data_dir.path().join("data"))
            .arg("--account-id")
            .arg(ACCOUNT_ID)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        if self.allow_reset {
            command.arg("--allow-reset");
        }
        command.args(&self.extra_args);
        let mut child =
            command.spawn().with_context(|| format!("spawn {} server", bin.display()))?;
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = child.try_wait()? {
                bail!(
                    "wharf server exited with {status} before accepting connections on {}; its \
                     output:\n{}",
                    self.addr,
                    self.log()
                );
            }
            if TcpStream::connect_timeout(&self.addr, Duration::from_millis(200)).is_ok() {
                return Ok(child);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                bail!(
                    "wharf server did not accept connections on {} within {START_TIMEOUT:?}; its \
                     output:\n{}",
                    self.addr,
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!("--- wharf server output ({}) ---\n{}", self.addr, self.log());
        }
    }
}

fn free_port() -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").context("bind a free port")?;
    Ok(listener.local_addr()?)
}

/// An ECS error as the client saw it: the `__type` code, message and HTTP status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceError {
    /// The error code, such as `ClientException`.
    pub code: String,
    /// The error message.
    pub message: String,
    /// The HTTP status code.
    pub status: u16,
}

/// Expects `result` to be an ECS service error and returns it; panics on success or on a
/// transport, timeout or parse failure.
pub fn service_error<T, E>(result: Result<T, SdkError<E, HttpResponse>>) -> ServiceError
where
    T: Debug,
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match result {
        Ok(value) => panic!("expected an error, got {value:?}"),
        Err(SdkError::ServiceError(context)) => {
            let status = context.raw().status().as_u16();
            let err = context.err();
            ServiceError {
                code: err.code().unwrap_or_default().to_owned(),
                message: err.message().unwrap_or_default().to_owned(),
                status,
            }
        }
        Err(other) => panic!("expected a service error, got {}", DisplayErrorContext(&other)),
    }
}

/// Expects `result` to be an error with code `code` and HTTP status 400, returns its message.
pub fn expect_error<T, E>(code: &str, result: Result<T, SdkError<E, HttpResponse>>) -> String
where
    T: Debug,
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let err = service_error(result);
    assert_eq!(err.code, code, "unexpected error code: {err:?}");
    assert_eq!(err.status, 400, "client errors are HTTP 400: {err:?}");
    assert!(!err.message.is_empty(), "the error has no message: {err:?}");
    err.message
}

/// Unwraps an SDK result, panicking with the full error chain (code and message included).
pub fn ok<T, E>(result: Result<T, SdkError<E, HttpResponse>>) -> T
where
    E: std::error::Error + 'static,
{
    match result {
        Ok(value) => value,
        Err(err) => panic!("request failed: {}", DisplayErrorContext(&err)),
    }
}

/// The ARN ECS gives a cluster in [`REGION`] and [`ACCOUNT_ID`].
pub fn cluster_arn(name: &str) -> String {
    format!("arn:aws:ecs:{REGION}:{ACCOUNT_ID}:cluster/{name}")
}

/// The ARN ECS gives a task definition revision in [`REGION`] and [`ACCOUNT_ID`].
pub fn task_definition_arn(family: &str, revision: i32) -> String {
    format!("arn:aws:ecs:{REGION}:{ACCOUNT_ID}:task-definition/{family}:{revision}")
}

/// The ARN ECS gives a capacity provider in [`REGION`] and [`ACCOUNT_ID`].
pub fn capacity_provider_arn(name: &str) -> String {
    format!("arn:aws:ecs:{REGION}:{ACCOUNT_ID}:capacity-provider/{name}")
}

/// How often [`wait_for_task`] asks DescribeTasks.
const TASK_POLL: Duration = Duration::from_millis(50);

/// Polls DescribeTasks for `arn` (in `cluster`, or the default cluster) every 50 ms until
/// `predicate` holds for the task, and returns that task. Panics after `timeout`, naming
/// `what` and showing the task as last described.
pub async fn wait_for_task(
    client: &aws_sdk_ecs::Client,
    cluster: Option<&str>,
    arn: &str,
    what: &str,
    timeout: Duration,
    predicate: impl Fn(&aws_sdk_ecs::types::Task) -> bool,
) -> aws_sdk_ecs::types::Task {
    let deadline = Instant::now() + timeout;
    loop {
        let described = ok(client
            .describe_tasks()
            .set_cluster(cluster.map(str::to_owned))
            .tasks(arn)
            .send()
            .await);
        let task = described.tasks().first().cloned();
        if let Some(task) = &task {
            if predicate(task) {
                return task.clone();
            }
        }
        if Instant::now() > deadline {
            panic!(
                "timed out after {timeout:?} waiting for task {arn} to be {what}; last seen: \
                 {task:#?}; failures: {:?}",
                described.failures()
            );
        }
        tokio::time::sleep(TASK_POLL).await;
    }
}

/// The label the agent puts on every container of a task: its task ARN.
pub const LABEL_TASK_ARN: &str = "com.amazonaws.ecs.task-arn";

/// The label the agent puts on every container of a task: its cluster's short name.
pub const LABEL_CLUSTER: &str = "com.amazonaws.ecs.cluster";

/// Runs the `docker` CLI with `args` and returns its output; panics if it cannot be run.
pub fn docker(args: &[&str]) -> std::process::Output {
    Command::new("docker")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run `docker {}`: {e}", args.join(" ")))
}

/// Runs `docker args...` and returns its trimmed stdout; panics unless it exits 0.
pub fn docker_ok(args: &[&str]) -> String {
    let out = docker(args);
    assert!(
        out.status.success(),
        "`docker {}` failed ({}): {}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Panics, loudly, unless a Docker Engine answers (`docker info`). Tests that need Docker
/// call this first: they fail when it is missing, they are never skipped.
pub fn require_docker() {
    let out = docker(&["info", "--format", "{{.ServerVersion}}"]);
    assert!(
        out.status.success(),
        "Docker Engine is not reachable (run scripts/docker-up as root): {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// IDs of the containers, running or not, that carry label `key=value`.
pub fn containers_labelled(key: &str, value: &str) -> Vec<String> {
    docker_ok(&["ps", "-aq", "--no-trunc", "--filter", &format!("label={key}={value}")])
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Removes (`docker rm -f -v`) every container that carries label `key=value`; errors are
/// ignored, as this runs in cleanup code.
pub fn remove_containers_labelled(key: &str, value: &str) {
    let Ok(out) = Command::new("docker")
        .args(["ps", "-aq", "--filter", &format!("label={key}={value}")])
        .stdin(Stdio::null())
        .output()
    else {
        return;
    };
    let ids: Vec<String> =
        String::from_utf8_lossy(&out.stdout).split_whitespace().map(str::to_owned).collect();
    if !ids.is_empty() {
        let _ = Command::new("docker")
            .args(["rm", "-f", "-v"])
            .args(&ids)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}
