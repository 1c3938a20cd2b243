//! Compose byte values (`512m`, `1g`, `1.5G`, `128mb`, `65536k`, `1024`), as
//! the Compose Specification writes them: a number and an optional unit
//! `b`, `k`, `m`, `g` (also `kb`, `mb`, `gb`, `KiB`...), all powers of 1024.

const MIB: f64 = 1024.0 * 1024.0;

/// Bytes in `text`, or why it is not a byte value.
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let trimmed = text.trim();
    let bad = || format!("\"{text}\" is not a byte value (e.g. 512m, 1g)");
    let split = trimmed.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    if number.is_empty() {
        return Err(bad());
    }
    let number: f64 = number.parse().map_err(|_| bad())?;
    let scale = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" | "kib" => 1024.0,
        "m" | "mb" | "mib" => MIB,
        "g" | "gb" | "gib" => MIB * 1024.0,
        "t" | "tb" | "tib" => MIB * MIB,
        _ => return Err(bad()),
    };
    let bytes = number * scale;
    if !bytes.is_finite() || bytes > 9e18 {
        return Err(bad());
    }
    // Truncation is intended: bytes are whole.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Ok(bytes as u64)
}

/// MiB in a byte count, rounded up (ECS counts memory in MiB; a limit is
/// never made smaller than asked).
pub fn to_mib_ceil(bytes: u64) -> u64 {
    bytes.div_ceil(1024 * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compose_byte_values() {
        assert_eq!(parse_bytes("512m"), Ok(512 * 1024 * 1024));
        assert_eq!(parse_bytes("1g"), Ok(1024 * 1024 * 1024));
        assert_eq!(parse_bytes("1G"), Ok(1024 * 1024 * 1024));
        assert_eq!(parse_bytes("1.5g").map(to_mib_ceil), Ok(1536));
        assert_eq!(parse_bytes("128mb").map(to_mib_ceil), Ok(128));
        assert_eq!(parse_bytes("65536k").map(to_mib_ceil), Ok(64));
        assert_eq!(parse_bytes("1536M").map(to_mib_ceil), Ok(1536));
        assert_eq!(parse_bytes("1024"), Ok(1024));
        assert_eq!(parse_bytes("100b"), Ok(100));
        assert_eq!(to_mib_ceil(1), 1);
    }

    #[test]
    fn bad_byte_values_say_so() {
        for bad in ["", "m", "12q", "-1g", "1 0m"] {
            assert!(parse_bytes(bad).is_err(), "{bad:?} should be refused");
        }
        assert_eq!(parse_bytes("12q").unwrap_err(), "\"12q\" is not a byte value (e.g. 512m, 1g)");
    }
}
