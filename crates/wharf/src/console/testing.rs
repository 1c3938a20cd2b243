//! What the console's tests share: a real server (the API, the console
//! routes and the service scheduler, over a SQLite store and log store in a
//! temporary directory) on a loopback port, with no agent; tests play the
//! agent through the agent link (register an instance, report tasks) and
//! make every other change through the API, as a user would.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};
use wharf_api::AppState;
use wharf_model::clock::SystemClock;
use wharf_model::ecs::shapes::Task;
use wharf_store::{LogStore, SqliteStore, Store};

use crate::api_client::{ApiClient, Service};

/// The region the tests use.
pub const REGION: &str = "us-east-1";

/// The address the harness's instances report as their host's.
pub const HOST_ADDRESS: &str = "10.0.0.5";

/// A running server for one test.
pub struct Harness {
    /// Its state (store, log store, clock).
    pub state: AppState,
    /// Where it listens.
    pub addr: SocketAddr,
    api: ApiClient,
    _stop: tokio::sync::watch::Sender<bool>,
    _dir: tempfile::TempDir,
}

impl Harness {
    /// Starts a server with the console routes and the service scheduler.
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let store = SqliteStore::open(&dir.path().join("wharf.db")).expect("store");
        let logs = LogStore::open(&dir.path().join("logs.sqlite3"), i64::MAX).expect("log store");
        let state =
            AppState::new(Arc::new(store), Arc::new(logs), Arc::new(SystemClock), "000000000000");
        let (stop, stopped) = tokio::sync::watch::channel(false);
        tokio::spawn(wharf_control::services::run(
            wharf_control::services::Scheduler { ops: state.ops.clone() },
            stopped,
        ));
        let app = wharf_api::router(state.clone()).merge(super::routes().with_state(state.clone()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        tokio::spawn(async move { axum::serve(listener, app).await });
        let api = ApiClient::new(&format!("http://{addr}"), REGION).expect("a client");
        Self { state, addr, api, _stop: stop, _dir: dir }
    }

    /// The store.
    pub fn store(&self) -> &dyn Store {
        &*self.state.ops.store
    }

    /// Calls an ECS operation; panics on an error.
    pub async fn ecs(&self, operation: &str, input: Value) -> Value {
        match self.api.call(Service::Ecs, operation, &input).await {
            Ok(v) => v,
            Err(e) => panic!("{operation}: {e:#}"),
        }
    }

    /// Calls an Application Auto Scaling operation; panics on an error.
    pub async fn autoscaling(&self, operation: &str, input: Value) -> Value {
        match self.api.call(Service::ApplicationAutoScaling, operation, &input).await {
            Ok(v) => v,
            Err(e) => panic!("{operation}: {e:#}"),
        }
    }

    /// Calls an ELBv2 action (Query protocol); the XML answer.
    pub async fn elb(&self, params: &[(&str, &str)]) -> String {
        let mut form = String::from("Version=2015-12-01");
        for (k, v) in params {
            form.push_str(&format!("&{k}={}", encode(v)));
        }
        let request = http::Request::post(format!("http://{}/", self.addr))
            .header(http::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Full::new(Bytes::from(form)))
            .expect("request");
        let (status, body) = send(request).await;
        assert!(status.is_success(), "{params:?}: {status} {body}");
        body
    }

    /// GETs a console path; the status and the body.
    pub async fn get(&self, path: &str) -> (http::StatusCode, String) {
        let request = http::Request::get(format!("http://{}{path}", self.addr))
            .body(Full::new(Bytes::new()))
            .expect("request");
        send(request).await
    }

    /// GETs a console API path and parses its JSON, expecting 200.
    pub async fn view(&self, path: &str) -> Value {
        let (status, body) = self.get(path).await;
        assert_eq!(status, http::StatusCode::OK, "{path}: {body}");
        serde_json::from_str(&body).expect("JSON")
    }

    /// Registers a container instance in `cluster` (creating the cluster),
    /// as an agent would, at [`HOST_ADDRESS`]; its ID.
    pub async fn instance(&self, cluster: &str) -> String {
        let resources = wharf_agent::host::HostResources { cpu: 1024 * 64, memory: 1024 * 256 };
        let identity = wharf_agent::host::HostIdentity {
            availability_zone: format!("{REGION}a"),
            address: Some(HOST_ADDRESS.to_owned()),
            ..Default::default()
        };
        let req = wharf_agent::host::registration(cluster, &resources, &identity, None, None);
        let ci = wharf_api::agent_link::register(&self.state, REGION, req).await.expect("register");
        crate::console::views::short_id(&ci.container_instance_arn.unwrap_or_default()).to_owned()
    }

    /// Reports a change to a task as its agent would (a partial `Task` with
    /// its ARN).
    pub async fn report(&self, cluster: &str, change: Value) {
        let task: Task = serde_json::from_value(change).expect("a Task");
        wharf_api::agent_link::report(&self.state, REGION, cluster, task).await.expect("report");
    }

    /// Registers a one-container task definition of `family` that logs with
    /// awslogs to `/ecs/<family>` under prefix `ecs`; its ARN.
    pub async fn task_definition(&self, family: &str, image: &str) -> String {
        let registered = self
            .ecs(
                "RegisterTaskDefinition",
                json!({
                    "family": family,
                    "containerDefinitions": [{
                        "name": "app", "image": image, "memory": 64,
                        "portMappings": [{"containerPort": 80, "hostPort": 0}],
                        "logConfiguration": {"logDriver": "awslogs", "options": {
                            "awslogs-group": format!("/ecs/{family}"),
                            "awslogs-region": REGION,
                            "awslogs-stream-prefix": "ecs"}}
                    }]
                }),
            )
            .await;
        registered["taskDefinition"]["taskDefinitionArn"].as_str().expect("arn").to_owned()
    }
}

async fn send(request: http::Request<Full<Bytes>>) -> (http::StatusCode, String) {
    let client = Client::builder(TokioExecutor::new()).build_http();
    let response = client.request(request).await.expect("the server answers");
    let status = response.status();
    let body = response.into_body().collect().await.expect("body").to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// Percent-encodes a form value.
fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The text of the first `<tag>` in an XML answer.
pub fn xml_field(xml: &str, tag: &str) -> String {
    let open = format!("<{tag}>");
    let start = xml.find(&open).map(|i| i + open.len()).expect("tag in the answer");
    let end = xml[start..].find('<').map(|i| start + i).expect("closing tag");
    xml[start..end].to_owned()
}

/// Polls `check` every 20 ms until it holds (the service scheduler works on
/// its own task), or panics after five seconds.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
