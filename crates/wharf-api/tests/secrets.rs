//! SSM Parameter Store and Secrets Manager through the front door, in
//! process, and the resolver the agent uses for `secrets[].valueFrom`.

use std::sync::Arc;

use axum::body::Body;
use axum::Router;
use http::{Request, StatusCode};
use serde_json::{json, Value};
use tower::ServiceExt;
use wharf_api::secrets::{resolve, ResolveError};
use wharf_api::AppState;
use wharf_model::clock::FakeClock;
use wharf_model::Timestamp;
use wharf_store::SqliteStore;

const NOW_MS: i64 = 1_700_000_000_000;
const REGION: &str = "us-east-1";

struct Server {
    router: Router,
    store: Arc<SqliteStore>,
    clock: Arc<FakeClock>,
    _dir: tempfile::TempDir,
}

fn server() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("wharf.db")).unwrap());
    let clock = Arc::new(FakeClock::at(NOW_MS));
    let state = AppState::new(
        store.clone(),
        Arc::new(wharf_store::LogStore::open(&dir.path().join("logs.sqlite3"), i64::MAX).unwrap()),
        clock.clone(),
        "123456789012",
    );
    Server { router: wharf_api::router(state), store, clock, _dir: dir }
}

struct Answer {
    status: StatusCode,
    json: Value,
}

impl Answer {
    fn error_type(&self) -> &str {
        self.json["__type"].as_str().unwrap_or("")
    }

    fn message(&self) -> &str {
        self.json["message"].as_str().unwrap_or("")
    }

    #[track_caller]
    fn ok(self) -> Value {
        assert_eq!(self.status, StatusCode::OK, "{}", self.json);
        self.json
    }

    #[track_caller]
    fn err(self, type_name: &str) -> Answer {
        assert_eq!(self.status, StatusCode::BAD_REQUEST, "{}", self.json);
        assert_eq!(self.error_type(), type_name, "{}", self.json);
        self
    }
}

async fn call(s: &Server, target: &str, body: Value) -> Answer {
    let req = Request::post("/")
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amz-target", target)
        .body(Body::from(body.to_string()))
        .unwrap();
    let resp = s.router.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
    let json = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).unwrap() };
    Answer { status, json }
}

async fn ssm(s: &Server, op: &str, body: Value) -> Answer {
    call(s, &format!("AmazonSSM.{op}"), body).await
}

async fn sm(s: &Server, op: &str, body: Value) -> Answer {
    call(s, &format!("secretsmanager.{op}"), body).await
}

async fn put(s: &Server, name: &str, value: &str, kind: &str) -> Value {
    ssm(s, "PutParameter", json!({"Name": name, "Value": value, "Type": kind})).await.ok()
}

