//! Opaque `nextToken`s and `maxResults` as the ECS list operations use them.

use wharf_model::EcsError;

/// Encodes a resume position as an opaque token.
pub fn encode(position: &str) -> String {
    position.bytes().map(|b| format!("{b:02x}")).collect()
}

/// Decodes a token made by [`encode`].
pub fn decode(token: &str) -> Result<String, EcsError> {
    let bad = || EcsError::invalid_parameter("Invalid nextToken.");
    if !token.len().is_multiple_of(2) {
        return Err(bad());
    }
    let bytes = (0..token.len())
        .step_by(2)
        .map(|i| token.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect::<Option<Vec<u8>>>()
        .ok_or_else(bad)?;
    String::from_utf8(bytes).map_err(|_| bad())
}

/// `maxResults` checked against ECS's range 1..=100, defaulting to `default`.
pub fn max_results(value: Option<i32>, default: usize) -> Result<usize, EcsError> {
    match value {
        None => Ok(default),
        Some(n) if (1..=100).contains(&n) => Ok(n as usize),
        Some(_) => Err(EcsError::invalid_parameter("maxResults must be between 1 and 100.")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_reject_garbage() {
        assert_eq!(decode(&encode("web\n12")).unwrap(), "web\n12");
        assert!(decode("zz").is_err());
        assert!(decode("abc").is_err());
        assert!(decode("ff").is_err());
    }
}
