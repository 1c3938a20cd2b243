//! Scenarios for [`TaskMachine`], each a table of (time, event, expected
//! actions) run against a fake clock: the clock is the `T0 + ms` each step
//! passes in, and nothing sleeps.

use std::collections::VecDeque;

use wharf_model::ecs::shapes::{ContainerDependency, HealthCheck, TaskStopCode, VolumeFrom};

use super::*;

/// The fake clock's epoch: every step says how many milliseconds after it.
const T0: i64 = 1_700_000_000_000;

fn def(name: &str) -> ContainerDefinition {
    let image = Some(format!("{name}:latest"));
    ContainerDefinition { name: Some(name.into()), image, ..Default::default() }
}

fn sidecar(name: &str) -> ContainerDefinition {
    ContainerDefinition { essential: Some(false), ..def(name) }
}

fn after(mut d: ContainerDefinition, on: &str, condition: &str) -> ContainerDefinition {
    let dependency =
        ContainerDependency { container_name: Some(on.into()), condition: Some(condition.into()) };
    d.depends_on.get_or_insert_with(Vec::new).push(dependency);
    d
}

fn checked(d: ContainerDefinition) -> ContainerDefinition {
    let check =
        HealthCheck { command: Some(vec!["CMD".into(), "true".into()]), ..Default::default() };
    ContainerDefinition { health_check: Some(check), ..d }
}

fn pulled(c: &str) -> Event {
    Event::ImagePulled { container: c.into() }
}

fn created(c: &str) -> Event {
    Event::Created { container: c.into(), runtime_id: format!("id-{c}") }
}

fn started(c: &str) -> Event {
    Event::Started { container: c.into(), network_bindings: Vec::new() }
}

fn exited(c: &str, exit_code: i32) -> Event {
    Event::Exited { container: c.into(), exit_code, oom_killed: false }
}

fn health(c: &str, status: HealthStatus) -> Event {
    Event::Health { container: c.into(), status }
}

fn user_stop() -> Event {
    Event::StopRequested { reason: StopReason::user(None) }
}

/// One line per action, short enough to compare whole scenarios at a glance.
fn render(actions: &[Action]) -> Vec<String> {
    let health = |h: &HealthStatus| match h {
        HealthStatus::Unknown => String::new(),
        other => format!(" {}", other.as_str()),
    };
    let line = |action: &Action| match action {
        Action::Provision => "provision".to_owned(),
        Action::Pull { container } => format!("pull {container}"),
        Action::Create { container } => format!("create {container}"),
        Action::StartContainer { container } => format!("start {container}"),
        Action::StopContainer { container, timeout } => {
            format!("stop {container} {}s", timeout.as_secs())
        }
        Action::ReportContainer(r) => {
            let exit = r.exit_code.map(|code| format!(" exit {code}")).unwrap_or_default();
            format!("{} {}{exit}{}", r.name, r.last_status(), health(&r.health_status))
        }
        Action::ReportTask(r) => format!("task {}{}", r.status, health(&r.health_status)),
        Action::Cleanup => "cleanup".to_owned(),
    };
    actions.iter().map(line).collect()
}

fn machine(definitions: &[ContainerDefinition]) -> TaskMachine {
    TaskMachine::new(definitions, DesiredStatus::Running).unwrap()
}

/// Feeds each step (milliseconds after [`T0`], event, expected actions).
fn steps(machine: &mut TaskMachine, steps: Vec<(i64, Event, &[&str])>) {
    for (i, (at, event, expected)) in steps.into_iter().enumerate() {
        let described = format!("step {i}: {event:?}");
        assert_eq!(render(&machine.handle(event, T0 + at)), expected, "{described}");
    }
}

/// A task started and run to `RUNNING` by a runtime that says yes to everything.
fn running(definitions: &[ContainerDefinition]) -> TaskMachine {
    let mut machine = machine(definitions);
    let mut events = VecDeque::from([Event::Start]);
    while let Some(event) = events.pop_front() {
        for action in machine.handle(event, T0) {
            events.extend(match action {
                Action::Provision => Some(Event::Provisioned),
                Action::Pull { container } => Some(pulled(&container)),
                Action::Create { container } => Some(created(&container)),
                Action::StartContainer { container } => Some(started(&container)),
                _ => None,
            });
        }
    }
    assert_eq!(machine.status(), TaskStatus::Running);
    machine
}

