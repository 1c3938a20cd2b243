//! The real `aws` CLI (from PyPI: `pip install awscli`) against a real `wharf server`:
//! `aws ssm` for the Parameter Store and `aws secretsmanager` for Secrets Manager, the
//! calls deploy scripts make, and errors as the CLI prints them.
//!
//! The CLI is required: when it is missing the tests fail with a message saying how to
//! install it; they are never skipped. (The harness follows `aws_cli.rs`, with the
//! service as an argument.)

mod support;

use serde_json::Value;
use support::{Aws, Server};

fn names(value: &Value, list: &str) -> Vec<String> {
    value[list]
        .as_array()
        .unwrap_or_else(|| panic!("no {list} array in {value}"))
        .iter()
        .map(|p| p["Name"].as_str().expect("Name").to_owned())
        .collect()
}

#[test]
fn ssm_parameter_store_flow() {
    let server = Server::start();
    let ssm = Aws::new(&server, "ssm");

    let out =
        ssm.ok(&["put-parameter", "--name", "/app/db/host", "--value", "db1", "--type", "String"]);
    assert_eq!(out["Version"], 1);
    let put = ["put-parameter", "--name", "/app/db/pass", "--value", "hunter2"];
    ssm.ok(&[&put[..], &["--type", "SecureString", "--tags", "Key=team,Value=core"]].concat());
    ssm.ok(&[
        "put-parameter",
        "--name",
        "/app/db/users",
        "--value",
        "a,b,c",
        "--type",
        "StringList",
    ]);
    ssm.ok(&[
        "put-parameter",
        "--name",
        "/app/cache/url",
        "--value",
        "redis://c",
        "--type",
        "String",
    ]);

    let err = ssm.fails(&[
        "put-parameter",
        "--name",
        "/app/db/host",
        "--value",
        "db2",
        "--type",
        "String",
    ]);
    assert!(err.contains("(ParameterAlreadyExists)"), "{err}");
    let out = ssm.ok(&["put-parameter", "--name", "/app/db/host", "--value", "db2", "--overwrite"]);
    assert_eq!(out["Version"], 2);

    let out = ssm.ok(&["get-parameter", "--name", "/app/db/host"]);
    assert_eq!(out["Parameter"]["Value"], "db2");
    assert_eq!(out["Parameter"]["ARN"], "arn:aws:ssm:us-east-1:000000000000:parameter/app/db/host");
    let out = ssm.ok(&["get-parameter", "--name", "/app/db/host:1"]);
    assert_eq!(out["Parameter"]["Value"], "db1");
    let out = ssm.ok(&["get-parameter", "--name", "/app/db/pass"]);
    assert_ne!(out["Parameter"]["Value"], "hunter2");
    let out = ssm.ok(&["get-parameter", "--name", "/app/db/pass", "--with-decryption"]);
    assert_eq!(out["Parameter"]["Value"], "hunter2");
    let out = ssm.ok(&["get-parameters", "--names", "/app/db/host", "/app/nope"]);
    assert_eq!(names(&out, "Parameters"), ["/app/db/host"]);
    assert_eq!(out["InvalidParameters"], serde_json::json!(["/app/nope"]));

    // By path: one level, recursive, and the CLI's own pagination over pages of one.
    let out = ssm.ok(&["get-parameters-by-path", "--path", "/app/db"]);
    assert_eq!(names(&out, "Parameters"), ["/app/db/host", "/app/db/pass", "/app/db/users"]);
    let out =
        ssm.ok(&["get-parameters-by-path", "--path", "/app", "--recursive", "--page-size", "1"]);
    assert_eq!(
        names(&out, "Parameters"),
        ["/app/cache/url", "/app/db/host", "/app/db/pass", "/app/db/users"]
    );
    let out =
        ssm.ok(&["get-parameters-by-path", "--path", "/app", "--recursive", "--max-items", "2"]);
    assert_eq!(names(&out, "Parameters").len(), 2);
    assert!(out["NextToken"].is_string(), "{out}");
    let out =
        ssm.ok(&["describe-parameters", "--parameter-filters", "Key=Type,Values=SecureString"]);
    assert_eq!(names(&out, "Parameters"), ["/app/db/pass"]);
    let out = ssm.ok(&[
        "list-tags-for-resource",
        "--resource-type",
        "Parameter",
        "--resource-id",
        "/app/db/pass",
    ]);
    assert_eq!(out["TagList"], serde_json::json!([{"Key": "team", "Value": "core"}]));

    ssm.ok(&["delete-parameter", "--name", "/app/db/host"]);
    let err = ssm.fails(&["get-parameter", "--name", "/app/db/host"]);
    assert!(
        err.contains(
            "An error occurred (ParameterNotFound) when calling the GetParameter operation"
        ),
        "{err}"
    );
    let err = ssm.fails(&["delete-parameter", "--name", "/app/db/host"]);
    assert!(err.contains("(ParameterNotFound)"), "{err}");
    let out = ssm.ok(&["delete-parameters", "--names", "/app/db/pass", "/app/db/host"]);
    assert_eq!(out["DeletedParameters"], serde_json::json!(["/app/db/pass"]));
    assert_eq!(out["InvalidParameters"], serde_json::json!(["/app/db/host"]));

    let err = ssm.fails(&["put-parameter", "--name", "a/b", "--value", "x", "--type", "String"]);
    assert!(err.contains("(ValidationException)") && err.contains("fully qualified"), "{err}");
    let err = ssm.fails(&["get-parameters-by-path", "--path", "app"]);
    assert!(err.contains("(ValidationException)"), "{err}");
}

