//! The agent link to a server on another host: the calls of
//! [`ServerLink`] as HTTP requests to the server's `/_wharf/agent/v1/`
//! endpoints, and the assignment watch as one long streamed response read
//! line by line.
//!
//! The link knows every server (`--endpoint a,b,c`). A call goes to the
//! server it last reached; when that one does not answer (or answers with a
//! server error) the call moves on to the next, so a report is delivered as
//! long as one server lives (reports are merges: delivering one twice is
//! harmless). A watch that hears nothing, not even the server's keepalive,
//! for [`WATCH_SILENCE_MS`] is given up, and the agent watches again through
//! another server.
//!
//! With credentials ([`RemoteLink::signed_by`]) every request is SigV4-signed
//! for service `ecs`, as the ECS agent signs its calls; the server then
//! authorises each by the credentials' policies, for this agent's cluster.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::api_client::encode;
use async_trait::async_trait;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::sync::mpsc;
use wharf_agent::link::{LinkError, ServerLink};
use wharf_model::agent::{
    ExecGrant, Heartbeat, HeartbeatReply, LogBatch, LogDestination, PullProgressReport, RoleKind,
    TaskRoleCredentials, WatchEvent, WATCH_SILENCE_MS,
};
use wharf_model::ecs::shapes::{ContainerInstance, RegisterContainerInstanceRequest, Task};

/// How long a request other than the watch may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a heartbeat may take: one that hangs on a dead link is given up
/// quickly and the next one tried.
const HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(3);

/// The HTTP (or HTTPS) link.
#[derive(Debug, Clone)]
pub struct RemoteLink {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    /// Every server, `http://host:port`.
    endpoints: Arc<[String]>,
    /// The one calls go to first.
    current: Arc<AtomicUsize>,
    region: String,
    token: Option<String>,
    /// The agent's own credentials, which sign every request when given.
    credentials: Option<wharf_auth::sigv4::SigningCredentials>,
    /// The agent's cluster, named in calls that concern no other.
    cluster: String,
}

impl RemoteLink {
    /// A link to the servers at `endpoints` (`http://host:port`, comma-separated).
    /// Its `https://` connections trust `tls` (see [`tls_client`]).
    pub fn new(
        endpoints: &str,
        region: &str,
        token: Option<String>,
        tls: rustls::ClientConfig,
    ) -> Self {
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .build();
        let client = Client::builder(TokioExecutor::new()).build(connector);
        let endpoints: Vec<String> = endpoints
            .split(',')
            .map(|e| e.trim().trim_end_matches('/').to_owned())
            .filter(|e| !e.is_empty())
            .collect();
        Self {
            client,
            endpoints: endpoints.into(),
            current: Arc::default(),
            region: region.to_owned(),
            token,
            credentials: None,
            cluster: String::new(),
        }
    }

    /// Signs every request with the agent's own credentials.
    pub fn signed_by(mut self, credentials: wharf_auth::sigv4::SigningCredentials) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// Names the agent's cluster in the calls that carry none of their own
    /// (secrets, logs, pull progress), so the server authorises them for it.
    pub fn for_cluster(mut self, cluster: &str) -> Self {
        self.cluster = cluster.to_owned();
        self
    }

    fn url(&self, at: usize, path: &str, cluster: &str, instance: &str) -> String {
        let cluster = if cluster.is_empty() { &self.cluster } else { cluster };
        format!(
            "{}/_wharf/agent/v1/{path}?region={}&cluster={}&instance={}",
            self.endpoints[at % self.endpoints.len().max(1)],
            encode(&self.region),
            encode(cluster),
            encode(instance)
        )
    }

    /// Tries `attempt` on each server in turn from the current one, until
    /// one answers (or refuses); the next calls start at the one that did.
    async fn on_any<T, F, Fut>(&self, attempt: F) -> Result<T, LinkError>
    where
        F: Fn(usize) -> Fut,
        Fut: std::future::Future<Output = Result<T, LinkError>>,
    {
        let n = self.endpoints.len();
        if n == 0 {
            return Err(LinkError::Refused("no server endpoint was given".into()));
        }
        let start = self.current.load(Ordering::Relaxed);
        let mut last = LinkError::Unavailable("no server answered".into());
        for i in 0..n {
            let at = (start + i) % n;
            match attempt(at).await {
                Err(LinkError::Unavailable(e)) => {
                    tracing::debug!(server = %self.endpoints[at], error = %e, "trying the next server");
                    last = LinkError::Unavailable(format!("{}: {e}", self.endpoints[at]));
                }
                other => {
                    if i > 0 {
                        self.current.store(at, Ordering::Relaxed);
                    }
                    return other;
                }
            }
        }
        // None answered: start the next call at another server.
        self.current.store((start + 1) % n, Ordering::Relaxed);
        Err(last)
    }

