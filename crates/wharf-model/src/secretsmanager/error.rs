//! The Secrets Manager error type: the wire name of a Secrets Manager
//! exception plus the message it gives. Mirrors [`crate::EcsError`].

/// The exceptions Secrets Manager answers with, by wire name (botocore's
/// `secretsmanager` 2017-10-17 model; no exception declares an HTTP code, so
/// client errors are 400 and `InternalServiceError`, the model's one fault, a
/// 500). `ValidationException` is not in the model but is what AWS's request
/// validation answers for a member outside its constraints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum SecretsManagerErrorKind {
    ResourceNotFoundException,
    ResourceExistsException,
    InvalidParameterException,
    InvalidRequestException,
    InvalidNextTokenException,
    LimitExceededException,
    ValidationException,
    InternalServiceError,
}

impl SecretsManagerErrorKind {
    /// The `__type` this exception carries on the wire.
    pub fn wire_name(self) -> &'static str {
        match self {
            Self::ResourceNotFoundException => "ResourceNotFoundException",
            Self::ResourceExistsException => "ResourceExistsException",
            Self::InvalidParameterException => "InvalidParameterException",
            Self::InvalidRequestException => "InvalidRequestException",
            Self::InvalidNextTokenException => "InvalidNextTokenException",
            Self::LimitExceededException => "LimitExceededException",
            Self::ValidationException => "ValidationException",
            Self::InternalServiceError => "InternalServiceError",
        }
    }

    /// The HTTP status Secrets Manager uses for this exception.
    pub fn http_status(self) -> u16 {
        match self {
            Self::InternalServiceError => 500,
            _ => 400,
        }
    }
}

/// A Secrets Manager error: which exception, and the message it would give.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", kind.wire_name())]
pub struct SecretsManagerError {
    /// Which exception.
    pub kind: SecretsManagerErrorKind,
    /// The human message, naming the field at fault.
    pub message: String,
}

impl SecretsManagerError {
    /// An error of the given kind.
    pub fn new(kind: SecretsManagerErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into() }
    }

    /// An `InvalidParameterException`.
    pub fn invalid_parameter(message: impl Into<String>) -> Self {
        Self::new(SecretsManagerErrorKind::InvalidParameterException, message)
    }

    /// An `InvalidRequestException`: the request is not valid for the
    /// secret's current state.
    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(SecretsManagerErrorKind::InvalidRequestException, message)
    }

    /// A `ValidationException` in the words of AWS's request validation.
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(SecretsManagerErrorKind::ValidationException, message)
    }

    /// A `ValidationException` for a required member that is missing.
    pub fn missing(member: &str) -> Self {
        Self::validation(format!(
            "1 validation error detected: Value null at '{member}' failed to satisfy constraint: \
             Member must not be null"
        ))
    }

    /// `ResourceNotFoundException` with Secrets Manager's message.
    pub fn not_found() -> Self {
        Self::new(
            SecretsManagerErrorKind::ResourceNotFoundException,
            "Secrets Manager can't find the specified secret.",
        )
    }

    /// `InvalidRequestException` for a secret scheduled for deletion.
    pub fn marked_for_deletion() -> Self {
        Self::invalid_request(
            "You can't perform this operation on the secret because it was marked for deletion.",
        )
    }

    /// `InternalServiceError`: something failed on our side.
    pub fn internal() -> Self {
        Self::new(
            SecretsManagerErrorKind::InternalServiceError,
            "Wharf could not read or write its state. Try again.",
        )
    }
}
