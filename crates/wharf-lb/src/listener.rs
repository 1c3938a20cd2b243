//! A listener's accept loop: one task per port, one task per connection, HTTP/1.1 and
//! HTTP/2 (prior knowledge, or ALPN over TLS) from clients; TLS first on an HTTPS
//! listener.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;

use crate::proxy::{self, ListenerShared, Transport};

/// How long a client has to finish its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

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
            let transport = shared.transport.load_full();
            let secure = !matches!(*transport, Transport::Plain);
            let service = service_fn(move |req| {
                let shared = shared.clone();
                async move {
                    Ok::<_, Infallible>(proxy::handle(&shared, req, client_addr, secure).await)
                }
            });
            let served = match &*transport {
                Transport::Plain => builder.serve_connection(TokioIo::new(stream), service).await,
                Transport::Tls(acceptor) => {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => builder.serve_connection(TokioIo::new(tls), service).await,
                        Ok(Err(error)) => {
                            tracing::debug!(%client_addr, %error, "TLS handshake failed");
                            return;
                        }
                        Err(_) => {
                            tracing::debug!(%client_addr, "TLS handshake timed out");
                            return;
                        }
                    }
                }
                Transport::Refuse => return,
            };
            if let Err(error) = served {
                tracing::debug!(%client_addr, %error, "client connection ended");
            }
        });
    }
}
