//! A container's `awslogs` options, read and checked as Docker's awslogs
//! driver reads and checks them (`daemon/logger/awslogs`), plus the two
//! options ECS adds (`awslogs-stream-prefix`) or that every Docker driver has
//! (`mode`, `max-buffer-size`).

use std::collections::BTreeMap;
use std::time::Duration;

use regex_lite::Regex;

/// `awslogs-force-flush-interval-seconds` when not given: how long a
/// multiline event may wait for its next line (Docker's default).
pub const DEFAULT_FLUSH_INTERVAL: Duration = Duration::from_secs(5);

/// `max-buffer-size` when not given in `non-blocking` mode: the ECS agent
/// sets `10m` (`maxBufferSizeDefault`), over Docker's own 1 MB.
pub const DEFAULT_MAX_BUFFER_BYTES: usize = 10 * 1024 * 1024;

/// The options Docker's awslogs driver accepts (`ValidateLogOpt`), ECS's
/// stream prefix, and the options every Docker log driver accepts.
const KNOWN: &[&str] = &[
    "tag",
    "awslogs-group",
    "awslogs-stream",
    "awslogs-create-group",
    "awslogs-create-stream",
    "awslogs-region",
    "awslogs-endpoint",
    "awslogs-datetime-format",
    "awslogs-multiline-pattern",
    "awslogs-credentials-endpoint",
    "awslogs-force-flush-interval-seconds",
    "awslogs-max-buffered-events",
    "awslogs-format",
    "awslogs-stream-prefix",
    "mode",
    "max-buffer-size",
];

/// How output is delivered when shipping cannot keep up (Docker's `mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Nothing is dropped: reading waits for shipping (the container never
    /// waits: its output is on disk in the engine's json-file log).
    Blocking,
    /// At most this many bytes wait to be shipped; beyond that, messages
    /// are dropped, as Docker's ring buffer drops them.
    NonBlocking {
        /// `max-buffer-size`.
        max_buffer_bytes: usize,
    },
}

/// The `awslogs` options of a container definition: `None` if it uses
/// another log driver (or none), else the options or Docker's refusal.
pub fn of_container(
    def: &wharf_model::ecs::shapes::ContainerDefinition,
) -> Option<Result<AwsLogsOptions, String>> {
    use wharf_model::ecs::shapes::LogDriver;
    let lc = def.log_configuration.as_ref()?;
    if lc.log_driver != Some(LogDriver::Awslogs) {
        return None;
    }
    let empty = BTreeMap::new();
    Some(parse(lc.options.as_ref().unwrap_or(&empty)))
}

/// One container's `awslogs` configuration.
#[derive(Debug, Clone)]
pub struct AwsLogsOptions {
    /// `awslogs-group`.
    pub group: String,
    /// `awslogs-region`, if given.
    pub region: Option<String>,
    /// `awslogs-stream`, if given: the stream name as is.
    pub stream: Option<String>,
    /// `awslogs-stream-prefix`, if given.
    pub stream_prefix: Option<String>,
    /// `awslogs-create-group` (default false).
    pub create_group: bool,
    /// `awslogs-create-stream` (default true).
    pub create_stream: bool,
    /// The start-of-event pattern from `awslogs-multiline-pattern` or
    /// `awslogs-datetime-format`.
    pub multiline: Option<Regex>,
    /// `awslogs-force-flush-interval-seconds`.
    pub flush_interval: Duration,
    /// `mode` and `max-buffer-size`.
    pub mode: Mode,
}

impl AwsLogsOptions {
    /// The stream a container's output goes to: `awslogs-stream` if given,
    /// else `prefix/container-name/task-id` (ECS), else the Docker container
    /// ID (Docker's default).
    pub fn stream_name(&self, container: &str, task_id: &str, docker_id: &str) -> String {
        match (&self.stream, &self.stream_prefix) {
            (Some(stream), _) => stream.clone(),
            (None, Some(prefix)) => format!("{prefix}/{container}/{task_id}"),
            (None, None) => docker_id.to_owned(),
        }
    }
}

