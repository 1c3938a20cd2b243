//! The agent link to a server on another host: the calls of
//! [`ServerLink`] as HTTP requests to the server's `/_wharf/agent/v1/`
//! endpoints, and the assignment watch as one long streamed response read
//! line by line.

use std::time::Duration;

use crate::api_client::encode;
use async_trait::async_trait;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::sync::mpsc;
use wharf_agent::link::{LinkError, ServerLink};
use wharf_model::agent::{
    Heartbeat, HeartbeatReply, LogBatch, LogDestination, PullProgressReport, WatchEvent,
    WATCH_SILENCE_MS,
};
use wharf_model::ecs::shapes::{ContainerInstance, RegisterContainerInstanceRequest, Task};

/// How long a request other than the watch may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a heartbeat may take: one that hangs on a dead link is given up
/// quickly and the next one tried.
const HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(3);

/// The HTTP link.
#[derive(Debug, Clone)]
pub struct RemoteLink {
    client: Client<HttpConnector, Full<Bytes>>,
    endpoint: String,
    region: String,
    token: Option<String>,
}

impl RemoteLink {
    /// A link to the server at `endpoint` (`http://host:port`).
    pub fn new(endpoint: &str, region: &str, token: Option<String>) -> Self {
        let client = Client::builder(TokioExecutor::new()).build_http();
        Self {
            client,
            endpoint: endpoint.trim_end_matches('/').to_owned(),
            region: region.to_owned(),
            token,
        }
    }

    fn url(&self, path: &str, cluster: &str, instance: &str) -> String {
        format!(
            "{}/_wharf/agent/v1/{path}?region={}&cluster={}&instance={}",
            self.endpoint,
            encode(&self.region),
            encode(cluster),
            encode(instance)
        )
    }

    async fn send(
        &self,
        method: http::Method,
        url: String,
        body: Vec<u8>,
    ) -> Result<http::Response<hyper::body::Incoming>, LinkError> {
        let mut req = http::Request::builder().method(method).uri(&url);
        if let Some(t) = &self.token {
            req = req.header(http::header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let req = req
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| LinkError::Refused(e.to_string()))?;
        self.client.request(req).await.map_err(|e| LinkError::Unavailable(e.to_string()))
    }

    /// A call with a JSON answer (or none).
    async fn call(&self, path: &str, cluster: &str, body: Vec<u8>) -> Result<Bytes, LinkError> {
        self.call_within(CALL_TIMEOUT, self.url(path, cluster, ""), body).await
    }

    /// A call to `url` that must be answered within `timeout`.
    async fn call_within(
        &self,
        timeout: Duration,
        url: String,
        body: Vec<u8>,
    ) -> Result<Bytes, LinkError> {
        let path = url.clone();
        let answer = tokio::time::timeout(timeout, async {
            let resp = self.send(http::Method::POST, url, body).await?;
            let status = resp.status();
            let bytes = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| LinkError::Unavailable(e.to_string()))?
                .to_bytes();
            if status.is_success() {
                Ok(bytes)
            } else {
                Err(answer_error(status, &bytes))
            }
        })
        .await;
        answer.unwrap_or_else(|_| Err(LinkError::Unavailable(format!("{path} timed out"))))
    }
}

/// A failed answer as a link error: a server error may be retried, a
/// client error may not.
fn answer_error(status: http::StatusCode, body: &[u8]) -> LinkError {
    let message = error_message(body);
    if status.is_server_error() {
        LinkError::Unavailable(message)
    } else {
        LinkError::Refused(message)
    }
}

