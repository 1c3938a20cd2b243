//! The service scheduler's loop against a real store: it reads a service's
//! tasks, launches what is missing through the operations layer (placed on
//! a registered instance, as RunTask's are), replaces a task that stopped,
//! records events, and wakes up on task and instance changes by itself.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use wharf_control::services::{run, Scheduler};
use wharf_model::clock::FakeClock;
use wharf_model::ecs::service::{key, new_deployment, DeploymentNotes, ServiceRecord};
use wharf_model::ecs::shapes::{Service, Task, TaskDefinitionStatus, TaskStopCode};
use wharf_model::ecs::status::{InstanceStatus, ServiceStatus, TaskStatus};
use wharf_ops::Ops;
use wharf_store::{
    Kind, NewTaskDefinition, SqliteStore, Store, StoredInstance, StoredTask, TaskQuery, TaskUpdate,
    Write,
};

const REGION: &str = "us-east-1";
const ACCOUNT: &str = "000000000000";
const TD: &str = "arn:aws:ecs:us-east-1:000000000000:task-definition/web:1";

/// Puts a document as JSON.
async fn put(store: &dyn Store, kind: Kind, key: &str, v: serde_json::Value) {
    let body = v.to_string();
    store.update(kind, REGION, key, Box::new(move |_| Ok(Write::Put(body.clone())))).await.unwrap();
}

/// An ACTIVE cluster `default` with one instance (4 vCPU, 8 GiB) and the
/// task definition `web:1`, as the API would have stored them.
async fn cluster(store: &dyn Store) {
    put(
        store,
        Kind::Cluster,
        "default",
        json!({
            "clusterName": "default", "status": "ACTIVE",
            "clusterArn": format!("arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/default")
        }),
    )
    .await;
    let td = json!({
        "family": "web", "revision": 1, "status": "ACTIVE", "taskDefinitionArn": TD,
        "compatibilities": ["EC2"],
        "containerDefinitions": [{"name": "app", "image": "busybox", "cpu": 128, "memory": 128}]
    });
    store
        .register_task_definition(
            REGION,
            "web",
            Box::new(move |_| {
                Ok(NewTaskDefinition {
                    arn: TD.into(),
                    status: TaskDefinitionStatus::Active,
                    json: td.to_string(),
                    tags: vec![],
                })
            }),
        )
        .await
        .unwrap();
    let instance = json!({
        "containerInstanceArn": format!("arn:aws:ecs:{REGION}:{ACCOUNT}:container-instance/default/i1"),
        "status": "ACTIVE", "agentConnected": true,
        "registeredResources": [
            {"name": "CPU", "type": "INTEGER", "integerValue": 4096},
            {"name": "MEMORY", "type": "INTEGER", "integerValue": 8192}]
    });
    let row = StoredInstance {
        cluster: "default".into(),
        id: "i1".into(),
        status: InstanceStatus::Active,
        json: instance.to_string(),
    };
    store
        .update_instance(REGION, "default", "i1", Box::new(move |_| Ok(Some(row.clone()))))
        .await
        .unwrap();
}

/// Registers instance `id` of cluster `default` (4 vCPU, 8 GiB) with `status`.
async fn instance(store: &dyn Store, id: &str, status: InstanceStatus) {
    let instance = json!({
        "containerInstanceArn": format!("arn:aws:ecs:{REGION}:{ACCOUNT}:container-instance/default/{id}"),
        "status": status.to_string(), "agentConnected": true,
        "registeredResources": [
            {"name": "CPU", "type": "INTEGER", "integerValue": 4096},
            {"name": "MEMORY", "type": "INTEGER", "integerValue": 8192}]
    });
    let row = StoredInstance {
        cluster: "default".into(),
        id: id.into(),
        status,
        json: instance.to_string(),
    };
    store
        .update_instance(REGION, "default", id, Box::new(move |_| Ok(Some(row.clone()))))
        .await
        .unwrap();
}

async fn setup(desired: i32) -> (Arc<dyn Store>, Scheduler, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("db")).unwrap());
    cluster(&*store).await;
    let mut deployment = new_deployment("ecs-svc/1", desired, 0);
    deployment.task_definition = Some(TD.into());
    let mut rec = ServiceRecord {
        service: Service {
            service_name: Some("web".into()),
            cluster_arn: Some(format!("arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/default")),
            status: Some(ServiceStatus::Active),
            desired_count: Some(desired),
            task_definition: Some(TD.into()),
            deployments: Some(vec![deployment]),
            ..Default::default()
        },
        ..Default::default()
    };
    rec.deployments.insert("ecs-svc/1".into(), DeploymentNotes::default());
    put(&*store, Kind::Service, &key("default", "web"), serde_json::to_value(&rec).unwrap()).await;
    let clock = Arc::new(FakeClock::at(1_000_000));
    let scheduler = Scheduler { ops: Ops::new(store.clone(), clock, ACCOUNT) };
    (store, scheduler, dir)
}

async fn run_as_agent(store: &dyn Store, id: &str, at_ms: i64) {
    store
        .update_task(
            REGION,
            "default",
            id,
            Box::new(move |stored| {
                let mut t: Task = serde_json::from_str(&stored.json).unwrap_or_default();
                t.last_status = Some(TaskStatus::Running);
                t.started_at = Some(wharf_model::wire::Timestamp::from_millis(at_ms));
                Ok(Some(TaskUpdate {
                    last_status: TaskStatus::Running,
                    desired_status: wharf_model::ecs::shapes::DesiredStatus::Running,
                    json: serde_json::to_string(&t).unwrap_or_default(),
                    stopped_ms: None,
                }))
            }),
        )
        .await
        .unwrap();
}

