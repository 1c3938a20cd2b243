//! The harness the `aws` CLI tests share: a `wharf server` on a free port with a
//! temporary data directory, and the real `aws` CLI pointed at it with test credentials.
//! The CLI is required: when it is missing a test fails saying how to install it.
#![allow(dead_code)]

pub mod hosts;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A `wharf server` on a free port with a temporary data directory; killed on drop.
pub struct Server {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    dir: tempfile::TempDir,
    args: Vec<String>,
    env: Vec<(String, String)>,
}

impl Server {
    /// Starts a server with its embedded agent and `--allow-reset`.
    pub fn start() -> Server {
        Self::start_with(&["--allow-reset"])
    }

    /// Starts a server with extra arguments.
    pub fn start_with(extra: &[&str]) -> Server {
        Self::start_with_env(extra, &[])
    }

    /// Starts a server with extra arguments and environment variables. Its
    /// DNS resolver for containers is off unless `extra` names a
    /// `--dns-address` (servers of the suite would share ECS's address).
    pub fn start_with_env(extra: &[&str], env: &[(&str, &str)]) -> Server {
        Self::start_at(std::net::Ipv4Addr::LOCALHOST, extra, env)
    }

    /// Starts a server listening on a free port of `ip` (a test rig's
    /// gateway, say), with extra arguments and environment variables.
    pub fn start_at(ip: std::net::Ipv4Addr, extra: &[&str], env: &[(&str, &str)]) -> Server {
        let dir = tempfile::tempdir().expect("temporary directory");
        let addr = TcpListener::bind((ip, 0)).and_then(|l| l.local_addr()).expect("port");
        let mut args: Vec<String> = extra.iter().map(|a| (*a).to_owned()).collect();
        if !extra.contains(&"--dns-address") {
            args.extend(["--dns-address".to_owned(), "off".to_owned()]);
        }
        let env: Vec<(String, String)> =
            env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        let child = Self::spawn(addr, dir.path(), &args, &env);
        Server { child, addr, dir, args, env }
    }

    fn spawn(addr: SocketAddr, dir: &Path, args: &[String], env: &[(String, String)]) -> Child {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("server.log"))
            .expect("log file");
        let mut child = Command::new(env!("CARGO_BIN_EXE_wharf"))
            .arg("server")
            .arg("--listen")
            .arg(addr.to_string())
            .arg("--data-dir")
            .arg(dir.join("data"))
            .args(args)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("spawn wharf server");
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("wharf server exited with {status}:\n{}", read_log(dir));
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("wharf server is not listening on {addr}:\n{}", read_log(dir));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        child
    }

    /// Kills the server (SIGKILL): an outage, until [`Server::start_again`].
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts it again on the same address and data directory.
    pub fn start_again(&mut self) {
        self.kill();
        self.child = Self::spawn(self.addr, self.dir.path(), &self.args, &self.env);
    }

    /// `http://<addr>`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// What the server has written to stdout and stderr so far.
    pub fn log(&self) -> String {
        read_log(self.dir.path())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("--- wharf server log ---\n{}", read_log(self.dir.path()));
        }
    }
}

fn read_log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("server.log")).unwrap_or_default()
}

/// Runs `aws --endpoint-url <server> <service> <args>` with test credentials and nothing
/// from the user's own AWS configuration.
pub struct Aws<'a> {
    server: &'a Server,
    service: &'static str,
    home: tempfile::TempDir,
    program: String,
}

/// AWS CLI version 2, for the commands version 1 lacks (`aws logs tail`): Debian's
/// `awscli` package, or `WHARF_AWS_V2`. `scripts/test` installs it.
pub fn aws_v2_program() -> String {
    std::env::var("WHARF_AWS_V2").unwrap_or_else(|_| "/usr/bin/aws".to_owned())
}

