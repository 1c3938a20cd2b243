//! The scheduler's step on plain values: no store, no clock, no sleeps.

use wharf_model::ecs::service::{new_deployment, DeploymentNotes};
use wharf_model::ecs::shapes::{
    DeploymentCircuitBreaker, DeploymentConfiguration, DeploymentControllerType, LoadBalancer,
    Service,
};
use wharf_model::ecs::status::{DeploymentStatus, ServiceStatus, TaskSetStatus, TaskStatus};

use super::*;

const TG: &str = "arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/web/1";
const S: i64 = 1000;

fn record(desired: i32, lb: bool) -> ServiceRecord {
    let mut rec = ServiceRecord {
        service: Service {
            service_name: Some("web".into()),
            cluster_arn: Some("arn:aws:ecs:us-east-1:000000000000:cluster/default".into()),
            status: Some(ServiceStatus::Active),
            desired_count: Some(desired),
            ..Default::default()
        },
        ..Default::default()
    };
    add_deployment(&mut rec, "ecs-svc/1", lb);
    rec
}

fn add_deployment(rec: &mut ServiceRecord, id: &str, lb: bool) {
    for d in rec.service.deployments.iter_mut().flatten() {
        d.status = Some(DeploymentStatus::Active);
        d.desired_count = Some(0);
    }
    let d = new_deployment(id, rec.service.desired_count.unwrap_or(0), 0);
    rec.service.deployments.get_or_insert_with(Vec::new).insert(0, d);
    let load_balancers = if lb {
        vec![LoadBalancer {
            target_group_arn: Some(TG.into()),
            container_name: Some("web".into()),
            container_port: Some(80),
            ..Default::default()
        }]
    } else {
        vec![]
    };
    rec.deployments.insert(id.into(), DeploymentNotes { load_balancers, ..Default::default() });
}

fn task(id: &str, unit: &str, status: &str, started: Option<i64>) -> ObservedTask {
    ObservedTask {
        id: id.into(),
        unit: Some(unit.into()),
        last_status: status.parse().unwrap(),
        desired_status: if status == "STOPPED" {
            DesiredStatus::Stopped
        } else {
            DesiredStatus::Running
        },
        health: None,
        started_ms: started,
        created_ms: 0,
        stop_code: None,
        instance_id: Some("i1".into()),
        targets: vec![],
    }
}

fn target(port: i32) -> TargetRef {
    TargetRef { target_group_arn: TG.into(), id: "i-1".into(), port }
}

fn with_target(mut t: ObservedTask, port: i32) -> ObservedTask {
    t.targets = vec![target(port)];
    t
}

fn run(rec: &mut ServiceRecord, obs: &Observed, now: i64) -> Vec<Action> {
    let mut n = 0;
    step(rec, obs, now, &mut || {
        n += 1;
        format!("e{n}")
    })
}

fn messages(rec: &ServiceRecord) -> Vec<String> {
    rec.service.events.iter().flatten().filter_map(|e| e.message.clone()).collect()
}

fn starts(actions: &[Action]) -> usize {
    actions.iter().map(|a| if let Action::Start { count, .. } = a { *count } else { 0 }).sum()
}

fn stops(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .filter_map(|a| if let Action::Stop { task, .. } = a { Some(task.clone()) } else { None })
        .collect()
}

#[test]
fn a_new_service_starts_its_desired_count() {
    let mut rec = record(3, false);
    let actions = run(&mut rec, &Observed::default(), 0);
    assert_eq!(actions, vec![Action::Start { unit: "ecs-svc/1".into(), count: 3, instance: None }]);
}

