//! The service scheduler's loop against a real store: it reads a service's
//! tasks, launches what is missing through its launcher, replaces a task
//! that stopped, records events, and wakes up on task changes by itself.

use std::sync::Arc;
use std::time::Duration;

use wharf_control::services::{run, BoxFuture, Launched, Launcher, Scheduler};
use wharf_model::clock::FakeClock;
use wharf_model::ecs::service::{key, new_deployment, DeploymentNotes, ServiceRecord};
use wharf_model::ecs::shapes::{Service, Task, TaskStopCode};
use wharf_model::wire::Timestamp;
use wharf_model::EcsError;
use wharf_store::{
    Kind, NewTask, Reservation, SqliteStore, Store, StoredTask, TaskQuery, TaskUpdate, Write,
};

const REGION: &str = "us-east-1";

/// Stores PROVISIONING tasks as the API's launch would, minus placement.
struct StoreLauncher {
    store: Arc<dyn Store>,
    now_ms: i64,
}

impl Launcher for StoreLauncher {
    fn launch<'a>(
        &'a self,
        region: &'a str,
        record: &'a ServiceRecord,
        unit: &'a str,
        count: usize,
        _instance: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Launched, EcsError>> {
        let name = record.service.service_name.clone().unwrap_or_default();
        let unit = unit.to_owned();
        let now = self.now_ms;
        Box::pin(async move {
            let placed = self
                .store
                .place_tasks(
                    region,
                    "default",
                    None,
                    Box::new(move |_| {
                        Ok((0..count)
                            .map(|_| {
                                let id = uuid_like();
                                let task = Task {
                                    task_arn: Some(format!(
                                        "arn:aws:ecs:{REGION}:0:task/default/{id}"
                                    )),
                                    last_status: Some("PROVISIONING".into()),
                                    desired_status: Some("RUNNING".into()),
                                    started_by: Some(unit.clone()),
                                    created_at: Some(Timestamp::from_millis(now)),
                                    ..Default::default()
                                };
                                NewTask {
                                    task: StoredTask {
                                        cluster: "default".into(),
                                        id: id.clone(),
                                        arn: task.task_arn.clone().unwrap_or_default(),
                                        instance_id: Some("i1".into()),
                                        last_status: "PROVISIONING".into(),
                                        desired_status: "RUNNING".into(),
                                        json: serde_json::to_string(&task).unwrap_or_default(),
                                    },
                                    family: "web".into(),
                                    started_by: Some(unit.clone()),
                                    service: Some(name.clone()),
                                    reservation: Reservation::default(),
                                    tags: vec![],
                                }
                            })
                            .collect())
                    }),
                )
                .await
                .map_err(|e| EcsError::server(e.to_string()))?;
            Ok(Launched {
                task_ids: placed.into_iter().map(|t| t.task.id).collect(),
                unplaced: None,
            })
        })
    }
}

fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(1);
    format!("{:032x}", N.fetch_add(1, Ordering::Relaxed))
}

async fn setup(desired: i32) -> (Arc<dyn Store>, Scheduler, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("db")).unwrap());
    let mut rec = ServiceRecord {
        service: Service {
            service_name: Some("web".into()),
            cluster_arn: Some(format!("arn:aws:ecs:{REGION}:0:cluster/default")),
            status: Some("ACTIVE".into()),
            desired_count: Some(desired),
            deployments: Some(vec![new_deployment("ecs-svc/1", desired, 0)]),
            ..Default::default()
        },
        ..Default::default()
    };
    rec.deployments.insert("ecs-svc/1".into(), DeploymentNotes::default());
    let body = serde_json::to_string(&rec).unwrap();
    store
        .update(
            Kind::Service,
            REGION,
            &key("default", "web"),
            Box::new(move |_| Ok(Write::Put(body.clone()))),
        )
        .await
        .unwrap();
    let clock = Arc::new(FakeClock::at(1_000_000));
    let launcher = Arc::new(StoreLauncher { store: store.clone(), now_ms: 1_000_000 });
    let scheduler = Scheduler { store: store.clone(), clock, launcher };
    (store, scheduler, dir)
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
                t.last_status = Some("STOPPED".into());
                t.desired_status = Some("STOPPED".into());
                t.stop_code = Some(TaskStopCode::EssentialContainerExited);
                Ok(Some(TaskUpdate {
                    last_status: "STOPPED".into(),
                    desired_status: "STOPPED".into(),
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
    assert_eq!(
        events,
        [format!("(service web) has started 2 tasks: (task {}) (task {}).", t[0].id, t[1].id)]
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
        let live: Vec<StoredTask> =
            tasks(&*store).await.into_iter().filter(|t| t.last_status != "STOPPED").collect();
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
