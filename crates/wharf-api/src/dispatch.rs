//! Routes a request to its service by the `X-Amz-Target` header, and serves
//! Wharf's own endpoints beside the AWS ones.

use std::time::Instant;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use bytes::Bytes;
use http::{HeaderMap, StatusCode};

use crate::context::{AppState, Ctx};
use crate::metrics::UNKNOWN_OPERATION;
use crate::protocol::{self, ApiError};
use crate::{ecs, elbv2, logs, query, request_id, secretsmanager, sigv4, ssm};

/// The `X-Amz-Target` prefix of Amazon ECS.
pub const ECS_TARGET_PREFIX: &str = "AmazonEC2ContainerServiceV20141113";
/// The `X-Amz-Target` prefix of AWS Systems Manager (Parameter Store).
pub const SSM_TARGET_PREFIX: &str = "AmazonSSM";
/// The `X-Amz-Target` prefix of Amazon CloudWatch Logs.
pub const LOGS_TARGET_PREFIX: &str = "Logs_20140328";
/// The `X-Amz-Target` prefix of AWS Secrets Manager.
pub const SECRETS_MANAGER_TARGET_PREFIX: &str = "secretsmanager";

/// The HTTP router: the AWS endpoint at `/`, plus `/_wharf/reset` when the
/// server was started with `--allow-reset`.
pub fn router(state: AppState) -> Router {
    let mut router = Router::new()
        .route("/", post(aws))
        .merge(crate::agent_http::routes())
        .merge(crate::pulls::routes())
        .merge(crate::changes::routes());
    if state.allow_reset {
        router = router.route("/_wharf/reset", post(reset));
    }
    router.with_state(state)
}

async fn aws(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let started = Instant::now();
    let request_id = request_id::next();
    let region = sigv4::region(&headers).unwrap_or(sigv4::DEFAULT_REGION).to_owned();
    let target = headers.get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or("");
    let ctx = Ctx { state, region, request_id };
    if target.is_empty() && is_form(&headers) {
        return query_request(&ctx, &body, started).await;
    }
    let (service, op, result) = match target.split_once('.') {
        Some((ECS_TARGET_PREFIX, op)) => ("ecs", op, ecs::handle(&ctx, op, &body).await),
        Some((SSM_TARGET_PREFIX, op)) => ("ssm", op, ssm::handle(&ctx, op, &body).await),
        Some((LOGS_TARGET_PREFIX, op)) => ("logs", op, logs::handle(&ctx, op, &body).await),
        Some((SECRETS_MANAGER_TARGET_PREFIX, op)) => {
            ("secretsmanager", op, secretsmanager::handle(&ctx, op, &body).await)
        }
        _ => ("unknown", UNKNOWN_OPERATION, Err(ApiError::unknown_operation())),
    };
    let (operation, outcome) = match &result {
        Ok(_) => (op, "200"),
        Err(e) if e.type_name == ApiError::unknown_operation().type_name => {
            (UNKNOWN_OPERATION, &*e.type_name)
        }
        Err(e) => (op, &*e.type_name),
    };
    ctx.state.metrics.record(service, operation, outcome, started.elapsed());
    match result {
        Ok(body) => protocol::ok(&ctx.request_id, body),
        Err(e) => {
            tracing::debug!(target, error = %e.type_name, message = %e.message, "request refused");
            protocol::error(&ctx.request_id, &e)
        }
    }
}

/// Whether a request's body is a form (`application/x-www-form-urlencoded`):
/// the Query protocol.
fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("application/x-www-form-urlencoded"))
}

/// A Query-protocol request, routed by its `Action` (ELBv2 is the one Query
/// service Wharf serves).
async fn query_request(ctx: &Ctx, body: &[u8], started: Instant) -> Response {
    use wharf_model::elbv2::{ElbError, ElbErrorKind, API_VERSION, XML_NAMESPACE};
    let params = query::params(body);
    let get = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let action = get("Action").unwrap_or("");
    let result = match (action, get("Version")) {
        ("", _) => Err(ElbError::new(ElbErrorKind::InvalidAction, "The request has no Action.")),
        (_, Some(v)) if v != API_VERSION => Err(ElbError::new(
            ElbErrorKind::InvalidAction,
            format!("Wharf serves Elastic Load Balancing API version {API_VERSION}, not {v}."),
        )),
        _ => match query::tree(&params) {
            Ok(tree) => elbv2::handle(ctx, action, &tree).await,
            Err(e) => {
                Err(ElbError::validation(format!("Invalid parameter '{}': {}", e.path, e.message)))
            }
        },
    };
    let (operation, outcome) = match &result {
        Ok(_) => (action, "200"),
        Err(e) if e.kind == ElbErrorKind::InvalidAction => (UNKNOWN_OPERATION, e.kind.code()),
        Err(e) => (action, e.kind.code()),
    };
    ctx.state.metrics.record("elbv2", operation, outcome, started.elapsed());
    let (status, xml) = match result {
        Ok(xml) => (StatusCode::OK, xml),
        Err(e) => {
            tracing::debug!(action, error = e.kind.code(), message = %e.message, "request refused");
            let status = StatusCode::from_u16(e.kind.http_status())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let doc = query::error_document(
                XML_NAMESPACE,
                e.kind.fault(),
                e.kind.code(),
                &e.message,
                &ctx.request_id,
            );
            (status, doc)
        }
    };
    let mut response = (status, xml).into_response();
    let h = response.headers_mut();
    h.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static(query::CONTENT_TYPE));
    if let Ok(v) = http::HeaderValue::from_str(&ctx.request_id) {
        h.insert("x-amzn-requestid", v);
    }
    response
}

async fn reset(State(state): State<AppState>) -> Response {
    let logs =
        state.logs.reset().await.map_err(|e| wharf_store::StoreError::Database(e.to_string()));
    match state.ops.store.reset().await.and(logs) {
        Ok(()) => {
            tracing::info!("state reset");
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "reset failed");
            (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response()
        }
    }
}
