//! A server with `--credentials`, driven by the real `aws` CLI: SigV4 is
//! verified on the JSON and Query protocols, each fault gets AWS's error,
//! policies decide (explicit deny, conditions, `iam:PassRole`), and STS's
//! temporary credentials work with the assumed role's policies. Without
//! credentials a server refuses to listen beyond loopback.

mod support;

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use serde_json::{json, Value};
use support::Server;

const ALICE: (&str, &str) = ("AKIAALICE000000000001", "alice/secret/key/0000000000000000000001");
const CI: (&str, &str) = ("AKIACI00000000000001", "ci/secret/key/000000000000000000000001");

fn credentials_file() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/credentials.json")
}

fn server() -> Server {
    let file = credentials_file();
    Server::start_with(&["--no-agent", "--credentials", file.to_str().unwrap()])
}

/// `aws` with the given keys (and session token), nothing from the user's configuration.
fn aws(server: &Server, keys: (&str, &str), token: Option<&str>, args: &[&str]) -> Output {
    let home = tempfile::tempdir().unwrap();
    let mut c = Command::new("aws");
    for var in [
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_REGION",
        "AWS_ENDPOINT_URL",
        "AWS_SESSION_TOKEN",
    ] {
        c.env_remove(var);
    }
    c.env("AWS_ACCESS_KEY_ID", keys.0)
        .env("AWS_SECRET_ACCESS_KEY", keys.1)
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", home.path().join("config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", home.path().join("credentials"))
        .env("AWS_MAX_ATTEMPTS", "1")
        .env("AWS_PAGER", "");
    if let Some(t) = token {
        c.env("AWS_SESSION_TOKEN", t);
    }
    c.arg("--endpoint-url").arg(server.endpoint()).arg("--output").arg("json").args(args);
    c.stdin(Stdio::null()).output().expect("run aws (pip install awscli)")
}