fn reason(machine: &TaskMachine, container: &str) -> Option<NamedError> {
    machine.container(container).and_then(|c| c.reason)
}

#[test]
fn one_container_runs_then_stops_when_asked() {
    let mut m = machine(&[def("app")]);
    steps(
        &mut m,
        vec![
            (0, Event::Start, &["provision"]),
            (5, Event::Provisioned, &["pull app", "task PENDING"]),
            (900, pulled("app"), &["create app"]),
            (950, created("app"), &["start app", "task ACTIVATING"]),
            (1000, started("app"), &["app RUNNING", "task RUNNING"]),
            (5000, user_stop(), &["stop app 30s", "task STOPPING"]),
            (6000, exited("app", 0), &["app STOPPED exit 0", "task DEPROVISIONING", "cleanup"]),
            (6010, Event::CleanedUp, &["task STOPPED"]),
            (7000, Event::Tick, &[]),
        ],
    );
    let report = m.report();
    let at = |ms| Some(T0 + ms);
    let times = TaskTimes {
        pull_started_at: at(5),
        pull_stopped_at: at(900),
        started_at: at(1000),
        stopping_at: at(5000),
        execution_stopped_at: at(6000),
        stopped_at: at(6010),
    };
    assert_eq!(report.times, times);
    assert_eq!(
        report.stop,
        Some(StopReason::new(TaskStopCode::UserInitiated, "Task stopped by user"))
    );
    assert_eq!(report.desired_status, DesiredStatus::Stopped);
    assert_eq!(m.container("app").unwrap().runtime_id.as_deref(), Some("id-app"));
}

#[test]
fn sidecars_gate_the_app_on_start_complete_success_and_healthy() {
    let app = after(
        after(after(after(def("app"), "log", "START"), "seed", "COMPLETE"), "init", "SUCCESS"),
        "proxy",
        "HEALTHY",
    );
    let defs = [app, sidecar("log"), sidecar("seed"), sidecar("init"), checked(def("proxy"))];
    let mut m = machine(&defs);
    steps(
        &mut m,
        vec![
            (0, Event::Start, &["provision"]),
            (
                0,
                Event::Provisioned,
                &["pull app", "pull log", "pull seed", "pull init", "pull proxy", "task PENDING"],
            ),
            (1, pulled("app"), &[]),
            (1, pulled("log"), &["create log"]),
            (1, pulled("seed"), &["create seed"]),
            (1, pulled("init"), &["create init"]),
            (1, pulled("proxy"), &["create proxy"]),
            (2, created("log"), &["start log"]),
            (2, created("seed"), &["start seed"]),
            (2, created("init"), &["start init"]),
            (2, created("proxy"), &["start proxy"]),
            (3, started("log"), &["log RUNNING"]),
            (3, started("seed"), &["seed RUNNING"]),
            (3, started("init"), &["init RUNNING"]),
            (3, started("proxy"), &["proxy RUNNING"]),
            (4, exited("seed", 3), &["seed STOPPED exit 3"]),
            (5, exited("init", 0), &["init STOPPED exit 0"]),
            (
                6,
                health("proxy", HealthStatus::Healthy),
                &["create app", "proxy RUNNING HEALTHY", "task PENDING HEALTHY"],
            ),
            (7, created("app"), &["start app", "task ACTIVATING HEALTHY"]),
            (8, started("app"), &["app RUNNING", "task RUNNING HEALTHY"]),
        ],
    );
}

