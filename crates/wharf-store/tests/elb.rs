//! The ELBv2 tables: a write is all or nothing, reads list by parent in sort
//! order, deleting a row takes its uses, targets and tags with it.

use std::sync::{Arc, Mutex};

use wharf_model::EcsError;
use wharf_store::elb::{ElbKind, ElbRow, TargetRow};
use wharf_store::{SqliteStore, Store, StoreError};

fn row(kind: ElbKind, arn: &str, parent: &str, sort: &str) -> ElbRow {
    ElbRow { kind, arn: arn.into(), parent: parent.into(), sort: sort.into(), body: "{}".into() }
}

#[tokio::test]
async fn writes_are_atomic_and_deletes_take_dependents() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("w.db")).unwrap();
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
