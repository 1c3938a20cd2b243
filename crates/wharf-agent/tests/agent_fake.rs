//! The whole agent (registration, watch, drivers, event routing, reports)
//! on the fake runtime and a fake server link: no Docker, no sleeps beyond
//! waiting for the agent's own answers.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::json;
use tokio::sync::mpsc;
use wharf_agent::link::{LinkError, ServerLink};
use wharf_agent::runtime::fake::{Call, FakeRuntime, Op};
use wharf_agent::runtime::{LogSource, RuntimeError};
use wharf_agent::stats::ContainerStats;
use wharf_agent::{Agent, AgentConfig, StatsConfig};
use wharf_model::agent::{
    merge, Assignment, Heartbeat, HeartbeatReply, LogBatch, LogDestination, ShippedEvent,
    WatchEvent,
};
use wharf_model::clock::SystemClock;
use wharf_model::ecs::shapes::{ContainerInstance, RegisterContainerInstanceRequest, Task};
use wharf_model::ecs::status::TaskStatus;

/// Sends assignments as the server's watch does.
trait SendAssigned {
    async fn send_assigned(&self, a: Assignment) -> Result<(), mpsc::error::SendError<WatchEvent>>;
}

impl SendAssigned for mpsc::Sender<WatchEvent> {
    async fn send_assigned(&self, a: Assignment) -> Result<(), mpsc::error::SendError<WatchEvent>> {
        self.send(WatchEvent::Assigned(Box::new(a))).await
    }
}

/// A server in miniature: assignments pushed by the test, reports merged
/// into one task view as the real server merges them.
#[derive(Debug, Default)]
struct FakeLink {
    watch: Mutex<Option<mpsc::Receiver<WatchEvent>>>,
    /// Heartbeats received.
    heartbeats: Mutex<Vec<Heartbeat>>,
    /// The network plan heartbeats are answered with.
    plan: Mutex<Option<wharf_model::agent::NetworkPlan>>,
    task: Mutex<Option<Task>>,
    registered: Mutex<Vec<RegisterContainerInstanceRequest>>,
    /// Log groups that exist.
    groups: Mutex<BTreeSet<String>>,
    /// Each log stream's events and cursor, by (group, stream).
    streams: Mutex<BTreeMap<(String, String), FakeStream>>,
    /// While true, log calls answer `Unavailable`.
    logs_down: AtomicBool,
    /// The container instance ARN registration answers (default: `.../i1`).
    instance: Mutex<Option<String>>,
}

/// One log stream in the fake server: its events and the cursor stored with them.
type FakeStream = (Vec<ShippedEvent>, Option<String>);

impl FakeLink {
    fn messages(&self, group: &str, stream: &str) -> Vec<String> {
        let streams = self.streams.lock().unwrap();
        let key = (group.to_owned(), stream.to_owned());
        streams
            .get(&key)
            .map(|(e, _)| e.iter().map(|e| e.message.clone()).collect())
            .unwrap_or_default()
    }
}

#[async_trait]
impl ServerLink for FakeLink {
    async fn register(
        &self,
        r: RegisterContainerInstanceRequest,
    ) -> Result<ContainerInstance, LinkError> {
        self.registered.lock().unwrap().push(r);
        let arn = self.instance.lock().unwrap().clone();
        Ok(ContainerInstance {
            container_instance_arn: Some(
                arn.unwrap_or_else(|| {
                    "arn:aws:ecs:us-east-1:0:container-instance/default/i1".into()
                }),
            ),
            ..Default::default()
        })
    }

    async fn watch(&self, _: &str, _: &str) -> Result<mpsc::Receiver<WatchEvent>, LinkError> {
        self.watch.lock().unwrap().take().ok_or_else(|| LinkError::Unavailable("once".into()))
    }

    async fn heartbeat(&self, _: &str, _: &str, h: Heartbeat) -> Result<HeartbeatReply, LinkError> {
        self.heartbeats.lock().unwrap().push(h);
        Ok(HeartbeatReply { interval_ms: 50, network: self.plan.lock().unwrap().clone() })
    }

    async fn report(&self, _: &str, change: Task) -> Result<(), LinkError> {
        let mut task = self.task.lock().unwrap();
        if let Some(t) = task.as_mut() {
            merge(t, change);
        }
        Ok(())
    }

