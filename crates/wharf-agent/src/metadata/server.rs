//! The HTTP side: routes, error answers, stats.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use futures_util::future::join_all;
use serde::Serialize;

use super::credentials::CredentialsSource;
use super::registry::{now_ms, Registry};
use super::response::{self, rfc3339_seconds, CredentialsResponse, ErrorMessage, Version};
use crate::runtime::{ContainerState, Runtime};

#[derive(Clone)]
struct App {
    registry: Registry,
    runtime: Arc<dyn Runtime>,
    credentials: CredentialsSource,
}

/// The endpoints' routes, for serving on a listener of one's own (see
/// [`serve`]).
///
/// - `/v4/<token>`, `/v4/<token>/task`, `/v4/<token>/taskWithTags`,
///   `/v4/<token>/stats`, `/v4/<token>/task/stats`: task metadata v4;
/// - the same under `/v3/`: task metadata v3 (v4 without its additions);
/// - `/v2/credentials/<id>` and `/v1/credentials?id=<id>`: the task role's
///   credentials.
///
/// Anything else is `404 page not found`, as the ECS agent's router says.
pub fn router(
    registry: Registry,
    runtime: Arc<dyn Runtime>,
    credentials: CredentialsSource,
) -> Router {
    let app = App { registry, runtime, credentials };
    Router::new()
        .route("/v4/{token}", any(v4_container))
        .route("/v4/{token}/task", any(v4_task))
        .route("/v4/{token}/taskWithTags", any(v4_task_with_tags))
        .route("/v4/{token}/stats", any(v4_container_stats))
        .route("/v4/{token}/task/stats", any(v4_task_stats))
        .route("/v3/{token}", any(v3_container))
        .route("/v3/{token}/task", any(v3_task))
        .route("/v3/{token}/taskWithTags", any(v3_task_with_tags))
        .route("/v3/{token}/stats", any(v3_container_stats))
        .route("/v3/{token}/task/stats", any(v3_task_stats))
        .route("/v2/credentials/{id}", any(credentials_v2))
        .route("/v2/credentials", any(credentials_v2_without_id))
        .route("/v2/credentials/", any(credentials_v2_without_id))
        .route("/v1/credentials", any(credentials_v1))
        .fallback(not_found)
        .with_state(app)
}

/// Serves the task metadata (v3, v4) and task role credentials endpoints
/// on `listener` until the listener fails. Bind it to
/// `169.254.170.2:80` (see [`super::ensure_link_local_address`]) for
/// containers to reach it as they would on ECS.
pub async fn serve(
    listener: tokio::net::TcpListener,
    registry: Registry,
    runtime: Arc<dyn Runtime>,
    credentials: CredentialsSource,
) -> std::io::Result<()> {
    axum::serve(listener, router(registry, runtime, credentials)).await
}

/// A JSON answer, as the ECS agent writes them (`application/json`).
fn json(status: StatusCode, body: &impl Serialize) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => (status, [(header::CONTENT_TYPE, "application/json")], bytes).into_response(),
        Err(_) => {
            (StatusCode::INTERNAL_SERVER_ERROR, [(header::CONTENT_TYPE, "application/json")], "{}")
                .into_response()
        }
    }
}

async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "404 page not found\n",
    )
        .into_response()
}

fn prefix(version: Version) -> &'static str {
    match version {
        Version::V3 => "V3",
        Version::V4 => "V4",
    }
}

/// The status of a failed lookup: v4 says 404, v3 said 400.
fn lookup_status(version: Version) -> StatusCode {
    match version {
        Version::V3 => StatusCode::BAD_REQUEST,
        Version::V4 => StatusCode::NOT_FOUND,
    }
}

fn no_docker_id(version: Version, handler: &str, token: &str) -> Response {
    let message = format!(
        "{} {handler} handler: unable to get container ID from request: unable to get docker ID from v3 endpoint ID: {token}",
        prefix(version)
    );
    json(lookup_status(version), &message)
}

fn no_task(version: Version, handler: &str, token: &str) -> Response {
    let message = format!(
        "{} {handler} handler: unable to get task arn from request: unable to get task Arn from v3 endpoint ID: {token}",
        prefix(version)
    );
    json(lookup_status(version), &message)
}

/// How long a metadata request waits for Docker when it asks about a
/// container (see [`refresh`]).
const INSPECT_WITHIN: Duration = Duration::from_secs(2);