#[test]
fn links_need_the_dependency_started_and_volumes_from_created() {
    let web = ContainerDefinition {
        links: Some(vec!["db:database".into()]),
        volumes_from: Some(vec![VolumeFrom {
            source_container: Some("data".into()),
            read_only: Some(true),
        }]),
        ..def("web")
    };
    let mut m = machine(&[web, def("db"), sidecar("data")]);
    steps(
        &mut m,
        vec![
            (0, Event::Start, &["provision"]),
            (0, Event::Provisioned, &["pull web", "pull db", "pull data", "task PENDING"]),
            (1, pulled("web"), &[]),
            (1, pulled("db"), &["create db"]),
            (1, pulled("data"), &["create data"]),
            (2, created("db"), &["start db"]),
            (2, created("data"), &["create web", "start data"]),
            (3, created("web"), &["task ACTIVATING"]),
            (4, started("db"), &["start web", "db RUNNING"]),
            (4, started("data"), &["data RUNNING"]),
            (5, started("web"), &["web RUNNING", "task RUNNING"]),
        ],
    );
}

#[test]
fn a_success_dependency_that_fails_stops_its_dependent_for_good() {
    let mut m = machine(&[after(def("app"), "migrate", "SUCCESS"), sidecar("migrate")]);
    steps(
        &mut m,
        vec![
            (0, Event::Start, &["provision"]),
            (0, Event::Provisioned, &["pull app", "pull migrate", "task PENDING"]),
            (1, pulled("app"), &[]),
            (1, pulled("migrate"), &["create migrate"]),
            (2, created("migrate"), &["start migrate"]),
            (3, started("migrate"), &["migrate RUNNING"]),
            (
                9,
                exited("migrate", 1),
                &[
                    "app STOPPED exit 143",
                    "migrate STOPPED exit 1",
                    "task DEPROVISIONING",
                    "cleanup",
                ],
            ),
        ],
    );
    let error = NamedError::dependency_failed("migrate", "app");
    assert_eq!(reason(&m, "app"), Some(error.clone()));
    assert_eq!(m.report().stop, Some(StopReason::failed_to_start(&error)));
}

#[test]
fn start_timeout_ends_the_wait_for_a_healthy_dependency() {
    let proxy = ContainerDefinition {
        start_timeout: Some(10),
        stop_timeout: Some(5),
        ..checked(sidecar("proxy"))
    };
    let mut m = machine(&[after(def("app"), "proxy", "HEALTHY"), proxy]);
    steps(
        &mut m,
        vec![
            (0, Event::Start, &["provision"]),
            (0, Event::Provisioned, &["pull app", "pull proxy", "task PENDING"]),
            (1, pulled("app"), &[]),
            (1, pulled("proxy"), &["create proxy"]),
            (2, created("proxy"), &["start proxy"]),
            (1_000, started("proxy"), &["proxy RUNNING"]),
        ],
    );
    assert_eq!(m.next_deadline(), Some(T0 + 11_000));
    steps(
        &mut m,
        vec![
            (10_999, Event::Tick, &[]),
            (11_000, Event::Tick, &["stop proxy 5s", "app STOPPED exit 143", "task STOPPING"]),
            (
                11_500,
                exited("proxy", 137),
                &["proxy STOPPED exit 137", "task DEPROVISIONING", "cleanup"],
            ),
        ],
    );
    assert_eq!(m.next_deadline(), None);
    let error = NamedError::dependency_timed_out("proxy", "app");
    assert_eq!(reason(&m, "app"), Some(error.clone()));
    assert_eq!(m.report().stop.map(|s| s.code), Some(TaskStopCode::TaskFailedToStart));
}

#[test]
fn an_essential_exit_stops_the_others_with_their_stop_timeouts() {
    let cache = ContainerDefinition { stop_timeout: Some(5), ..sidecar("cache") };
    let mut m = running(&[def("app"), cache, sidecar("metrics")]);
    steps(
        &mut m,
        vec![
            (
                2_000,
                exited("app", 1),
                &["stop cache 5s", "stop metrics 30s", "app STOPPED exit 1", "task STOPPING"],
            ),
            (2_100, exited("metrics", 0), &["metrics STOPPED exit 0"]),
            (
                2_200,
                exited("cache", 143),
                &["cache STOPPED exit 143", "task DEPROVISIONING", "cleanup"],
            ),
            (2_300, Event::CleanedUp, &["task STOPPED"]),
        ],
    );
    let report = m.report();
    assert_eq!(report.stop, Some(StopReason::essential_container_exited()));
    assert_eq!(report.times.execution_stopped_at, Some(T0 + 2_000));
    assert_eq!(report.times.started_at, Some(T0));
}

