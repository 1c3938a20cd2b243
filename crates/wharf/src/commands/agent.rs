//! `wharf agent`: the agent alone, on a host other than the server's. It
//! registers this host with the server at `--endpoint`, runs the tasks the
//! server places here on the local Docker engine, and reports back, exactly
//! as the agent embedded in `wharf server` does.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;

use super::server::{default_data_dir, run_agent, shutdown_signal, AgentArgs};
use crate::remote_link::RemoteLink;

/// Options of `wharf agent`.
#[derive(Debug, clap::Args)]
pub struct AgentCommandArgs {
    /// The server's address.
    #[arg(long, env = "WHARF_ENDPOINT", default_value = "http://127.0.0.1:4590")]
    endpoint: String,
    /// The token the server asks agents for (`wharf server --agent-token`).
    #[arg(long, env = "WHARF_AGENT_TOKEN")]
    token: Option<String>,
    /// Where the agent keeps its state (default: the data directory's `agent/`).
    #[arg(long, env = "WHARF_AGENT_STATE_DIR")]
    state_dir: Option<PathBuf>,
    #[command(flatten)]
    agent: AgentArgs,
}

/// Runs the agent until SIGINT or SIGTERM.
pub fn run(args: AgentCommandArgs) -> anyhow::Result<ExitCode> {
    let state_dir = match args.state_dir {
        Some(d) => d,
        None => default_data_dir()?.join("agent"),
    };
    std::fs::create_dir_all(&state_dir)
        .with_context(|| format!("cannot create {}", state_dir.display()))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let link = RemoteLink::new(&args.endpoint, &args.agent.region, args.token);
    runtime.block_on(run_agent(args.agent, Arc::new(link), Some(state_dir), shutdown_signal()))?;
    Ok(ExitCode::SUCCESS)
}
