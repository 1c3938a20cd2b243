//! `wharf compose convert FILE [-o OUT] [--family NAME]`: writes the ECS task
//! definition equivalent to a Docker Compose file (pretty JSON, the
//! RegisterTaskDefinition input) to stdout or OUT, and what could not be
//! carried over to stderr. Variables come from the environment and the
//! `.env` beside the file, as Compose reads them.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use crate::compose::{convert_file, is_compose_file, ConvertOptions};

/// Arguments of `wharf compose`.
#[derive(clap::Args, Debug)]
pub struct ComposeArgs {
    #[command(subcommand)]
    command: ComposeCommand,
}

#[derive(clap::Subcommand, Debug)]
enum ComposeCommand {
    /// Write the ECS task definition equivalent to a compose file.
    Convert(ConvertArgs),
}

/// Arguments of `wharf compose convert`.
#[derive(clap::Args, Debug)]
struct ConvertArgs {
    /// The compose file (docker-compose.yml, compose.yaml, ...).
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// Write the task definition here instead of to stdout.
    #[arg(short = 'o', long = "output", value_name = "OUT")]
    output: Option<PathBuf>,
    /// The task definition family (default: COMPOSE_PROJECT_NAME, the file's
    /// `name:`, or its directory's name).
    #[arg(long, value_name = "NAME")]
    family: Option<String>,
}

/// Runs `wharf compose ...`.
pub fn run(args: ComposeArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        ComposeCommand::Convert(args) => convert(args),
    }
}

fn convert(args: ConvertArgs) -> anyhow::Result<ExitCode> {
    if args.file.is_file() && !is_compose_file(&args.file) {
        anyhow::bail!(
            "{} does not look like a compose file (no top-level services: map)",
            args.file.display()
        );
    }
    let options = ConvertOptions { family: args.family, env: std::env::vars().collect() };
    let converted = convert_file(&args.file, &options)?;
    let mut stderr = std::io::stderr().lock();
    for warning in &converted.warnings {
        writeln!(stderr, "warning: {warning}")?;
    }
    let json = format!("{}\n", serde_json::to_string_pretty(&converted.task_definition)?);
    match &args.output {
        Some(out) => {
            std::fs::write(out, json).with_context(|| format!("writing {}", out.display()))?
        }
        None => std::io::stdout().lock().write_all(json.as_bytes())?,
    }
    Ok(ExitCode::SUCCESS)
}
