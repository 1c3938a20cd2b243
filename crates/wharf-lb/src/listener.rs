//! A listener's accept loop: one task per port, one task per connection, HTTP/1.1 and
//! HTTP/2 (prior knowledge) from clients.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;

use crate::proxy::{self, ListenerShared};

/// Accepts connections on `listener` until the task is aborted, serving each with `shared`.
pub async fn serve(listener: TcpListener, shared: Arc<ListenerShared>) {
    let builder = Arc::new(auto::Builder::new(TokioExecutor::new()));
    loop {
        let (stream, client_addr) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of descriptors and the like: back off briefly instead of spinning.
                tracing::warn!(port = shared.port, %error, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        let builder = builder.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let shared = shared.clone();
                async move { Ok::<_, Infallible>(proxy::handle(&shared, req, client_addr).await) }
            });
            if let Err(error) = builder.serve_connection(TokioIo::new(stream), service).await {
                tracing::debug!(%client_addr, %error, "client connection ended");
            }
        });
    }
}