#[tokio::test]
async fn parameters_are_versioned_and_refuse_what_ssm_refuses() {
    let s = server();
    assert_eq!(
        put(&s, "/app/db/host", "db1", "String").await,
        json!({"Version": 1, "Tier": "Standard"})
    );
    ssm(&s, "PutParameter", json!({"Name": "/app/db/host", "Value": "x", "Type": "String"}))
        .await
        .err("ParameterAlreadyExists");
    let v2 =
        ssm(&s, "PutParameter", json!({"Name": "/app/db/host", "Value": "db2", "Overwrite": true}))
            .await
            .ok();
    assert_eq!(v2["Version"], 2);

    let p = ssm(&s, "GetParameter", json!({"Name": "/app/db/host"})).await.ok();
    assert_eq!(p["Parameter"]["Value"], "db2");
    assert_eq!(p["Parameter"]["Type"], "String");
    assert_eq!(p["Parameter"]["ARN"], "arn:aws:ssm:us-east-1:123456789012:parameter/app/db/host");
    assert_eq!(p["Parameter"]["LastModifiedDate"], json!(1_700_000_000.0));
    let p = ssm(&s, "GetParameter", json!({"Name": "/app/db/host:1"})).await.ok();
    assert_eq!(
        (p["Parameter"]["Value"].clone(), p["Parameter"]["Selector"].clone()),
        (json!("db1"), json!(":1"))
    );
    let by_arn = "arn:aws:ssm:us-east-1:123456789012:parameter/app/db/host";
    let p = ssm(&s, "GetParameter", json!({"Name": by_arn})).await.ok();
    assert_eq!(p["Parameter"]["Value"], "db2");
    ssm(&s, "GetParameter", json!({"Name": "/app/db/host:9"}))
        .await
        .err("ParameterVersionNotFound");
    let a = ssm(&s, "GetParameter", json!({"Name": "/nope"})).await.err("ParameterNotFound");
    assert_eq!(a.message(), "Parameter /nope not found.");

    // Names, types, sizes and members, each with a message naming the rule.
    let a = ssm(&s, "PutParameter", json!({"Name": "a/b", "Value": "x", "Type": "String"})).await;
    assert_eq!(
        a.err("ValidationException").message(),
        "Parameter name must be a fully qualified name."
    );
    let a =
        ssm(&s, "PutParameter", json!({"Name": "/aws/x", "Value": "x", "Type": "String"})).await;
    assert!(a.err("ValidationException").message().contains("can't be prefixed with \"aws\""));
    let a = ssm(&s, "PutParameter", json!({"Name": "/x", "Value": "x"})).await;
    assert_eq!(
        a.err("ValidationException").message(),
        "A parameter type is required when you create a parameter."
    );
    let a = ssm(&s, "PutParameter", json!({"Name": "/x", "Value": "x", "Type": "Number"})).await;
    assert!(a.err("ValidationException").message().contains("'type'"));
    let a = ssm(&s, "PutParameter", json!({"Value": "x", "Type": "String"})).await;
    assert!(a.err("ValidationException").message().contains("'name'"));
    let deep = "/l".repeat(16);
    ssm(&s, "PutParameter", json!({"Name": deep, "Value": "x", "Type": "String"}))
        .await
        .err("HierarchyLevelLimitExceededException");
    let big = "v".repeat(4097);
    let a = ssm(
        &s,
        "PutParameter",
        json!({"Name": "/big", "Value": big, "Type": "String", "Tier": "Standard"}),
    )
    .await;
    assert!(a.err("ValidationException").message().contains("4096"));
    let a = ssm(
        &s,
        "PutParameter",
        json!({"Name": "/big", "Value": big, "Type": "String", "Tier": "Advanced"}),
    )
    .await;
    assert_eq!(a.ok()["Tier"], "Advanced");
    let a = ssm(
        &s,
        "PutParameter",
        json!({"Name": "/big2", "Value": big, "Type": "String", "Tier": "Intelligent-Tiering"}),
    )
    .await;
    assert_eq!(a.ok()["Tier"], "Advanced");
    let huge = "v".repeat(8193);
    ssm(
        &s,
        "PutParameter",
        json!({"Name": "/huge", "Value": huge, "Type": "String", "Tier": "Advanced"}),
    )
    .await
    .err("ValidationException");
    let a = ssm(&s, "PutParameter", json!({"Name": "/app/db/host", "Value": "x", "Overwrite": true, "Tags": [{"Key": "k", "Value": "v"}]})).await;
    assert!(a.err("ValidationException").message().contains("tags and overwrite"));
    ssm(
        &s,
        "PutParameter",
        json!({"Name": "/k", "Value": "x", "Type": "String", "KeyId": "alias/x"}),
    )
    .await
    .err("ValidationException");
    // A type mismatch is a SerializationException naming the member, never a 500.
    let a = ssm(
        &s,
        "PutParameter",
        json!({"Name": "/x", "Value": "x", "Type": "String", "Overwrite": "yes"}),
    )
    .await;
    assert!(a.err("SerializationException").message().contains("Overwrite"));
}