/// Asks Docker about the task's containers that it has created but the
/// registry has not seen started (`only`: one of them), and records what it
/// says: a container querying its metadata the instant it starts, before the
/// driver has recorded the start, still sees itself running, with its
/// addresses.
async fn refresh(app: &App, task_arn: &str, only: Option<&str>) {
    let pending: Vec<(String, String)> = {
        let state = app.registry.read();
        let Some(record) = state.tasks.get(task_arn) else { return };
        record
            .containers
            .iter()
            .filter(|c| only.is_none_or(|n| n == c.name))
            .filter(|c| !c.running && c.exit_code.is_none() && c.finished_at_ms.is_none())
            .filter_map(|c| Some((c.name.clone(), c.docker_id.clone()?)))
            .collect()
    };
    for (name, id) in pending {
        let inspect = tokio::time::timeout(INSPECT_WITHIN, app.runtime.inspect_container(&id));
        if let Ok(Ok(info)) = inspect.await {
            if info.id == id && info.state != ContainerState::Created {
                app.registry.observe(task_arn, &name, &info, None);
            }
        }
    }
}

/// The task ARN and container name a token belongs to.
fn owner(app: &App, token: &str) -> Option<(String, String)> {
    app.registry.read().tokens.get(token).cloned()
}

async fn container_metadata(app: &App, token: &str, version: Version) -> Response {
    if let Some((task_arn, name)) = owner(app, token) {
        refresh(app, &task_arn, Some(&name)).await;
    }
    let state = app.registry.read();
    let found = state.tokens.get(token).and_then(|(task_arn, name)| {
        let record = state.tasks.get(task_arn)?;
        let c = record.containers.iter().find(|c| &c.name == name)?;
        c.docker_id.as_ref()?;
        Some(response::container(record, c, version))
    });
    drop(state);
    match found {
        Some(body) => json(StatusCode::OK, &body),
        None => no_docker_id(version, "container metadata", token),
    }
}

async fn task_metadata(app: &App, token: &str, version: Version, with_tags: bool) -> Response {
    if let Some((task_arn, _)) = owner(app, token) {
        refresh(app, &task_arn, None).await;
    }
    let state = app.registry.read();
    let found = state
        .tokens
        .get(token)
        .and_then(|(task_arn, _)| state.tasks.get(task_arn))
        .map(|record| response::task(record, version, with_tags));
    drop(state);
    match found {
        Some(body) => json(StatusCode::OK, &body),
        None => no_task(version, "task metadata", token),
    }
}

/// Docker's stats for one container, or why not (404 for an unknown token
/// or a container Docker does not have yet, 500 when Docker fails).
async fn container_stats(app: &App, token: &str, version: Version) -> Response {
    let lookup = {
        let state = app.registry.read();
        state.tokens.get(token).map(|(task_arn, name)| {
            state
                .tasks
                .get(task_arn)
                .and_then(|r| r.containers.iter().find(|c| &c.name == name))
                .and_then(|c| c.docker_id.clone())
        })
    };
    let id = match lookup {
        None => return no_task(version, "container stats", token),
        Some(None) => return no_docker_id(version, "container stats", token),
        Some(Some(id)) => id,
    };
    match app.runtime.stats(&id).await {
        Ok(stats) => json(StatusCode::OK, &stats),
        Err(e) => {
            tracing::warn!(container = %id, error = %e, "task metadata: container stats failed");
            let status = match version {
                Version::V3 => StatusCode::BAD_REQUEST,
                Version::V4 => StatusCode::INTERNAL_SERVER_ERROR,
            };
            json(status, &format!("Unable to get container stats for: {id}"))
        }
    }
}

/// Docker's stats for each container of the task Docker has, by Docker ID;
/// `{}` for one whose stats cannot be had, as the ECS agent answers.
async fn task_stats(app: &App, token: &str, version: Version) -> Response {
    let ids: Option<Vec<String>> = {
        let state = app.registry.read();
        state
            .tokens
            .get(token)
            .and_then(|(task_arn, _)| state.tasks.get(task_arn))
            .map(|r| r.containers.iter().filter_map(|c| c.docker_id.clone()).collect())
    };
    let Some(ids) = ids else { return no_task(version, "task stats", token) };
    let runtime = &app.runtime;
    let answers = join_all(ids.iter().map(|id| runtime.stats(id))).await;
    let mut body = BTreeMap::new();
    for (id, answer) in ids.into_iter().zip(answers) {
        let stats = answer.unwrap_or_else(|e| {
            tracing::debug!(container = %id, error = %e, "task metadata: container stats failed");
            serde_json::Value::Object(serde_json::Map::new())
        });
        body.insert(id, stats);
    }
    json(StatusCode::OK, &body)
}