#[test]
fn containers_stop_in_reverse_dependency_order() {
    let web = ContainerDefinition { links: Some(vec!["db".into()]), ..def("web") };
    let mut m = running(&[web, def("db")]);
    steps(
        &mut m,
        vec![
            (0, user_stop(), &["stop web 30s", "task STOPPING"]),
            (10, exited("web", 143), &["stop db 30s", "web STOPPED exit 143"]),
            (20, exited("db", 0), &["db STOPPED exit 0", "task DEPROVISIONING", "cleanup"]),
        ],
    );
    // The essential containers' exits came from the stop: the user's reason stays.
    assert_eq!(m.report().stop, Some(StopReason::user(None)));
}

#[test]
fn a_non_essential_exit_leaves_the_task_running() {
    let mut m = running(&[def("app"), sidecar("job")]);
    steps(&mut m, vec![(10, exited("job", 2), &["job STOPPED exit 2"]), (20, Event::Tick, &[])]);
    let report = m.report();
    assert_eq!(
        (report.status, report.desired_status, report.stop),
        (TaskStatus::Running, DesiredStatus::Running, None)
    );
}

#[test]
fn a_pull_failure_stops_the_task_before_it_starts() {
    let error = NamedError::CannotPullContainer("manifest for side:latest not found".into());
    let mut m = machine(&[def("app"), sidecar("side")]);
    steps(
        &mut m,
        vec![
            (0, Event::Start, &["provision"]),
            (0, Event::Provisioned, &["pull app", "pull side", "task PENDING"]),
            (
                700,
                Event::PullFailed { container: "side".into(), error: error.clone() },
                &["app STOPPED", "side STOPPED", "task DEPROVISIONING", "cleanup"],
            ),
            (800, pulled("app"), &[]),
            (900, Event::CleanedUp, &["task STOPPED"]),
        ],
    );
    let report = m.report();
    assert_eq!(
        report.stop,
        Some(StopReason::new(
            TaskStopCode::TaskFailedToStart,
            "CannotPullContainerError: manifest for side:latest not found"
        ))
    );
    assert_eq!((report.times.started_at, report.times.pull_stopped_at), (None, Some(T0 + 700)));
    assert_eq!(reason(&m, "side"), Some(error));
    assert_eq!(reason(&m, "app"), None);
}

#[test]
fn start_failures_stop_the_task_only_through_essential_containers() {
    let failure = |c: &str| Event::CreateFailed {
        container: c.into(),
        error: NamedError::CannotCreateContainer("invalid mount config".into()),
    };
    // A non-essential container fails: the task carries on without it...
    let mut m = machine(&[def("app"), sidecar("side")]);
    steps(
        &mut m,
        vec![
            (0, Event::Start, &["provision"]),
            (0, Event::Provisioned, &["pull app", "pull side", "task PENDING"]),
            (1, pulled("side"), &["create side"]),
            (2, failure("side"), &["side STOPPED"]),
        ],
    );
    assert_eq!(m.report().desired_status, DesiredStatus::Running);
    // ...unless an essential one depends on it, and will now never start.
    let mut m = machine(&[after(def("app"), "side", "START"), sidecar("side")]);
    steps(
        &mut m,
        vec![
            (0, Event::Start, &["provision"]),
            (0, Event::Provisioned, &["pull app", "pull side", "task PENDING"]),
            (1, pulled("side"), &["create side"]),
            (
                2,
                failure("side"),
                &["app STOPPED exit 143", "side STOPPED", "task DEPROVISIONING", "cleanup"],
            ),
        ],
    );
    let never = NamedError::dependency_never_started("side", "app");
    assert_eq!(m.report().stop, Some(StopReason::failed_to_start(&never)));
    // An essential container that cannot start stops the task with the start error.
    let error = NamedError::CannotStartContainer("exec: \"serve\": not found".into());
    let mut m = machine(&[def("app")]);
    steps(
        &mut m,
        vec![
            (0, Event::Start, &["provision"]),
            (0, Event::Provisioned, &["pull app", "task PENDING"]),
            (1, pulled("app"), &["create app"]),
            (2, created("app"), &["start app", "task ACTIVATING"]),
            (
                3,
                Event::StartFailed { container: "app".into(), error: error.clone() },
                &["app STOPPED", "task DEPROVISIONING", "cleanup"],
            ),
        ],
    );
    assert_eq!(m.report().stop, Some(StopReason::failed_to_start(&error)));
}