fn ok(out: Output) -> Value {
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "aws failed: {text}{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// The CLI's error line for a refused call.
fn refused(out: Output) -> String {
    assert!(!out.status.success(), "expected a refusal: {}", String::from_utf8_lossy(&out.stdout));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn signed_requests_are_verified_and_faults_get_aws_errors() {
    let s = server();
    let clusters = ok(aws(&s, ALICE, None, &["ecs", "list-clusters"]));
    assert!(clusters["clusterArns"].is_array());
    // A key the server does not know.
    let e = refused(aws(
        &s,
        ("AKIANOBODY0000000001", "whatever/secret/0000000000000000"),
        None,
        &["ecs", "list-clusters"],
    ));
    assert!(
        e.contains("(UnrecognizedClientException)")
            && e.contains("The security token included in the request is invalid."),
        "{e}"
    );
    // The right key with the wrong secret.
    let e = refused(aws(
        &s,
        (ALICE.0, "not/alice/secret/00000000000000000000"),
        None,
        &["ecs", "list-clusters"],
    ));
    assert!(
        e.contains("(InvalidSignatureException)")
            && e.contains("The request signature we calculated does not match"),
        "{e}"
    );
    assert!(!e.contains(ALICE.1), "the secret leaked: {e}");
    // No signature at all.
    let e = refused(aws(&s, ALICE, None, &["--no-sign-request", "ecs", "list-clusters"]));
    assert!(e.contains("(MissingAuthenticationTokenException)"), "{e}");
    // The Query protocol (ELBv2) speaks its own codes.
    let e = refused(aws(
        &s,
        ("AKIANOBODY0000000001", "whatever/secret/0000000000000000"),
        None,
        &["elbv2", "describe-load-balancers"],
    ));
    assert!(e.contains("(InvalidClientTokenId)"), "{e}");
    let e =
        refused(aws(&s, ALICE, None, &["--no-sign-request", "elbv2", "describe-load-balancers"]));
    assert!(e.contains("(MissingAuthenticationToken)"), "{e}");
    // The other JSON services too.
    let e = refused(aws(
        &s,
        (ALICE.0, "not/alice/secret/00000000000000000000"),
        None,
        &["logs", "describe-log-groups"],
    ));
    assert!(e.contains("(InvalidSignatureException)"), "{e}");
    ok(aws(&s, ALICE, None, &["logs", "describe-log-groups"]));
    // The signed region is the request's region.
    let created = ok(aws(
        &s,
        ALICE,
        None,
        &["--region", "eu-west-3", "ecs", "create-cluster", "--cluster-name", "paris"],
    ));
    assert!(created["cluster"]["clusterArn"].as_str().unwrap().contains(":eu-west-3:"));
}

#[test]
fn a_signature_outside_fifteen_minutes_is_expired() {
    let s = server();
    // A request signed 20 minutes ago by botocore itself, replayed now.
    let script = r#"
import sys, datetime, urllib.request
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
import botocore.auth
url, key, secret = sys.argv[1:4]
req = AWSRequest(method="POST", url=url + "/", data=b"{}", headers={
    "Content-Type": "application/x-amz-json-1.1",
    "X-Amz-Target": "AmazonEC2ContainerServiceV20141113.ListClusters"})
real = datetime.datetime
class Past(real):
    @classmethod
    def utcnow(cls):
        return real.utcnow() - datetime.timedelta(minutes=20)
    @classmethod
    def now(cls, tz=None):
        return real.now(tz) - datetime.timedelta(minutes=20)
botocore.auth.datetime.datetime = Past
SigV4Auth(Credentials(key, secret), "ecs", "us-east-1").add_auth(req)
r = urllib.request.Request(url + "/", data=b"{}", headers=dict(req.headers.items()), method="POST")
try:
    urllib.request.urlopen(r)
    print("accepted")
except urllib.error.HTTPError as e:
    print(e.code, e.read().decode())
"#;
    let out = Command::new("python3")
        .args(["-c", script, &s.endpoint(), ALICE.0, ALICE.1])
        .output()
        .expect("python3");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("400 "), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        text.contains("InvalidSignatureException") && text.contains("Signature expired"),
        "{text}"
    );
}

#[test]
fn policies_decide_with_iam_s_words() {
    let s = server();
    ok(aws(&s, ALICE, None, &["ecs", "create-cluster", "--cluster-name", "prod"]));
    // Alice's explicit deny wins over her ecs:*.
    let e = refused(aws(&s, ALICE, None, &["ecs", "delete-cluster", "--cluster", "prod"]));
    assert!(e.contains("(AccessDeniedException)"), "{e}");
    assert!(e.contains("User: arn:aws:iam::000000000000:user/alice is not authorized to perform: ecs:DeleteCluster on resource: arn:aws:ecs:us-east-1:000000000000:cluster/prod with an explicit deny in an identity-based policy"), "{e}");
    // Nothing allows CI to create clusters: the implicit deny.
    let e = refused(aws(&s, CI, None, &["ecs", "create-cluster", "--cluster-name", "x"]));
    assert!(
        e.contains("because no identity-based policy allows the ecs:CreateCluster action"),
        "{e}"
    );
    ok(aws(&s, CI, None, &["ecs", "describe-clusters", "--clusters", "prod"]));
    // iam:PassRole: alice may pass role/app, not role/other.
    let td = |role: &str| {
        format!(
            r#"{{"family":"web","taskRoleArn":"arn:aws:iam::000000000000:role/{role}","containerDefinitions":[{{"name":"web","image":"busybox","memory":32}}]}}"#
        )
    };
    ok(aws(&s, ALICE, None, &["ecs", "register-task-definition", "--cli-input-json", &td("app")]));
    let e = refused(aws(
        &s,
        ALICE,
        None,
        &["ecs", "register-task-definition", "--cli-input-json", &td("other")],
    ));
    assert!(e.contains("is not authorized to perform: iam:PassRole on resource: arn:aws:iam::000000000000:role/other"), "{e}");
    // The ecs:cluster condition: CI may run tasks in cluster ci only.
    let e = refused(aws(
        &s,
        CI,
        None,
        &["ecs", "run-task", "--cluster", "prod", "--task-definition", "web"],
    ));
    assert!(
        e.contains(
            "ecs:RunTask on resource: arn:aws:ecs:us-east-1:000000000000:task-definition/web:1"
        ),
        "{e}"
    );
    // ELBv2 through the Query protocol: AccessDenied.
    let e = refused(aws(&s, CI, None, &["elbv2", "describe-load-balancers"]));
    assert!(
        e.contains("(AccessDenied)") && e.contains("elasticloadbalancing:DescribeLoadBalancers"),
        "{e}"
    );
}

#[test]
fn sts_assume_role_credentials_carry_the_role_s_policies() {
    let s = server();
    let me = ok(aws(&s, ALICE, None, &["sts", "get-caller-identity"]));
    assert_eq!(me["Arn"], "arn:aws:iam::000000000000:user/alice");
    assert_eq!(me["Account"], "000000000000");
    // CI is not trusted by role/app.
    let e = refused(aws(
        &s,
        CI,
        None,
        &[
            "sts",
            "assume-role",
            "--role-arn",
            "arn:aws:iam::000000000000:role/app",
            "--role-session-name",
            "x1",
        ],
    ));
    assert!(e.contains("(AccessDenied)") && e.contains("sts:AssumeRole"), "{e}");
    let assumed = ok(aws(
        &s,
        ALICE,
        None,
        &[
            "sts",
            "assume-role",
            "--role-arn",
            "arn:aws:iam::000000000000:role/app",
            "--role-session-name",
            "deploy-1",
        ],
    ));
    let c = &assumed["Credentials"];
    let keys = (c["AccessKeyId"].as_str().unwrap(), c["SecretAccessKey"].as_str().unwrap());
    let token = c["SessionToken"].as_str().unwrap();
    assert!(keys.0.starts_with("ASIA"));
    assert_eq!(
        assumed["AssumedRoleUser"]["Arn"],
        "arn:aws:sts::000000000000:assumed-role/app/deploy-1"
    );
    let who = ok(aws(&s, keys, Some(token), &["sts", "get-caller-identity"]));
    assert_eq!(who["Arn"], "arn:aws:sts::000000000000:assumed-role/app/deploy-1");
    ok(aws(&s, keys, Some(token), &["ecs", "list-clusters"]));
    let e =
        refused(aws(&s, keys, Some(token), &["ecs", "create-cluster", "--cluster-name", "nope"]));
    assert!(e.contains("User: arn:aws:sts::000000000000:assumed-role/app/deploy-1 is not authorized to perform: ecs:CreateCluster"), "{e}");
    // Without the session token, the temporary key is unknown.
    let e = refused(aws(&s, keys, None, &["ecs", "list-clusters"]));
    assert!(e.contains("(UnrecognizedClientException)"), "{e}");
}

#[test]
fn beyond_loopback_a_server_needs_credentials_or_says_it_is_insecure() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_wharf"))
        .args(["server", "--no-agent", "--listen", "0.0.0.0:0", "--data-dir"])
        .arg(dir.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not a loopback address")
            && err.contains("--credentials")
            && err.contains("--insecure-no-auth"),
        "{err}"
    );
}