#[test]
fn a_stopped_task_is_replaced_and_counted_as_a_failure() {
    let mut rec = record(2, false);
    let mut obs = Observed {
        tasks: vec![
            task("a", "ecs-svc/1", "RUNNING", Some(0)),
            task("b", "ecs-svc/1", "RUNNING", Some(0)),
        ],
        ..Default::default()
    };
    run(&mut rec, &obs, 45 * S);
    obs.tasks[0] = task("a", "ecs-svc/1", "STOPPED", Some(0));
    obs.tasks[0].stop_code = Some(TaskStopCode::EssentialContainerExited);
    let actions = run(&mut rec, &obs, 50 * S);
    assert_eq!(starts(&actions), 1);
    assert_eq!(rec.deployments["ecs-svc/1"].failures, 1);
    // The next step does not count it again.
    run(&mut rec, &obs, 51 * S);
    assert_eq!(rec.deployments["ecs-svc/1"].failures, 1);
}

#[test]
fn a_task_a_user_stops_is_replaced_without_a_failure() {
    let mut rec = record(1, false);
    let mut t = task("a", "ecs-svc/1", "STOPPED", Some(0));
    t.stop_code = Some(TaskStopCode::UserInitiated);
    let actions = run(&mut rec, &Observed { tasks: vec![t], ..Default::default() }, S);
    assert_eq!(starts(&actions), 1);
    assert_eq!(rec.deployments["ecs-svc/1"].failures, 0);
}

#[test]
fn a_deployment_completes_and_the_service_reaches_a_steady_state() {
    let mut rec = record(1, false);
    let obs =
        Observed { tasks: vec![task("a", "ecs-svc/1", "RUNNING", Some(0))], ..Default::default() };
    // Without health checks or a load balancer: healthy after 40 s RUNNING.
    run(&mut rec, &obs, 39 * S);
    assert!(messages(&rec).is_empty());
    run(&mut rec, &obs, 40 * S);
    let d = &rec.service.deployments.as_ref().unwrap()[0];
    assert_eq!(d.rollout_state, Some(DeploymentRolloutState::Completed));
    assert_eq!(d.rollout_state_reason.as_deref(), Some("ECS deployment ecs-svc/1 completed."));
    assert_eq!(
        messages(&rec),
        [
            "(service web) has reached a steady state.",
            "(service web) (deployment ecs-svc/1) deployment completed."
        ]
    );
    assert_eq!(rec.service.running_count, Some(1));
    // Nothing new while nothing changes.
    run(&mut rec, &obs, 41 * S);
    assert_eq!(messages(&rec).len(), 2);
}

#[test]
fn a_rolling_deployment_behind_a_load_balancer_drains_old_tasks_before_stopping_them() {
    let mut rec = record(2, true);
    let mut obs = Observed {
        tasks: vec![
            with_target(task("o1", "ecs-svc/1", "RUNNING", Some(0)), 1001),
            with_target(task("o2", "ecs-svc/1", "RUNNING", Some(0)), 1002),
        ],
        ..Default::default()
    };
    obs.delays.insert(TG.into(), 5 * S);
    let actions = run(&mut rec, &obs, S);
    assert_eq!(actions, vec![Action::Register(vec![target(1001), target(1002)])]);
    obs.targets.insert(target(1001), TargetState::Healthy);
    obs.targets.insert(target(1002), TargetState::Healthy);
    run(&mut rec, &obs, 2 * S);
    assert_eq!(
        rec.service.deployments.as_ref().unwrap()[0].rollout_state,
        Some(DeploymentRolloutState::Completed)
    );

    // A new revision: at most 200%, so both new tasks start at once.
    add_deployment(&mut rec, "ecs-svc/2", true);
    let actions = run(&mut rec, &obs, 3 * S);
    assert_eq!(actions, vec![Action::Start { unit: "ecs-svc/2".into(), count: 2, instance: None }]);
    obs.tasks.push(task("n1", "ecs-svc/2", "PENDING", None));
    obs.tasks.push(task("n2", "ecs-svc/2", "PENDING", None));
    // Nothing old stops while the new ones are not healthy (minimum 100%).
    assert!(stops(&run(&mut rec, &obs, 4 * S)).is_empty());
    obs.tasks[2] = with_target(task("n1", "ecs-svc/2", "RUNNING", Some(4 * S)), 2001);
    let actions = run(&mut rec, &obs, 5 * S);
    assert_eq!(actions, vec![Action::Register(vec![target(2001)])]);
    obs.targets.insert(target(2001), TargetState::Healthy);
    // One new healthy: one old task may go; it is deregistered first.
    let actions = run(&mut rec, &obs, 6 * S);
    assert!(stops(&actions).is_empty());
    assert!(actions.iter().any(|a| matches!(a, Action::Deregister(t) if t.len() == 1)));
    let draining: Vec<&String> =
        rec.tasks.iter().filter(|(_, n)| n.stopping.is_some()).map(|(id, _)| id).collect();
    assert_eq!(draining.len(), 1);
    let old = draining[0].clone();
    // It is stopped when the deregistration delay is over.
    assert!(stops(&run(&mut rec, &obs, 10 * S)).is_empty());
    assert_eq!(stops(&run(&mut rec, &obs, 11 * S)), vec![old.clone()]);
    let m = messages(&rec);
    assert!(
        m.iter().any(|m| m == &format!("(service web) has stopped 1 running tasks: (task {old}).")),
        "{m:?}"
    );
    assert!(m.iter().any(|m| m.starts_with(
        "(service web, taskSet ecs-svc/1) has begun draining connections on 1 tasks."
    )));
    assert!(m
        .iter()
        .any(|m| m == &format!("(service web) deregistered 1 targets in (target-group {TG})")));
}

