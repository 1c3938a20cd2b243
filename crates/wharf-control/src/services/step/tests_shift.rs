//! Blue/green, linear and canary deployments in the step, on plain values:
//! the lifecycle stages, blue and green side by side, the rules' weights,
//! and the rollback that puts them back.

use wharf_model::arn::Scope;
use wharf_model::ecs::service::deployment::{start_deployment, Names, Revision};
use wharf_model::ecs::shapes::{
    AdvancedConfiguration, CanaryConfiguration, DeploymentCircuitBreaker, DeploymentConfiguration,
    DeploymentStrategy, LinearConfiguration, LoadBalancer, Service,
    ServiceDeploymentLifecycleStage as Stage,
};

use super::*;

const A: &str = "arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/blue/1";
const B: &str = "arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/green/2";
const PROD: &str =
    "arn:aws:elasticloadbalancing:us-east-1:000000000000:listener-rule/app/lb/1/l1/r1";
const TEST: &str =
    "arn:aws:elasticloadbalancing:us-east-1:000000000000:listener-rule/app/lb/1/l2/r2";
const S: i64 = 1000;
const MIN: i64 = 60 * S;

fn names() -> Names {
    Names::new(&Scope { region: "us-east-1", account: "000000000000" }, "default", "web")
}

fn lb() -> LoadBalancer {
    LoadBalancer {
        target_group_arn: Some(A.into()),
        container_name: Some("web".into()),
        container_port: Some(80),
        advanced_configuration: Some(AdvancedConfiguration {
            alternate_target_group_arn: Some(B.into()),
            production_listener_rule: Some(PROD.into()),
            test_listener_rule: Some(TEST.into()),
            role_arn: Some("arn:aws:iam::000000000000:role/ecs-bg".into()),
        }),
        ..Default::default()
    }
}

fn service(config: DeploymentConfiguration) -> ServiceRecord {
    let mut rec = ServiceRecord {
        service: Service {
            service_name: Some("web".into()),
            cluster_arn: Some("arn:aws:ecs:us-east-1:000000000000:cluster/default".into()),
            status: Some(ServiceStatus::Active),
            desired_count: Some(2),
            deployment_configuration: Some(config),
            load_balancers: Some(vec![lb()]),
            ..Default::default()
        },
        ..Default::default()
    };
    deploy(&mut rec, "td:1", 0);
    rec
}

fn deploy(rec: &mut ServiceRecord, td: &str, now: i64) -> String {
    let rev =
        Revision { task_definition: td.into(), load_balancers: vec![lb()], ..Revision::default() };
    start_deployment(rec, &names(), &rev, now, 7);
    primary_id(rec)
}

fn primary_id(rec: &ServiceRecord) -> String {
    rec.service
        .deployments
        .iter()
        .flatten()
        .find(|d| d.status == Some(DeploymentStatus::Primary))
        .and_then(|d| d.id.clone())
        .expect("a primary")
}

fn config(strategy: DeploymentStrategy) -> DeploymentConfiguration {
    DeploymentConfiguration {
        strategy: Some(strategy),
        bake_time_in_minutes: Some(1),
        deployment_circuit_breaker: Some(DeploymentCircuitBreaker {
            enable: Some(true),
            rollback: Some(true),
        }),
        ..Default::default()
    }
}

/// A RUNNING task of `unit` holding a target in `group`.
fn running(id: &str, unit: &str, group: &str, port: i32, at: i64) -> ObservedTask {
    ObservedTask {
        id: id.into(),
        unit: Some(unit.into()),
        last_status: TaskStatus::Running,
        desired_status: DesiredStatus::Running,
        health: None,
        started_ms: Some(at),
        created_ms: at,
        stop_code: None,
        instance_id: Some("i1".into()),
        targets: vec![TargetRef { target_group_arn: group.into(), id: "i-1".into(), port }],
    }
}

fn healthy(obs: &mut Observed, t: &ObservedTask) {
    for r in &t.targets {
        obs.targets.insert(r.clone(), TargetState::Healthy);
    }
}