#[tokio::test]
async fn ssm_keeps_the_last_hundred_versions() {
    let s = server();
    put(&s, "/v", "0", "String").await;
    for i in 1..=101 {
        ssm(&s, "PutParameter", json!({"Name": "/v", "Value": i.to_string(), "Overwrite": true}))
            .await
            .ok();
    }
    let mut versions = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut body = json!({"Name": "/v", "MaxResults": 50});
        if let Some(t) = &token {
            body["NextToken"] = json!(t);
        }
        let page = ssm(&s, "GetParameterHistory", body).await.ok();
        versions.extend(
            page["Parameters"].as_array().unwrap().iter().map(|p| p["Version"].as_i64().unwrap()),
        );
        match page["NextToken"].as_str() {
            Some(t) => token = Some(t.to_owned()),
            None => break,
        }
    }
    assert_eq!(versions.len(), 100);
    assert_eq!((versions[0], versions[99]), (3, 102));
    ssm(&s, "GetParameter", json!({"Name": "/v:2"})).await.err("ParameterVersionNotFound");
}

#[tokio::test]
async fn secure_strings_are_opaque_without_decryption() {
    let s = server();
    put(&s, "/app/pass", "hunter2", "SecureString").await;
    let p = ssm(&s, "GetParameter", json!({"Name": "/app/pass"})).await.ok();
    let hidden = p["Parameter"]["Value"].as_str().unwrap();
    assert!(!hidden.contains("hunter2") && !hidden.is_empty(), "{hidden}");
    let p =
        ssm(&s, "GetParameter", json!({"Name": "/app/pass", "WithDecryption": true})).await.ok();
    assert_eq!(p["Parameter"]["Value"], "hunter2");
    let d = ssm(&s, "DescribeParameters", json!({})).await.ok();
    assert_eq!(d["Parameters"][0]["KeyId"], "alias/aws/ssm");
    assert!(d.to_string().find("hunter2").is_none());
}