#[test]
fn a_task_failing_its_target_group_checks_is_stopped_after_the_grace_period() {
    let mut rec = record(1, true);
    rec.service.health_check_grace_period_seconds = Some(30);
    let mut obs = Observed {
        tasks: vec![with_target(task("a", "ecs-svc/1", "RUNNING", Some(0)), 1001)],
        ..Default::default()
    };
    obs.delays.insert(TG.into(), 0);
    run(&mut rec, &obs, S);
    obs.targets.insert(target(1001), TargetState::Unhealthy("Health checks failed".into()));
    assert!(rec.tasks["a"].stopping.is_none());
    run(&mut rec, &obs, 29 * S);
    assert!(rec.tasks["a"].stopping.is_none());
    let actions = run(&mut rec, &obs, 30 * S);
    assert_eq!(stops(&actions), vec!["a".to_owned()]);
    let reason = &rec.tasks["a"].stopping.as_ref().unwrap().reason;
    assert_eq!(reason, &format!("Task failed ELB health checks in (target-group {TG})"));
    assert_eq!(starts(&actions), 1, "the replacement starts while it stops");
}

#[test]
fn the_circuit_breaker_fails_a_deployment_and_rolls_back() {
    let mut rec = record(1, false);
    rec.service.deployment_configuration = Some(DeploymentConfiguration {
        deployment_circuit_breaker: Some(DeploymentCircuitBreaker {
            enable: Some(true),
            rollback: Some(true),
        }),
        ..Default::default()
    });
    rec.service.task_definition = Some("td:1".into());
    rec.service.deployments.as_mut().unwrap()[0].task_definition = Some("td:1".into());
    let mut obs =
        Observed { tasks: vec![task("a", "ecs-svc/1", "RUNNING", Some(0))], ..Default::default() };
    run(&mut rec, &obs, 40 * S);
    assert!(rec.last_completed.is_some());
    add_deployment(&mut rec, "ecs-svc/2", false);
    rec.service.task_definition = Some("td:2".into());
    rec.service.deployments.as_mut().unwrap()[0].task_definition = Some("td:2".into());
    for (i, now) in [(1, 41), (2, 42), (3, 43)] {
        let mut t = task(&format!("bad{i}"), "ecs-svc/2", "STOPPED", None);
        t.stop_code = Some(TaskStopCode::TaskFailedToStart);
        obs.tasks.push(t);
        run(&mut rec, &obs, now * S);
    }
    let ds = rec.service.deployments.as_ref().unwrap();
    assert_eq!(ds[0].id.as_deref(), Some("ecs-svc/1"));
    assert_eq!(ds[0].status, Some(DeploymentStatus::Primary));
    // The old task still runs, so the rolled-back deployment completes again
    // in the same step; the failed one has no live tasks and is gone.
    assert_eq!(ds[0].rollout_state, Some(DeploymentRolloutState::Completed));
    assert_eq!(ds.len(), 1);
    assert_eq!(rec.service.task_definition.as_deref(), Some("td:1"));
    let m = messages(&rec);
    let at =
        |text: &str| m.iter().position(|x| x == text).unwrap_or_else(|| panic!("{text}: {m:?}"));
    let failed =
        at("(service web) (deployment ecs-svc/2) deployment failed: tasks failed to start.");
    let back = at("(service web) rolling back to deployment ecs-svc/1.");
    let done = at("(service web) (deployment ecs-svc/1) deployment completed.");
    assert!(done < back && back < failed, "newest first: {m:?}");
}