const AGENT_PROD: (&str, &str) = ("AKIAAGENTPROD0000001", "agent/prod/secret/00000000000000000001");

/// `wharf agent` for `cluster`, signing with `keys`; killed on drop.
struct Agent(std::process::Child, tempfile::TempDir);

impl Agent {
    fn start(s: &Server, keys: (&str, &str), cluster: &str) -> Agent {
        let dir = tempfile::tempdir().unwrap();
        let log = std::fs::File::create(dir.path().join("agent.log")).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_wharf"))
            .args(["agent", "--endpoint", &s.endpoint(), "--cluster", cluster])
            .args(["--metadata-address", "off", "--state-dir"])
            .arg(dir.path().join("state"))
            .env("AWS_ACCESS_KEY_ID", keys.0)
            .env("AWS_SECRET_ACCESS_KEY", keys.1)
            .env_remove("AWS_SESSION_TOKEN")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        Agent(child, dir)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.1.path().join("agent.log")).unwrap_or_default()
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        if std::thread::panicking() {
            eprintln!("--- agent log ---\n{}", self.log());
        }
    }
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !f() {
        assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[test]
fn agents_sign_with_their_own_keys_and_serve_only_their_cluster() {
    let docker = Command::new("docker").arg("info").output();
    assert!(
        docker.map(|o| o.status.success()).unwrap_or(false),
        "Docker Engine is not reachable; run scripts/docker-up"
    );
    let s = server();
    ok(aws(&s, ALICE, None, &["ecs", "create-cluster", "--cluster-name", "prod"]));
    ok(aws(&s, ALICE, None, &["ecs", "create-cluster", "--cluster-name", "dev"]));
    // The agent's link is unsigned without keys: refused.
    let unsigned = Command::new("curl")
        .args(["-s", "-X", "POST", "-d", "{}"])
        .arg(format!("{}/_wharf/agent/v1/report?region=us-east-1&cluster=prod", s.endpoint()))
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&unsigned.stdout).contains("MissingAuthenticationTokenException")
    );

    let agent = Agent::start(&s, AGENT_PROD, "prod");
    wait_until("the prod agent to register", || {
        let l = ok(aws(&s, ALICE, None, &["ecs", "list-container-instances", "--cluster", "prod"]));
        l["containerInstanceArns"].as_array().is_some_and(|a| a.len() == 1)
    });
    // A task runs through the signed link, and its logs come back through it.
    let td = r#"{"family":"signed","containerDefinitions":[{"name":"main","image":"wharf-test/busybox:1","memory":32,
        "command":["sh","-c","echo signed link; exit 3"],
        "logConfiguration":{"logDriver":"awslogs","options":{"awslogs-group":"/prod/signed","awslogs-region":"us-east-1","awslogs-stream-prefix":"ecs","awslogs-create-group":"true"}}}]}"#;
    ok(aws(&s, ALICE, None, &["ecs", "register-task-definition", "--cli-input-json", td]));
    let run = ok(aws(
        &s,
        ALICE,
        None,
        &["ecs", "run-task", "--cluster", "prod", "--task-definition", "signed"],
    ));
    let arn = run["tasks"][0]["taskArn"].as_str().expect("a task").to_owned();
    let mut last = Value::Null;
    wait_until("the task to stop", || {
        last = ok(aws(
            &s,
            ALICE,
            None,
            &["ecs", "describe-tasks", "--cluster", "prod", "--tasks", &arn],
        ));
        last["tasks"][0]["lastStatus"] == "STOPPED"
    });
    assert_eq!(last["tasks"][0]["containers"][0]["exitCode"], 3, "{last}");
    let stream = format!("ecs/main/{}", arn.rsplit('/').next().unwrap());
    wait_until("the task's log line", || {
        let out = aws(
            &s,
            ALICE,
            None,
            &[
                "logs",
                "get-log-events",
                "--log-group-name",
                "/prod/signed",
                "--log-stream-name",
                &stream,
            ],
        );
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("signed link")
    });
    let _ = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "docker ps -aq --filter label=com.amazonaws.ecs.task-arn={arn} | xargs -r docker rm -f"
        ))
        .output();
    // The same keys do not let an agent join another cluster.
    let stray = Agent::start(&s, AGENT_PROD, "dev");
    wait_until("the stray agent to be refused", || {
        stray.log().contains("AccessDeniedException") || stray.log().contains("not authorized")
    });
    assert!(stray.log().contains("ecs:RegisterContainerInstance on resource: arn:aws:ecs:us-east-1:000000000000:cluster/dev"), "{}", stray.log());
    let dev = ok(aws(&s, ALICE, None, &["ecs", "list-container-instances", "--cluster", "dev"]));
    assert_eq!(dev["containerInstanceArns"].as_array().map(Vec::len), Some(0));
    drop(agent);
}

