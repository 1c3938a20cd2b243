//! One module per subcommand.

pub mod server;
pub mod validate;
