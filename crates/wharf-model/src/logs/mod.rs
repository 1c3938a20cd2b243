//! Amazon CloudWatch Logs: wire shapes, the rules CloudWatch applies to names,
//! batches and retention, its limits (as data, with their sources), the
//! position encoding behind tokens and event ids, and the filter pattern
//! language ([`filter`]).

pub mod error;
pub mod filter;
pub mod shapes;

pub use error::{LogsError, LogsErrorKind};

/// Limits CloudWatch Logs documents, as data. Sources: the API reference of
/// each operation (PutLogEvents, GetLogEvents, FilterLogEvents,
/// DescribeLogGroups, DescribeLogStreams, TagResource) and botocore's model
/// (`logs` 2014-03-28: name lengths and patterns, `EventsLimit`,
/// `DescribeLimit`, `Days`).
pub mod limits {
    /// PutLogEvents: at most this many events per call.
    pub const MAX_BATCH_EVENTS: usize = 10_000;
    /// PutLogEvents: at most this many bytes per call, counting
    /// [`EVENT_OVERHEAD`] per event on top of its UTF-8 message.
    pub const MAX_BATCH_BYTES: usize = 1_048_576;
    /// PutLogEvents: what each event adds to the batch size.
    pub const EVENT_OVERHEAD: usize = 26;
    /// PutLogEvents: one event, overhead included, is at most 1 MiB.
    pub const MAX_EVENT_BYTES: usize = 1_048_576;
    /// PutLogEvents: a batch spans at most 24 hours.
    pub const MAX_BATCH_SPAN_MS: i64 = 24 * 3600 * 1000;
    /// PutLogEvents: events more than 2 hours in the future are too new.
    pub const TOO_NEW_MS: i64 = 2 * 3600 * 1000;
    /// PutLogEvents: events more than 14 days old are too old.
    pub const TOO_OLD_MS: i64 = 14 * 24 * 3600 * 1000;
    /// GetLogEvents and FilterLogEvents: the most (and default) events per call.
    pub const MAX_EVENTS_PER_READ: usize = 10_000;
    /// GetLogEvents and FilterLogEvents: answers stop before this many message bytes.
    pub const MAX_READ_BYTES: usize = 1_048_576;
    /// DescribeLogGroups and DescribeLogStreams: the most (and default) items per call.
    pub const MAX_DESCRIBE: usize = 50;
    /// Tags on one log group.
    pub const MAX_TAGS: usize = 50;
    /// Log group and log stream names: at most this many characters.
    pub const MAX_NAME_LEN: usize = 512;
    /// FilterLogEvents `filterPattern`: at most this many characters.
    pub const MAX_FILTER_PATTERN: usize = 1024;
    /// FilterLogEvents `logStreamNames`: at most this many streams.
    pub const MAX_FILTER_STREAMS: usize = 100;
    /// The retention periods PutRetentionPolicy accepts, in days.
    pub const RETENTION_DAYS: &[i32] = &[
        1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
        2922, 3288, 3653,
    ];
}

/// One day in milliseconds.
pub const DAY_MS: i64 = 24 * 3600 * 1000;

fn length_error(member: &str, value: &str) -> LogsError {
    let rule = if value.is_empty() {
        "Member must have length greater than or equal to 1"
    } else {
        "Member must have length less than or equal to 512"
    };
    LogsError::constraint(member, value, rule)
}

/// Checks a log group name: 1–512 characters of `[\.\-_/#A-Za-z0-9]`.
pub fn validate_group_name(member: &str, name: &str) -> Result<(), LogsError> {
    if name.is_empty() || name.chars().count() > limits::MAX_NAME_LEN {
        return Err(length_error(member, name));
    }
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-/#".contains(&b)) {
        return Err(LogsError::constraint(
            member,
            name,
            "Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+",
        ));
    }
    Ok(())
}