/// Runs a step and applies its forwards to the observed rules (as the loop
/// and the next observation would).
fn run(rec: &mut ServiceRecord, obs: &mut Observed, now: i64) -> Vec<Action> {
    let mut n = 0;
    let actions = step(rec, obs, now, &mut || {
        n += 1;
        format!("e{n}")
    });
    for a in &actions {
        if let Action::Forward { rule, groups } = a {
            obs.forwards.insert(rule.clone(), groups.clone());
        }
    }
    actions
}

fn forwards(actions: &[Action]) -> Vec<(String, Vec<(String, u32)>)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Forward { rule, groups } => Some((rule.clone(), groups.clone())),
            _ => None,
        })
        .collect()
}

fn started(actions: &[Action], unit: &str) -> usize {
    actions
        .iter()
        .map(|a| match a {
            Action::Start { unit: u, count, .. } if u == unit => *count,
            _ => 0,
        })
        .sum()
}

fn stopping(rec: &ServiceRecord) -> Vec<String> {
    rec.tasks.iter().filter(|(_, n)| n.stopping.is_some()).map(|(id, _)| id.clone()).collect()
}

fn stage(rec: &ServiceRecord, id: &str) -> Stage {
    rec.deployments[id].shift.as_ref().expect("a shift").stage.clone()
}

fn history_stage(rec: &ServiceRecord, id: &str) -> Option<Stage> {
    let arn = &rec.deployments[id].service_deployment_arn;
    rec.history
        .iter()
        .find(|h| h.service_deployment_arn.as_ref() == Some(arn))
        .and_then(|h| h.lifecycle_stage.clone())
}

fn history_status(rec: &ServiceRecord, id: &str) -> Option<ServiceDeploymentStatus> {
    let arn = &rec.deployments[id].service_deployment_arn;
    rec.history
        .iter()
        .find(|h| h.service_deployment_arn.as_ref() == Some(arn))
        .and_then(|h| h.status.clone())
}

fn rollout(rec: &ServiceRecord, id: &str) -> Option<DeploymentRolloutState> {
    rec.service
        .deployments
        .iter()
        .flatten()
        .find(|d| d.id.as_deref() == Some(id))
        .and_then(|d| d.rollout_state.clone())
}

fn share_on(obs: &Observed, rule: &str, group: &str) -> f64 {
    let f = &obs.forwards[rule];
    let total: u32 = f.iter().map(|(_, w)| w).sum();
    let mine: u32 = f.iter().filter(|(g, _)| g == group).map(|(_, w)| w).sum();
    f64::from(mine) * 100.0 / f64::from(total.max(1))
}

/// A first deployment (on A, all traffic to it) brought to COMPLETED: its
/// record, the observation and its two tasks.
fn completed_first(strategy: DeploymentStrategy) -> (ServiceRecord, Observed, String) {
    let mut rec = service(config(strategy));
    let mut obs = Observed::default();
    obs.delays.insert(A.into(), 0);
    obs.delays.insert(B.into(), 0);
    let blue = primary_id(&rec);
    let actions = run(&mut rec, &mut obs, 0);
    assert_eq!(started(&actions, &blue), 2);
    // The first deployment sends everything to its own group from the start.
    assert_eq!(obs.forwards[PROD], vec![(A.to_owned(), 1), (B.to_owned(), 0)]);
    for (i, t) in ["b1", "b2"].iter().enumerate() {
        let t = running(t, &blue, A, 1000 + i as i32, S);
        healthy(&mut obs, &t);
        obs.tasks.push(t);
    }
    run(&mut rec, &mut obs, 2 * S);
    run(&mut rec, &mut obs, 3 * S);
    assert_eq!(
        rollout(&rec, &blue),
        Some(DeploymentRolloutState::Completed),
        "{:?} {:?} {:?}",
        rec.deployments[&blue].shift,
        obs.forwards,
        rec.tasks
    );
    assert_eq!(stage(&rec, &blue), Stage::CleanUp);
    (rec, obs, blue)
}

/// Green's two tasks, RUNNING and healthy in B, and the step at `at` that
/// registers them.
fn green_up(rec: &mut ServiceRecord, obs: &mut Observed, green: &str, at: i64) {
    for (i, t) in ["g1", "g2"].iter().enumerate() {
        let t = running(t, green, B, 2000 + i as i32, at);
        healthy(obs, &t);
        obs.tasks.push(t);
    }
    run(rec, obs, at);
    assert_eq!(stage(rec, green), Stage::ScaleUp);
}

