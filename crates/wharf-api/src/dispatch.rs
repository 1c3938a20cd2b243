//! Routes a request to its service by the `X-Amz-Target` header, and serves
//! Wharf's own endpoints beside the AWS ones.

use std::time::Instant;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use std::sync::Arc;

use http::{HeaderMap, Method, StatusCode, Uri};
use wharf_auth::{sigv4 as verify, AuthError, Caller};

use crate::audit::CallFacts;
use crate::context::{AppState, Ctx};
use crate::metrics::UNKNOWN_OPERATION;
use crate::protocol::{self, ApiError};
use crate::{
    acm, audit, authz, body_limit, cloudwatch, codedeploy, ec2, ecs, elbv2, logs, query,
    request_id, secretsmanager, servicediscovery, sigv4, ssm, sts,
};

/// The `X-Amz-Target` prefix of Amazon ECS.
pub const ECS_TARGET_PREFIX: &str = "AmazonEC2ContainerServiceV20141113";
/// The `X-Amz-Target` prefix of AWS Systems Manager (Parameter Store).
pub const SSM_TARGET_PREFIX: &str = "AmazonSSM";
/// The `X-Amz-Target` prefix of Amazon CloudWatch Logs.
pub const LOGS_TARGET_PREFIX: &str = "Logs_20140328";
/// The `X-Amz-Target` prefix of AWS Cloud Map.
pub const SERVICE_DISCOVERY_TARGET_PREFIX: &str = "Route53AutoNaming_v20170314";
/// The `X-Amz-Target` prefix of AWS Secrets Manager.
pub const SECRETS_MANAGER_TARGET_PREFIX: &str = "secretsmanager";

/// The `X-Amz-Target` prefix of AWS Certificate Manager.
pub const ACM_TARGET_PREFIX: &str = "CertificateManager";

/// The `X-Amz-Target` prefix of AWS CodeDeploy.
pub const CODEDEPLOY_TARGET_PREFIX: &str = "CodeDeploy_20141006";

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

