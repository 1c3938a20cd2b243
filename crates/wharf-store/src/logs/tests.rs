//! The log store on a real database file.

use std::collections::BTreeMap;
use std::sync::Arc;

use wharf_model::logs::filter::Pattern;
use wharf_model::logs::Position;

use super::*;

const R: &str = "us-east-1";
const T0: i64 = 1_700_000_000_000;

fn open(dir: &tempfile::TempDir, max: i64) -> LogStore {
    LogStore::open(&dir.path().join("logs.sqlite3"), max).unwrap()
}

fn group(name: &str) -> NewGroup {
    NewGroup {
        name: name.into(),
        created: T0,
        class: "STANDARD".into(),
        kms_key_id: None,
        tags: BTreeMap::new(),
    }
}

fn append(group_name: &str, stream: &str, events: Vec<(i64, String)>) -> Append {
    Append {
        group: group(group_name),
        stream: stream.into(),
        create_group: true,
        create_stream: true,
        events,
        ingested: T0,
        cursor: None,
    }
}

fn lines(n: usize, from: i64) -> Vec<(i64, String)> {
    (0..n).map(|i| (from + i as i64, format!("line {i}"))).collect()
}

fn read(s: &LogStore, g: &str, st: &str, from: ReadFrom, limit: usize) -> Vec<String> {
    s.read_stream(R, g, st, &StreamRead { start: None, end: None, from, limit })
        .unwrap()
        .into_iter()
        .map(|e| e.message)
        .collect()
}

fn filter(pattern: &str) -> FilterQuery {
    FilterQuery {
        streams: None,
        prefix: None,
        start: None,
        end: None,
        after: None,
        limit: 10_000,
        pattern: Arc::new(Pattern::parse(pattern).unwrap()),
    }
}

#[tokio::test]
async fn logs_groups_and_streams_are_created_listed_and_refused_twice() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(&dir, i64::MAX);
    s.create_group(R, group("/b")).await.unwrap();
    s.create_group(R, group("/a")).await.unwrap();
    assert!(matches!(s.create_group(R, group("/a")).await, Err(LogStoreError::GroupExists)));
    s.create_group("eu-west-1", group("/a")).await.unwrap();
    let names: Vec<String> = s
        .groups(R, &GroupQuery { limit: 10, ..Default::default() })
        .unwrap()
        .into_iter()
        .map(|g| g.name)
        .collect();
    assert_eq!(names, ["/a", "/b"]);
    let page =
        s.groups(R, &GroupQuery { after: Some("/a".into()), limit: 10, ..Default::default() });
    assert_eq!(page.unwrap().len(), 1);
    s.create_stream(R, "/a", "s1", T0).await.unwrap();
    assert!(matches!(s.create_stream(R, "/a", "s1", T0).await, Err(LogStoreError::StreamExists)));
    assert!(matches!(s.create_stream(R, "/zz", "s1", T0).await, Err(LogStoreError::NoSuchGroup)));
    s.delete_stream(R, "/a", "s1").await.unwrap();
    assert!(matches!(s.delete_stream(R, "/a", "s1").await, Err(LogStoreError::NoSuchStream)));
    s.delete_group(R, "/a").await.unwrap();
    assert!(s.group(R, "/a").unwrap().is_none());
    assert!(s.group("eu-west-1", "/a").unwrap().is_some());
}