impl<'a> Aws<'a> {
    /// A CLI for `service` (`ecs`, `ssm`, ...); fails the test if `aws` is missing.
    pub fn new(server: &'a Server, service: &'static str) -> Aws<'a> {
        Self::with_program(server, service, "aws")
    }

    /// AWS CLI version 2 ([`aws_v2_program`]) for `service`; fails the test if it is
    /// missing or is not version 2.
    pub fn v2(server: &'a Server, service: &'static str) -> Aws<'a> {
        let program = aws_v2_program();
        let aws = Self::with_program(server, service, &program);
        let version = Command::new(&program).arg("--version").output().expect("aws --version");
        let text = String::from_utf8_lossy(&version.stdout).into_owned()
            + &String::from_utf8_lossy(&version.stderr);
        assert!(
            text.starts_with("aws-cli/2."),
            "{program} is not AWS CLI version 2 ({text}); install Debian's `awscli` package \
             (scripts/test does) or set WHARF_AWS_V2"
        );
        aws
    }

    fn with_program(server: &'a Server, service: &'static str, program: &str) -> Aws<'a> {
        match Command::new(program).arg("--version").output() {
            Ok(out) if out.status.success() => {}
            Ok(out) => panic!(
                "`aws --version` failed ({}): {}{} — install the AWS CLI with `pip install awscli`",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
            Err(e) => panic!(
                "the `aws` CLI is not installed or not on PATH ({e}); install it with \
                 `pip install awscli`"
            ),
        }
        Aws {
            server,
            service,
            home: tempfile::tempdir().expect("temporary home"),
            program: program.to_owned(),
        }
    }

    /// Runs the command.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run aws")
    }

    /// Starts the command (a `--follow`, say) with its stdout piped; the caller kills it.
    pub fn spawn(&self, args: &[&str]) -> Child {
        self.command(args).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().expect("spawn aws")
    }

    /// The command, ready to run or spawn.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.program);
        for var in ["AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_REGION", "AWS_ENDPOINT_URL"] {
            command.env_remove(var);
        }
        command
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_PAGER", "")
            .env("AWS_CONFIG_FILE", self.home.path().join("config"))
            .env("AWS_SHARED_CREDENTIALS_FILE", self.home.path().join("credentials"))
            .env("AWS_MAX_ATTEMPTS", "1")
            .arg("--endpoint-url")
            .arg(format!("http://{}", self.server.addr))
            .arg("--output")
            .arg("json")
            .arg(self.service)
            .args(args)
            .stdin(Stdio::null());
        command
    }

    /// Runs and expects success; returns the parsed JSON output (`null` when empty).
    pub fn ok(&self, args: &[&str]) -> Value {
        let stdout = self.ok_text(args);
        if stdout.trim().is_empty() {
            return Value::Null;
        }
        serde_json::from_str(&stdout).unwrap_or_else(|e| {
            panic!("aws {} {}: output is not JSON ({e}): {stdout}", self.service, args[0])
        })
    }

    /// Runs and expects success; returns stdout as text (for commands that print no JSON).
    pub fn ok_text(&self, args: &[&str]) -> String {
        let out = self.run(args);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "aws {} {} failed with {}:\n{}{}",
            self.service,
            args.join(" "),
            out.status,
            stdout,
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }

    /// Creates an HTTP:80 target group of `target_type` targets whose health
    /// checks run every 5 s (2 s timeout) and pass after two, so tests see
    /// targets turn healthy quickly; with `drain_seconds` as its
    /// deregistration delay when given. Its ARN.
    pub fn quick_target_group(
        &self,
        name: &str,
        target_type: &str,
        drain_seconds: Option<u32>,
    ) -> String {
        let created = self.ok(&[
            "create-target-group",
            "--name",
            name,
            "--protocol",
            "HTTP",
            "--port",
            "80",
            "--target-type",
            target_type,
            "--vpc-id",
            "vpc-1",
            "--health-check-interval-seconds",
            "5",
            "--health-check-timeout-seconds",
            "2",
            "--healthy-threshold-count",
            "2",
        ]);
        let arn = created["TargetGroups"][0]["TargetGroupArn"]
            .as_str()
            .expect("target group ARN")
            .to_owned();
        if let Some(seconds) = drain_seconds {
            self.ok(&[
                "modify-target-group-attributes",
                "--target-group-arn",
                &arn,
                "--attributes",
                &format!("Key=deregistration_delay.timeout_seconds,Value={seconds}"),
            ]);
        }
        arn
    }

    /// Creates a load balancer `name` with an HTTP listener on `port` whose
    /// default action forwards to `target_group_arn`: their ARNs.
    pub fn forwarding_listener(
        &self,
        name: &str,
        port: u16,
        target_group_arn: &str,
    ) -> (String, String) {
        let lb =
            self.ok(&["create-load-balancer", "--name", name, "--subnets", "subnet-1", "subnet-2"]);
        let lb_arn = lb["LoadBalancers"][0]["LoadBalancerArn"].as_str().expect("LB ARN").to_owned();
        let listener = self.ok(&[
            "create-listener",
            "--load-balancer-arn",
            &lb_arn,
            "--protocol",
            "HTTP",
            "--port",
            &port.to_string(),
            "--default-actions",
            &format!("Type=forward,TargetGroupArn={target_group_arn}"),
        ]);
        let listener_arn =
            listener["Listeners"][0]["ListenerArn"].as_str().expect("listener ARN").to_owned();
        (lb_arn, listener_arn)
    }

    /// Runs and expects failure; returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            !out.status.success(),
            "aws {} {} succeeded but should have failed:\n{}",
            self.service,
            args.join(" "),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }
}

