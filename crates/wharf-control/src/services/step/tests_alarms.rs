//! Deployments watched by CloudWatch alarms, in the step on plain values:
//! an alarm going off fails the deployment (and rolls back when asked),
//! only once the new deployment runs a task; a rolling deployment bakes for
//! its alarms' window before it completes; a rollback is not failed by the
//! alarm that caused it; the service deployment records what was watched,
//! what went off and the rollback. (A blue/green deployment going off in
//! its bake time: `tests_shift`.)

use wharf_model::arn::Scope;
use wharf_model::ecs::service::deployment::{start_deployment, Names, Revision};
use wharf_model::ecs::shapes::{
    DeploymentAlarms, DeploymentConfiguration, Service, ServiceDeployment,
    ServiceDeploymentRollbackMonitorsStatus as Monitor,
};
use wharf_model::ecs::status::{DeploymentStatus, ServiceStatus};

use super::*;

const S: i64 = 1000;

fn alarms(enable: bool, rollback: bool) -> DeploymentConfiguration {
    DeploymentConfiguration {
        alarms: Some(DeploymentAlarms {
            alarm_names: Some(vec!["errors".into(), "latency".into()]),
            enable: Some(enable),
            rollback: Some(rollback),
        }),
        ..Default::default()
    }
}

fn record(config: DeploymentConfiguration) -> (ServiceRecord, String) {
    let mut rec = ServiceRecord {
        service: Service {
            service_name: Some("web".into()),
            cluster_arn: Some("arn:aws:ecs:us-east-1:000000000000:cluster/default".into()),
            status: Some(ServiceStatus::Active),
            desired_count: Some(1),
            deployment_configuration: Some(config),
            ..Default::default()
        },
        ..Default::default()
    };
    let id = deploy(&mut rec, "td:1", 0);
    (rec, id)
}

/// Starts a deployment of `td` as UpdateService does; its id.
fn deploy(rec: &mut ServiceRecord, td: &str, now: i64) -> String {
    let names =
        Names::new(&Scope { region: "us-east-1", account: "000000000000" }, "default", "web");
    let rev = Revision { task_definition: td.into(), ..Revision::default() };
    start_deployment(rec, &names, &rev, now, now as u64 + 7);
    rec.service.task_definition = Some(td.into());
    rec.service
        .deployments
        .iter()
        .flatten()
        .find(|d| d.status == Some(DeploymentStatus::Primary))
        .and_then(|d| d.id.clone())
        .expect("a primary")
}

/// The service deployment of deployment `id`.
fn history<'a>(rec: &'a ServiceRecord, id: &str) -> &'a ServiceDeployment {
    let arn = &rec.deployments[id].service_deployment_arn;
    rec.history.iter().find(|h| h.service_deployment_arn.as_ref() == Some(arn)).expect(id)
}

fn task(id: &str, unit: &str, status: TaskStatus, started: i64) -> ObservedTask {
    ObservedTask {
        id: id.into(),
        unit: Some(unit.into()),
        last_status: status,
        desired_status: DesiredStatus::Running,
        health: None,
        started_ms: (status == TaskStatus::Running).then_some(started),
        created_ms: started,
        stop_code: None,
        instance_id: Some("i1".into()),
        targets: vec![],
    }
}

fn watched(errors: bool, window_ms: i64) -> BTreeMap<String, ObservedAlarm> {
    [
        ("errors".to_owned(), ObservedAlarm { in_alarm: errors, window_ms }),
        ("latency".to_owned(), ObservedAlarm { in_alarm: false, window_ms: window_ms / 2 }),
    ]
    .into()
}

fn run(rec: &mut ServiceRecord, obs: &Observed, now: i64) -> Vec<Action> {
    let mut n = 0;
    step(rec, obs, now, &mut || {
        n += 1;
        format!("e{n}")
    })
}

fn deployment<'a>(rec: &'a ServiceRecord, id: &str) -> &'a wharf_model::ecs::shapes::Deployment {
    rec.service.deployments.iter().flatten().find(|d| d.id.as_deref() == Some(id)).expect(id)
}

fn messages(rec: &ServiceRecord) -> Vec<String> {
    rec.service.events.iter().flatten().filter_map(|e| e.message.clone()).collect()
}

