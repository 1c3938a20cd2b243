//! The image pulls under way, as agents report them: kept in memory only
//! (they matter while someone watches), served at `/_wharf/v1/pulls` for
//! `wharf run` and the console.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use wharf_model::agent::PullProgressReport;

use crate::context::AppState;

/// How long a task's pull reports are kept after their last change.
const KEEP_MS: i64 = 10 * 60 * 1000;
/// Past this many tasks, reports older than [`KEEP_MS`] are dropped.
const TIDY_ABOVE: usize = 256;

/// One task's pulls, by container.
#[derive(Debug, Default)]
struct TaskPulls {
    containers: BTreeMap<String, PullProgressReport>,
    updated_ms: i64,
}

/// The latest pull report of every container whose image is (or was
/// lately) being pulled.
#[derive(Debug, Default)]
pub struct PullBoard {
    tasks: Mutex<HashMap<String, TaskPulls>>,
}

impl PullBoard {
    /// Keeps `report` as its container's latest.
    pub fn record(&self, report: PullProgressReport, now_ms: i64) {
        let mut tasks = self.tasks.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if tasks.len() > TIDY_ABOVE {
            tasks.retain(|_, t| now_ms - t.updated_ms < KEEP_MS);
        }
        let task = tasks.entry(report.task_arn.clone()).or_default();
        task.updated_ms = now_ms;
        task.containers.insert(report.container.clone(), report);
    }

    /// A task's pull reports, in container-name order.
    pub fn of_task(&self, task_arn: &str) -> Vec<PullProgressReport> {
        let tasks = self.tasks.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        tasks.get(task_arn).map(|t| t.containers.values().cloned().collect()).unwrap_or_default()
    }
}

/// The routes, to merge into the server's router.
pub fn routes() -> Router<AppState> {
    Router::new().route("/_wharf/v1/pulls", get(pulls))
}

/// `?task=ARN`.
#[derive(Debug, Deserialize)]
struct PullsQuery {
    task: String,
}

/// `GET /_wharf/v1/pulls?task=ARN`: `{"pulls": [PullProgressReport...]}`.
/// A server that checks signatures serves it to callers allowed
/// `ecs:DescribeTasks`.
async fn pulls(
    State(state): State<AppState>,
    method: http::Method,
    uri: http::Uri,
    headers: http::HeaderMap,
    Query(q): Query<PullsQuery>,
) -> Response {
    if let Some(refused) =
        crate::dispatch::refused_read(&state, &method, &uri, &headers, "ecs:DescribeTasks")
    {
        return refused;
    }
    let body = serde_json::json!({ "pulls": state.pulls.of_task(&q.task) }).to_string();
    ([(http::header::CONTENT_TYPE, "application/json")], body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(task: &str, container: &str, current: u64) -> PullProgressReport {
        PullProgressReport {
            task_arn: task.into(),
            container: container.into(),
            current_bytes: current,
            ..Default::default()
        }
    }

    #[test]
    fn keeps_the_latest_per_container_and_forgets_old_tasks() {
        let board = PullBoard::default();
        board.record(report("t1", "web", 1), 0);
        board.record(report("t1", "web", 2), 1);
        board.record(report("t1", "db", 5), 1);
        let pulls = board.of_task("t1");
        assert_eq!(
            pulls.iter().map(|r| (r.container.as_str(), r.current_bytes)).collect::<Vec<_>>(),
            [("db", 5), ("web", 2)]
        );
        assert!(board.of_task("t2").is_empty());
        for i in 0..=TIDY_ABOVE {
            board.record(report(&format!("old{i}"), "c", 0), 2);
        }
        board.record(report("new", "c", 0), KEEP_MS + 10);
        assert!(board.of_task("t1").is_empty(), "an old task's pulls are dropped");
        assert_eq!(board.of_task("new").len(), 1);
    }
}