#[tokio::test]
async fn logs_read_forward_backward_with_cursor_in_the_same_transaction() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(&dir, i64::MAX);
    let mut a = append("/g", "s", lines(10, T0));
    a.cursor = Some("offset-10".into());
    s.append(R, a).await.unwrap();
    assert_eq!(s.cursor(R, "/g", "s").unwrap().as_deref(), Some("offset-10"));
    assert_eq!(read(&s, "/g", "s", ReadFrom::Head, 3), ["line 0", "line 1", "line 2"]);
    assert_eq!(read(&s, "/g", "s", ReadFrom::Tail, 2), ["line 8", "line 9"]);
    let all = s
        .read_stream(
            R,
            "/g",
            "s",
            &StreamRead { start: None, end: None, from: ReadFrom::Head, limit: 100 },
        )
        .unwrap();
    let p3 = all[3].pos;
    assert_eq!(read(&s, "/g", "s", ReadFrom::After(p3), 2), ["line 4", "line 5"]);
    assert_eq!(read(&s, "/g", "s", ReadFrom::Before(p3), 2), ["line 1", "line 2"]);
    assert!(read(&s, "/g", "s", ReadFrom::After(all[9].pos), 5).is_empty());
    // Time range: [start, end).
    let ranged = s
        .read_stream(
            R,
            "/g",
            "s",
            &StreamRead {
                start: Some(T0 + 2),
                end: Some(T0 + 5),
                from: ReadFrom::Head,
                limit: 100,
            },
        )
        .unwrap();
    assert_eq!(ranged.len(), 3);
    // Out-of-order timestamps are read in time order.
    s.append(R, append("/g", "s", vec![(T0 - 5, "early".into())])).await.unwrap();
    assert_eq!(read(&s, "/g", "s", ReadFrom::Head, 1), ["early"]);
    // A cursor without events moves too; a missing group without create is refused.
    let mut only_cursor = append("/g", "s", vec![]);
    only_cursor.cursor = Some("offset-11".into());
    s.append(R, only_cursor).await.unwrap();
    assert_eq!(s.cursor(R, "/g", "s").unwrap().as_deref(), Some("offset-11"));
    let mut refused = append("/nope", "s", lines(1, T0));
    refused.create_group = false;
    assert!(matches!(s.append(R, refused).await, Err(LogStoreError::NoSuchGroup)));
    let stream = &s.streams(R, "/g", &StreamQuery { limit: 10, ..Default::default() }).unwrap()[0];
    assert_eq!(stream.first_event, Some(T0 - 5));
    assert_eq!(stream.last_event, Some(T0 + 9));
    let expected: i64 =
        (0..10).map(|i| format!("line {i}").len() as i64 + 26).sum::<i64>() + 5 + 26;
    assert_eq!(stream.stored_bytes, expected);
    assert_eq!(s.group(R, "/g").unwrap().unwrap().stored_bytes, expected);
}

#[tokio::test]
async fn logs_filter_interleaves_streams_in_time_order_and_pages() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(&dir, i64::MAX);
    s.append(R, append("/g", "a", vec![(T0, "ERROR a0".into()), (T0 + 2, "INFO a2".into())]))
        .await
        .unwrap();
    s.append(R, append("/g", "b", vec![(T0 + 1, "ERROR b1".into()), (T0 + 3, "ERROR b3".into())]))
        .await
        .unwrap();
    let page = s.filter(R, "/g", filter("ERROR")).await.unwrap();
    let got: Vec<(String, String)> =
        page.events.iter().map(|e| (e.stream.clone(), e.event.message.clone())).collect();
    assert_eq!(
        got,
        [
            ("a".into(), "ERROR a0".into()),
            ("b".into(), "ERROR b1".into()),
            ("b".into(), "ERROR b3".into())
        ]
    );
    assert_eq!(page.next, None);
    let mut q = filter("ERROR");
    q.limit = 2;
    let first = s.filter(R, "/g", q.clone()).await.unwrap();
    assert_eq!(first.events.len(), 2);
    q.after = first.next;
    assert!(q.after.is_some());
    let second = s.filter(R, "/g", q).await.unwrap();
    assert_eq!(second.events.len(), 1);
    assert_eq!(second.events[0].event.message, "ERROR b3");
    let mut only_a = filter("");
    only_a.streams = Some(vec!["a".into()]);
    assert_eq!(s.filter(R, "/g", only_a).await.unwrap().events.len(), 2);
    let mut prefix = filter("ERROR");
    prefix.prefix = Some("b".into());
    prefix.end = Some(T0 + 1);
    assert_eq!(s.filter(R, "/g", prefix).await.unwrap().events.len(), 1);
    let mut none = filter("");
    none.streams = Some(vec!["zz".into()]);
    assert!(s.filter(R, "/g", none).await.unwrap().events.is_empty());
    assert!(matches!(s.filter(R, "/x", filter("")).await, Err(LogStoreError::NoSuchGroup)));
    let json = s.filter(R, "/g", filter("-ERROR")).await.unwrap();
    assert_eq!(json.events.len(), 1);
}

