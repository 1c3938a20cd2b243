//! `wharf server`: the control plane. Opens the store, serves the API, and
//! shuts down cleanly on SIGINT or SIGTERM (in-flight requests finish; the
//! store's writer has committed everything it acknowledged).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use wharf_api::AppState;
use wharf_model::clock::SystemClock;
use wharf_store::SqliteStore;

/// Options of `wharf server`.
#[derive(Debug, clap::Args)]
pub struct ServerArgs {
    /// Address the API listens on.
    #[arg(long, env = "WHARF_LISTEN", default_value = "127.0.0.1:4590")]
    listen: SocketAddr,
    /// Directory holding Wharf's state (default: $XDG_DATA_HOME/wharf or ~/.local/share/wharf).
    #[arg(long, env = "WHARF_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// The AWS account id that ARNs carry.
    #[arg(long, env = "WHARF_ACCOUNT_ID", default_value = "000000000000")]
    account_id: String,
    /// Serve `POST /_wharf/reset`, which wipes all state (for test suites).
    #[arg(long)]
    allow_reset: bool,
}

/// The default data directory: `$XDG_DATA_HOME/wharf`, else `~/.local/share/wharf`.
fn default_data_dir() -> anyhow::Result<PathBuf> {
    if let Some(d) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(d).join("wharf"));
    }
    let home = std::env::var_os("HOME")
        .context("neither XDG_DATA_HOME nor HOME is set; pass --data-dir")?;
    Ok(PathBuf::from(home).join(".local/share/wharf"))
}

/// Runs the server until SIGINT or SIGTERM.
pub fn run(args: ServerArgs) -> anyhow::Result<ExitCode> {
    if args.account_id.len() != 12 || !args.account_id.bytes().all(|b| b.is_ascii_digit()) {
        anyhow::bail!("--account-id must be twelve digits, not {:?}", args.account_id);
    }
    let data_dir = match args.data_dir.clone() {
        Some(d) => d,
        None => default_data_dir()?,
    };
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("cannot create data directory {}", data_dir.display()))?;
    let lock = lock_data_dir(&data_dir)?;
    let db = data_dir.join("wharf.db");
    let store = SqliteStore::open(&db).with_context(|| format!("cannot open {}", db.display()))?;
    let state = AppState {
        store: Arc::new(store),
        clock: Arc::new(SystemClock),
        account_id: args.account_id.as_str().into(),
        allow_reset: args.allow_reset,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(args.listen, state))?;
    drop(lock);
    Ok(ExitCode::SUCCESS)
}

async fn serve(listen: SocketAddr, state: AppState) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let addr = listener.local_addr()?;
    tracing::info!(account = %state.account_id, reset = state.allow_reset, "listening on {addr}");
    let app = wharf_api::router(state);
    axum::serve(listener, app).with_graceful_shutdown(shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

/// Resolves on the first SIGINT or SIGTERM.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot watch SIGTERM; stopping on SIGINT only");
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
    tracing::info!("shutting down");
}

/// Takes an exclusive lock on the data directory, so two servers never share
/// one database. Released when the returned file is dropped (or the process dies).
fn lock_data_dir(dir: &std::path::Path) -> anyhow::Result<std::fs::File> {
    let path = dir.join("lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => {
            anyhow::bail!("another wharf server is using {}", dir.display())
        }
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("cannot lock {}", path.display()))
        }
    }
}
