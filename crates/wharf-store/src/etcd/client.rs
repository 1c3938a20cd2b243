//! A small client of etcd's v3 API on hyper, over gRPC (HTTP/2 with prior
//! knowledge, the messages of [`super::proto`]): transactions, ranges, the
//! watch, leases, compaction and status. hyper is already in the build,
//! tonic and prost are not.
//!
//! Not etcd's JSON gateway, which Wharf spoke first: the member serving it
//! pays for its JSON per key and value (3.7× the CPU of gRPC per put,
//! `bench/etcd_gateway.py`), which capped the write rate (`docs/etcd.md`).
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
use tokio::sync::mpsc;

use super::proto;
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
    /// HTTP/2 with prior knowledge (etcd serves gRPC on its client port).
    grpc: Client<HttpConnector, Full<Bytes>>,
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
        let grpc = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .http2_only(true)
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
        Self { inner: Arc::new(Inner { grpc, endpoints, current: AtomicUsize::new(0) }) }
    }

    /// The members' addresses.
    pub fn endpoints(&self) -> &[String] {
        &self.inner.endpoints
    }

    /// Reads a range (linearizable unless `serializable`), over gRPC.
    pub async fn range(&self, req: &wire::RangeRequest) -> Result<wire::RangeResponse, EtcdError> {
        let answer = self.grpc(RANGE, &proto::encode_range(req), true).await?;
        proto::decode_range(&answer).map_err(|e| unreadable(RANGE, e))
    }

    /// Runs a transaction, over gRPC. An [`EtcdError::Indeterminate`]
    /// answer means it may have been applied.
    pub async fn txn(&self, req: &wire::TxnRequest) -> Result<wire::TxnResponse, EtcdError> {
        let answer = self.grpc(TXN, &proto::encode_txn(req), false).await?;
        // An answer that cannot be read says nothing of whether it applied.
        proto::decode_txn(&answer)
            .map_err(|e| EtcdError::Indeterminate(format!("unreadable answer to {TXN}: {e}")))
    }

    /// Grants a lease of `ttl` seconds.
    pub async fn lease_grant(&self, ttl: i64) -> Result<wire::LeaseGrantResponse, EtcdError> {
        let answer = self.grpc(LEASE_GRANT, &proto::encode_lease_grant(ttl), true).await?;
        proto::decode_lease_grant(&answer).map_err(|e| unreadable(LEASE_GRANT, e))
    }

    /// Renews a lease once; a `ttl` of 0 in the answer means it is gone.
    /// (A keep-alive stream carrying one request, closed by Wharf's side:
    /// etcd answers it, then ends the stream.)
    pub async fn lease_keep_alive(
        &self,
        id: i64,
    ) -> Result<wire::LeaseKeepAliveResponse, EtcdError> {
        let answer = self.grpc(LEASE_KEEP_ALIVE, &proto::encode_lease_id(id), true).await?;
        proto::decode_lease_keep_alive(&answer).map_err(|e| unreadable(LEASE_KEEP_ALIVE, e))
    }

    /// Revokes a lease (its keys are deleted).
    pub async fn lease_revoke(&self, id: i64) -> Result<(), EtcdError> {
        self.grpc(LEASE_REVOKE, &proto::encode_lease_id(id), true).await.map(drop)
    }

    /// Forgets the history before `revision`.
    pub async fn compact(&self, revision: i64) -> Result<(), EtcdError> {
        self.grpc(COMPACT, &proto::encode_compaction(revision), true).await.map(drop)
    }

    /// The status of the member this client reaches first.
    pub async fn status(&self) -> Result<wire::StatusResponse, EtcdError> {
        let answer = self.grpc(STATUS, &[], true).await?;
        proto::decode_status(&answer).map_err(|e| unreadable(STATUS, e))
    }

    /// Opens a watch on a member (trying each in turn), over gRPC. The first
    /// answer (`created`) has been received when this returns.
    pub async fn watch(&self, req: &wire::WatchCreateRequest) -> Result<Watch, EtcdError> {
        let body = grpc_frame(&proto::encode_watch_create(req));
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

    /// One watch stream: the request is sent whole (etcd keeps a watch
    /// whose client closed its side of the stream), the answers stream until
    /// the watch is dropped, which resets the stream.
    async fn open_watch(&self, endpoint: &str, body: Bytes) -> Result<Watch, EtcdError> {
        let req = http::Request::post(format!("{endpoint}{WATCH}"))
            .header(http::header::CONTENT_TYPE, "application/grpc")
            .header(http::header::TE, "trailers")
            .body(Full::new(body))
            .map_err(|e| EtcdError::Unavailable(e.to_string()))?;
        let resp = tokio::time::timeout(ATTEMPT_TIMEOUT, self.inner.grpc.request(req))
            .await
            .map_err(|_| EtcdError::Unavailable("watch timed out".into()))?
            .map_err(|e| EtcdError::Unavailable(e.to_string()))?;
        if let Some(Err(e)) = grpc_status(resp.headers(), true) {
            return Err(e);
        }
        if !resp.status().is_success() {
            return Err(EtcdError::Unavailable(format!("watch answered HTTP {}", resp.status())));
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
                let frame = match frame.into_data() {
                    Ok(data) => data,
                    Err(frame) => {
                        // Trailers: the stream is over, with or without an error.
                        let why = frame
                            .trailers_ref()
                            .and_then(|t| grpc_status(t, true))
                            .and_then(Result::err)
                            .unwrap_or_else(|| EtcdError::Unavailable("the watch ended".into()));
                        let _ = tx.send(Err(why)).await;
                        return;
                    }
                };
                pending.extend_from_slice(&frame);
                let mut used = 0;
                while let Some(message) = grpc_next(&pending[used..]) {
                    let item = match message {
                        Ok(message) => {
                            used += 5 + message.len();
                            match proto::decode_watch(message) {
                                Ok(r) if r.canceled && r.compact_revision > 0 => {
                                    Err(EtcdError::Compacted(r.compact_revision))
                                }
                                Ok(r) if r.canceled => Err(EtcdError::Unavailable(format!(
                                    "the watch was canceled: {}",
                                    r.cancel_reason
                                ))),
                                Ok(r) => Ok(r),
                                Err(e) => Err(EtcdError::Unavailable(format!(
                                    "unreadable watch answer: {e}"
                                ))),
                            }
                        }
                        Err(e) => Err(e),
                    };
                    let end = item.is_err();
                    if tx.send(item).await.is_err() || end {
                        return;
                    }
                }
                pending.drain(..used);
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
    /// The answer is the message, unframed.
    async fn grpc(&self, path: &str, message: &[u8], idempotent: bool) -> Result<Bytes, EtcdError> {
        let body = grpc_frame(message);
        let n = self.inner.endpoints.len();
        let start = self.inner.current.load(Ordering::Relaxed);
        let mut last = EtcdError::Unavailable("no etcd endpoint".into());
        for i in 0..n {
            let at = (start + i) % n;
            let endpoint = &self.inner.endpoints[at];
            match self.attempt(endpoint, path, body.clone(), idempotent).await {
                Ok(bytes) => {
                    if i > 0 {
                        self.inner.current.store(at, Ordering::Relaxed);
                    }
                    return Ok(bytes);
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
            .header(http::header::CONTENT_TYPE, "application/grpc")
            .header(http::header::TE, "trailers")
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
            let resp = self.inner.grpc.request(req).await.map_err(|e| {
                if e.is_connect() {
                    EtcdError::Unavailable(format!("{endpoint}: {e}"))
                } else {
                    unknown(format!("{endpoint}: {e}"))
                }
            })?;
            let status = resp.status();
            // A gRPC error may come as headers alone ("trailers-only").
            if let Some(Err(e)) = grpc_status(resp.headers(), idempotent) {
                return Err(e);
            }
            let collected = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| unknown(format!("{endpoint}: {e}")))?;
            let trailers = collected.trailers().cloned();
            let bytes = collected.to_bytes();
            match trailers.as_ref().and_then(|t| grpc_status(t, idempotent)) {
                Some(Ok(())) if status.is_success() => grpc_unframe(bytes)
                    .ok_or_else(|| unknown(format!("{endpoint}: a malformed gRPC answer"))),
                Some(Err(e)) => Err(e),
                _ => Err(unknown(format!("{endpoint}: HTTP {status} without a gRPC status"))),
            }
        })
        .await;
        answer.unwrap_or_else(|_| Err(unknown(format!("{endpoint}: {path} timed out"))))
    }
}

/// The gRPC method of a transaction.
const TXN: &str = "/etcdserverpb.KV/Txn";
/// The gRPC method of a range read.
const RANGE: &str = "/etcdserverpb.KV/Range";
/// The gRPC method of a watch stream.
const WATCH: &str = "/etcdserverpb.Watch/Watch";
/// The gRPC method that grants a lease.
const LEASE_GRANT: &str = "/etcdserverpb.Lease/LeaseGrant";
/// The gRPC method that renews a lease (a stream, sent one request).
const LEASE_KEEP_ALIVE: &str = "/etcdserverpb.Lease/LeaseKeepAlive";
/// The gRPC method that revokes a lease.
const LEASE_REVOKE: &str = "/etcdserverpb.Lease/LeaseRevoke";
/// The gRPC method that compacts the history.
const COMPACT: &str = "/etcdserverpb.KV/Compact";
/// The gRPC method of a member's status.
const STATUS: &str = "/etcdserverpb.Maintenance/Status";

/// An answer that cannot be read: a read or a lease call is safe to repeat.
fn unreadable(path: &str, e: proto::DecodeError) -> EtcdError {
    EtcdError::Unavailable(format!("unreadable answer to {path}: {e}"))
}

/// A gRPC message as it travels: not compressed, its length, itself.
fn grpc_frame(message: &[u8]) -> Bytes {
    let mut framed = Vec::with_capacity(message.len() + 5);
    framed.push(0);
    framed.extend_from_slice(&(message.len() as u32).to_be_bytes());
    framed.extend_from_slice(message);
    Bytes::from(framed)
}

/// The first whole message of a gRPC stream's bytes, if they hold one (an
/// error if it is compressed, which Wharf never asks for).
fn grpc_next(buf: &[u8]) -> Option<Result<&[u8], EtcdError>> {
    let len = u32::from_be_bytes(buf.get(1..5)?.try_into().ok()?) as usize;
    let message = buf.get(5..5 + len)?;
    Some(if buf[0] == 0 {
        Ok(message)
    } else {
        Err(EtcdError::Unavailable("a compressed gRPC message".into()))
    })
}

/// The one message of a unary gRPC answer (none if the framing is wrong or
/// the message compressed, which Wharf never asks for).
fn grpc_unframe(body: Bytes) -> Option<Bytes> {
    let len = grpc_next(&body)?.ok()?.len();
    (body.len() == 5 + len).then(|| body.slice(5..))
}

/// The outcome a gRPC status in `headers` (or trailers) says, if it says one.
fn grpc_status(headers: &http::HeaderMap, idempotent: bool) -> Option<Result<(), EtcdError>> {
    let code: i32 = headers.get("grpc-status")?.to_str().ok()?.trim().parse().ok()?;
    if code == 0 {
        return Some(Ok(()));
    }
    let message = headers
        .get("grpc-message")
        .and_then(|m| m.to_str().ok())
        .map(|m| super::keys::percent_decode(m).unwrap_or_else(|| m.to_owned()))
        .unwrap_or_default();
    let message = if message.is_empty() { format!("gRPC status {code}") } else { message };
    Some(Err(classify(code, message, idempotent)))
}

/// What a gRPC status code other than 0 says of a call's outcome.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_and_unframes_a_grpc_message() {
        let framed = grpc_frame(b"abc");
        assert_eq!(&framed[..], &[0, 0, 0, 0, 3, b'a', b'b', b'c']);
        assert_eq!(grpc_unframe(framed).as_deref(), Some(&b"abc"[..]));
        assert_eq!(grpc_unframe(Bytes::from_static(&[0, 0, 0, 0, 4, b'a'])), None);
        assert_eq!(grpc_unframe(Bytes::from_static(&[1, 0, 0, 0, 1, b'a'])), None);
    }

    #[test]
    fn reads_a_grpc_status_as_an_outcome() {
        let mut h = http::HeaderMap::new();
        assert!(grpc_status(&h, false).is_none());
        h.insert("grpc-status", "0".parse().unwrap());
        assert!(matches!(grpc_status(&h, false), Some(Ok(()))));
        h.insert("grpc-status", "14".parse().unwrap());
        h.insert("grpc-message", "etcdserver:%20leader%20changed".parse().unwrap());
        match grpc_status(&h, false) {
            Some(Err(EtcdError::Indeterminate(m))) => assert_eq!(m, "etcdserver: leader changed"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(grpc_status(&h, true), Some(Err(EtcdError::Unavailable(_)))));
        h.insert("grpc-status", "3".parse().unwrap());
        assert!(matches!(grpc_status(&h, false), Some(Err(EtcdError::Refused { code: 3, .. }))));
    }

    #[test]
    fn cuts_a_stream_at_whole_messages() {
        let buf = [0, 0, 0, 0, 2, b'a', b'b', 0, 0, 0, 0, 3, b'c'];
        assert_eq!(grpc_next(&buf).unwrap().unwrap(), b"ab");
        assert!(grpc_next(&buf[7..]).is_none());
        assert!(grpc_next(&buf[..4]).is_none());
        assert!(grpc_next(&[1, 0, 0, 0, 0]).unwrap().is_err());
    }
}