#[tokio::test]
async fn logs_retention_deletes_old_events_and_keeps_stored_bytes_exact() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(&dir, i64::MAX);
    s.append(R, append("/g", "s", lines(12_000, T0))).await.unwrap();
    s.set_retention(R, "/g", Some(1)).await.unwrap();
    let policies = s.retention_policies().unwrap();
    assert_eq!(policies.len(), 1);
    assert_eq!(policies[0].days, 1);
    let deleted = s.delete_before(policies[0].group_id, T0 + 11_000).await.unwrap();
    assert_eq!(deleted, 11_000);
    let left = read(&s, "/g", "s", ReadFrom::Head, 10_000);
    assert_eq!(left.len(), 1_000);
    assert_eq!(left[0], "line 11000");
    let expected: i64 = (11_000..12_000).map(|i| format!("line {i}").len() as i64 + 26).sum();
    assert_eq!(s.group(R, "/g").unwrap().unwrap().stored_bytes, expected);
    assert_eq!(s.usage().stored_bytes, expected);
    s.set_retention(R, "/g", None).await.unwrap();
    assert!(s.retention_policies().unwrap().is_empty());
}

#[tokio::test]
async fn logs_over_the_budget_the_oldest_events_go_first() {
    let dir = tempfile::tempdir().unwrap();
    // Each event is 26 + 100 bytes; the budget holds 1,000 of them.
    let s = open(&dir, 126_000);
    let msg = "x".repeat(100);
    for round in 0..3 {
        let events = (0..500).map(|i| (T0 + round * 500 + i, msg.clone())).collect();
        s.append(R, append("/g", "s", events)).await.unwrap();
    }
    // The append that crossed the budget started a trim; run one more to be sure.
    s.trim_to_budget().await.unwrap();
    let usage = s.usage();
    assert!(usage.stored_bytes <= 126_000, "{usage:?}");
    assert!(usage.stored_bytes >= 126_000 - 126_000 / 20 - 126, "trimmed too far: {usage:?}");
    let g = s.group(R, "/g").unwrap().unwrap();
    assert_eq!(g.stored_bytes, usage.stored_bytes);
    let kept = (g.stored_bytes / 126) as usize;
    let all = read(&s, "/g", "s", ReadFrom::Head, 10_000);
    assert_eq!(all.len(), kept);
    let head = s
        .read_stream(
            R,
            "/g",
            "s",
            &StreamRead { start: None, end: None, from: ReadFrom::Head, limit: 1 },
        )
        .unwrap();
    assert_eq!(head[0].pos.ts, T0 + 1500 - kept as i64, "the oldest went first");
}

#[tokio::test]
async fn logs_acknowledged_appends_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = open(&dir, i64::MAX);
        let mut handles = Vec::new();
        for i in 0..20 {
            let s = s.clone();
            handles.push(tokio::spawn(async move {
                let mut a = append("/g", &format!("s{}", i % 4), lines(100, T0 + i * 100));
                a.cursor = Some(format!("c{i}"));
                s.append(R, a).await
            }));
        }
        for h in handles {
            h.await.unwrap().unwrap();
        }
    }
    let s = open(&dir, i64::MAX);
    let page = s.filter(R, "/g", filter("")).await.unwrap();
    assert_eq!(page.events.len(), 2_000);
    assert!(page.events.windows(2).all(|w| w[0].event.pos < w[1].event.pos));
    assert_eq!(s.usage().stored_bytes, s.group(R, "/g").unwrap().unwrap().stored_bytes);
    assert!(s.cursor(R, "/g", "s0").unwrap().is_some());
}

