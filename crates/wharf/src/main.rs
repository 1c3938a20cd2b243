//! `wharf`: a self-hosted Amazon ECS.
//!
//! One binary, one subcommand per job (`server`, `validate`, ...); each lives
//! in `commands/<name>.rs`. This file only parses the command line, sets up
//! logging and hands over.

mod api_client;
mod commands;
mod embedded_link;
mod lb_config;
mod load_balancing;
mod metrics;
mod remote_link;
mod service_launcher;

/// mimalloc: the API's request path allocates many small, short-lived
/// buffers across threads, which glibc's allocator serves measurably slower.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// A self-hosted Amazon ECS: your task definitions, on Docker, with the ECS API.
#[derive(Debug, Parser)]
#[command(name = "wharf", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the control plane: the ECS API on one port, state in a data directory.
    Server(commands::server::ServerArgs),
    /// Run only the agent: join a server elsewhere and run its tasks on this host's Docker.
    Agent(commands::agent::AgentCommandArgs),
    /// Check task definition files offline, as RegisterTaskDefinition would.
    Validate(commands::validate::ValidateArgs),
    /// Show a task's or a service's container output (awslogs), interleaved; -f to follow.
    Logs(commands::logs::LogsArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Server(args) => {
            init_logging();
            commands::server::run(args)
        }
        Command::Agent(args) => {
            init_logging();
            commands::agent::run(args)
        }
        Command::Validate(args) => commands::validate::run(&args),
        Command::Logs(args) => commands::logs::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("wharf: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Logs to stderr, filtered by `RUST_LOG` (default `info`).
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr)
        .init();
}
