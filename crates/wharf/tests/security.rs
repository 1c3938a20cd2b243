//! A server with `--credentials`, driven by the real `aws` CLI: SigV4 is
//! verified on the JSON and Query protocols, each fault gets AWS's error,
//! policies decide (explicit deny, conditions, `iam:PassRole`), and STS's
//! temporary credentials work with the assumed role's policies. Without
//! credentials a server refuses to listen beyond loopback.

mod support;

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use serde_json::Value;
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
