//! Amazon ECS: wire shapes and the rules ECS applies to them.

pub mod attributes;
pub mod network;
pub mod placement;
pub mod service;
pub mod shapes;
pub mod task;
pub mod task_definition;
pub mod task_definition_diff;
