//! Task-level `cpu` and `memory` as ECS reads them: strings holding CPU units
//! (`"1024"`) or vCPUs (`"1 vCPU"`, `"0.5 vcpu"`), and MiB (`"512"`) or GB
//! (`"1GB"`, `"2 GB"`), turned into whole CPU units and MiB at registration.

/// A task `cpu` string in CPU units, or `None` if ECS would not accept it.
pub fn parse_task_cpu(s: &str) -> Option<u32> {
    let (number, unit) = split_unit(s);
    let scale = match unit.as_str() {
        "" => 1.0,
        "vcpu" | "vcpus" => 1024.0,
        _ => return None,
    };
    whole(number, scale)
}

/// A task `memory` string in MiB, or `None` if ECS would not accept it.
pub fn parse_task_memory(s: &str) -> Option<u32> {
    let (number, unit) = split_unit(s);
    let scale = match unit.as_str() {
        "" | "mb" | "mib" => 1.0,
        "gb" | "gib" => 1024.0,
        _ => return None,
    };
    whole(number, scale)
}

/// Splits `"2 GB"` into `("2", "gb")`; the unit is lower-cased.
fn split_unit(s: &str) -> (&str, String) {
    let s = s.trim();
    let at = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    let (number, unit) = s.split_at(at);
    (number, unit.trim().to_ascii_lowercase())
}

/// `number × scale` as a positive whole number that fits the wire's 32 bits.
fn whole(number: &str, scale: f64) -> Option<u32> {
    if number.is_empty() || number.starts_with('.') || number.ends_with('.') {
        return None;
    }
    if scale == 1.0 {
        // Plain units must be a whole number as written.
        let n: u32 = number.parse().ok()?;
        return (n > 0 && n <= i32::MAX as u32).then_some(n);
    }
    let value: f64 = number.parse().ok()?;
    let scaled = value * scale;
    let ok =
        scaled.is_finite() && scaled >= 1.0 && scaled.fract() == 0.0 && scaled <= i32::MAX as f64;
    // The checks above make the cast exact.
    ok.then_some(scaled as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_forms() {
        assert_eq!(parse_task_cpu("1024"), Some(1024));
        assert_eq!(parse_task_cpu(" 256 "), Some(256));
        assert_eq!(parse_task_cpu("1 vCPU"), Some(1024));
        assert_eq!(parse_task_cpu("1 vcpu"), Some(1024));
        assert_eq!(parse_task_cpu("2vCPU"), Some(2048));
        assert_eq!(parse_task_cpu(".25 vCPU"), None);
        assert_eq!(parse_task_cpu("0.25 vCPU"), Some(256));
        assert_eq!(parse_task_cpu("0.5 vcpus"), Some(512));
    }

    #[test]
    fn memory_forms() {
        assert_eq!(parse_task_memory("512"), Some(512));
        assert_eq!(parse_task_memory("1GB"), Some(1024));
        assert_eq!(parse_task_memory("2 GB"), Some(2048));
        assert_eq!(parse_task_memory("2 gb"), Some(2048));
        assert_eq!(parse_task_memory("0.5 GB"), Some(512));
        assert_eq!(parse_task_memory("512 MiB"), Some(512));
    }

    #[test]
    fn odd_values_are_refused_not_panicked_on() {
        for s in [
            "",
            " ",
            "-1",
            "0",
            "abc",
            "1.5",
            "1 TB",
            "1e3",
            "99999999999",
            "NaN vCPU",
            "1.0000001 vCPU",
            "9999999999 vCPU",
            "inf GB",
            "1..5 GB",
            "GB",
            "١٢",
        ] {
            assert_eq!(parse_task_cpu(s), None, "cpu {s:?}");
            assert_eq!(parse_task_memory(s), None, "memory {s:?}");
        }
    }
}
