//! A small client of etcd's v3 API over its JSON gateway, on hyper.
//!
//! Why the gateway and not gRPC (the `etcd-client` crate): see
//! `docs/etcd.md`. In short, the handful of calls Wharf makes (range, txn,
//! watch, lease grant/keep-alive/revoke, compact) map one to one onto
//! `POST /v3/...` with a JSON body; hyper is already in the build, tonic and
//! prost are not.
//!
//! The client knows every member. A call goes to the member it last
//! reached; a member that refuses the connection is skipped at once (the
//! request never left). Whether anything else is retried depends on the
//! call: reads and lease calls are safe to repeat, a transaction is not
//! (its outcome is unknown: [`EtcdError::Indeterminate`]), and its caller
//! resolves that (see [`super::writer`]).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::mpsc;

use super::wire::{self, code};

/// How long one attempt of a unary call may take.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(3);

/// Why a call failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EtcdError {
    /// No member could be reached or none answered in time; nothing was applied.
    #[error("etcd is unavailable: {0}")]
    Unavailable(String),
    /// A write may or may not have been applied (the connection broke or the
    /// member gave up waiting for its commit).
    #[error("etcd did not say whether the write was applied: {0}")]
    Indeterminate(String),
    /// etcd refused the request; nothing was applied.
    #[error("etcd refused the request ({code}): {message}")]
    Refused {
        /// The gRPC status code.
        code: i32,
        /// etcd's message.
        message: String,
    },
    /// The revision asked for is compacted.
    #[error("etcd revision {0} is compacted")]
    Compacted(i64),
}

/// The client. Cheap to clone.
#[derive(Debug, Clone)]
pub struct EtcdClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    http: Client<HttpConnector, Full<Bytes>>,
    /// `http://host:port` of each member.
    endpoints: Vec<String>,
    /// The member calls go to first.
    current: AtomicUsize,
}

/// An open watch: answers in revision order until the stream ends.
#[derive(Debug)]
pub struct Watch {
    /// The answers.
    pub responses: mpsc::Receiver<Result<wire::WatchResponse, EtcdError>>,
    /// The member it is served by.
    pub endpoint: String,
}

