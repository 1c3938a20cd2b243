//! A small AWS JSON 1.1 client for the `wharf` commands that talk to a
//! running server (`wharf logs`, ...): one POST per operation, the target in
//! `X-Amz-Target`, errors as `{"__type", "message"}`. ELBv2 speaks the Query
//! protocol instead ([`ApiClient::query`]): a form in, XML out.

use std::time::Duration;

use anyhow::{bail, Context};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

/// How long one call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// A client of one Wharf server.
#[derive(Debug, Clone)]
pub struct ApiClient {
    client: Client<HttpConnector, Full<Bytes>>,
    endpoint: String,
    region: String,
}

/// A service's `X-Amz-Target` prefix.
#[derive(Debug, Clone, Copy)]
pub enum Service {
    /// Amazon ECS.
    Ecs,
    /// CloudWatch Logs.
    Logs,
    /// Wharf's own operations (`wharf_api::wharf_ops_api`).
    Wharf,
    /// Application Auto Scaling.
    ApplicationAutoScaling,
}

impl Service {
    fn prefix(self) -> &'static str {
        match self {
            Self::Ecs => "AmazonEC2ContainerServiceV20141113",
            Self::Logs => "Logs_20140328",
            Self::Wharf => wharf_api::wharf_ops_api::TARGET_PREFIX,
            Self::ApplicationAutoScaling => wharf_api::application_autoscaling::TARGET_PREFIX,
        }
    }
}

impl ApiClient {
    /// A client of the server at `endpoint` (`http://host:port`), for `region`.
    pub fn new(endpoint: &str, region: &str) -> Self {
        let client = Client::builder(TokioExecutor::new()).build_http();
        Self {
            client,
            endpoint: endpoint.trim_end_matches('/').to_owned(),
            region: region.to_owned(),
        }
    }

    /// The same server, for another region.
    pub fn for_region(&self, region: &str) -> Self {
        Self { region: region.to_owned(), ..self.clone() }
    }

    /// The region calls are made in.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// Calls one ELBv2 (Query protocol) operation with its form parameters
    /// (`TargetGroupArn`, `Names.member.1`, ...); the `<Op>Result` element as
    /// JSON ([`crate::query_xml`]), or the server's error as `<Code>: <message>`.
    pub async fn query(&self, action: &str, params: &[(&str, &str)]) -> anyhow::Result<Value> {
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.append_pair("Action", action).append_pair("Version", wharf_model::elbv2::API_VERSION);
        for (k, v) in params {
            form.append_pair(k, v);
        }
        let request = http::Request::post(format!("{}/", self.endpoint))
            .header(http::header::CONTENT_TYPE, "application/x-www-form-urlencoded; charset=utf-8")
            .header(http::header::AUTHORIZATION, self.authorization("elasticloadbalancing"))
            .body(Full::new(Bytes::from(form.finish())))?;
        let (status, bytes) = self.send(action, request).await?;
        let text = String::from_utf8_lossy(&bytes);
        let (_, mut document) = crate::query_xml::parse(&text)
            .with_context(|| format!("{action}: unreadable answer ({status})"))?;
        if !status.is_success() {
            let error = &document["Error"];
            bail!(
                "{}: {}",
                error["Code"].as_str().unwrap_or(status.as_str()),
                error["Message"].as_str().unwrap_or_default()
            );
        }
        Ok(document[format!("{action}Result")].take())
    }

    /// Calls one EC2 (its Query protocol) operation with its form parameters
    /// (`Filter.1.Name`, ...); the `<Op>Response` element as JSON, or the
    /// server's error as `<Code>: <message>`.
    pub async fn ec2(&self, action: &str, params: &[(&str, &str)]) -> anyhow::Result<Value> {
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.append_pair("Action", action).append_pair("Version", wharf_model::ec2::API_VERSION);
        for (k, v) in params {
            form.append_pair(k, v);
        }
        let request = http::Request::post(format!("{}/", self.endpoint))
            .header(http::header::CONTENT_TYPE, "application/x-www-form-urlencoded; charset=utf-8")
            .header(http::header::AUTHORIZATION, self.authorization("ec2"))
            .body(Full::new(Bytes::from(form.finish())))?;
        let (status, bytes) = self.send(action, request).await?;
        let text = String::from_utf8_lossy(&bytes);
        let (_, document) = crate::query_xml::parse(&text)
            .with_context(|| format!("{action}: unreadable answer ({status})"))?;
        if !status.is_success() {
            let error = &document["Errors"]["Error"];
            bail!(
                "{}: {}",
                error["Code"].as_str().unwrap_or(status.as_str()),
                error["Message"].as_str().unwrap_or_default()
            );
        }
        Ok(document)
    }

