//! ECS Exec on this host: the WebSocket a session's `streamUrl` names
//! (`/v1/data-channel/<session>`), bridged to Docker's exec.
//!
//! The client's first message ([`ExecOpen`], a text frame) carries the
//! session's token and whether it wants a terminal and standard input. The
//! agent has the server open the token ([`ServerLink::open_exec`]): the
//! grant names the task, the container and the command. Each session opens
//! once. The container must be this agent's and the task's. Then binary
//! frames carry data (from the client: standard input; from the agent: a
//! stream byte and output) and text frames [`ExecControl`] messages
//! (resize, end of input, started, the exit code or an error).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use futures_util::{SinkExt, StreamExt};
use tokio::io::AsyncWriteExt;
use wharf_model::agent::{ExecControl, ExecGrant, ExecOpen, EXEC_STDERR, EXEC_STDOUT};
use wharf_model::clock::Clock;

use crate::link::ServerLink;
use crate::runtime::{
    ContainerState, ExecOutput, ExecSpec, Runtime, LABEL_CONTAINER_NAME, LABEL_TASK_ARN,
};

/// How long a client has to send its first message.
const OPEN_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the exit code may take to show after the output ends.
const EXIT_CODE_WAIT: Duration = Duration::from_secs(5);

/// What the exec service needs: the engine, the server, and which instance
/// this agent is (known once it has registered).
#[derive(Debug, Clone)]
pub struct ExecService {
    runtime: Arc<dyn Runtime>,
    link: Arc<dyn ServerLink>,
    clock: Arc<dyn Clock>,
    cluster: String,
    instance: Arc<OnceLock<String>>,
    /// Sessions already opened, with their tokens' expiry (Unix seconds).
    used: Arc<Mutex<HashMap<String, i64>>>,
}

impl ExecService {
    /// The service of the agent of `cluster` whose instance ARN `instance`
    /// will hold.
    pub fn new(
        runtime: Arc<dyn Runtime>,
        link: Arc<dyn ServerLink>,
        clock: Arc<dyn Clock>,
        cluster: String,
        instance: Arc<OnceLock<String>>,
    ) -> Self {
        Self { runtime, link, clock, cluster, instance, used: Arc::default() }
    }

    /// The routes: the sessions' WebSocket. The program serves them (with
    /// TLS when it has a certificate for them), with Nagle's algorithm off:
    /// keystrokes are a byte or two.
    pub fn router(self) -> Router {
        Router::new().route("/v1/data-channel/{session}", get(upgrade)).with_state(self)
    }

    /// Marks a session used; `false` when it already was. Forgets sessions
    /// whose tokens have expired (they cannot be opened again anyway).
    fn first_use(&self, session: &str, expires: i64) -> bool {
        let now = self.clock.now_millis().div_euclid(1000);
        let Ok(mut used) = self.used.lock() else { return false };
        used.retain(|_, e| *e > now);
        used.insert(session.to_owned(), expires).is_none()
    }

    /// Opens the session: the grant, checked against this host's containers.
    async fn grant(&self, session: &str, open: &ExecOpen) -> Result<ExecGrant, String> {
        let instance = self.instance.get().ok_or("the agent has not registered yet")?;
        let grant = self
            .link
            .open_exec(&self.cluster, instance, session, &open.token_value)
            .await
            .map_err(|e| e.to_string())?;
        if !self.first_use(session, grant.expires) {
            return Err(format!("the session {session} was opened already"));
        }
        let info = self
            .runtime
            .inspect_container(&grant.runtime_id)
            .await
            .map_err(|e| format!("the container {}: {e}", grant.container_name))?;
        let label = |k: &str| info.labels.get(k).map(String::as_str);
        if label(LABEL_TASK_ARN) != Some(grant.task_arn.as_str())
            || label(LABEL_CONTAINER_NAME) != Some(grant.container_name.as_str())
        {
            return Err(format!(
                "the container {} of the task is not on this host",
                grant.container_name
            ));
        }
        if info.state != ContainerState::Running {
            return Err(format!("the container {} is not running", grant.container_name));
        }
        Ok(grant)
    }
}

async fn upgrade(
    State(service): State<ExecService>,
    Path(session): Path<String>,
    ws: WebSocketUpgrade,
) -> Response {
    ws.on_upgrade(move |socket| async move {
        if let Err(e) = serve_session(&service, &session, socket).await {
            tracing::debug!(session, error = %e, "exec session ended early");
        }
    })
}