/// A server with its embedded agent and ECS's credentials endpoint (on an
/// ephemeral port of 169.254.170.2: other servers of the suite may hold 80).
fn server_with_agent() -> Server {
    let file = credentials_file();
    Server::start_with(&[
        "--credentials",
        file.to_str().unwrap(),
        "--metadata-address",
        "169.254.170.2:0",
        "--listener-address",
        "off",
    ])
}

/// Runs `td` (a task definition JSON) as alice and waits for it to stop.
fn run_to_stop(s: &Server, td: &str, family: &str) -> Value {
    ok(aws(s, ALICE, None, &["ecs", "register-task-definition", "--cli-input-json", td]));
    let run = ok(aws(s, ALICE, None, &["ecs", "run-task", "--task-definition", family]));
    let arn =
        run["tasks"][0]["taskArn"].as_str().unwrap_or_else(|| panic!("no task: {run}")).to_owned();
    let mut last = Value::Null;
    wait_until("the task to stop", || {
        last = ok(aws(s, ALICE, None, &["ecs", "describe-tasks", "--tasks", &arn]));
        last["tasks"][0]["lastStatus"] == "STOPPED"
    });
    let _ = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "docker ps -aq --filter label=com.amazonaws.ecs.task-arn={arn} | xargs -r docker rm -f"
        ))
        .output();
    last["tasks"][0].clone()
}

#[test]
fn task_role_credentials_are_minted_and_carry_the_role_s_policies() {
    let s = server_with_agent();
    // The container fetches its credentials as an SDK would and prints them.
    let td = serde_json::json!({
        "family": "role-probe",
        "taskRoleArn": "arn:aws:iam::000000000000:role/app",
        "containerDefinitions": [{
            "name": "probe", "image": "wharf-test/busybox:1", "memory": 32,
            "entryPoint": ["sh", "-c"],
            "command": ["base=${ECS_CONTAINER_METADATA_URI_V4%/v4/*}; timeout 5 wget -qO- \"$base$AWS_CONTAINER_CREDENTIALS_RELATIVE_URI\"; echo; echo URI=$AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"],
            "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "/probe", "awslogs-region": "us-east-1", "awslogs-stream-prefix": "ecs", "awslogs-create-group": "true"}}
        }]
    });
    let task = run_to_stop(&s, &td.to_string(), "role-probe");
    assert_eq!(task["containers"][0]["exitCode"], 0, "{task}");
    let task_id = task["taskArn"].as_str().unwrap().rsplit('/').next().unwrap().to_owned();
    let mut events = Value::Null;
    wait_until("the probe's output", || {
        let out = aws(
            &s,
            ALICE,
            None,
            &[
                "logs",
                "get-log-events",
                "--log-group-name",
                "/probe",
                "--log-stream-name",
                &format!("ecs/probe/{task_id}"),
            ],
        );
        events = if out.status.success() {
            serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
        } else {
            Value::Null
        };
        events["events"].as_array().is_some_and(|e| e.len() >= 2)
    });
    let lines: Vec<&str> =
        events["events"].as_array().unwrap().iter().filter_map(|e| e["message"].as_str()).collect();
    let creds: Value = serde_json::from_str(lines[0]).unwrap_or_else(|e| panic!("{e}: {lines:?}"));
    assert_eq!(creds["RoleArn"], "arn:aws:iam::000000000000:role/app");
    let keys = (creds["AccessKeyId"].as_str().unwrap(), creds["SecretAccessKey"].as_str().unwrap());
    let token = creds["Token"].as_str().unwrap();
    assert!(keys.0.starts_with("ASIA"), "{creds}");
    assert!(creds["Expiration"].as_str().is_some_and(|e| e.ends_with('Z')), "{creds}");
    // The relative URI is unguessable: 128 bits or more after /v2/credentials/.
    let uri = lines[1].strip_prefix("URI=/v2/credentials/").expect("the relative URI");
    assert!(uri.len() >= 32, "{uri}");
    // Wharf's APIs take them, with role/app's policies and the task as the session.
    let who = ok(aws(&s, keys, Some(token), &["sts", "get-caller-identity"]));
    assert_eq!(who["Arn"], format!("arn:aws:sts::000000000000:assumed-role/app/{task_id}"));
    ok(aws(&s, keys, Some(token), &["ecs", "list-clusters"]));
    let e =
        refused(aws(&s, keys, Some(token), &["ecs", "create-cluster", "--cluster-name", "nope"]));
    assert!(e.contains(&format!("User: arn:aws:sts::000000000000:assumed-role/app/{task_id} is not authorized to perform: ecs:CreateCluster")), "{e}");
}

