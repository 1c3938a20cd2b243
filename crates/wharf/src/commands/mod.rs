//! One module per subcommand.

pub mod agent;
pub mod logs;
pub mod server;
pub mod validate;
