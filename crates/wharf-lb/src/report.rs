//! The data plane's output: target health changes, for the binary to store and
//! DescribeTargetHealth to show.

use tokio::sync::mpsc;

use crate::health::{Reason, TargetState};

/// One target's new health, sent whenever its state or reason changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthReport {
    /// The target group's ARN.
    pub target_group_arn: String,
    /// The target's ID.
    pub target_id: String,
    /// The target's port.
    pub port: u16,
    /// `TargetHealth.State`.
    pub state: TargetState,
    /// `TargetHealth.Reason` (its code is [`Reason::code`]); none when healthy.
    pub reason: Option<Reason>,
    /// `TargetHealth.Description`; none when healthy.
    pub description: Option<String>,
}

/// Where health reports go. Called from health check tasks: it must not block.
pub trait HealthSink: Send + Sync + std::fmt::Debug {
    /// Takes one report.
    fn report(&self, report: HealthReport);
}

impl HealthSink for mpsc::UnboundedSender<HealthReport> {
    fn report(&self, report: HealthReport) {
        // The receiver gone means nobody listens any more; nothing to do.
        let _ = self.send(report);
    }
}

/// A sink that drops every report.
#[derive(Debug, Default, Clone, Copy)]
pub struct DiscardReports;

impl HealthSink for DiscardReports {
    fn report(&self, _report: HealthReport) {}
}
