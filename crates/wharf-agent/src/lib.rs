//! The Wharf agent: runs the tasks the server places on its instance, on
//! Docker Engine, and reports their state back. It registers its host as a
//! container instance ([`host`]), hears of its tasks through the
//! [`link::ServerLink`] (in process, or over HTTP for a remote agent), and
//! gives each task a driver ([`agent`]) that owns a per-task state machine and
//! turns its actions into runtime calls ([`runtime`]: Docker, or a fake for
//! tests). Around the containers: `awsvpc` pause containers ([`awsvpc`],
//! [`pause`]), volumes and secrets ([`provision`]), `awslogs` shipping
//! ([`awslogs`]), the task metadata and credentials endpoints ([`metadata`]),
//! container stats ([`stats`]), ECS Exec sessions ([`exec`]) and cleanup of
//! stopped tasks ([`cleanup`]).
//!
//! # One owner per task
//!
//! The ECS agent gives every task exactly one owner, its `managedTask`
//! goroutine, and lets nothing else change the task's known or desired
//! statuses. Wharf keeps the rule and makes the owner a value: a
//! [`TaskMachine`] takes in [`Event`]s (the server wants the task stopped, an
//! image finished pulling, a container exited, time passed) and answers with
//! [`Action`]s (provision, pull, create, start, stop, report, clean up). It
//! reads no clock (time is an argument), performs no I/O and never blocks, so
//! every lifecycle rule is tested with plain values and fake time, and the
//! same machine runs under the Docker runtime, a fake runtime, or a replay.
//!
//! # Invariants
//!
//! - Progress only moves forward: [`TaskStatus`] and [`ContainerStatus`] are
//!   ordered, and a status is only ever replaced by a later one.
//! - A repeated or late event changes nothing and produces no action; each
//!   request to the runtime is made once and answered by one event.
//! - The first known reason for a stop is the one reported.
//!
//! # Around the machine
//!
//! The runtime seam turns [`Action`]s into Docker calls and Docker's answers
//! and events back into [`Event`]s; one tokio task per ECS task owns a machine,
//! fed through a channel, and sleeps until [`TaskMachine::next_deadline`]
//! rather than polling. The server link delivers `Start` and `StopRequested`
//! and forwards [`TaskReport`]s and [`ContainerReport`]s. What a task runs is
//! its definition with RunTask's overrides applied, read once by
//! `wharf_model::ecs::resolved` for placement and the agent alike.
#![warn(missing_docs)]

pub mod agent;
pub mod awslogs;
pub mod awsvpc;
pub mod cleanup;
mod container;
mod dependencies;
pub mod dns;
mod driver;
mod event;
pub mod exec;
pub mod host;
pub mod hostnet;
pub mod link;
mod machine;
pub mod metadata;
pub mod pause;
pub mod provision;
mod pull_progress;
mod report;
pub mod runtime;
pub mod s3;
pub mod sim;
pub mod spec;
pub mod stats;
pub mod stop;
pub mod task_cgroup;
pub mod wire;

pub use agent::{Agent, AgentConfig, AgentError, HostNetworking, MetadataConfig, StatsConfig};
pub use container::DEFAULT_STOP_TIMEOUT;
pub use event::{Action, Event};
pub use machine::{DefinitionError, TaskMachine};
pub use report::{ContainerReport, TaskReport, TaskTimes};
pub use stop::{NamedError, StopReason};
pub use wharf_model::ecs::status::{ContainerStatus, TaskStatus};