#[test]
fn secrets_manager_flow() {
    let server = Server::start();
    let sm = Aws::new(&server, "secretsmanager");

    let created = sm.ok(&[
        "create-secret",
        "--name",
        "prod/db",
        "--description",
        "database login",
        "--secret-string",
        r#"{"username":"admin","password":"s3cr3t"}"#,
    ]);
    let arn = created["ARN"].as_str().expect("ARN").to_owned();
    let prefix = "arn:aws:secretsmanager:us-east-1:000000000000:secret:prod/db-";
    assert!(arn.starts_with(prefix) && arn.len() == prefix.len() + 6, "{arn}");
    let first = created["VersionId"].as_str().expect("VersionId").to_owned();

    let out = sm.ok(&["get-secret-value", "--secret-id", "prod/db"]);
    let value: Value = serde_json::from_str(out["SecretString"].as_str().expect("SecretString"))
        .expect("JSON secret");
    assert_eq!(value["username"], "admin");
    assert_eq!(out["VersionStages"], serde_json::json!(["AWSCURRENT"]));
    let out = sm.ok(&["get-secret-value", "--secret-id", &arn]);
    assert_eq!(out["VersionId"], first.as_str());

    let out = sm.ok(&[
        "put-secret-value",
        "--secret-id",
        &arn,
        "--secret-string",
        r#"{"username":"admin","password":"n3w"}"#,
    ]);
    let second = out["VersionId"].as_str().expect("VersionId").to_owned();
    let out =
        sm.ok(&["get-secret-value", "--secret-id", "prod/db", "--version-stage", "AWSPREVIOUS"]);
    assert_eq!(out["VersionId"], first.as_str());
    let out = sm.ok(&["describe-secret", "--secret-id", "prod/db"]);
    assert_eq!(out["Description"], "database login");
    assert_eq!(out["VersionIdsToStages"][&second], serde_json::json!(["AWSCURRENT"]));
    assert_eq!(out["VersionIdsToStages"][&first], serde_json::json!(["AWSPREVIOUS"]));
    assert!(out.get("SecretString").is_none());

    sm.ok(&["create-secret", "--name", "prod/api-key", "--secret-string", "k"]);
    sm.ok(&["create-secret", "--name", "dev/api-key", "--secret-string", "k"]);
    let out = sm.ok(&["list-secrets", "--filters", "Key=name,Values=prod/"]);
    assert_eq!(names(&out, "SecretList"), ["prod/api-key", "prod/db"]);
    let out = sm.ok(&["list-secrets", "--page-size", "1"]);
    assert_eq!(names(&out, "SecretList").len(), 3);

    let err = sm.fails(&["create-secret", "--name", "prod/db", "--secret-string", "x"]);
    assert!(err.contains("(ResourceExistsException)"), "{err}");
    let err = sm.fails(&["get-secret-value", "--secret-id", "nope"]);
    assert!(
        err.contains("(ResourceNotFoundException) when calling the GetSecretValue operation: Secrets Manager can't find the specified secret."),
        "{err}"
    );

    let out = sm.ok(&["delete-secret", "--secret-id", "prod/db", "--recovery-window-in-days", "7"]);
    assert!(out["DeletionDate"].is_number(), "{out}");
    let err = sm.fails(&["get-secret-value", "--secret-id", "prod/db"]);
    assert!(
        err.contains("(InvalidRequestException)") && err.contains("marked for deletion"),
        "{err}"
    );
    let out = sm.ok(&["list-secrets"]);
    assert_eq!(names(&out, "SecretList"), ["dev/api-key", "prod/api-key"]);
    sm.ok(&["restore-secret", "--secret-id", "prod/db"]);
    sm.ok(&["get-secret-value", "--secret-id", "prod/db"]);
    sm.ok(&["delete-secret", "--secret-id", "prod/db", "--force-delete-without-recovery"]);
    let err = sm.fails(&["describe-secret", "--secret-id", "prod/db"]);
    assert!(err.contains("(ResourceNotFoundException)"), "{err}");
}
