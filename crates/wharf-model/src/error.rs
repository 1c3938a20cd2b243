//! The ECS error type: the wire name of an ECS exception plus a message that
//! names the offending field. Every layer's error ends up as one of these at
//! the API boundary; internal causes are logged, never sent.

/// The exceptions ECS answers with, by their wire names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum EcsErrorKind {
    ClientException,
    InvalidParameterException,
    ServerException,
    ClusterNotFoundException,
    ClusterContainsServicesException,
    ClusterContainsTasksException,
    ClusterContainsContainerInstancesException,
    ResourceNotFoundException,
    ResourceInUseException,
    UpdateInProgressException,
    LimitExceededException,
    UnsupportedFeatureException,
    AccessDeniedException,
    ServiceNotFoundException,
    ServiceNotActiveException,
    NamespaceNotFoundException,
    TaskSetNotFoundException,
    PlatformUnknownException,
    PlatformTaskDefinitionIncompatibilityException,
    ServiceDeploymentNotFoundException,
    ConflictException,
    TargetNotFoundException,
    TargetNotConnectedException,
    AttributeLimitExceededException,
}

impl EcsErrorKind {
    /// The `__type` this exception carries on the wire.
    pub fn wire_name(self) -> &'static str {
        match self {
            Self::ClientException => "ClientException",
            Self::InvalidParameterException => "InvalidParameterException",
            Self::ServerException => "ServerException",
            Self::ClusterNotFoundException => "ClusterNotFoundException",
            Self::ClusterContainsServicesException => "ClusterContainsServicesException",
            Self::ClusterContainsTasksException => "ClusterContainsTasksException",
            Self::ClusterContainsContainerInstancesException => {
                "ClusterContainsContainerInstancesException"
            }
            Self::ResourceNotFoundException => "ResourceNotFoundException",
            Self::ResourceInUseException => "ResourceInUseException",
            Self::UpdateInProgressException => "UpdateInProgressException",
            Self::LimitExceededException => "LimitExceededException",
            Self::UnsupportedFeatureException => "UnsupportedFeatureException",
            Self::AccessDeniedException => "AccessDeniedException",
            Self::ServiceNotFoundException => "ServiceNotFoundException",
            Self::ServiceNotActiveException => "ServiceNotActiveException",
            Self::NamespaceNotFoundException => "NamespaceNotFoundException",
            Self::TaskSetNotFoundException => "TaskSetNotFoundException",
            Self::PlatformUnknownException => "PlatformUnknownException",
            Self::PlatformTaskDefinitionIncompatibilityException => {
                "PlatformTaskDefinitionIncompatibilityException"
            }
            Self::ServiceDeploymentNotFoundException => "ServiceDeploymentNotFoundException",
            Self::ConflictException => "ConflictException",
            Self::TargetNotFoundException => "TargetNotFoundException",
            Self::TargetNotConnectedException => "TargetNotConnectedException",
            Self::AttributeLimitExceededException => "AttributeLimitExceededException",
        }
    }

    /// The HTTP status ECS uses for this exception.
    pub fn http_status(self) -> u16 {
        match self {
            Self::ServerException => 500,
            _ => 400,
        }
    }
}

/// An ECS error: which exception, and the message ECS would give.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", kind.wire_name())]
pub struct EcsError {
    /// Which exception.
    pub kind: EcsErrorKind,
    /// The human message, naming the field at fault.
    pub message: String,
}

impl EcsError {
    /// An error of the given kind.
    pub fn new(kind: EcsErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into() }
    }

    /// A `ClientException`: the request is wrong (ECS uses it for most validation).
    pub fn client(message: impl Into<String>) -> Self {
        Self::new(EcsErrorKind::ClientException, message)
    }

    /// An `InvalidParameterException`: a parameter has a value ECS does not accept.
    pub fn invalid_parameter(message: impl Into<String>) -> Self {
        Self::new(EcsErrorKind::InvalidParameterException, message)
    }

    /// A `ServerException`: something failed on our side.
    pub fn server(message: impl Into<String>) -> Self {
        Self::new(EcsErrorKind::ServerException, message)
    }

    /// A `ClusterNotFoundException` with ECS's message.
    pub fn cluster_not_found() -> Self {
        Self::new(EcsErrorKind::ClusterNotFoundException, "Cluster not found.")
    }
}