    /// A SigV4-shaped `Authorization` header naming the region: only the
    /// credential scope's region matters to Wharf; the signature is not checked.
    fn authorization(&self, service: &str) -> String {
        format!(
            "AWS4-HMAC-SHA256 Credential=wharf/20260101/{}/{service}/aws4_request, SignedHeaders=host, Signature=0",
            self.region
        )
    }

    /// Sends one request: the answer's status and body.
    async fn send(
        &self,
        operation: &str,
        request: http::Request<Full<Bytes>>,
    ) -> anyhow::Result<(http::StatusCode, Bytes)> {
        let response = tokio::time::timeout(CALL_TIMEOUT, self.client.request(request))
            .await
            .with_context(|| format!("{operation}: no answer from {}", self.endpoint))?
            .with_context(|| format!("cannot reach the Wharf server at {}", self.endpoint))?;
        let status = response.status();
        let bytes = response.into_body().collect().await?.to_bytes();
        Ok((status, bytes))
    }

    /// Calls one operation; its answer, or the server's error as
    /// `<Type>: <message>`.
    pub async fn call<I: Serialize, O: DeserializeOwned>(
        &self,
        service: Service,
        operation: &str,
        input: &I,
    ) -> anyhow::Result<O> {
        let body = serde_json::to_vec(input)?;
        let authorization = self.authorization("wharf");
        let request = http::Request::post(format!("{}/", self.endpoint))
            .header("x-amz-target", format!("{}.{operation}", service.prefix()))
            .header(http::header::CONTENT_TYPE, "application/x-amz-json-1.1")
            .header(http::header::AUTHORIZATION, authorization)
            .body(Full::new(Bytes::from(body)))?;
        let (status, bytes) = self.send(operation, request).await?;
        if !status.is_success() {
            #[derive(serde::Deserialize)]
            struct Error {
                #[serde(rename = "__type", default)]
                kind: String,
                #[serde(default, alias = "Message")]
                message: String,
            }
            let e: Error = serde_json::from_slice(&bytes).unwrap_or(Error {
                kind: status.to_string(),
                message: String::from_utf8_lossy(&bytes).into_owned(),
            });
            bail!("{}: {}", e.kind, e.message);
        }
        let bytes: &[u8] = if bytes.is_empty() { b"{}" } else { &bytes };
        serde_json::from_slice(bytes).with_context(|| format!("{operation}: unreadable answer"))
    }

    /// GETs one of Wharf's own JSON resources (`/_wharf/v1/...`), with
    /// `query` already encoded.
    pub async fn get_wharf<O: DeserializeOwned>(
        &self,
        path: &str,
        query: &str,
    ) -> anyhow::Result<O> {
        let response = self.get(path, query).await?;
        let status = response.status();
        let bytes = response.into_body().collect().await?.to_bytes();
        if !status.is_success() {
            bail!("{path}: {status}: {}", String::from_utf8_lossy(&bytes));
        }
        serde_json::from_slice(&bytes).with_context(|| format!("{path}: unreadable answer"))
    }

    /// Opens one of Wharf's own streaming resources (`/_wharf/v1/changes`)
    /// with `query` already encoded: its body, once the headers have come.
    pub async fn open_wharf_stream(
        &self,
        path: &str,
        query: &str,
    ) -> anyhow::Result<hyper::body::Incoming> {
        let response = self.get(path, query).await?;
        let status = response.status();
        if !status.is_success() {
            bail!("{path}: {status}");
        }
        Ok(response.into_body())
    }

    /// GETs `path?query` from the server: its answer once the headers came.
    async fn get(
        &self,
        path: &str,
        query: &str,
    ) -> anyhow::Result<http::Response<hyper::body::Incoming>> {
        let request = http::Request::get(format!("{}{path}?{query}", self.endpoint))
            .body(Full::new(Bytes::new()))?;
        tokio::time::timeout(CALL_TIMEOUT, self.client.request(request))
            .await
            .with_context(|| format!("{path}: no answer from {}", self.endpoint))?
            .with_context(|| format!("cannot reach the Wharf server at {}", self.endpoint))
    }
}

/// Percent-encodes a query value.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
