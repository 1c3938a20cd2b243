//! The `process_*` metrics Prometheus clients conventionally export, read from `/proc`
//! (Linux): CPU time, resident and virtual memory, open and allowed file descriptors, start
//! time. Where `/proc` cannot be read a metric is left out.

use wharf_metrics::{Encoder, MetricType};

/// `/proc`'s clock ticks per second (`USER_HZ`, fixed at 100 in the kernel's ABI).
const TICKS_PER_SECOND: f64 = 100.0;

/// Writes whichever `process_*` metrics `/proc` answers for.
pub fn encode(encoder: &mut Encoder) {
    let stat = std::fs::read_to_string("/proc/self/stat").ok();
    let fields = stat.as_deref().and_then(stat_fields).unwrap_or_default();
    // Fields counted from the state, the third field of `stat`.
    let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<f64>().ok());
    if let (Some(utime), Some(stime)) = (field(14), field(15)) {
        encoder
            .family(
                "process_cpu_seconds_total",
                "User and system CPU time the server has used.",
                MetricType::Counter,
            )
            .sample(&[], (utime + stime) / TICKS_PER_SECOND);
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = |name: &str| {
        status.lines().find_map(|l| l.strip_prefix(name)).and_then(|rest| {
            rest.trim().strip_suffix("kB").and_then(|n| n.trim().parse::<f64>().ok())
        })
    };
    if let Some(rss) = kib("VmRSS:") {
        encoder
            .family(
                "process_resident_memory_bytes",
                "The server's resident memory.",
                MetricType::Gauge,
            )
            .sample(&[], rss * 1024.0);
    }
    if let Some(vsize) = field(23) {
        encoder
            .family(
                "process_virtual_memory_bytes",
                "The server's virtual memory.",
                MetricType::Gauge,
            )
            .sample(&[], vsize);
    }
    if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
        encoder
            .family("process_open_fds", "Open file descriptors.", MetricType::Gauge)
            .sample(&[], fds.count() as f64);
    }
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    let max_fds = limits
        .lines()
        .find_map(|l| l.strip_prefix("Max open files"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|soft| soft.parse::<f64>().ok());
    if let Some(max) = max_fds {
        encoder
            .family("process_max_fds", "The most file descriptors it may open.", MetricType::Gauge)
            .sample(&[], max);
    }
    let boot = std::fs::read_to_string("/proc/stat").ok().and_then(|s| {
        s.lines().find_map(|l| l.strip_prefix("btime ")).and_then(|b| b.trim().parse::<f64>().ok())
    });
    if let (Some(boot), Some(start)) = (boot, field(22)) {
        encoder
            .family(
                "process_start_time_seconds",
                "When the server started, in seconds since the Unix epoch.",
                MetricType::Gauge,
            )
            .sample(&[], boot + start / TICKS_PER_SECOND);
    }
}

/// The fields of `/proc/<pid>/stat` after the command name (which may hold spaces and
/// parentheses, so it is skipped up to its last `)`), from the state on.
fn stat_fields(stat: &str) -> Option<Vec<&str>> {
    let (_, rest) = stat.rsplit_once(')')?;
    Some(rest.split_whitespace().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_skip_a_command_name_with_spaces() {
        let stat = "4242 (a (b) c) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 5 0 777 123456 321";
        let f = stat_fields(stat).expect("fields");
        assert_eq!(f[0], "S");
        assert_eq!((f[14 - 3], f[15 - 3]), ("250", "50"));
        assert_eq!((f[22 - 3], f[23 - 3]), ("777", "123456"));
    }

    #[test]
    fn this_process_is_described() {
        let mut e = Encoder::new();
        encode(&mut e);
        let text = e.finish();
        for name in
            ["process_cpu_seconds_total ", "process_resident_memory_bytes ", "process_open_fds "]
        {
            assert!(text.contains(&format!("\n{name}")), "{name} in:\n{text}");
        }
    }
}
