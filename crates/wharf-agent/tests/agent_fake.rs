//! The whole agent (registration, watch, drivers, event routing, reports)
//! on the fake runtime and a fake server link: no Docker, no sleeps beyond
//! waiting for the agent's own answers.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::json;
use tokio::sync::mpsc;
use wharf_agent::link::{LinkError, ServerLink};
use wharf_agent::runtime::fake::FakeRuntime;
use wharf_agent::{Agent, AgentConfig};
use wharf_model::agent::{merge, Assignment};
use wharf_model::clock::SystemClock;
use wharf_model::ecs::shapes::{ContainerInstance, RegisterContainerInstanceRequest, Task};

/// A server in miniature: assignments pushed by the test, reports merged
/// into one task view as the real server merges them.
#[derive(Debug, Default)]
struct FakeLink {
    watch: Mutex<Option<mpsc::Receiver<Assignment>>>,
    task: Mutex<Option<Task>>,
    registered: Mutex<Vec<RegisterContainerInstanceRequest>>,
}

#[async_trait]
impl ServerLink for FakeLink {
    async fn register(
        &self,
        r: RegisterContainerInstanceRequest,
    ) -> Result<ContainerInstance, LinkError> {
        self.registered.lock().unwrap().push(r);
        Ok(ContainerInstance {
            container_instance_arn: Some(
                "arn:aws:ecs:us-east-1:0:container-instance/default/i1".into(),
            ),
            ..Default::default()
        })
    }

    async fn watch(&self, _: &str, _: &str) -> Result<mpsc::Receiver<Assignment>, LinkError> {
        self.watch.lock().unwrap().take().ok_or_else(|| LinkError::Unavailable("once".into()))
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
) -> (Arc<FakeLink>, mpsc::Sender<Assignment>, tokio::sync::oneshot::Sender<()>) {
    let (tx, rx) = mpsc::channel(16);
    let link = Arc::new(FakeLink { watch: Mutex::new(Some(rx)), ..Default::default() });
    *link.task.lock().unwrap() = Some(assignment("RUNNING").task);
    let config = AgentConfig {
        cluster: "default".into(),
        reserved_memory_mib: 0,
        always_pull: false,
        state_dir: None,
        cleanup_wait: Duration::from_secs(3600),
        s3: None,
        metadata: None,
    };
    let agent = Agent::new(Arc::new(runtime.clone()), link.clone(), Arc::new(SystemClock), config);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(agent.run(async move {
        let _ = stopped.await;
    }));
    (link, tx, stop)
}

#[tokio::test]
async fn a_task_runs_reports_and_stops_when_its_essential_container_exits() {
    let runtime = FakeRuntime::new();
    runtime.add_image("img:1");
    let (link, tx, _stop) = start(&runtime);
    tx.send(assignment("RUNNING")).await.unwrap();
    let t = until(&link, "RUNNING", |t| t.last_status.as_deref() == Some("RUNNING")).await;
    assert!(t.started_at.is_some() && t.pull_started_at.is_some());
    let containers = t.containers.unwrap();
    assert!(containers.iter().all(|c| c.runtime_id.is_some()));

    // The secret and the override reached the container's environment.
    let env = runtime.config("app").unwrap().env.unwrap();
    assert!(env.contains(&"PASS=s3cret".to_owned()), "{env:?}");
    assert!(env.contains(&"MODE=test".to_owned()), "{env:?}");

    assert!(runtime.exit("app", 2));
    let t = until(&link, "STOPPED", |t| t.last_status.as_deref() == Some("STOPPED")).await;
    assert_eq!(t.stopped_reason.as_deref(), Some("Essential container in task exited"));
    let app =
        t.containers.as_ref().unwrap().iter().find(|c| c.name.as_deref() == Some("app")).cloned();
    assert_eq!(app.unwrap().exit_code, Some(2));
}

#[tokio::test]
async fn the_server_stopping_a_task_stops_its_containers() {
    let runtime = FakeRuntime::new();
    runtime.add_image("img:1");
    runtime.exit_on_stop("app", 143);
    runtime.exit_on_stop("side", 0);
    let (link, tx, _stop) = start(&runtime);
    tx.send(assignment("RUNNING")).await.unwrap();
    until(&link, "RUNNING", |t| t.last_status.as_deref() == Some("RUNNING")).await;
    let mut stop = assignment("STOPPED");
    stop.task.stopped_reason = Some("enough".into());
    stop.task.stop_code = Some(wharf_model::ecs::shapes::TaskStopCode::UserInitiated);
    tx.send(stop).await.unwrap();
    let t = until(&link, "STOPPED", |t| t.last_status.as_deref() == Some("STOPPED")).await;
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
    tx.send(a).await.unwrap();
    let t = until(&link, "STOPPED", |t| t.last_status.as_deref() == Some("STOPPED")).await;
    assert_eq!(t.stop_code, Some(wharf_model::ecs::shapes::TaskStopCode::TaskFailedToStart));
    let reason = t.stopped_reason.unwrap();
    assert!(
        reason.starts_with("ResourceInitializationError: unable to pull secrets or registry auth:"),
        "{reason}"
    );
    assert!(runtime.containers().is_empty(), "nothing was created");
}
