//! Amazon CloudWatch metrics, the subset Wharf serves: the shapes of
//! GetMetricData, GetMetricStatistics, ListMetrics, PutMetricData and
//! DescribeAlarms, its error type, metric series and their statistics
//! ([`series`]), and how a metric alarm decides its state ([`alarm`]).
//!
//! Kept apart from any other CloudWatch module (deployment alarms are
//! another helper's): this one is what service auto scaling needs.

pub mod alarm;
pub mod ecs;
pub mod series;
pub mod shapes;

use shapes::EXCEPTIONS;

/// AWS's error for a failure of CloudWatch itself.
const INTERNAL: &str = "InternalServiceFault";

/// A CloudWatch exception, by the wire name the model gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CloudWatchErrorKind(&'static str);

impl CloudWatchErrorKind {
    /// The `__type` this exception carries on the wire.
    pub fn wire_name(self) -> &'static str {
        self.0
    }

    /// The code the Query protocol gives it (`x-amzn-query-error`), as the
    /// model's `awsQueryError` names it.
    pub fn query_code(self) -> &'static str {
        match self.0 {
            "InvalidParameterValueException" => "InvalidParameterValue",
            "MissingRequiredParameterException" => "MissingParameter",
            "InvalidParameterCombinationException" => "InvalidParameterCombination",
            "ResourceNotFound" => "ResourceNotFound",
            "InvalidNextToken" => "InvalidNextToken",
            "LimitExceededFault" => "LimitExceeded",
            other => other,
        }
    }

    /// The HTTP status: 400, or 500 for an internal fault.
    pub fn http_status(self) -> u16 {
        if self.0 == INTERNAL {
            500
        } else {
            400
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
    /// An error of the exception named `code`, one the model declares.
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        debug_assert!(EXCEPTIONS.contains(&code) || code == INTERNAL, "{code}");
        Self { kind: CloudWatchErrorKind(code), message: message.into() }
    }

    /// A parameter with a value CloudWatch refuses.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new("InvalidParameterValueException", message)
    }

    /// A required parameter missing.
    pub fn missing(parameter: &str) -> Self {
        Self::new(
            "MissingRequiredParameterException",
            format!("The parameter {parameter} is required."),
        )
    }

    /// Parameters that cannot go together.
    pub fn combination(message: impl Into<String>) -> Self {
        Self::new("InvalidParameterCombinationException", message)
    }

    /// A next token that is not one CloudWatch gave.
    pub fn next_token() -> Self {
        Self::new("InvalidNextToken", "The service couldn't process your next token.")
    }

    /// Wharf failed.
    pub fn internal() -> Self {
        Self::new(INTERNAL, "Wharf could not complete the request.")
    }
}
