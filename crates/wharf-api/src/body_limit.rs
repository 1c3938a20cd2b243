//! Bounded request bodies. A body over [`MAX_BODY_BYTES`] is answered with
//! HTTP 413 in the protocol's error shape, after reading (and discarding)
//! the rest of it up to [`DRAIN_BYTES`], so the client reads the answer
//! instead of a reset connection; a larger one, or one whose
//! `Content-Length` announces more, is answered at once and the connection
//! closed.

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;

/// The largest request body the AWS APIs accept: 2 MiB, above every
/// operation's own limit (PutLogEvents' 1 MiB batch is the largest).
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// How much of an oversized body is read and discarded before answering.
pub const DRAIN_BYTES: usize = 64 * 1024 * 1024;

/// Why a body was not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyError {
    /// Larger than the limit; `drained`: the whole body was read, so the
    /// connection can stay open.
    TooLarge {
        /// Whether the rest of the body was read.
        drained: bool,
    },
    /// The client went away or sent a broken body.
    Broken,
}

impl BodyError {
    /// The message of the 413 answer.
    pub fn message() -> String {
        format!("Request body exceeds the maximum of {MAX_BODY_BYTES} bytes.")
    }
}

/// Reads a body of at most [`MAX_BODY_BYTES`].
pub async fn read(headers: &http::HeaderMap, body: axum::body::Body) -> Result<Bytes, BodyError> {
    let announced = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if announced.is_some_and(|n| n > DRAIN_BYTES) {
        return Err(BodyError::TooLarge { drained: false });
    }
    let mut body = body;
    let mut out = BytesMut::with_capacity(announced.unwrap_or(0).min(MAX_BODY_BYTES));
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| BodyError::Broken)?;
        let Ok(data) = frame.into_data() else { continue };
        seen += data.len();
        if seen > DRAIN_BYTES {
            return Err(BodyError::TooLarge { drained: false });
        }
        if seen <= MAX_BODY_BYTES {
            out.extend_from_slice(&data);
        }
    }
    if seen > MAX_BODY_BYTES {
        return Err(BodyError::TooLarge { drained: true });
    }
    Ok(out.freeze())
}