    async fn resolve_secret(&self, value_from: &str) -> Result<String, LinkError> {
        match value_from {
            "/db/pass" => Ok("s3cret".into()),
            other => Err(LinkError::Refused(format!("invalid parameters: {other}"))),
        }
    }

    async fn prepare_log_stream(
        &self,
        d: &LogDestination,
        create_group: bool,
    ) -> Result<(), LinkError> {
        if self.logs_down.load(Ordering::SeqCst) {
            return Err(LinkError::Unavailable("down".into()));
        }
        let mut groups = self.groups.lock().unwrap();
        if !groups.contains(&d.group) && !create_group {
            return Err(LinkError::Refused(
                "ResourceNotFoundException: The specified log group does not exist.".into(),
            ));
        }
        groups.insert(d.group.clone());
        self.streams.lock().unwrap().entry((d.group.clone(), d.stream.clone())).or_default();
        Ok(())
    }

    async fn ship_logs(&self, batch: LogBatch) -> Result<(), LinkError> {
        if self.logs_down.load(Ordering::SeqCst) {
            return Err(LinkError::Unavailable("down".into()));
        }
        let d = batch.destination;
        let mut streams = self.streams.lock().unwrap();
        let Some(stream) = streams.get_mut(&(d.group, d.stream)) else {
            return Err(LinkError::Refused("ResourceNotFoundException".into()));
        };
        stream.0.extend(batch.events);
        stream.1 = Some(batch.cursor);
        Ok(())
    }

    async fn log_cursor(&self, d: &LogDestination) -> Result<Option<String>, LinkError> {
        let streams = self.streams.lock().unwrap();
        Ok(streams.get(&(d.group.clone(), d.stream.clone())).and_then(|s| s.1.clone()))
    }
}

fn assignment(desired: &str) -> Assignment {
    serde_json::from_value(json!({
        "cluster": "default",
        "task": {
            "taskArn": "arn:aws:ecs:us-east-1:0:task/default/t1",
            "lastStatus": "PROVISIONING", "desiredStatus": desired,
            "containers": [{"name": "app", "lastStatus": "PENDING"}, {"name": "side", "lastStatus": "PENDING"}],
            "overrides": {"containerOverrides": [{"name": "app", "environment": [{"name": "MODE", "value": "test"}]}]}
        },
        "definition": {
            "family": "f", "revision": 1,
            "containerDefinitions": [
                {"name": "app", "image": "img:1", "memory": 64,
                 "secrets": [{"name": "PASS", "valueFrom": "/db/pass"}]},
                {"name": "side", "image": "img:1", "memory": 32, "essential": false,
                 "dependsOn": [{"containerName": "app", "condition": "START"}]}
            ]
        }
    }))
    .unwrap()
}