/// The message of an error answer (`{"__type", "message"}`).
fn error_message(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct Error {
        #[serde(default)]
        message: String,
    }
    serde_json::from_slice::<Error>(body)
        .map(|e| e.message)
        .unwrap_or_else(|_| String::from_utf8_lossy(body).into_owned())
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, LinkError> {
    serde_json::to_vec(value).map_err(|e| LinkError::Refused(e.to_string()))
}

#[async_trait]
impl ServerLink for RemoteLink {
    async fn register(
        &self,
        request: RegisterContainerInstanceRequest,
    ) -> Result<ContainerInstance, LinkError> {
        let cluster = request.cluster.clone().unwrap_or_default();
        let body = self.call("register", &cluster, to_json(&request)?).await?;
        serde_json::from_slice(&body).map_err(|e| LinkError::Unavailable(e.to_string()))
    }

    async fn watch(
        &self,
        cluster: &str,
        instance_arn: &str,
    ) -> Result<mpsc::Receiver<WatchEvent>, LinkError> {
        let (instance, _) = wharf_model::arn::resource_id(instance_arn, "container-instance");
        let url = self.url("watch", cluster, instance);
        let resp = tokio::time::timeout(CALL_TIMEOUT, self.send(http::Method::GET, url, vec![]))
            .await
            .map_err(|_| LinkError::Unavailable("watch timed out".into()))??;
        if !resp.status().is_success() {
            let status = resp.status();
            let bytes = resp.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
            return Err(answer_error(status, &bytes));
        }
        let (tx, rx) = mpsc::channel(1024);
        let mut body = resp.into_body();
        let silence = Duration::from_millis(WATCH_SILENCE_MS);
        tokio::spawn(async move {
            let mut pending: Vec<u8> = Vec::new();
            loop {
                // The server sends at least an empty line every few seconds:
                // silence means the link is gone, and the agent watches again.
                let frame = match tokio::time::timeout(silence, body.frame()).await {
                    Ok(Some(Ok(frame))) => frame,
                    Ok(_) => return,
                    Err(_) => {
                        tracing::warn!("the assignment watch fell silent");
                        return;
                    }
                };
                let Some(data) = frame.data_ref() else { continue };
                pending.extend_from_slice(data);
                while let Some(end) = pending.iter().position(|b| *b == b'\n') {
                    let line: Vec<u8> = pending.drain(..=end).collect();
                    if line.iter().all(u8::is_ascii_whitespace) {
                        continue;
                    }
                    match serde_json::from_slice::<WatchEvent>(&line) {
                        Ok(event) => {
                            if tx.send(event).await.is_err() {
                                return;
                            }
                        }
                        Err(e) => tracing::warn!(error = %e, "an assignment could not be read"),
                    }
                }
            }
        });
        Ok(rx)
    }

    async fn heartbeat(
        &self,
        cluster: &str,
        instance_arn: &str,
        heartbeat: Heartbeat,
    ) -> Result<HeartbeatReply, LinkError> {
        let (instance, _) = wharf_model::arn::resource_id(instance_arn, "container-instance");
        let url = self.url("heartbeat", cluster, instance);
        let body = self.call_within(HEARTBEAT_TIMEOUT, url, to_json(&heartbeat)?).await?;
        serde_json::from_slice(&body).map_err(|e| LinkError::Unavailable(e.to_string()))
    }

    async fn report(&self, cluster: &str, change: Task) -> Result<(), LinkError> {
        self.call("report", cluster, to_json(&change)?).await.map(|_| ())
    }

    async fn resolve_secret(&self, value_from: &str) -> Result<String, LinkError> {
        let body = serde_json::json!({ "valueFrom": value_from });
        let answer = self.call("secret", "", to_json(&body)?).await?;
        #[derive(serde::Deserialize)]
        struct Value {
            value: String,
        }
        serde_json::from_slice::<Value>(&answer)
            .map(|v| v.value)
            .map_err(|e| LinkError::Unavailable(e.to_string()))
    }

    async fn prepare_log_stream(
        &self,
        destination: &LogDestination,
        create_group: bool,
    ) -> Result<(), LinkError> {
        let body = serde_json::json!({ "destination": destination, "createGroup": create_group });
        self.call("logs/prepare", "", to_json(&body)?).await.map(|_| ())
    }

    async fn ship_logs(&self, batch: LogBatch) -> Result<(), LinkError> {
        self.call("logs/ship", "", to_json(&batch)?).await.map(|_| ())
    }

    async fn log_cursor(&self, destination: &LogDestination) -> Result<Option<String>, LinkError> {
        let answer = self.call("logs/cursor", "", to_json(destination)?).await?;
        #[derive(serde::Deserialize)]
        struct Answer {
            cursor: Option<String>,
        }
        serde_json::from_slice::<Answer>(&answer)
            .map(|a| a.cursor)
            .map_err(|e| LinkError::Unavailable(e.to_string()))
    }

    async fn pull_progress(&self, report: PullProgressReport) -> Result<(), LinkError> {
        self.call("pull-progress", "", to_json(&report)?).await.map(|_| ())
    }
}