async fn aws(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    peer: Option<axum::Extension<axum::extract::ConnectInfo<std::net::SocketAddr>>>,
    body: axum::body::Body,
) -> Response {
    let source = peer.map(|axum::Extension(axum::extract::ConnectInfo(a))| a);
    let started = Instant::now();
    let request_id = request_id::next();
    let target = headers.get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or("");
    let form = target.is_empty() && is_form(&headers);
    let body = match body_limit::read(&headers, body).await {
        Ok(body) => body,
        Err(e) => return too_large(&state, &request_id, form, e, started),
    };
    let caller = match authenticate(&state, &method, &uri, &headers, &body) {
        Ok(caller) => caller,
        Err(e) => {
            let service = if form { "query" } else { "json" };
            state.metrics.record(service, UNKNOWN_OPERATION, e.json_type(), started.elapsed());
            tracing::debug!(error = e.json_type(), "request not authenticated");
            return if form {
                query_error(&request_id, wharf_model::elbv2::XML_NAMESPACE, &AuthRefusal(&e))
            } else {
                protocol::error(&request_id, &auth_error(&e))
            };
        }
    };
    let region = match &caller {
        Some(c) => c.region.clone(),
        None => sigv4::region(&headers).unwrap_or(sigv4::DEFAULT_REGION).to_owned(),
    };
    // HTTP/2 names the host in the URI's authority, not in a Host header.
    let host = headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| uri.authority().map(|a| a.to_string()));
    let ctx = Ctx { state, region, request_id, caller, host };
    let user_agent = headers.get(http::header::USER_AGENT).and_then(|v| v.to_str().ok());
    let origin = Origin { source, user_agent };
    if form {
        return Box::pin(query_request(&ctx, &body, started, origin)).await;
    }
    let (service, op) = match target.split_once('.') {
        Some((ECS_TARGET_PREFIX, op)) => ("ecs", op),
        Some((SSM_TARGET_PREFIX, op)) => ("ssm", op),
        Some((LOGS_TARGET_PREFIX, op)) => ("logs", op),
        Some((SECRETS_MANAGER_TARGET_PREFIX, op)) => ("secretsmanager", op),
        Some((SERVICE_DISCOVERY_TARGET_PREFIX, op)) => ("servicediscovery", op),
        Some((CODEDEPLOY_TARGET_PREFIX, op)) => ("codedeploy", op),
        Some((crate::wharf_ops_api::TARGET_PREFIX, op)) => ("wharf", op),
        Some((crate::application_autoscaling::TARGET_PREFIX, op)) => {
            ("application-autoscaling", op)
        }
        Some((ACM_TARGET_PREFIX, op)) => ("acm", op),
        Some((wharf_model::cloudwatch::TARGET_PREFIX, op)) => ("cloudwatch", op),
        _ => ("unknown", UNKNOWN_OPERATION),
    };
    if !admitted(&ctx, service, op) {
        ctx.state.metrics.record(service, op, "ThrottlingException", started.elapsed());
        return protocol::error(&ctx.request_id, &throttled());
    }
    let allowed = match &ctx.caller {
        Some(caller) if service != "unknown" => {
            Box::pin(permit(&ctx, caller, service, op, &body)).await.map(Some)
        }
        _ => Ok(None),
    };
    let mut named = None;
    let result = match allowed {
        Err(e) => Err(auth_error(&e)),
        Ok(resources) => {
            named = resources;
            match service {
                "ecs" => ecs::handle(&ctx, op, &body).await,
                "ssm" => ssm::handle(&ctx, op, &body).await,
                "logs" => logs::handle(&ctx, op, &body).await,
                "secretsmanager" => secretsmanager::handle(&ctx, op, &body).await,
                "servicediscovery" => servicediscovery::handle(&ctx, op, &body).await,
                "codedeploy" => codedeploy::handle(&ctx, op, &body).await,
                "wharf" => Box::pin(crate::wharf_ops_api::handle(&ctx, op, &body)).await,
                "application-autoscaling" => {
                    crate::application_autoscaling::handle(&ctx, op, &body).await
                }
                "acm" => acm::handle(&ctx, op, &body).await,
                "cloudwatch" => cloudwatch::handle(&ctx, op, &body).await,
                _ => Err(ApiError::unknown_operation()),
            }
        }
    };
    let (operation, outcome) = match &result {
        Ok(_) => (op, "200"),
        Err(e) if e.type_name == ApiError::unknown_operation().type_name => {
            (UNKNOWN_OPERATION, &*e.type_name)
        }
        Err(e) => (op, &*e.type_name),
    };
    ctx.state.metrics.record(service, operation, outcome, started.elapsed());
    if ctx.state.audit.is_some() && service != "unknown" {
        let error = result.as_ref().err().map(|e| (&*e.type_name, e.message.as_str()));
        let facts =
            CallFacts { resources: named.as_deref(), ..origin.facts(service, op, &body, error) };
        Box::pin(audit::record(&ctx, facts)).await;
    }
    let mut response = match result {
        Ok(body) => protocol::ok(&ctx.request_id, body),
        Err(e) => {
            tracing::debug!(target, error = %e.type_name, message = %e.message, "request refused");
            protocol::error(&ctx.request_id, &e)
        }
    };
    if service == "cloudwatch" {
        json_1_0(&mut response);
    }
    response
}

/// CloudWatch speaks AWS JSON 1.0 (its content type), and gives its errors'
/// Query codes in `x-amzn-query-error` (the SDKs read the code there).
fn json_1_0(response: &mut Response) {
    let h = response.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/x-amz-json-1.0"),
    );
    let code = h
        .get("x-amzn-errortype")
        .and_then(|v| v.to_str().ok())
        .and_then(cloudwatch::query_error_header);
    if let Some(v) = code.and_then(|c| http::HeaderValue::from_str(&c).ok()) {
        h.insert("x-amzn-query-error", v);
    }
}

