//! The endpoints ECS serves inside a task: task metadata (v4 and v3) and the
//! task role's credentials, with the environment variables that point
//! containers (and the AWS SDKs in them) at them.
//!
//! # Pieces
//!
//! - [`Registry`]: the agent's view of its tasks: which token belongs to
//!   which container, what each task and container looks like now. The task
//!   driver feeds it; the server reads it.
//! - [`serve`] (or [`router`]): the HTTP server, on axum.
//! - [`CredentialsSource`]: a task's role credentials, minted by the
//!   server's STS through the agent link (or pinned by the operator).
//! - [`ensure_link_local_address`]: puts ECS's address, `169.254.170.2`, on
//!   the loopback interface, so that containers reach the server at the URLs
//!   they would use on ECS.
//!
//! # Wiring
//!
//! At agent start: [`ensure_link_local_address`], bind
//! `169.254.170.2:80`, spawn [`serve`] with a [`Registry`] (cloned into the
//! drivers) and the runtime. Per task, in the driver:
//!
//! 1. [`Registry::add_task`] when the driver starts;
//! 2. [`Registry::container_env`] into each container's extra environment
//!    (`spec::TaskContext::extra_env`);
//! 3. [`Registry::container_created`] after each create and
//!    [`Registry::container_started`] after each start or adoption
//!    (the pause container of an awsvpc task too, under
//!    [`crate::pause::PAUSE_CONTAINER_NAME`]);
//! 4. [`Registry::report`] with each report sent to the server;
//! 5. [`Registry::remove_task`] once the task is cleaned up.
//!
//! # Differences from ECS
//!
//! The ECS agent serves on `127.0.0.1:51679` behind an iptables DNAT from
//! `169.254.170.2:80`; Wharf binds `169.254.170.2:80` itself. Not served:
//! `ECS_AGENT_URI` (`/api/<id>`: task protection), the container
//! associations, `/v2/metadata` (awsvpc-only, by source address), the v4
//! `network_rate_stats`, `ClockDrift`, `EphemeralStorageMetrics`, `VPCID`,
//! `ContainerInstanceTags`, `Volumes` and `RestartCount`; no rate limit.
//! Task role credentials are minted by Wharf's own STS (see
//! [`CredentialsSource::for_task`]), not AWS's.

mod credentials;
mod registry;
mod response;
mod server;
#[cfg(test)]
mod tests;

use std::process::Command;

pub use credentials::{CredentialsSource, RoleCredentials, ANY_ROLE, REFRESH_BEFORE_EXPIRY_SECS};
pub use registry::{Registry, TaskTokens};
pub use server::{router, serve};

/// The address ECS serves these endpoints at, inside tasks.
pub const LINK_LOCAL_ADDRESS: &str = "169.254.170.2";

/// The URL containers reach the endpoints at, by default.
pub const DEFAULT_BASE_URL: &str = "http://169.254.170.2";

/// What went wrong setting the endpoints up.
#[derive(Debug, thiserror::Error)]
pub enum MetadataError {
    /// A command could not be run at all (`ip` missing, say).
    #[error("cannot run `{command}`: {error}")]
    Spawn {
        /// The command line.
        command: String,
        /// Why.
        error: std::io::Error,
    },
    /// A command ran and failed.
    #[error("`{command}` failed ({status}): {stderr}")]
    Command {
        /// The command line.
        command: String,
        /// Its exit status.
        status: String,
        /// What it wrote to stderr.
        stderr: String,
    },
    /// The credentials file could not be read or parsed. The message names
    /// the place, never a value.
    #[error("task role credentials: {0}")]
    Credentials(String),
}

fn run(args: &[&str]) -> Result<std::process::Output, MetadataError> {
    let command = args.join(" ");
    let (program, rest) = args.split_first().unwrap_or((&"ip", &[]));
    Command::new(program)
        .args(rest)
        .output()
        .map_err(|error| MetadataError::Spawn { command, error })
}

/// Puts [`LINK_LOCAL_ADDRESS`]`/32` on the loopback interface (`ip addr add
/// 169.254.170.2/32 dev lo`) unless it is there already (`ip -o addr show
/// dev lo`). Needs root (`CAP_NET_ADMIN`); on failure the error says why,
/// and the agent can carry on without the endpoints. Blocks briefly (two
/// short commands).
pub fn ensure_link_local_address() -> Result<(), MetadataError> {
    ensure_loopback_address(LINK_LOCAL_ADDRESS)
}

/// Puts `ip/32` on the loopback interface unless it is there already (see
/// [`ensure_link_local_address`]).
pub fn ensure_loopback_address(ip: &str) -> Result<(), MetadataError> {
    let wanted = format!("{ip}/32");
    let has = |out: &[u8]| String::from_utf8_lossy(out).split_whitespace().any(|w| w == wanted);
    let show = run(&["ip", "-o", "addr", "show", "dev", "lo"])?;
    if show.status.success() && has(&show.stdout) {
        return Ok(());
    }
    let add = run(&["ip", "addr", "add", &wanted, "dev", "lo"])?;
    if add.status.success() {
        tracing::info!(address = %wanted, "task metadata: address added to lo");
        return Ok(());
    }
    // Someone else (another agent, a test) added it meanwhile.
    let again = run(&["ip", "-o", "addr", "show", "dev", "lo"])?;
    if again.status.success() && has(&again.stdout) {
        return Ok(());
    }
    Err(MetadataError::Command {
        command: format!("ip addr add {wanted} dev lo"),
        status: add.status.to_string(),
        stderr: String::from_utf8_lossy(&add.stderr).trim().to_owned(),
    })
}
