//! Compose durations (`1m30s`, `10s`, `1.5h`, `500ms`), as the Compose
//! Specification writes them: a sequence of numbers, each with a unit
//! (`us`, `ms`, `s`, `m`, `h`), Go's `time.ParseDuration` without signs.

/// Nanoseconds in `text`, or why it is not a duration.
pub fn parse_nanos(text: &str) -> Result<u128, String> {
    let text = text.trim();
    if text == "0" {
        return Ok(0);
    }
    if text.is_empty() {
        return Err("an empty duration".to_owned());
    }
    let bad = || format!("\"{text}\" is not a duration (e.g. 30s, 1m30s, 500ms)");
    let mut total: f64 = 0.0;
    let mut rest = text;
    while !rest.is_empty() {
        let number_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).ok_or_else(bad)?;
        if number_len == 0 {
            return Err(bad());
        }
        let number: f64 = rest[..number_len].parse().map_err(|_| bad())?;
        rest = &rest[number_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(bad()),
        };
        rest = &rest[unit_len..];
        total += number * scale;
    }
    if !total.is_finite() || total > 1e30 {
        return Err(bad());
    }
    // Truncation is intended: a duration is a whole number of nanoseconds.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Ok(total as u128)
}

/// Whole seconds in `text`, rounded up (ECS counts in seconds; a `500ms`
/// interval must not become 0).
pub fn parse_seconds(text: &str) -> Result<u64, String> {
    let nanos = parse_nanos(text)?;
    let seconds = nanos.div_ceil(1_000_000_000);
    u64::try_from(seconds).map_err(|_| format!("\"{text}\" is too long"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compose_durations() {
        assert_eq!(parse_seconds("10s"), Ok(10));
        assert_eq!(parse_seconds("1m30s"), Ok(90));
        assert_eq!(parse_seconds("1h"), Ok(3600));
        assert_eq!(parse_seconds("1.5m"), Ok(90));
        assert_eq!(parse_seconds("500ms"), Ok(1));
        assert_eq!(parse_seconds("0"), Ok(0));
        assert_eq!(parse_seconds("0s"), Ok(0));
        assert_eq!(parse_nanos("2us"), Ok(2000));
    }

    #[test]
    fn bad_durations_say_so() {
        for bad in ["", "10", "s", "10x", "1m 30s", "-5s", "abc"] {
            assert!(parse_seconds(bad).is_err(), "{bad:?} should be refused");
        }
        assert_eq!(
            parse_seconds("10x").unwrap_err(),
            "\"10x\" is not a duration (e.g. 30s, 1m30s, 500ms)"
        );
    }
}
