//! The web console at `/console`: pages over the same state the API serves,
//! for people. Read-only: changes stay with the API and the CLI.
//!
//! - `GET /console` is one page ([`assets`]): plain JavaScript with a hash
//!   router (`#/clusters/default/services/web`), no build step, no CDN.
//! - `GET /console/api/...` answers the page's reads with compact JSON read
//!   models built straight from the store ([`views`]); `?region=` picks the
//!   region (default `us-east-1`).
//! - `GET /console/events` is the live stream the page patches itself from
//!   ([`live`]), including a followed task's new log lines ([`log_follow`]).

mod assets;
mod live;
mod log_follow;
pub mod views;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use http::{header, HeaderMap, HeaderValue, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::json;
use wharf_api::AppState;

use views::{clusters, load_balancers, services, task_definitions, tasks, ViewError};

/// The routes, to merge into the server's router.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console", get(|h: HeaderMap| async move { assets::INDEX.respond(&h) }))
        .route("/console/", get(|h: HeaderMap| async move { assets::INDEX.respond(&h) }))
        .route("/console/app.js", get(|h: HeaderMap| async move { assets::APP_JS.respond(&h) }))
        .route("/console/app.css", get(|h: HeaderMap| async move { assets::APP_CSS.respond(&h) }))
        .route("/console/events", get(live::events))
        .route("/console/api/regions", get(regions))
        .route("/console/api/clusters", get(cluster_list))
        .route("/console/api/clusters/{cluster}", get(cluster))
        .route("/console/api/clusters/{cluster}/services/{service}", get(service))
        .route("/console/api/clusters/{cluster}/tasks/{task}", get(task))
        .route("/console/api/task-definitions", get(families))
        .route("/console/api/task-definitions/{family}", get(family))
        .route("/console/api/task-definitions/{family}/revisions/{revision}", get(revision))
        .route("/console/api/task-definitions/{family}/diff/{a}/{b}", get(diff))
        .route("/console/api/load-balancers", get(load_balancer_list))
        .route("/console/api/load-balancers/{name}", get(load_balancer))
        .route("/console/api/{*rest}", get(unknown))
}

/// The region of a request that names none.
fn default_region() -> String {
    "us-east-1".to_owned()
}

/// The query every read takes.
#[derive(Debug, Deserialize)]
struct Scope {
    #[serde(default = "default_region")]
    region: String,
}

impl Scope {
    /// The region, if it looks like one (`us-east-1`): letters, digits and
    /// dashes.
    fn region(&self) -> Result<&str, ViewError> {
        let r = &self.region;
        let ok = !r.is_empty()
            && r.len() <= 32
            && r.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if ok {
            Ok(r)
        } else {
            Err(ViewError::BadRequest(format!(
                "region {r:?} is not a region name such as us-east-1"
            )))
        }
    }
}

/// A view as a JSON answer, or its error as one.
fn answer<T: Serialize>(result: Result<T, ViewError>) -> Response {
    let (status, body) = match result {
        Ok(view) => match serde_json::to_vec(&view) {
            Ok(body) => (StatusCode::OK, body),
            Err(e) => {
                tracing::error!(error = %e, "console: a view does not serialise");
                (StatusCode::INTERNAL_SERVER_ERROR, b"{\"message\":\"internal error\"}".to_vec())
            }
        },
        Err(e) => {
            let status = match &e {
                ViewError::NotFound(_) => StatusCode::NOT_FOUND,
                ViewError::BadRequest(_) => StatusCode::BAD_REQUEST,
                ViewError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
            };
            let message = match &e {
                ViewError::Store(inner) => {
                    tracing::error!(error = %inner, "console: store failure");
                    "The store failed; the server's log says why.".to_owned()
                }
                other => other.to_string(),
            };
            (status, json!({ "message": message }).to_string().into_bytes())
        }
    };
    let mut response = (status, body).into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn regions(State(s): State<AppState>, Query(q): Query<Scope>) -> Response {
    answer(async { clusters::regions(&*s.ops.store, q.region()?).await }.await)
}

async fn cluster_list(State(s): State<AppState>, Query(q): Query<Scope>) -> Response {
    answer(async { clusters::clusters(&*s.ops.store, q.region()?).await }.await)
}

async fn cluster(
    State(s): State<AppState>,
    Query(q): Query<Scope>,
    Path(name): Path<String>,
) -> Response {
    answer(async { clusters::cluster(&*s.ops.store, q.region()?, &name).await }.await)
}

async fn service(
    State(s): State<AppState>,
    Query(q): Query<Scope>,
    Path((cluster, name)): Path<(String, String)>,
) -> Response {
    let now = s.ops.clock.now_millis();
    answer(
        async { services::service(&*s.ops.store, q.region()?, &cluster, &name, now).await }.await,
    )
}

async fn task(
    State(s): State<AppState>,
    Query(q): Query<Scope>,
    Path((cluster, id)): Path<(String, String)>,
) -> Response {
    answer(async { tasks::task(&*s.ops.store, q.region()?, &cluster, &id).await }.await)
}

async fn families(State(s): State<AppState>, Query(q): Query<Scope>) -> Response {
    answer(async { task_definitions::families(&*s.ops.store, q.region()?).await }.await)
}

async fn family(
    State(s): State<AppState>,
    Query(q): Query<Scope>,
    Path(family): Path<String>,
) -> Response {
    answer(async { task_definitions::family(&*s.ops.store, q.region()?, &family).await }.await)
}

/// A revision number from the path, or an error naming it.
fn revision_number(text: &str) -> Result<i32, ViewError> {
    text.parse::<i32>().ok().filter(|n| *n > 0).ok_or_else(|| {
        ViewError::BadRequest(format!("revision {text:?} is not a revision number (1, 2, ...)"))
    })
}

async fn revision(
    State(s): State<AppState>,
    Query(q): Query<Scope>,
    Path((family, revision)): Path<(String, String)>,
) -> Response {
    answer(
        async {
            let n = revision_number(&revision)?;
            task_definitions::revision(&*s.ops.store, q.region()?, &family, n).await
        }
        .await,
    )
}

async fn diff(
    State(s): State<AppState>,
    Query(q): Query<Scope>,
    Path((family, a, b)): Path<(String, String, String)>,
) -> Response {
    answer(
        async {
            let (a, b) = (revision_number(&a)?, revision_number(&b)?);
            task_definitions::diff(&*s.ops.store, q.region()?, &family, a, b).await
        }
        .await,
    )
}

async fn load_balancer_list(State(s): State<AppState>, Query(q): Query<Scope>) -> Response {
    answer(async { load_balancers::load_balancers(&*s.ops.store, q.region()?).await }.await)
}

async fn load_balancer(
    State(s): State<AppState>,
    Query(q): Query<Scope>,
    Path(name): Path<String>,
) -> Response {
    let now = s.ops.clock.now_millis();
    answer(
        async { load_balancers::load_balancer(&*s.ops.store, q.region()?, &name, now).await }.await,
    )
}

async fn unknown(Path(rest): Path<String>) -> Response {
    answer::<()>(Err(ViewError::NotFound(format!("The console has no API /console/api/{rest}."))))
}

#[cfg(test)]
mod testing;
#[cfg(test)]
mod tests;