/// Reads a container's `logConfiguration.options` for `awslogs`. The error is
/// Docker's message for the first option it refuses.
pub fn parse(options: &BTreeMap<String, String>) -> Result<AwsLogsOptions, String> {
    if let Some(unknown) = options.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(format!("unknown log opt '{unknown}' for awslogs log driver"));
    }
    let get = |k: &str| options.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let group = get("awslogs-group")
        .ok_or_else(|| "must specify a value for log opt 'awslogs-group'".to_owned())?
        .to_owned();
    let flag = |k: &str, default: bool| {
        match get(k) {
        None => Ok(default),
        Some(v) => parse_bool(v).ok_or_else(|| {
            format!("must specify valid value for log opt '{k}': strconv.ParseBool: parsing {v:?}: invalid syntax")
        }),
    }
    };
    let create_group = flag("awslogs-create-group", false)?;
    let create_stream = flag("awslogs-create-stream", true)?;
    let flush_interval = match get("awslogs-force-flush-interval-seconds") {
        None => DEFAULT_FLUSH_INTERVAL,
        Some(v) => match v.parse::<u64>() {
            Ok(n) if n > 0 => Duration::from_secs(n),
            _ => {
                return Err(format!(
                    "must specify a positive integer for log opt 'awslogs-force-flush-interval-seconds': {v}"
                ))
            }
        },
    };
    if options.contains_key("awslogs-datetime-format")
        && options.contains_key("awslogs-multiline-pattern")
    {
        return Err("you cannot configure log opt 'awslogs-datetime-format' and \
                    'awslogs-multiline-pattern' at the same time"
            .to_owned());
    }
    let pattern = match (get("awslogs-datetime-format"), get("awslogs-multiline-pattern")) {
        (Some(format), _) => Some(strftime_to_regex(format)),
        (None, Some(pattern)) => Some(pattern.to_owned()),
        (None, None) => None,
    };
    let multiline = match pattern {
        Some(p) => Some(
            Regex::new(&p)
                .map_err(|e| format!("awslogs could not parse multiline pattern key {p:?}: {e}"))?,
        ),
        None => None,
    };
    let mode = match get("mode") {
        None | Some("non-blocking") => {
            let max_buffer_bytes = match get("max-buffer-size") {
                None => DEFAULT_MAX_BUFFER_BYTES,
                Some(v) => ram_in_bytes(v)
                    .filter(|n| *n > 0)
                    .ok_or_else(|| format!("could not parse max-buffer-size: {v}"))?,
            };
            Mode::NonBlocking { max_buffer_bytes }
        }
        Some("blocking") => Mode::Blocking,
        Some(other) => return Err(format!("logger: logging mode not supported: {other}")),
    };
    Ok(AwsLogsOptions {
        group,
        region: get("awslogs-region").map(str::to_owned),
        stream: get("awslogs-stream").map(str::to_owned),
        stream_prefix: get("awslogs-stream-prefix").map(str::to_owned),
        create_group,
        create_stream,
        multiline,
        flush_interval,
        mode,
    })
}

/// Go's `strconv.ParseBool`.
fn parse_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// A size as Docker's `units.RAMInBytes` reads it: a number with an optional
/// binary unit (`b`, `k`, `m`, `g`, `t`, `p`, optionally followed by `b` or
/// `ib`, any case).
fn ram_in_bytes(v: &str) -> Option<usize> {
    let v = v.trim();
    let digits = v.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(v.len());
    let number: f64 = v[..digits].parse().ok()?;
    let unit = v[digits..].trim().to_ascii_lowercase();
    let unit = unit.strip_suffix("ib").or_else(|| unit.strip_suffix('b')).unwrap_or(&unit);
    let scale: f64 = match unit {
        "" => 1.0,
        "k" => 1024.0,
        "m" => 1024.0 * 1024.0,
        "g" => 1024.0 * 1024.0 * 1024.0,
        "t" => 1024f64.powi(4),
        "p" => 1024f64.powi(5),
        _ => return None,
    };
    let bytes = number * scale;
    (bytes.is_finite() && bytes >= 0.0 && bytes < usize::MAX as f64).then_some(bytes as usize)
}