#[test]
fn a_secret_that_cannot_be_read_fails_the_task_in_provisioning() {
    let error = NamedError::secrets("parameter /prod/db-password not found");
    let mut m = machine(&[def("app")]);
    steps(
        &mut m,
        vec![
            (0, Event::Start, &["provision"]),
            (
                3,
                Event::ProvisionFailed { error: error.clone() },
                &["app STOPPED", "task DEPROVISIONING", "cleanup"],
            ),
        ],
    );
    let stop = m.report().stop.unwrap();
    assert_eq!(stop.code, TaskStopCode::TaskFailedToStart);
    assert_eq!(stop.message, "ResourceInitializationError: unable to pull secrets or registry auth: parameter /prod/db-password not found");
}

#[test]
fn an_oom_kill_is_the_container_reason_and_an_essential_exit_for_the_task() {
    let mut m = running(&[def("app"), sidecar("side")]);
    let oom = Event::Exited { container: "app".into(), exit_code: 137, oom_killed: true };
    steps(&mut m, vec![(10, oom, &["stop side 30s", "app STOPPED exit 137", "task STOPPING"])]);
    assert_eq!(reason(&m, "app"), Some(NamedError::OutOfMemory));
    assert_eq!(m.report().stop, Some(StopReason::essential_container_exited()));
}

#[test]
fn a_stop_while_pulling_or_provisioning_stops_without_docker_calls() {
    let mut m = machine(&[def("app"), sidecar("side")]);
    steps(
        &mut m,
        vec![
            (0, Event::Start, &["provision"]),
            (0, Event::Provisioned, &["pull app", "pull side", "task PENDING"]),
            (100, user_stop(), &["app STOPPED", "side STOPPED", "task DEPROVISIONING", "cleanup"]),
            (200, pulled("app"), &[]),
            (300, Event::CleanedUp, &["task STOPPED"]),
        ],
    );
    // During provisioning, the release waits for the provisioning under way.
    let mut m = machine(&[def("app")]);
    steps(
        &mut m,
        vec![
            (0, Event::Start, &["provision"]),
            (1, user_stop(), &["app STOPPED", "task STOPPING"]),
            (2, Event::Provisioned, &["task DEPROVISIONING", "cleanup"]),
        ],
    );
}

#[test]
fn a_stop_waits_for_creates_and_starts_under_way() {
    let mut m = machine(&[def("app"), sidecar("side")]);
    steps(
        &mut m,
        vec![
            (0, Event::Start, &["provision"]),
            (0, Event::Provisioned, &["pull app", "pull side", "task PENDING"]),
            (1, pulled("app"), &["create app"]),
            (1, pulled("side"), &["create side"]),
            (2, created("side"), &["start side"]),
            (3, user_stop(), &["task STOPPING"]),
            (4, created("app"), &["app STOPPED"]),
            (5, started("side"), &["stop side 30s", "side RUNNING"]),
            (6, exited("side", 143), &["side STOPPED exit 143", "task DEPROVISIONING", "cleanup"]),
        ],
    );
}

#[test]
fn a_task_stopped_before_it_started_never_touches_docker() {
    for desired in [DesiredStatus::Running, DesiredStatus::Stopped] {
        let mut m = TaskMachine::new(&[def("app")], desired.clone()).unwrap();
        let first = if desired == DesiredStatus::Stopped { Event::Start } else { user_stop() };
        steps(
            &mut m,
            vec![
                (0, first, &["app STOPPED", "task DEPROVISIONING", "cleanup"]),
                (1, Event::Start, &[]),
                (2, Event::CleanedUp, &["task STOPPED"]),
            ],
        );
    }
}

