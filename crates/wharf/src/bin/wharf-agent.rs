//! `wharf-agent`: the agent alone, for the hosts of a cluster. It runs as
//! `wharf agent` does, from a program that links only the agent.

fn main() -> std::process::ExitCode {
    wharf::agent_main()
}
