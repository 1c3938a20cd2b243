//! Service event messages, in ECS's words (punctuation included), and how a
//! record keeps them: newest first, at most 100, a repeated message quiet for
//! six hours.

use wharf_model::ecs::service::{ServiceRecord, EVENT_QUIET_MS, MAX_EVENTS};
use wharf_model::ecs::shapes::{Failure, ServiceEvent};
use wharf_model::wire::Timestamp;

/// `(service X) has reached a steady state.`
pub fn steady_state(service: &str) -> String {
    format!("(service {service}) has reached a steady state.")
}

/// `(service X) has started N tasks: (task a) (task b).`
pub fn started(service: &str, tasks: &[String]) -> String {
    format!("(service {service}) has started {} tasks: {}.", tasks.len(), task_list(tasks))
}

/// `(service X) has stopped N running tasks: (task a) (task b).`
pub fn stopped(service: &str, tasks: &[String]) -> String {
    format!("(service {service}) has stopped {} running tasks: {}.", tasks.len(), task_list(tasks))
}

/// `(service X) (task T) failed container health checks.`
pub fn failed_container_health(service: &str, task: &str) -> String {
    format!("(service {service}) (task {task}) failed container health checks.")
}

/// `(service X) (task T) (port P) is unhealthy in (target-group ARN) due to (reason R)`
pub fn unhealthy_target(service: &str, task: &str, port: i32, group: &str, reason: &str) -> String {
    format!(
        "(service {service}) (task {task}) (port {port}) is unhealthy in (target-group {group}) \
         due to (reason {reason})"
    )
}

/// `(service X) registered N targets in (target-group ARN)` (no final period).
pub fn registered(service: &str, count: usize, group: &str) -> String {
    format!("(service {service}) registered {count} targets in (target-group {group})")
}

/// `(service X) deregistered N targets in (target-group ARN)` (no final period).
pub fn deregistered(service: &str, count: usize, group: &str) -> String {
    format!("(service {service}) deregistered {count} targets in (target-group {group})")
}

/// `(service X, taskSet D) has begun draining connections on N tasks.`
pub fn draining(service: &str, task_set: &str, count: usize) -> String {
    format!(
        "(service {service}, taskSet {task_set}) has begun draining connections on {count} tasks."
    )
}

/// `(service X) (deployment D) deployment completed.`
pub fn deployment_completed(service: &str, deployment: &str) -> String {
    format!("(service {service}) (deployment {deployment}) deployment completed.")
}

/// `(service X) (deployment D) entered the S lifecycle stage.`: a
/// blue/green, linear or canary deployment moving on.
pub fn lifecycle_stage(service: &str, deployment: &str, stage: &str) -> String {
    format!("(service {service}) (deployment {deployment}) entered the {stage} lifecycle stage.")
}

/// `(service X) (deployment D) shifted P% of production traffic to the new service revision.`
pub fn production_shifted(service: &str, deployment: &str, tenths: u32) -> String {
    let pct = if tenths.is_multiple_of(10) {
        format!("{}", tenths / 10)
    } else {
        format!("{}.{}", tenths / 10, tenths % 10)
    };
    format!(
        "(service {service}) (deployment {deployment}) shifted {pct}% of production traffic to \
         the new service revision."
    )
}

/// `(service X) (deployment D) test traffic is served by the new service revision.`
pub fn test_shifted(service: &str, deployment: &str) -> String {
    format!(
        "(service {service}) (deployment {deployment}) test traffic is served by the new service \
         revision."
    )
}

/// `(service X) restored production traffic to deployment D.`: a rollback
/// putting the weights back on blue.
pub fn traffic_restored(service: &str, deployment: &str) -> String {
    format!("(service {service}) restored production traffic to deployment {deployment}.")
}

/// `(service X) (deployment D) deployment failed: tasks failed to start.`
pub fn deployment_failed(service: &str, deployment: &str) -> String {
    format!(
        "(service {service}) (deployment {deployment}) deployment failed: tasks failed to start."
    )
}

/// `(service X) (deployment D) deployment failed: alarm detected.` (ECS
/// names the alarms in the service deployment, not in the event).
pub fn deployment_alarmed(service: &str, deployment: &str) -> String {
    format!("(service {service}) (deployment {deployment}) deployment failed: alarm detected.")
}

/// `(service X) rolling back to deployment D.`
pub fn rolling_back(service: &str, deployment: &str) -> String {
    format!("(service {service}) rolling back to deployment {deployment}.")
}

/// `(service X) is unable to consistently start tasks successfully.`
pub fn throttled(service: &str) -> String {
    format!("(service {service}) is unable to consistently start tasks successfully.")
}

/// The event when neither bound of the deployment configuration lets the
/// scheduler stop or start a task.
pub fn stuck(service: &str) -> String {
    format!(
        "(service {service}) was unable to stop or start tasks during a deployment because of \
         the service deployment configuration. Update the minimumHealthyPercent or \
         maximumPercent value and try again."
    )
}

/// Why a service's task found no instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unplaced {
    /// The cluster has no container instance at all.
    NoContainerInstances,
    /// ECS's sentence for the closest matching instance's shortfall.
    ClosestMatch(String),
}