#[test]
fn repeated_late_and_stray_events_change_nothing() {
    let mut m = running(&[checked(def("app")), sidecar("side")]);
    let stray: Vec<(i64, Event, &[&str])> = vec![
        (1, started("app"), &[]),
        (1, created("app"), &[]),
        (1, pulled("app"), &[]),
        (1, Event::Start, &[]),
        (1, Event::Provisioned, &[]),
        (1, Event::CleanedUp, &[]),
        (1, Event::Tick, &[]),
        (1, exited("nobody", 1), &[]),
        (1, health("side", HealthStatus::Healthy), &[]),
        (2, health("app", HealthStatus::Healthy), &["app RUNNING HEALTHY", "task RUNNING HEALTHY"]),
        (3, health("app", HealthStatus::Healthy), &[]),
        (
            4,
            exited("app", 0),
            &["stop side 30s", "app STOPPED exit 0 HEALTHY", "task STOPPING HEALTHY"],
        ),
        (5, exited("app", 1), &[]),
        (5, health("app", HealthStatus::Unhealthy), &[]),
        (5, user_stop(), &[]),
        (6, exited("side", 0), &["side STOPPED exit 0", "task DEPROVISIONING HEALTHY", "cleanup"]),
        (7, exited("side", 0), &[]),
        (8, Event::CleanedUp, &["task STOPPED HEALTHY"]),
        (9, Event::CleanedUp, &[]),
        (9, started("side"), &[]),
    ];
    steps(&mut m, stray);
    assert_eq!(m.report().stop, Some(StopReason::essential_container_exited()));
    assert_eq!(m.container("app").unwrap().exit_code, Some(0));
}

#[test]
fn task_health_comes_from_essential_containers_only() {
    use HealthStatus::{Healthy, Unhealthy, Unknown};
    let cases = [
        (Healthy, Healthy, Unhealthy, Healthy),
        (Healthy, Unhealthy, Healthy, Unhealthy),
        (Healthy, Unknown, Healthy, Unknown),
    ];
    for (app, db, side, task) in cases {
        let mut m = running(&[checked(def("app")), checked(def("db")), checked(sidecar("side"))]);
        for (container, status) in [("app", app), ("db", db), ("side", side)] {
            m.handle(health(container, status), T0);
        }
        let report = m.report();
        assert_eq!(report.health_status, task);
        // A standalone task keeps running whatever its health: replacing
        // unhealthy tasks is the service scheduler's call.
        assert_eq!(
            (report.status, report.desired_status),
            (TaskStatus::Running, DesiredStatus::Running)
        );
    }
    assert_eq!(running(&[def("app"), checked(sidecar("side"))]).report().health_status, Unknown);
}

#[test]
fn definitions_the_machine_cannot_run_are_refused() {
    let unnamed = ContainerDefinition::default();
    let cases: [(&[ContainerDefinition], &str); 4] = [
        (&[], "a task needs at least one container"),
        (&[def("app"), unnamed], "containerDefinitions[1] has no name"),
        (&[def("app"), def("app")], "container name 'app' is used twice"),
        (
            &[after(def("app"), "db", "START")],
            "container 'app' refers in dependsOn to 'db', which is not in the task",
        ),
    ];
    for (definitions, message) in cases {
        let err = TaskMachine::new(definitions, DesiredStatus::Running).unwrap_err();
        assert_eq!(err.to_string(), message);
    }
}

#[test]
fn events_about_containers_nothing_was_asked_of_are_strays() {
    let mut m = machine(&[def("app")]);
    steps(
        &mut m,
        vec![
            (0, exited("app", 1), &[]),
            (0, Event::Tick, &[]),
            (1, Event::Start, &["provision"]),
            (2, pulled("app"), &[]),
            (2, started("app"), &[]),
            (3, Event::Provisioned, &["pull app", "task PENDING"]),
        ],
    );
    assert_eq!(m.container("app").unwrap().status, ContainerStatus::None);
}
