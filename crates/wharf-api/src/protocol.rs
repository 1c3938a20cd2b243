//! The AWS JSON 1.1 wire format: request bodies in, answers and errors out.
//!
//! An error is `{"__type": "<Exception>", "message": "..."}` with the
//! exception's status code; every answer carries `x-amzn-RequestId`.

use std::borrow::Cow;

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;
use wharf_model::EcsError;

/// The content type of AWS JSON 1.1 bodies.
pub const CONTENT_TYPE: &str = "application/x-amz-json-1.1";

/// An error as the protocol sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The exception's wire name (`__type`).
    pub type_name: Cow<'static, str>,
    /// The message.
    pub message: String,
    /// HTTP status.
    pub status: StatusCode,
}

impl ApiError {
    /// A request body that is not valid JSON for the operation's input shape.
    pub fn serialization(message: impl Into<String>) -> Self {
        Self {
            type_name: "SerializationException".into(),
            message: message.into(),
            status: StatusCode::BAD_REQUEST,
        }
    }

    /// An operation (or target) this endpoint does not serve.
    pub fn unknown_operation() -> Self {
        Self {
            type_name: "UnknownOperationException".into(),
            message: String::new(),
            status: StatusCode::BAD_REQUEST,
        }
    }
}

/// Each service's error type becomes its exception on the wire: `kind`'s
/// wire name and status, and the message.
macro_rules! service_errors {
    ($($error:ty),* $(,)?) => {$(
        impl From<$error> for ApiError {
            fn from(e: $error) -> Self {
                Self {
                    type_name: e.kind.wire_name().into(),
                    status: StatusCode::from_u16(e.kind.http_status())
                        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                    message: e.message,
                }
            }
        }
    )*};
}

service_errors!(
    EcsError,
    wharf_model::ssm::SsmError,
    wharf_model::secretsmanager::SecretsManagerError,
    wharf_model::logs::LogsError,
    wharf_model::servicediscovery::DiscoveryError,
    wharf_model::codedeploy::CodeDeployError,
    wharf_model::application_autoscaling::ScalingError,
    wharf_model::acm::AcmError,
    wharf_model::cloudwatch::CloudWatchError,
);

impl From<wharf_store::StoreError> for ApiError {
    fn from(e: wharf_store::StoreError) -> Self {
        if !matches!(e, wharf_store::StoreError::Rejected(_)) {
            tracing::error!(error = %e, "store failure");
        }
        EcsError::from(e).into()
    }
}

/// Reads an operation's input. An empty body is an empty structure; a body
/// that does not fit the shape is a `SerializationException` naming where.
pub fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) { b"{}" } else { body };
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        // ECS's words for the mismatch, prefixed with the member it is in.
        let message = wharf_model::wire::coral_message(&inner);
        if path.is_empty() || path == "." {
            ApiError::serialization(message)
        } else {
            ApiError::serialization(format!("{path}: {message}"))
        }
    })
}

/// Writes an operation's output.
pub fn to_body<T: Serialize>(value: &T) -> Result<Vec<u8>, ApiError> {
    serde_json::to_vec(value).map_err(|e| {
        tracing::error!(error = %e, "response serialisation failed");
        ApiError::from(EcsError::server("Wharf could not write its answer."))
    })
}

fn with_headers(mut response: Response, request_id: &str) -> Response {
    let h = response.headers_mut();
    h.insert(http::header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("x-amzn-requestid", v);
    }
    response
}

/// A successful answer.
pub fn ok(request_id: &str, body: Vec<u8>) -> Response {
    with_headers((StatusCode::OK, body).into_response(), request_id)
}

/// An error answer.
pub fn error(request_id: &str, e: &ApiError) -> Response {
    #[derive(Serialize)]
    struct Body<'a> {
        #[serde(rename = "__type")]
        type_name: &'a str,
        message: &'a str,
    }
    let body = serde_json::to_vec(&Body { type_name: &e.type_name, message: &e.message })
        .unwrap_or_default();
    let mut response = with_headers((e.status, body).into_response(), request_id);
    if let Ok(v) = HeaderValue::from_str(&e.type_name) {
        response.headers_mut().insert("x-amzn-errortype", v);
    }
    response
}

/// Runs the handler an operation name maps to, through [`call`], or answers
/// `UnknownOperationException`: `operations!(ctx, op, body, { "Name" => handler, ... })`.
///
/// Each operation's future is boxed: a service's `handle` then holds one
/// pointer instead of the largest of its operations' futures (about 9 KiB
/// for ECS), which every request's future was copied with.
macro_rules! operations {
    ($ctx:expr, $op:expr, $body:expr, { $($name:literal => $handler:path,)* }) => {
        match $op {
            $($name => Box::pin($crate::protocol::call($ctx, $body, $handler)).await,)*
            _ => Err($crate::protocol::ApiError::unknown_operation()),
        }
    };
}
pub(crate) use operations;

/// Runs one operation's handler on a request body: reads the input shape,
/// runs the handler, writes the output shape. Each service's handlers return
/// their own error type, which becomes the service's error on the wire.
pub async fn call<'a, Req, Resp, E, F, Fut>(
    ctx: &'a crate::context::Ctx,
    body: &[u8],
    handler: F,
) -> Result<Vec<u8>, ApiError>
where
    Req: DeserializeOwned,
    Resp: Serialize,
    E: Into<ApiError>,
    F: FnOnce(&'a crate::context::Ctx, Req) -> Fut,
    Fut: std::future::Future<Output = Result<Resp, E>> + 'a,
{
    let req: Req = parse(body)?;
    let resp = handler(ctx, req).await.map_err(Into::into)?;
    to_body(&resp)
}

impl From<wharf_ops::OpsError> for ApiError {
    fn from(e: wharf_ops::OpsError) -> Self {
        if let wharf_ops::OpsError::Store(e) = &e {
            tracing::error!(error = %e, "store failure");
        }
        EcsError::from(e).into()
    }
}