#[test]
fn blue_green_tests_green_shifts_production_at_once_bakes_then_scales_blue_down() {
    let (mut rec, mut obs, blue) = completed_first(DeploymentStrategy::BlueGreen);
    let green = deploy(&mut rec, "td:2", 10 * S);
    assert_eq!(rec.deployments[&green].load_balancers[0].target_group_arn.as_deref(), Some(B));
    assert_eq!(rec.deployments[&green].shift.as_ref().unwrap().blue.as_deref(), Some(&*blue));
    assert_eq!(history_stage(&rec, &green), Some(Stage::PreScaleUp));

    // SCALE_UP: all of green at once, beside blue; production stays on blue.
    let actions = run(&mut rec, &mut obs, 11 * S);
    assert_eq!(started(&actions, &green), 2);
    assert!(stopping(&rec).is_empty());
    assert_eq!(stage(&rec, &green), Stage::ScaleUp);
    assert_eq!(share_on(&obs, PROD, A), 100.0);
    assert_eq!(share_on(&obs, TEST, A), 100.0);

    // Green registered in B but not healthy yet: still SCALE_UP.
    for (i, t) in ["g1", "g2"].iter().enumerate() {
        obs.tasks.push(running(t, &green, B, 2000 + i as i32, 12 * S));
    }
    let actions = run(&mut rec, &mut obs, 12 * S);
    assert!(actions
        .iter()
        .any(|a| matches!(a, Action::Register(t) if t.iter().all(|r| r.target_group_arn == B))));
    assert_eq!(stage(&rec, &green), Stage::ScaleUp);

    // Healthy: the test rule moves to green first; production does not.
    for t in obs.tasks.clone() {
        healthy(&mut obs, &t);
    }
    let actions = run(&mut rec, &mut obs, 13 * S);
    assert_eq!(
        forwards(&actions),
        vec![(TEST.to_owned(), vec![(A.to_owned(), 0), (B.to_owned(), 1)])]
    );
    assert_eq!(stage(&rec, &green), Stage::TestTrafficShift);
    assert_eq!(history_stage(&rec, &green), Some(Stage::TestTrafficShift));
    assert_eq!(share_on(&obs, PROD, A), 100.0);

    // The test rule serves green: production moves, all at once.
    let actions = run(&mut rec, &mut obs, 14 * S);
    assert_eq!(
        forwards(&actions),
        vec![(PROD.to_owned(), vec![(A.to_owned(), 0), (B.to_owned(), 1)])]
    );
    assert_eq!(stage(&rec, &green), Stage::ProductionTrafficShift);

    // Production on green: bake time, blue still running.
    run(&mut rec, &mut obs, 15 * S);
    assert_eq!(stage(&rec, &green), Stage::BakeTime);
    run(&mut rec, &mut obs, 15 * S + MIN - 1);
    assert_eq!(stage(&rec, &green), Stage::BakeTime);
    assert!(stopping(&rec).is_empty());

    // Bake time over: blue is scaled down (deregistered from A, drained).
    let actions = run(&mut rec, &mut obs, 15 * S + MIN);
    assert_eq!(stage(&rec, &green), Stage::CleanUp);
    let mut gone = stopping(&rec);
    gone.sort();
    assert_eq!(gone, ["b1", "b2"]);
    assert!(actions
        .iter()
        .any(|a| matches!(a, Action::Deregister(t) if t.iter().all(|r| r.target_group_arn == A))));
    assert_eq!(rollout(&rec, &green), Some(DeploymentRolloutState::InProgress));

    // Blue's tasks gone: the deployment completes, production stays on B.
    obs.tasks.retain(|t| t.unit.as_deref() == Some(&*green));
    run(&mut rec, &mut obs, 17 * S + MIN);
    assert_eq!(rollout(&rec, &green), Some(DeploymentRolloutState::Completed));
    assert_eq!(history_status(&rec, &green), Some(ServiceDeploymentStatus::Successful));
    assert_eq!(history_stage(&rec, &green), Some(Stage::CleanUp));
    assert_eq!(share_on(&obs, PROD, B), 100.0);
    let msgs: Vec<String> =
        rec.service.events.iter().flatten().filter_map(|e| e.message.clone()).collect();
    assert!(
        msgs.iter().any(|m| m.contains("test traffic is served by the new service revision")),
        "{msgs:#?}"
    );
    assert!(msgs.iter().any(|m| m.contains("shifted 100% of production traffic")), "{msgs:#?}");

    // The next deployment goes back to A.
    let third = deploy(&mut rec, "td:3", 20 * MIN);
    assert_eq!(rec.deployments[&third].load_balancers[0].target_group_arn.as_deref(), Some(A));
    assert_eq!(rec.deployments[&third].shift.as_ref().unwrap().blue.as_deref(), Some(&*green));
}

