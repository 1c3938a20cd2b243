//! The cost of IAM-style policy evaluation for one request, with a principal
//! holding 20 statements (the issue's budget: ≤ 20 µs per request), and of
//! verifying one SigV4 signature with a cached signing key. Run by
//! `bench/auth.sh`; prints `POLICY_RESULT` and `SIGV4_RESULT` lines.
//!
//! `cargo run --release -p wharf-auth --example policy_eval [ITERATIONS]`

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use serde_json::json;
use wharf_auth::policy::{evaluate, Context, Decision, Policy};
use wharf_auth::sigv4::{self, Request, SigningCredentials};
use wharf_auth::sts::Issuer;
use wharf_auth::{Authenticator, Directory};

/// Twenty statements as a team's policy might hold them: service wildcards,
/// resource ARNs with wildcards, conditions on the cluster and on tags, and
/// denies that must be checked on every request.
fn twenty_statements() -> Policy {
    let mut statements = Vec::new();
    for i in 0..6 {
        statements
            .push(json!({"Effect": "Allow", "Action": [format!("ecs:Describe{i}*"), "ecs:List*"],
            "Resource": format!("arn:aws:ecs:*:123456789012:cluster/team-{i}-*")}));
    }
    for i in 0..5 {
        statements.push(json!({"Effect": "Deny", "Action": "ecs:Delete*",
            "Resource": format!("arn:aws:ecs:*:*:cluster/prod-{i}")}));
    }
    for i in 0..4 {
        statements.push(json!({"Effect": "Allow", "Action": ["ecs:RunTask", "ecs:StartTask"],
            "Resource": format!("arn:aws:ecs:*:*:task-definition/app-{i}:*"),
            "Condition": {"ArnLike": {"ecs:cluster": "arn:aws:ecs:*:*:cluster/team-*"},
                          "StringEqualsIfExists": {"aws:RequestTag/team": ["a", "b", "c"]}}}));
    }
    for i in 0..4 {
        statements.push(json!({"Effect": "Allow", "NotAction": ["iam:*", "sts:*"],
            "Resource": format!("arn:aws:logs:*:*:log-group:/team-{i}/*"),
            "Condition": {"StringLike": {"aws:PrincipalArn": "arn:aws:iam::*:user/*"}}}));
    }
    statements.push(json!({"Effect": "Allow", "Action": "ecs:RunTask", "Resource": "*",
        "Condition": {"ArnEquals": {"ecs:cluster": "arn:aws:ecs:us-east-1:123456789012:cluster/bench"}}}));
    assert_eq!(statements.len(), 20);
    Policy::parse(&json!({"Version": "2012-10-17", "Statement": statements})).expect("policy")
}

fn main() {
    let iterations: u32 = std::env::args().nth(1).and_then(|n| n.parse().ok()).unwrap_or(200_000);
    let policy = twenty_statements();
    let policies = [policy];
    // What the front door builds per request: the action, the resource, the
    // request's keys and the principal's.
    let context = || {
        Context::new("ecs:RunTask", "arn:aws:ecs:us-east-1:123456789012:task-definition/web:7")
            .with("ecs:cluster", "arn:aws:ecs:us-east-1:123456789012:cluster/bench")
            .with("aws:RequestTag/team", "a")
            .with("aws:PrincipalArn", "arn:aws:iam::123456789012:user/bench")
            .with("aws:PrincipalAccount", "123456789012")
            .with("aws:RequestedRegion", "us-east-1")
            .with("aws:username", "bench")
    };
    assert_eq!(evaluate(&policies, &context()), Decision::Allow);
    let started = Instant::now();
    for _ in 0..iterations {
        black_box(evaluate(black_box(&policies), &black_box(context())));
    }
    let per = started.elapsed().as_nanos() as f64 / f64::from(iterations);
    println!("POLICY_RESULT statements=20 iterations={iterations} ns_per_request={per:.0}");

    // SigV4: one DescribeTaskDefinition as the CLI signs it, verified again and again.
    let file = json!({"users": [{"arn": "arn:aws:iam::123456789012:user/bench",
        "accessKeys": [{"accessKeyId": "AKIABENCH00000000001", "secretAccessKey": "bench/secret/00000000000000000000000001"}]}]});
    let auth = Authenticator::new(
        Arc::new(Directory::from_json(&file.to_string()).expect("file")),
        Issuer::new([1; 32]),
    );
    let creds = SigningCredentials {
        access_key_id: "AKIABENCH00000000001".into(),
        secret_access_key: "bench/secret/00000000000000000000000001".into(),
        session_token: None,
    };
    let body = br#"{"taskDefinition":"bench-describe"}"#;
    let mut headers = http::HeaderMap::new();
    headers.insert("host", "127.0.0.1:4590".parse().expect("host"));
    headers.insert("content-type", "application/x-amz-json-1.1".parse().expect("type"));
    headers.insert(
        "x-amz-target",
        "AmazonEC2ContainerServiceV20141113.DescribeTaskDefinition".parse().expect("target"),
    );
    let now = 1_767_225_600;
    sigv4::sign("POST", "/", "", &mut headers, body, &creds, "us-east-1", "ecs", now);
    let req =
        Request { method: "POST", path: "/", query: "", headers: &headers, authority: None, body };
    auth.authenticate(&req, now).expect("verifies");
    let started = Instant::now();
    for _ in 0..iterations {
        black_box(auth.authenticate(black_box(&req), now).is_ok());
    }
    let per = started.elapsed().as_nanos() as f64 / f64::from(iterations);
    println!("SIGV4_RESULT iterations={iterations} ns_per_request={per:.0}");
}