/// `awslogs-datetime-format` as the pattern Docker matches lines against:
/// each `%x` sequence replaced from Docker's table (an unknown one by
/// nothing), the rest kept as is.
pub fn strftime_to_regex(format: &str) -> String {
    let mut out = String::new();
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let Some(spec) = chars.next() else {
            out.push('%');
            break;
        };
        out.push_str(match spec {
            'a' => "(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)",
            'A' => "(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)",
            'w' => "[0-6]",
            'd' => "(?:0[1-9]|[1,2][0-9]|3[0,1])",
            'b' => "(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)",
            'B' => "(?:January|February|March|April|May|June|July|August|September|October|November|December)",
            'm' => "(?:0[1-9]|1[0-2])",
            'Y' => r"\d{4}",
            'y' => r"\d{2}",
            'H' => "(?:[0,1][0-9]|2[0-3])",
            'I' => "(?:0[0-9]|1[0-2])",
            'p' => "[A,P]M",
            'M' => "[0-5][0-9]",
            'S' => "[0-5][0-9]",
            'f' => r"\d{6}",
            'z' => r"[+-]\d{4}",
            'Z' => "[A-Z]{1,4}T",
            'j' => "(?:0[0-9][1-9]|[1,2][0-9][0-9]|3[0-5][0-9]|36[0-6])",
            'L' => r"\.\d{3}",
            _ => "",
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn defaults_and_stream_names() {
        let o = parse(&opts(&[("awslogs-group", "/ecs/web"), ("awslogs-stream-prefix", "ecs")]))
            .expect("valid");
        assert_eq!(o.group, "/ecs/web");
        assert!(!o.create_group && o.create_stream);
        assert_eq!(o.mode, Mode::NonBlocking { max_buffer_bytes: DEFAULT_MAX_BUFFER_BYTES });
        assert_eq!(o.flush_interval, DEFAULT_FLUSH_INTERVAL);
        assert_eq!(o.stream_name("web", "abc123", "d0cker"), "ecs/web/abc123");
        let bare = parse(&opts(&[("awslogs-group", "g")])).expect("valid");
        assert_eq!(bare.stream_name("web", "abc123", "d0cker"), "d0cker");
    }

    #[test]
    fn refusals_in_dockers_words() {
        let e = parse(&opts(&[("awslogs-group", "g"), ("awslogs-colour", "x")])).unwrap_err();
        assert_eq!(e, "unknown log opt 'awslogs-colour' for awslogs log driver");
        let e = parse(&opts(&[("awslogs-region", "us-east-1")])).unwrap_err();
        assert_eq!(e, "must specify a value for log opt 'awslogs-group'");
        let e =
            parse(&opts(&[("awslogs-group", "g"), ("awslogs-create-group", "yes")])).unwrap_err();
        assert!(
            e.starts_with("must specify valid value for log opt 'awslogs-create-group'"),
            "{e}"
        );
        let e = parse(&opts(&[
            ("awslogs-group", "g"),
            ("awslogs-datetime-format", "%Y"),
            ("awslogs-multiline-pattern", "^x"),
        ]))
        .unwrap_err();
        assert!(e.starts_with("you cannot configure log opt"), "{e}");
        let e = parse(&opts(&[("awslogs-group", "g"), ("mode", "eager")])).unwrap_err();
        assert_eq!(e, "logger: logging mode not supported: eager");
        let e = parse(&opts(&[("awslogs-group", "g"), ("awslogs-multiline-pattern", "(")]))
            .unwrap_err();
        assert!(e.starts_with("awslogs could not parse multiline pattern key"), "{e}");
    }

    #[test]
    fn modes_and_sizes() {
        let o = parse(&opts(&[("awslogs-group", "g"), ("mode", "blocking")])).expect("valid");
        assert_eq!(o.mode, Mode::Blocking);
        let o = parse(&opts(&[("awslogs-group", "g"), ("max-buffer-size", "25m")])).expect("valid");
        assert_eq!(o.mode, Mode::NonBlocking { max_buffer_bytes: 25 * 1024 * 1024 });
        assert_eq!(ram_in_bytes("512KiB"), Some(512 * 1024));
        assert_eq!(ram_in_bytes("4MB"), Some(4 * 1024 * 1024));
        assert_eq!(ram_in_bytes("100"), Some(100));
        assert_eq!(ram_in_bytes("lots"), None);
    }

    #[test]
    fn datetime_format_becomes_dockers_pattern() {
        let p = strftime_to_regex("%Y-%m-%d %H:%M:%S");
        let re = Regex::new(&p).expect("compiles");
        assert!(re.is_match("2024-05-01 12:00:00 started"));
        assert!(!re.is_match("    at Foo.bar(Foo.java:10)"));
        assert_eq!(
            strftime_to_regex("[%b %d] %Q"),
            "[(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (?:0[1-9]|[1,2][0-9]|3[0,1])] "
        );
    }
}