    async fn send(
        &self,
        method: http::Method,
        url: String,
        body: Vec<u8>,
    ) -> Result<http::Response<hyper::body::Incoming>, LinkError> {
        let mut req = http::Request::builder()
            .method(method.clone())
            .uri(&url)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::new()))
            .map_err(|e| LinkError::Refused(e.to_string()))?;
        if let Some(t) = &self.token {
            let value = http::HeaderValue::from_str(&format!("Bearer {t}"))
                .map_err(|e| LinkError::Refused(e.to_string()))?;
            req.headers_mut().insert(http::header::AUTHORIZATION, value);
        }
        if let Some(credentials) = &self.credentials {
            crate::api_client::sign_request(&mut req, &body, credentials, &self.region, "ecs");
        }
        let req = req.map(|_| Full::new(Bytes::from(body)));
        self.client.request(req).await.map_err(|e| LinkError::Unavailable(e.to_string()))
    }

    /// A call with a JSON answer (or none), on whichever server answers.
    async fn call(&self, path: &str, cluster: &str, body: Vec<u8>) -> Result<Bytes, LinkError> {
        self.on_any(|at| self.call_at(at, CALL_TIMEOUT, (path, cluster, ""), body.clone())).await
    }

    /// A call to server `at` that must be answered within `timeout`, at
    /// `(path, cluster, instance)`.
    async fn call_at(
        &self,
        at: usize,
        timeout: Duration,
        (path, cluster, instance): (&str, &str, &str),
        body: Vec<u8>,
    ) -> Result<Bytes, LinkError> {
        let url = self.url(at, path, cluster, instance);
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

/// The TLS client configuration of the link: the public web's roots (Mozilla's,
/// from webpki-roots) and the certificates of `extra` (a private CA, or the
/// server's own self-signed certificate: `wharf agent --tls-ca`).
pub fn tls_client(
    extra: &[rustls::pki_types::CertificateDer<'static>],
) -> anyhow::Result<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    for cert in extra {
        roots.add(cert.clone()).map_err(|e| anyhow::anyhow!("a --tls-ca certificate: {e}"))?;
    }
    // ring, as the server uses (see crate::listen).
    #[allow(deprecated)]
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth())
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
        let resp = self
            .on_any(|at| async move {
                let url = self.url(at, "watch", cluster, instance);
                let resp =
                    tokio::time::timeout(CALL_TIMEOUT, self.send(http::Method::GET, url, vec![]))
                        .await
                        .map_err(|_| LinkError::Unavailable("watch timed out".into()))??;
                if !resp.status().is_success() {
                    let status = resp.status();
                    let bytes =
                        resp.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                    return Err(answer_error(status, &bytes));
                }
                Ok(resp)
            })
            .await?;
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
        let beat = to_json(&heartbeat)?;
        let at = ("heartbeat", cluster, instance);
        let body = self.on_any(|n| self.call_at(n, HEARTBEAT_TIMEOUT, at, beat.clone())).await?;
        serde_json::from_slice(&body).map_err(|e| LinkError::Unavailable(e.to_string()))
    }

    async fn dns_table(&self) -> Result<wharf_model::servicediscovery::dns::Table, LinkError> {
        let answer = self.call("dns-table", "", b"{}".to_vec()).await?;
        serde_json::from_slice(&answer).map_err(|e| LinkError::Unavailable(e.to_string()))
    }

    async fn open_exec(
        &self,
        cluster: &str,
        instance_arn: &str,
        session_id: &str,
        token: &str,
    ) -> Result<ExecGrant, LinkError> {
        let (instance, _) = wharf_model::arn::resource_id(instance_arn, "container-instance");
        let body = to_json(&serde_json::json!({ "sessionId": session_id, "tokenValue": token }))?;
        let at = ("exec-session", cluster, instance);
        let answer = self.on_any(|n| self.call_at(n, CALL_TIMEOUT, at, body.clone())).await?;
        serde_json::from_slice(&answer).map_err(|e| LinkError::Unavailable(e.to_string()))
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

    async fn resolve_task_secret(
        &self,
        task_arn: &str,
        value_from: &str,
    ) -> Result<String, LinkError> {
        let body = serde_json::json!({ "taskArn": task_arn, "valueFrom": value_from });
        let answer = self.call("task-secret", "", to_json(&body)?).await?;
        #[derive(serde::Deserialize)]
        struct Value {
            value: String,
        }
        serde_json::from_slice::<Value>(&answer)
            .map(|v| v.value)
            .map_err(|e| LinkError::Unavailable(e.to_string()))
    }

    async fn check_execution_role(
        &self,
        task_arn: &str,
        action: &str,
        resource: &str,
    ) -> Result<(), LinkError> {
        let body =
            serde_json::json!({ "taskArn": task_arn, "action": action, "resource": resource });
        self.call("execution-check", "", to_json(&body)?).await.map(|_| ())
    }

    async fn role_credentials(
        &self,
        task_arn: &str,
        kind: RoleKind,
    ) -> Result<TaskRoleCredentials, LinkError> {
        let body = serde_json::json!({ "taskArn": task_arn, "kind": kind });
        let answer = self.call("role-credentials", "", to_json(&body)?).await?;
        serde_json::from_slice(&answer).map_err(|e| LinkError::Unavailable(e.to_string()))
    }
}