fn rollout(rec: &ServiceRecord, id: &str) -> Option<DeploymentRolloutState> {
    deployment(rec, id).rollout_state.clone()
}

/// The first deployment, settled (healthy after 40 s RUNNING) and baked for
/// the alarms' 60 s window: COMPLETED at 100 s, not before.
fn completed_first(config: DeploymentConfiguration) -> (ServiceRecord, Observed, String) {
    let (mut rec, first) = record(config);
    let obs = Observed {
        tasks: vec![task("a", &first, TaskStatus::Running, 0)],
        alarms: watched(false, 60 * S),
        ..Default::default()
    };
    run(&mut rec, &obs, 40 * S);
    assert_eq!(rollout(&rec, &first), Some(DeploymentRolloutState::InProgress));
    run(&mut rec, &obs, 99 * S);
    assert_eq!(rollout(&rec, &first), Some(DeploymentRolloutState::InProgress));
    run(&mut rec, &obs, 100 * S);
    assert_eq!(rollout(&rec, &first), Some(DeploymentRolloutState::Completed));
    (rec, obs, first)
}

#[test]
fn a_rolling_deployment_bakes_for_its_alarms_window_before_it_completes() {
    let (rec, _, first) = completed_first(alarms(true, true));
    assert!(rec.last_completed.is_some());
    let h = history(&rec, &first);
    assert_eq!(h.status, Some(ServiceDeploymentStatus::Successful));
    let a = h.alarms.as_ref().expect("alarms");
    assert_eq!(a.status, Some(Monitor::MonitoringComplete));
    assert_eq!(a.alarm_names, Some(vec!["errors".to_owned(), "latency".to_owned()]));
    assert_eq!(a.triggered_alarm_names, None);
    // Without alarms watched, the same deployment completes once settled,
    // an alarm in ALARM or not.
    let (mut rec, first) = record(alarms(false, true));
    assert_eq!(history(&rec, &first).alarms.as_ref().unwrap().status, Some(Monitor::Disabled));
    let obs = Observed {
        tasks: vec![task("a", &first, TaskStatus::Running, 0)],
        alarms: watched(true, 60 * S),
        ..Default::default()
    };
    run(&mut rec, &obs, 40 * S);
    assert_eq!(rollout(&rec, &first), Some(DeploymentRolloutState::Completed));
}

#[test]
fn an_alarm_fails_the_deployment_once_a_new_task_runs_and_rolls_back() {
    let (mut rec, mut obs, first) = completed_first(alarms(true, true));
    let second = deploy(&mut rec, "td:2", 105 * S);
    obs.alarms = watched(true, 60 * S);
    // The new deployment runs no task yet: the alarm is not watched yet.
    obs.tasks.push(task("b", &second, TaskStatus::Pending, 110 * S));
    run(&mut rec, &obs, 110 * S);
    assert_eq!(rollout(&rec, &second), Some(DeploymentRolloutState::InProgress));
    // Its task runs: the alarm in ALARM fails it, and it rolls back.
    obs.tasks[1] = task("b", &second, TaskStatus::Running, 111 * S);
    run(&mut rec, &obs, 111 * S);
    let failed = deployment(&rec, &second);
    assert_eq!(failed.rollout_state, Some(DeploymentRolloutState::Failed));
    assert_eq!(
        failed.rollout_state_reason.as_deref(),
        Some("ECS deployment failed: alarm(s) errors in ALARM state.")
    );
    let back = deployment(&rec, &first);
    assert_eq!(back.status, Some(DeploymentStatus::Primary));
    assert_eq!(back.rollout_state, Some(DeploymentRolloutState::InProgress));
    assert_eq!(rec.service.task_definition.as_deref(), Some("td:1"));
    let m = messages(&rec);
    let failed = format!("(service web) (deployment {second}) deployment failed: alarm detected.");
    assert!(m.contains(&failed), "{m:?}");
    assert!(m.contains(&format!("(service web) rolling back to deployment {first}.")), "{m:?}");
    // The service deployment says which alarm went off, and the rollback.
    let h = history(&rec, &second);
    assert_eq!(h.status, Some(ServiceDeploymentStatus::RollbackInProgress));
    let a = h.alarms.as_ref().expect("alarms");
    assert_eq!(a.status, Some(Monitor::Triggered));
    assert_eq!(a.triggered_alarm_names, Some(vec!["errors".to_owned()]));
    let r = h.rollback.as_ref().expect("rollback");
    assert_eq!(r.reason.as_deref(), Some("ECS deployment failed: alarm(s) errors in ALARM state."));
    assert_eq!(r.started_at, Some(Timestamp::from_millis(111 * S)));
    assert_eq!(r.service_revision_arn, Some(rec.deployments[&first].service_revision_arn.clone()));

    // The alarm is still in ALARM while the rollback runs: it does not fail
    // the rollback, which completes once its task is alone again (without
    // baking: it watches nothing).
    obs.tasks[1].desired_status = DesiredStatus::Stopped;
    obs.tasks[1].last_status = TaskStatus::Stopped;
    run(&mut rec, &obs, 112 * S);
    assert_eq!(rollout(&rec, &first), Some(DeploymentRolloutState::Completed));
    assert_eq!(history(&rec, &second).status, Some(ServiceDeploymentStatus::RollbackSuccessful));
    let failures = messages(&rec).iter().filter(|m| m.contains("alarm detected")).count();
    assert_eq!(failures, 1);
}

