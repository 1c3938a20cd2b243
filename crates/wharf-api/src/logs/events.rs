//! Events: PutLogEvents (CloudWatch's batch rules), GetLogEvents (one
//! stream, forward and backward, `f/` and `b/` tokens) and FilterLogEvents
//! (a group, interleaved in time order, filter patterns).

use std::sync::Arc;

use wharf_model::logs::filter::Pattern;
use wharf_model::logs::shapes::{
    FilterLogEventsRequest, FilterLogEventsResponse, FilteredLogEvent, GetLogEventsRequest,
    GetLogEventsResponse, OutputLogEvent, PutLogEventsRequest, PutLogEventsResponse,
    RejectedLogEventsInfo,
};
use wharf_model::logs::{self as rules, limits, LogsError, Position, StreamToken};
use wharf_store::logs::{Append, FilterQuery, NewGroup, ReadFrom, StreamRead};

use super::{decode_token, group_name, group_ref, limit, stream_name};
use crate::context::Ctx;
use crate::pagination;

/// The events of a PutLogEvents call, checked member by member.
fn input_events(req: &mut PutLogEventsRequest) -> Result<Vec<(i64, String)>, LogsError> {
    let events = req.log_events.take().ok_or_else(|| LogsError::missing("logEvents"))?;
    events
        .into_iter()
        .enumerate()
        .map(|(i, e)| {
            let member = |m: &str| format!("logEvents.{}.member.{m}", i + 1);
            let ts = e.timestamp.ok_or_else(|| LogsError::missing(&member("timestamp")))?;
            let message = e.message.ok_or_else(|| LogsError::missing(&member("message")))?;
            if message.is_empty() {
                return Err(LogsError::constraint(
                    &member("message"),
                    "",
                    "Member must have length greater than or equal to 1",
                ));
            }
            Ok((ts, message))
        })
        .collect()
}

/// PutLogEvents: appends what CloudWatch accepts of the batch and reports
/// the rest in `rejectedLogEventsInfo`. The sequence token is ignored, as
/// CloudWatch ignores it today.
pub(crate) async fn put_log_events(
    ctx: &Ctx,
    mut req: PutLogEventsRequest,
) -> Result<PutLogEventsResponse, LogsError> {
    let group = group_name(req.log_group_name.take())?;
    let stream = stream_name(req.log_stream_name.take())?;
    let events = input_events(&mut req)?;
    let now = ctx.state.ops.clock.now_millis();
    let record =
        ctx.state.logs.group(&ctx.region, &group)?.ok_or_else(LogsError::group_not_found)?;
    let sizes: Vec<(i64, usize)> = events.iter().map(|(ts, m)| (*ts, m.len())).collect();
    let rejected = rules::check_batch(&sizes, now, record.retention_days)?;
    let kept = rejected.kept(events.len());
    let events: Vec<(i64, String)> =
        events.into_iter().skip(kept.start).take(kept.end - kept.start).collect();
    let append = Append {
        group: NewGroup {
            name: group,
            created: now,
            class: String::new(),
            kms_key_id: None,
            tags: Default::default(),
        },
        stream,
        create_group: false,
        create_stream: false,
        events,
        ingested: now,
        cursor: None,
    };
    ctx.state.logs.append(&ctx.region, append).await?;
    let index = |i: Option<usize>| i.map(|i| i as i32);
    let info = (rejected != rules::Rejected::default()).then(|| RejectedLogEventsInfo {
        too_new_log_event_start_index: index(rejected.too_new_start),
        too_old_log_event_end_index: index(rejected.too_old_end),
        expired_log_event_end_index: index(rejected.expired_end),
    });
    Ok(PutLogEventsResponse {
        next_sequence_token: Some(Position { ts: now, seq: 0 }.digits()),
        rejected_log_events_info: info,
        rejected_entity_info: None,
    })
}

fn bad_token() -> LogsError {
    LogsError::invalid("The specified nextToken is invalid.")
}

