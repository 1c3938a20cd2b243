//! Wharf's Application Load Balancer data plane.
//!
//! Input is [`LbConfig`] (listeners, rules, target groups and targets, modelled on ELBv2 and
//! with its defaults), given to [`LoadBalancer::apply`] whenever it changes. Output is
//! [`HealthReport`]s through a [`HealthSink`] whenever a target's health changes,
//! [`LoadBalancer::in_flight`] for a target's outstanding requests, and [`Traffic`]: requests,
//! status codes and target response times by load balancer and target group, for `/metrics`.
//!
//! The decisions are pure and tested alone: rule matching ([`rules`], [`wildcard`]), target
//! selection ([`select`]), the health state machine ([`health`]), the deregistration delay
//! ([`drain`]) and the answers an ALB writes itself ([`respond`]). The loops around them
//! (accept and proxy, health probes, drain timers) are thin. Hot-path data is swapped whole
//! behind `ArcSwap`: no lock is taken per request and none is held across I/O.

pub mod balancer;
pub mod body;
pub mod checker;
pub mod config;
pub mod drain;
pub mod error;
pub mod health;
pub mod listener;
pub mod pool;
pub mod proxy;
pub mod report;
pub mod respond;
pub mod rules;
pub mod select;
pub mod target;
pub mod tls;
pub mod traffic;
pub mod wildcard;
pub mod workers;

pub use balancer::LoadBalancer;
pub use config::{
    Action, Algorithm, Condition, FixedResponse, HealthCheck, LbConfig, Listener, ListenerTls,
    QueryPair, Redirect, RedirectCode, Rule, Target, TargetGroup, TlsCertificate,
    WeightedTargetGroup,
};
pub use error::LbError;
pub use health::{Reason, TargetState};
pub use report::{DiscardReports, HealthReport, HealthSink};
pub use traffic::Traffic;
