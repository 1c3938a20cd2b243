//! `/console/events`: the server-sent event stream the page patches itself
//! from. It turns the store's change broadcasts into events about what the
//! page shows:
//!
//! - `tasks`: the rows of tasks that changed in the page's cluster, batched;
//! - `service`: a service of that cluster changed (its row, or `null` once
//!   it is gone);
//! - `changed`: something changed in the region, for pages without a cluster
//!   (at most one a second);
//! - `elb`: the region's load balancers or target health changed (at most
//!   one a second);
//! - `log`: new lines of the followed task's containers, the newest lines
//!   first of all;
//! - `refetch`: the stream fell behind a broadcast; the page reads afresh.
//!
//! The broadcasts are subscribed before the answer's headers go out, so a
//! page that reads its view once the stream is open (and again whenever it
//! reopens) misses no change: every change after its read arrives as an
//! event.

use std::collections::BTreeSet;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, mpsc};
use wharf_api::AppState;
use wharf_model::ecs::shapes::Task;
use wharf_store::logs::Appended;
use wharf_store::{Store, TaskChanged, TaskFeed};

use super::log_follow::Follower;
use super::views::services::{record, ServiceRow};
use super::views::tasks::{log_sources, TaskRow};

/// How often at most `changed` and `elb` events go out.
const THROTTLE: Duration = Duration::from_secs(1);
/// Task changes batched into one `tasks` event at most.
const MAX_BATCH: usize = 500;

/// What a page subscribes to.
#[derive(Debug, Clone, Deserialize)]
pub struct Subscription {
    /// The region (default `us-east-1`).
    #[serde(default = "super::default_region")]
    pub region: String,
    /// The cluster whose tasks and services the page shows.
    pub cluster: Option<String>,
    /// The task (of `cluster`) whose logs to follow.
    pub task: Option<String>,
}

/// A service that changed.
#[derive(Debug, Serialize)]
struct ServiceChange {
    cluster: String,
    name: String,
    row: Option<ServiceRow>,
}

/// `GET /console/events`.
pub async fn events(
    State(state): State<AppState>,
    Query(sub): Query<Subscription>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    // Subscribed before the answer's headers go out: a page that fetches
    // once the stream is open misses no change made after its fetch.
    let heard = Heard {
        tasks: state.ops.store.task_changes(),
        services: state.ops.store.service_changes(),
        elb: state.ops.store.elb_changes(),
        appends: state.logs.appends(),
    };
    let (tx, rx) = mpsc::channel::<Event>(64);
    tokio::spawn(async move {
        if let Err(Closed) = run(state, sub, heard, &tx).await {
            tracing::debug!("console: an event stream closed");
        }
    });
    let stream =
        futures_util::stream::unfold(
            rx,
            |mut rx| async move { rx.recv().await.map(|e| (Ok(e), rx)) },
        );
    Sse::new(stream).keep_alive(KeepAlive::default())
}

/// The page went away.
#[derive(Debug)]
struct Closed;

async fn send(tx: &mpsc::Sender<Event>, name: &str, data: &impl Serialize) -> Result<(), Closed> {
    let data = serde_json::to_string(data).map_err(|_| Closed)?;
    tx.send(Event::default().event(name).data(data)).await.map_err(|_| Closed)
}

/// A throttled notice: sent at once if the last went out long enough ago,
/// else once the interval is over.
#[derive(Debug, Default)]
struct Throttled {
    last: Option<tokio::time::Instant>,
    due: Option<tokio::time::Instant>,
}

impl Throttled {
    fn ask(&mut self) {
        if self.due.is_none() {
            let now = tokio::time::Instant::now();
            self.due = Some(self.last.map_or(now, |l| (l + THROTTLE).max(now)));
        }
    }

    async fn wait(&self) {
        match self.due {
            Some(at) => tokio::time::sleep_until(at).await,
            None => std::future::pending().await,
        }
    }

    fn sent(&mut self) {
        self.last = Some(tokio::time::Instant::now());
        self.due = None;
    }
}

/// The broadcasts a stream listens to.
struct Heard {
    tasks: TaskFeed,
    services: broadcast::Receiver<(String, String)>,
    elb: broadcast::Receiver<String>,
    appends: broadcast::Receiver<Appended>,
}

