//! The SQLite store's guarantees: numbering, isolation of a refused write
//! within a commit group, durability across reopen, pagination and reset.

use std::sync::Arc;

use wharf_model::ecs::shapes::TaskDefinitionStatus;
use wharf_model::EcsError;
use wharf_store::{
    FamilyQuery, Kind, NewTaskDefinition, SqliteStore, Store, StoreError, TaskDefinitionQuery,
    Write,
};

fn open(dir: &tempfile::TempDir) -> SqliteStore {
    SqliteStore::open(&dir.path().join("wharf.db")).expect("open store")
}

async fn register(store: &dyn Store, family: &str) -> Result<i32, StoreError> {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_registrations_get_distinct_sequential_revisions() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(open(&dir));
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
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_write_does_not_disturb_the_rest_of_its_group() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(open(&dir));
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
}

#[tokio::test]
async fn acknowledged_writes_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(&dir);
        assert_eq!(register(&store, "api").await.unwrap(), 1);
        assert_eq!(register(&store, "api").await.unwrap(), 2);
        store.tag("us-east-1", "arn:x", vec![("a".into(), "b".into())], 50).await.unwrap();
    }
    let store = open(&dir);
    let td = store.get_task_definition("us-east-1", "api", Some(2)).await.unwrap().unwrap();
    assert_eq!(td.json, r#"{"family":"api","revision":2}"#);
    assert_eq!(store.tags("us-east-1", "arn:x").await.unwrap(), vec![("a".into(), "b".into())]);
    assert_eq!(register(&store, "api").await.unwrap(), 3, "numbering continues after reopen");
}

#[tokio::test]
async fn state_is_kept_per_region() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    register(&store, "web").await.unwrap();
    assert!(store.get_task_definition("eu-west-1", "web", None).await.unwrap().is_none());
    let q = FamilyQuery { limit: 10, ..FamilyQuery::default() };
    assert!(store.list_task_definition_families("eu-west-1", q.clone()).await.unwrap().is_empty());
    assert_eq!(store.list_task_definition_families("us-east-1", q).await.unwrap(), vec!["web"]);
}

#[tokio::test]
async fn listings_page_in_both_directions_and_filter_by_status() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    for f in ["a", "b", "c"] {
        for _ in 0..3 {
            register(&store, f).await.unwrap();
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
    assert_eq!(second, vec![("b".into(), 3), ("c".into(), 1), ("c".into(), 2), ("c".into(), 3)]);
    let desc = store.list_task_definitions("us-east-1", page(None, true, None)).await.unwrap();
    assert_eq!(desc, vec![("c".into(), 3), ("c".into(), 2), ("c".into(), 1), ("b".into(), 3)]);
    let inactive = store
        .list_task_definitions("us-east-1", page(None, false, Some("INACTIVE")))
        .await
        .unwrap();
    assert_eq!(inactive, vec![("b".into(), 2)]);

    let fams = |status: Option<&str>, prefix: Option<&str>| FamilyQuery {
        prefix: prefix.map(str::to_owned),
        status: status.map(Into::into),
        after: None,
        limit: 10,
    };
    assert_eq!(
        store
            .list_task_definition_families("us-east-1", fams(Some("ACTIVE"), None))
            .await
            .unwrap()
            .len(),
        3
    );
    assert_eq!(
        store.list_task_definition_families("us-east-1", fams(None, Some("b"))).await.unwrap(),
        vec!["b"]
    );
}

#[tokio::test]
async fn reset_wipes_everything_and_numbering_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    register(&store, "web").await.unwrap();
    store
        .update(Kind::Cluster, "us-east-1", "c", Box::new(|_| Ok(Write::Put("{}".into()))))
        .await
        .unwrap();
    store.reset().await.unwrap();
    assert!(store.get(Kind::Cluster, "us-east-1", "c").await.unwrap().is_none());
    assert!(store.get_task_definition("us-east-1", "web", Some(1)).await.unwrap().is_none());
    assert_eq!(register(&store, "web").await.unwrap(), 1);
}

#[tokio::test]
async fn tag_limit_is_enforced_atomically() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let tags =
        |n: usize, p: &str| (0..n).map(|i| (format!("{p}{i}"), String::new())).collect::<Vec<_>>();
    store.tag("us-east-1", "arn:r", tags(40, "a"), 50).await.unwrap();
    let over = store.tag("us-east-1", "arn:r", tags(11, "b"), 50).await;
    assert!(matches!(over, Err(StoreError::Rejected(_))));
    assert_eq!(store.tags("us-east-1", "arn:r").await.unwrap().len(), 40, "nothing half-written");
}

#[tokio::test]
async fn cached_reads_follow_every_write() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    register(&store, "web").await.unwrap();
    register(&store, "web").await.unwrap();
    // Warm the cache for both lookups, then change what they should answer.
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
    register(&store, "web").await.unwrap();
    assert_eq!(
        store.get_task_definition("us-east-1", "web", None).await.unwrap().unwrap().revision,
        3
    );
    store.reset().await.unwrap();
    assert!(store.get_task_definition("us-east-1", "web", Some(1)).await.unwrap().is_none());
}
