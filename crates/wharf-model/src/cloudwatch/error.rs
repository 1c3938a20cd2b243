//! The CloudWatch error type. CloudWatch answers AWS JSON 1.0 with its
//! Query protocol's codes (`awsQueryCompatible`): `__type` is the
//! exception's shape name, and `x-amzn-query-error` carries the Query code
//! and fault, which the SDKs read as the error code.

/// The exceptions the alarm operations answer with (botocore's
/// `cloudwatch` 2010-08-01 model).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum CloudWatchErrorKind {
    ResourceNotFound,
    InvalidParameterValueException,
    MissingRequiredParameterException,
    InvalidParameterCombinationException,
    InvalidNextToken,
    InvalidFormatFault,
    LimitExceededFault,
    InternalServiceFault,
}

impl CloudWatchErrorKind {
    /// Every kind.
    pub const ALL: [Self; 8] = [
        Self::ResourceNotFound,
        Self::InvalidParameterValueException,
        Self::MissingRequiredParameterException,
        Self::InvalidParameterCombinationException,
        Self::InvalidNextToken,
        Self::InvalidFormatFault,
        Self::LimitExceededFault,
        Self::InternalServiceFault,
    ];

    /// The exception's shape name (the JSON `__type`).
    pub fn wire_name(self) -> &'static str {
        match self {
            Self::ResourceNotFound => "ResourceNotFound",
            Self::InvalidParameterValueException => "InvalidParameterValueException",
            Self::MissingRequiredParameterException => "MissingRequiredParameterException",
            Self::InvalidParameterCombinationException => "InvalidParameterCombinationException",
            Self::InvalidNextToken => "InvalidNextToken",
            Self::InvalidFormatFault => "InvalidFormatFault",
            Self::LimitExceededFault => "LimitExceededFault",
            Self::InternalServiceFault => "InternalServiceFault",
        }
    }

    /// The Query protocol's code for it (what `x-amzn-query-error` carries).
    pub fn query_code(self) -> &'static str {
        match self {
            Self::ResourceNotFound => "ResourceNotFound",
            Self::InvalidParameterValueException => "InvalidParameterValue",
            Self::MissingRequiredParameterException => "MissingParameter",
            Self::InvalidParameterCombinationException => "InvalidParameterCombination",
            Self::InvalidNextToken => "InvalidNextToken",
            Self::InvalidFormatFault => "InvalidFormat",
            Self::LimitExceededFault => "LimitExceeded",
            Self::InternalServiceFault => "InternalServiceError",
        }
    }

    /// The HTTP status.
    pub fn http_status(self) -> u16 {
        match self {
            Self::ResourceNotFound => 404,
            Self::InternalServiceFault => 500,
            _ => 400,
        }
    }
}

/// A CloudWatch error: which exception, and its message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", kind.wire_name())]
pub struct CloudWatchError {
    /// Which exception.
    pub kind: CloudWatchErrorKind,
    /// The message, naming the parameter at fault.
    pub message: String,
}

impl CloudWatchError {
    /// An error of the given kind.
    pub fn new(kind: CloudWatchErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into() }
    }

    /// `InvalidParameterValue`.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(CloudWatchErrorKind::InvalidParameterValueException, message)
    }

    /// `MissingParameter` for a required parameter.
    pub fn missing(parameter: &str) -> Self {
        Self::new(
            CloudWatchErrorKind::MissingRequiredParameterException,
            format!("The parameter {parameter} is required."),
        )
    }

    /// Parameters that cannot go together.
    pub fn combination(message: impl Into<String>) -> Self {
        Self::new(CloudWatchErrorKind::InvalidParameterCombinationException, message)
    }

    /// A next token that is not one CloudWatch gave.
    pub fn next_token() -> Self {
        Self::new(
            CloudWatchErrorKind::InvalidNextToken,
            "The service couldn't process your next token.",
        )
    }

    /// `InternalServiceError`: Wharf could not read or write its state.
    pub fn internal() -> Self {
        Self::new(
            CloudWatchErrorKind::InternalServiceFault,
            "Wharf could not read or write its state.",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloudwatch::shapes::EXCEPTIONS;

    #[test]
    fn the_exceptions_wharf_raises_are_in_the_model() {
        for kind in CloudWatchErrorKind::ALL {
            assert!(EXCEPTIONS.contains(&kind.wire_name()), "{kind:?}");
        }
    }
}
