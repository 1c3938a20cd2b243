//! The CloudWatch Logs error type: the wire name of a Logs exception plus the
//! message CloudWatch Logs gives. Mirrors [`crate::EcsError`] for the Logs API.

/// The exceptions the Logs operations Wharf serves answer with, by wire name
/// (botocore's `logs` 2014-03-28 model). `ServiceUnavailableException` is
/// the model's fault for "the service could not do it": a 500; every other
/// one is the client's: a 400.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum LogsErrorKind {
    InvalidParameterException,
    ResourceNotFoundException,
    ResourceAlreadyExistsException,
    LimitExceededException,
    OperationAbortedException,
    TooManyTagsException,
    ValidationException,
    ServiceUnavailableException,
}

impl LogsErrorKind {
    /// The `__type` this exception carries on the wire.
    pub fn wire_name(self) -> &'static str {
        match self {
            Self::InvalidParameterException => "InvalidParameterException",
            Self::ResourceNotFoundException => "ResourceNotFoundException",
            Self::ResourceAlreadyExistsException => "ResourceAlreadyExistsException",
            Self::LimitExceededException => "LimitExceededException",
            Self::OperationAbortedException => "OperationAbortedException",
            Self::TooManyTagsException => "TooManyTagsException",
            Self::ValidationException => "ValidationException",
            Self::ServiceUnavailableException => "ServiceUnavailableException",
        }
    }

    /// The HTTP status CloudWatch Logs uses for this exception.
    pub fn http_status(self) -> u16 {
        match self {
            Self::ServiceUnavailableException => 500,
            _ => 400,
        }
    }
}

/// A CloudWatch Logs error: which exception, and the message it would give.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", kind.wire_name())]
pub struct LogsError {
    /// Which exception.
    pub kind: LogsErrorKind,
    /// The human message, naming the field at fault.
    pub message: String,
}

impl LogsError {
    /// An error of the given kind.
    pub fn new(kind: LogsErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into() }
    }

    /// An `InvalidParameterException`.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(LogsErrorKind::InvalidParameterException, message)
    }

    /// An `InvalidParameterException` for a required member that is missing,
    /// in the words of AWS's request validation.
    pub fn missing(member: &str) -> Self {
        Self::invalid(format!(
            "1 validation error detected: Value null at '{member}' failed to satisfy constraint: \
             Member must not be null"
        ))
    }

    /// An `InvalidParameterException` for a member that breaks a model
    /// constraint: `Value '<value>' at '<member>' failed to satisfy constraint: <rule>`.
    pub fn constraint(member: &str, value: &str, rule: &str) -> Self {
        Self::invalid(format!(
            "1 validation error detected: Value '{value}' at '{member}' failed to satisfy \
             constraint: {rule}"
        ))
    }

    /// `ResourceNotFoundException` for a missing log group.
    pub fn group_not_found() -> Self {
        Self::new(
            LogsErrorKind::ResourceNotFoundException,
            "The specified log group does not exist.",
        )
    }

    /// `ResourceNotFoundException` for a missing log stream.
    pub fn stream_not_found() -> Self {
        Self::new(
            LogsErrorKind::ResourceNotFoundException,
            "The specified log stream does not exist.",
        )
    }

    /// `ResourceAlreadyExistsException` for a log group.
    pub fn group_exists() -> Self {
        Self::new(
            LogsErrorKind::ResourceAlreadyExistsException,
            "The specified log group already exists",
        )
    }

    /// `ResourceAlreadyExistsException` for a log stream.
    pub fn stream_exists() -> Self {
        Self::new(
            LogsErrorKind::ResourceAlreadyExistsException,
            "The specified log stream already exists",
        )
    }

    /// `InvalidParameterException` for a filter pattern that does not parse.
    pub fn invalid_filter_pattern() -> Self {
        Self::invalid("Invalid filter pattern")
    }

    /// `ServiceUnavailableException`: something failed on our side.
    pub fn unavailable() -> Self {
        Self::new(
            LogsErrorKind::ServiceUnavailableException,
            "Wharf could not read or write its log store. Try again.",
        )
    }
}
