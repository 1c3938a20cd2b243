//! Wharf's protocol front door.
//!
//! One HTTP endpoint, as AWS has many: a request names its service and
//! operation in the `X-Amz-Target` header (AWS JSON 1.1) or, for the Query
//! protocol (ELBv2), in its form body's `Action`. [`dispatch`] reads that,
//! [`protocol`] and [`query`] speak the wire formats (bodies, error shapes,
//! request ids), and each service has a module of thin handlers ([`ecs`],
//! [`elbv2`], [`ssm`], [`secretsmanager`], [`logs`]) that parse
//! into model shapes, call the model's rules and the store, and answer.
//!
//! Handlers hold no state of their own: everything lives in the store.
//! [`metrics`] counts each answered request by operation, for `/metrics`.
//! [`secrets`] resolves an ECS container's `secrets[].valueFrom` from the
//! parameters and secrets kept there, for the agent.
#![warn(missing_docs)]

pub mod acm;
pub mod agent_http;
pub mod agent_link;
pub mod agent_stats;
pub mod application_autoscaling;
pub mod audit;
pub mod authz;
pub mod body_limit;
pub mod changes;
pub mod cloudwatch;
pub mod codedeploy;
pub mod context;
pub mod dispatch;
pub mod ec2;
pub mod ecs;
pub mod elbv2;
pub mod exec;
pub mod instance_changes;
pub mod logs;
pub mod metrics;
pub mod pagination;
pub mod protocol;
pub mod pulls;
pub mod query;
pub mod random;
mod records;
pub mod request_id;
pub mod secrets;
pub mod secretsmanager;
pub mod servicediscovery;
pub mod sigv4;
pub mod ssm;
pub mod sts;
pub mod task_roles;
pub mod throttle;
pub mod wharf_ops_api;

pub use context::AppState;
pub use dispatch::router;
