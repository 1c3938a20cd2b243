//! A small AWS JSON 1.1 client for the `wharf` commands that talk to a
//! running server (`wharf logs`, ...): one POST per operation, the target in
//! `X-Amz-Target`, errors as `{"__type", "message"}`. ELBv2 speaks the Query
//! protocol instead ([`ApiClient::query`]): a form in, XML out.
//!
//! A server on a network checks who calls and may speak TLS. The client
//! reads what the AWS CLI reads from the environment ([`ClientSecurity`]):
//! with `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` (and
//! `AWS_SESSION_TOKEN`) every request is SigV4-signed; `https://` endpoints
//! are trusted by the public roots and the certificates of `AWS_CA_BUNDLE`.

use std::time::Duration;

use anyhow::{bail, Context};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
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
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    endpoint: String,
    region: String,
    security: ClientSecurity,
}

/// What a client presents and trusts, from the environment as the AWS CLI
/// reads it.
#[derive(Debug, Clone)]
pub struct ClientSecurity {
    /// The keys that sign requests, when given.
    pub credentials: Option<wharf_auth::sigv4::SigningCredentials>,
    /// The certificates `https://` (and `wss://`) endpoints are checked against.
    pub tls: std::sync::Arc<rustls::ClientConfig>,
}

impl ClientSecurity {
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, and
    /// the PEM file `AWS_CA_BUNDLE` names (certificates trusted beside the
    /// public roots: a private CA, or the server's self-signed certificate).
    pub fn from_env() -> anyhow::Result<Self> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let credentials = match (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) {
            (Some(access_key_id), Some(secret_access_key)) => {
                Some(wharf_auth::sigv4::SigningCredentials {
                    access_key_id,
                    secret_access_key,
                    session_token: var("AWS_SESSION_TOKEN"),
                })
            }
            _ => None,
        };
        let extra = match var("AWS_CA_BUNDLE") {
            Some(path) => {
                use rustls::pki_types::pem::PemObject;
                rustls::pki_types::CertificateDer::pem_file_iter(&path)
                    .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                    .with_context(|| {
                        format!("AWS_CA_BUNDLE: cannot read certificates from {path}")
                    })?
            }
            None => Vec::new(),
        };
        let tls = std::sync::Arc::new(crate::remote_link::tls_client(&extra)?);
        Ok(Self { credentials, tls })
    }
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
    /// The SigV4 signing name its requests are scoped to.
    fn signing_name(self) -> &'static str {
        match self {
            Self::Ecs => "ecs",
            Self::Logs => "logs",
            Self::Wharf => "wharf",
            Self::ApplicationAutoScaling => "application-autoscaling",
        }
    }

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
    /// A client of the server at `endpoint` (`http://host:port` or
    /// `https://...`), for `region`, secured as the environment says
    /// ([`ClientSecurity::from_env`]).
    pub fn new(endpoint: &str, region: &str) -> anyhow::Result<Self> {
        Ok(Self::secured(endpoint, region, ClientSecurity::from_env()?))
    }

    /// A client of the server at `endpoint` that signs and trusts as `security` says.
    pub fn secured(endpoint: &str, region: &str, security: ClientSecurity) -> Self {
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config((*security.tls).clone())
            .https_or_http()
            .enable_http1()
            .build();
        Self {
            client: Client::builder(TokioExecutor::new()).build(connector),
            endpoint: endpoint.trim_end_matches('/').to_owned(),
            region: region.to_owned(),
            security,
        }
    }

    /// What this client signs with and trusts.
    pub fn security(&self) -> &ClientSecurity {
        &self.security
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
        let body = Bytes::from(form.finish());
        let request = http::Request::post(format!("{}/", self.endpoint))
            .header(http::header::CONTENT_TYPE, "application/x-www-form-urlencoded; charset=utf-8")
            .body(Full::new(Bytes::new()))?;
        let request = self.signed(request, body, "elasticloadbalancing");
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
        let body = Bytes::from(form.finish());
        let request = http::Request::post(format!("{}/", self.endpoint))
            .header(http::header::CONTENT_TYPE, "application/x-www-form-urlencoded; charset=utf-8")
            .body(Full::new(Bytes::new()))?;
        let request = self.signed(request, body, "ec2");
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

    /// `request` with `body`, SigV4-signed for `service` with the client's
    /// credentials. Without credentials it carries a SigV4-shaped
    /// `Authorization` header naming the region and no signature: a server
    /// that checks none reads only the credential scope's region.
    fn signed(
        &self,
        mut request: http::Request<Full<Bytes>>,
        body: Bytes,
        service: &str,
    ) -> http::Request<Full<Bytes>> {
        match &self.security.credentials {
            Some(credentials) => {
                sign_request(&mut request, &body, credentials, &self.region, service);
            }
            None => {
                let unsigned = format!(
                    "AWS4-HMAC-SHA256 Credential=wharf/20260101/{}/{service}/aws4_request, SignedHeaders=host, Signature=0",
                    self.region
                );
                if let Ok(v) = http::HeaderValue::from_str(&unsigned) {
                    request.headers_mut().insert(http::header::AUTHORIZATION, v);
                }
            }
        }
        request.map(|_| Full::new(body))
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
        let body = Bytes::from(serde_json::to_vec(input)?);
        let request = http::Request::post(format!("{}/", self.endpoint))
            .header("x-amz-target", format!("{}.{operation}", service.prefix()))
            .header(http::header::CONTENT_TYPE, "application/x-amz-json-1.1")
            .body(Full::new(Bytes::new()))?;
        let request = self.signed(request, body, service.signing_name());
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
        let request = self.signed(request, Bytes::new(), "ecs");
        tokio::time::timeout(CALL_TIMEOUT, self.client.request(request))
            .await
            .with_context(|| format!("{path}: no answer from {}", self.endpoint))?
            .with_context(|| format!("cannot reach the Wharf server at {}", self.endpoint))
    }
}

/// Adds the SigV4 headers to `request` (whose body is `body`) for `service`
/// in `region`, signed now: `host` included, as the client sends it.
pub fn sign_request<B>(
    request: &mut http::Request<B>,
    body: &[u8],
    credentials: &wharf_auth::sigv4::SigningCredentials,
    region: &str,
    service: &str,
) {
    let uri = request.uri().clone();
    if let Some(host) = uri.authority().and_then(|a| http::HeaderValue::from_str(a.as_str()).ok()) {
        request.headers_mut().insert(http::header::HOST, host);
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let method = request.method().clone();
    wharf_auth::sigv4::sign(
        method.as_str(),
        uri.path(),
        uri.query().unwrap_or(""),
        request.headers_mut(),
        body,
        credentials,
        region,
        service,
        now,
    );
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
