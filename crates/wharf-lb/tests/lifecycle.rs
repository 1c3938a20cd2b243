//! Configuration changes on a live listener: rule swaps under load, draining targets.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::*;
use tokio::sync::mpsc;
use wharf_lb::{Action, Condition, FixedResponse, Reason, Rule, TargetState};

fn now_millis() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swapping_rules_under_load_drops_no_request() {
    let (held_tx, _held) = mpsc::unbounded_channel();
    let a = TestTarget::start("a", held_tx.clone()).await;
    let b = TestTarget::start("b", held_tx).await;
    let (lb, mut reports) = balancer();
    let port = free_port();
    let groups = || vec![group("tg-a", &[&a]), group("tg-b", &[&b])];
    // Both groups stay in use throughout: one by the default rule, one by a rule.
    let swapped = |swaps: u32| {
        let (first, second) =
            if swaps.is_multiple_of(2) { ("tg-a", "tg-b") } else { ("tg-b", "tg-a") };
        let mut l = listener(port, Action::forward(first));
        l.rules = vec![
            Rule {
                arn: "never".into(),
                priority: 1 + swaps % 3,
                conditions: vec![Condition::HttpHeader {
                    name: "x-never".into(),
                    values: vec!["*".into()],
                }],
                action: Action::forward(second),
            },
            Rule {
                arn: "fixed".into(),
                priority: 10,
                conditions: vec![Condition::PathPattern(vec!["/fixed".into()])],
                action: Action::FixedResponse(FixedResponse {
                    status_code: 200,
                    content_type: None,
                    message_body: Some("fixed".into()),
                }),
            },
        ];
        l
    };
    lb.apply(config(vec![swapped(0)], groups())).await.expect("applied");
    reports.until("a", TargetState::Healthy).await;
    reports.until("b", TargetState::Healthy).await;

    let done = Arc::new(AtomicUsize::new(0));
    let mut load = Vec::new();
    for _ in 0..8 {
        let done = done.clone();
        load.push(tokio::spawn(async move {
            let client = client();
            let mut failures = Vec::new();
            for _ in 0..150 {
                let path =
                    if done.load(Ordering::Relaxed).is_multiple_of(5) { "/fixed" } else { "/x" };
                let (status, _, body) = get(&client, port, path).await;
                if status != 200 || !(body == "a" || body == "b" || body == "fixed") {
                    failures.push((status, body));
                }
                done.fetch_add(1, Ordering::Relaxed);
            }
            failures
        }));
    }
    let mut swaps = 0;
    while done.load(Ordering::Relaxed) < 8 * 150 {
        lb.apply(config(vec![swapped(swaps + 1)], groups())).await.expect("applied");
        swaps += 1;
        tokio::task::yield_now().await;
    }
    for task in load {
        let failures = task.await.expect("load task");
        assert!(failures.is_empty(), "requests failed during swaps: {failures:?}");
    }
    assert!(swaps > 10, "only {swaps} swaps happened");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deregistered_target_drains_then_is_gone() {
    let (held_tx, mut held) = mpsc::unbounded_channel();
    let a = TestTarget::start("a", held_tx.clone()).await;
    let b = TestTarget::start("b", held_tx).await;
    let (lb, mut reports) = balancer();
    let port = free_port();
    let delay = Duration::from_millis(700);
    let mut tg = group("tg", &[&a, &b]);
    tg.deregistration_delay = delay;
    lb.apply(config(vec![listener(port, Action::forward("tg"))], vec![tg.clone()]))
        .await
        .expect("applied");
    reports.until("a", TargetState::Healthy).await;
    reports.until("b", TargetState::Healthy).await;

    // One request held open on whichever target takes it.
    let hold = tokio::spawn(async move { get(&client(), port, "/hold").await });
    let holder =
        tokio::time::timeout(WAIT, held.recv()).await.expect("held in time").expect("held");
    let (holder, other) = if holder == "a" { (&a, &b) } else { (&b, &a) };
    assert_eq!(lb.in_flight("tg", holder.name, holder.addr.port()), Some(1));

    let since = now_millis();
    let index = tg.targets.iter().position(|t| t.id == holder.name).expect("registered");
    tg.targets[index].deregistering_since = Some(since);
    lb.apply(config(vec![listener(port, Action::forward("tg"))], vec![tg.clone()]))
        .await
        .expect("applied");
    let report = reports.until(holder.name, TargetState::Draining).await;
    assert_eq!(report.reason, Some(Reason::DeregistrationInProgress));
    assert_eq!(report.description.as_deref(), Some("Target deregistration is in progress"));

    // No new request reaches it...
    let client = client();
    for _ in 0..4 {
        assert_eq!(get(&client, port, "/").await.2, other.name);
    }
    // ...and the one in flight completes.
    holder.release.notify_one();
    let (status, _, body) = tokio::time::timeout(WAIT, hold).await.expect("in time").expect("task");
    assert_eq!((status, body.as_str()), (200, holder.name));
    assert_eq!(lb.in_flight("tg", holder.name, holder.addr.port()), Some(0), "idle now");
    assert_eq!(lb.target_state("tg", holder.name, holder.addr.port()), Some(TargetState::Draining));

    // The whole delay passes before it is reported gone, idle or not.
    let gone = reports.until(holder.name, TargetState::Unused).await;
    assert!(now_millis() - since >= delay.as_millis() as i64 - 5);
    assert_eq!(gone.reason, Some(Reason::NotRegistered));

    // The binary then drops it from the configuration.
    tg.targets.remove(index);
    lb.apply(config(vec![listener(port, Action::forward("tg"))], vec![tg])).await.expect("applied");
    assert_eq!(lb.in_flight("tg", holder.name, holder.addr.port()), None);
    assert_eq!(get(&client, port, "/").await.2, other.name);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listeners_open_and_close_with_the_configuration() {
    let (lb, _reports) = balancer();
    let (p1, p2) = (free_port(), free_port());
    let fixed = || {
        Action::FixedResponse(FixedResponse {
            status_code: 200,
            content_type: None,
            message_body: Some("ok".into()),
        })
    };
    lb.apply(config(vec![listener(p1, fixed()), listener(p2, fixed())], vec![]))
        .await
        .expect("applied");
    let client = client();
    assert_eq!(get(&client, p2, "/").await.0, 200);
    lb.apply(config(vec![listener(p1, fixed())], vec![])).await.expect("applied");
    assert_eq!(lb.listener_addrs().len(), 1);
    // The port is closed once apply returns.
    let refused = tokio::net::TcpStream::connect((LOCALHOST, p2)).await;
    assert_eq!(refused.map_err(|e| e.kind()).err(), Some(std::io::ErrorKind::ConnectionRefused));
    assert_eq!(get(&client, p1, "/").await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_group_no_listener_uses_is_not_in_use() {
    let (held_tx, _held) = mpsc::unbounded_channel();
    let a = TestTarget::start("a", held_tx).await;
    let (lb, mut reports) = balancer();
    lb.apply(config(vec![], vec![group("tg", &[&a])])).await.expect("applied");
    let report = reports.until("a", TargetState::Unused).await;
    assert_eq!(report.reason, Some(Reason::NotInUse));
    assert_eq!(
        report.description.as_deref(),
        Some("Target group is not configured to receive traffic from the load balancer")
    );
}
