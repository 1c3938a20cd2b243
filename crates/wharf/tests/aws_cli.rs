//! The real `aws` CLI (from PyPI: `pip install awscli`) against a real `wharf server`: the
//! flow the seed documents use — `aws ecs register-task-definition --cli-input-json
//! file://task-definition.json`, describe, list, deregister, a new revision — plus clusters
//! and errors as the CLI prints them.
//!
//! The CLI is required: when it is missing the tests fail with a message saying how to
//! install it; they are never skipped.

mod support;

use std::path::{Path, PathBuf};

use serde_json::Value;
use support::{Aws, Server};

/// A vendored task definition (`tests/corpus/taskdefs` at the repository root).
fn corpus_file(name: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/corpus/taskdefs").join(name);
    assert!(path.is_file(), "corpus file {} not found", path.display());
    path.canonicalize().expect("canonical corpus path")
}

fn data_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name)
}

fn file_url(path: &Path) -> String {
    format!("file://{}", path.display())
}

fn arns(value: &Value, key: &str) -> Vec<String> {
    value[key]
        .as_array()
        .unwrap_or_else(|| panic!("no {key} array in {value}"))
        .iter()
        .map(|v| v.as_str().expect("string").to_owned())
        .collect()
}

const ACCOUNT: &str = "000000000000";
const GH_FAMILY: &str = "github-actions-render-task-definition-integ-tests";

fn td_arn(family: &str, revision: u64) -> String {
    format!("arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition/{family}:{revision}")
}

