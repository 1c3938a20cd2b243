//! `wharf`: a self-hosted Amazon ECS.
//!
//! Two programs share this crate: `wharf`, one binary with a subcommand per
//! job (`server`, `agent`, `validate`, ...; each in `commands/<name>.rs`),
//! and `wharf-agent`, the agent alone for the hosts of a cluster. The agent's
//! program links only what the agent runs (not the control plane, the store
//! or the load balancer), so an idle agent keeps little code resident. This
//! file parses each program's command line, sets up logging and hands over.

mod api_client;
mod commands;
mod compose;
mod console;
mod container_logs;
mod dns;
mod ecs_reads;
mod embedded_link;
mod lb_config;
mod leading;
mod listen;
mod load_balancing;
mod metrics;
mod query_xml;
mod remote_link;
mod security;
mod service_metrics;
mod table;
mod vpc_routes;

/// mimalloc: the API's request path allocates many small, short-lived
/// buffers across threads, which glibc's allocator serves measurably slower.
/// It is built to commit its arenas lazily (`.cargo/config.toml`), so idle
/// servers and agents hold only the memory they use (tested in
/// `tests/layering.rs`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

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
    Server(Box<commands::server::ServerArgs>),
    /// Run only the agent: join a server elsewhere and run its tasks on this host's Docker.
    Agent(Box<commands::agent::AgentCommandArgs>),
    /// Simulate container instances for scale runs: they register and report through the agent link, run nothing.
    Sim(Box<commands::sim::SimArgs>),
    /// Check task definition files offline, as RegisterTaskDefinition would.
    Validate(commands::validate::ValidateArgs),
    /// Show a task's or a service's container output (awslogs), interleaved; -f to follow.
    Logs(commands::logs::LogsArgs),
    /// Run a task definition file (or a Compose file): register it, run it, show its output.
    Run(commands::run::RunArgs),
    /// Docker Compose in: `convert` writes the equivalent ECS task definition.
    Compose(commands::compose::ComposeArgs),
    /// List a cluster's tasks: status, health, ports, age; -a to include stopped ones.
    Ps(commands::ps::PsArgs),
    /// List a cluster's services: desired, running and pending tasks, rollout.
    Services(commands::services::ServicesArgs),
    /// Show a task, service, task definition, cluster, instance, load balancer or target group.
    Describe(commands::describe::DescribeArgs),
    /// Stop tasks (StopTask), with a reason.
    Stop(commands::stop::StopArgs),
    /// Send Fargate Spot tasks a Spot interruption, as AWS does when it takes capacity back.
    SpotInterrupt(commands::spot::SpotArgs),
    /// Run a command in a task's container (ECS Exec): -it for an interactive shell.
    Exec(commands::exec::ExecArgs),
    /// Show what changed between two task definitions (family:rev, ARN or JSON file).
    Diff(commands::diff::DiffArgs),
    /// Show the audit trail: who made which mutating call, on what, from where, with what outcome.
    Audit(commands::audit::AuditArgs),
    /// Write a shell completion script (bash, zsh, fish, elvish, powershell) to stdout.
    Completions(commands::completions::CompletionsArgs),
}

/// The `wharf` program: parses its command line and runs the subcommand.
pub fn wharf_main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Server(args) => {
            init_logging();
            commands::server::run(*args)
        }
        Command::Agent(args) => {
            init_logging();
            commands::agent::run(*args)
        }
        Command::Sim(args) => {
            init_logging();
            commands::sim::run(*args)
        }
        Command::Validate(args) => commands::validate::run(&args),
        Command::Logs(args) => commands::logs::run(args),
        Command::Run(args) => commands::run::run(args),
        Command::Compose(args) => commands::compose::run(args),
        Command::Ps(args) => commands::ps::run(args),
        Command::Services(args) => commands::services::run(args),
        Command::Describe(args) => commands::describe::run(args),
        Command::Stop(args) => commands::stop::run(args),
        Command::SpotInterrupt(args) => commands::spot::run(args),
        Command::Exec(args) => commands::exec::run(args),
        Command::Diff(args) => commands::diff::run(args),
        Command::Audit(args) => commands::audit::run(args),
        Command::Completions(args) => commands::completions::run(&args, &mut Cli::command()),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("wharf: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The command line of `wharf-agent`: the options of `wharf agent`.
#[derive(Debug, Parser)]
#[command(
    name = "wharf-agent",
    version,
    about = "The Wharf agent alone: joins a Wharf server and runs the tasks it places on this host's Docker."
)]
struct AgentCli {
    #[command(flatten)]
    args: commands::agent::AgentCommandArgs,
}

/// The `wharf-agent` program: the agent alone, as `wharf agent` runs it.
pub fn agent_main() -> ExitCode {
    let cli = AgentCli::parse();
    init_logging();
    match commands::agent::run(cli.args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("wharf-agent: {e:#}");
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