async fn until(link: &FakeLink, what: &str, f: impl Fn(&Task) -> bool) -> Task {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(t) = link.task.lock().unwrap().clone().filter(|t| f(t)) {
            return t;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}: {:?}",
            link.task.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn start(
    runtime: &FakeRuntime,
) -> (Arc<FakeLink>, mpsc::Sender<WatchEvent>, tokio::sync::oneshot::Sender<()>) {
    let link = Arc::new(FakeLink::default());
    *link.task.lock().unwrap() = Some(assignment("RUNNING").task);
    let (tx, stop) = start_on(runtime, &link, None);
    (link, tx, stop)
}

/// Starts an agent on `link` (which keeps its state across agents).
fn start_on(
    runtime: &FakeRuntime,
    link: &Arc<FakeLink>,
    stats: Option<StatsConfig>,
) -> (mpsc::Sender<WatchEvent>, tokio::sync::oneshot::Sender<()>) {
    let (tx, rx) = mpsc::channel(16);
    *link.watch.lock().unwrap() = Some(rx);
    let config = AgentConfig {
        cluster: "default".into(),
        reserved_memory_mib: 0,
        always_pull: false,
        state_dir: None,
        cleanup_wait: Duration::from_secs(3600),
        s3: None,
        metadata: None,
        stats,
        dns_servers: vec![],
        dns_listen: None,
        host_network: wharf_agent::HostNetworking::Off,
        report_stats: false,
        identity: wharf_agent::host::HostIdentity {
            availability_zone: "us-east-1a".into(),
            ..Default::default()
        },
    };
    let agent = Agent::new(Arc::new(runtime.clone()), link.clone(), Arc::new(SystemClock), config);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(agent.run(async move {
        let _ = stopped.await;
    }));
    (tx, stop)
}

#[tokio::test]
async fn a_task_runs_reports_and_stops_when_its_essential_container_exits() {
    let runtime = FakeRuntime::new();
    runtime.add_image("img:1");
    let (link, tx, _stop) = start(&runtime);
    tx.send_assigned(assignment("RUNNING")).await.unwrap();
    let t = until(&link, "RUNNING", |t| t.last_status == Some(TaskStatus::Running)).await;
    assert!(t.started_at.is_some() && t.pull_started_at.is_some());
    let containers = t.containers.unwrap();
    assert!(containers.iter().all(|c| c.runtime_id.is_some()));

    // The secret and the override reached the container's environment.
    let env = runtime.config("app").unwrap().env.unwrap();
    assert!(env.contains(&"PASS=s3cret".to_owned()), "{env:?}");
    assert!(env.contains(&"MODE=test".to_owned()), "{env:?}");

    assert!(runtime.exit("app", 2));
    let t = until(&link, "STOPPED", |t| t.last_status == Some(TaskStatus::Stopped)).await;
    assert_eq!(t.stopped_reason.as_deref(), Some("Essential container in task exited"));
    let app =
        t.containers.as_ref().unwrap().iter().find(|c| c.name.as_deref() == Some("app")).cloned();
    assert_eq!(app.unwrap().exit_code, Some(2));
}

#[tokio::test]
async fn running_containers_are_sampled_until_they_exit() {
    let runtime = FakeRuntime::new();
    runtime.add_image("img:1");
    let link = Arc::new(FakeLink::default());
    *link.task.lock().unwrap() = Some(assignment("RUNNING").task);
    let samples = ContainerStats::new();
    let stats = StatsConfig { samples: samples.clone(), interval: Duration::from_millis(20) };
    let (tx, _stop) = start_on(&runtime, &link, Some(stats));
    tx.send_assigned(assignment("RUNNING")).await.unwrap();
    until(&link, "RUNNING", |t| t.last_status == Some(TaskStatus::Running)).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while samples.latest().len() < 2 {
        assert!(tokio::time::Instant::now() < deadline, "no samples of both containers");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let latest = samples.latest();
    let labels: Vec<_> = latest
        .iter()
        .map(|s| {
            let l = &s.labels;
            (l.cluster.as_str(), l.task_id.as_str(), l.container.as_str(), &*l.task_definition)
        })
        .collect();
    assert_eq!(labels, [("default", "t1", "app", "f:1"), ("default", "t1", "side", "f:1")]);
    assert_eq!(latest[0].usage.memory_bytes, 1_048_576);

    assert!(runtime.exit("side", 0));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while samples.latest().len() != 1 {
        assert!(tokio::time::Instant::now() < deadline, "the exited container is still sampled");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(samples.latest()[0].labels.container, "app");
    assert!(runtime.exit("app", 0));
    until(&link, "STOPPED", |t| t.last_status == Some(TaskStatus::Stopped)).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !samples.latest().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "a stopped task is still sampled");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_late_assignment_of_a_finished_task_does_not_run_it_again() {
    let runtime = FakeRuntime::new();
    runtime.add_image("img:1");
    let (link, tx, _stop) = start(&runtime);
    tx.send_assigned(assignment("RUNNING")).await.unwrap();
    let running = until(&link, "RUNNING", |t| t.last_status == Some(TaskStatus::Running)).await;
    assert!(runtime.exit("app", 0));
    until(&link, "STOPPED", |t| t.last_status == Some(TaskStatus::Stopped)).await;
    // Let the driver finish, then deliver the task as the watch saw it while
    // it ran (queued before the STOPPED report was stored).
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut late = assignment("RUNNING");
    late.task = running;
    tx.send_assigned(late).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let t = link.task.lock().unwrap().clone().unwrap();
    let app = t.containers.unwrap().into_iter().find(|c| c.name.as_deref() == Some("app")).unwrap();
    assert_eq!(app.exit_code, Some(0));
    assert_eq!(app.reason, None, "no second driver reported the container vanished");
}

/// A task looks up its own containers to adopt (not the whole host's, which
/// could hold hundreds of finished ones) and, while Docker cannot say,
/// waits rather than create containers that may already be there.
#[tokio::test]
async fn a_task_looks_up_its_own_containers_before_creating_any() {
    let runtime = FakeRuntime::new();
    runtime.add_image("img:1");
    let (link, tx, _stop) = start(&runtime);
    tokio::time::sleep(Duration::from_millis(50)).await;
    runtime.fail_next(Op::ListManaged, RuntimeError::Unavailable("docker restarting".into()));
    tx.send_assigned(assignment("RUNNING")).await.unwrap();
    until(&link, "RUNNING", |t| t.last_status == Some(TaskStatus::Running)).await;
    let calls = runtime.calls();
    let first_create = calls.iter().position(|c| matches!(c, Call::Create(_))).expect("created");
    let lookups = calls[..first_create].iter().filter(|c| matches!(c, Call::ListManaged)).count();
    assert_eq!(lookups, 2, "a failed lookup is tried again before any create: {calls:?}");
}

#[tokio::test]
async fn the_server_stopping_a_task_stops_its_containers() {
    let runtime = FakeRuntime::new();
    runtime.add_image("img:1");
    runtime.exit_on_stop("app", 143);
    runtime.exit_on_stop("side", 0);
    let (link, tx, _stop) = start(&runtime);
    tx.send_assigned(assignment("RUNNING")).await.unwrap();
    until(&link, "RUNNING", |t| t.last_status == Some(TaskStatus::Running)).await;
    let mut stop = assignment("STOPPED");
    stop.task.stopped_reason = Some("enough".into());
    stop.task.stop_code = Some(wharf_model::ecs::shapes::TaskStopCode::UserInitiated);
    tx.send_assigned(stop).await.unwrap();
    let t = until(&link, "STOPPED", |t| t.last_status == Some(TaskStatus::Stopped)).await;
    assert_eq!(t.stopped_reason.as_deref(), Some("enough"));
    assert!(t.stopping_at.is_some());
}

#[tokio::test]
async fn a_missing_secret_fails_the_task_to_start() {
    let runtime = FakeRuntime::new();
    runtime.add_image("img:1");
    let (link, tx, _stop) = start(&runtime);
    let mut a = assignment("RUNNING");
    a.definition.container_definitions.as_mut().unwrap()[0].secrets =
        Some(vec![serde_json::from_value(json!({"name": "X", "valueFrom": "/nope"})).unwrap()]);
    tx.send_assigned(a).await.unwrap();
    let t = until(&link, "STOPPED", |t| t.last_status == Some(TaskStatus::Stopped)).await;
    assert_eq!(t.stop_code, Some(wharf_model::ecs::shapes::TaskStopCode::TaskFailedToStart));
    let reason = t.stopped_reason.unwrap();
    assert!(
        reason.starts_with("ResourceInitializationError: unable to pull secrets or registry auth:"),
        "{reason}"
    );
    assert!(runtime.containers().is_empty(), "nothing was created");
}

/// The assignment with `app` logging to awslogs with these options.
fn with_awslogs(desired: &str, options: serde_json::Value) -> Assignment {
    let mut a = assignment(desired);
    let app = &mut a.definition.container_definitions.as_mut().unwrap()[0];
    app.log_configuration =
        Some(serde_json::from_value(json!({"logDriver": "awslogs", "options": options})).unwrap());
    a
}

async fn until_logged(link: &FakeLink, stream: &str, n: usize) -> Vec<String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let got = link.messages("/ecs/f", stream);
        if got.len() >= n {
            return got;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} of {n} events arrived: {got:?}",
            got.len()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

const STREAM: &str = "ecs/app/t1";

#[tokio::test]
async fn awslogs_output_arrives_in_its_stream_in_order() {
    let runtime = FakeRuntime::new();
    runtime.add_image("img:1");
    let (link, tx, _stop) = start(&runtime);
    link.groups.lock().unwrap().insert("/ecs/f".into());
    tx.send_assigned(with_awslogs(
        "RUNNING",
        json!({"awslogs-group": "/ecs/f", "awslogs-stream-prefix": "ecs"}),
    ))
    .await
    .unwrap();
    until(&link, "RUNNING", |t| t.last_status == Some(TaskStatus::Running)).await;
    runtime.write_log("app", LogSource::Stdout, "first\n");
    runtime.write_log("app", LogSource::Stderr, "an error\n");
    runtime.write_log("app", LogSource::Stdout, "\n");
    runtime.write_log("app", LogSource::Stdout, "long ");
    runtime.write_log("app", LogSource::Stdout, "line\n");
    for i in 0..5000 {
        runtime.write_log("app", LogSource::Stdout, &format!("burst {i}\n"));
    }
    let got = until_logged(&link, STREAM, 5003).await;
    assert_eq!(&got[..3], ["first", "an error", "long line"]);
    let burst: Vec<String> = (0..5000).map(|i| format!("burst {i}")).collect();
    assert_eq!(&got[3..], &burst[..]);
    assert!(link.messages("/ecs/f", "side").is_empty(), "side logs elsewhere");
}

#[tokio::test]
async fn a_task_is_stopped_only_once_its_last_output_is_stored() {
    let runtime = FakeRuntime::new();
    runtime.add_image("img:1");
    let (link, tx, _stop) = start(&runtime);
    link.groups.lock().unwrap().insert("/ecs/f".into());
    tx.send_assigned(with_awslogs(
        "RUNNING",
        json!({"awslogs-group": "/ecs/f", "awslogs-stream-prefix": "ecs"}),
    ))
    .await
    .unwrap();
    until(&link, "RUNNING", |t| t.last_status == Some(TaskStatus::Running)).await;
    link.logs_down.store(true, Ordering::SeqCst);
    runtime.write_log("app", LogSource::Stdout, "last words\n");
    assert!(runtime.exit("app", 0));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let status = link.task.lock().unwrap().clone().unwrap().last_status;
    assert_ne!(status, Some(TaskStatus::Stopped), "STOPPED before its output was stored");
    link.logs_down.store(false, Ordering::SeqCst);
    until(&link, "STOPPED", |t| t.last_status == Some(TaskStatus::Stopped)).await;
    assert_eq!(link.messages("/ecs/f", STREAM), ["last words"]);
}

#[tokio::test]
async fn awslogs_multiline_events_gather_their_lines() {
    let runtime = FakeRuntime::new();
    runtime.add_image("img:1");
    let (link, tx, _stop) = start(&runtime);
    tx.send_assigned(with_awslogs(
        "RUNNING",
        json!({"awslogs-group": "/ecs/f", "awslogs-stream-prefix": "ecs",
               "awslogs-create-group": "true", "awslogs-multiline-pattern": "^ERROR|^INFO"}),
    ))
    .await
    .unwrap();
    until(&link, "RUNNING", |t| t.last_status == Some(TaskStatus::Running)).await;
    // The engine stamps output with the wall clock the flush interval runs on.
    runtime.set_now_ms(wharf_model::clock::Clock::now_millis(&SystemClock));
    for line in ["INFO up", "ERROR boom", "  at a()", "  at b()", "INFO still up"] {
        runtime.write_log("app", LogSource::Stdout, &format!("{line}\n"));
    }
    let got = until_logged(&link, STREAM, 2).await;
    assert_eq!(got, ["INFO up\n", "ERROR boom\n  at a()\n  at b()\n"]);
    // The last event is released when the container stops.
    assert!(runtime.exit("app", 0));
    let got = until_logged(&link, STREAM, 3).await;
    assert_eq!(got[2], "INFO still up\n");
}

#[tokio::test]
async fn awslogs_without_its_log_group_fails_the_container_as_docker_does() {
    let runtime = FakeRuntime::new();
    runtime.add_image("img:1");
    let (link, tx, _stop) = start(&runtime);
    tx.send_assigned(with_awslogs(
        "RUNNING",
        json!({"awslogs-group": "/ecs/f", "awslogs-stream-prefix": "ecs"}),
    ))
    .await
    .unwrap();
    let t = until(&link, "STOPPED", |t| t.last_status == Some(TaskStatus::Stopped)).await;
    let reason = t.stopped_reason.unwrap();
    assert_eq!(
        reason,
        "CannotStartContainerError: Error response from daemon: failed to initialize logging \
         driver: failed to create Cloudwatch log stream: ResourceNotFoundException: The specified \
         log group does not exist."
    );
}

#[tokio::test]
async fn awslogs_options_docker_refuses_fail_the_container_at_create() {
    let runtime = FakeRuntime::new();
    runtime.add_image("img:1");
    let (link, tx, _stop) = start(&runtime);
    tx.send_assigned(with_awslogs(
        "RUNNING",
        json!({"awslogs-group": "/ecs/f", "awslogs-colour": "red"}),
    ))
    .await
    .unwrap();
    let t = until(&link, "STOPPED", |t| t.last_status == Some(TaskStatus::Stopped)).await;
    assert_eq!(
        t.stopped_reason.as_deref(),
        Some("CannotCreateContainerError: Error response from daemon: unknown log opt 'awslogs-colour' for awslogs log driver")
    );
}

/// The log store goes away for a while, then an agent restart in the middle
/// of the output: every line arrives once, in order.
#[tokio::test]
async fn awslogs_shipping_survives_an_outage_and_an_agent_restart() {
    let runtime = FakeRuntime::new();
    runtime.add_image("img:1");
    let (link, tx, stop) = start(&runtime);
    link.groups.lock().unwrap().insert("/ecs/f".into());
    let options =
        json!({"awslogs-group": "/ecs/f", "awslogs-stream-prefix": "ecs", "mode": "blocking"});
    tx.send_assigned(with_awslogs("RUNNING", options.clone())).await.unwrap();
    until(&link, "RUNNING", |t| t.last_status == Some(TaskStatus::Running)).await;
    let mut now = 1_000;
    let mut write = |from: usize, to: usize| {
        for i in from..to {
            // Several lines per millisecond share a timestamp, and time goes
            // past a few seconds, so the cursor moves its `since`.
            now += 7;
            runtime.set_now_ms(1_700_000_000_000 + now / 3);
            runtime.write_log(
                "app",
                if i % 5 == 0 { LogSource::Stderr } else { LogSource::Stdout },
                &format!("line {i}\n"),
            );
        }
    };
    write(0, 3000);
    until_logged(&link, STREAM, 3000).await;
    link.logs_down.store(true, Ordering::SeqCst);
    write(3000, 4000);
    tokio::time::sleep(Duration::from_millis(50)).await;
    link.logs_down.store(false, Ordering::SeqCst);
    until_logged(&link, STREAM, 3500).await;
    // The agent stops (its shippers with it) and more output comes meanwhile.
    stop.send(()).unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    write(4000, 6000);
    let (tx2, _stop2) = start_on(&runtime, &link, None);
    let mut again = with_awslogs("RUNNING", options);
    again.task = link.task.lock().unwrap().clone().unwrap();
    tx2.send_assigned(again).await.unwrap();
    let got = until_logged(&link, STREAM, 6000).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let got_after = link.messages("/ecs/f", STREAM);
    assert_eq!(got_after.len(), got.len(), "nothing more arrives: no duplicates");
    let expected: Vec<String> = (0..6000).map(|i| format!("line {i}")).collect();
    assert_eq!(got_after, expected);
}

/// Waits until every container the fake holds has exited.
async fn until_all_exited(runtime: &FakeRuntime) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while runtime
        .containers()
        .iter()
        .any(|c| c.state == wharf_agent::runtime::ContainerState::Running)
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "containers still run: {:?}",
            runtime.containers()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_task_the_server_no_longer_names_after_a_new_watch_is_stopped() {
    let runtime = FakeRuntime::new();
    runtime.add_image("img:1");
    let (link, tx, _stop) = start(&runtime);
    tx.send_assigned(assignment("RUNNING")).await.unwrap();
    until(&link, "RUNNING", |t| t.last_status == Some(TaskStatus::Running)).await;
    assert!(!link.heartbeats.lock().unwrap().is_empty(), "the agent sends heartbeats");
    // The watch breaks (a cut link); the next one names no task: the server
    // declared the instance lost meanwhile and the task was replaced elsewhere.
    let (tx2, rx2) = mpsc::channel(16);
    *link.watch.lock().unwrap() = Some(rx2);
    drop(tx);
    tx2.send(WatchEvent::Synced).await.unwrap();
    let t = until(&link, "STOPPED", |t| t.last_status == Some(TaskStatus::Stopped)).await;
    assert!(
        t.stopped_reason.as_deref().is_some_and(|r| r.contains("no longer has it")),
        "{:?}",
        t.stopped_reason
    );
    until_all_exited(&runtime).await;
}

#[tokio::test]
async fn another_servers_agent_on_the_same_engine_leaves_this_ones_containers_alone() {
    let runtime = FakeRuntime::new();
    runtime.add_image("img:1");
    let (link, tx, _stop) = start(&runtime);
    tx.send_assigned(assignment("RUNNING")).await.unwrap();
    until(&link, "RUNNING", |t| t.last_status == Some(TaskStatus::Running)).await;
    // A second server's agent on the same Docker engine, for a cluster of the
    // same name, on its own instance: its server names none of these tasks.
    let other = Arc::new(FakeLink::default());
    *other.instance.lock().unwrap() =
        Some("arn:aws:ecs:us-east-1:0:container-instance/default/i2".into());
    let (tx2, _stop2) = start_on(&runtime, &other, None);
    tx2.send(WatchEvent::Synced).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let running = runtime
        .containers()
        .iter()
        .filter(|c| c.state == wharf_agent::runtime::ContainerState::Running)
        .count();
    assert_eq!(running, 2, "the other agent stopped containers it does not run");
    assert_eq!(link.task.lock().unwrap().as_ref().unwrap().last_status, Some(TaskStatus::Running));
}

#[tokio::test]
async fn an_agent_started_again_stops_containers_of_tasks_the_server_no_longer_names() {
    let runtime = FakeRuntime::new();
    runtime.add_image("img:1");
    let (link, tx, stop) = start(&runtime);
    tx.send_assigned(assignment("RUNNING")).await.unwrap();
    until(&link, "RUNNING", |t| t.last_status == Some(TaskStatus::Running)).await;
    // The agent goes away; its containers keep running.
    stop.send(()).unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(runtime
        .containers()
        .iter()
        .any(|c| c.state == wharf_agent::runtime::ContainerState::Running));
    // Another agent starts; the server names no task for it.
    let (tx2, _stop2) = start_on(&runtime, &link, None);
    tx2.send(WatchEvent::Synced).await.unwrap();
    until_all_exited(&runtime).await;
    // A task it is told about after the mark is its own, and runs.
    let mut second = assignment("RUNNING");
    second.task.task_arn = Some("arn:aws:ecs:us-east-1:0:task/default/second".into());
    tx2.send_assigned(second).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !runtime.containers().iter().any(|c| {
        c.state == wharf_agent::runtime::ContainerState::Running
            && c.config
                .labels
                .as_ref()
                .and_then(|l| l.get("com.amazonaws.ecs.task-arn"))
                .map(String::as_str)
                == Some("arn:aws:ecs:us-east-1:0:task/default/second")
    }) {
        assert!(tokio::time::Instant::now() < deadline, "the new task does not run");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn awsvpc_tasks_take_addresses_from_the_instances_slice() {
    let runtime = FakeRuntime::new();
    runtime.add_image("img:1");
    let link = Arc::new(FakeLink::default());
    *link.plan.lock().unwrap() = Some(wharf_model::agent::NetworkPlan {
        pool: "10.208.0.0/12".into(),
        vpc: "10.208.0.0/16".into(),
        slice: "10.208.7.0/24".into(),
        peers: vec![],
    });
    let mut a = assignment("RUNNING");
    a.definition.network_mode = Some(wharf_model::ecs::shapes::NetworkMode::Awsvpc);
    *link.task.lock().unwrap() = Some(a.task.clone());
    let (tx, _stop) = start_on(&runtime, &link, None);
    tx.send_assigned(a).await.unwrap();
    until(&link, "RUNNING", |t| t.last_status == Some(TaskStatus::Running)).await;
    assert_eq!(
        runtime.network_spec("wharf-awsvpc"),
        Some(Some(wharf_agent::hostnet::NetworkSpec {
            subnet: "10.208.7.0/24".into(),
            gateway: "10.208.7.1".into(),
            // Host networking is off here: Docker masquerades.
            masquerade: true,
        }))
    );
}
