//! One module per subcommand.

pub mod agent;
pub mod compose;
pub mod logs;
pub mod run;
pub mod server;
pub mod validate;