#[test]
fn a_rollback_reactivates_the_last_completed_deployment_in_progress() {
    let mut rec = record(1, false);
    rec.service.deployment_configuration = Some(DeploymentConfiguration {
        deployment_circuit_breaker: Some(DeploymentCircuitBreaker {
            enable: Some(true),
            rollback: Some(true),
        }),
        ..Default::default()
    });
    let mut obs =
        Observed { tasks: vec![task("a", "ecs-svc/1", "RUNNING", Some(0))], ..Default::default() };
    run(&mut rec, &obs, 40 * S);
    add_deployment(&mut rec, "ecs-svc/2", false);
    // The old task is gone (min 0% would allow it; here it crashed).
    obs.tasks[0] = task("a", "ecs-svc/1", "STOPPED", Some(0));
    obs.tasks[0].stop_code = Some(TaskStopCode::UserInitiated);
    for i in 1..=3 {
        let mut t = task(&format!("bad{i}"), "ecs-svc/2", "STOPPED", None);
        t.stop_code = Some(TaskStopCode::TaskFailedToStart);
        obs.tasks.push(t);
    }
    let actions = run(&mut rec, &obs, 41 * S);
    let ds = rec.service.deployments.as_ref().unwrap();
    assert_eq!(ds[0].id.as_deref(), Some("ecs-svc/1"));
    assert_eq!(ds[0].rollout_state, Some(DeploymentRolloutState::InProgress));
    assert_eq!(
        ds[0].rollout_state_reason.as_deref(),
        Some("ECS deployment circuit breaker: rolling back to deploymentId ecs-svc/1.")
    );
    assert_eq!(actions, vec![Action::Start { unit: "ecs-svc/1".into(), count: 1, instance: None }]);
}

#[test]
fn tasks_that_never_run_are_throttled() {
    let mut rec = record(1, false);
    let mut obs = Observed::default();
    for i in 1..=3 {
        obs.tasks.push(task(&format!("t{i}"), "ecs-svc/1", "STOPPED", None));
    }
    let actions = run(&mut rec, &obs, 100 * S);
    assert_eq!(starts(&actions), 0, "third failure in a row: wait 10 s");
    assert_eq!(
        messages(&rec),
        ["(service web) is unable to consistently start tasks successfully."]
    );
    assert_eq!(starts(&run(&mut rec, &obs, 109 * S)), 0);
    assert_eq!(starts(&run(&mut rec, &obs, 110 * S)), 1);
}

#[test]
fn a_daemon_service_runs_one_task_on_each_active_instance() {
    let mut rec = record(0, false);
    rec.service.scheduling_strategy = Some(SchedulingStrategy::Daemon);
    let obs = Observed {
        tasks: vec![task("a", "ecs-svc/1", "RUNNING", Some(0))],
        instances: vec![
            ObservedInstance { id: "i1".into(), active: true },
            ObservedInstance { id: "i2".into(), active: true },
            ObservedInstance { id: "i3".into(), active: false },
        ],
        ..Default::default()
    };
    let actions = run(&mut rec, &obs, S);
    assert_eq!(
        actions,
        vec![Action::Start { unit: "ecs-svc/1".into(), count: 1, instance: Some("i2".into()) }]
    );
    assert_eq!(rec.service.desired_count, Some(2));
}