#[test]
fn a_tripped_circuit_breaker_in_bake_time_puts_all_traffic_back_on_blue_at_once() {
    let (mut rec, mut obs, blue) = completed_first(DeploymentStrategy::BlueGreen);
    let green = deploy(&mut rec, "td:2", 10 * S);
    run(&mut rec, &mut obs, 11 * S);
    green_up(&mut rec, &mut obs, &green, 12 * S);
    for t in 0..4 {
        run(&mut rec, &mut obs, (13 + t) * S);
    }
    assert_eq!(stage(&rec, &green), Stage::BakeTime);
    assert_eq!(share_on(&obs, PROD, B), 100.0);

    // Green's tasks fail, three times (the threshold for 2 tasks).
    for (i, id) in ["g1", "g2", "g3"].iter().enumerate() {
        obs.tasks.retain(|t| t.id != *id);
        let mut t = running(id, &green, B, 3000 + i as i32, 20 * S);
        t.last_status = TaskStatus::Stopped;
        t.desired_status = DesiredStatus::Stopped;
        t.stop_code = Some(TaskStopCode::EssentialContainerExited);
        obs.tasks.push(t);
    }
    let actions = run(&mut rec, &mut obs, 21 * S);
    // In the same step: blue PRIMARY again, and every rule back on A.
    assert_eq!(primary_id(&rec), blue);
    assert_eq!(history_status(&rec, &green), Some(ServiceDeploymentStatus::RollbackInProgress));
    let mut f = forwards(&actions);
    f.sort();
    assert_eq!(
        f,
        vec![
            (PROD.to_owned(), vec![(A.to_owned(), 1), (B.to_owned(), 0)]),
            (TEST.to_owned(), vec![(A.to_owned(), 1), (B.to_owned(), 0)]),
        ]
    );
    // Blue's tasks were never stopped; the rollback completes on them.
    assert!(stopping(&rec).iter().all(|t| t.starts_with('g')));
    obs.tasks.retain(|t| t.unit.as_deref() == Some(&*blue));
    run(&mut rec, &mut obs, 22 * S);
    assert_eq!(rollout(&rec, &blue), Some(DeploymentRolloutState::Completed));
    assert_eq!(history_status(&rec, &green), Some(ServiceDeploymentStatus::RollbackSuccessful));
    let msgs: Vec<String> =
        rec.service.events.iter().flatten().filter_map(|e| e.message.clone()).collect();
    assert!(
        msgs.iter()
            .any(|m| m
                == &format!("(service web) restored production traffic to deployment {blue}.")),
        "{msgs:#?}"
    );
}

#[test]
fn an_alarm_in_bake_time_puts_all_traffic_back_on_blue_at_once() {
    use wharf_model::ecs::shapes::DeploymentAlarms;
    let (mut rec, mut obs, blue) = completed_first(DeploymentStrategy::BlueGreen);
    if let Some(c) = rec.service.deployment_configuration.as_mut() {
        c.alarms = Some(DeploymentAlarms {
            alarm_names: Some(vec!["errors".into()]),
            enable: Some(true),
            rollback: Some(true),
        });
    }
    let green = deploy(&mut rec, "td:2", 10 * S);
    run(&mut rec, &mut obs, 11 * S);
    green_up(&mut rec, &mut obs, &green, 12 * S);
    for t in 0..4 {
        run(&mut rec, &mut obs, (13 + t) * S);
    }
    assert_eq!(stage(&rec, &green), Stage::BakeTime);
    assert_eq!(share_on(&obs, PROD, B), 100.0);
    obs.alarms.insert("errors".into(), ObservedAlarm { in_alarm: true, window_ms: 60 * S });
    let actions = run(&mut rec, &mut obs, 20 * S);
    assert_eq!(primary_id(&rec), blue);
    assert_eq!(rollout(&rec, &green), Some(DeploymentRolloutState::Failed));
    let mut f = forwards(&actions);
    f.sort();
    assert_eq!(
        f,
        vec![
            (PROD.to_owned(), vec![(A.to_owned(), 1), (B.to_owned(), 0)]),
            (TEST.to_owned(), vec![(A.to_owned(), 1), (B.to_owned(), 0)]),
        ]
    );
}

