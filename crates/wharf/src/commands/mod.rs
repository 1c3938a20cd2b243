//! One module per subcommand.

pub mod agent;
pub mod server;
pub mod validate;