/// The answer to a body over the limit (or one that broke off).
fn too_large(
    state: &AppState,
    request_id: &str,
    form: bool,
    e: body_limit::BodyError,
    started: Instant,
) -> Response {
    let (code, status) = match e {
        body_limit::BodyError::TooLarge { .. } => {
            ("RequestEntityTooLargeException", StatusCode::PAYLOAD_TOO_LARGE)
        }
        body_limit::BodyError::Broken => ("SerializationException", StatusCode::BAD_REQUEST),
    };
    let message = match e {
        body_limit::BodyError::TooLarge { .. } => body_limit::BodyError::message(),
        body_limit::BodyError::Broken => "The request body could not be read.".to_owned(),
    };
    state.metrics.record(
        if form { "query" } else { "json" },
        UNKNOWN_OPERATION,
        code,
        started.elapsed(),
    );
    let mut response = if form {
        let doc = query::error_document(
            wharf_model::elbv2::XML_NAMESPACE,
            "Sender",
            code.trim_end_matches("Exception"),
            &message,
            request_id,
        );
        query_response(request_id, status, doc)
    } else {
        protocol::error(request_id, &ApiError { type_name: code.into(), message, status })
    };
    if e == (body_limit::BodyError::TooLarge { drained: false }) {
        response
            .headers_mut()
            .insert(http::header::CONNECTION, http::HeaderValue::from_static("close"));
    }
    response
}

/// Where a request came from, for the audit trail.
#[derive(Debug, Clone, Copy)]
struct Origin<'a> {
    source: Option<std::net::SocketAddr>,
    user_agent: Option<&'a str>,
}

impl<'a> Origin<'a> {
    fn facts<'b>(
        &self,
        service: &'b str,
        op: &'b str,
        body: &'b [u8],
        error: Option<(&'b str, &'b str)>,
    ) -> audit::CallFacts<'b>
    where
        'a: 'b,
    {
        audit::CallFacts {
            service,
            op,
            body,
            source: self.source,
            user_agent: self.user_agent,
            error,
            resources: None,
        }
    }
}

/// Whether the caller's token bucket for this operation has a token (always,
/// when the server does not throttle).
fn admitted(ctx: &Ctx, service: &str, op: &str) -> bool {
    let Some(throttle) = &ctx.state.throttle else { return true };
    let principal = match &ctx.caller {
        Some(c) => c.arn.as_str(),
        None => "",
    };
    throttle.admit(principal, service, op, ctx.state.ops.clock.now_millis())
}

/// ECS's answer to a throttled call.
fn throttled() -> ApiError {
    ApiError {
        type_name: "ThrottlingException".into(),
        message: "Rate exceeded".into(),
        status: StatusCode::BAD_REQUEST,
    }
}

/// Guards one of Wharf's own read endpoints (`GET /_wharf/v1/...`) on a
/// server that checks signatures: the request must be signed (for any
/// service) by a caller allowed `action` on every resource. The refusal, as
/// the JSON services send it, when it is not.
pub(crate) fn refused_read(
    state: &AppState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    action: &str,
) -> Option<Response> {
    let checked = authenticate(state, method, uri, headers, b"").and_then(|caller| match caller {
        Some(c) => authz::authorize_action(&c, &c.region, action),
        None => Ok(()),
    });
    checked.err().map(|e| protocol::error(&request_id::next(), &auth_error(&e)))
}