impl EtcdClient {
    /// A client of the members at `endpoints` (`host:port` or `http://host:port`).
    pub fn new(endpoints: &[String]) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(Duration::from_secs(1)));
        let http = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        let endpoints = endpoints
            .iter()
            .map(|e| {
                let e = e.trim_end_matches('/');
                if e.starts_with("http://") {
                    e.to_owned()
                } else {
                    format!("http://{e}")
                }
            })
            .collect();
        Self { inner: Arc::new(Inner { http, endpoints, current: AtomicUsize::new(0) }) }
    }

    /// The members' addresses.
    pub fn endpoints(&self) -> &[String] {
        &self.inner.endpoints
    }

    /// Reads a range (linearizable unless `serializable`).
    pub async fn range(&self, req: &wire::RangeRequest) -> Result<wire::RangeResponse, EtcdError> {
        self.call("/v3/kv/range", req, true).await
    }

    /// Runs a transaction. An [`EtcdError::Indeterminate`] answer means it
    /// may have been applied.
    pub async fn txn(&self, req: &wire::TxnRequest) -> Result<wire::TxnResponse, EtcdError> {
        self.call("/v3/kv/txn", req, false).await
    }

    /// Grants a lease of `ttl` seconds.
    pub async fn lease_grant(&self, ttl: i64) -> Result<wire::LeaseGrantResponse, EtcdError> {
        self.call("/v3/lease/grant", &wire::LeaseGrantRequest { ttl }, true).await
    }

    /// Renews a lease once; a `ttl` of 0 in the answer means it is gone.
    pub async fn lease_keep_alive(
        &self,
        id: i64,
    ) -> Result<wire::LeaseKeepAliveResponse, EtcdError> {
        let answer: wire::StreamMessage<wire::LeaseKeepAliveResponse> =
            self.call("/v3/lease/keepalive", &wire::LeaseId { id }, true).await?;
        match (answer.result, answer.error) {
            (Some(r), _) => Ok(r),
            (None, Some(e)) => Err(stream_error(&e)),
            (None, None) => Ok(wire::LeaseKeepAliveResponse::default()),
        }
    }

    /// Revokes a lease (its keys are deleted).
    pub async fn lease_revoke(&self, id: i64) -> Result<(), EtcdError> {
        let _: serde_json::Value =
            self.call("/v3/lease/revoke", &wire::LeaseId { id }, true).await?;
        Ok(())
    }

    /// Forgets the history before `revision`.
    pub async fn compact(&self, revision: i64) -> Result<(), EtcdError> {
        let _: serde_json::Value =
            self.call("/v3/kv/compaction", &wire::CompactionRequest { revision }, true).await?;
        Ok(())
    }

    /// Any other unary call of the gateway (`/v3/maintenance/status`, ...),
    /// safe to repeat.
    pub async fn raw_call<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        path: &str,
        req: &Req,
    ) -> Result<Resp, EtcdError> {
        self.call(path, req, true).await
    }

    /// Opens a watch on a member (trying each in turn). The first answer
    /// (`created`) has been received when this returns.
    pub async fn watch(&self, req: &wire::WatchCreateRequest) -> Result<Watch, EtcdError> {
        let body = serde_json::to_vec(&wire::WatchRequest { create_request: req.clone() })
            .map_err(|e| EtcdError::Refused { code: 0, message: e.to_string() })?;
        let n = self.inner.endpoints.len();
        let start = self.inner.current.load(Ordering::Relaxed);
        let mut last = String::from("no etcd endpoint");
        for i in 0..n {
            let at = (start + i) % n;
            let endpoint = &self.inner.endpoints[at];
            match self.open_watch(endpoint, body.clone()).await {
                Ok(watch) => {
                    self.inner.current.store(at, Ordering::Relaxed);
                    return Ok(watch);
                }
                Err(EtcdError::Compacted(r)) => return Err(EtcdError::Compacted(r)),
                Err(e) => last = format!("{endpoint}: {e}"),
            }
        }
        Err(EtcdError::Unavailable(last))
    }

    async fn open_watch(&self, endpoint: &str, body: Vec<u8>) -> Result<Watch, EtcdError> {
        let req = http::Request::post(format!("{endpoint}/v3/watch"))
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| EtcdError::Unavailable(e.to_string()))?;
        let resp = tokio::time::timeout(ATTEMPT_TIMEOUT, self.inner.http.request(req))
            .await
            .map_err(|_| EtcdError::Unavailable("watch timed out".into()))?
            .map_err(|e| EtcdError::Unavailable(e.to_string()))?;
        if !resp.status().is_success() {
            let status = resp.status();
            let bytes = resp.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
            return Err(answer_error(status, &bytes, true));
        }
        let (tx, mut rx) = mpsc::channel(256);
        let mut body = resp.into_body();
        tokio::spawn(async move {
            let mut pending: Vec<u8> = Vec::new();
            loop {
                let frame = tokio::select! {
                    frame = body.frame() => frame,
                    () = tx.closed() => return,
                };
                let Some(frame) = frame else {
                    let _ = tx.send(Err(EtcdError::Unavailable("the watch ended".into()))).await;
                    return;
                };
                let frame = match frame {
                    Ok(f) => f,
                    Err(e) => {
                        let _ = tx.send(Err(EtcdError::Unavailable(e.to_string()))).await;
                        return;
                    }
                };
                let Some(data) = frame.data_ref() else { continue };
                pending.extend_from_slice(data);
                // Messages are JSON objects, one after the other (newline
                // separated): cut at each complete one.
                while let Some(end) = message_end(&pending) {
                    let message: Vec<u8> = pending.drain(..end).collect();
                    let parsed = serde_json::from_slice::<wire::StreamMessage<wire::WatchResponse>>(
                        &message,
                    );
                    let item = match parsed {
                        Ok(wire::StreamMessage { result: Some(r), .. }) => {
                            if r.canceled && r.compact_revision > 0 {
                                Err(EtcdError::Compacted(r.compact_revision))
                            } else if r.canceled {
                                Err(EtcdError::Unavailable(format!(
                                    "the watch was canceled: {}",
                                    r.cancel_reason
                                )))
                            } else {
                                Ok(r)
                            }
                        }
                        Ok(wire::StreamMessage { error: Some(e), .. }) => Err(stream_error(&e)),
                        Ok(_) => continue,
                        Err(e) => {
                            Err(EtcdError::Unavailable(format!("unreadable watch answer: {e}")))
                        }
                    };
                    let end = item.is_err();
                    if tx.send(item).await.is_err() || end {
                        return;
                    }
                }
            }
        });
        // The first answer confirms the watch (or says why not).
        match rx.recv().await {
            Some(Ok(first)) if first.created => {}
            Some(Ok(_)) => return Err(EtcdError::Unavailable("the watch was not created".into())),
            Some(Err(e)) => return Err(e),
            None => return Err(EtcdError::Unavailable("the watch ended".into())),
        }
        Ok(Watch { responses: rx, endpoint: endpoint.to_owned() })
    }

    /// A unary call: tries the current member, then the others. A request
    /// that certainly did not reach a member moves on at once; one whose
    /// outcome is unknown is retried elsewhere only when `idempotent`.
    async fn call<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        path: &str,
        req: &Req,
        idempotent: bool,
    ) -> Result<Resp, EtcdError> {
        let body = Bytes::from(
            serde_json::to_vec(req)
                .map_err(|e| EtcdError::Refused { code: 0, message: e.to_string() })?,
        );
        let n = self.inner.endpoints.len();
        let start = self.inner.current.load(Ordering::Relaxed);
        let mut last = EtcdError::Unavailable("no etcd endpoint".into());
        for i in 0..n {
            let at = (start + i) % n;
            match self.attempt(&self.inner.endpoints[at], path, body.clone(), idempotent).await {
                Ok(bytes) => {
                    if i > 0 {
                        self.inner.current.store(at, Ordering::Relaxed);
                    }
                    return serde_json::from_slice(&bytes).map_err(|e| {
                        EtcdError::Unavailable(format!("unreadable answer to {path}: {e}"))
                    });
                }
                Err(e @ (EtcdError::Refused { .. } | EtcdError::Compacted(_))) => return Err(e),
                Err(e @ EtcdError::Indeterminate(_)) => {
                    // The next call tries another member.
                    self.inner.current.store((at + 1) % n, Ordering::Relaxed);
                    return Err(e);
                }
                Err(e) => last = e,
            }
        }
        // Every member failed: move on, so the next call starts elsewhere.
        self.inner.current.store((start + 1) % n.max(1), Ordering::Relaxed);
        Err(last)
    }

    async fn attempt(
        &self,
        endpoint: &str,
        path: &str,
        body: Bytes,
        idempotent: bool,
    ) -> Result<Bytes, EtcdError> {
        let req = http::Request::post(format!("{endpoint}{path}"))
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(body))
            .map_err(|e| EtcdError::Refused { code: 0, message: e.to_string() })?;
        let unknown = |why: String| {
            if idempotent {
                EtcdError::Unavailable(why)
            } else {
                EtcdError::Indeterminate(why)
            }
        };
        let answer = tokio::time::timeout(ATTEMPT_TIMEOUT, async {
            let resp = self.inner.http.request(req).await.map_err(|e| {
                if e.is_connect() {
                    EtcdError::Unavailable(format!("{endpoint}: {e}"))
                } else {
                    unknown(format!("{endpoint}: {e}"))
                }
            })?;
            let status = resp.status();
            let bytes = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| unknown(format!("{endpoint}: {e}")))?
                .to_bytes();
            if status.is_success() {
                Ok(bytes)
            } else {
                Err(answer_error(status, &bytes, idempotent))
            }
        })
        .await;
        answer.unwrap_or_else(|_| Err(unknown(format!("{endpoint}: {path} timed out"))))
    }
}

