//! `wharf`: the command line (see the crate's library for the subcommands).

fn main() -> std::process::ExitCode {
    wharf::wharf_main()
}
