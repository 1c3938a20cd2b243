//! Application Auto Scaling for ECS services (`ecs:service:DesiredCount`):
//! the wire shapes, the error type, the checks and names
//! ([`rules`]), what is kept per scalable target ([`record`]), how target
//! tracking decides ([`policy`]), what step scaling asks ([`step`]) and
//! when scheduled actions run ([`schedule`]).

pub mod policy;
pub mod record;
pub mod rules;
pub mod schedule;
pub mod shapes;
pub mod step;

use shapes::EXCEPTIONS;

/// An Application Auto Scaling exception, by wire name (one of
/// [`EXCEPTIONS`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScalingErrorKind(&'static str);

impl ScalingErrorKind {
    /// The `__type` this exception carries on the wire.
    pub fn wire_name(self) -> &'static str {
        self.0
    }

    /// The HTTP status: 400, or 500 for the service's own failure.
    pub fn http_status(self) -> u16 {
        if self.0 == "InternalServiceException" {
            500
        } else {
            400
        }
    }
}

/// An Application Auto Scaling error: which exception, and its message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", kind.wire_name())]
pub struct ScalingError {
    /// Which exception.
    pub kind: ScalingErrorKind,
    /// The message, naming what is wrong.
    pub message: String,
}

impl ScalingError {
    /// An error of the exception named `code`, one the model declares.
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        debug_assert!(EXCEPTIONS.contains(&code), "{code}");
        Self { kind: ScalingErrorKind(code), message: message.into() }
    }

    /// `ValidationException`.
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new("ValidationException", message)
    }

    /// `ObjectNotFoundException`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new("ObjectNotFoundException", message)
    }

    /// Wharf failed: `InternalServiceException`.
    pub fn internal() -> Self {
        Self::new("InternalServiceException", "Wharf could not complete the request.")
    }
}
