//! The CodeDeploy error type: the wire name of a CodeDeploy exception plus
//! its message. Mirrors [`crate::EcsError`]; every exception of the model is
//! a client error (400).

use super::shapes::EXCEPTIONS;

/// AWS's common error for a failure of the service itself.
const INTERNAL: &str = "InternalFailure";

/// A CodeDeploy exception, by the wire name the model gives it (one of
/// [`EXCEPTIONS`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeDeployErrorKind(&'static str);

impl CodeDeployErrorKind {
    /// The `__type` this exception carries on the wire.
    pub fn wire_name(self) -> &'static str {
        self.0
    }

    /// The HTTP status: 400 for the model's exceptions, 500 for an internal
    /// failure.
    pub fn http_status(self) -> u16 {
        if self.0 == INTERNAL {
            500
        } else {
            400
        }
    }
}

/// A CodeDeploy error: which exception, and its message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", kind.wire_name())]
pub struct CodeDeployError {
    /// Which exception.
    pub kind: CodeDeployErrorKind,
    /// The message, naming what is wrong.
    pub message: String,
}

impl CodeDeployError {
    /// An error of the exception named `code`, which must be one the model
    /// declares (checked in the tests).
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        debug_assert!(EXCEPTIONS.contains(&code), "{code} is not a CodeDeploy exception");
        Self { kind: CodeDeployErrorKind(code), message: message.into() }
    }

    /// Wharf failed (a store failure, logged where it happened): AWS's
    /// common `InternalFailure`.
    pub fn internal() -> Self {
        Self {
            kind: CodeDeployErrorKind(INTERNAL),
            message: "Wharf could not complete the request.".into(),
        }
    }

    /// A required member missing: `<Member>RequiredException`-style errors
    /// are given by their callers; this is the generic one.
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::new("InvalidInputException", message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exceptions_wharf_raises_are_in_the_model() {
        for code in super::super::RAISED {
            assert!(EXCEPTIONS.contains(code), "{code}");
        }
    }
}
