//! A tiny static HTTP/1.1 target for `bench/lb.sh` and `bench/hosts.py`: answers every
//! request with a short body, keep-alive, on one thread. Usage: `bench_target PORT [ADDRESS]`
//! (default 127.0.0.1). With `HOSTNAME` set (a container's ID, in Docker), the body is
//! `hello from <HOSTNAME>`, so that a client can tell targets apart.

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::Response;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args().nth(1).and_then(|p| p.parse().ok()).unwrap_or(18081);
    let address = std::env::args().nth(2).unwrap_or_else(|| "127.0.0.1".to_owned());
    let body: &'static [u8] = match std::env::var("HOSTNAME") {
        Ok(name) if !name.is_empty() => format!("hello from {name}\n").into_bytes().leak(),
        _ => b"hello from target\n",
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async move {
        let listener = TcpListener::bind((address.as_str(), port)).await?;
        loop {
            let (stream, _) = listener.accept().await?;
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let service = service_fn(move |_req| async move {
                    let mut response = Response::new(Full::new(Bytes::from_static(body)));
                    response
                        .headers_mut()
                        .insert("content-type", "text/plain".parse().expect("static"));
                    Ok::<_, Infallible>(response)
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    })
}
