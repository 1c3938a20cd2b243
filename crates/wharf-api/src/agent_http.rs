//! The agent link over HTTP, for agents on other hosts (`wharf agent`):
//! the calls of [`crate::agent_link`] as JSON requests under
//! `/_wharf/agent/v1/`, and the assignment watch as a streamed response of
//! newline-delimited JSON that stays open for as long as the agent listens.
//!
//! When the server has a credentials file, every request must be SigV4-signed
//! (service `ecs`) by a principal whose policies allow the agent operation
//! on the agent's own cluster: `ecs:RegisterContainerInstance` (register),
//! `ecs:Poll` (watch, secrets), `ecs:SubmitTaskStateChange` (report, pull
//! progress) and `logs:CreateLogStream`/`logs:PutLogEvents`/`logs:GetLogEvents`
//! (log shipping) — see `agent_check`. Otherwise, when the server has an
//! agent token, every request must carry it as `Authorization: Bearer <token>`.

use axum::body::Body;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode, Uri};
use serde::Deserialize;
use wharf_auth::policy::{self, Context, Decision};
use wharf_auth::AuthError;
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
        .route("/_wharf/agent/v1/role-credentials", post(role_credentials))
        .route("/_wharf/agent/v1/task-secret", post(task_secret))
        .route("/_wharf/agent/v1/execution-check", post(execution_check))
        .route("/_wharf/agent/v1/exec-session", post(exec_session))
        .route("/_wharf/agent/v1/dns-table", post(dns_table))
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

/// A task's role credentials to mint.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RoleCredentialsRequest {
    task_arn: String,
    kind: wharf_model::agent::RoleKind,
}

/// A task's secret to resolve with its execution role.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TaskSecretRequest {
    task_arn: String,
    value_from: String,
}

/// Whether a task's execution role may do something.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExecutionCheck {
    task_arn: String,
    action: String,
    resource: String,
}

/// An exec session's token a client presented to the agent.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExecSessionRequest {
    session_id: String,
    token_value: String,
}

/// A log stream to make ready before its container starts.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PrepareLogs {
    destination: LogDestination,
    #[serde(default)]
    create_group: bool,
}