async fn tasks(store: &dyn Store) -> Vec<StoredTask> {
    store
        .list_tasks(
            REGION,
            TaskQuery {
                cluster: "default".into(),
                service: Some("web".into()),
                limit: 100,
                ..Default::default()
            },
        )
        .await
        .unwrap()
}

async fn record(store: &dyn Store) -> ServiceRecord {
    let body = store.get(Kind::Service, REGION, &key("default", "web")).await.unwrap().unwrap();
    serde_json::from_str(&body).unwrap()
}

async fn stop_as_agent(store: &dyn Store, id: &str) {
    store
        .update_task(
            REGION,
            "default",
            id,
            Box::new(|stored| {
                let mut t: Task = serde_json::from_str(&stored.json).unwrap_or_default();
                t.last_status = Some(TaskStatus::Stopped);
                t.desired_status = Some(wharf_model::ecs::shapes::DesiredStatus::Stopped);
                t.stop_code = Some(TaskStopCode::EssentialContainerExited);
                Ok(Some(TaskUpdate {
                    last_status: TaskStatus::Stopped,
                    desired_status: wharf_model::ecs::shapes::DesiredStatus::Stopped,
                    json: serde_json::to_string(&t).unwrap_or_default(),
                    stopped_ms: Some(1_000_000),
                }))
            }),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn a_pass_launches_the_desired_count_once_and_says_so() {
    let (store, scheduler, _dir) = setup(2).await;
    scheduler.pass().await.unwrap();
    let t = tasks(&*store).await;
    assert_eq!(t.len(), 2);
    let rec = record(&*store).await;
    let events: Vec<String> =
        rec.service.events.iter().flatten().filter_map(|e| e.message.clone()).collect();
    // The event names the tasks in the order they were placed.
    let started =
        |a: &str, b: &str| format!("(service web) has started 2 tasks: (task {a}) (task {b}).");
    assert!(
        events == [started(&t[0].id, &t[1].id)] || events == [started(&t[1].id, &t[0].id)],
        "{events:?}"
    );
    assert_eq!(rec.service.pending_count, Some(0), "counts are from the last step's view");
    // A second pass sees them pending and launches nothing more.
    scheduler.pass().await.unwrap();
    assert_eq!(tasks(&*store).await.len(), 2);
    assert_eq!(record(&*store).await.service.pending_count, Some(2));
}

#[tokio::test]
async fn the_loop_replaces_a_stopped_task_without_waiting_for_its_tick() {
    let (store, scheduler, _dir) = setup(1).await;
    scheduler.pass().await.unwrap();
    let first = tasks(&*store).await.remove(0);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let looping = tokio::spawn(run(scheduler, stopped));
    // Let the loop's first pass (its immediate tick) go by.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let at = std::time::Instant::now();
    stop_as_agent(&*store, &first.id).await;
    let replaced = loop {
        let live: Vec<StoredTask> = tasks(&*store)
            .await
            .into_iter()
            .filter(|t| t.last_status != TaskStatus::Stopped)
            .collect();
        if let Some(t) = live.into_iter().next() {
            break t;
        }
        assert!(at.elapsed() < Duration::from_secs(5), "no replacement within 5 s");
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    // Woken by the task change, not by the 1 s tick.
    assert!(at.elapsed() < Duration::from_millis(900), "replaced after {:?}", at.elapsed());
    assert_ne!(replaced.id, first.id);
    let _ = stop.send(true);
    looping.await.unwrap();
    assert_eq!(record(&*store).await.deployments["ecs-svc/1"].failures, 1);
}

#[tokio::test]
async fn a_settled_services_task_on_a_drained_instance_is_replaced_without_a_tick() {
    let clock = Arc::new(FakeClock::at(1_000_000));
    let (store, _, _dir) = setup(1).await;
    let scheduler = Scheduler { ops: Ops::new(store.clone(), clock.clone(), ACCOUNT) };
    scheduler.pass().await.unwrap();
    let first = tasks(&*store).await.remove(0);
    run_as_agent(&*store, &first.id, 1_000_000).await;
    // 60 s on, the task counts healthy and the deployment completes.
    clock.advance_millis(60_000);
    scheduler.pass().await.unwrap();
    let service = ("us-east-1".to_owned(), key("default", "web"));
    let seen = scheduler.pass().await.unwrap();
    let settled = wharf_control::services::agenda::Outcome::Seen { settled: true, daemon: false };
    assert_eq!(seen, [(service, settled)], "the service is settled");
    instance(&*store, "i2", InstanceStatus::Active).await;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let looping = tokio::spawn(run(scheduler, stopped));
    // The clock stands still: the agenda never makes the settled service
    // due, so only the instance's change can wake it.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(tasks(&*store).await.len(), 1, "a settled service is left alone");
    instance(&*store, "i1", InstanceStatus::Draining).await;
    let at = std::time::Instant::now();
    let replacement = loop {
        let on_i2 =
            tasks(&*store).await.into_iter().find(|t| t.instance_id.as_deref() == Some("i2"));
        if let Some(t) = on_i2 {
            break t;
        }
        assert!(at.elapsed() < Duration::from_secs(5), "no replacement within 5 s");
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    assert_ne!(replacement.id, first.id);
    let _ = stop.send(true);
    looping.await.unwrap();
}
