//! The store's error type.

use wharf_model::EcsError;

/// Why a store operation failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The operation's own decision refused it; nothing was written.
    #[error("{0}")]
    Rejected(EcsError),
    /// The database failed; the write did not happen.
    #[error("database error: {0}")]
    Database(String),
    /// The database could not be reached; the write did not happen and may
    /// be tried again.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// The write was made for a leader whose leadership has ended (its
    /// lease expired); it was refused.
    #[error("this server no longer leads: the write was refused")]
    Fenced,
    /// The store is shut down.
    #[error("the store is closed")]
    Closed,
}

impl StoreError {
    /// Whether trying again soon may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Database(e.to_string())
    }
}

impl From<EcsError> for StoreError {
    fn from(e: EcsError) -> Self {
        Self::Rejected(e)
    }
}

impl From<StoreError> for EcsError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Rejected(e) => e,
            // The cause is logged where it happened; the caller sees ECS's generic answer.
            StoreError::Database(_)
            | StoreError::Unavailable(_)
            | StoreError::Fenced
            | StoreError::Closed => {
                EcsError::server("Wharf could not read or write its state. Try again.")
            }
        }
    }
}