#[tokio::test]
async fn logs_deleted_groups_lose_their_events_and_names_start_afresh() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(&dir, i64::MAX);
    s.append(R, append("/g", "s", lines(7_000, T0))).await.unwrap();
    s.delete_group(R, "/g").await.unwrap();
    assert_eq!(s.usage().stored_bytes, 0);
    s.append(R, append("/g", "s", lines(3, T0))).await.unwrap();
    assert_eq!(read(&s, "/g", "s", ReadFrom::Head, 100).len(), 3);
    s.purge_deleted().await.unwrap();
    let left: i64 =
        s.read(|c| Ok(c.query_row("SELECT COUNT(*) FROM log_events", [], |r| r.get(0))?)).unwrap();
    assert_eq!(left, 3);
    s.append(R, append("/g", "t", lines(4, T0))).await.unwrap();
    s.delete_stream(R, "/g", "t").await.unwrap();
    s.purge_deleted().await.unwrap();
    assert_eq!(s.group(R, "/g").unwrap().unwrap().stored_bytes, s.usage().stored_bytes);
    let _ = Position::START;
}

#[tokio::test]
async fn logs_streams_order_by_last_event_and_page() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(&dir, i64::MAX);
    s.create_group(R, group("/g")).await.unwrap();
    s.create_stream(R, "/g", "empty", T0).await.unwrap();
    for (name, ts) in [("b", T0 + 30), ("a", T0 + 20), ("c", T0 + 10)] {
        s.append(R, append("/g", name, vec![(ts, "x".into())])).await.unwrap();
    }
    let names = |q: StreamQuery| -> Vec<String> {
        s.streams(R, "/g", &q).unwrap().into_iter().map(|s| s.name).collect()
    };
    assert_eq!(names(StreamQuery { limit: 10, ..Default::default() }), ["a", "b", "c", "empty"]);
    assert_eq!(
        names(StreamQuery { by_last_event: true, limit: 10, ..Default::default() }),
        ["empty", "c", "a", "b"]
    );
    assert_eq!(
        names(StreamQuery {
            by_last_event: true,
            descending: true,
            limit: 2,
            ..Default::default()
        }),
        ["b", "a"]
    );
    assert_eq!(
        names(StreamQuery {
            by_last_event: true,
            descending: true,
            after: Some((T0 + 20, "a".into())),
            limit: 10,
            ..Default::default()
        }),
        ["c", "empty"]
    );
    assert_eq!(
        names(StreamQuery {
            descending: true,
            after: Some((0, "b".into())),
            limit: 10,
            ..Default::default()
        }),
        ["a"]
    );
    assert_eq!(
        names(StreamQuery { prefix: Some("e".into()), limit: 10, ..Default::default() }),
        ["empty"]
    );
}

#[tokio::test]
async fn appends_are_announced_after_they_commit() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(&dir, i64::MAX);
    let mut heard = s.appends();
    s.append(R, append("/g", "a", lines(2, T0))).await.unwrap();
    let notice = heard.recv().await.unwrap();
    assert_eq!(notice, Appended { region: R.into(), group: "/g".into(), stream: "a".into() });
    assert_eq!(read(&s, "/g", "a", ReadFrom::Head, 10), ["line 0", "line 1"]);
    // A refused append (no such stream, no create) announces nothing.
    let mut refused = append("/g", "b", lines(1, T0));
    refused.create_stream = false;
    assert!(s.append(R, refused).await.is_err());
    assert!(matches!(heard.try_recv(), Err(tokio::sync::broadcast::error::TryRecvError::Empty)));
}
