//! Log groups: CreateLogGroup, DeleteLogGroup, DescribeLogGroups,
//! PutRetentionPolicy, DeleteRetentionPolicy.

use wharf_model::logs::shapes::{
    CreateLogGroupRequest, DeleteLogGroupRequest, DeleteRetentionPolicyRequest,
    DescribeLogGroupsRequest, DescribeLogGroupsResponse, LogGroup, LogGroupClass,
    PutRetentionPolicyRequest,
};
use wharf_model::logs::{self as rules, LogsError};
use wharf_store::logs::{GroupQuery, GroupRecord, NewGroup};

use super::{decode_token, group_name, limit, tags, Empty, DESCRIBE_LIMIT};
use crate::context::Ctx;
use crate::pagination;

/// A group as DescribeLogGroups shows it.
fn to_wire(ctx: &Ctx, g: GroupRecord) -> LogGroup {
    let account = &ctx.state.ops.account_id;
    LogGroup {
        arn: Some(rules::group_arn(&ctx.region, account, &g.name)),
        log_group_arn: Some(rules::group_arn_bare(&ctx.region, account, &g.name)),
        creation_time: Some(g.created),
        retention_in_days: g.retention_days,
        metric_filter_count: Some(0),
        stored_bytes: Some(g.stored_bytes),
        kms_key_id: g.kms_key_id,
        log_group_class: Some(LogGroupClass::from(g.class.as_str())),
        log_group_name: Some(g.name),
        ..Default::default()
    }
}

fn class(value: Option<LogGroupClass>) -> Result<Option<String>, LogsError> {
    match value {
        None => Ok(None),
        Some(c) if c.is_known() => Ok(Some(c.as_str().to_owned())),
        Some(c) => Err(LogsError::constraint(
            "logGroupClass",
            c.as_str(),
            &format!("Member must satisfy enum value set: [{}]", LogGroupClass::VALUES.join(", ")),
        )),
    }
}

/// CreateLogGroup: a new group, class STANDARD unless asked otherwise.
pub(crate) async fn create_log_group(
    ctx: &Ctx,
    req: CreateLogGroupRequest,
) -> Result<Empty, LogsError> {
    let name = group_name(req.log_group_name)?;
    let tags = req.tags.unwrap_or_default();
    tags::validate(&tags)?;
    let group = NewGroup {
        name,
        created: ctx.state.ops.clock.now_millis(),
        class: class(req.log_group_class)?.unwrap_or_else(|| "STANDARD".into()),
        kms_key_id: req.kms_key_id,
        tags,
    };
    ctx.state.logs.create_group(&ctx.region, group).await?;
    Ok(Empty {})
}

/// DeleteLogGroup: the group, its streams and their events.
pub(crate) async fn delete_log_group(
    ctx: &Ctx,
    req: DeleteLogGroupRequest,
) -> Result<Empty, LogsError> {
    let name = group_name(req.log_group_name)?;
    ctx.state.logs.delete_group(&ctx.region, &name).await?;
    Ok(Empty {})
}

/// DescribeLogGroups: by prefix, pattern, class or identifiers, in name order.
pub(crate) async fn describe_log_groups(
    ctx: &Ctx,
    req: DescribeLogGroupsRequest,
) -> Result<DescribeLogGroupsResponse, LogsError> {
    if req.log_group_name_prefix.is_some() && req.log_group_name_pattern.is_some() {
        return Err(LogsError::invalid(
            "LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters.",
        ));
    }
    if let Some(p) = &req.log_group_name_prefix {
        rules::validate_group_name("logGroupNamePrefix", p)?;
    }
    let limit = limit(req.limit, DESCRIBE_LIMIT)?;
    let wanted: Option<Vec<String>> = match req.log_group_identifiers {
        None => None,
        Some(ids) => Some(
            ids.iter()
                .map(|id| {
                    rules::parse_group_identifier(id).map(|(_, n)| n.to_owned()).ok_or_else(|| {
                        LogsError::invalid(format!("Invalid log group identifier: {id}"))
                    })
                })
                .collect::<Result<_, _>>()?,
        ),
    };
    let query = GroupQuery {
        prefix: req.log_group_name_prefix,
        pattern: req.log_group_name_pattern,
        class: class(req.log_group_class)?,
        after: decode_token(req.next_token.as_deref())?,
        limit: limit + 1,
    };
    let mut found = Vec::new();
    let mut query = query;
    // Identifiers filter after the query; read on until the page is full.
    loop {
        let batch = ctx.state.logs.groups(&ctx.region, &query)?;
        let done = batch.len() < query.limit;
        query.after = batch.last().map(|g| g.name.clone());
        found.extend(
            batch.into_iter().filter(|g| wanted.as_ref().is_none_or(|w| w.contains(&g.name))),
        );
        if done || found.len() > limit {
            break;
        }
    }
    let next_token = (found.len() > limit).then(|| {
        found.truncate(limit);
        pagination::encode(&found[limit - 1].name)
    });
    Ok(DescribeLogGroupsResponse {
        log_groups: Some(found.into_iter().map(|g| to_wire(ctx, g)).collect()),
        next_token,
    })
}

/// PutRetentionPolicy: events older than this many days are deleted.
pub(crate) async fn put_retention_policy(
    ctx: &Ctx,
    req: PutRetentionPolicyRequest,
) -> Result<Empty, LogsError> {
    let name = group_name(req.log_group_name)?;
    let days = req.retention_in_days.ok_or_else(|| LogsError::missing("retentionInDays"))?;
    rules::validate_retention(days)?;
    ctx.state.logs.set_retention(&ctx.region, &name, Some(days)).await?;
    Ok(Empty {})
}

/// DeleteRetentionPolicy: events are kept forever again.
pub(crate) async fn delete_retention_policy(
    ctx: &Ctx,
    req: DeleteRetentionPolicyRequest,
) -> Result<Empty, LogsError> {
    let name = group_name(req.log_group_name)?;
    ctx.state.logs.set_retention(&ctx.region, &name, None).await?;
    Ok(Empty {})
}
