//! The machine's reports as the API shows them: partial `Task`s and
//! `Container`s, in ECS's wire shapes, ready for [`crate::link::ServerLink::report`].

use wharf_model::ecs::shapes::{Connectivity, Container, Task};
use wharf_model::wire::Timestamp;

use crate::report::{ContainerReport, TaskReport};

fn at(ms: Option<i64>) -> Option<Timestamp> {
    ms.map(Timestamp::from_millis)
}

/// A task report as a partial `Task`.
pub fn task_change(task_arn: &str, report: &TaskReport) -> Task {
    let t = &report.times;
    Task {
        task_arn: Some(task_arn.to_owned()),
        last_status: Some(report.status),
        desired_status: Some(report.desired_status.clone()),
        health_status: Some(report.health_status.clone()),
        stop_code: report.stop.as_ref().map(|s| s.code.clone()),
        stopped_reason: report.stop.as_ref().map(|s| s.message.clone()),
        pull_started_at: at(t.pull_started_at),
        pull_stopped_at: at(t.pull_stopped_at),
        started_at: at(t.started_at),
        // No ENI to wait for: the task is connected when it is running.
        connectivity: t.started_at.map(|_| Connectivity::Connected),
        connectivity_at: at(t.started_at),
        stopping_at: at(t.stopping_at),
        execution_stopped_at: at(t.execution_stopped_at),
        stopped_at: at(t.stopped_at),
        ..Task::default()
    }
}

/// A container report as a partial `Container`.
pub fn container_change(report: &ContainerReport) -> Container {
    Container {
        name: Some(report.name.clone()),
        last_status: Some(report.last_status()),
        exit_code: report.exit_code,
        reason: report.reason.as_ref().map(ToString::to_string),
        health_status: Some(report.health_status.clone()),
        runtime_id: report.runtime_id.clone(),
        network_bindings: (!report.network_bindings.is_empty())
            .then(|| report.network_bindings.clone()),
        ..Container::default()
    }
}
