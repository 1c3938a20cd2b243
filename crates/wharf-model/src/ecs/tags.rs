//! ECS's tag rules, which every resource's create call and TagResource
//! share.

use super::shapes::Tag;
use crate::EcsError;

/// The most tags a resource may carry.
pub const MAX_TAGS: usize = 50;

/// Checks tags as ECS does: at most 50, keys 1 to 128 characters, values up
/// to 256, and the `aws:` prefix reserved.
pub fn validate(tags: &[Tag]) -> Result<(), EcsError> {
    if tags.len() > MAX_TAGS {
        return Err(EcsError::invalid_parameter(format!(
            "The list of tags cannot contain more than {MAX_TAGS} tags."
        )));
    }
    for t in tags {
        let key = t.key.as_deref().unwrap_or("");
        if key.is_empty() || key.chars().count() > 128 {
            return Err(EcsError::invalid_parameter(
                "Tag keys must be between 1 and 128 characters in length.",
            ));
        }
        if t.value.as_deref().unwrap_or("").chars().count() > 256 {
            return Err(EcsError::invalid_parameter(
                "Tag values must be between 0 and 256 characters in length.",
            ));
        }
        if key.to_ascii_lowercase().starts_with("aws:") {
            return Err(EcsError::invalid_parameter(
                "Tag keys cannot start with the reserved prefix 'aws:'.",
            ));
        }
    }
    Ok(())
}

/// Tags as the store keeps them: (key, value) pairs.
pub fn pairs(tags: Vec<Tag>) -> Vec<(String, String)> {
    tags.into_iter().map(|t| (t.key.unwrap_or_default(), t.value.unwrap_or_default())).collect()
}