/// GetLogEvents: one stream's events in time order. Without a token, the
/// newest `limit` events (or with `startFromHead` the oldest); with `f/...`
/// the ones after it, with `b/...` the ones before. At the end the same
/// token comes back, which is how paginators know to stop.
pub(crate) async fn get_log_events(
    ctx: &Ctx,
    req: GetLogEventsRequest,
) -> Result<GetLogEventsResponse, LogsError> {
    let group = group_ref(ctx, req.log_group_name, req.log_group_identifier)?;
    let stream = stream_name(req.log_stream_name)?;
    let limit = limit(req.limit, limits::MAX_EVENTS_PER_READ)?;
    let token = req
        .next_token
        .as_deref()
        .map(|t| StreamToken::decode(t).ok_or_else(bad_token))
        .transpose()?;
    let from = match token {
        Some(StreamToken::Forward(p)) => ReadFrom::After(p),
        Some(StreamToken::Backward(p)) => ReadFrom::Before(p),
        None if req.start_from_head == Some(true) => ReadFrom::Head,
        None => ReadFrom::Tail,
    };
    let read = StreamRead { start: req.start_time, end: req.end_time, from, limit };
    let events = ctx.state.logs.read_stream(&ctx.region, &group, &stream, &read)?;
    let (forward, backward) = match (events.first(), events.last(), token) {
        (Some(first), Some(last), _) => {
            (StreamToken::Forward(last.pos), StreamToken::Backward(first.pos))
        }
        (_, _, Some(t @ StreamToken::Forward(p))) => (t, StreamToken::Backward(p)),
        (_, _, Some(t @ StreamToken::Backward(p))) => (StreamToken::Forward(p), t),
        (_, _, None) => {
            (StreamToken::Forward(Position::START), StreamToken::Backward(Position::START))
        }
    };
    Ok(GetLogEventsResponse {
        events: Some(
            events
                .into_iter()
                .map(|e| OutputLogEvent {
                    timestamp: Some(e.pos.ts),
                    message: Some(e.message),
                    ingestion_time: Some(e.ingested),
                })
                .collect(),
        ),
        next_forward_token: Some(forward.encode()),
        next_backward_token: Some(backward.encode()),
    })
}

/// FilterLogEvents: a group's events matching a pattern, from all its
/// streams (or those named, or with a prefix), interleaved in time order.
pub(crate) async fn filter_log_events(
    ctx: &Ctx,
    req: FilterLogEventsRequest,
) -> Result<FilterLogEventsResponse, LogsError> {
    let group = group_ref(ctx, req.log_group_name, req.log_group_identifier)?;
    if req.log_stream_names.is_some() && req.log_stream_name_prefix.is_some() {
        return Err(LogsError::invalid(
            "logStreamNames and logStreamNamePrefix are mutually exclusive parameters.",
        ));
    }
    if let Some(names) = &req.log_stream_names {
        if names.is_empty() || names.len() > limits::MAX_FILTER_STREAMS {
            return Err(LogsError::invalid(format!(
                "1 validation error detected: Value at 'logStreamNames' failed to satisfy \
                 constraint: Member must have length between 1 and {}",
                limits::MAX_FILTER_STREAMS
            )));
        }
        for n in names {
            rules::validate_stream_name("logStreamNames", n)?;
        }
    }
    if let Some(p) = &req.log_stream_name_prefix {
        rules::validate_stream_name("logStreamNamePrefix", p)?;
    }
    let limit = limit(req.limit, limits::MAX_EVENTS_PER_READ)?;
    let pattern = req.filter_pattern.as_deref().unwrap_or("");
    if pattern.chars().count() > limits::MAX_FILTER_PATTERN {
        return Err(LogsError::constraint(
            "filterPattern",
            pattern,
            &format!(
                "Member must have length less than or equal to {}",
                limits::MAX_FILTER_PATTERN
            ),
        ));
    }
    let pattern = Pattern::parse(pattern)?;
    let after = decode_token(req.next_token.as_deref())?
        .map(|p| Position::from_digits(&p).ok_or_else(bad_token))
        .transpose()?;
    let query = FilterQuery {
        streams: req.log_stream_names,
        prefix: req.log_stream_name_prefix,
        start: req.start_time,
        end: req.end_time,
        after,
        limit,
        pattern: Arc::new(pattern),
    };
    let page = ctx.state.logs.filter(&ctx.region, &group, query).await?;
    Ok(FilterLogEventsResponse {
        events: Some(
            page.events
                .into_iter()
                .map(|e| FilteredLogEvent {
                    log_stream_name: Some(e.stream),
                    timestamp: Some(e.event.pos.ts),
                    ingestion_time: Some(e.event.ingested),
                    event_id: Some(e.event.pos.digits()),
                    message: Some(e.event.message),
                })
                .collect(),
        ),
        searched_log_streams: Some(vec![]),
        next_token: page.next.map(|p| pagination::encode(&p.digits())),
    })
}
