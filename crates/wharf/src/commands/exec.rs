//! `wharf exec TASK [-c CONTAINER] [-i] [-t] -- CMD...`: ECS Exec's client.
//! ExecuteCommand grants a session on the task's agent; this connects to
//! its WebSocket (`session.streamUrl`), presents the token, and bridges the
//! terminal to Docker's exec in the container, as `docker exec` does: `-t`
//! puts the local terminal in raw mode (Ctrl-C and every other key go to
//! the command) and follows its size; `-i` sends standard input; the exit
//! code is the command's. An agent with a certificate serves the session over
//! TLS (`wss://`), checked as the API's `https://` is (`AWS_CA_BUNDLE`).
//! The AWS CLI's `aws ecs execute-command` needs AWS's
//! session-manager-plugin, which Wharf's sessions do not speak.

use std::io::{IsTerminal, Read, Write};
use std::process::ExitCode;

use anyhow::{bail, Context};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;
use wharf_model::agent::{ExecControl, ExecOpen, EXEC_STDERR};

use super::connection::block_on;
use crate::api_client::{ApiClient, Service};
use crate::ecs_reads::resolve_task;

/// Options of `wharf exec`.
#[derive(Debug, clap::Args)]
pub struct ExecArgs {
    /// The task: an ARN, an id, or the short id `wharf ps` shows.
    task: String,
    /// The container to run in (needed when the task has several).
    #[arg(long, short = 'c')]
    container: Option<String>,
    /// Keep standard input open and send it to the command.
    #[arg(long, short = 'i')]
    interactive: bool,
    /// Allocate a pseudo-terminal (with `-i`: an interactive shell).
    #[arg(long, short = 't')]
    tty: bool,
    /// The cluster (name or ARN).
    #[arg(long, default_value = "default")]
    cluster: String,
    /// The server's address.
    #[arg(long, env = "WHARF_ENDPOINT", default_value = "http://127.0.0.1:4590")]
    endpoint: String,
    /// The region the cluster is in.
    #[arg(long, env = "AWS_DEFAULT_REGION", default_value = "us-east-1")]
    region: String,
    /// The command and its arguments.
    #[arg(last = true, required = true)]
    command: Vec<String>,
}

/// The exit code of a session that could not run the command (as `docker
/// exec` exits when the daemon refuses).
const REFUSED: u8 = 1;

/// Runs `wharf exec`.
pub fn run(args: ExecArgs) -> anyhow::Result<ExitCode> {
    let stdin_tty = std::io::stdin().is_terminal();
    if args.tty && args.interactive && !stdin_tty {
        eprintln!("the input device is not a TTY");
        return Ok(ExitCode::from(REFUSED));
    }
    let code = block_on(session(args, stdin_tty))?;
    Ok(ExitCode::from(u8::try_from(code.rem_euclid(256)).unwrap_or(REFUSED)))
}

/// The local terminal in raw mode until dropped.
struct RawTerminal(rustix::termios::Termios);

impl RawTerminal {
    fn enter() -> Option<Self> {
        use rustix::termios::{tcgetattr, tcsetattr, OptionalActions};
        let saved = tcgetattr(std::io::stdin()).ok()?;
        let mut raw = saved.clone();
        raw.make_raw();
        tcsetattr(std::io::stdin(), OptionalActions::Now, &raw).ok()?;
        Some(Self(saved))
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        let _ = rustix::termios::tcsetattr(
            std::io::stdin(),
            rustix::termios::OptionalActions::Now,
            &self.0,
        );
    }
}

/// The local terminal's size (columns, rows), when standard output is one.
fn terminal_size() -> Option<(u16, u16)> {
    let size = rustix::termios::tcgetwinsize(std::io::stdout())
        .or_else(|_| rustix::termios::tcgetwinsize(std::io::stdin()))
        .ok()?;
    (size.ws_col > 0 && size.ws_row > 0).then_some((size.ws_col, size.ws_row))
}

fn control(message: &ExecControl) -> Message {
    Message::Text(serde_json::to_string(message).unwrap_or_default().into())
}