impl Unplaced {
    /// The closest match among a launch's `failures` (the first instance
    /// that refused), in ECS's words.
    pub fn closest(failures: &[Failure]) -> Self {
        let Some(f) = failures.first() else { return Self::NoContainerInstances };
        let id = f.arn.as_deref().and_then(|a| a.rsplit('/').next()).unwrap_or("unknown");
        let lacks = match f.reason.as_deref() {
            Some("RESOURCE:CPU") => "has insufficient CPU units available.",
            Some("RESOURCE:MEMORY") => "has insufficient memory available.",
            Some("RESOURCE:PORTS") => "is already using a port required by your task.",
            Some("AGENT") => "encountered error \"AGENT\".",
            _ => "is missing an attribute required by your task.",
        };
        Self::ClosestMatch(format!("The closest matching (container-instance {id}) {lacks}"))
    }
}

/// The event when no container instance can take a task.
pub fn unable_to_place(service: &str, why: &Unplaced) -> String {
    let reason = match why {
        Unplaced::NoContainerInstances => {
            "Reason: No Container Instances were found in your cluster.".to_owned()
        }
        Unplaced::ClosestMatch(sentence) => sentence.clone(),
    };
    format!(
        "(service {service}) was unable to place a task because no container instance met all \
         of its requirements. {reason} For more information, see the Troubleshooting section \
         of the Amazon ECS Developer Guide."
    )
}

/// The event when a launch failed for a reason other than placement:
/// `(service X) was unable to place a task. Reason: <error>.`
pub fn unable_to_launch(service: &str, reason: &str) -> String {
    let reason = reason.trim_end_matches('.');
    format!("(service {service}) was unable to place a task. Reason: {reason}.")
}

/// `stoppedReason` of a task the scheduler stops to scale in or replace.
pub fn scaling_reason(deployment: &str) -> String {
    format!("Scaling activity initiated by (deployment {deployment})")
}

/// `stoppedReason` of a task stopped for failing its container health checks.
pub const FAILED_CONTAINER_HEALTH_REASON: &str = "Task failed container health checks";

/// `stoppedReason` of a task stopped for failing its target group's checks.
pub fn failed_elb_health_reason(group: &str) -> String {
    format!("Task failed ELB health checks in (target-group {group})")
}

fn task_list(tasks: &[String]) -> String {
    tasks.iter().map(|t| format!("(task {t})")).collect::<Vec<_>>().join(" ")
}

/// Adds an event to the record (newest first), unless the same message was
/// added within six hours. `id` is the event's UUID. Returns whether it was
/// added.
pub fn emit(record: &mut ServiceRecord, message: String, now_ms: i64, id: String) -> bool {
    if record.event_times.get(&message).is_some_and(|&at| now_ms - at < EVENT_QUIET_MS) {
        return false;
    }
    record.event_times.retain(|_, at| now_ms - *at < EVENT_QUIET_MS);
    record.event_times.insert(message.clone(), now_ms);
    let events = record.service.events.get_or_insert_with(Vec::new);
    events.insert(
        0,
        ServiceEvent {
            id: Some(id),
            created_at: Some(Timestamp::from_millis(now_ms)),
            message: Some(message),
        },
    );
    events.truncate(MAX_EVENTS);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_read_as_ecs_prints_them() {
        let t = vec!["a1".to_owned(), "b2".to_owned()];
        assert_eq!(started("web", &t), "(service web) has started 2 tasks: (task a1) (task b2).");
        assert_eq!(
            stopped("web", &t[..1]),
            "(service web) has stopped 1 running tasks: (task a1)."
        );
        assert_eq!(
            unable_to_place("web", &Unplaced::NoContainerInstances),
            "(service web) was unable to place a task because no container instance met all of \
             its requirements. Reason: No Container Instances were found in your cluster. For \
             more information, see the Troubleshooting section of the Amazon ECS Developer Guide."
        );
        let cpu = Failure {
            arn: Some("arn:aws:ecs:us-east-1:1:container-instance/default/abc".into()),
            reason: Some("RESOURCE:CPU".into()),
            detail: None,
        };
        assert_eq!(
            unable_to_place("web", &Unplaced::closest(&[cpu])),
            "(service web) was unable to place a task because no container instance met all of \
             its requirements. The closest matching (container-instance abc) has insufficient CPU \
             units available. For more information, see the Troubleshooting section of the \
             Amazon ECS Developer Guide."
        );
    }

    #[test]
    fn a_repeated_message_is_quiet_for_six_hours() {
        let mut r = ServiceRecord::default();
        assert!(emit(&mut r, "x".into(), 0, "1".into()));
        assert!(!emit(&mut r, "x".into(), EVENT_QUIET_MS - 1, "2".into()));
        assert!(emit(&mut r, "y".into(), 10, "3".into()));
        assert!(emit(&mut r, "x".into(), EVENT_QUIET_MS, "4".into()));
        let ids: Vec<_> = r.service.events.unwrap().into_iter().map(|e| e.id.unwrap()).collect();
        assert_eq!(ids, ["4", "3", "1"]);
    }
}
