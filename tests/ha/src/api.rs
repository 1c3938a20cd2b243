//! The API as a client behind a load balancer uses it: each call goes to
//! one of the servers; a server that refuses the connection (dead) is
//! skipped, since the request never reached it; any other failure is the
//! call's answer (its outcome unknown).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

/// How a call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The API answered with an error: (type, message). Nothing happened.
    Refused(String, String),
    /// No answer (or a server error): the call may or may not have happened.
    Unknown(String),
}

/// The client.
#[derive(Debug, Clone)]
pub struct Api {
    http: Client<HttpConnector, Full<Bytes>>,
    endpoints: Arc<std::sync::RwLock<Vec<String>>>,
    next: Arc<AtomicUsize>,
}

impl Api {
    /// A client of these servers (`http://127.0.0.1:port`).
    pub fn new(endpoints: Vec<String>) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(Duration::from_secs(1)));
        Self {
            http: Client::builder(TokioExecutor::new()).build(connector),
            endpoints: Arc::new(std::sync::RwLock::new(endpoints)),
            next: Arc::default(),
        }
    }

    fn endpoints(&self) -> Vec<String> {
        self.endpoints.read().map(|e| e.clone()).unwrap_or_default()
    }

    async fn post(
        &self,
        endpoint: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<(u16, Vec<u8>), (bool, String)> {
        let mut req = http::Request::post(format!("{endpoint}/"));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req.body(Full::new(Bytes::from(body))).map_err(|e| (false, e.to_string()))?;
        let call = async {
            let resp = self.http.request(req).await.map_err(|e| (e.is_connect(), e.to_string()))?;
            let status = resp.status().as_u16();
            let body = resp.into_body().collect().await.map_err(|e| (false, e.to_string()))?;
            Ok((status, body.to_bytes().to_vec()))
        };
        tokio::time::timeout(Duration::from_secs(20), call)
            .await
            .unwrap_or_else(|_| Err((false, "timed out".into())))
    }

    /// Sends to the next server that accepts the connection.
    async fn send(
        &self,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<(u16, Vec<u8>), Failure> {
        let endpoints = self.endpoints();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let mut last = String::from("no server");
        for i in 0..endpoints.len() {
            let e = &endpoints[(start + i) % endpoints.len()];
            match self.post(e, headers, body.clone()).await {
                Ok(answer) => return Ok(answer),
                Err((true, why)) => last = why,
                Err((false, why)) => return Err(Failure::Unknown(format!("{e}: {why}"))),
            }
        }
        Err(Failure::Unknown(format!("every server refused the connection: {last}")))
    }

    /// An AWS JSON 1.1 call (`AmazonEC2ContainerServiceV20141113.RunTask`, ...).
    pub async fn json(&self, target: &str, body: Value) -> Result<Value, Failure> {
        let content_type = "application/x-amz-json-1.1";
        let headers = [("content-type", content_type), ("x-amz-target", target)];
        let (status, body) = self.send(&headers, body.to_string().into_bytes()).await?;
        let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        if status == 200 {
            return Ok(value);
        }
        let kind =
            value["__type"].as_str().unwrap_or("").rsplit('#').next().unwrap_or("").to_owned();
        let message = value["message"].as_str().unwrap_or("").to_owned();
        if status >= 500 {
            Err(Failure::Unknown(format!("{status} {kind}: {message}")))
        } else {
            Err(Failure::Refused(kind, message))
        }
    }

    /// An ECS call.
    pub async fn ecs(&self, op: &str, body: Value) -> Result<Value, Failure> {
        self.json(&format!("AmazonEC2ContainerServiceV20141113.{op}"), body).await
    }

    /// An SSM call.
    pub async fn ssm(&self, op: &str, body: Value) -> Result<Value, Failure> {
        self.json(&format!("AmazonSSM.{op}"), body).await
    }

    /// An ELBv2 (Query protocol) call; the XML answer.
    pub async fn elbv2(&self, action: &str, params: &[(&str, &str)]) -> Result<String, Failure> {
        let mut form = format!("Action={action}&Version=2015-12-01");
        for (k, v) in params {
            form.push_str(&format!("&{k}={}", encode(v)));
        }
        let headers = [("content-type", "application/x-www-form-urlencoded")];
        let (status, body) = self.send(&headers, form.into_bytes()).await?;
        let text = String::from_utf8_lossy(&body).into_owned();
        match status {
            200 => Ok(text),
            s if s >= 500 => Err(Failure::Unknown(text)),
            _ => Err(Failure::Refused(String::new(), text)),
        }
    }
}

fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