/// The end of the first complete JSON object in `buf` (just past its closing
/// brace), if there is one. Strings are skipped, so braces inside them do
/// not count.
fn message_end(buf: &[u8]) -> Option<usize> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut started = false;
    for (i, &b) in buf.iter().enumerate() {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' => {
                depth += 1;
                started = true;
            }
            b'}' => {
                depth = depth.saturating_sub(1);
                if started && depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
    }
    None
}

/// The error of a failed unary answer.
fn answer_error(status: http::StatusCode, body: &[u8], idempotent: bool) -> EtcdError {
    let e: wire::ErrorBody = serde_json::from_slice(body).unwrap_or_default();
    let message = if e.message.is_empty() { e.error } else { e.message };
    let message = if message.is_empty() {
        format!("HTTP {status}: {}", String::from_utf8_lossy(body))
    } else {
        message
    };
    classify(e.code, message, idempotent)
}

fn classify(code: i32, message: String, idempotent: bool) -> EtcdError {
    match code {
        code::UNAVAILABLE | code::DEADLINE_EXCEEDED if idempotent => {
            EtcdError::Unavailable(message)
        }
        // A write the member gave up on may still be committed.
        code::UNAVAILABLE | code::DEADLINE_EXCEEDED => EtcdError::Indeterminate(message),
        code::OUT_OF_RANGE if message.contains("compacted") => EtcdError::Compacted(0),
        0 => EtcdError::Unavailable(message),
        code => EtcdError::Refused { code, message },
    }
}

/// The error carried inside a stream message.
fn stream_error(e: &serde_json::Value) -> EtcdError {
    let code = e.get("grpc_code").or_else(|| e.get("code")).and_then(|c| c.as_i64()).unwrap_or(0);
    let message = e.get("message").and_then(|m| m.as_str()).unwrap_or("stream error").to_owned();
    classify(i32::try_from(code).unwrap_or(0), message, true)
}

#[cfg(test)]
mod tests {
    use super::message_end;

    #[test]
    fn cuts_stream_messages_at_their_closing_brace() {
        let buf = br#"{"result":{"a":"}{"}}
{"result":"#;
        let end = message_end(buf).unwrap();
        assert_eq!(&buf[..end], br#"{"result":{"a":"}{"}}"#);
        assert_eq!(message_end(&buf[end..]), None);
        assert_eq!(message_end(br#"{"s":"\"}"}"#), Some(11));
    }
}