fn control(message: &ExecControl) -> Message {
    Message::Text(serde_json::to_string(message).unwrap_or_default().into())
}

/// One session, from the client's first message to the exit code.
async fn serve_session(
    service: &ExecService,
    session: &str,
    mut socket: WebSocket,
) -> Result<(), axum::Error> {
    let open = match tokio::time::timeout(OPEN_TIMEOUT, socket.recv()).await {
        Ok(Some(Ok(Message::Text(text)))) => serde_json::from_str::<ExecOpen>(&text).ok(),
        _ => None,
    };
    let Some(open) = open else {
        let message = "the first message must be the session's token (JSON)".to_owned();
        return socket.send(control(&ExecControl::Error { message })).await;
    };
    let grant = match service.grant(session, &open).await {
        Ok(g) => g,
        Err(message) => {
            tracing::info!(session, %message, "exec session refused");
            return socket.send(control(&ExecControl::Error { message })).await;
        }
    };
    let Some(cmd) = shlex::split(&grant.command).filter(|c| !c.is_empty()) else {
        let message = format!("the command {:?} cannot be split into words", grant.command);
        return socket.send(control(&ExecControl::Error { message })).await;
    };
    let spec = ExecSpec { cmd, tty: open.tty, stdin: open.stdin };
    let runtime = &service.runtime;
    let mut io = match runtime.exec(&grant.runtime_id, spec).await {
        Ok(io) => io,
        Err(e) => {
            let message = format!("docker exec: {e}");
            return socket.send(control(&ExecControl::Error { message })).await;
        }
    };
    tracing::info!(
        session,
        task = %grant.task_arn,
        container = %grant.container_name,
        command = %grant.command,
        "exec session started"
    );
    if let (true, Some(cols), Some(rows)) = (open.tty, open.cols, open.rows) {
        let _ = runtime.resize_exec(&io.id, cols, rows).await;
    }
    let (mut to_client, mut from_client) = socket.split();
    to_client.send(control(&ExecControl::Started)).await?;
    let mut input_open = open.stdin;
    loop {
        tokio::select! {
            out = io.output.next() => {
                let (stream, bytes) = match out {
                    Some(Ok(ExecOutput::Stdout(b))) => (EXEC_STDOUT, b),
                    Some(Ok(ExecOutput::Stderr(b))) => (EXEC_STDERR, b),
                    Some(Err(e)) => {
                        tracing::warn!(session, error = %e, "exec output broke");
                        break;
                    }
                    None => break,
                };
                let mut frame = Vec::with_capacity(bytes.len() + 1);
                frame.push(stream);
                frame.extend_from_slice(&bytes);
                to_client.send(Message::Binary(frame.into())).await?;
            }
            message = from_client.next() => match message {
                Some(Ok(Message::Binary(data))) if input_open => {
                    if io.input.write_all(&data).await.is_err() || io.input.flush().await.is_err() {
                        input_open = false;
                    }
                }
                Some(Ok(Message::Text(text))) => {
                    match serde_json::from_str::<ExecControl>(&text) {
                        Ok(ExecControl::Resize { cols, rows }) if open.tty => {
                            let _ = runtime.resize_exec(&io.id, cols, rows).await;
                        }
                        Ok(ExecControl::Eof) if input_open => {
                            input_open = false;
                            let _ = io.input.shutdown().await;
                        }
                        _ => {}
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => {
                    // The client went away: closing the exec's connection ends
                    // a terminal's session (SIGHUP), as `docker exec -it` does.
                    tracing::info!(session, "exec client disconnected");
                    return Ok(());
                }
                Some(Ok(_)) => {}
            },
        }
    }
    drop(io.input);
    let code = exit_code(runtime.as_ref(), &io.id).await;
    let last = match code {
        Some(code) => ExecControl::Exit { code },
        None => ExecControl::Error { message: "the command's exit code is unknown".into() },
    };
    tracing::info!(session, code = ?code, "exec session ended");
    to_client.send(control(&last)).await?;
    to_client.send(Message::Close(None)).await
}

/// The exec's exit code, waiting briefly for the engine to record it.
async fn exit_code(runtime: &dyn Runtime, exec_id: &str) -> Option<i64> {
    let deadline = tokio::time::Instant::now() + EXIT_CODE_WAIT;
    let mut pause = Duration::from_millis(5);
    loop {
        match runtime.exec_exit_code(exec_id).await {
            Ok(Some(code)) => return Some(code),
            Ok(None) if tokio::time::Instant::now() < deadline => {}
            _ => return None,
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(200));
    }
}