#[test]
fn canary_shifts_its_share_waits_then_shifts_the_rest() {
    let mut c = config(DeploymentStrategy::Canary);
    c.canary_configuration = Some(CanaryConfiguration {
        canary_percent: Some(10.0),
        canary_bake_time_in_minutes: Some(2),
    });
    let (mut rec, mut obs, _) = completed_first(DeploymentStrategy::Canary);
    rec.service.deployment_configuration = Some(c);
    let green = deploy(&mut rec, "td:2", 10 * S);
    run(&mut rec, &mut obs, 11 * S);
    green_up(&mut rec, &mut obs, &green, 12 * S);
    run(&mut rec, &mut obs, 13 * S); // test traffic
    run(&mut rec, &mut obs, 14 * S); // canary share
    assert_eq!(stage(&rec, &green), Stage::ProductionTrafficShift);
    assert_eq!(obs.forwards[PROD], vec![(A.to_owned(), 9), (B.to_owned(), 1)]);
    assert_eq!(share_on(&obs, PROD, B), 10.0);
    run(&mut rec, &mut obs, 14 * S + 2 * MIN - 1);
    assert_eq!(share_on(&obs, PROD, B), 10.0);
    run(&mut rec, &mut obs, 14 * S + 2 * MIN);
    assert_eq!(share_on(&obs, PROD, B), 100.0);
    run(&mut rec, &mut obs, 15 * S + 2 * MIN);
    assert_eq!(stage(&rec, &green), Stage::BakeTime);
}

#[test]
fn linear_shifts_in_equal_steps_each_held_for_its_bake_time() {
    let (mut rec, mut obs, _) = completed_first(DeploymentStrategy::Linear);
    let mut c = config(DeploymentStrategy::Linear);
    c.linear_configuration =
        Some(LinearConfiguration { step_percent: Some(25.0), step_bake_time_in_minutes: Some(1) });
    rec.service.deployment_configuration = Some(c);
    let green = deploy(&mut rec, "td:2", 10 * S);
    run(&mut rec, &mut obs, 11 * S);
    green_up(&mut rec, &mut obs, &green, 12 * S);
    run(&mut rec, &mut obs, 13 * S);
    let mut shares = vec![];
    let mut now = 14 * S;
    for _ in 0..4 {
        run(&mut rec, &mut obs, now);
        shares.push(share_on(&obs, PROD, B));
        run(&mut rec, &mut obs, now + MIN - 1);
        assert_eq!(share_on(&obs, PROD, B), *shares.last().unwrap());
        now += MIN;
    }
    assert_eq!(shares, [25.0, 50.0, 75.0, 100.0]);
    run(&mut rec, &mut obs, now);
    assert_eq!(stage(&rec, &green), Stage::BakeTime);
}

#[test]
fn a_stage_that_moves_traffic_waits_for_the_rule_to_forward_as_asked() {
    let (mut rec, mut obs, _) = completed_first(DeploymentStrategy::BlueGreen);
    let green = deploy(&mut rec, "td:2", 10 * S);
    run(&mut rec, &mut obs, 11 * S);
    green_up(&mut rec, &mut obs, &green, 12 * S);
    // The write of the test rule is lost: the next step asks again and
    // production does not move.
    let mut n = 0;
    let actions = step(&mut rec, &obs, 13 * S, &mut || {
        n += 1;
        format!("x{n}")
    });
    assert_eq!(forwards(&actions).len(), 1);
    let actions = run(&mut rec, &mut obs, 14 * S);
    assert_eq!(
        forwards(&actions),
        vec![(TEST.to_owned(), vec![(A.to_owned(), 0), (B.to_owned(), 1)])]
    );
    assert_eq!(stage(&rec, &green), Stage::TestTrafficShift);
    assert_eq!(share_on(&obs, PROD, A), 100.0);
}