/// The signer of a request, when the server checks signatures (`Ok(None)`
/// when it does not).
fn authenticate(
    state: &AppState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Option<Arc<Caller>>, AuthError> {
    let Some(auth) = &state.auth else { return Ok(None) };
    let request = verify::Request {
        method: method.as_str(),
        path: uri.path(),
        query: uri.query().unwrap_or(""),
        headers,
        authority: uri.authority().map(|a| a.as_str()),
        body,
    };
    let now = state.ops.clock.now_millis().div_euclid(1000);
    auth.authenticate(&request, now).map(Some)
}

/// The caller's credential is scoped to the service called, and its
/// policies allow the operation; the resources it names, for the audit.
async fn permit(
    ctx: &Ctx,
    caller: &Caller,
    service: &str,
    op: &str,
    body: &[u8],
) -> Result<Vec<String>, AuthError> {
    let expected = authz::signing_name(service);
    if caller.service != expected {
        return Err(AuthError::WrongScope(format!(
            "Credential should be scoped to correct service: '{expected}'. "
        )));
    }
    authz::authorize(ctx, caller, service, op, body).await
}

/// A refusal as the JSON services send it.
fn auth_error(e: &AuthError) -> ApiError {
    ApiError {
        type_name: e.json_type().into(),
        message: e.to_string(),
        status: StatusCode::from_u16(e.json_status()).unwrap_or(StatusCode::BAD_REQUEST),
    }
}

/// An error as a Query service writes it.
trait QueryError {
    fn code(&self) -> &str;
    fn status(&self) -> u16;
    fn message(&self) -> String;
    fn fault(&self) -> &'static str {
        if self.status() >= 500 {
            "Receiver"
        } else {
            "Sender"
        }
    }
}

struct AuthRefusal<'a>(&'a AuthError);

impl QueryError for AuthRefusal<'_> {
    fn code(&self) -> &str {
        self.0.query_code()
    }
    fn status(&self) -> u16 {
        self.0.query_status()
    }
    fn message(&self) -> String {
        self.0.query_message()
    }
}

impl QueryError for sts::StsError {
    fn code(&self) -> &str {
        self.code
    }
    fn status(&self) -> u16 {
        self.status
    }
    fn message(&self) -> String {
        self.message.clone()
    }
}

fn query_error(request_id: &str, namespace: &str, e: &dyn QueryError) -> Response {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let doc = query::error_document(namespace, e.fault(), e.code(), &e.message(), request_id);
    query_response(request_id, status, doc)
}

fn query_response(request_id: &str, status: StatusCode, xml: String) -> Response {
    let mut response = (status, xml).into_response();
    let h = response.headers_mut();
    h.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static(query::CONTENT_TYPE));
    if let Ok(v) = http::HeaderValue::from_str(request_id) {
        h.insert("x-amzn-requestid", v);
    }
    response
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
async fn query_request(ctx: &Ctx, body: &[u8], started: Instant, origin: Origin<'_>) -> Response {
    use wharf_model::elbv2::{ElbError, ElbErrorKind, API_VERSION, XML_NAMESPACE};
    let params = query::params(body);
    let get = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let action = get("Action").unwrap_or("");
    if sts::ACTIONS.contains(&action) || get("Version") == Some(sts::API_VERSION) {
        let (response, error) = sts_request(ctx, action, &params, started);
        let error = error.as_ref().map(|(code, message)| (code.as_str(), message.as_str()));
        audit::record(ctx, origin.facts("sts", action, body, error)).await;
        return response;
    }
    if get("Version") == Some(wharf_model::ec2::API_VERSION) {
        let action = action.to_owned();
        return ec2_request(ctx, &action, params.clone(), body, started, origin).await;
    }
    if !admitted(ctx, "elbv2", action) {
        ctx.state.metrics.record("elbv2", action, "Throttling", started.elapsed());
        let e = sts::StsError { code: "Throttling", status: 400, message: "Rate exceeded".into() };
        return query_error(&ctx.request_id, XML_NAMESPACE, &e);
    }
    let mut named = None;
    if let Some(caller) = &ctx.caller {
        match permit(ctx, caller, "elbv2", action, body).await {
            Ok(resources) => named = Some(resources),
            Err(e) => {
                ctx.state.metrics.record("elbv2", action, e.query_code(), started.elapsed());
                return query_error(&ctx.request_id, XML_NAMESPACE, &AuthRefusal(&e));
            }
        }
    }
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
    let error = result.as_ref().err().map(|e| (e.kind.code(), e.message.as_str()));
    let facts =
        CallFacts { resources: named.as_deref(), ..origin.facts("elbv2", action, body, error) };
    audit::record(ctx, facts).await;
    match result {
        Ok(xml) => query_response(&ctx.request_id, StatusCode::OK, xml),
        Err(e) => {
            tracing::debug!(action, error = e.kind.code(), message = %e.message, "request refused");
            query_error(&ctx.request_id, XML_NAMESPACE, &e)
        }
    }
}

