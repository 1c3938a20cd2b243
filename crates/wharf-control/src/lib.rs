//! Wharf's reconcilers. Each is a pure step from a snapshot and the time to
//! what should be done, inside a thin loop that applies it; the steps are
//! tested with plain values and a fake clock, the loops with a real store:
//! stopped-task expiry ([`cleanup`]), log retention ([`logs_retention`]),
//! instance liveness ([`liveness`]), the service scheduler ([`services`]),
//! CodeDeploy's deployments to ECS services ([`codedeploy`]), the
//! registration of service tasks in Cloud Map ([`discovery`]), the purge
//! of deleted task definition revisions ([`task_definitions`]) and the
//! managed scaling of custom capacity providers ([`capacity_scaling`]) and
//! Application Auto Scaling of services ([`service_scaling`]).
#![warn(missing_docs)]

pub mod capacity_scaling;
pub mod cleanup;
pub mod codedeploy;
pub mod discovery;
pub mod liveness;
pub mod logs_retention;
pub mod service_scaling;
pub mod services;
pub mod task_definitions;
