//! One module per subcommand.

pub mod agent;
pub mod audit;
pub mod completions;
pub mod compose;
pub mod connection;
pub mod describe;
pub mod diff;
pub mod exec;
pub mod logs;
pub mod ps;
pub mod run;
pub mod server;
pub mod services;
pub mod sim;
pub mod spot;
pub mod stop;
pub mod validate;
