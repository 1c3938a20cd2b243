//! Amazon ECS: wire shapes and the rules ECS applies to them.

pub mod attributes;
pub mod capacity;
pub mod launch;
pub mod network;
pub mod placement;
pub mod resolved;
pub mod service;
pub mod shapes;
pub mod status;
pub mod tags;
pub mod task;
pub mod task_definition;
pub mod task_definition_diff;