/// Checks a log stream name: 1–512 characters, none of them `:` or `*`.
pub fn validate_stream_name(member: &str, name: &str) -> Result<(), LogsError> {
    if name.is_empty() || name.chars().count() > limits::MAX_NAME_LEN {
        return Err(length_error(member, name));
    }
    if name.contains([':', '*']) {
        return Err(LogsError::constraint(
            member,
            name,
            "Member must satisfy regular expression pattern: [^:*]*",
        ));
    }
    Ok(())
}

/// Checks a retention period against the values CloudWatch accepts.
pub fn validate_retention(days: i32) -> Result<(), LogsError> {
    if limits::RETENTION_DAYS.contains(&days) {
        return Ok(());
    }
    let set: Vec<String> = limits::RETENTION_DAYS.iter().map(i32::to_string).collect();
    Err(LogsError::constraint(
        "retentionInDays",
        &days.to_string(),
        &format!("Member must satisfy enum value set: [{}]", set.join(", ")),
    ))
}

/// The ARN of a log group as `LogGroup.arn` carries it (with a trailing `:*`).
pub fn group_arn(region: &str, account: &str, name: &str) -> String {
    format!("{}:*", group_arn_bare(region, account, name))
}

/// The ARN of a log group without the trailing `:*` (`logGroupArn`; what
/// TagResource takes).
pub fn group_arn_bare(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:logs:{region}:{account}:log-group:{name}")
}

/// The ARN of a log stream.
pub fn stream_arn(region: &str, account: &str, group: &str, stream: &str) -> String {
    format!("arn:aws:logs:{region}:{account}:log-group:{group}:log-stream:{stream}")
}

/// A log group named by `logGroupIdentifier` (a name or an ARN, with or
/// without `:*`): (region from the ARN if any, name).
pub fn parse_group_identifier(id: &str) -> Option<(Option<&str>, &str)> {
    let Some(rest) = id.strip_prefix("arn:") else { return Some((None, id)) };
    let mut parts = rest.splitn(5, ':');
    let (_partition, service, region, _account) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let name = parts.next()?.strip_prefix("log-group:")?;
    let name = name.strip_suffix(":*").unwrap_or(name);
    (service == "logs" && !name.is_empty()).then_some((Some(region), name))
}

/// Where an event sits in a stream's or group's order: (timestamp, append
/// sequence). Tokens and event ids are this pair, written as CloudWatch
/// writes them: 56 decimal digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    /// The event's timestamp, ms since the epoch (never negative).
    pub ts: i64,
    /// The event's append sequence number (unique in the store).
    pub seq: i64,
}

impl Position {
    /// Before every event.
    pub const START: Position = Position { ts: 0, seq: 0 };

    /// The 56 digits: 20 of timestamp, 36 of sequence.
    pub fn digits(self) -> String {
        format!("{:020}{:036}", self.ts.max(0), self.seq.max(0))
    }

    /// Reads [`Position::digits`].
    pub fn from_digits(s: &str) -> Option<Position> {
        if s.len() != 56 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(Position { ts: s[..20].parse().ok()?, seq: s[20..].parse().ok()? })
    }
}

/// A GetLogEvents token: `f/<position>` reads forward from after the
/// position, `b/<position>` backward from before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamToken {
    /// Events after this position, oldest first.
    Forward(Position),
    /// Events before this position (the newest of them).
    Backward(Position),
}

impl StreamToken {
    /// The token as the wire carries it.
    pub fn encode(self) -> String {
        match self {
            Self::Forward(p) => format!("f/{}", p.digits()),
            Self::Backward(p) => format!("b/{}", p.digits()),
        }
    }

    /// Reads a token; `None` if it is not one of ours.
    pub fn decode(s: &str) -> Option<Self> {
        if let Some(d) = s.strip_prefix("f/") {
            return Position::from_digits(d).map(Self::Forward);
        }
        s.strip_prefix("b/").and_then(Position::from_digits).map(Self::Backward)
    }
}