impl QueryError for wharf_model::elbv2::ElbError {
    fn code(&self) -> &str {
        self.kind.code()
    }
    fn status(&self) -> u16 {
        self.kind.http_status()
    }
    fn message(&self) -> String {
        self.message.clone()
    }
    fn fault(&self) -> &'static str {
        self.kind.fault()
    }
}

/// An EC2 request (its `Version` is EC2's): throttled, authorised as
/// `ec2:<Action>`, answered in EC2's XML.
async fn ec2_request(
    ctx: &Ctx,
    action: &str,
    params: Vec<(String, String)>,
    body: &[u8],
    started: Instant,
    origin: Origin<'_>,
) -> Response {
    use wharf_model::ec2::Ec2Error;
    let refused = |e: Ec2Error| {
        let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
        query_response(&ctx.request_id, status, ec2::error_document(&e, &ctx.request_id))
    };
    if !admitted(ctx, "ec2", action) {
        ctx.state.metrics.record("ec2", action, "RequestLimitExceeded", started.elapsed());
        return refused(Ec2Error::new("RequestLimitExceeded", "Request limit exceeded."));
    }
    let mut named = None;
    if let Some(caller) = &ctx.caller {
        match permit(ctx, caller, "ec2", action, body).await {
            Ok(resources) => named = Some(resources),
            Err(e) => {
                ctx.state.metrics.record("ec2", action, e.query_code(), started.elapsed());
                let code = match e.query_code() {
                    "AccessDenied" => "UnauthorizedOperation",
                    other => other,
                };
                return refused(Ec2Error {
                    code: code.into(),
                    status: 403,
                    message: e.query_message(),
                });
            }
        }
    }
    let result = ec2::handle(ctx, action, params).await;
    let (operation, outcome) = match &result {
        Ok(_) => (action, "200"),
        Err(e) if e.code == "InvalidAction" => (UNKNOWN_OPERATION, "InvalidAction"),
        Err(e) => (action, e.code.as_str()),
    };
    ctx.state.metrics.record("ec2", operation, outcome, started.elapsed());
    let error = result.as_ref().err().map(|e| (e.code.as_str(), e.message.as_str()));
    let facts =
        CallFacts { resources: named.as_deref(), ..origin.facts("ec2", action, body, error) };
    audit::record(ctx, facts).await;
    match result {
        Ok(xml) => query_response(&ctx.request_id, StatusCode::OK, xml),
        Err(e) => {
            tracing::debug!(action, error = %e.code, message = %e.message, "request refused");
            refused(e)
        }
    }
}

/// An STS request (GetCallerIdentity needs no permission, as in AWS; the
/// credential must still be scoped to `sts`): the answer, and the error code
/// and message for the audit trail.
fn sts_request(
    ctx: &Ctx,
    action: &str,
    params: &[(String, String)],
    started: Instant,
) -> (Response, Option<(String, String)>) {
    let scoped = match &ctx.caller {
        Some(c) if c.service != "sts" => Err(AuthError::WrongScope(
            "Credential should be scoped to correct service: 'sts'. ".into(),
        )),
        _ => Ok(()),
    };
    if let Err(e) = scoped {
        ctx.state.metrics.record("sts", action, e.query_code(), started.elapsed());
        let error = (e.query_code().to_owned(), e.query_message());
        return (query_error(&ctx.request_id, sts::XML_NAMESPACE, &AuthRefusal(&e)), Some(error));
    }
    let result = sts::handle(ctx, action, params);
    let outcome = match &result {
        Ok(_) => "200",
        Err(e) => e.code,
    };
    ctx.state.metrics.record("sts", action, outcome, started.elapsed());
    match result {
        Ok(xml) => (query_response(&ctx.request_id, StatusCode::OK, xml), None),
        Err(e) => {
            let error = (e.code.to_owned(), e.message.clone());
            (query_error(&ctx.request_id, sts::XML_NAMESPACE, &e), Some(error))
        }
    }
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
