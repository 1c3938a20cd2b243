//! `Store::status_counts`: tasks and container instances counted by region, cluster and
//! status, as the writes leave them.

use wharf_model::ecs::launch::{Launch, Placement};
use wharf_store::{
    InstanceStatusCount, SqliteStore, Store, StoredInstance, TaskStatusCount, TaskUpdate,
};

/// `count` tasks of family `web` placed in `cluster`; their IDs.
async fn launch(store: &SqliteStore, region: &str, cluster: &str, count: usize) -> Vec<String> {
    let launch = Launch::minimal(region, cluster, "web", count, vec![]);
    match store.launch_tasks(region, launch).await.unwrap() {
        Placement::Placed { tasks, failures } => {
            assert!(failures.is_empty(), "{failures:?}");
            tasks.into_iter().map(|t| t.id).collect()
        }
        Placement::NoContainerInstances => panic!("no instance in {cluster}"),
    }
}

async fn instance(store: &SqliteStore, region: &str, cluster: &str, id: &str, status: &str) {
    let json = serde_json::json!({
        "containerInstanceArn":
            format!("arn:aws:ecs:{region}:000000000000:container-instance/{cluster}/{id}"),
        "status": status,
        "agentConnected": true,
        "registeredResources": [
            {"name": "CPU", "integerValue": 4096}, {"name": "MEMORY", "integerValue": 8192}]
    });
    let new = StoredInstance {
        cluster: cluster.to_owned(),
        id: id.to_owned(),
        status: status.parse().unwrap(),
        json: json.to_string(),
    };
    store.update_instance(region, cluster, id, Box::new(move |_| Ok(Some(new)))).await.unwrap();
}

async fn set_status(store: &SqliteStore, cluster: &str, id: &str, last: &str, desired: &str) {
    let update = TaskUpdate {
        last_status: last.parse().unwrap(),
        desired_status: desired.into(),
        json: "{}".to_owned(),
        stopped_ms: None,
    };
    let changed =
        store.update_task("us-east-1", cluster, id, Box::new(move |_| Ok(Some(update)))).await;
    assert!(changed.unwrap().is_some());
}

fn tasks(region: &str, cluster: &str, last: &str, desired: &str, count: i64) -> TaskStatusCount {
    TaskStatusCount {
        region: region.to_owned(),
        cluster: cluster.to_owned(),
        last_status: last.parse().unwrap(),
        desired_status: desired.into(),
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
    instance(&store, "us-east-1", "b", "i-3", "ACTIVE").await;
    instance(&store, "eu-west-1", "a", "i-4", "ACTIVE").await;
    let a = launch(&store, "us-east-1", "a", 4).await;
    launch(&store, "us-east-1", "b", 1).await;
    launch(&store, "eu-west-1", "a", 1).await;
    instance(&store, "us-east-1", "b", "i-3", "DRAINING").await;
    set_status(&store, "a", &a[0], "RUNNING", "RUNNING").await;
    set_status(&store, "a", &a[1], "RUNNING", "RUNNING").await;
    set_status(&store, "a", &a[2], "RUNNING", "STOPPED").await;

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
        status: status.parse().unwrap(),
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
