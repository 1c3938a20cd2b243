//! The ELBv2 error type: the Query error `Code` of an ELBv2 exception plus
//! the message ELBv2 gives. Codes and statuses are the model's (see
//! [`super::shapes::ERRORS`]; a test keeps the two in step), plus the Query
//! protocol's own `ValidationError`, `InvalidAction` and `InternalFailure`.

macro_rules! kinds {
    ($($(#[$doc:meta])* $name:ident,)*) => {
        /// The errors the ELBv2 operations Wharf serves answer with; each
        /// one's wire `Code` is its name.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[allow(missing_docs)]
        pub enum ElbErrorKind {
            $($(#[$doc])* $name,)*
        }

        impl ElbErrorKind {
            /// Every kind.
            pub const ALL: &'static [Self] = &[$(Self::$name,)*];

            /// The `Code` this error carries on the wire.
            pub fn code(self) -> &'static str {
                match self {
                    $(Self::$name => stringify!($name),)*
                }
            }
        }
    };
}

kinds! {
    LoadBalancerNotFound,
    TargetGroupNotFound,
    ListenerNotFound,
    RuleNotFound,
    DuplicateLoadBalancerName,
    DuplicateTargetGroupName,
    DuplicateListener,
    DuplicateTagKeys,
    PriorityInUse,
    ResourceInUse,
    InvalidTarget,
    InvalidConfigurationRequest,
    InvalidLoadBalancerAction,
    InvalidScheme,
    OperationNotPermitted,
    TooManyTargets,
    TooManyTags,
    TooManyLoadBalancers,
    TooManyTargetGroups,
    TooManyListeners,
    TooManyRules,
    TooManyActions,
    TooManyRegistrationsForTargetId,
    TargetGroupAssociationLimit,
    IncompatibleProtocols,
    UnsupportedProtocol,
    CertificateNotFound,
    SSLPolicyNotFound,
    TooManyCertificates,
    /// A member breaks a constraint (the Query protocol's generic error).
    ValidationError,
    /// An `Action` the service does not have.
    InvalidAction,
    /// Something failed on Wharf's side.
    InternalFailure,
}

impl ElbErrorKind {
    /// The HTTP status ELBv2 answers this error with.
    pub fn http_status(self) -> u16 {
        match self {
            Self::InternalFailure => 500,
            _ => 400,
        }
    }

    /// `Sender` for the caller's faults, `Receiver` for the service's.
    pub fn fault(self) -> &'static str {
        match self {
            Self::InternalFailure => "Receiver",
            _ => "Sender",
        }
    }
}

/// An ELBv2 error: which one, and the message ELBv2 would give.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", kind.code())]
pub struct ElbError {
    /// Which error.
    pub kind: ElbErrorKind,
    /// The human message, naming the field at fault.
    pub message: String,
}

impl ElbError {
    /// An error of the given kind.
    pub fn new(kind: ElbErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into() }
    }

    /// A `ValidationError`: a member breaks a constraint.
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(ElbErrorKind::ValidationError, message)
    }

    /// A `ValidationError` for a required member that is missing, in the
    /// words of AWS's request validation.
    pub fn missing(member: &str) -> Self {
        Self::validation(format!(
            "1 validation error detected: Value null at '{member}' failed to satisfy constraint: \
             Member must not be null"
        ))
    }

    /// An `InvalidConfigurationRequest`.
    pub fn config(message: impl Into<String>) -> Self {
        Self::new(ElbErrorKind::InvalidConfigurationRequest, message)
    }

    /// `InternalFailure`: Wharf could not read or write its state.
    pub fn internal() -> Self {
        Self::new(
            ElbErrorKind::InternalFailure,
            "Wharf could not read or write its state. Try again.",
        )
    }

    /// `LoadBalancerNotFound`.
    pub fn load_balancer_not_found() -> Self {
        Self::new(ElbErrorKind::LoadBalancerNotFound, "One or more load balancers not found")
    }

    /// `TargetGroupNotFound`.
    pub fn target_group_not_found() -> Self {
        Self::new(ElbErrorKind::TargetGroupNotFound, "One or more target groups not found")
    }

    /// `ListenerNotFound`.
    pub fn listener_not_found() -> Self {
        Self::new(ElbErrorKind::ListenerNotFound, "One or more listeners not found")
    }

    /// `CertificateNotFound`, for a certificate ACM does not have.
    pub fn certificate_not_found(arn: &str) -> Self {
        Self::new(ElbErrorKind::CertificateNotFound, format!("Certificate '{arn}' not found"))
    }

    /// `RuleNotFound`.
    pub fn rule_not_found() -> Self {
        Self::new(ElbErrorKind::RuleNotFound, "One or more rules not found")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Query protocol's own errors, not exceptions of the model.
    const PROTOCOL: &[ElbErrorKind] = &[
        ElbErrorKind::ValidationError,
        ElbErrorKind::InvalidAction,
        ElbErrorKind::InternalFailure,
    ];

    #[test]
    fn codes_and_statuses_are_the_models() {
        for kind in ElbErrorKind::ALL.iter().filter(|k| !PROTOCOL.contains(k)) {
            let found =
                super::super::shapes::ERRORS.iter().find(|(_, code, _)| *code == kind.code());
            let (_, _, status) =
                found.unwrap_or_else(|| panic!("{} not in the model", kind.code()));
            assert_eq!(kind.http_status(), *status, "{}", kind.code());
        }
    }
}