#[test]
fn the_execution_role_decides_which_secrets_a_task_gets() {
    let s = server_with_agent();
    for name in ["/app/db", "/other/key"] {
        ok(aws(
            &s,
            ALICE,
            None,
            &["ssm", "put-parameter", "--name", name, "--value", "v", "--type", "String"],
        ));
    }
    let td = |family: &str, parameter: &str| {
        serde_json::json!({
            "family": family,
            "executionRoleArn": "arn:aws:iam::000000000000:role/exec",
            "containerDefinitions": [{
                "name": "main", "image": "wharf-test/busybox:1", "memory": 32,
                "command": ["sh", "-c", "test \"$SECRET\" = v"],
                "secrets": [{"name": "SECRET", "valueFrom": parameter}]
            }]
        })
        .to_string()
    };
    let allowed = run_to_stop(&s, &td("exec-allowed", "/app/db"), "exec-allowed");
    assert_eq!(allowed["containers"][0]["exitCode"], 0, "{allowed}");
    let denied = run_to_stop(&s, &td("exec-denied", "/other/key"), "exec-denied");
    let task_id = denied["taskArn"].as_str().unwrap().rsplit('/').next().unwrap();
    assert_eq!(denied["stopCode"], "TaskFailedToStart", "{denied}");
    let reason = denied["stoppedReason"].as_str().unwrap();
    assert_eq!(
        reason,
        format!("ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve secrets from ssm: service call has been retried 1 time(s): AccessDeniedException: User: arn:aws:sts::000000000000:assumed-role/exec/{task_id} is not authorized to perform: ssm:GetParameters on resource: arn:aws:ssm:us-east-1:000000000000:parameter/other/key because no identity-based policy allows the ssm:GetParameters action")
    );
}

#[test]
fn the_audit_trail_records_who_did_what_from_where() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.jsonl");
    let file = credentials_file();
    let s = Server::start_with(&[
        "--no-agent",
        "--credentials",
        file.to_str().unwrap(),
        "--audit-log",
        log.to_str().unwrap(),
    ]);
    ok(aws(&s, ALICE, None, &["ecs", "create-cluster", "--cluster-name", "prod"]));
    ok(aws(&s, ALICE, None, &["ecs", "list-clusters"]));
    refused(aws(&s, ALICE, None, &["ecs", "delete-cluster", "--cluster", "prod"]));
    ok(aws(
        &s,
        ALICE,
        None,
        &[
            "ssm",
            "put-parameter",
            "--name",
            "/app/pw",
            "--value",
            "hunter2-canary",
            "--type",
            "SecureString",
        ],
    ));
    let audit = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_wharf"))
            .arg("audit")
            .arg("--file")
            .arg(&log)
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let mut text = String::new();
    wait_until("three events", || {
        text = audit(&[]);
        text.lines().count() >= 3
    });
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "reads are not recorded: {text}");
    assert!(
        lines[0].contains("OK")
            && lines[0].contains("arn:aws:iam::000000000000:user/alice")
            && lines[0].contains("ecs:CreateCluster")
            && lines[0].contains("arn:aws:ecs:us-east-1:000000000000:cluster/prod")
            && lines[0].contains("from 127.0.0.1"),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].contains("AccessDeniedException") && lines[1].contains("ecs:DeleteCluster"),
        "{}",
        lines[1]
    );
    // Resources as authorization named them, for the service it went to.
    assert!(
        lines[2].contains("ssm:PutParameter")
            && lines[2].contains("arn:aws:ssm:us-east-1:000000000000:parameter/app/pw"),
        "{}",
        lines[2]
    );
    let denied = audit(&["--errors", "--json"]);
    let event: Value = serde_json::from_str(denied.lines().next().unwrap()).unwrap();
    assert_eq!(event["eventSource"], "ecs.amazonaws.com");
    assert_eq!(event["userIdentity"]["type"], "IAMUser");
    assert_eq!(event["userIdentity"]["accessKeyId"], ALICE.0);
    assert!(event["errorMessage"].as_str().unwrap().contains("explicit deny"));
    assert!(event["eventTime"].as_str().unwrap().ends_with('Z'));
    // The parameter's value never reaches the trail.
    let all = std::fs::read_to_string(&log).unwrap();
    assert!(
        !all.contains("hunter2-canary") && all.contains("HIDDEN_DUE_TO_SECURITY_REASONS"),
        "{all}"
    );
    assert_eq!(audit(&["--action", "ecs:CreateCluster"]).lines().count(), 1);
    assert_eq!(audit(&["--principal", "user/ci"]).lines().count(), 0);
}

