//! The SSM error type: the wire name of an SSM exception plus the message SSM
//! gives. Mirrors [`crate::EcsError`] for the Parameter Store operations.

/// The exceptions the Parameter Store operations answer with, by wire name
/// (botocore's `ssm` 2014-11-06 model; none declares an HTTP code, so every
/// client error is a 400 and `InternalServerError`, the model's one fault, a
/// 500).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum SsmErrorKind {
    ParameterNotFound,
    ParameterAlreadyExists,
    ParameterVersionNotFound,
    ParameterLimitExceeded,
    ParameterMaxVersionLimitExceeded,
    HierarchyLevelLimitExceededException,
    HierarchyTypeMismatchException,
    UnsupportedParameterType,
    InvalidKeyId,
    InvalidFilterKey,
    InvalidFilterOption,
    InvalidFilterValue,
    InvalidNextToken,
    InvalidResourceId,
    InvalidResourceType,
    TooManyTagsError,
    ValidationException,
    InternalServerError,
}

impl SsmErrorKind {
    /// The `__type` this exception carries on the wire.
    pub fn wire_name(self) -> &'static str {
        match self {
            Self::ParameterNotFound => "ParameterNotFound",
            Self::ParameterAlreadyExists => "ParameterAlreadyExists",
            Self::ParameterVersionNotFound => "ParameterVersionNotFound",
            Self::ParameterLimitExceeded => "ParameterLimitExceeded",
            Self::ParameterMaxVersionLimitExceeded => "ParameterMaxVersionLimitExceeded",
            Self::HierarchyLevelLimitExceededException => "HierarchyLevelLimitExceededException",
            Self::HierarchyTypeMismatchException => "HierarchyTypeMismatchException",
            Self::UnsupportedParameterType => "UnsupportedParameterType",
            Self::InvalidKeyId => "InvalidKeyId",
            Self::InvalidFilterKey => "InvalidFilterKey",
            Self::InvalidFilterOption => "InvalidFilterOption",
            Self::InvalidFilterValue => "InvalidFilterValue",
            Self::InvalidNextToken => "InvalidNextToken",
            Self::InvalidResourceId => "InvalidResourceId",
            Self::InvalidResourceType => "InvalidResourceType",
            Self::TooManyTagsError => "TooManyTagsError",
            Self::ValidationException => "ValidationException",
            Self::InternalServerError => "InternalServerError",
        }
    }

    /// The HTTP status SSM uses for this exception.
    pub fn http_status(self) -> u16 {
        match self {
            Self::InternalServerError => 500,
            _ => 400,
        }
    }
}

/// An SSM error: which exception, and the message SSM would give.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", kind.wire_name())]
pub struct SsmError {
    /// Which exception.
    pub kind: SsmErrorKind,
    /// The human message, naming the field at fault.
    pub message: String,
}

impl SsmError {
    /// An error of the given kind.
    pub fn new(kind: SsmErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into() }
    }

    /// A `ValidationException`: a member breaks a constraint.
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(SsmErrorKind::ValidationException, message)
    }

    /// A `ValidationException` for a required member that is missing, in the
    /// words of AWS's request validation.
    pub fn missing(member: &str) -> Self {
        Self::validation(format!(
            "1 validation error detected: Value null at '{member}' failed to satisfy constraint: \
             Member must not be null"
        ))
    }

    /// `ParameterNotFound` for a parameter name.
    pub fn not_found(name: &str) -> Self {
        Self::new(SsmErrorKind::ParameterNotFound, format!("Parameter {name} not found."))
    }

    /// `InternalServerError`: something failed on our side.
    pub fn internal() -> Self {
        Self::new(
            SsmErrorKind::InternalServerError,
            "Wharf could not read or write its state. Try again.",
        )
    }
}
