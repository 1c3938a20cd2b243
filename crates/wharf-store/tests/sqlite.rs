//! The SQLite store: every guarantee of the store contract
//! (`support/contract.rs`), each on a fresh database, and durability across
//! reopening.

mod support;

use std::sync::Arc;

use support::contract::{self, register};
use wharf_store::{SqliteStore, Store};

fn open(dir: &tempfile::TempDir) -> SqliteStore {
    SqliteStore::open(&dir.path().join("wharf.db")).expect("open store")
}

macro_rules! on_sqlite {
    ($name:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            let dir = tempfile::tempdir().unwrap();
            let store: Arc<dyn Store> = Arc::new(open(&dir));
            contract::$name(store).await;
        }
    };
}

each_contract!(on_sqlite);

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
