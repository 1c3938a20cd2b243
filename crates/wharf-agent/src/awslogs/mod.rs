//! The `awslogs` log driver, done by the agent.
//!
//! In ECS, Docker's own awslogs driver sends a container's output to
//! CloudWatch Logs. Wharf keeps the container on Docker's `json-file` driver
//! (so `docker logs` still works and the output is safe on disk) and the
//! agent ships it instead: it follows the container's output (reading the
//! json-file itself when it is on this host, [`jsonfile`], else through the
//! engine's log API), puts it together into events exactly as Docker's awslogs
//! driver does ([`assemble`]), and stores them through the server link with
//! the position reached ([`cursor`]), in one transaction. An agent that
//! restarts asks the server for that position and resumes right after it:
//! nothing is lost and nothing is shipped twice.
//!
//! [`options`] reads the container's `logConfiguration.options` with
//! Docker's rules and messages; [`shipper`] is the loop that follows one
//! container.

pub mod assemble;
pub mod cursor;
pub mod jsonfile;
pub mod options;
pub mod shipper;

pub use options::{parse, AwsLogsOptions, Mode};
pub use shipper::{ship, ShipperConfig};