#[test]
fn a_deleted_service_stops_its_tasks_and_becomes_inactive() {
    let mut rec = record(0, false);
    rec.service.status = Some(ServiceStatus::Draining);
    let mut obs =
        Observed { tasks: vec![task("a", "ecs-svc/1", "RUNNING", Some(0))], ..Default::default() };
    assert_eq!(stops(&run(&mut rec, &obs, S)), vec!["a".to_owned()]);
    obs.tasks[0] = task("a", "ecs-svc/1", "STOPPED", Some(0));
    run(&mut rec, &obs, 2 * S);
    assert_eq!(rec.service.status, Some(ServiceStatus::Inactive));
    assert!(run(&mut rec, &obs, 3 * S).is_empty());
    assert_eq!(run(&mut rec, &obs, 2 * S + 3600 * S), vec![Action::Forget]);
}

#[test]
fn a_task_set_converges_on_its_computed_count() {
    use wharf_model::ecs::shapes::{DeploymentController, Scale, TaskSet};
    let mut rec = record(4, false);
    rec.service.deployments = None;
    rec.service.deployment_controller =
        Some(DeploymentController { r#type: Some(DeploymentControllerType::External) });
    rec.service.task_sets = Some(vec![TaskSet {
        id: Some("ecs-svc/9".into()),
        status: Some(TaskSetStatus::Primary),
        scale: Some(Scale { value: Some(50.0), unit: None }),
        ..Default::default()
    }]);
    rec.deployments.insert("ecs-svc/9".into(), DeploymentNotes::default());
    let actions = run(&mut rec, &Observed::default(), S);
    assert_eq!(actions, vec![Action::Start { unit: "ecs-svc/9".into(), count: 2, instance: None }]);
    assert_eq!(rec.service.task_sets.as_ref().unwrap()[0].computed_desired_count, Some(2));
}

#[test]
fn a_deployment_superseded_before_it_completed_is_recorded_as_stopped() {
    use wharf_model::ecs::shapes::ServiceDeployment;
    let mut rec = record(1, false);
    let arn = |n: &str| format!("arn:aws:ecs:us-east-1:0:service-deployment/default/web/{n}");
    rec.deployments.get_mut("ecs-svc/1").unwrap().service_deployment_arn = arn("a");
    rec.history.push(ServiceDeployment {
        service_deployment_arn: Some(arn("a")),
        status: Some(ServiceDeploymentStatus::InProgress),
        ..Default::default()
    });
    add_deployment(&mut rec, "ecs-svc/2", false);
    rec.deployments.get_mut("ecs-svc/2").unwrap().service_deployment_arn = arn("b");
    rec.history.push(ServiceDeployment {
        service_deployment_arn: Some(arn("b")),
        status: Some(ServiceDeploymentStatus::InProgress),
        ..Default::default()
    });
    let obs =
        Observed { tasks: vec![task("a", "ecs-svc/1", "PENDING", None)], ..Default::default() };
    run(&mut rec, &obs, S);
    assert_eq!(rec.history[0].status, Some(ServiceDeploymentStatus::Stopped));
    assert!(rec.history[0].stopped_at.is_some());
    assert_eq!(rec.history[1].status, Some(ServiceDeploymentStatus::InProgress));
}

/// A record in which a new deployment carries the id of the finished one
/// before it (what the old clamped ids did to 1 update in 80). The new
/// deployment must not take the old tasks for its own: it starts its own,
/// replaces the old ones, and completes only on its own tasks.
#[test]
fn a_new_deployment_with_a_finished_ones_id_still_rolls_out() {
    const ID: &str = "ecs-svc/1000000000000000000";
    let mut rec = record(2, false);
    rec.service.deployments = None;
    rec.deployments.clear();
    add_deployment(&mut rec, ID, false);
    let mut obs = Observed {
        tasks: vec![task("o1", ID, "RUNNING", Some(0)), task("o2", ID, "RUNNING", Some(0))],
        ..Default::default()
    };
    run(&mut rec, &obs, 41 * S);
    let first = &rec.service.deployments.as_ref().unwrap()[0];
    assert_eq!(first.rollout_state, Some(DeploymentRolloutState::Completed));

    // UpdateService with a new revision, under the same id.
    add_deployment(&mut rec, ID, false);
    let ds = rec.service.deployments.as_mut().unwrap();
    ds[0].created_at = Some(Timestamp::from_millis(50 * S));
    ds[0].task_definition = Some("web:2".into());
    let actions = run(&mut rec, &obs, 51 * S);
    assert_eq!(actions, vec![Action::Start { unit: ID.into(), count: 2, instance: None }]);
    let ds = rec.service.deployments.as_ref().unwrap();
    assert_eq!(ds.len(), 2, "the old deployment stays while its tasks run");
    assert_eq!(ds[0].rollout_state, Some(DeploymentRolloutState::InProgress));
    assert_eq!(ds[0].running_count, Some(0), "the old tasks are not counted as the new one's");
    assert_eq!(ds[1].running_count, Some(2));

    // The new tasks run and turn healthy (40 s, no checks): the old ones go.
    for id in ["n1", "n2"] {
        let mut t = task(id, ID, "RUNNING", Some(52 * S));
        t.created_ms = 51 * S;
        obs.tasks.push(t);
    }
    assert!(stops(&run(&mut rec, &obs, 60 * S)).is_empty());
    let mut stopped = stops(&run(&mut rec, &obs, 92 * S));
    stopped.sort();
    assert_eq!(stopped, vec!["o1".to_owned(), "o2".to_owned()]);
    assert_eq!(
        rec.service.deployments.as_ref().unwrap()[0].rollout_state,
        Some(DeploymentRolloutState::InProgress),
        "not complete while the old tasks still run"
    );
    for t in obs.tasks.iter_mut().filter(|t| t.id.starts_with('o')) {
        t.last_status = TaskStatus::Stopped;
        t.desired_status = DesiredStatus::Stopped;
    }
    run(&mut rec, &obs, 93 * S);
    let ds = rec.service.deployments.as_ref().unwrap();
    assert_eq!(ds.len(), 1);
    assert_eq!(ds[0].task_definition.as_deref(), Some("web:2"));
    assert_eq!(ds[0].rollout_state, Some(DeploymentRolloutState::Completed));
    assert_eq!(ds[0].running_count, Some(2));
}

/// Three tasks on i1, i2 and i3, RUNNING for a minute (healthy: no checks).
fn three_spread(draining: &str) -> Observed {
    let mut tasks = Vec::new();
    for (id, instance) in [("a", "i1"), ("b", "i2"), ("c", "i3")] {
        let mut t = task(id, "ecs-svc/1", "RUNNING", Some(0));
        t.instance_id = Some(instance.into());
        tasks.push(t);
    }
    Observed {
        tasks,
        instances: ["i1", "i2", "i3"]
            .iter()
            .map(|i| ObservedInstance { id: (*i).into(), active: *i != draining })
            .collect(),
        ..Default::default()
    }
}

#[test]
fn a_draining_instance_s_tasks_are_replaced_first_then_stopped() {
    // Minimum healthy 100%, maximum 200% (the defaults): a replacement starts
    // while the draining instance's task keeps serving.
    let mut rec = record(3, false);
    let mut obs = three_spread("i3");
    let actions = run(&mut rec, &obs, 60 * S);
    assert_eq!(starts(&actions), 1, "{actions:?}");
    assert!(stops(&actions).is_empty(), "nothing stops before its replacement is healthy");
    // The replacement runs and is healthy (40 s without checks): now c goes.
    let mut d = task("d", "ecs-svc/1", "RUNNING", Some(61 * S));
    d.instance_id = Some("i1".into());
    obs.tasks.push(d);
    let actions = run(&mut rec, &obs, 70 * S);
    assert!(stops(&actions).is_empty(), "the replacement is not healthy yet: {actions:?}");
    let actions = run(&mut rec, &obs, 102 * S);
    assert_eq!(stops(&actions), ["c"]);
    assert_eq!(starts(&actions), 0);
}

#[test]
fn with_room_below_the_minimum_a_draining_task_stops_at_once() {
    // Minimum healthy 50% of 3 (2 tasks), maximum 100%: no room for an extra task,
    // so the draining one stops first and its replacement starts after.
    let mut rec = record(3, false);
    rec.service.deployment_configuration = Some(DeploymentConfiguration {
        minimum_healthy_percent: Some(50),
        maximum_percent: Some(100),
        ..Default::default()
    });
    let obs = three_spread("i2");
    let actions = run(&mut rec, &obs, 60 * S);
    assert_eq!(stops(&actions), ["b"]);
    assert_eq!(starts(&actions), 0);
}

#[test]
fn a_pending_task_on_a_draining_instance_stops_at_once() {
    let mut rec = record(3, false);
    let mut obs = three_spread("i3");
    obs.tasks[2].last_status = TaskStatus::Pending;
    obs.tasks[2].started_ms = None;
    let actions = run(&mut rec, &obs, 60 * S);
    assert_eq!(stops(&actions), ["c"]);
    assert_eq!(starts(&actions), 1);
}

#[test]
fn a_task_lost_with_its_host_is_replaced_and_is_no_failure() {
    let mut rec = record(2, false);
    let mut obs = Observed {
        tasks: vec![
            task("a", "ecs-svc/1", "RUNNING", Some(0)),
            task("b", "ecs-svc/1", "RUNNING", Some(0)),
        ],
        ..Default::default()
    };
    run(&mut rec, &obs, 45 * S);
    obs.tasks[0] = task("a", "ecs-svc/1", "STOPPED", Some(0));
    obs.tasks[0].stop_code = Some(TaskStopCode::TerminationNotice);
    let actions = run(&mut rec, &obs, 50 * S);
    assert_eq!(starts(&actions), 1);
    assert_eq!(rec.deployments["ecs-svc/1"].failures, 0);
}

#[test]
fn a_steady_service_is_settled_and_a_rolling_one_is_not() {
    let mut rec = record(1, false);
    let obs =
        Observed { tasks: vec![task("a", "ecs-svc/1", "RUNNING", Some(0))], ..Default::default() };
    // RUNNING for 10 s: the 40 s health rule is a timer still running.
    run(&mut rec, &obs, 10 * S);
    assert!(!settled(&rec, &obs, 10 * S));
    // Completed and steady: nothing comes due by time alone...
    run(&mut rec, &obs, 40 * S);
    assert!(settled(&rec, &obs, 41 * S));
    // ...until the six-hourly steady-state event is near.
    let near = 40 * S + wharf_model::ecs::service::EVENT_QUIET_MS - SETTLED_HORIZON_MS / 2;
    assert!(!settled(&rec, &obs, near));
    // A missing task is a change the step acts on: not settled.
    assert!(!settled(&rec, &Observed::default(), 41 * S));
}

#[test]
fn a_service_waiting_on_a_drain_or_a_deletion_is_not_settled_near_its_end() {
    let mut rec = record(1, false);
    let obs =
        Observed { tasks: vec![task("a", "ecs-svc/1", "RUNNING", Some(0))], ..Default::default() };
    run(&mut rec, &obs, 40 * S);
    rec.service.status = Some(ServiceStatus::Inactive);
    rec.inactive_ms = Some(50 * S);
    assert!(settled(&rec, &obs, 50 * S));
    let hour = wharf_model::ecs::service::INACTIVE_KEPT_MS;
    assert!(!settled(&rec, &obs, 50 * S + hour - SETTLED_HORIZON_MS / 2));
}
