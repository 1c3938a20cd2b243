//! The store forgets exactly the tasks that stopped before the cutoff, and
//! their tags.

use std::sync::Arc;

use wharf_control::cleanup::stopped_task_cutoff;
use wharf_model::ecs::launch::{Launch, Placement};
use wharf_model::ecs::shapes::Tag;
use wharf_model::ecs::status::InstanceStatus;
use wharf_store::{SqliteStore, Store, StoredInstance, TaskUpdate};

/// An instance with room for the tasks, and three tasks on it tagged `k=v`;
/// their IDs.
async fn three_tasks(store: &dyn Store) -> Vec<String> {
    let instance = serde_json::json!({
        "containerInstanceArn": "arn:aws:ecs:us-east-1:000000000000:container-instance/default/i",
        "status": "ACTIVE",
        "agentConnected": true,
        "registeredResources": [
            {"name": "CPU", "integerValue": 4096}, {"name": "MEMORY", "integerValue": 8192}]
    });
    let row = StoredInstance {
        cluster: "default".into(),
        id: "i".into(),
        status: InstanceStatus::Active,
        json: instance.to_string(),
    };
    store
        .update_instance("us-east-1", "default", "i", Box::new(move |_| Ok(Some(row.clone()))))
        .await
        .unwrap();
    let tag = Tag { key: Some("k".into()), value: Some("v".into()) };
    let launch = Launch::minimal("us-east-1", "default", "f", 3, vec![tag]);
    match store.launch_tasks("us-east-1", launch).await.unwrap() {
        Placement::Placed { tasks, .. } => tasks.into_iter().map(|t| t.id).collect(),
        Placement::NoContainerInstances => panic!("the instance is registered"),
    }
}

#[tokio::test]
async fn tasks_stopped_over_an_hour_ago_are_forgotten() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("db")).unwrap());
    let ids = three_tasks(&*store).await;
    let (old, new, live) = (ids[0].clone(), ids[1].clone(), ids[2].clone());
    let now = 100_000_000;
    for (id, stopped) in [(&old, now - 3_600_001), (&new, now - 3_599_000)] {
        store
            .update_task(
                "us-east-1",
                "default",
                id,
                Box::new(move |_| {
                    Ok(Some(TaskUpdate {
                        last_status: "STOPPED".parse().unwrap(),
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
    assert!(store.get_task("us-east-1", "default", &old).await.unwrap().is_none());
    assert!(store.get_task("us-east-1", "default", &new).await.unwrap().is_some());
    assert!(store.get_task("us-east-1", "default", &live).await.unwrap().is_some());
    let arn = |id: &str| format!("arn:aws:ecs:us-east-1:000000000000:task/default/{id}");
    assert!(store.tags("us-east-1", &arn(&old)).await.unwrap().is_empty());
    assert_eq!(store.tags("us-east-1", &arn(&new)).await.unwrap().len(), 1);
}