#[test]
fn without_rollback_an_alarm_fails_the_deployment_and_it_stays() {
    let (mut rec, mut obs, _) = completed_first(alarms(true, false));
    let second = deploy(&mut rec, "td:2", 105 * S);
    obs.tasks.push(task("b", &second, TaskStatus::Running, 110 * S));
    obs.alarms = watched(true, 60 * S);
    let actions = run(&mut rec, &obs, 111 * S);
    assert_eq!(rollout(&rec, &second), Some(DeploymentRolloutState::Failed));
    assert_eq!(deployment(&rec, &second).status, Some(DeploymentStatus::Primary));
    assert_eq!(rec.service.task_definition.as_deref(), Some("td:2"));
    assert!(history(&rec, &second).rollback.is_none());
    // A FAILED deployment starts no new tasks.
    assert!(!actions.iter().any(|a| matches!(a, Action::Start { .. })), "{actions:?}");
}

#[test]
fn an_alarm_in_the_bake_time_fails_a_settled_deployment() {
    let (mut rec, mut obs, first) = completed_first(alarms(true, true));
    let second = deploy(&mut rec, "td:2", 105 * S);
    obs.tasks = vec![task("b", &second, TaskStatus::Running, 110 * S)];
    run(&mut rec, &obs, 150 * S);
    // Settled at 150 s; baking until 210 s.
    run(&mut rec, &obs, 200 * S);
    assert_eq!(rollout(&rec, &second), Some(DeploymentRolloutState::InProgress));
    obs.alarms = watched(true, 60 * S);
    run(&mut rec, &obs, 205 * S);
    assert_eq!(rollout(&rec, &second), Some(DeploymentRolloutState::Failed));
    assert_eq!(deployment(&rec, &first).status, Some(DeploymentStatus::Primary));
}

#[test]
fn a_deployment_that_unsettles_bakes_again_from_when_it_settles() {
    let (mut rec, mut obs, _) = completed_first(alarms(true, true));
    let second = deploy(&mut rec, "td:2", 105 * S);
    obs.tasks = vec![task("b", &second, TaskStatus::Running, 110 * S)];
    run(&mut rec, &obs, 150 * S);
    // A second task of the old revision shows up: not settled any more.
    obs.tasks.push(task("c", "ecs-svc/other", TaskStatus::Running, 160 * S));
    run(&mut rec, &obs, 160 * S);
    obs.tasks.pop();
    run(&mut rec, &obs, 180 * S);
    run(&mut rec, &obs, 239 * S);
    assert_eq!(rollout(&rec, &second), Some(DeploymentRolloutState::InProgress));
    run(&mut rec, &obs, 240 * S);
    assert_eq!(rollout(&rec, &second), Some(DeploymentRolloutState::Completed));
}

#[test]
fn a_completed_deployment_ignores_its_alarms() {
    let (mut rec, mut obs, first) = completed_first(alarms(true, true));
    obs.alarms = watched(true, 60 * S);
    run(&mut rec, &obs, 500 * S);
    assert_eq!(rollout(&rec, &first), Some(DeploymentRolloutState::Completed));
    assert!(!messages(&rec).iter().any(|m| m.contains("alarm detected")));
}
