//! Small checks of request members that the ECS handlers share.

use wharf_model::EcsError;

/// A required member, or ECS's error naming it.
pub(crate) fn required<T>(value: Option<T>, field: &str) -> Result<T, EcsError> {
    value.ok_or_else(|| EcsError::invalid_parameter(format!("{field} must be specified.")))
}

/// Whether `s` is a valid ECS resource name: 1 to 255 letters, digits,
/// hyphens and underscores.
pub(crate) fn is_resource_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 255
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}