#[test]
fn task_definition_flow() {
    let server = Server::start();
    let aws = Aws::new(&server, "ecs");

    // A document from the corpus, exactly as found: the task definition of the
    // amazon-ecs-render-task-definition GitHub Action's integration tests.
    let corpus_path =
        corpus_file("aws-actions__amazon-ecs-render-task-definition__task-definition.json");
    let sent: Value =
        serde_json::from_str(&std::fs::read_to_string(&corpus_path).expect("read")).expect("json");
    let out = aws.ok(&["register-task-definition", "--cli-input-json", &file_url(&corpus_path)]);
    let td = &out["taskDefinition"];
    assert_eq!(td["family"], GH_FAMILY);
    assert_eq!(td["revision"], 1);
    assert_eq!(td["status"], "ACTIVE");
    assert_eq!(td["taskDefinitionArn"], td_arn(GH_FAMILY, 1));
    for field in ["networkMode", "cpu", "memory", "requiresCompatibilities"] {
        assert_eq!(td[field], sent[field], "{field}");
    }
    let compatibilities = td["compatibilities"].as_array().expect("compatibilities");
    assert!(compatibilities.contains(&Value::from("FARGATE")), "{compatibilities:?}");
    assert_eq!(out["tags"], sent["tags"]);
    let containers = td["containerDefinitions"].as_array().expect("containers");
    let sent_containers = sent["containerDefinitions"].as_array().expect("containers");
    assert_eq!(containers.len(), sent_containers.len());
    for (got, want) in containers.iter().zip(sent_containers) {
        for (field, value) in want.as_object().expect("container object") {
            assert_eq!(&got[field], value, "containerDefinitions[{}].{field}", want["name"]);
        }
    }
    // Unset, `essential` is true.
    assert_eq!(containers[1]["essential"], true);

    // A document of our own, twice: revisions 1 and 2.
    let web_path = data_file("web-app.json");
    let out = aws.ok(&["register-task-definition", "--cli-input-json", &file_url(&web_path)]);
    assert_eq!(out["taskDefinition"]["revision"], 1);
    assert_eq!(out["tags"].as_array().map(Vec::len), Some(2), "{out}");
    let out = aws.ok(&["register-task-definition", "--cli-input-json", &file_url(&web_path)]);
    assert_eq!(out["taskDefinition"]["revision"], 2);
    assert_eq!(out["taskDefinition"]["taskDefinitionArn"], td_arn("cli-web-app", 2));

    // Describe: family (latest), family:revision, ARN, with tags on request.
    let out = aws.ok(&["describe-task-definition", "--task-definition", "cli-web-app"]);
    assert_eq!(out["taskDefinition"]["revision"], 2);
    let names: Vec<&str> = out["taskDefinition"]["containerDefinitions"]
        .as_array()
        .expect("containers")
        .iter()
        .map(|c| c["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["web", "api"]);
    let out = aws.ok(&["describe-task-definition", "--task-definition", "cli-web-app:1"]);
    assert_eq!(out["taskDefinition"]["revision"], 1);
    let out = aws.ok(&[
        "describe-task-definition",
        "--task-definition",
        &td_arn("cli-web-app", 1),
        "--include",
        "TAGS",
    ]);
    let mut tags: Vec<(String, String)> = out["tags"]
        .as_array()
        .expect("tags")
        .iter()
        .map(|t| (t["key"].as_str().unwrap().to_owned(), t["value"].as_str().unwrap().to_owned()))
        .collect();
    tags.sort();
    assert_eq!(tags, [("app".into(), "web".into()), ("team".into(), "platform".into())]);

    // List.
    let out = aws.ok(&["list-task-definitions"]);
    assert_eq!(
        arns(&out, "taskDefinitionArns"),
        [td_arn("cli-web-app", 1), td_arn("cli-web-app", 2), td_arn(GH_FAMILY, 1)]
    );
    let out =
        aws.ok(&["list-task-definitions", "--family-prefix", "cli-web-app", "--sort", "DESC"]);
    assert_eq!(
        arns(&out, "taskDefinitionArns"),
        [td_arn("cli-web-app", 2), td_arn("cli-web-app", 1)]
    );
    let out = aws.ok(&["list-task-definition-families"]);
    let mut families = arns(&out, "families");
    families.sort();
    assert_eq!(families, ["cli-web-app", GH_FAMILY]);
    // The CLI follows nextToken itself with a small page size.
    let out = aws.ok(&["list-task-definitions", "--page-size", "1"]);
    assert_eq!(arns(&out, "taskDefinitionArns").len(), 3, "{out}");

    // Deregister revision 1.
    let out = aws.ok(&["deregister-task-definition", "--task-definition", "cli-web-app:1"]);
    assert_eq!(out["taskDefinition"]["status"], "INACTIVE");
    let out = aws.ok(&["list-task-definitions", "--family-prefix", "cli-web-app"]);
    assert_eq!(arns(&out, "taskDefinitionArns"), [td_arn("cli-web-app", 2)]);
    let out = aws.ok(&["list-task-definitions", "--status", "INACTIVE"]);
    assert_eq!(arns(&out, "taskDefinitionArns"), [td_arn("cli-web-app", 1)]);

    // The deploy-pipeline pattern: describe, strip the read-only fields, change the image,
    // register the result as a new revision.
    let out = aws.ok(&[
        "describe-task-definition",
        "--task-definition",
        GH_FAMILY,
        "--query",
        "taskDefinition",
    ]);
    let mut doc = out;
    let object = doc.as_object_mut().expect("task definition object");
    for read_only in [
        "taskDefinitionArn",
        "revision",
        "status",
        "requiresAttributes",
        "compatibilities",
        "registeredAt",
        "registeredBy",
        "deregisteredAt",
    ] {
        object.remove(read_only);
    }
    doc["containerDefinitions"][0]["image"] = Value::from("httpd:2.4.62");
    let edited = tempfile::NamedTempFile::new().expect("temporary file");
    std::fs::write(edited.path(), serde_json::to_vec_pretty(&doc).expect("json")).expect("write");
    let out = aws.ok(&["register-task-definition", "--cli-input-json", &file_url(edited.path())]);
    assert_eq!(out["taskDefinition"]["revision"], 2);
    assert_eq!(out["taskDefinition"]["containerDefinitions"][0]["image"], "httpd:2.4.62");
    let out = aws.ok(&["describe-task-definition", "--task-definition", GH_FAMILY]);
    assert_eq!(out["taskDefinition"]["revision"], 2);
    assert_eq!(out["taskDefinition"]["containerDefinitions"][0]["image"], "httpd:2.4.62");
    assert_eq!(out["taskDefinition"]["containerDefinitions"][1]["image"], "httpd:2.4");

    // Deleting the INACTIVE revision.
    let out = aws.ok(&["delete-task-definitions", "--task-definitions", "cli-web-app:1"]);
    assert_eq!(out["taskDefinitions"][0]["status"], "DELETE_IN_PROGRESS", "{out}");
    assert_eq!(out["failures"].as_array().map(Vec::len).unwrap_or(0), 0, "{out}");
}

#[test]
fn cluster_flow() {
    let server = Server::start();
    let aws = Aws::new(&server, "ecs");
    let arn = format!("arn:aws:ecs:us-east-1:{ACCOUNT}:cluster/cli-cluster");

    let out = aws.ok(&[
        "create-cluster",
        "--cluster-name",
        "cli-cluster",
        "--tags",
        "key=team,value=platform",
        "--settings",
        "name=containerInsights,value=enabled",
    ]);
    assert_eq!(out["cluster"]["clusterName"], "cli-cluster");
    assert_eq!(out["cluster"]["clusterArn"], arn.as_str());
    assert_eq!(out["cluster"]["status"], "ACTIVE");

    let out = aws.ok(&["describe-clusters", "--clusters", "cli-cluster", "--include", "TAGS"]);
    assert_eq!(out["clusters"][0]["clusterArn"], arn.as_str());
    assert_eq!(out["clusters"][0]["status"], "ACTIVE");
    assert_eq!(out["clusters"][0]["tags"][0]["key"], "team");
    assert_eq!(out["failures"].as_array().map(Vec::len), Some(0));

    let out = aws.ok(&["describe-clusters", "--clusters", "no-such-cluster"]);
    assert_eq!(out["failures"][0]["reason"], "MISSING");

    let out = aws.ok(&["list-clusters"]);
    assert!(arns(&out, "clusterArns").contains(&arn), "{out}");

    let out = aws.ok(&[
        "put-cluster-capacity-providers",
        "--cluster",
        "cli-cluster",
        "--capacity-providers",
        "FARGATE",
        "FARGATE_SPOT",
        "--default-capacity-provider-strategy",
        "capacityProvider=FARGATE,weight=1,base=1",
    ]);
    assert_eq!(out["cluster"]["capacityProviders"], serde_json::json!(["FARGATE", "FARGATE_SPOT"]));

    let out = aws.ok(&["delete-cluster", "--cluster", "cli-cluster"]);
    assert_eq!(out["cluster"]["status"], "INACTIVE");
    let out = aws.ok(&["list-clusters"]);
    assert!(!arns(&out, "clusterArns").contains(&arn), "{out}");
}

#[test]
fn errors_as_the_cli_prints_them() {
    let server = Server::start();
    let aws = Aws::new(&server, "ecs");

    let stderr = aws.fails(&["describe-task-definition", "--task-definition", "nope"]);
    assert!(
        stderr.contains(
            "An error occurred (ClientException) when calling the DescribeTaskDefinition \
             operation: Unable to describe task definition."
        ),
        "{stderr}"
    );

    let stderr = aws.fails(&["delete-cluster", "--cluster", "ghost"]);
    assert!(
        stderr.contains(
            "An error occurred (ClusterNotFoundException) when calling the DeleteCluster operation"
        ),
        "{stderr}"
    );

    // A corpus document that ECS rejects: Fargate with awslogs needs an execution role.
    let nginx =
        corpus_file("aws-samples__aws-containers-task-definitions__nginx-nginx-fargate.json");
    let stderr = aws.fails(&["register-task-definition", "--cli-input-json", &file_url(&nginx)]);
    assert!(
        stderr.contains(
            "An error occurred (ClientException) when calling the RegisterTaskDefinition \
             operation: Fargate requires task definition to have execution role ARN to support \
             log driver awslogs."
        ),
        "{stderr}"
    );

    // Validation errors name the offending field.
    let bad = tempfile::NamedTempFile::new().expect("temporary file");
    std::fs::write(
        bad.path(),
        r#"{"family": "no-memory", "containerDefinitions": [{"name": "hungry", "image": "busybox"}]}"#,
    )
    .expect("write");
    let stderr =
        aws.fails(&["register-task-definition", "--cli-input-json", &file_url(bad.path())]);
    assert!(
        stderr.contains(
            "An error occurred (ClientException) when calling the RegisterTaskDefinition operation:"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("hungry"), "the message does not name the container: {stderr}");

    // Nothing was registered.
    let out = aws.ok(&["list-task-definition-families"]);
    assert!(arns(&out, "families").is_empty(), "{out}");
}