/// What PutLogEvents leaves out of a batch, by index (CloudWatch's
/// `rejectedLogEventsInfo`): events before `too_old_end` are too old (or,
/// before `expired_end`, older than the retention period); events from
/// `too_new_start` on are too new.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rejected {
    /// Exclusive end of the too-old events.
    pub too_old_end: Option<usize>,
    /// Exclusive end of the expired events.
    pub expired_end: Option<usize>,
    /// Inclusive start of the too-new events.
    pub too_new_start: Option<usize>,
}

impl Rejected {
    /// The range of indexes kept.
    pub fn kept(&self, len: usize) -> std::ops::Range<usize> {
        let start = self.too_old_end.unwrap_or(0).max(self.expired_end.unwrap_or(0));
        let end = self.too_new_start.unwrap_or(len);
        start..end.max(start)
    }
}

/// Checks a PutLogEvents batch (timestamps and message lengths, in order)
/// against CloudWatch's rules at `now_ms` with the group's retention, and says
/// which events are left out. A batch that breaks a rule is refused whole.
pub fn check_batch(
    events: &[(i64, usize)],
    now_ms: i64,
    retention_days: Option<i32>,
) -> Result<Rejected, LogsError> {
    if events.is_empty() {
        return Err(LogsError::constraint(
            "logEvents",
            "[]",
            "Member must have length greater than or equal to 1",
        ));
    }
    if events.len() > limits::MAX_BATCH_EVENTS {
        return Err(LogsError::invalid(format!(
            "1 validation error detected: Value at 'logEvents' failed to satisfy constraint: \
             Member must have length less than or equal to {}",
            limits::MAX_BATCH_EVENTS
        )));
    }
    let mut total = 0usize;
    for &(_, len) in events {
        let size = len + limits::EVENT_OVERHEAD;
        if size > limits::MAX_EVENT_BYTES {
            return Err(LogsError::invalid(format!(
                "Log event too large: {size} bytes exceeds limit of {}",
                limits::MAX_EVENT_BYTES
            )));
        }
        total += size;
    }
    if total > limits::MAX_BATCH_BYTES {
        return Err(LogsError::invalid(format!(
            "Upload too large: {total} bytes exceeds limit of {}",
            limits::MAX_BATCH_BYTES
        )));
    }
    if events.windows(2).any(|w| w[1].0 < w[0].0) {
        return Err(LogsError::invalid(
            "Log events in a single PutLogEvents request must be in chronological order.",
        ));
    }
    let (first, last) = (events[0].0, events[events.len() - 1].0);
    if last - first > limits::MAX_BATCH_SPAN_MS {
        return Err(LogsError::invalid(
            "The batch of log events in a single PutLogEvents request cannot span more than 24 \
             hours.",
        ));
    }
    let mut rejected = Rejected::default();
    let too_old = events.partition_point(|e| e.0 < now_ms - limits::TOO_OLD_MS);
    if too_old > 0 {
        rejected.too_old_end = Some(too_old);
    }
    if let Some(days) = retention_days {
        let expired = events.partition_point(|e| e.0 < now_ms - i64::from(days) * DAY_MS);
        if expired > 0 {
            rejected.expired_end = Some(expired);
        }
    }
    let too_new = events.partition_point(|e| e.0 <= now_ms + limits::TOO_NEW_MS);
    if too_new < events.len() {
        rejected.too_new_start = Some(too_new);
    }
    Ok(rejected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_cloudwatch_rules() {
        assert!(validate_group_name("logGroupName", "/ecs/web-app_1.x#2").is_ok());
        let e = validate_group_name("logGroupName", "a b").unwrap_err();
        assert_eq!(e.kind, LogsErrorKind::InvalidParameterException);
        assert!(e.message.contains("'logGroupName'"), "{}", e.message);
        assert!(validate_group_name("logGroupName", "").is_err());
        assert!(validate_group_name("logGroupName", &"a".repeat(513)).is_err());
        assert!(validate_group_name("logGroupName", &"a".repeat(512)).is_ok());
        assert!(validate_stream_name("logStreamName", "ecs/web/0f1e 2 ü").is_ok());
        assert!(validate_stream_name("logStreamName", "a:b").is_err());
        assert!(validate_stream_name("logStreamName", "a*").is_err());
    }

    #[test]
    fn retention_values() {
        assert!(validate_retention(14).is_ok());
        let e = validate_retention(2).unwrap_err();
        assert!(e.message.contains("[1, 3, 5, 7, 14"), "{}", e.message);
    }

    #[test]
    fn identifiers_and_arns() {
        assert_eq!(parse_group_identifier("/a/b"), Some((None, "/a/b")));
        let arn = group_arn("eu-west-1", "123456789012", "/a/b");
        assert_eq!(arn, "arn:aws:logs:eu-west-1:123456789012:log-group:/a/b:*");
        assert_eq!(parse_group_identifier(&arn), Some((Some("eu-west-1"), "/a/b")));
        let bare = group_arn_bare("eu-west-1", "123456789012", "/a/b");
        assert_eq!(parse_group_identifier(&bare), Some((Some("eu-west-1"), "/a/b")));
        assert_eq!(parse_group_identifier("arn:aws:s3:::x"), None);
    }

    #[test]
    fn tokens_round_trip() {
        let p = Position { ts: 1_700_000_000_123, seq: 42 };
        assert_eq!(p.digits().len(), 56);
        assert_eq!(
            StreamToken::decode(&StreamToken::Forward(p).encode()),
            Some(StreamToken::Forward(p))
        );
        assert_eq!(
            StreamToken::decode(&StreamToken::Backward(p).encode()),
            Some(StreamToken::Backward(p))
        );
        assert_eq!(StreamToken::decode("f/123"), None);
        assert_eq!(
            StreamToken::decode("x/00000000000000000000000000000000000000000000000000000000"),
            None
        );
    }

    #[test]
    fn batches_follow_put_log_events_rules() {
        let now = 100 * DAY_MS;
        assert!(check_batch(&[], now, None).is_err());
        let many = vec![(now, 1); limits::MAX_BATCH_EVENTS + 1];
        assert!(check_batch(&many, now, None).is_err());
        assert!(check_batch(&[(now, 1_048_550)], now, None).is_ok());
        assert!(check_batch(&[(now, 1_048_551)], now, None).is_err());
        let e = check_batch(&[(now, 1), (now - 1, 1)], now, None).unwrap_err();
        assert!(e.message.contains("chronological"));
        let e = check_batch(&[(now - DAY_MS - 1, 1), (now, 1)], now, None).unwrap_err();
        assert!(e.message.contains("24 hours"));
        let r = check_batch(
            &[
                (now - 15 * DAY_MS, 1),
                (now - 15 * DAY_MS + 5, 1),
                (now, 1),
                (now + 3 * 3600 * 1000, 1),
            ],
            now,
            None,
        );
        assert!(r.is_err(), "span over 24h");
        let r = check_batch(&[(now - 14 * DAY_MS - 1, 1), (now - 14 * DAY_MS + 1, 1)], now, None)
            .unwrap();
        assert_eq!(r.too_old_end, Some(1));
        assert_eq!(r.kept(2), 1..2);
        let r = check_batch(&[(now - DAY_MS - 1000, 1), (now - 1000, 1)], now, Some(1)).unwrap();
        assert_eq!(r, Rejected { too_old_end: None, expired_end: Some(1), too_new_start: None });
        assert_eq!(r.kept(2), 1..2);
        let r = check_batch(&[(now, 1), (now + 3 * 3600 * 1000, 1)], now, None).unwrap();
        assert_eq!(r, Rejected { too_old_end: None, expired_end: None, too_new_start: Some(1) });
        assert_eq!(r.kept(2), 0..1);
    }
}
