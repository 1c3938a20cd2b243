//! The operations layer's error: ECS's refusals, typed where a caller acts
//! on which one it was.

use wharf_model::application_autoscaling::ScalingError;
use wharf_model::EcsError;
use wharf_store::StoreError;

/// Why an operation did not happen.
#[derive(Debug, Clone, thiserror::Error)]
pub enum OpsError {
    /// Refused, in ECS's words: bad input, a missing or inactive resource, a
    /// limit. Nothing was written.
    #[error("{0}")]
    Refused(EcsError),
    /// A launch found no container instance at all in its cluster (RunTask
    /// answers it as `InvalidParameterException`; a service reports it in
    /// its events).
    #[error("No Container Instances were found in your cluster.")]
    NoContainerInstances,
    /// Refused in Application Auto Scaling's words (a change to a scalable
    /// target). Nothing was written.
    #[error("{0}")]
    ScalingRefused(ScalingError),
    /// The store failed; nothing was written.
    #[error("store: {0}")]
    Store(StoreError),
}

impl From<EcsError> for OpsError {
    fn from(e: EcsError) -> Self {
        Self::Refused(e)
    }
}

impl From<StoreError> for OpsError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Rejected(e) => Self::Refused(e),
            other => Self::Store(other),
        }
    }
}

impl From<OpsError> for EcsError {
    fn from(e: OpsError) -> Self {
        match e {
            OpsError::Refused(e) => e,
            OpsError::NoContainerInstances => {
                EcsError::invalid_parameter("No Container Instances were found in your cluster.")
            }
            OpsError::ScalingRefused(e) => {
                EcsError::new(wharf_model::EcsErrorKind::ClientException, e.to_string())
            }
            OpsError::Store(e) => e.into(),
        }
    }
}
