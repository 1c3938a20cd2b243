//! `Store::status_counts`: tasks and container instances counted by region, cluster and
//! status, as the writes leave them.

use wharf_store::{
    InstanceStatusCount, NewTask, Reservation, SqliteStore, Store, StoredInstance, StoredTask,
    TaskStatusCount, TaskUpdate,
};

fn task(cluster: &str, id: &str) -> NewTask {
    NewTask {
        task: StoredTask {
            cluster: cluster.to_owned(),
            id: id.to_owned(),
            arn: format!("arn:aws:ecs:us-east-1:000000000000:task/{cluster}/{id}"),
            instance_id: Some("i-1".to_owned()),
            last_status: "PROVISIONING".to_owned(),
            desired_status: "RUNNING".to_owned(),
            json: "{}".to_owned(),
        },
        family: "web".to_owned(),
        started_by: None,
        service: None,
        reservation: Reservation::default(),
        tags: Vec::new(),
    }
}

async fn instance(store: &SqliteStore, region: &str, cluster: &str, id: &str, status: &str) {
    let new = StoredInstance {
        cluster: cluster.to_owned(),
        id: id.to_owned(),
        status: status.to_owned(),
        json: "{}".to_owned(),
    };
    store
        .update_instance(region, cluster, id, Box::new(move |_| Ok(Some(new.clone()))))
        .await
        .unwrap();
}

async fn set_status(store: &SqliteStore, cluster: &str, id: &str, last: &str, desired: &str) {
    let update = TaskUpdate {
        last_status: last.to_owned(),
        desired_status: desired.to_owned(),
        json: "{}".to_owned(),
        stopped_ms: None,
    };
    let changed = store
        .update_task("us-east-1", cluster, id, Box::new(move |_| Ok(Some(update.clone()))))
        .await;
    assert!(changed.unwrap().is_some());
}

fn tasks(region: &str, cluster: &str, last: &str, desired: &str, count: i64) -> TaskStatusCount {
    TaskStatusCount {
        region: region.to_owned(),
        cluster: cluster.to_owned(),
        last_status: last.to_owned(),
        desired_status: desired.to_owned(),
        count,
    }
}

#[tokio::test]
async fn tasks_and_instances_are_counted_by_cluster_and_status() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("wharf.db")).unwrap();
    assert_eq!(store.status_counts().await.unwrap(), Default::default());

    instance(&store, "us-east-1", "a", "i-1", "ACTIVE").await;
    instance(&store, "us-east-1", "a", "i-2", "ACTIVE").await;
    instance(&store, "us-east-1", "b", "i-3", "DRAINING").await;
    instance(&store, "eu-west-1", "a", "i-4", "ACTIVE").await;
    let placed = |cluster: &'static str, ids: &'static [&'static str]| {
        let tasks: Vec<NewTask> = ids.iter().map(|id| task(cluster, id)).collect();
        Box::new(move |_| Ok(tasks.clone())) as wharf_store::PlaceTasks
    };
    store
        .place_tasks("us-east-1", "a", None, placed("a", &["t1", "t2", "t3", "t4"]))
        .await
        .unwrap();
    store.place_tasks("us-east-1", "b", None, placed("b", &["t5"])).await.unwrap();
    store.place_tasks("eu-west-1", "a", None, placed("a", &["t6"])).await.unwrap();
    set_status(&store, "a", "t1", "RUNNING", "RUNNING").await;
    set_status(&store, "a", "t2", "RUNNING", "RUNNING").await;
    set_status(&store, "a", "t3", "RUNNING", "STOPPED").await;

    let counts = store.status_counts().await.unwrap();
    assert_eq!(
        counts.tasks,
        vec![
            tasks("eu-west-1", "a", "PROVISIONING", "RUNNING", 1),
            tasks("us-east-1", "a", "PROVISIONING", "RUNNING", 1),
            tasks("us-east-1", "a", "RUNNING", "RUNNING", 2),
            tasks("us-east-1", "a", "RUNNING", "STOPPED", 1),
            tasks("us-east-1", "b", "PROVISIONING", "RUNNING", 1),
        ]
    );
    let instances = |region: &str, cluster: &str, status: &str, count| InstanceStatusCount {
        region: region.to_owned(),
        cluster: cluster.to_owned(),
        status: status.to_owned(),
        count,
    };
    assert_eq!(
        counts.instances,
        vec![
            instances("eu-west-1", "a", "ACTIVE", 1),
            instances("us-east-1", "a", "ACTIVE", 2),
            instances("us-east-1", "b", "DRAINING", 1),
        ]
    );
}