#[test]
fn a_requested_rollback_puts_production_back_on_blue_in_the_step_that_sees_it() {
    let (mut rec, mut obs, blue) = completed_first(DeploymentStrategy::Canary);
    let green = deploy(&mut rec, "td:2", 10 * S);
    run(&mut rec, &mut obs, 11 * S);
    green_up(&mut rec, &mut obs, &green, 12 * S);
    run(&mut rec, &mut obs, 13 * S);
    run(&mut rec, &mut obs, 14 * S);
    assert_eq!(share_on(&obs, PROD, B), 5.0);
    // StopServiceDeployment (ROLLBACK) as the API writes it.
    let arn = rec.deployments[&green].service_deployment_arn.clone();
    let h = rec.history.iter_mut().find(|h| h.service_deployment_arn.as_ref() == Some(&arn));
    h.expect("its record").status = Some(ServiceDeploymentStatus::RollbackRequested);
    let actions = run(&mut rec, &mut obs, 15 * S);
    assert_eq!(primary_id(&rec), blue);
    assert_eq!(share_on(&obs, PROD, A), 100.0);
    assert_eq!(share_on(&obs, TEST, A), 100.0);
    assert_eq!(forwards(&actions).len(), 2);
    assert_eq!(history_status(&rec, &green), Some(ServiceDeploymentStatus::RollbackInProgress));
    assert!(
        stopping(&rec).is_empty(),
        "green's tasks serve until the rules no longer send them requests"
    );
    run(&mut rec, &mut obs, 16 * S);
    let mut gone = stopping(&rec);
    gone.sort();
    assert_eq!(gone, ["g1", "g2"], "green's tasks stop, blue's stay");
    obs.tasks.retain(|t| t.unit.as_deref() == Some(&*blue));
    run(&mut rec, &mut obs, 17 * S);
    assert_eq!(rollout(&rec, &blue), Some(DeploymentRolloutState::Completed));
    assert_eq!(history_status(&rec, &green), Some(ServiceDeploymentStatus::RollbackSuccessful));
}

#[test]
fn a_new_deployment_during_a_shift_replaces_green_and_keeps_blue_serving() {
    let mut c = config(DeploymentStrategy::Canary);
    c.canary_configuration = Some(CanaryConfiguration {
        canary_percent: Some(10.0),
        canary_bake_time_in_minutes: Some(5),
    });
    let (mut rec, mut obs, blue) = completed_first(DeploymentStrategy::Canary);
    rec.service.deployment_configuration = Some(c);
    let green = deploy(&mut rec, "td:2", 10 * S);
    run(&mut rec, &mut obs, 11 * S);
    green_up(&mut rec, &mut obs, &green, 12 * S);
    run(&mut rec, &mut obs, 13 * S);
    run(&mut rec, &mut obs, 14 * S);
    assert_eq!(share_on(&obs, PROD, B), 10.0);

    // td:3 while td:2 has 10% of production: blue is still the last completed one.
    let third = deploy(&mut rec, "td:3", 20 * S);
    assert_eq!(rec.deployments[&third].shift.as_ref().unwrap().blue.as_deref(), Some(&*blue));
    assert_eq!(rec.deployments[&third].load_balancers[0].target_group_arn.as_deref(), Some(B));
    let actions = run(&mut rec, &mut obs, 21 * S);
    // Production goes back to blue at once; td:3 starts; blue stays; td:2's
    // tasks stop once the rules no longer send them requests.
    assert_eq!(share_on(&obs, PROD, A), 100.0);
    assert_eq!(share_on(&obs, TEST, A), 100.0);
    assert_eq!(started(&actions, &third), 2);
    assert!(stopping(&rec).is_empty());
    run(&mut rec, &mut obs, 22 * S);
    let mut gone = stopping(&rec);
    gone.sort();
    assert_eq!(gone, ["g1", "g2"]);
    assert_eq!(history_status(&rec, &green), Some(ServiceDeploymentStatus::Stopped));
}
