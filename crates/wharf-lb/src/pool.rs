//! Keep-alive HTTP/1.1 connections to one target. The pool's lock is taken only to pop or
//! push an idle connection, never across I/O; a connection leased to a request comes back
//! when the response body has been sent.

use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Idle connections kept per target; more are closed when they come back.
const MAX_IDLE: usize = 512;
/// An ALB gives up connecting to a target after 10 s.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A connection to a target, leased for one request.
pub type Connection = SendRequest<Incoming>;

/// Why a request could not be sent to a target.
#[derive(Debug)]
pub enum SendError {
    /// Connecting took longer than the connect timeout (an ALB answers 504).
    ConnectTimeout,
    /// The connection was refused or its handshake failed (502, and a target connection
    /// error).
    Connect(String),
    /// Reset, or not an HTTP answer (502).
    Failed(String),
}

/// Idle connections to one target.
#[derive(Debug, Default)]
pub struct Pool {
    idle: Mutex<Vec<Connection>>,
}

impl Pool {
    fn take(&self) -> Option<Connection> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        while let Some(conn) = idle.pop() {
            if !conn.is_closed() {
                return Some(conn);
            }
        }
        None
    }

    /// Gives a connection back for the next request.
    pub fn put(&self, conn: Connection) {
        if conn.is_closed() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < MAX_IDLE {
            idle.push(conn);
        }
    }

    /// Sends `req` on an idle connection, or a new one; a request that an idle connection
    /// could not take (closed by the target meanwhile) is retried on a new connection.
    pub async fn send(
        &self,
        addr: SocketAddr,
        mut req: Request<Incoming>,
    ) -> Result<(Response<Incoming>, Connection), SendError> {
        while let Some(mut conn) = self.take() {
            if conn.ready().await.is_err() {
                continue;
            }
            match conn.try_send_request(req).await {
                Ok(response) => return Ok((response, conn)),
                Err(mut e) => match e.take_message() {
                    Some(back) => req = back,
                    None => return Err(SendError::Failed(e.into_error().to_string())),
                },
            }
        }
        let mut conn = connect(addr).await?;
        match conn.send_request(req).await {
            Ok(response) => Ok((response, conn)),
            Err(e) => Err(SendError::Failed(e.to_string())),
        }
    }
}

async fn connect(addr: SocketAddr) -> Result<Connection, SendError> {
    let stream = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
        Err(_) => return Err(SendError::ConnectTimeout),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::TimedOut => {
            return Err(SendError::ConnectTimeout)
        }
        Ok(Err(e)) => return Err(SendError::Connect(e.to_string())),
        Ok(Ok(stream)) => stream,
    };
    let _ = stream.set_nodelay(true);
    let (sender, conn) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| SendError::Connect(e.to_string()))?;
    tokio::spawn(async move {
        if let Err(error) = conn.await {
            tracing::debug!(%addr, %error, "target connection ended");
        }
    });
    Ok(sender)
}
