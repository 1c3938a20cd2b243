//! `wharf completions SHELL`: the shell completion script for `wharf`
//! (bash, zsh, fish, elvish, powershell), written to stdout, e.g.
//! `wharf completions bash > /etc/bash_completion.d/wharf`.

use std::process::ExitCode;

/// Options of `wharf completions`.
#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell to write the script for.
    shell: clap_complete::Shell,
}

/// Writes the completion script of `command` (the whole `wharf` CLI).
pub fn run(args: &CompletionsArgs, command: &mut clap::Command) -> anyhow::Result<ExitCode> {
    clap_complete::generate(args.shell, command, "wharf", &mut std::io::stdout());
    Ok(ExitCode::SUCCESS)
}