/// What an agent request asks to do, as IAM sees it.
#[derive(Debug, Clone, Copy)]
enum AgentOp {
    Register,
    Watch,
    Heartbeat,
    Report,
    Secret,
    Logs(&'static str),
    PullProgress,
}

/// The IAM check of an agent operation at `place` (the cluster the agent
/// named; for `register`, the cluster in its request).
fn agent_check(state: &AppState, op: AgentOp, place: &Place, body: &[u8]) -> Context {
    let scope = wharf_model::arn::Scope { region: &place.region, account: &state.ops.account_id };
    let named = |c: &str| if c.is_empty() { "default".to_owned() } else { c.to_owned() };
    let cluster_name = named(&place.cluster);
    let cluster = scope.cluster_arn(&cluster_name);
    match op {
        AgentOp::Register => {
            let requested = serde_json::from_slice::<serde_json::Value>(body)
                .ok()
                .and_then(|v| v.get("cluster").and_then(|c| c.as_str()).map(str::to_owned))
                .unwrap_or_else(|| cluster_name.clone());
            let arn = if requested.starts_with("arn:") {
                requested
            } else {
                scope.cluster_arn(&requested)
            };
            Context::new("ecs:RegisterContainerInstance", arn)
        }
        AgentOp::Watch | AgentOp::Heartbeat => {
            Context::new("ecs:Poll", scope.container_instance_arn(&cluster_name, &place.instance))
                .with("ecs:cluster", cluster)
        }
        AgentOp::Secret => Context::new("ecs:Poll", cluster.clone()).with("ecs:cluster", cluster),
        AgentOp::Report | AgentOp::PullProgress => {
            Context::new("ecs:SubmitTaskStateChange", cluster.clone()).with("ecs:cluster", cluster)
        }
        AgentOp::Logs(action) => {
            let group = serde_json::from_slice::<serde_json::Value>(body)
                .ok()
                .and_then(|v| {
                    let d = v.get("destination").unwrap_or(&v);
                    d.get("group").and_then(|g| g.as_str()).map(str::to_owned)
                })
                .unwrap_or_default();
            Context::new(
                action,
                format!(
                    "arn:aws:logs:{}:{}:log-group:{group}:*",
                    place.region, state.ops.account_id
                ),
            )
        }
    }
}

/// Admits an agent request: its SigV4 signature and its policy when the
/// server has credentials, else its token when the server has one. The
/// refusal, if any.
fn admit(
    state: &AppState,
    op: AgentOp,
    place: &Place,
    request: &AgentRequest<'_>,
) -> Option<Response> {
    if state.auth.is_none() {
        return denied(state, request.headers);
    }
    match refusal(state, op, place, request) {
        Ok(()) => None,
        Err(e) => Some(failure(&ApiError {
            type_name: e.json_type().into(),
            message: e.to_string(),
            status: StatusCode::from_u16(e.json_status()).unwrap_or(StatusCode::FORBIDDEN),
        })),
    }
}

fn refusal(
    state: &AppState,
    op: AgentOp,
    place: &Place,
    request: &AgentRequest<'_>,
) -> Result<(), AuthError> {
    let Some(auth) = &state.auth else { return Ok(()) };
    let signed = wharf_auth::sigv4::Request {
        method: request.method.as_str(),
        path: request.uri.path(),
        query: request.uri.query().unwrap_or(""),
        headers: request.headers,
        authority: request.uri.authority().map(|a| a.as_str()),
        body: request.body,
    };
    let caller = auth.authenticate(&signed, state.ops.clock.now_millis().div_euclid(1000))?;
    if caller.service != "ecs" {
        return Err(AuthError::WrongScope(
            "Credential should be scoped to correct service: 'ecs'. ".into(),
        ));
    }
    let check = agent_check(state, op, place, request.body);
    let decision = policy::evaluate(&caller.principal.policies, &check);
    if decision != Decision::Allow {
        return Err(AuthError::AccessDenied(policy::denied_message(&caller.arn, &check, decision)));
    }
    Ok(())
}

/// The parts of an agent request its signature covers.
struct AgentRequest<'a> {
    method: &'a Method,
    uri: &'a Uri,
    headers: &'a HeaderMap,
    body: &'a [u8],
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

/// Admits the request, reads the JSON body and runs `f` on it; its answer
/// or the error's.
async fn guarded<T, F, Fut>(
    state: &AppState,
    op: AgentOp,
    place: &Place,
    request: AgentRequest<'_>,
    f: F,
) -> Response
where
    T: serde::de::DeserializeOwned,
    F: FnOnce(T) -> Fut,
    Fut: std::future::Future<Output = Result<Response, ApiError>>,
{
    if let Some(r) = admit(state, op, place, &request) {
        return r;
    }
    let body = request.body;
    let request = match protocol::parse(body) {
        Ok(r) => r,
        Err(e) => return failure(&e),
    };
    f(request).await.unwrap_or_else(|e| failure(&e))
}

async fn register(
    State(state): State<AppState>,
    Query(place): Query<Place>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (state, place) = (&state, &place);
    guarded(
        state,
        AgentOp::Register,
        place,
        AgentRequest { method: &method, uri: &uri, headers: &headers, body: &body },
        |request: RegisterContainerInstanceRequest| async move {
            Ok(json(&agent_link::register(state, &place.region, request).await?))
        },
    )
    .await
}

async fn watch(
    State(state): State<AppState>,
    Query(place): Query<Place>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let request = AgentRequest { method: &method, uri: &uri, headers: &headers, body: &[] };
    if let Some(r) = admit(&state, AgentOp::Watch, &place, &request) {
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
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (state, place) = (&state, &place);
    guarded(
        state,
        AgentOp::Heartbeat,
        place,
        AgentRequest { method: &method, uri: &uri, headers: &headers, body: &body },
        |beat: Heartbeat| async move {
            let reply =
                agent_link::heartbeat(state, &place.region, &place.cluster, &place.instance, beat)
                    .await?;
            Ok(json(&reply))
        },
    )
    .await
}

async fn report(
    State(state): State<AppState>,
    Query(place): Query<Place>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (state, place) = (&state, &place);
    guarded(
        state,
        AgentOp::Report,
        place,
        AgentRequest { method: &method, uri: &uri, headers: &headers, body: &body },
        |change: Task| async move {
            agent_link::report(state, &place.region, &place.cluster, change).await?;
            Ok(StatusCode::NO_CONTENT.into_response())
        },
    )
    .await
}

async fn secret(
    State(state): State<AppState>,
    Query(place): Query<Place>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (state, place) = (&state, &place);
    guarded(
        state,
        AgentOp::Secret,
        place,
        AgentRequest { method: &method, uri: &uri, headers: &headers, body: &body },
        |request: SecretRequest| async move {
            let now = state.ops.clock.now();
            match crate::secrets::resolve(
                &*state.ops.store,
                &place.region,
                &request.value_from,
                now,
            )
            .await
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
        },
    )
    .await
}

async fn logs_prepare(
    State(state): State<AppState>,
    Query(place): Query<Place>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let place = &place;
    let state = &state;
    guarded(
        state,
        AgentOp::Logs("logs:CreateLogStream"),
        place,
        AgentRequest { method: &method, uri: &uri, headers: &headers, body: &body },
        |r: PrepareLogs| async move {
            logs::agent::prepare_stream(state, &r.destination, r.create_group).await?;
            Ok(StatusCode::NO_CONTENT.into_response())
        },
    )
    .await
}

async fn logs_ship(
    State(state): State<AppState>,
    Query(place): Query<Place>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let place = &place;
    let state = &state;
    guarded(
        state,
        AgentOp::Logs("logs:PutLogEvents"),
        place,
        AgentRequest { method: &method, uri: &uri, headers: &headers, body: &body },
        |batch: LogBatch| async move {
            let events = batch.events.into_iter().map(|e| (e.timestamp, e.message)).collect();
            logs::agent::append(state, &batch.destination, events, batch.cursor, batch.after)
                .await?;
            Ok(StatusCode::NO_CONTENT.into_response())
        },
    )
    .await
}

async fn logs_cursor(
    State(state): State<AppState>,
    Query(place): Query<Place>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let place = &place;
    let state = &state;
    guarded(
        state,
        AgentOp::Logs("logs:GetLogEvents"),
        place,
        AgentRequest { method: &method, uri: &uri, headers: &headers, body: &body },
        |destination: LogDestination| async move {
            let cursor = logs::agent::cursor(state, &destination).await?;
            Ok(json(&serde_json::json!({ "cursor": cursor })))
        },
    )
    .await
}

async fn pull_progress(
    State(state): State<AppState>,
    Query(place): Query<Place>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let place = &place;
    let state = &state;
    guarded(
        state,
        AgentOp::PullProgress,
        place,
        AgentRequest { method: &method, uri: &uri, headers: &headers, body: &body },
        |report: PullProgressReport| async move {
            state.pulls.record(report, state.ops.clock.now_millis());
            Ok(StatusCode::NO_CONTENT.into_response())
        },
    )
    .await
}

async fn role_credentials(
    State(state): State<AppState>,
    Query(place): Query<Place>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (state, place) = (&state, &place);
    let request = AgentRequest { method: &method, uri: &uri, headers: &headers, body: &body };
    guarded(state, AgentOp::Secret, place, request, |r: RoleCredentialsRequest| async move {
        let c = crate::task_roles::role_credentials(
            state,
            &place.region,
            &place.cluster,
            &r.task_arn,
            r.kind,
        )
        .await?;
        Ok(json(&c))
    })
    .await
}

async fn task_secret(
    State(state): State<AppState>,
    Query(place): Query<Place>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (state, place) = (&state, &place);
    let request = AgentRequest { method: &method, uri: &uri, headers: &headers, body: &body };
    guarded(state, AgentOp::Secret, place, request, |r: TaskSecretRequest| async move {
        let value = crate::task_roles::resolve_task_secret(
            state,
            &place.region,
            &place.cluster,
            &r.task_arn,
            &r.value_from,
        )
        .await?;
        Ok(json(&serde_json::json!({ "value": value })))
    })
    .await
}

async fn execution_check(
    State(state): State<AppState>,
    Query(place): Query<Place>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (state, place) = (&state, &place);
    let request = AgentRequest { method: &method, uri: &uri, headers: &headers, body: &body };
    guarded(state, AgentOp::Secret, place, request, |r: ExecutionCheck| async move {
        crate::task_roles::check_execution_role(
            state,
            &place.region,
            &place.cluster,
            &r.task_arn,
            &r.action,
            &r.resource,
        )
        .await?;
        Ok(StatusCode::NO_CONTENT.into_response())
    })
    .await
}

async fn exec_session(
    State(state): State<AppState>,
    Query(place): Query<Place>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (state, place) = (&state, &place);
    let request = AgentRequest { method: &method, uri: &uri, headers: &headers, body: &body };
    // The agent proves it is the instance, as its watch and heartbeats do.
    guarded(state, AgentOp::Heartbeat, place, request, |r: ExecSessionRequest| async move {
        let scope =
            wharf_model::arn::Scope { region: &place.region, account: &state.ops.account_id };
        let instance = scope.container_instance_arn(&place.cluster, &place.instance);
        let grant =
            crate::exec::open(state, &place.region, &instance, &r.session_id, &r.token_value)
                .await?;
        Ok(json(&grant))
    })
    .await
}

async fn dns_table(
    State(state): State<AppState>,
    Query(place): Query<Place>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (state, place) = (&state, &place);
    let request = AgentRequest { method: &method, uri: &uri, headers: &headers, body: &body };
    guarded(state, AgentOp::Secret, place, request, |_: serde_json::Value| async move {
        let table = wharf_ops::discovery::dns_table(&state.ops)
            .await
            .map_err(|e| ApiError::from(wharf_model::EcsError::server(e.message)))?;
        Ok(json(&table))
    })
    .await
}
