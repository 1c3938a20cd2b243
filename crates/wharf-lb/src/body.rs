//! The response body the listeners send: a target's streamed answer, or one the load
//! balancer wrote itself. An enum rather than a boxed body: no allocation per request.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};

use crate::target::InFlight;

/// A listener's response body.
#[derive(Debug)]
pub enum LbBody {
    /// Written by the load balancer (error pages, fixed responses, redirects).
    Full(Option<Bytes>),
    /// Streamed from a target; the target's in-flight count drops when it ends or is dropped.
    Proxied(Incoming, InFlight),
}

impl LbBody {
    /// A body of these bytes.
    pub fn full(bytes: impl Into<Bytes>) -> Self {
        let bytes = bytes.into();
        LbBody::Full((!bytes.is_empty()).then_some(bytes))
    }
}

impl Body for LbBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        match self.get_mut() {
            LbBody::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            LbBody::Proxied(body, _) => Pin::new(body).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            LbBody::Full(bytes) => bytes.is_none(),
            LbBody::Proxied(body, _) => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            LbBody::Full(bytes) => {
                SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64))
            }
            LbBody::Proxied(body, _) => body.size_hint(),
        }
    }
}