#[tokio::test]
async fn by_path_walks_one_level_or_all_and_pages() {
    let s = server();
    for i in 0..12 {
        put(&s, &format!("/p/k{i:02}"), "v", if i % 2 == 0 { "String" } else { "StringList" })
            .await;
    }
    put(&s, "/p/sub/deep", "v", "String").await;
    put(&s, "/pq", "v", "String").await;
    put(&s, "/q/z", "v", "String").await;
    put(&s, "top", "v", "String").await;

    let mut names = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut body = json!({"Path": "/p", "MaxResults": 5});
        if let Some(t) = &token {
            body["NextToken"] = json!(t);
        }
        let page = ssm(&s, "GetParametersByPath", body).await.ok();
        pages += 1;
        names.extend(
            page["Parameters"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["Name"].as_str().unwrap().to_owned()),
        );
        match page["NextToken"].as_str() {
            Some(t) => token = Some(t.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(names, (0..12).map(|i| format!("/p/k{i:02}")).collect::<Vec<_>>());

    let all = ssm(&s, "GetParametersByPath", json!({"Path": "/p/", "Recursive": true})).await.ok();
    assert_eq!(all["Parameters"].as_array().unwrap().len(), 10, "default page is 10");
    let names = |v: &Value| -> Vec<String> {
        v["Parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["Name"].as_str().unwrap().to_owned())
            .collect()
    };
    let filtered = ssm(
        &s,
        "GetParametersByPath",
        json!({
            "Path": "/p", "Recursive": true,
            "ParameterFilters": [{"Key": "Type", "Values": ["String"]}]
        }),
    )
    .await
    .ok();
    assert_eq!(names(&filtered).len(), 7, "{filtered}");
    assert!(names(&filtered).contains(&"/p/sub/deep".to_owned()));
    let root = ssm(&s, "GetParametersByPath", json!({"Path": "/"})).await.ok();
    assert_eq!(names(&root), vec!["/pq", "top"]);

    let a = ssm(&s, "GetParametersByPath", json!({"Path": "p"})).await;
    assert!(a.err("ValidationException").message().starts_with("The parameter doesn't meet"));
    ssm(&s, "GetParametersByPath", json!({"Path": "/p", "MaxResults": 11}))
        .await
        .err("ValidationException");
    ssm(&s, "GetParametersByPath", json!({"Path": "/p", "NextToken": "zz"}))
        .await
        .err("InvalidNextToken");
    ssm(
        &s,
        "GetParametersByPath",
        json!({"Path": "/p", "ParameterFilters": [{"Key": "Name", "Values": ["x"]}]}),
    )
    .await
    .err("InvalidFilterKey");
}

#[tokio::test]
async fn batches_describe_tags_and_deletes() {
    let s = server();
    put(&s, "/a/one", "1", "String").await;
    put(&s, "/a/two", "2", "String").await;
    let got = ssm(
        &s,
        "GetParameters",
        json!({"Names": ["/a/one", "/a/missing", "bad name", "/a/two:1"]}),
    )
    .await
    .ok();
    assert_eq!(got["Parameters"].as_array().unwrap().len(), 2);
    assert_eq!(got["InvalidParameters"], json!(["/a/missing", "bad name"]));
    let eleven: Vec<String> = (0..11).map(|i| format!("/n{i}")).collect();
    ssm(&s, "GetParameters", json!({"Names": eleven})).await.err("ValidationException");

    let d = ssm(
        &s,
        "DescribeParameters",
        json!({"ParameterFilters": [{"Key": "Name", "Option": "BeginsWith", "Values": ["/a/o"]}]}),
    )
    .await
    .ok();
    assert_eq!(d["Parameters"].as_array().unwrap().len(), 1);
    assert_eq!(d["Parameters"][0]["Name"], "/a/one");
    assert!(d["Parameters"][0].get("Value").is_none());
    let d = ssm(&s, "DescribeParameters", json!({"MaxResults": 1})).await.ok();
    assert!(d["NextToken"].is_string());
    ssm(&s, "DescribeParameters", json!({"Filters": [], "ParameterFilters": []}))
        .await
        .err("ValidationException");

    let tag = json!({"ResourceType": "Parameter", "ResourceId": "/a/one", "Tags": [{"Key": "env", "Value": "prod"}]});
    ssm(&s, "AddTagsToResource", tag).await.ok();
    let t = ssm(
        &s,
        "ListTagsForResource",
        json!({"ResourceType": "Parameter", "ResourceId": "/a/one"}),
    )
    .await
    .ok();
    assert_eq!(t["TagList"], json!([{"Key": "env", "Value": "prod"}]));
    let d = ssm(
        &s,
        "DescribeParameters",
        json!({"ParameterFilters": [{"Key": "tag:env", "Values": ["prod"]}]}),
    )
    .await
    .ok();
    assert_eq!(d["Parameters"].as_array().unwrap().len(), 1);
    ssm(
        &s,
        "RemoveTagsFromResource",
        json!({"ResourceType": "Parameter", "ResourceId": "/a/one", "TagKeys": ["env"]}),
    )
    .await
    .ok();
    let t = ssm(
        &s,
        "ListTagsForResource",
        json!({"ResourceType": "Parameter", "ResourceId": "/a/one"}),
    )
    .await
    .ok();
    assert_eq!(t["TagList"], json!([]));
    ssm(&s, "ListTagsForResource", json!({"ResourceType": "Parameter", "ResourceId": "/zz"}))
        .await
        .err("InvalidResourceId");
    ssm(&s, "ListTagsForResource", json!({"ResourceType": "Document", "ResourceId": "/a/one"}))
        .await
        .err("InvalidResourceType");

    ssm(&s, "DeleteParameter", json!({"Name": "/a/one"})).await.ok();
    ssm(&s, "DeleteParameter", json!({"Name": "/a/one"})).await.err("ParameterNotFound");
    let del = ssm(&s, "DeleteParameters", json!({"Names": ["/a/two", "/a/one"]})).await.ok();
    assert_eq!(del, json!({"DeletedParameters": ["/a/two"], "InvalidParameters": ["/a/one"]}));
}

#[tokio::test]
async fn secrets_have_versions_stages_and_idempotent_creates() {
    let s = server();
    let token = "00000000-0000-4000-8000-000000000001";
    let body = json!({"Name": "prod/db", "SecretString": "{\"user\":\"admin\",\"pass\":\"p1\"}", "ClientRequestToken": token});
    let created = sm(&s, "CreateSecret", body.clone()).await.ok();
    let arn = created["ARN"].as_str().unwrap().to_owned();
    assert!(
        arn.starts_with("arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-"),
        "{arn}"
    );
    assert_eq!(
        arn.len(),
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-".len() + 6
    );
    assert_eq!(created["VersionId"], token);
    // The same request again is a retry; the same token with another value is not.
    assert_eq!(sm(&s, "CreateSecret", body).await.ok()["ARN"], json!(arn));
    sm(
        &s,
        "CreateSecret",
        json!({"Name": "prod/db", "SecretString": "other", "ClientRequestToken": token}),
    )
    .await
    .err("ResourceExistsException");
    sm(&s, "CreateSecret", json!({"Name": "prod/db", "SecretString": "other"}))
        .await
        .err("ResourceExistsException");
    sm(&s, "CreateSecret", json!({"Name": "x", "SecretString": "a", "SecretBinary": "Yg=="}))
        .await
        .err("InvalidParameterException");
    sm(&s, "CreateSecret", json!({"Name": "bad name!", "SecretString": "a"}))
        .await
        .err("InvalidParameterException");
    sm(
        &s,
        "CreateSecret",
        json!({"Name": "x", "SecretString": "a", "ClientRequestToken": "short"}),
    )
    .await
    .err("ValidationException");

    // By name, complete ARN and partial ARN.
    let partial = &arn[..arn.len() - 7];
    for id in ["prod/db", arn.as_str(), partial] {
        let v = sm(&s, "GetSecretValue", json!({"SecretId": id})).await.ok();
        assert_eq!(v["SecretString"], "{\"user\":\"admin\",\"pass\":\"p1\"}", "{id}");
        assert_eq!(v["VersionStages"], json!(["AWSCURRENT"]));
    }
    sm(&s, "GetSecretValue", json!({"SecretId": format!("{partial}-XXXXXX")}))
        .await
        .err("ResourceNotFoundException");

    let put = sm(
        &s,
        "PutSecretValue",
        json!({"SecretId": "prod/db", "SecretString": "{\"user\":\"admin\",\"pass\":\"p2\"}"}),
    )
    .await
    .ok();
    let v2 = put["VersionId"].as_str().unwrap().to_owned();
    assert_eq!(put["VersionStages"], json!(["AWSCURRENT"]));
    let cur = sm(&s, "GetSecretValue", json!({"SecretId": "prod/db"})).await.ok();
    assert_eq!(cur["VersionId"], json!(v2));
    let prev =
        sm(&s, "GetSecretValue", json!({"SecretId": "prod/db", "VersionStage": "AWSPREVIOUS"}))
            .await
            .ok();
    assert_eq!(prev["VersionId"], token);
    let by_id =
        sm(&s, "GetSecretValue", json!({"SecretId": "prod/db", "VersionId": token})).await.ok();
    assert_eq!(by_id["VersionStages"], json!(["AWSPREVIOUS"]));
    let a = sm(&s, "GetSecretValue", json!({"SecretId": "prod/db", "VersionStage": "AWSPENDING"}))
        .await;
    assert!(a.err("ResourceNotFoundException").message().contains("staging label: AWSPENDING"));

    sm(&s, "UpdateSecret", json!({"SecretId": "prod/db", "Description": "the db"})).await.ok();
    let d = sm(&s, "DescribeSecret", json!({"SecretId": arn})).await.ok();
    assert_eq!(d["Description"], "the db");
    assert_eq!(d["VersionIdsToStages"][&v2], json!(["AWSCURRENT"]));
    assert_eq!(d["VersionIdsToStages"][token], json!(["AWSPREVIOUS"]));
    assert!(d.get("SecretString").is_none());
    let u =
        sm(&s, "UpdateSecret", json!({"SecretId": "prod/db", "SecretString": "{\"pass\":\"p3\"}"}))
            .await
            .ok();
    assert!(u["VersionId"].is_string());
    let d = sm(&s, "DescribeSecret", json!({"SecretId": "prod/db"})).await.ok();
    assert_eq!(d["VersionIdsToStages"].as_object().unwrap().len(), 2, "{d}");
}

#[tokio::test]
async fn secrets_list_filter_page_delete_and_restore() {
    let s = server();
    for name in ["app/a", "app/b", "app/c", "other"] {
        sm(
            &s,
            "CreateSecret",
            json!({"Name": name, "SecretString": "v", "Tags": [{"Key": "team", "Value": name}]}),
        )
        .await
        .ok();
    }
    let page = sm(&s, "ListSecrets", json!({"MaxResults": 3})).await.ok();
    assert_eq!(page["SecretList"].as_array().unwrap().len(), 3);
    let rest = sm(&s, "ListSecrets", json!({"NextToken": page["NextToken"]})).await.ok();
    assert_eq!(rest["SecretList"][0]["Name"], "other");
    assert!(rest.get("NextToken").is_none());
    let names = |v: &Value| -> Vec<String> {
        v["SecretList"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["Name"].as_str().unwrap().to_owned())
            .collect()
    };
    let f =
        sm(&s, "ListSecrets", json!({"Filters": [{"Key": "name", "Values": ["app/"]}]})).await.ok();
    assert_eq!(names(&f), vec!["app/a", "app/b", "app/c"]);
    let f = sm(&s, "ListSecrets", json!({"Filters": [{"Key": "name", "Values": ["!app/"]}]}))
        .await
        .ok();
    assert_eq!(names(&f), vec!["other"]);
    let f = sm(&s, "ListSecrets", json!({"Filters": [{"Key": "tag-value", "Values": ["app/b"]}]}))
        .await
        .ok();
    assert_eq!(names(&f), vec!["app/b"]);
    assert!(f["SecretList"][0]["SecretVersionsToStages"].is_object());
    sm(&s, "ListSecrets", json!({"Filters": [{"Key": "color", "Values": ["x"]}]}))
        .await
        .err("ValidationException");
    sm(&s, "ListSecrets", json!({"NextToken": "nope"})).await.err("InvalidNextTokenException");

    sm(&s, "DeleteSecret", json!({"SecretId": "app/a", "RecoveryWindowInDays": 3}))
        .await
        .err("InvalidParameterException");
    sm(
        &s,
        "DeleteSecret",
        json!({"SecretId": "app/a", "RecoveryWindowInDays": 7, "ForceDeleteWithoutRecovery": true}),
    )
    .await
    .err("InvalidParameterException");
    let del =
        sm(&s, "DeleteSecret", json!({"SecretId": "app/a", "RecoveryWindowInDays": 7})).await.ok();
    assert_eq!(del["DeletionDate"], json!((NOW_MS + 7 * 86_400_000) as f64 / 1000.0));
    let a =
        sm(&s, "GetSecretValue", json!({"SecretId": "app/a"})).await.err("InvalidRequestException");
    assert!(a.message().contains("marked for deletion"));
    sm(&s, "PutSecretValue", json!({"SecretId": "app/a", "SecretString": "w"}))
        .await
        .err("InvalidRequestException");
    sm(&s, "CreateSecret", json!({"Name": "app/a", "SecretString": "v"}))
        .await
        .err("InvalidRequestException");
    assert!(sm(&s, "DescribeSecret", json!({"SecretId": "app/a"})).await.ok()["DeletedDate"]
        .is_number());
    assert_eq!(names(&sm(&s, "ListSecrets", json!({})).await.ok()).len(), 3);
    assert_eq!(
        names(&sm(&s, "ListSecrets", json!({"IncludePlannedDeletion": true})).await.ok()).len(),
        4
    );
    sm(&s, "RestoreSecret", json!({"SecretId": "app/a"})).await.ok();
    sm(&s, "GetSecretValue", json!({"SecretId": "app/a"})).await.ok();

    // Past its deletion date a secret is gone and its name free again.
    sm(&s, "DeleteSecret", json!({"SecretId": "app/b", "RecoveryWindowInDays": 7})).await.ok();
    s.clock.advance_millis(8 * 86_400_000);
    sm(&s, "DescribeSecret", json!({"SecretId": "app/b"})).await.err("ResourceNotFoundException");
    sm(&s, "CreateSecret", json!({"Name": "app/b", "SecretString": "again"})).await.ok();

    sm(&s, "DeleteSecret", json!({"SecretId": "app/c", "ForceDeleteWithoutRecovery": true}))
        .await
        .ok();
    let a = sm(&s, "GetSecretValue", json!({"SecretId": "app/c"}))
        .await
        .err("ResourceNotFoundException");
    assert_eq!(a.message(), "Secrets Manager can't find the specified secret.");
    sm(&s, "GetSecretValue", json!({})).await.err("ValidationException");
}

async fn resolve_now(s: &Server, value_from: &str) -> Result<String, ResolveError> {
    resolve(&*s.store, REGION, value_from, Timestamp::from_millis(NOW_MS)).await
}

#[tokio::test]
async fn the_resolver_reads_parameters_and_secrets_as_ecs_does() {
    let s = server();
    put(&s, "/app/db/pass", "hunter2", "SecureString").await;
    put(&s, "plain", "p1", "String").await;
    ssm(&s, "PutParameter", json!({"Name": "plain", "Value": "p2", "Overwrite": true})).await.ok();
    assert_eq!(resolve_now(&s, "/app/db/pass").await.unwrap(), "hunter2");
    assert_eq!(resolve_now(&s, "plain").await.unwrap(), "p2");
    assert_eq!(resolve_now(&s, "plain:1").await.unwrap(), "p1");
    let arn = "arn:aws:ssm:us-east-1:123456789012:parameter/app/db/pass";
    assert_eq!(resolve_now(&s, arn).await.unwrap(), "hunter2");
    assert_eq!(
        resolve_now(&s, "/app/missing").await.unwrap_err().to_string(),
        "fetching secret data from SSM Parameter Store in us-east-1: invalid parameters: /app/missing"
    );
    // An ARN in another region is looked up there.
    let elsewhere = "arn:aws:ssm:eu-west-1:123456789012:parameter/app/db/pass";
    assert_eq!(
        resolve_now(&s, elsewhere).await.unwrap_err().to_string(),
        format!("fetching secret data from SSM Parameter Store in eu-west-1: invalid parameters: {elsewhere}")
    );

    let created = sm(&s, "CreateSecret", json!({"Name": "db", "SecretString": "{\"user\":\"admin\",\"port\":5432,\"pass\":\"s3cr3t\"}"})).await.ok();
    let sarn = created["ARN"].as_str().unwrap().to_owned();
    let v1 = created["VersionId"].as_str().unwrap().to_owned();
    sm(
        &s,
        "PutSecretValue",
        json!({"SecretId": "db", "SecretString": "{\"user\":\"root\",\"pass\":\"n3w\"}"}),
    )
    .await
    .ok();
    assert_eq!(resolve_now(&s, &sarn).await.unwrap(), "{\"user\":\"root\",\"pass\":\"n3w\"}");
    assert_eq!(resolve_now(&s, &format!("{sarn}:user::")).await.unwrap(), "root");
    assert_eq!(resolve_now(&s, &format!("{sarn}:user:AWSPREVIOUS:")).await.unwrap(), "admin");
    assert_eq!(resolve_now(&s, &format!("{sarn}:port::{v1}")).await.unwrap(), "5432");
    let partial = &sarn[..sarn.len() - 7];
    assert_eq!(resolve_now(&s, &format!("{partial}:pass::")).await.unwrap(), "n3w");

    let e = resolve_now(&s, &format!("{sarn}:nokey::")).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        "fetching secret data from AWS Secrets Manager in region us-east-1: retrieved secret from \
         Secrets Manager did not contain json key nokey"
    );
    let ghost = "arn:aws:secretsmanager:us-east-1:123456789012:secret:ghost-AbCdEf";
    assert_eq!(
        resolve_now(&s, ghost).await.unwrap_err(),
        ResolveError::NotFound(format!(
            "fetching secret data from AWS Secrets Manager in region us-east-1: secret {ghost}: \
             ResourceNotFoundException: Secrets Manager can't find the specified secret."
        ))
    );
    let e = resolve_now(&s, &format!("{sarn}:user:AWSPENDING:")).await.unwrap_err();
    assert!(e.to_string().contains("staging label: AWSPENDING"), "{e}");
    let e = resolve_now(&s, &format!("{sarn}:user")).await.unwrap_err();
    assert!(matches!(e, ResolveError::Invalid(_)));
    assert!(
        e.to_string().contains("an invalid ARN format for the AWS Secrets Manager secret"),
        "{e}"
    );

    // A plain-text secret asked for a JSON key: an error that does not quote the value.
    sm(&s, "CreateSecret", json!({"Name": "token", "SecretString": "tok-VERY-SECRET"})).await.ok();
    let tarn = sm(&s, "DescribeSecret", json!({"SecretId": "token"})).await.ok()["ARN"]
        .as_str()
        .unwrap()
        .to_owned();
    let e = resolve_now(&s, &format!("{tarn}:k::")).await.unwrap_err().to_string();
    assert!(e.contains("not a JSON object") && !e.contains("VERY-SECRET"), "{e}");

    sm(&s, "DeleteSecret", json!({"SecretId": "token"})).await.ok();
    let e = resolve_now(&s, &tarn).await.unwrap_err().to_string();
    assert!(e.contains("InvalidRequestException") && e.contains("marked for deletion"), "{e}");
    assert!(!e.contains("VERY-SECRET"));
}

#[tokio::test]
async fn odd_input_never_gets_a_server_error() {
    let s = server();
    put(&s, "/x", "v", "String").await;
    sm(&s, "CreateSecret", json!({"Name": "x", "SecretString": "v"})).await.ok();
    let ssm_ops = [
        "PutParameter",
        "GetParameter",
        "GetParameters",
        "GetParametersByPath",
        "GetParameterHistory",
        "DescribeParameters",
        "DeleteParameter",
        "DeleteParameters",
        "AddTagsToResource",
        "RemoveTagsFromResource",
        "ListTagsForResource",
    ];
    let sm_ops = [
        "CreateSecret",
        "GetSecretValue",
        "PutSecretValue",
        "UpdateSecret",
        "DescribeSecret",
        "ListSecrets",
        "ListSecretVersionIds",
        "DeleteSecret",
        "RestoreSecret",
        "TagResource",
        "UntagResource",
    ];
    let bodies = [
        json!({}),
        json!({"Name": "", "Names": [], "Path": "", "SecretId": "", "MaxResults": 0}),
        json!({"Name": "ü/é:", "Names": ["arn:aws:ssm:::parameter/"], "Path": "//", "SecretId": "arn:aws:secretsmanager:us-east-1:1:secret:é-ééé"}),
        json!({"Name": "/x:99999999999999999999999", "SecretId": "x", "NextToken": "ffffffffffffffffffff", "MaxResults": 5}),
        json!({"Name": 5, "Names": "x", "SecretId": ["x"], "Tags": {"a": 1}}),
        json!({"ResourceType": "Parameter", "ResourceId": "/x", "Tags": [{}], "TagKeys": [], "SecretId": "x", "RecoveryWindowInDays": -1}),
    ];
    for body in &bodies {
        for op in ssm_ops {
            let a = ssm(&s, op, body.clone()).await;
            assert!(
                a.status.is_success() || a.status == StatusCode::BAD_REQUEST,
                "{op} {body}: {}",
                a.json
            );
        }
        for op in sm_ops {
            let a = sm(&s, op, body.clone()).await;
            assert!(
                a.status.is_success() || a.status == StatusCode::BAD_REQUEST,
                "{op} {body}: {}",
                a.json
            );
        }
    }
    // ListSecrets resumed far beyond the end is an empty page, not an overflow.
    let far = wharf_api::pagination::encode(&usize::MAX.to_string());
    let a = sm(&s, "ListSecrets", json!({"NextToken": far})).await.ok();
    assert_eq!(a["SecretList"], json!([]));
}
