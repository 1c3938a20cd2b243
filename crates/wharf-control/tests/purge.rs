//! The store forgets exactly the tasks that stopped before the cutoff, and
//! their tags.

use std::sync::Arc;

use wharf_control::cleanup::stopped_task_cutoff;
use wharf_store::{NewTask, Reservation, SqliteStore, Store, StoredTask, TaskUpdate};

fn new_task(id: &str) -> NewTask {
    NewTask {
        task: StoredTask {
            cluster: "default".into(),
            id: id.into(),
            arn: format!("arn:aws:ecs:us-east-1:0:task/default/{id}"),
            instance_id: Some("i".into()),
            last_status: "PROVISIONING".into(),
            desired_status: "RUNNING".into(),
            json: "{}".into(),
        },
        family: "f".into(),
        started_by: None,
        service: None,
        reservation: Reservation::default(),
        tags: vec![("k".into(), "v".into())],
    }
}

#[tokio::test]
async fn tasks_stopped_over_an_hour_ago_are_forgotten() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("db")).unwrap());
    store
        .place_tasks(
            "us-east-1",
            "default",
            None,
            Box::new(|_| Ok(vec![new_task("old"), new_task("new"), new_task("live")])),
        )
        .await
        .unwrap();
    let now = 100_000_000;
    for (id, stopped) in [("old", now - 3_600_001), ("new", now - 3_599_000)] {
        store
            .update_task(
                "us-east-1",
                "default",
                id,
                Box::new(move |_| {
                    Ok(Some(TaskUpdate {
                        last_status: "STOPPED".into(),
                        desired_status: "STOPPED".into(),
                        json: "{}".into(),
                        stopped_ms: Some(stopped),
                    }))
                }),
            )
            .await
            .unwrap();
    }
    assert_eq!(store.purge_stopped_tasks(stopped_task_cutoff(now)).await.unwrap(), 1);
    assert!(store.get_task("us-east-1", "default", "old").await.unwrap().is_none());
    assert!(store.get_task("us-east-1", "default", "new").await.unwrap().is_some());
    assert!(store.get_task("us-east-1", "default", "live").await.unwrap().is_some());
    assert!(store
        .tags("us-east-1", "arn:aws:ecs:us-east-1:0:task/default/old")
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store.tags("us-east-1", "arn:aws:ecs:us-east-1:0:task/default/new").await.unwrap().len(),
        1
    );
}
