//! Amazon CloudWatch Logs on AWS JSON 1.1 (`X-Amz-Target:
//! Logs_20140328.<Operation>`): one handler per operation, over the
//! [`wharf_store::LogStore`] (its own database, apart from the control plane's).
//!
//! [`agent`] is what the agent calls to ship container output: the same
//! store, without PutLogEvents' per-call limits, with a resume cursor kept in
//! the same transaction as the events.

pub mod agent;
mod events;
mod groups;
mod streams;
mod tags;

use serde::Serialize;
use wharf_model::logs::{self as rules, limits, LogsError};

use crate::context::Ctx;
use crate::pagination;
use crate::protocol::{self, ApiError};

/// The answer of operations whose output is empty.
#[derive(Debug, Serialize)]
pub(crate) struct Empty {}

/// Runs one Logs operation on a request body; the answer body or the error.
pub async fn handle(ctx: &Ctx, op: &str, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    protocol::operations!(ctx, op, body, {
        "CreateLogGroup" => groups::create_log_group,
        "DeleteLogGroup" => groups::delete_log_group,
        "DescribeLogGroups" => groups::describe_log_groups,
        "PutRetentionPolicy" => groups::put_retention_policy,
        "DeleteRetentionPolicy" => groups::delete_retention_policy,
        "CreateLogStream" => streams::create_log_stream,
        "DeleteLogStream" => streams::delete_log_stream,
        "DescribeLogStreams" => streams::describe_log_streams,
        "PutLogEvents" => events::put_log_events,
        "GetLogEvents" => events::get_log_events,
        "FilterLogEvents" => events::filter_log_events,
        "TagResource" => tags::tag_resource,
        "UntagResource" => tags::untag_resource,
        "ListTagsForResource" => tags::list_tags_for_resource,
        "TagLogGroup" => tags::tag_log_group,
        "UntagLogGroup" => tags::untag_log_group,
        "ListTagsLogGroup" => tags::list_tags_log_group,
    })
}

/// A required group name, checked.
pub(crate) fn group_name(name: Option<String>) -> Result<String, LogsError> {
    let name = name.ok_or_else(|| LogsError::missing("logGroupName"))?;
    rules::validate_group_name("logGroupName", &name)?;
    Ok(name)
}

/// A required stream name, checked.
pub(crate) fn stream_name(name: Option<String>) -> Result<String, LogsError> {
    let name = name.ok_or_else(|| LogsError::missing("logStreamName"))?;
    rules::validate_stream_name("logStreamName", &name)?;
    Ok(name)
}

/// The group a request names by `logGroupName` or `logGroupIdentifier` (a
/// name or ARN): exactly one of them. An ARN of another region or account
/// names a group that does not exist here.
pub(crate) fn group_ref(
    ctx: &Ctx,
    name: Option<String>,
    identifier: Option<String>,
) -> Result<String, LogsError> {
    match (name, identifier) {
        (Some(_), Some(_)) => Err(LogsError::invalid(
            "LogGroup name and LogGroup ARN are mutually exclusive parameters.",
        )),
        (Some(n), None) => group_name(Some(n)),
        (None, Some(id)) => {
            let bad = || {
                LogsError::constraint(
                    "logGroupIdentifier",
                    &id,
                    "Member must satisfy regular expression pattern: [\\w#+=/:,.@-]*",
                )
            };
            let (region, name) = rules::parse_group_identifier(&id).ok_or_else(bad)?;
            rules::validate_group_name("logGroupIdentifier", name).map_err(|_| bad())?;
            let account_ok =
                !id.starts_with("arn:") || id.split(':').nth(4) == Some(&*ctx.state.ops.account_id);
            if region.is_some_and(|r| r != ctx.region) || !account_ok {
                return Err(LogsError::group_not_found());
            }
            Ok(name.to_owned())
        }
        (None, None) => {
            Err(LogsError::invalid("Should provide either logGroupName or logGroupIdentifier."))
        }
    }
}

/// `limit` checked against 1..=`max`, defaulting to `max`.
pub(crate) fn limit(value: Option<i32>, max: usize) -> Result<usize, LogsError> {
    match value {
        None => Ok(max),
        Some(n) if n >= 1 && n as usize <= max => Ok(n as usize),
        Some(n) => {
            let rule = if n < 1 {
                "Member must have value greater than or equal to 1".to_owned()
            } else {
                format!("Member must have value less than or equal to {max}")
            };
            Err(LogsError::constraint("limit", &n.to_string(), &rule))
        }
    }
}

/// The position a `nextToken` of DescribeLogGroups, DescribeLogStreams or
/// FilterLogEvents resumes from.
pub(crate) fn decode_token(token: Option<&str>) -> Result<Option<String>, LogsError> {
    token
        .map(|t| {
            pagination::decode(t)
                .map_err(|_| LogsError::invalid("The specified nextToken is invalid."))
        })
        .transpose()
}

/// The budget of one describe call, for callers that have none of their own.
pub(crate) const DESCRIBE_LIMIT: usize = limits::MAX_DESCRIBE;