/// Removes a task's containers (by the ECS task ARN label) when dropped, also
/// when the test fails, so no test leaves containers on the engine.
pub struct TaskContainers(pub String);

impl Drop for TaskContainers {
    fn drop(&mut self) {
        let _ = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "docker ps -aq --filter label=com.amazonaws.ecs.task-arn={} | xargs -r docker rm -f -v",
                self.0
            ))
            .output();
    }
}

/// Removes every container of a cluster (by the ECS agent's cluster label)
/// when dropped: for a test whose server's agent joins a cluster of its own,
/// dropped after the server so nothing replaces what it removes.
pub struct ClusterContainers(pub String);

impl Drop for ClusterContainers {
    fn drop(&mut self) {
        let remove = || {
            Command::new("sh")
                .arg("-c")
                // Bounded: Docker 20.10 can hang a removal for good (moby#44300).
                .arg(format!(
                    "docker ps -aq --filter label=com.amazonaws.ecs.cluster={} | xargs -r timeout 60 docker rm -f -v",
                    self.0
                ))
                .output()
        };
        let _ = remove();
        // A create or start the killed agent had asked for still completes in
        // the engine: sweep once more after.
        std::thread::sleep(Duration::from_millis(1000));
        let _ = remove();
    }
}

/// The image the Docker tests run (`scripts/docker-up` builds it).
pub const TEST_IMAGE: &str = "wharf-test/busybox:1";

/// A `wharf server` whose embedded agent joins `cluster`, a cluster of the
/// test's own; the cluster's containers are removed when it is dropped,
/// after the server is killed, so nothing replaces them.
pub struct ClusterServer {
    /// The server.
    pub server: Server,
    /// The cluster its agent joined.
    pub cluster: String,
    _containers: ClusterContainers,
}

impl ClusterServer {
    /// Starts the server with `extra` arguments besides `--cluster`, once
    /// Docker answers and has the test image (else the test fails saying how
    /// to get them).
    pub fn launch(cluster: String, extra: &[&str]) -> ClusterServer {
        let image = Command::new("docker").args(["image", "inspect", TEST_IMAGE]).output();
        assert!(
            image.map(|o| o.status.success()).unwrap_or(false),
            "Docker is not reachable or the test image {TEST_IMAGE} is missing; run scripts/docker-up"
        );
        let mut args = extra.to_vec();
        args.extend(["--cluster", &cluster]);
        let server = Server::start_with(&args);
        ClusterServer { server, _containers: ClusterContainers(cluster.clone()), cluster }
    }
}
