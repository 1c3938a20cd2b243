//! The Cloud Map error type: the wire name of a Cloud Map exception plus
//! its message. Mirrors [`crate::EcsError`].

/// The exceptions Cloud Map answers with, by wire name (botocore's
/// `servicediscovery` 2017-03-14 model).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum DiscoveryErrorKind {
    InvalidInput,
    NamespaceNotFound,
    NamespaceAlreadyExists,
    ServiceNotFound,
    ServiceAlreadyExists,
    InstanceNotFound,
    OperationNotFound,
    ResourceInUse,
    ResourceNotFoundException,
    ResourceLimitExceeded,
    DuplicateRequest,
    InternalFailure,
}

impl DiscoveryErrorKind {
    /// The `__type` this exception carries on the wire.
    pub fn wire_name(self) -> &'static str {
        match self {
            Self::InvalidInput => "InvalidInput",
            Self::NamespaceNotFound => "NamespaceNotFound",
            Self::NamespaceAlreadyExists => "NamespaceAlreadyExists",
            Self::ServiceNotFound => "ServiceNotFound",
            Self::ServiceAlreadyExists => "ServiceAlreadyExists",
            Self::InstanceNotFound => "InstanceNotFound",
            Self::OperationNotFound => "OperationNotFound",
            Self::ResourceInUse => "ResourceInUse",
            Self::ResourceNotFoundException => "ResourceNotFoundException",
            Self::ResourceLimitExceeded => "ResourceLimitExceeded",
            Self::DuplicateRequest => "DuplicateRequest",
            Self::InternalFailure => "InternalFailure",
        }
    }

    /// The HTTP status Cloud Map uses for it.
    pub fn http_status(self) -> u16 {
        match self {
            Self::InternalFailure => 500,
            _ => 400,
        }
    }
}

/// A Cloud Map error: which exception, and its message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", kind.wire_name())]
pub struct DiscoveryError {
    /// Which exception.
    pub kind: DiscoveryErrorKind,
    /// The message, naming the field or resource at fault.
    pub message: String,
}

impl DiscoveryError {
    /// An error of the given kind.
    pub fn new(kind: DiscoveryErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into() }
    }

    /// `InvalidInput`.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(DiscoveryErrorKind::InvalidInput, message)
    }

    /// A server failure.
    pub fn server(message: impl Into<String>) -> Self {
        Self::new(DiscoveryErrorKind::InternalFailure, message)
    }
}
