//! The ACM error type: the wire name of an ACM exception plus the message
//! it gives. Mirrors [`crate::EcsError`].

/// The exceptions ACM answers with, by wire name (botocore's `acm`
/// 2015-12-08 model; none declares an HTTP code, so client errors are 400).
/// `InternalFailure` is the AWS JSON protocol's own fault (500).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum AcmErrorKind {
    ValidationException,
    ResourceNotFoundException,
    ResourceInUseException,
    InvalidArnException,
    InvalidParameterException,
    InvalidArgsException,
    InvalidTagException,
    TooManyTagsException,
    LimitExceededException,
    InternalFailure,
}

impl AcmErrorKind {
    /// The `__type` this exception carries on the wire.
    pub fn wire_name(self) -> &'static str {
        match self {
            Self::ValidationException => "ValidationException",
            Self::ResourceNotFoundException => "ResourceNotFoundException",
            Self::ResourceInUseException => "ResourceInUseException",
            Self::InvalidArnException => "InvalidArnException",
            Self::InvalidParameterException => "InvalidParameterException",
            Self::InvalidArgsException => "InvalidArgsException",
            Self::InvalidTagException => "InvalidTagException",
            Self::TooManyTagsException => "TooManyTagsException",
            Self::LimitExceededException => "LimitExceededException",
            Self::InternalFailure => "InternalFailure",
        }
    }

    /// The HTTP status ACM uses for this exception.
    pub fn http_status(self) -> u16 {
        match self {
            Self::InternalFailure => 500,
            _ => 400,
        }
    }
}

/// An ACM error: which exception, and the message it would give.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", kind.wire_name())]
pub struct AcmError {
    /// Which exception.
    pub kind: AcmErrorKind,
    /// The human message, naming the field at fault.
    pub message: String,
}

impl AcmError {
    /// An error of the given kind.
    pub fn new(kind: AcmErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into() }
    }

    /// A `ValidationException`.
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(AcmErrorKind::ValidationException, message)
    }

    /// A `ValidationException` for a required member that is missing, in
    /// the words of AWS's request validation.
    pub fn missing(member: &str) -> Self {
        Self::validation(format!(
            "1 validation error detected: Value null at '{member}' failed to satisfy constraint: \
             Member must not be null"
        ))
    }

    /// `ResourceNotFoundException` for a certificate ARN.
    pub fn not_found(arn: &str) -> Self {
        Self::new(
            AcmErrorKind::ResourceNotFoundException,
            format!("Could not find certificate {arn}."),
        )
    }

    /// `InternalFailure`: Wharf could not read or write its state.
    pub fn internal() -> Self {
        Self::new(AcmErrorKind::InternalFailure, "Wharf could not read or write its state.")
    }
}
