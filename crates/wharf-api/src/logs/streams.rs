//! Log streams: CreateLogStream, DeleteLogStream, DescribeLogStreams.

use wharf_model::logs::shapes::{
    CreateLogStreamRequest, DeleteLogStreamRequest, DescribeLogStreamsRequest,
    DescribeLogStreamsResponse, LogStream, OrderBy,
};
use wharf_model::logs::{self as rules, LogsError};
use wharf_store::logs::{StreamQuery, StreamRecord};

use super::{decode_token, group_name, group_ref, limit, stream_name, Empty, DESCRIBE_LIMIT};
use crate::context::Ctx;
use crate::pagination;

fn to_wire(ctx: &Ctx, group: &str, s: StreamRecord) -> LogStream {
    LogStream {
        arn: Some(rules::stream_arn(&ctx.region, &ctx.state.ops.account_id, group, &s.name)),
        creation_time: Some(s.created),
        first_event_timestamp: s.first_event,
        last_event_timestamp: s.last_event,
        last_ingestion_time: s.last_ingestion,
        // Ignored by PutLogEvents, as CloudWatch ignores it; still shown.
        upload_sequence_token: Some(
            rules::Position { ts: s.last_ingestion.unwrap_or(0), seq: s.stored_bytes }.digits(),
        ),
        stored_bytes: Some(s.stored_bytes),
        log_stream_name: Some(s.name),
    }
}

/// CreateLogStream.
pub(crate) async fn create_log_stream(
    ctx: &Ctx,
    req: CreateLogStreamRequest,
) -> Result<Empty, LogsError> {
    let group = group_name(req.log_group_name)?;
    let stream = stream_name(req.log_stream_name)?;
    ctx.state
        .logs
        .create_stream(&ctx.region, &group, &stream, ctx.state.ops.clock.now_millis())
        .await?;
    Ok(Empty {})
}

/// DeleteLogStream: the stream and its events.
pub(crate) async fn delete_log_stream(
    ctx: &Ctx,
    req: DeleteLogStreamRequest,
) -> Result<Empty, LogsError> {
    let group = group_name(req.log_group_name)?;
    let stream = stream_name(req.log_stream_name)?;
    ctx.state.logs.delete_stream(&ctx.region, &group, &stream).await?;
    Ok(Empty {})
}

/// DescribeLogStreams: by name (optionally a prefix) or by last event time.
pub(crate) async fn describe_log_streams(
    ctx: &Ctx,
    req: DescribeLogStreamsRequest,
) -> Result<DescribeLogStreamsResponse, LogsError> {
    let group = group_ref(ctx, req.log_group_name, req.log_group_identifier)?;
    let by_last_event = match req.order_by {
        None | Some(OrderBy::LogStreamName) => false,
        Some(OrderBy::LastEventTime) => true,
        Some(other) => {
            return Err(LogsError::constraint(
                "orderBy",
                other.as_str(),
                "Member must satisfy enum value set: [LogStreamName, LastEventTime]",
            ))
        }
    };
    if let Some(p) = &req.log_stream_name_prefix {
        if by_last_event {
            return Err(LogsError::invalid(
                "Cannot order by LastEventTime with a logStreamNamePrefix.",
            ));
        }
        rules::validate_stream_name("logStreamNamePrefix", p)?;
    }
    let limit = limit(req.limit, DESCRIBE_LIMIT)?;
    let after = match decode_token(req.next_token.as_deref())? {
        None => None,
        Some(pos) => {
            let (ts, name) = pos
                .split_once('\n')
                .and_then(|(ts, name)| Some((ts.parse::<i64>().ok()?, name.to_owned())))
                .ok_or_else(|| LogsError::invalid("The specified nextToken is invalid."))?;
            Some((ts, name))
        }
    };
    let mut found = ctx.state.logs.streams(
        &ctx.region,
        &group,
        &StreamQuery {
            prefix: req.log_stream_name_prefix,
            by_last_event,
            descending: req.descending.unwrap_or(false),
            after,
            limit: limit + 1,
        },
    )?;
    let next_token = (found.len() > limit).then(|| {
        found.truncate(limit);
        let last = &found[limit - 1];
        pagination::encode(&format!("{}\n{}", last.last_event.unwrap_or(-1), last.name))
    });
    Ok(DescribeLogStreamsResponse {
        log_streams: Some(found.into_iter().map(|s| to_wire(ctx, &group, s)).collect()),
        next_token,
    })
}
