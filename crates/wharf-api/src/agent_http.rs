//! The agent link over HTTP, for agents on other hosts (`wharf agent`):
//! the calls of [`crate::agent_link`] as JSON requests under
//! `/_wharf/agent/v1/`, and the assignment watch as a streamed response of
//! newline-delimited JSON that stays open for as long as the agent listens.
//!
//! When the server has an agent token, every request must carry it as
//! `Authorization: Bearer <token>`.

use axum::body::Body;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use serde::Deserialize;
use wharf_model::agent::{Heartbeat, LogBatch, LogDestination, PullProgressReport};
use wharf_model::ecs::shapes::{RegisterContainerInstanceRequest, Task};

use crate::context::AppState;
use crate::protocol::{self, ApiError};
use crate::{agent_link, logs};

/// The routes, to merge into the server's router.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/_wharf/agent/v1/register", post(register))
        .route("/_wharf/agent/v1/watch", get(watch))
        .route("/_wharf/agent/v1/heartbeat", post(heartbeat))
        .route("/_wharf/agent/v1/report", post(report))
        .route("/_wharf/agent/v1/secret", post(secret))
        .route("/_wharf/agent/v1/logs/prepare", post(logs_prepare))
        .route("/_wharf/agent/v1/logs/ship", post(logs_ship))
        .route("/_wharf/agent/v1/logs/cursor", post(logs_cursor))
        .route("/_wharf/agent/v1/pull-progress", post(pull_progress))
}

/// Where a call applies.
#[derive(Debug, Deserialize)]
struct Place {
    region: String,
    #[serde(default)]
    cluster: String,
    #[serde(default)]
    instance: String,
}

/// A secret to resolve.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SecretRequest {
    value_from: String,
}

/// A log stream to make ready before its container starts.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PrepareLogs {
    destination: LogDestination,
    #[serde(default)]
    create_group: bool,
}

/// The refusal for a request without the agent token, if one is required.
fn denied(state: &AppState, headers: &HeaderMap) -> Option<Response> {
    let token = state.agent_token.as_deref()?;
    let given = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    (given != Some(token)).then(|| {
        failure(&ApiError {
            type_name: "AccessDeniedException".into(),
            message: "The agent token is missing or wrong.".into(),
            status: StatusCode::FORBIDDEN,
        })
    })
}

fn failure(e: &ApiError) -> Response {
    protocol::error("agent", e)
}

fn json<T: serde::Serialize>(value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => ([(http::header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(e) => failure(&ApiError::from(wharf_model::EcsError::server(e.to_string()))),
    }
}

/// Checks the token, reads the JSON body and runs `f` on it; its answer or
/// the error's.
async fn guarded<T, F, Fut>(state: &AppState, headers: &HeaderMap, body: &[u8], f: F) -> Response
where
    T: serde::de::DeserializeOwned,
    F: FnOnce(T) -> Fut,
    Fut: std::future::Future<Output = Result<Response, ApiError>>,
{
    if let Some(r) = denied(state, headers) {
        return r;
    }
    let request = match protocol::parse(body) {
        Ok(r) => r,
        Err(e) => return failure(&e),
    };
    f(request).await.unwrap_or_else(|e| failure(&e))
}

async fn register(
    State(state): State<AppState>,
    Query(place): Query<Place>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (state, place) = (&state, &place);
    guarded(state, &headers, &body, |request: RegisterContainerInstanceRequest| async move {
        Ok(json(&agent_link::register(state, &place.region, request).await?))
    })
    .await
}

async fn watch(
    State(state): State<AppState>,
    Query(place): Query<Place>,
    headers: HeaderMap,
) -> Response {
    if let Some(r) = denied(&state, &headers) {
        return r;
    }
    let rx = match agent_link::watch(&state, &place.region, &place.cluster, &place.instance).await {
        Ok(rx) => rx,
        Err(e) => return failure(&e),
    };
    // One event per line; an empty line when there has been nothing to say
    // for a while, so the agent can tell a quiet watch from a dead link.
    let keepalive = std::time::Duration::from_millis(wharf_model::agent::WATCH_KEEPALIVE_MS);
    let lines = futures_util::stream::unfold(rx, move |mut rx| async move {
        let line = match tokio::time::timeout(keepalive, rx.recv()).await {
            Ok(event) => {
                let mut line = serde_json::to_vec(&event?).unwrap_or_default();
                line.push(b'\n');
                line
            }
            Err(_) => b"\n".to_vec(),
        };
        Some((Ok::<_, std::convert::Infallible>(Bytes::from(line)), rx))
    });
    ([(http::header::CONTENT_TYPE, "application/x-ndjson")], Body::from_stream(lines))
        .into_response()
}

async fn heartbeat(
    State(state): State<AppState>,
    Query(place): Query<Place>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (state, place) = (&state, &place);
    guarded(state, &headers, &body, |beat: Heartbeat| async move {
        let reply =
            agent_link::heartbeat(state, &place.region, &place.cluster, &place.instance, beat)
                .await?;
        Ok(json(&reply))
    })
    .await
}

async fn report(
    State(state): State<AppState>,
    Query(place): Query<Place>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (state, place) = (&state, &place);
    guarded(state, &headers, &body, |change: Task| async move {
        agent_link::report(state, &place.region, &place.cluster, change).await?;
        Ok(StatusCode::NO_CONTENT.into_response())
    })
    .await
}

async fn secret(
    State(state): State<AppState>,
    Query(place): Query<Place>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (state, place) = (&state, &place);
    guarded(state, &headers, &body, |request: SecretRequest| async move {
        let now = state.clock.now();
        match crate::secrets::resolve(&*state.store, &place.region, &request.value_from, now).await
        {
            Ok(value) => Ok(json(&serde_json::json!({ "value": value }))),
            Err(e) => {
                let (type_name, status) = match e {
                    crate::secrets::ResolveError::Internal(_) => {
                        ("ServerException", StatusCode::INTERNAL_SERVER_ERROR)
                    }
                    _ => ("ResourceInitializationError", StatusCode::BAD_REQUEST),
                };
                Err(ApiError { type_name: type_name.into(), message: e.to_string(), status })
            }
        }
    })
    .await
}

async fn logs_prepare(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let state = &state;
    guarded(state, &headers, &body, |r: PrepareLogs| async move {
        logs::agent::prepare_stream(state, &r.destination, r.create_group).await?;
        Ok(StatusCode::NO_CONTENT.into_response())
    })
    .await
}

async fn logs_ship(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let state = &state;
    guarded(state, &headers, &body, |batch: LogBatch| async move {
        let events = batch.events.into_iter().map(|e| (e.timestamp, e.message)).collect();
        logs::agent::append(state, &batch.destination, events, batch.cursor).await?;
        Ok(StatusCode::NO_CONTENT.into_response())
    })
    .await
}

async fn logs_cursor(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let state = &state;
    guarded(state, &headers, &body, |destination: LogDestination| async move {
        let cursor = logs::agent::cursor(state, &destination).await?;
        Ok(json(&serde_json::json!({ "cursor": cursor })))
    })
    .await
}

async fn pull_progress(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let state = &state;
    guarded(state, &headers, &body, |report: PullProgressReport| async move {
        state.pulls.record(report, state.clock.now_millis());
        Ok(StatusCode::NO_CONTENT.into_response())
    })
    .await
}
