//! Messages between the server and its agents, the same embedded or across
//! a network. They are made of ECS wire shapes: an agent receives a task as
//! DescribeTasks shows it, and reports changes as partial `Task`s.

use serde::{Deserialize, Serialize};

use crate::ecs::shapes::{Task, TaskDefinition};

/// A task placed on an agent's instance, with the definition it runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Assignment {
    /// The cluster's name.
    pub cluster: String,
    /// The task as stored: desired status, overrides, containers.
    pub task: Task,
    /// Its task definition.
    pub definition: TaskDefinition,
}