async fn v4_container(State(app): State<App>, Path(token): Path<String>) -> Response {
    container_metadata(&app, &token, Version::V4).await
}

async fn v4_task(State(app): State<App>, Path(token): Path<String>) -> Response {
    task_metadata(&app, &token, Version::V4, false).await
}

async fn v4_task_with_tags(State(app): State<App>, Path(token): Path<String>) -> Response {
    task_metadata(&app, &token, Version::V4, true).await
}

async fn v4_container_stats(State(app): State<App>, Path(token): Path<String>) -> Response {
    container_stats(&app, &token, Version::V4).await
}

async fn v4_task_stats(State(app): State<App>, Path(token): Path<String>) -> Response {
    task_stats(&app, &token, Version::V4).await
}

async fn v3_container(State(app): State<App>, Path(token): Path<String>) -> Response {
    container_metadata(&app, &token, Version::V3).await
}

async fn v3_task(State(app): State<App>, Path(token): Path<String>) -> Response {
    task_metadata(&app, &token, Version::V3, false).await
}

async fn v3_task_with_tags(State(app): State<App>, Path(token): Path<String>) -> Response {
    task_metadata(&app, &token, Version::V3, true).await
}

async fn v3_container_stats(State(app): State<App>, Path(token): Path<String>) -> Response {
    container_stats(&app, &token, Version::V3).await
}

async fn v3_task_stats(State(app): State<App>, Path(token): Path<String>) -> Response {
    task_stats(&app, &token, Version::V3).await
}

async fn credentials_v2(State(app): State<App>, Path(id): Path<String>) -> Response {
    credentials(&app, &id, 2).await
}

async fn credentials_v2_without_id(State(app): State<App>) -> Response {
    credentials(&app, "", 2).await
}

async fn credentials_v1(State(app): State<App>, RawQuery(query): RawQuery) -> Response {
    let id = query
        .as_deref()
        .unwrap_or_default()
        .split('&')
        .find_map(|pair| pair.strip_prefix("id="))
        .unwrap_or_default()
        .to_owned();
    credentials(&app, &id, 1).await
}

fn credentials_error(status: StatusCode, code: &'static str, message: String) -> Response {
    json(status, &ErrorMessage { code, message })
}

/// The ECS agent's `CredentialsHandlerImpl`: 400 `NoIdInRequest` without
/// an ID, 400 `InvalidIdInRequest` for an unknown one; Wharf adds 400
/// `NoCredentialsAssociated` (a code the agent defines) for a role its
/// [`CredentialsSource`] has nothing for. Secrets are never logged.
async fn credentials(app: &App, id: &str, api_version: u8) -> Response {
    let prefix = format!("CredentialsV{api_version}Request: ");
    if id.is_empty() {
        return credentials_error(
            StatusCode::BAD_REQUEST,
            "NoIdInRequest",
            format!("{prefix}No Credential ID in the request"),
        );
    }
    let found = {
        let state = app.registry.read();
        state.credentials.get(id).and_then(|task_arn| {
            let record = state.tasks.get(task_arn)?;
            Some((task_arn.clone(), record.role_arn.clone()))
        })
    };
    let Some((task_arn, role_arn)) = found else {
        tracing::info!("task credentials: unknown credentials ID");
        return credentials_error(
            StatusCode::BAD_REQUEST,
            "InvalidIdInRequest",
            format!("{prefix}Credentials not found"),
        );
    };
    let role_arn = role_arn.unwrap_or_default();
    let now = now_ms().div_euclid(1000);
    let Some(creds) = app.credentials.for_task(&task_arn, &role_arn, now).await else {
        tracing::warn!(task = %task_arn, role = %role_arn, "task credentials: none configured for the role");
        return credentials_error(
            StatusCode::BAD_REQUEST,
            "NoCredentialsAssociated",
            format!("{prefix}No credentials associated with role {role_arn}"),
        );
    };
    tracing::info!(task = %task_arn, role = %role_arn, "task credentials: served");
    let body = CredentialsResponse {
        role_arn,
        access_key_id: creds.access_key_id.clone(),
        secret_access_key: creds.secret_access_key.clone(),
        token: creds.token.clone().unwrap_or_default(),
        expiration: creds
            .expiration
            .clone()
            .unwrap_or_else(|| rfc3339_seconds(now_ms().div_euclid(1000) + 3600)),
    };
    json(StatusCode::OK, &body)
}