async fn run(
    state: AppState,
    sub: Subscription,
    heard: Heard,
    tx: &mpsc::Sender<Event>,
) -> Result<(), Closed> {
    let store: Arc<dyn Store> = state.ops.store.clone();
    let Heard { mut tasks, mut services, mut elb, mut appends } = heard;
    let mut follower = Follower::new(state.logs.clone());
    let followed = sub.cluster.clone().zip(sub.task.clone());
    if let Some((cluster, id)) = &followed {
        follow_sources(&*store, &sub.region, cluster, id, &mut follower).await;
        send_lines(tx, &mut follower).await?;
    }
    let (mut changed, mut elb_notice) = (Throttled::default(), Throttled::default());
    loop {
        tokio::select! {
            _ = tx.closed() => return Err(Closed),
            r = tasks.recv() => match r {
                Ok(first) => {
                    let batch = drain(first, &mut tasks);
                    let mine: Vec<Arc<TaskChanged>> =
                        batch.into_iter().filter(|c| c.region == sub.region).collect();
                    if mine.is_empty() {
                        continue;
                    }
                    match &sub.cluster {
                        None => changed.ask(),
                        Some(cluster) => {
                            send_task_rows(tx, &*store, &sub.region, cluster, &mine).await?;
                            if let Some((c, id)) = &followed {
                                if mine.iter().any(|m| &m.cluster == c && &m.id == id)
                                    && follow_sources(&*store, &sub.region, c, id, &mut follower).await
                                {
                                    send_lines(tx, &mut follower).await?;
                                }
                            }
                        }
                    }
                }
                Err(RecvError::Lagged(_)) => send(tx, "refetch", &json!({})).await?,
                Err(RecvError::Closed) => return Ok(()),
            },
            r = services.recv() => match r {
                Ok((region, key)) if region == sub.region => match (&sub.cluster, key.split_once('/')) {
                    (None, _) => changed.ask(),
                    (Some(cluster), Some((c, name))) if c == cluster => {
                        let row = match record(&*store, &region, c, name).await {
                            Ok(r) => r.map(|r| ServiceRow::of(c, &r.service)),
                            Err(e) => {
                                tracing::warn!(error = %e, "console: cannot read a service");
                                continue;
                            }
                        };
                        let change =
                            ServiceChange { cluster: c.to_owned(), name: name.to_owned(), row };
                        send(tx, "service", &change).await?;
                    }
                    _ => {}
                },
                Ok(_) => {}
                Err(RecvError::Lagged(_)) => send(tx, "refetch", &json!({})).await?,
                Err(RecvError::Closed) => return Ok(()),
            },
            r = elb.recv() => match r {
                Ok(region) if region == sub.region => elb_notice.ask(),
                Ok(_) => {}
                Err(RecvError::Lagged(_)) => elb_notice.ask(),
                Err(RecvError::Closed) => return Ok(()),
            },
            r = appends.recv() => match r {
                Ok(a) if follower.follows(&a) => send_lines(tx, &mut follower).await?,
                Ok(_) => {}
                // Missed some: read every stream after what was sent.
                Err(RecvError::Lagged(_)) => send_lines(tx, &mut follower).await?,
                Err(RecvError::Closed) => return Ok(()),
            },
            () = changed.wait() => {
                changed.sent();
                send(tx, "changed", &json!({})).await?;
            }
            () = elb_notice.wait() => {
                elb_notice.sent();
                send(tx, "elb", &json!({})).await?;
            }
        }
    }
}

/// The first change and whatever else is already waiting, each task once.
fn drain(first: Arc<TaskChanged>, rx: &mut TaskFeed) -> Vec<Arc<TaskChanged>> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    let mut next = Some(first);
    while let Some(c) = next.take() {
        if seen.insert((c.region.clone(), c.cluster.clone(), c.id.clone())) {
            out.push(c);
        }
        if out.len() < MAX_BATCH {
            next = rx.try_recv().ok();
        }
    }
    out
}

async fn send_task_rows(
    tx: &mpsc::Sender<Event>,
    store: &dyn Store,
    region: &str,
    cluster: &str,
    changes: &[Arc<TaskChanged>],
) -> Result<(), Closed> {
    let mut rows = Vec::new();
    for c in changes.iter().filter(|c| c.cluster == cluster) {
        match store.get_task(region, cluster, &c.id).await {
            Ok(Some(t)) => rows.extend(TaskRow::of(&t)),
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "console: cannot read a task"),
        }
    }
    if rows.is_empty() {
        return Ok(());
    }
    match super::views::tasks::hosts(store, region, cluster).await {
        Ok(hosts) => super::views::tasks::with_hosts(&mut rows, &hosts),
        Err(e) => tracing::warn!(error = %e, "console: cannot read the cluster's hosts"),
    }
    send(tx, "tasks", &rows).await
}

/// Adds the task's log streams to the follower; whether any was new.
async fn follow_sources(
    store: &dyn Store,
    region: &str,
    cluster: &str,
    id: &str,
    follower: &mut Follower,
) -> bool {
    let task = match store.get_task(region, cluster, id).await {
        Ok(Some(t)) => serde_json::from_str::<Task>(&t.json).ok(),
        _ => None,
    };
    let Some(task) = task else { return false };
    match log_sources(store, region, &task).await {
        Ok(sources) => follower.add(sources),
        Err(e) => {
            tracing::warn!(error = %e, "console: cannot read a task's log sources");
            false
        }
    }
}

async fn send_lines(tx: &mpsc::Sender<Event>, follower: &mut Follower) -> Result<(), Closed> {
    let lines = follower.read();
    if lines.is_empty() {
        return Ok(());
    }
    send(tx, "log", &lines).await
}
