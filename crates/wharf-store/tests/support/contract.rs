//! What every [`Store`] guarantees, as functions over `Arc<dyn Store>`: the
//! SQLite tests run each on a fresh database, the etcd tests on a fresh key
//! prefix of one cluster.

use std::sync::{Arc, Mutex};

use wharf_model::ecs::capacity;
use wharf_model::ecs::launch::{Launch, Placement};
use wharf_model::ecs::placement::query::Expression;
use wharf_model::ecs::placement::MEMBER_OF_UNSATISFIED;
use wharf_model::ecs::resolved::ResolvedTask;
use wharf_model::ecs::shapes::{LaunchType, Tag, TaskDefinition, TaskDefinitionStatus};
use wharf_model::EcsError;
use wharf_store::elb::{ElbKind, ElbRow, TargetRow};
use wharf_store::{
    FamilyQuery, InstanceStatusCount, Kind, NewTaskDefinition, Store, StoreError, StoredInstance,
    TaskDefinitionQuery, TaskQuery, TaskStatusCount, TaskUpdate, Write,
};

/// Registers a revision of `family` in us-east-1; its number.
pub async fn register(store: &dyn Store, family: &str) -> Result<i32, StoreError> {
    let family_owned = family.to_owned();
    let new = store
        .register_task_definition(
            "us-east-1",
            family,
            Box::new(move |rev| {
                Ok(NewTaskDefinition {
                    arn: format!("arn:td/{family_owned}:{rev}"),
                    status: "ACTIVE".into(),
                    json: format!(r#"{{"family":"{family_owned}","revision":{rev}}}"#),
                    tags: vec![("k".into(), rev.to_string())],
                })
            }),
        )
        .await?;
    Ok(new.arn.rsplit(':').next().and_then(|r| r.parse().ok()).unwrap_or(-1))
}

pub async fn concurrent_registrations_get_distinct_sequential_revisions(store: Arc<dyn Store>) {
    let handles: Vec<_> = (0..200)
        .map(|_| {
            let s = store.clone();
            tokio::spawn(async move { register(&*s, "web").await.unwrap() })
        })
        .collect();
    let mut revs = Vec::new();
    for h in handles {
        revs.push(h.await.unwrap());
    }
    revs.sort_unstable();
    assert_eq!(revs, (1..=200).collect::<Vec<_>>());
    let latest = store.get_task_definition("us-east-1", "web", None).await.unwrap().unwrap();
    assert_eq!(latest.revision, 200);
    let tags = store.tags("us-east-1", "arn:td/web:17").await.unwrap();
    assert_eq!(tags, vec![("k".to_owned(), "17".to_owned())]);
}

pub async fn a_refused_write_does_not_disturb_the_rest_of_its_group(store: Arc<dyn Store>) {
    let handles: Vec<_> = (0..100)
        .map(|i| {
            let s = store.clone();
            tokio::spawn(async move {
                s.update(
                    Kind::Cluster,
                    "us-east-1",
                    &format!("c{i:03}"),
                    Box::new(move |_| {
                        if i % 3 == 0 {
                            Err(EcsError::client("refused"))
                        } else {
                            Ok(Write::Put(format!("{{\"n\":{i}}}")))
                        }
                    }),
                )
                .await
            })
        })
        .collect();
    for (i, h) in handles.into_iter().enumerate() {
        let r = h.await.unwrap();
        if i % 3 == 0 {
            assert!(matches!(r, Err(StoreError::Rejected(_))), "write {i} should be refused");
        } else {
            assert_eq!(r.unwrap(), Some(format!("{{\"n\":{i}}}")));
        }
    }
    let all = store.list(Kind::Cluster, "us-east-1", None, 1000).await.unwrap();
    assert_eq!(all.len(), 66);
    assert!(all.iter().all(|(k, _)| k[1..].parse::<u32>().unwrap() % 3 != 0));
    let page = store.list(Kind::Cluster, "us-east-1", Some("c050"), 2).await.unwrap();
    assert_eq!(page.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(), ["c052", "c053"]);
    assert_eq!(store.regions(Kind::Cluster).await.unwrap(), ["us-east-1"]);
}

pub async fn documents_are_read_decided_and_written_atomically(store: Arc<dyn Store>) {
    // Concurrent read-modify-writes of one document lose nothing.
    let handles: Vec<_> = (0..50)
        .map(|_| {
            let s = store.clone();
            tokio::spawn(async move {
                s.update(
                    Kind::Service,
                    "us-east-1",
                    "default/web",
                    Box::new(|cur| {
                        let n: u64 = cur.map_or(0, |c| c.parse().unwrap());
                        Ok(Write::Put((n + 1).to_string()))
                    }),
                )
                .await
                .unwrap()
            })
        })
        .collect();
    for h in handles {
        h.await.unwrap();
    }
    let n = store.get(Kind::Service, "us-east-1", "default/web").await.unwrap();
    assert_eq!(n.as_deref(), Some("50"));
    let kept = store
        .update(Kind::Service, "us-east-1", "default/web", Box::new(|_| Ok(Write::Keep)))
        .await
        .unwrap();
    assert_eq!(kept.as_deref(), Some("50"));
    let gone = store
        .update(Kind::Service, "us-east-1", "default/web", Box::new(|_| Ok(Write::Delete)))
        .await
        .unwrap();
    assert_eq!(gone, None);
    assert_eq!(store.get(Kind::Service, "us-east-1", "default/web").await.unwrap(), None);
    // Keys with slashes (SSM parameter names) are kept as given.
    store
        .update(
            Kind::Parameter,
            "eu-west-1",
            "/app/db/host",
            Box::new(|_| Ok(Write::Put("1".into()))),
        )
        .await
        .unwrap();
    let listed = store.list(Kind::Parameter, "eu-west-1", None, 10).await.unwrap();
    assert_eq!(listed, vec![("/app/db/host".to_owned(), "1".to_owned())]);
}

pub async fn state_is_kept_per_region(store: Arc<dyn Store>) {
    register(&*store, "web").await.unwrap();
    assert!(store.get_task_definition("eu-west-1", "web", None).await.unwrap().is_none());
    let q = FamilyQuery { limit: 10, ..FamilyQuery::default() };
    assert!(store.list_task_definition_families("eu-west-1", q.clone()).await.unwrap().is_empty());
    assert_eq!(store.list_task_definition_families("us-east-1", q).await.unwrap(), vec!["web"]);
}

pub async fn listings_page_in_both_directions_and_filter_by_status(store: Arc<dyn Store>) {
    for f in ["a", "b", "c", "b-x"] {
        for _ in 0..3 {
            register(&*store, f).await.unwrap();
        }
    }
    store
        .update_task_definition(
            "us-east-1",
            "b",
            2,
            Box::new(|cur| Ok(Some(("INACTIVE".into(), cur.json.clone())))),
        )
        .await
        .unwrap();
    let page = |after, descending, status: Option<&str>| TaskDefinitionQuery {
        family: None,
        status: status.map(Into::into),
        descending,
        after,
        limit: 4,
    };
    let first =
        store.list_task_definitions("us-east-1", page(None, false, Some("ACTIVE"))).await.unwrap();
    assert_eq!(first, vec![("a".into(), 1), ("a".into(), 2), ("a".into(), 3), ("b".into(), 1)]);
    let second = store
        .list_task_definitions("us-east-1", page(Some(("b".into(), 1)), false, Some("ACTIVE")))
        .await
        .unwrap();
    assert_eq!(
        second,
        vec![("b".into(), 3), ("b-x".into(), 1), ("b-x".into(), 2), ("b-x".into(), 3)]
    );
    let desc = store.list_task_definitions("us-east-1", page(None, true, None)).await.unwrap();
    assert_eq!(desc, vec![("c".into(), 3), ("c".into(), 2), ("c".into(), 1), ("b-x".into(), 3)]);
    let inactive = store
        .list_task_definitions("us-east-1", page(None, false, Some("INACTIVE")))
        .await
        .unwrap();
    assert_eq!(inactive, vec![("b".into(), 2)]);
    let one = TaskDefinitionQuery { family: Some("b".into()), limit: 10, ..Default::default() };
    let revs = store.list_task_definitions("us-east-1", one).await.unwrap();
    assert_eq!(revs, vec![("b".into(), 1), ("b".into(), 2), ("b".into(), 3)]);

    let fams = |status: Option<&str>, prefix: Option<&str>| FamilyQuery {
        prefix: prefix.map(str::to_owned),
        status: status.map(Into::into),
        after: None,
        limit: 10,
    };
    assert_eq!(
        store.list_task_definition_families("us-east-1", fams(Some("ACTIVE"), None)).await.unwrap(),
        vec!["a", "b", "b-x", "c"]
    );
    assert_eq!(
        store.list_task_definition_families("us-east-1", fams(None, Some("b"))).await.unwrap(),
        vec!["b", "b-x"]
    );
}

pub async fn reset_wipes_everything_and_numbering_restarts(store: Arc<dyn Store>) {
    register(&*store, "web").await.unwrap();
    store
        .update(Kind::Cluster, "us-east-1", "c", Box::new(|_| Ok(Write::Put("{}".into()))))
        .await
        .unwrap();
    store.reset().await.unwrap();
    assert!(store.get(Kind::Cluster, "us-east-1", "c").await.unwrap().is_none());
    assert!(store.get_task_definition("us-east-1", "web", Some(1)).await.unwrap().is_none());
    assert_eq!(register(&*store, "web").await.unwrap(), 1);
}

pub async fn tag_limit_is_enforced_atomically(store: Arc<dyn Store>) {
    let tags =
        |n: usize, p: &str| (0..n).map(|i| (format!("{p}{i}"), String::new())).collect::<Vec<_>>();
    store.tag("us-east-1", "arn:r", tags(40, "a"), 50).await.unwrap();
    let over = store.tag("us-east-1", "arn:r", tags(11, "b"), 50).await;
    assert!(matches!(over, Err(StoreError::Rejected(_))));
    assert_eq!(store.tags("us-east-1", "arn:r").await.unwrap().len(), 40, "nothing half-written");
    store.untag("us-east-1", "arn:r", vec!["a0".into(), "a1".into()]).await.unwrap();
    assert_eq!(store.tags("us-east-1", "arn:r").await.unwrap().len(), 38);
}

pub async fn purged_revisions_go_with_their_tags_and_their_numbers_stay_taken(
    store: Arc<dyn Store>,
) {
    for _ in 0..3 {
        register(&*store, "web").await.unwrap();
    }
    let mark = |status: TaskDefinitionStatus| {
        Box::new(move |cur: &wharf_store::StoredTaskDefinition| {
            Ok(Some((status.clone(), cur.json.clone())))
        }) as wharf_store::DecideRevision
    };
    // Only a revision in DELETE_IN_PROGRESS is purged.
    assert!(!store.purge_task_definition("us-east-1", "web", 3, "arn:td/web:3").await.unwrap());
    for rev in [2, 3] {
        store
            .update_task_definition(
                "us-east-1",
                "web",
                rev,
                mark(TaskDefinitionStatus::DeleteInProgress),
            )
            .await
            .unwrap();
    }
    let deleting = store.task_definitions_in_deletion().await.unwrap();
    let found: Vec<(String, i32)> = deleting.iter().map(|(r, t)| (r.clone(), t.revision)).collect();
    assert_eq!(found, [("us-east-1".to_owned(), 2), ("us-east-1".to_owned(), 3)]);
    assert!(store.purge_task_definition("us-east-1", "web", 3, "arn:td/web:3").await.unwrap());
    assert!(!store.purge_task_definition("us-east-1", "web", 3, "arn:td/web:3").await.unwrap());
    assert!(store.get_task_definition("us-east-1", "web", Some(3)).await.unwrap().is_none());
    assert!(store.tags("us-east-1", "arn:td/web:3").await.unwrap().is_empty());
    assert_eq!(store.tags("us-east-1", "arn:td/web:2").await.unwrap().len(), 1);
    assert_eq!(store.task_definitions_in_deletion().await.unwrap().len(), 1);
    // The highest number was purged; it is not given again.
    assert_eq!(register(&*store, "web").await.unwrap(), 4);
    assert!(store.purge_task_definition("us-east-1", "web", 2, "arn:td/web:2").await.unwrap());
    let left = store
        .list_task_definitions(
            "us-east-1",
            TaskDefinitionQuery { limit: 10, ..TaskDefinitionQuery::default() },
        )
        .await
        .unwrap();
    assert_eq!(left, [("web".to_owned(), 1), ("web".to_owned(), 4)]);
}

pub async fn reads_follow_every_write(store: Arc<dyn Store>) {
    register(&*store, "web").await.unwrap();
    register(&*store, "web").await.unwrap();
    let latest = store.get_task_definition("us-east-1", "web", None).await.unwrap().unwrap();
    assert_eq!(latest.revision, 2);
    assert_eq!(
        store.get_task_definition("us-east-1", "web", Some(2)).await.unwrap().unwrap().status,
        TaskDefinitionStatus::Active
    );
    store
        .update_task_definition(
            "us-east-1",
            "web",
            2,
            Box::new(|c| Ok(Some(("INACTIVE".into(), c.json.clone())))),
        )
        .await
        .unwrap();
    assert_eq!(
        store.get_task_definition("us-east-1", "web", None).await.unwrap().unwrap().revision,
        1
    );
    assert_eq!(
        store.get_task_definition("us-east-1", "web", Some(2)).await.unwrap().unwrap().status,
        TaskDefinitionStatus::Inactive
    );
    register(&*store, "web").await.unwrap();
    assert_eq!(
        store.get_task_definition("us-east-1", "web", None).await.unwrap().unwrap().revision,
        3
    );
    store.reset().await.unwrap();
    assert!(store.get_task_definition("us-east-1", "web", Some(1)).await.unwrap().is_none());
}

fn row(kind: ElbKind, arn: &str, parent: &str, sort: &str) -> ElbRow {
    ElbRow { kind, arn: arn.into(), parent: parent.into(), sort: sort.into(), body: "{}".into() }
}

pub async fn elb_writes_are_atomic_and_deletes_take_dependents(store: Arc<dyn Store>) {
    let mut changes = store.elb_changes();
    store
        .elb_write(
            "r",
            Box::new(|tx| {
                tx.put(&row(ElbKind::LoadBalancer, "lb", "", "web"))?;
                tx.put(&row(ElbKind::Listener, "l80", "lb", "00080"))?;
                tx.put(&row(ElbKind::Listener, "l8080", "lb", "08080"))?;
                tx.put(&row(ElbKind::TargetGroup, "tg", "", "web"))?;
                tx.set_uses("l80", "lb", &["tg".to_owned()])?;
                tx.put_target(
                    "tg",
                    &TargetRow { id: "10.0.0.1".into(), port: 80, body: "{}".into() },
                )?;
                tx.put_tags("tg", &[("k".into(), "v".into())])
            }),
        )
        .await
        .unwrap();
    assert_eq!(changes.recv().await.unwrap(), "r");
    assert_eq!(store.elb_regions().await.unwrap(), ["r"]);
    // A refused write leaves nothing behind.
    let refused = store
        .elb_write(
            "r",
            Box::new(|tx| {
                tx.put(&row(ElbKind::LoadBalancer, "lb2", "", "other"))?;
                Err(StoreError::Rejected(EcsError::client("no")))
            }),
        )
        .await;
    assert!(refused.is_err());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let out = Arc::clone(&seen);
    store
        .elb_read(
            "r",
            Box::new(move |v| {
                let mut o = out.lock().unwrap();
                o.push(v.get("lb2")?.is_none().to_string());
                for l in v.list(ElbKind::Listener, "lb", None, 10)? {
                    o.push(l.arn);
                }
                o.push(v.uses_of("tg")?.len().to_string());
                o.push(v.targets("tg")?.len().to_string());
                o.push(v.find(ElbKind::TargetGroup, "", "web")?.map(|r| r.arn).unwrap_or_default());
                Ok(())
            }),
        )
        .await
        .unwrap();
    assert_eq!(*seen.lock().unwrap(), ["true", "l80", "l8080", "1", "1", "tg"]);
    store
        .elb_write(
            "r",
            Box::new(|tx| {
                tx.delete("l80")?;
                tx.delete("tg")
            }),
        )
        .await
        .unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let out = Arc::clone(&seen);
    store
        .elb_read(
            "r",
            Box::new(move |v| {
                let mut o = out.lock().unwrap();
                o.push(v.uses_in("lb")?.len());
                o.push(v.targets("tg")?.len());
                o.push(v.tags("tg")?.len());
                o.push(v.count(ElbKind::Listener, "lb")?);
                Ok(())
            }),
        )
        .await
        .unwrap();
    assert_eq!(*seen.lock().unwrap(), [0, 0, 0, 1]);
}

/// A launch of `count` tasks of `web` (200 CPU units, 400 MiB each) in
/// `cluster`, in group `service:web`, started by `me`, tagged `t=web`.
fn launch(region: &str, cluster: &str, count: usize) -> Launch {
    let mut l = Launch::minimal(
        region,
        cluster,
        "web",
        count,
        vec![Tag { key: Some("t".into()), value: Some("web".into()) }],
    );
    let td: TaskDefinition = serde_json::from_value(serde_json::json!({
        "family": "web", "revision": 1, "compatibilities": ["EC2"],
        "containerDefinitions": [{"name": "app", "image": "busybox", "cpu": 200, "memory": 400}]
    }))
    .unwrap();
    l.template.resolved = ResolvedTask::new(&td, None);
    l.template.group = "service:web".into();
    l.template.started_by = Some("me".into());
    l
}

/// The tasks a launch placed (their IDs); none when nothing fit.
async fn launched(store: &dyn Store, region: &str, cluster: &str, count: usize) -> Vec<String> {
    match store.launch_tasks(region, launch(region, cluster, count)).await.unwrap() {
        Placement::Placed { tasks, .. } => tasks.into_iter().map(|t| t.id).collect(),
        Placement::NoContainerInstances => panic!("no instance in {cluster}"),
    }
}

/// Registers instance `id` (1,000 CPU units, 2,000 MiB, its agent connected).
async fn instance(store: &dyn Store, region: &str, cluster: &str, id: &str, status: &str) {
    instance_with(store, region, cluster, id, status, serde_json::json!([])).await;
}

/// Registers instance `id` with `attributes` (1,000 CPU units, 2,000 MiB).
async fn instance_with(
    store: &dyn Store,
    region: &str,
    cluster: &str,
    id: &str,
    status: &str,
    attributes: serde_json::Value,
) {
    let json = serde_json::json!({
        "attributes": attributes,
        "containerInstanceArn":
            format!("arn:aws:ecs:{region}:000000000000:container-instance/{cluster}/{id}"),
        "status": status,
        "agentConnected": true,
        "registeredResources": [
            {"name": "CPU", "integerValue": 1000}, {"name": "MEMORY", "integerValue": 2000}]
    });
    let new = StoredInstance {
        cluster: cluster.to_owned(),
        id: id.to_owned(),
        status: status.parse().unwrap(),
        json: json.to_string(),
    };
    store
        .update_instance(region, cluster, id, Box::new(move |_| Ok(Some(new.clone()))))
        .await
        .unwrap();
}

async fn set_status(store: &dyn Store, cluster: &str, id: &str, last: &str, desired: &str) {
    let update = TaskUpdate {
        last_status: last.parse().unwrap(),
        desired_status: desired.into(),
        json: "{}".to_owned(),
        stopped_ms: (last == "STOPPED").then_some(1_000),
    };
    let changed = store
        .update_task("us-east-1", cluster, id, Box::new(move |_| Ok(Some(update.clone()))))
        .await;
    assert!(changed.unwrap().is_some());
}

/// Placement sees what each instance holds; no two placements take the
/// same resources; STOPPED frees them.
pub async fn placement_holds_resources_until_stopped(store: Arc<dyn Store>) {
    instance(&*store, "us-east-1", "a", "i-1", "ACTIVE").await;
    instance(&*store, "us-east-1", "a", "i-2", "ACTIVE").await;
    let mut changes = store.task_changes();
    // 20 concurrent launches of one task each (200 CPU units) on two
    // instances of 1,000: 10 fit, 5 on each (spread).
    let handles: Vec<_> = (0..20)
        .map(|_| {
            let s = store.clone();
            tokio::spawn(
                async move { s.launch_tasks("us-east-1", launch("us-east-1", "a", 1)).await },
            )
        })
        .collect();
    let mut placed = 0;
    for h in handles {
        match h.await.unwrap() {
            Ok(Placement::Placed { tasks, .. }) => placed += tasks.len(),
            Ok(Placement::NoContainerInstances) => panic!("the instances were not seen"),
            Err(e) => panic!("placement failed: {e}"),
        }
    }
    assert_eq!(placed, 10);
    let first = changes.recv().await.unwrap();
    assert_eq!((first.region.as_str(), first.cluster.as_str()), ("us-east-1", "a"));
    let usage = store.instances("us-east-1", "a", None).await.unwrap();
    assert_eq!(usage.len(), 2);
    for u in &usage {
        assert_eq!((u.cpu, u.memory, u.pending_tasks, u.running_tasks), (1000, 2000, 5, 0));
        assert!(u.ports.is_empty());
        assert_eq!(u.task_groups.count("service:web"), 5);
        assert_eq!(u.task_groups.total(), 5);
    }
    let on_1 = store.unstopped_tasks_on("us-east-1", "a", "i-1").await.unwrap();
    assert_eq!(on_1.len(), 5);
    let t = on_1[0].clone();
    set_status(&*store, "a", &t.id, "RUNNING", "RUNNING").await;
    let u = &store.instances("us-east-1", "a", Some(vec!["i-1".into()])).await.unwrap()[0];
    assert_eq!((u.cpu, u.pending_tasks, u.running_tasks), (1000, 4, 1));
    assert_eq!(store.task_counts("us-east-1", "a").await.unwrap(), (1, 9));
    set_status(&*store, "a", &t.id, "STOPPED", "STOPPED").await;
    let u = &store.instances("us-east-1", "a", Some(vec!["i-1".into()])).await.unwrap()[0];
    assert_eq!((u.cpu, u.memory, u.pending_tasks, u.running_tasks), (800, 1600, 4, 0));
    assert_eq!(store.unstopped_tasks_on("us-east-1", "a", "i-1").await.unwrap().len(), 4);
    let got = store.get_task("us-east-1", "a", &t.id).await.unwrap().unwrap();
    assert_eq!((got.last_status.as_str(), got.desired_status.as_str()), ("STOPPED", "STOPPED"));
    assert_eq!(store.tags("us-east-1", &t.arn).await.unwrap(), vec![("t".into(), "web".into())]);

    let query = |desired: Option<&str>, after: Option<String>| TaskQuery {
        cluster: "a".into(),
        desired_status: desired.map(Into::into),
        after,
        limit: 3,
        ..Default::default()
    };
    let page = store.list_tasks("us-east-1", query(Some("RUNNING"), None)).await.unwrap();
    assert_eq!(page.len(), 3);
    assert!(page.windows(2).all(|w| w[0].id < w[1].id));
    let rest = store
        .list_tasks("us-east-1", query(Some("RUNNING"), Some(page[2].id.clone())))
        .await
        .unwrap();
    assert!(rest.iter().all(|r| r.id > page[2].id && r.id != t.id));
    let by_me = TaskQuery {
        cluster: "a".into(),
        started_by: Some("me".into()),
        instance_id: Some("i-2".into()),
        limit: 100,
        ..Default::default()
    };
    assert_eq!(store.list_tasks("us-east-1", by_me).await.unwrap().len(), 5);

    // Stopped an hour ago: purged with its tags; the others stay.
    assert_eq!(store.purge_stopped_tasks(500).await.unwrap(), 0);
    assert_eq!(store.purge_stopped_tasks(2_000).await.unwrap(), 1);
    assert!(store.get_task("us-east-1", "a", &t.id).await.unwrap().is_none());
    assert!(store.tags("us-east-1", &t.arn).await.unwrap().is_empty());
    assert_eq!(store.task_counts("us-east-1", "a").await.unwrap(), (0, 9));
}

/// Each launch places on the instances as the writes before it left them:
/// tasks stopped free their room, new instances take tasks at once, and a
/// draining instance takes none (whatever a store keeps to place faster).
pub async fn placement_sees_every_change_to_the_instances(store: Arc<dyn Store>) {
    let on = |placed: &[String], store: Arc<dyn Store>| {
        let placed = placed.to_vec();
        async move {
            let mut hosts = Vec::new();
            for id in placed {
                let t = store.get_task("us-east-1", "p", &id).await.unwrap().unwrap();
                hosts.push(t.instance_id.unwrap());
            }
            hosts
        }
    };
    instance(&*store, "us-east-1", "p", "i-1", "ACTIVE").await;
    // 1,000 CPU units hold five tasks of 200.
    let first = launched(&*store, "us-east-1", "p", 5).await;
    assert_eq!(first.len(), 5);
    assert!(launched(&*store, "us-east-1", "p", 1).await.is_empty(), "i-1 is full");
    set_status(&*store, "p", &first[0], "RUNNING", "RUNNING").await;
    assert!(launched(&*store, "us-east-1", "p", 1).await.is_empty(), "RUNNING still holds");
    running_tasks_are_counted(store.clone()).await;
    set_status(&*store, "p", &first[0], "STOPPED", "STOPPED").await;
    let again = launched(&*store, "us-east-1", "p", 2).await;
    assert_eq!(again.len(), 1, "the stopped task's room, and no more");
    assert_eq!(on(&again, store.clone()).await, ["i-1"]);

    instance(&*store, "us-east-1", "p", "i-0", "ACTIVE").await;
    let new_host = launched(&*store, "us-east-1", "p", 3).await;
    assert_eq!(on(&new_host, store.clone()).await, ["i-0"; 3], "the new instance takes them");

    instance(&*store, "us-east-1", "p", "i-0", "DRAINING").await;
    assert!(launched(&*store, "us-east-1", "p", 1).await.is_empty(), "i-0 drains, i-1 is full");
    // A refused write leaves placement as it was.
    let refused = store
        .update_task(
            "us-east-1",
            "p",
            &new_host[0],
            Box::new(|_| Err(EcsError::invalid_parameter("refused"))),
        )
        .await;
    assert!(refused.is_err());
    instance(&*store, "us-east-1", "p", "i-0", "ACTIVE").await;
    let last = launched(&*store, "us-east-1", "p", 3).await;
    assert_eq!(on(&last, store.clone()).await, ["i-0"; 2], "i-0 had room for two more");
    let usage = store.instances("us-east-1", "p", None).await.unwrap();
    let held: Vec<_> = usage.iter().map(|u| (u.instance.id.as_str(), u.cpu)).collect();
    assert_eq!(held, [("i-0", 1000), ("i-1", 1000)]);
}

/// Placement sees a task RUNNING (`runningTasksCount`) once it is, though
/// nothing it holds moved: on a cluster placement has read, an instance with
/// one running task is refused by `runningTasksCount == 0` and taken by
/// `runningTasksCount == 1`.
async fn running_tasks_are_counted(store: Arc<dyn Store>) {
    instance(&*store, "us-east-1", "r", "i-1", "ACTIVE").await;
    let first = launched(&*store, "us-east-1", "r", 1).await;
    set_status(&*store, "r", &first[0], "RUNNING", "RUNNING").await;
    let launch_where = |running: i64| {
        let mut l = launch("us-east-1", "r", 1);
        let e = format!("runningTasksCount == {running}");
        l.rules.member_of = vec![Expression::parse(&e).unwrap()];
        l
    };
    match store.launch_tasks("us-east-1", launch_where(0)).await.unwrap() {
        Placement::Placed { tasks, failures } => {
            assert!(tasks.is_empty(), "i-1 runs a task");
            assert_eq!(failures[0].reason.as_deref(), Some(MEMBER_OF_UNSATISFIED));
        }
        Placement::NoContainerInstances => panic!("i-1 was not seen"),
    }
    let on_one = store.launch_tasks("us-east-1", launch_where(1)).await.unwrap();
    assert!(matches!(on_one, Placement::Placed { tasks, .. } if tasks.len() == 1));
}

/// The next instance change, within 5 s.
async fn next_change(changes: &mut wharf_store::InstanceFeed) -> Arc<wharf_store::InstanceChanged> {
    let got = tokio::time::timeout(std::time::Duration::from_secs(5), changes.recv()).await;
    got.expect("an instance change within 5 s").unwrap()
}

/// Every change of an instance's status is heard once, after its commit;
/// a write that keeps the status (a heartbeat, new attributes) is not.
pub async fn an_instances_status_change_is_announced_once(store: Arc<dyn Store>) {
    let mut changes = store.instance_changes();
    let status_of = |c: Arc<wharf_store::InstanceChanged>| {
        (c.region.clone(), c.cluster.clone(), c.id.clone(), c.status.map(|s| s.to_string()))
    };
    instance(&*store, "us-east-1", "c", "i-1", "ACTIVE").await;
    let heard = status_of(next_change(&mut changes).await);
    assert_eq!(heard, ("us-east-1".into(), "c".into(), "i-1".into(), Some("ACTIVE".into())));
    // The same status again, then a drain: only the drain is heard.
    instance(&*store, "us-east-1", "c", "i-1", "ACTIVE").await;
    instance(&*store, "us-east-1", "c", "i-1", "DRAINING").await;
    let heard = status_of(next_change(&mut changes).await);
    assert_eq!(heard.3.as_deref(), Some("DRAINING"));
    // A refused write is not heard.
    let refused = store
        .update_instance(
            "us-east-1",
            "c",
            "i-1",
            Box::new(|_| Err(EcsError::invalid_parameter("refused"))),
        )
        .await;
    assert!(refused.is_err());
    instance(&*store, "us-east-1", "c", "i-1", "ACTIVE").await;
    assert_eq!(status_of(next_change(&mut changes).await).3.as_deref(), Some("ACTIVE"));
    assert!(changes.try_recv().is_err(), "nothing more was announced");
    // The records alone, without usage, read as the usage read has them.
    instance(&*store, "us-east-1", "c", "i-0", "DRAINING").await;
    let usage = store.instances("us-east-1", "c", None).await.unwrap();
    let with_usage: Vec<StoredInstance> = usage.into_iter().map(|u| u.instance).collect();
    assert_eq!(store.instance_records("us-east-1", "c", None).await.unwrap(), with_usage);
    let some = vec!["i-1".to_owned(), "i-9".to_owned(), "i-1".to_owned()];
    let named = store.instance_records("us-east-1", "c", Some(some)).await.unwrap();
    assert_eq!(named, with_usage[1..], "i-1 once; i-9 is not there");
    // Those not ACTIVE, alone: i-0 drains, i-1 is ACTIVE again; another
    // cluster's and another region's are not read.
    instance(&*store, "us-east-1", "d", "i-2", "DRAINING").await;
    instance(&*store, "eu-west-1", "c", "i-3", "DRAINING").await;
    let not_active = store.instances_not_active("us-east-1", "c").await.unwrap();
    assert_eq!(not_active, with_usage[..1], "i-0 alone");
    instance(&*store, "us-east-1", "c", "i-0", "ACTIVE").await;
    instance(&*store, "us-east-1", "c", "i-1", "DRAINING").await;
    let not_active = store.instances_not_active("us-east-1", "c").await.unwrap();
    let ids: Vec<&str> = not_active.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(ids, ["i-1"], "a status change moves an instance in and out");
}

pub async fn tasks_and_instances_are_counted_by_cluster_and_status(store: Arc<dyn Store>) {
    assert_eq!(store.status_counts().await.unwrap(), Default::default());
    instance(&*store, "us-east-1", "a", "i-1", "ACTIVE").await;
    instance(&*store, "us-east-1", "a", "i-2", "ACTIVE").await;
    instance(&*store, "us-east-1", "b", "i-3", "ACTIVE").await;
    instance(&*store, "eu-west-1", "a", "i-4", "ACTIVE").await;
    let a = launched(&*store, "us-east-1", "a", 4).await;
    launched(&*store, "us-east-1", "b", 1).await;
    launched(&*store, "eu-west-1", "a", 1).await;
    instance(&*store, "us-east-1", "b", "i-3", "DRAINING").await;
    set_status(&*store, "a", &a[0], "RUNNING", "RUNNING").await;
    set_status(&*store, "a", &a[1], "RUNNING", "RUNNING").await;
    set_status(&*store, "a", &a[2], "RUNNING", "STOPPED").await;

    let tasks = |region: &str, cluster: &str, last: &str, desired: &str, count| TaskStatusCount {
        region: region.to_owned(),
        cluster: cluster.to_owned(),
        last_status: last.parse().unwrap(),
        desired_status: desired.into(),
        count,
    };
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

/// The Fargate pool serves every cluster: hosts registered under the pool
/// and instances of other clusters that serve it take a cluster's Fargate
/// tasks, hold their resources, and are told of them; the cluster's own
/// EC2 launches never see them.
pub async fn the_fargate_pool_serves_every_cluster(store: Arc<dyn Store>) {
    let fargate = serde_json::json!([{"name": capacity::FARGATE_ATTRIBUTE, "value": "true"}]);
    instance_with(
        &*store,
        "us-east-1",
        capacity::FARGATE_POOL,
        "pool-1",
        "ACTIVE",
        fargate.clone(),
    )
    .await;
    instance_with(&*store, "us-east-1", "b", "emb", "ACTIVE", fargate).await;
    instance(&*store, "us-east-1", "a", "plain", "ACTIVE").await;
    let mut changes = store.task_changes();
    let mut fargate_launch = launch("us-east-1", "c", 6);
    fargate_launch.template.launch_type = LaunchType::Fargate;
    let placed = match store.launch_tasks("us-east-1", fargate_launch).await.unwrap() {
        Placement::Placed { tasks, failures } => {
            assert!(failures.is_empty(), "{failures:?}");
            tasks
        }
        Placement::NoContainerInstances => panic!("the pool was not seen"),
    };
    assert_eq!(placed.len(), 6);
    let change = changes.recv().await.unwrap();
    assert_eq!(change.cluster, "c");
    assert!(matches!(change.instance_cluster.as_deref(), Some("b" | "@fargate")));
    let pool = &store.instances("us-east-1", capacity::FARGATE_POOL, None).await.unwrap()[0];
    assert_eq!((pool.cpu, pool.pending_tasks), (600, 3), "spread over the two pool hosts");
    let emb = &store.instances("us-east-1", "b", None).await.unwrap()[0];
    assert_eq!((emb.cpu, emb.pending_tasks), (600, 3));
    let plain = &store.instances("us-east-1", "a", None).await.unwrap()[0];
    assert_eq!(plain.pending_tasks, 0);
    let on_pool =
        store.unstopped_tasks_on("us-east-1", capacity::FARGATE_POOL, "pool-1").await.unwrap();
    assert_eq!(on_pool.len(), 3);
    assert!(
        on_pool
            .iter()
            .all(|t| t.cluster == "c"
                && t.instance_cluster.as_deref() == Some(capacity::FARGATE_POOL))
    );
    set_status(&*store, "c", &on_pool[0].id, "STOPPED", "STOPPED").await;
    let pool = &store.instances("us-east-1", capacity::FARGATE_POOL, None).await.unwrap()[0];
    assert_eq!((pool.cpu, pool.pending_tasks), (400, 2), "a stopped task frees its pool host");
    assert_eq!(
        store
            .unstopped_tasks_on("us-east-1", capacity::FARGATE_POOL, "pool-1")
            .await
            .unwrap()
            .len(),
        2
    );
    assert_eq!(store.task_counts("us-east-1", "c").await.unwrap(), (0, 5));
    // Another cluster's Fargate launch sees what c's tasks hold on the pool:
    // room for 3 more on pool-1 (400 of 1,000 CPU units held), 2 on emb.
    let mut other = launch("us-east-1", "d", 10);
    other.template.launch_type = LaunchType::Fargate;
    match store.launch_tasks("us-east-1", other).await.unwrap() {
        Placement::Placed { tasks, failures } => {
            assert_eq!(tasks.len(), 5, "only what the pool has left");
            assert!(!failures.is_empty());
        }
        Placement::NoContainerInstances => panic!("the pool was not seen"),
    }
    let pool = &store.instances("us-east-1", capacity::FARGATE_POOL, None).await.unwrap()[0];
    assert_eq!((pool.cpu, pool.pending_tasks, pool.task_groups.total()), (1000, 5, 5));
    let emb = &store.instances("us-east-1", "b", Some(vec!["emb".into()])).await.unwrap()[0];
    assert_eq!((emb.cpu, emb.memory, emb.pending_tasks), (1000, 2000, 5));
    // Cluster c has no instance of its own: an EC2 launch finds none.
    assert_eq!(
        store.launch_tasks("us-east-1", launch("us-east-1", "c", 1)).await.unwrap(),
        Placement::NoContainerInstances
    );
}