/// ExecuteCommand, then the session: the command's exit code.
async fn session(args: ExecArgs, stdin_tty: bool) -> anyhow::Result<i64> {
    let client = ApiClient::new(&args.endpoint, &args.region)?;
    let task = resolve_task(&client, &args.cluster, &args.task).await?;
    let command = shlex::try_join(args.command.iter().map(String::as_str))
        .context("the command cannot be quoted (it holds a NUL byte)")?;
    let mut request = json!({"cluster": args.cluster, "task": task, "command": command,
        "interactive": true});
    if let Some(c) = &args.container {
        request["container"] = json!(c);
    }
    let answer: Value = client.call(Service::Ecs, "ExecuteCommand", &request).await?;
    let url = answer["session"]["streamUrl"].as_str().context("no session streamUrl")?;
    let token = answer["session"]["tokenValue"].as_str().context("no session tokenValue")?;
    let (mut to_agent, mut from_agent) = connect(url, client.security().tls.clone()).await?.split();
    let size = if args.tty { terminal_size() } else { None };
    let open = ExecOpen {
        token_value: token.to_owned(),
        tty: args.tty,
        stdin: args.interactive,
        cols: size.map(|s| s.0),
        rows: size.map(|s| s.1),
    };
    to_agent.send(Message::Text(serde_json::to_string(&open)?.into())).await?;
    // The agent says Started, or why not.
    loop {
        match from_agent.next().await {
            Some(Ok(Message::Text(t))) => match serde_json::from_str::<ExecControl>(&t) {
                Ok(ExecControl::Started) => break,
                Ok(ExecControl::Error { message }) => bail!("{message}"),
                _ => {}
            },
            Some(Ok(Message::Close(_))) | None => bail!("the agent closed the session"),
            Some(Err(e)) => return Err(e).context("the session broke"),
            Some(Ok(_)) => {}
        }
    }
    let _raw = (args.tty && stdin_tty).then(RawTerminal::enter).flatten();
    let (outgoing, mut queue) = tokio::sync::mpsc::channel::<Message>(64);
    if args.interactive {
        read_stdin(outgoing.clone());
    }
    #[cfg(unix)]
    if args.tty {
        follow_size(outgoing.clone());
    }
    drop(outgoing);
    let sender = tokio::spawn(async move {
        while let Some(m) = queue.recv().await {
            if to_agent.send(m).await.is_err() {
                break;
            }
        }
    });
    let mut stdout = std::io::stdout();
    let mut stderr = std::io::stderr();
    let code = loop {
        match from_agent.next().await {
            Some(Ok(Message::Binary(frame))) => {
                let (stream, data) = frame.split_first().unwrap_or((&0, &[]));
                let out: &mut dyn Write =
                    if *stream == EXEC_STDERR { &mut stderr } else { &mut stdout };
                out.write_all(data)?;
                out.flush()?;
            }
            Some(Ok(Message::Text(t))) => match serde_json::from_str::<ExecControl>(&t) {
                Ok(ExecControl::Exit { code }) => break code,
                Ok(ExecControl::Error { message }) => {
                    drop(_raw);
                    bail!("{message}")
                }
                _ => {}
            },
            Some(Ok(Message::Close(_))) | None => {
                drop(_raw);
                bail!("the session closed before the command's exit code came")
            }
            Some(Err(e)) => {
                drop(_raw);
                return Err(e).context("the session broke");
            }
            Some(Ok(_)) => {}
        }
    };
    sender.abort();
    Ok(code)
}

/// A connection to an agent, over TLS or not.
trait Connection: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Connection for T {}

/// The session's WebSocket.
type Socket = tokio_tungstenite::WebSocketStream<Box<dyn Connection>>;

/// Opens the session's WebSocket: `ws://host:port/...`, or `wss://` (the
/// agent serves sessions over TLS), checked against the certificates the
/// client trusts (the public roots and `AWS_CA_BUNDLE`).
async fn connect(url: &str, tls: std::sync::Arc<rustls::ClientConfig>) -> anyhow::Result<Socket> {
    let (secure, rest) = match url.split_once("://") {
        Some(("wss", rest)) => (true, rest),
        Some(("ws", rest)) => (false, rest),
        _ => bail!("the session's streamUrl {url} is neither ws:// nor wss://"),
    };
    let authority = rest.split('/').next().unwrap_or(rest);
    let stream = tokio::net::TcpStream::connect(authority)
        .await
        .with_context(|| format!("cannot reach the task's agent at {authority}"))?;
    // Keystrokes are a byte or two: Nagle's algorithm would hold them back.
    stream.set_nodelay(true)?;
    let stream: Box<dyn Connection> = if secure {
        let host = match authority.rsplit_once(':') {
            Some((host, port)) if port.parse::<u16>().is_ok() => host,
            _ => authority,
        };
        let name = rustls::pki_types::ServerName::try_from(
            host.trim_start_matches('[').trim_end_matches(']').to_owned(),
        )
        .with_context(|| format!("{host} is not a host name or address"))?;
        let tls = tokio_rustls::TlsConnector::from(tls)
            .connect(name, stream)
            .await
            .with_context(|| format!("no TLS session with the task's agent at {authority}"))?;
        Box::new(tls)
    } else {
        Box::new(stream)
    };
    let (socket, _) = tokio_tungstenite::client_async(url, stream)
        .await
        .with_context(|| format!("the task's agent at {authority} refused the session"))?;
    Ok(socket)
}

/// Sends standard input as it comes, then the end of input.
fn read_stdin(out: tokio::sync::mpsc::Sender<Message>) {
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin().lock();
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            match stdin.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if out.blocking_send(Message::Binary(buf[..n].to_vec().into())).is_err() {
                        return;
                    }
                }
            }
        }
        let _ = out.blocking_send(control(&ExecControl::Eof));
    });
}

/// Sends the terminal's new size at each SIGWINCH.
#[cfg(unix)]
fn follow_size(out: tokio::sync::mpsc::Sender<Message>) {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut changes) = signal(SignalKind::window_change()) else { return };
    tokio::spawn(async move {
        while changes.recv().await.is_some() {
            if let Some((cols, rows)) = terminal_size() {
                if out.send(control(&ExecControl::Resize { cols, rows })).await.is_err() {
                    return;
                }
            }
        }
    });
}