#[test]
fn the_api_the_agent_link_and_exec_sessions_speak_tls() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, ca_key) = (dir.path().join("ca.pem"), dir.path().join("ca.key"));
    let (cert, key, csr) =
        (dir.path().join("cert.pem"), dir.path().join("key.pem"), dir.path().join("req.csr"));
    let ext = dir.path().join("ext.cnf");
    std::fs::write(&ext, "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n")
        .unwrap();
    let openssl = |args: &[&str]| {
        let out =
            Command::new("openssl").args(args).current_dir(dir.path()).output().expect("openssl");
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    // A CA, and a server certificate for 127.0.0.1 signed by it.
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=wharf-test-ca",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    ]);
    openssl(&[
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        "key.pem",
        "-out",
        "req.csr",
    ]);
    openssl(&[
        "x509",
        "-req",
        "-in",
        "req.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        "ext.cnf",
        "-out",
        "cert.pem",
    ]);
    let _ = (&ca_key, &csr);
    let file = credentials_file();
    let s = Server::start_with(&[
        "--no-agent",
        "--credentials",
        file.to_str().unwrap(),
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ]);
    let https = format!("https://{}", s.addr);
    let cli = |extra: &[&str]| {
        let home = tempfile::tempdir().unwrap();
        Command::new("aws")
            .env("AWS_ACCESS_KEY_ID", ALICE.0)
            .env("AWS_SECRET_ACCESS_KEY", ALICE.1)
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_CONFIG_FILE", home.path().join("c"))
            .env("AWS_SHARED_CREDENTIALS_FILE", home.path().join("s"))
            .env("AWS_MAX_ATTEMPTS", "1")
            .env("AWS_CA_BUNDLE", &ca)
            .args(["--endpoint-url", &https, "--output", "json"])
            .args(extra)
            .output()
            .unwrap()
    };
    let out = cli(&["ecs", "create-cluster", "--cluster-name", "prod"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // Plain HTTP to the TLS port gets nothing usable.
    let plain = aws(&s, ALICE, None, &["ecs", "list-clusters"]);
    assert!(!plain.status.success());
    // An agent joins over TLS, trusting the server's certificate.
    let docker = Command::new("docker").arg("info").output();
    assert!(
        docker.map(|o| o.status.success()).unwrap_or(false),
        "Docker Engine is not reachable; run scripts/docker-up"
    );
    let state = tempfile::tempdir().unwrap();
    let log = std::fs::File::create(state.path().join("agent.log")).unwrap();
    // Its ECS Exec sessions are served over TLS too, with its own certificate.
    let agent = Command::new(env!("CARGO_BIN_EXE_wharf"))
        .args(["agent", "--endpoint", &https, "--cluster", "prod", "--metadata-address", "off"])
        .arg("--tls-ca")
        .arg(&ca)
        .arg("--exec-tls-cert")
        .arg(&cert)
        .arg("--exec-tls-key")
        .arg(&key)
        .args(["--dns-address", "off"])
        .arg("--state-dir")
        .arg(state.path().join("s"))
        .env("AWS_ACCESS_KEY_ID", AGENT_PROD.0)
        .env("AWS_SECRET_ACCESS_KEY", AGENT_PROD.1)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let agent = KillOnDrop { child: agent, log: state.path().join("agent.log") };
    let mut instance = Value::Null;
    for _ in 0..30 {
        let out = cli(&["ecs", "list-container-instances", "--cluster", "prod"]);
        let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        if let Some([arn]) = v["containerInstanceArns"].as_array().map(Vec::as_slice) {
            instance = arn.clone();
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    assert!(instance.is_string(), "the agent did not register: {}", agent.log());
    // The instance reports an https:// exec endpoint.
    let out = cli(&[
        "ecs",
        "describe-container-instances",
        "--cluster",
        "prod",
        "--container-instances",
        instance.as_str().unwrap(),
    ]);
    let described: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    let endpoint = described["containerInstances"][0]["attributes"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| a["name"] == "wharf.exec-endpoint")
        .and_then(|a| a["value"].as_str())
        .unwrap_or_default()
        .to_owned();
    let exec_addr = endpoint
        .strip_prefix("https://")
        .unwrap_or_else(|| panic!("the exec endpoint is not https://: {endpoint:?} ({described})"));
    // A plain (ws://) client gets no HTTP answer from the TLS listener.
    let mut plain = std::net::TcpStream::connect(exec_addr).unwrap();
    plain.set_read_timeout(Some(std::time::Duration::from_secs(5))).unwrap();
    let _ = std::io::Write::write_all(
        &mut plain,
        b"GET /v1/data-channel/x HTTP/1.1\r\nHost: h\r\n\r\n",
    );
    let mut answer = Vec::new();
    let _ = std::io::Read::read_to_end(&mut plain, &mut answer);
    assert!(!answer.starts_with(b"HTTP/"), "{}", String::from_utf8_lossy(&answer));
    // `wharf exec` signs its calls with alice's keys, trusts the CA, and
    // reaches the session over wss://.
    let td = json!({"family": "tls-shell", "containerDefinitions": [{
        "name": "main", "image": "wharf-test/busybox:1", "memory": 32, "stopTimeout": 1,
        "command": ["sleep", "600"]}]});
    let out = cli(&["ecs", "register-task-definition", "--cli-input-json", &td.to_string()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = cli(&[
        "ecs",
        "run-task",
        "--cluster",
        "prod",
        "--task-definition",
        "tls-shell",
        "--enable-execute-command",
    ]);
    let run: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    let task = run["tasks"][0]["taskArn"].as_str().unwrap_or_else(|| panic!("{run}")).to_owned();
    let _cleanup = support::TaskContainers(task.clone());
    let mut running = false;
    for _ in 0..100 {
        let out = cli(&["ecs", "describe-tasks", "--cluster", "prod", "--tasks", &task]);
        let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        if v["tasks"][0]["lastStatus"] == "RUNNING" {
            running = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    assert!(running, "the task did not start: {}", agent.log());
    let exec = |keys: (&str, &str)| {
        Command::new(env!("CARGO_BIN_EXE_wharf"))
            .args(["exec", "--cluster", "prod", &task, "--", "sh", "-c", "echo secure; exit 3"])
            .env("WHARF_ENDPOINT", &https)
            .env("AWS_ACCESS_KEY_ID", keys.0)
            .env("AWS_SECRET_ACCESS_KEY", keys.1)
            .env("AWS_CA_BUNDLE", &ca)
            .env_remove("AWS_SESSION_TOKEN")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let out = exec(ALICE);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        agent.log()
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "secure\n");
    // Keys the server does not know are refused before any session opens.
    let out = exec(("AKIANOBODY0000000001", "whatever/secret/0000000000000000"));
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("UnrecognizedClientException"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A child process killed on drop.
struct KillOnDrop {
    child: std::process::Child,
    log: PathBuf,
}

impl KillOnDrop {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// GET a path of the server; the body.
fn get(s: &Server, path: &str) -> String {
    let out =
        Command::new("curl").args(["-s", &format!("{}{path}", s.endpoint())]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_planted_secret_appears_in_no_output() {
    const CANARY: &str = "canary-7f3a91c2e4b8d605";
    let dir = tempfile::tempdir().unwrap();
    let audit_log = dir.path().join("audit.jsonl");
    let file = credentials_file();
    let s = Server::start_with_env(
        &[
            "--credentials",
            file.to_str().unwrap(),
            "--metadata-address",
            "169.254.170.2:0",
            "--listener-address",
            "off",
            "--audit-log",
            audit_log.to_str().unwrap(),
        ],
        &[("RUST_LOG", "debug")],
    );
    // Planted: an SSM SecureString, a Secrets Manager secret, a secret the
    // execution role may not read, and a temporary credential of alice's.
    ok(aws(
        &s,
        ALICE,
        None,
        &[
            "ssm",
            "put-parameter",
            "--name",
            "/app/canary",
            "--value",
            CANARY,
            "--type",
            "SecureString",
        ],
    ));
    ok(aws(
        &s,
        ALICE,
        None,
        &[
            "ssm",
            "put-parameter",
            "--name",
            "/other/canary",
            "--value",
            CANARY,
            "--type",
            "SecureString",
        ],
    ));
    let secret = ok(aws(
        &s,
        ALICE,
        None,
        &[
            "secretsmanager",
            "create-secret",
            "--name",
            "prod/canary",
            "--secret-string",
            &format!("{{\"pw\":\"{CANARY}\"}}"),
        ],
    ));
    assert!(secret["ARN"].is_string(), "{secret}");
    let task = |family: &str, parameter: &str| {
        serde_json::json!({
            "family": family,
            "executionRoleArn": "arn:aws:iam::000000000000:role/exec",
            "taskRoleArn": "arn:aws:iam::000000000000:role/app",
            "containerDefinitions": [{
                "name": "main", "image": "wharf-test/busybox:1", "memory": 32,
                // Checks the value without naming it (the definition is an output too).
                "command": ["sh", "-c", format!("test ${{#S}} -eq {} && case \"$S\" in {}*) exit 0;; esac; exit 1", CANARY.len(), &CANARY[..10])],
                "secrets": [{"name": "S", "valueFrom": parameter}]
            }]
        })
        .to_string()
    };
    let used = run_to_stop(&s, &task("canary-ok", "/app/canary"), "canary-ok");
    assert_eq!(used["containers"][0]["exitCode"], 0, "the container got the value: {used}");
    let denied = run_to_stop(&s, &task("canary-denied", "/other/canary"), "canary-denied");
    assert_eq!(denied["stopCode"], "TaskFailedToStart", "{denied}");
    let e = refused(aws(&s, (ALICE.0, CANARY), None, &["ecs", "list-clusters"]));
    // Every output a person or a program sees.
    let mut outputs: Vec<(String, String)> = vec![
        ("error message".into(), e),
        ("describe-tasks".into(), used.to_string() + &denied.to_string()),
    ];
    for (name, args) in [
        ("get-parameter", vec!["ssm", "get-parameter", "--name", "/app/canary"]),
        (
            "get-parameters-by-path",
            vec!["ssm", "get-parameters-by-path", "--path", "/", "--recursive"],
        ),
        ("describe-parameters", vec!["ssm", "describe-parameters"]),
        ("get-parameter-history", vec!["ssm", "get-parameter-history", "--name", "/app/canary"]),
        (
            "describe-secret",
            vec!["secretsmanager", "describe-secret", "--secret-id", "prod/canary"],
        ),
        ("list-secrets", vec!["secretsmanager", "list-secrets"]),
        (
            "describe-task-definition",
            vec!["ecs", "describe-task-definition", "--task-definition", "canary-ok"],
        ),
        ("list-clusters", vec!["ecs", "list-clusters"]),
    ] {
        let out = aws(&s, ALICE, None, &args);
        outputs.push((
            name.into(),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        ));
    }
    outputs.push(("/metrics".into(), get(&s, "/metrics")));
    for path in [
        "/console/api/clusters",
        "/console/api/clusters/default",
        "/console/api/task-definitions/canary-ok",
    ] {
        outputs.push((path.into(), get(&s, path)));
    }
    let task_id = used["taskArn"].as_str().unwrap().rsplit('/').next().unwrap();
    outputs.push((
        "console task".into(),
        get(&s, &format!("/console/api/clusters/default/tasks/{task_id}")),
    ));
    outputs.push(("audit log".into(), std::fs::read_to_string(&audit_log).unwrap_or_default()));
    outputs.push(("server log".into(), s.log()));
    for (name, text) in &outputs {
        assert!(!text.is_empty(), "{name} is empty: the search would prove nothing");
        assert!(!text.contains(CANARY), "the planted secret appears in the {name}:\n{text}");
    }
    // The search can find it: the value is where it should be.
    let decrypted = ok(aws(
        &s,
        ALICE,
        None,
        &["ssm", "get-parameter", "--name", "/app/canary", "--with-decryption"],
    ));
    assert_eq!(decrypted["Parameter"]["Value"], CANARY);
}

/// A GET of `path_and_query` on `s`, signed with `keys` when given: the
/// status line and the body (the first chunk of a stream).
fn wharf_get(s: &Server, path_and_query: &str, keys: Option<(&str, &str)>) -> String {
    let mut headers = http::HeaderMap::new();
    headers.insert(http::header::HOST, s.addr.to_string().parse().unwrap());
    if let Some((id, secret)) = keys {
        let (path, query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
        let now =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
                as i64;
        let credentials = wharf_auth::sigv4::SigningCredentials {
            access_key_id: id.into(),
            secret_access_key: secret.into(),
            session_token: None,
        };
        wharf_auth::sigv4::sign(
            "GET",
            path,
            query,
            &mut headers,
            b"",
            &credentials,
            "us-east-1",
            "ecs",
            now,
        );
    }
    let mut request = format!("GET {path_and_query} HTTP/1.1\r\n");
    for (k, v) in &headers {
        request.push_str(&format!("{k}: {}\r\n", v.to_str().unwrap()));
    }
    request.push_str("Connection: close\r\n\r\n");
    let mut stream = std::net::TcpStream::connect(s.addr).unwrap();
    stream.set_read_timeout(Some(std::time::Duration::from_secs(2))).unwrap();
    std::io::Write::write_all(&mut stream, request.as_bytes()).unwrap();
    let mut answer = vec![0u8; 64 * 1024];
    let n = std::io::Read::read(&mut stream, &mut answer).unwrap_or(0);
    String::from_utf8_lossy(&answer[..n]).into_owned()
}

#[test]
fn wharfs_own_read_endpoints_need_a_signature_and_a_policy() {
    let s = server();
    let unsigned = wharf_get(&s, "/_wharf/v1/pulls?task=t1", None);
    assert!(unsigned.contains("MissingAuthenticationTokenException"), "{unsigned}");
    let unsigned = wharf_get(&s, "/_wharf/v1/changes?task=t1", None);
    assert!(unsigned.contains("MissingAuthenticationTokenException"), "{unsigned}");
    let alice = wharf_get(&s, "/_wharf/v1/pulls?task=t1", Some(ALICE));
    assert!(alice.starts_with("HTTP/1.1 200") && alice.contains(r#"{"pulls":[]}"#), "{alice}");
    let alice = wharf_get(&s, "/_wharf/v1/changes?task=t1", Some(ALICE));
    assert!(alice.starts_with("HTTP/1.1 200"), "{alice}");
    // ci may describe tasks, not read logs: the change stream covers both.
    let ci = wharf_get(&s, "/_wharf/v1/pulls?task=t1", Some(CI));
    assert!(ci.starts_with("HTTP/1.1 200"), "{ci}");
    let ci = wharf_get(&s, "/_wharf/v1/changes?task=t1", Some(CI));
    assert!(ci.contains("AccessDeniedException") && ci.contains("logs:GetLogEvents"), "{ci}");
    let forged = wharf_get(&s, "/_wharf/v1/pulls?task=t1", Some((ALICE.0, "not/the/secret")));
    assert!(
        forged.contains("SignatureDoesNotMatch") || forged.contains("InvalidSignature"),
        "{forged}"
    );
}
