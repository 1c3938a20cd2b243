//! The crate's one error type.

use std::net::SocketAddr;

/// What can go wrong applying a configuration or serving it.
#[derive(Debug, thiserror::Error)]
pub enum LbError {
    /// A configuration value the data plane cannot use; the message names it.
    #[error("invalid load balancer configuration: {0}")]
    InvalidConfig(String),
    /// A listener's port could not be bound.
    #[error("cannot bind listener {address}: {source}")]
    Bind {
        /// The address and port.
        address: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The proxy worker threads could not be started.
    #[error("cannot start the load balancer's worker threads: {0}")]
    Workers(std::io::Error),
    /// `apply` was called outside a Tokio runtime.
    #[error("the load balancer must be started inside a Tokio runtime")]
    NoRuntime,
}
