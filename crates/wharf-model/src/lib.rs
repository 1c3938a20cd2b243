//! Wharf's model: the ECS, ELBv2, CloudWatch Logs, SSM Parameter Store and Secrets Manager wire
//! shapes, ARNs, validation rules and each service's error type. Everything
//! here is pure: no I/O, no clocks, no async. The API layer parses requests
//! into these shapes, validation decides whether the service would accept
//! them, and the store keeps them.
//!
//! The shapes in [`ecs::shapes`] are generated from the same service model the
//! AWS SDKs are generated from (`tools/gen_shapes.py`), so they are the wire
//! format by construction rather than a hand-kept copy of it.
#![warn(missing_docs)]

pub mod acm;
pub mod agent;
pub mod application_autoscaling;
pub mod arn;
pub mod clock;
pub mod cloudwatch;
pub mod codedeploy;
pub mod ec2;
pub mod ecs;
pub mod elbv2;
pub mod error;
pub mod ids;
pub mod logs;
pub mod secretsmanager;
pub mod servicediscovery;
pub mod ssm;
pub mod wire;

pub use error::{EcsError, EcsErrorKind};
pub use wire::{IsoTimestamp, Shape, Timestamp};
