//! Task definitions: RegisterTaskDefinition, DescribeTaskDefinition,
//! ListTaskDefinitions, ListTaskDefinitionFamilies, DeregisterTaskDefinition,
//! DeleteTaskDefinitions.
//!
//! A revision is stored as the JSON DescribeTaskDefinition returns, built once
//! at registration by the model's rules; describing one sends that JSON back
//! without parsing it again.

use serde::Serialize;
use serde_json::value::RawValue;
use wharf_model::arn::{self, TaskDefinitionRef};
use wharf_model::ecs::shapes::{
    DeleteTaskDefinitionsRequest, DeleteTaskDefinitionsResponse, DeregisterTaskDefinitionRequest,
    DeregisterTaskDefinitionResponse, DescribeTaskDefinitionRequest, Failure,
    ListTaskDefinitionFamiliesRequest, ListTaskDefinitionFamiliesResponse,
    ListTaskDefinitionsRequest, ListTaskDefinitionsResponse, RegisterTaskDefinitionRequest,
    SortOrder, Tag, TaskDefinition, TaskDefinitionFamilyStatus, TaskDefinitionField,
    TaskDefinitionStatus,
};
use wharf_model::ecs::tags as ecs_tags;
use wharf_model::ecs::task_definition::{self as rules, Registration};
use wharf_model::EcsError;
use wharf_ops::lookup::tags_of;
use wharf_store::{FamilyQuery, NewTaskDefinition, StoredTaskDefinition, TaskDefinitionQuery};

use super::input::required;
use crate::context::Ctx;
use crate::pagination;
use crate::protocol::ApiError;

/// ECS's answer for a task definition that cannot be found.
fn unable_to_describe() -> EcsError {
    EcsError::client("Unable to describe task definition.")
}

/// An answer holding a task definition as stored JSON, spliced in unparsed.
#[derive(Debug, Serialize)]
pub(crate) struct TaskDefinitionAnswer {
    #[serde(rename = "taskDefinition")]
    task_definition: Box<RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tags: Option<Vec<Tag>>,
}

fn raw(json: String) -> Result<Box<RawValue>, ApiError> {
    RawValue::from_string(json).map_err(|e| {
        tracing::error!(error = %e, "stored task definition is not JSON");
        ApiError::from(EcsError::server("Wharf could not read its state."))
    })
}

fn parse_stored(stored: &StoredTaskDefinition) -> Result<TaskDefinition, EcsError> {
    serde_json::from_str(&stored.json).map_err(|e| {
        tracing::error!(error = %e, "stored task definition does not parse");
        EcsError::server("Wharf could not read its state.")
    })
}

fn to_json(td: &TaskDefinition) -> Result<String, EcsError> {
    serde_json::to_string(td).map_err(|_| EcsError::server("Wharf could not write its state."))
}

/// Reads a task definition by family, family:revision or ARN.
pub(crate) async fn find(ctx: &Ctx, given: &str) -> Result<Option<StoredTaskDefinition>, ApiError> {
    let Some(r) = arn::task_definition_ref(given) else {
        return Ok(None);
    };
    let (family, revision) = match r {
        TaskDefinitionRef::Family(f) => (f, None),
        TaskDefinitionRef::Revision(f, rev) => match i32::try_from(rev) {
            Ok(rev) => (f, Some(rev)),
            Err(_) => return Ok(None),
        },
    };
    Ok(ctx.store().get_task_definition(&ctx.region, family, revision).await?)
}

/// Puts a revision's ARN and number at the front of its JSON object. The ARN
/// is made of a validated family, region and account, so it needs no escaping.
fn numbered(unnumbered: &str, arn: &str, revision: i32) -> String {
    let rest = unnumbered.strip_prefix('{').unwrap_or(unnumbered);
    let sep = if rest.starts_with('}') { "" } else { "," };
    format!(r#"{{"taskDefinitionArn":"{arn}","revision":{revision}{sep}{rest}"#)
}

/// Reads a RegisterTaskDefinition body: the 64 KiB document limit first, then
/// the shape, with ECS's messages for type mismatches.
pub(crate) fn decode(body: &[u8]) -> Result<RegisterTaskDefinitionRequest, ApiError> {
    rules::check_document_size(body.len())?;
    rules::decode_register(body).map_err(|e| ApiError::serialization(e.message()))
}

/// RegisterTaskDefinition: validated by the model's rules, numbered by the
/// store, stored with its tags in one write.
pub(crate) async fn register_task_definition(
    ctx: &Ctx,
    req: RegisterTaskDefinitionRequest,
) -> Result<TaskDefinitionAnswer, ApiError> {
    rules::validate_register(&req)?;
    let family = required(req.family.clone(), "family")?;
    let tag_list = req.tags.clone().unwrap_or_default();
    ecs_tags::validate(&tag_list)?;
    // Everything but the number is built here, on the request's own thread;
    // the store's single writer only splices the number in.
    let reg = Registration {
        arn: String::new(),
        revision: 0,
        registered_at: ctx.state.ops.clock.now(),
        registered_by: Some(ctx.root_principal()),
    };
    let (mut td, _) = rules::normalize(req, reg);
    td.task_definition_arn = None;
    td.revision = None;
    let unnumbered = to_json(&td)?;
    let arn_prefix = ctx.scope().ecs_arn(&format!("task-definition/{family}:"));
    let pairs = ecs_tags::pairs(tag_list.clone());
    let stored = ctx
        .store()
        .register_task_definition(
            &ctx.region,
            &family,
            Box::new(move |revision| {
                let arn = format!("{arn_prefix}{revision}");
                Ok(NewTaskDefinition {
                    json: numbered(&unnumbered, &arn, revision),
                    arn,
                    status: TaskDefinitionStatus::Active,
                    tags: pairs.clone(),
                })
            }),
        )
        .await?;
    // A new revision has exactly the tags it was registered with.
    Ok(TaskDefinitionAnswer { task_definition: raw(stored.json)?, tags: Some(tag_list) })
}

/// DescribeTaskDefinition: by family (latest ACTIVE revision), family:revision
/// or ARN, with tags on request.
pub(crate) async fn describe_task_definition(
    ctx: &Ctx,
    req: DescribeTaskDefinitionRequest,
) -> Result<TaskDefinitionAnswer, ApiError> {
    let given = required(req.task_definition, "taskDefinition")?;
    let stored = find(ctx, &given).await?.ok_or_else(unable_to_describe)?;
    let tags = if req.include.unwrap_or_default().contains(&TaskDefinitionField::Tags) {
        let arn = ctx.scope().task_definition_arn(&stored.family, i64::from(stored.revision));
        Some(tags_of(ctx.ops(), &arn).await?)
    } else {
        None
    };
    Ok(TaskDefinitionAnswer { task_definition: raw(stored.json)?, tags })
}

fn decode_revision_token(token: &str) -> Result<(String, i32), EcsError> {
    let s = pagination::decode(token)?;
    let (family, rev) =
        s.rsplit_once('\n').ok_or_else(|| EcsError::invalid_parameter("Invalid nextToken."))?;
    let rev = rev.parse().map_err(|_| EcsError::invalid_parameter("Invalid nextToken."))?;
    Ok((family.to_owned(), rev))
}

/// ListTaskDefinitions: ARNs in family and revision order; `familyPrefix`
/// names one family exactly, as in ECS; ACTIVE ones unless asked otherwise.
pub(crate) async fn list_task_definitions(
    ctx: &Ctx,
    req: ListTaskDefinitionsRequest,
) -> Result<ListTaskDefinitionsResponse, ApiError> {
    let limit = pagination::max_results(req.max_results, 100)?;
    let status = req.status.unwrap_or(TaskDefinitionStatus::Active);
    if !status.is_known() {
        return Err(EcsError::invalid_parameter(format!(
            "Invalid status '{status}'. Valid values: ACTIVE, INACTIVE, DELETE_IN_PROGRESS."
        ))
        .into());
    }
    let descending = match req.sort {
        None | Some(SortOrder::Asc) => false,
        Some(SortOrder::Desc) => true,
        Some(other) => {
            return Err(EcsError::invalid_parameter(format!(
                "Invalid sort '{other}'. Valid values: ASC, DESC."
            ))
            .into())
        }
    };
    let after = req.next_token.as_deref().map(decode_revision_token).transpose()?;
    let query = TaskDefinitionQuery {
        family: req.family_prefix,
        status: Some(status.as_str().into()),
        descending,
        after,
        limit: limit + 1,
    };
    let mut rows = ctx.store().list_task_definitions(&ctx.region, query).await?;
    let next_token = if rows.len() > limit {
        rows.truncate(limit);
        rows.last().map(|(f, r)| pagination::encode(&format!("{f}\n{r}")))
    } else {
        None
    };
    let scope = ctx.scope();
    let arns = rows.iter().map(|(f, r)| scope.task_definition_arn(f, i64::from(*r))).collect();
    Ok(ListTaskDefinitionsResponse { task_definition_arns: Some(arns), next_token })
}

/// ListTaskDefinitionFamilies: family names by prefix; all families unless a
/// status is asked for.
pub(crate) async fn list_task_definition_families(
    ctx: &Ctx,
    req: ListTaskDefinitionFamiliesRequest,
) -> Result<ListTaskDefinitionFamiliesResponse, ApiError> {
    let limit = pagination::max_results(req.max_results, 100)?;
    let status = match req.status {
        None | Some(TaskDefinitionFamilyStatus::All) => None,
        Some(s @ (TaskDefinitionFamilyStatus::Active | TaskDefinitionFamilyStatus::Inactive)) => {
            Some(s)
        }
        Some(other) => {
            return Err(EcsError::invalid_parameter(format!(
                "Invalid status '{other}'. Valid values: ACTIVE, INACTIVE, ALL."
            ))
            .into())
        }
    };
    let after = req.next_token.as_deref().map(pagination::decode).transpose()?;
    let query = FamilyQuery { prefix: req.family_prefix, status, after, limit: limit + 1 };
    let mut families = ctx.store().list_task_definition_families(&ctx.region, query).await?;
    let next_token = if families.len() > limit {
        families.truncate(limit);
        families.last().map(|f| pagination::encode(f))
    } else {
        None
    };
    Ok(ListTaskDefinitionFamiliesResponse { families: Some(families), next_token })
}

/// The (family, revision) a deregister or delete names; a revision is required.
fn revision_of(given: &str) -> Result<(String, i32), EcsError> {
    match arn::task_definition_ref(given) {
        Some(TaskDefinitionRef::Revision(f, rev)) => {
            let rev =
                i32::try_from(rev).map_err(|_| EcsError::client("Invalid revision number."))?;
            Ok((f.to_owned(), rev))
        }
        _ => Err(EcsError::client(format!("Invalid revision number. Number: {given}"))),
    }
}

/// DeregisterTaskDefinition: the revision becomes INACTIVE (idempotent).
pub(crate) async fn deregister_task_definition(
    ctx: &Ctx,
    req: DeregisterTaskDefinitionRequest,
) -> Result<DeregisterTaskDefinitionResponse, ApiError> {
    let given = required(req.task_definition, "taskDefinition")?;
    let (family, revision) = revision_of(&given)?;
    let now = ctx.state.ops.clock.now();
    let stored = ctx
        .store()
        .update_task_definition(
            &ctx.region,
            &family,
            revision,
            Box::new(move |cur| {
                if cur.status != TaskDefinitionStatus::Active {
                    return Ok(None);
                }
                let mut td = parse_stored(cur)?;
                td.status = Some(TaskDefinitionStatus::Inactive);
                td.deregistered_at = Some(now);
                Ok(Some((TaskDefinitionStatus::Inactive, to_json(&td)?)))
            }),
        )
        .await
        .map_err(|e| match e {
            wharf_store::StoreError::Rejected(_) => ApiError::from(unable_to_describe()),
            other => other.into(),
        })?;
    Ok(DeregisterTaskDefinitionResponse { task_definition: Some(parse_stored(&stored)?) })
}

/// DeleteTaskDefinitions: INACTIVE revisions become DELETE_IN_PROGRESS; the
/// others are reported as failures.
pub(crate) async fn delete_task_definitions(
    ctx: &Ctx,
    req: DeleteTaskDefinitionsRequest,
) -> Result<DeleteTaskDefinitionsResponse, ApiError> {
    let given = required(req.task_definitions, "taskDefinitions")?;
    if given.is_empty() || given.len() > 10 {
        return Err(EcsError::invalid_parameter(
            "taskDefinitions must contain between 1 and 10 items.",
        )
        .into());
    }
    let (mut deleted, mut failures) = (Vec::new(), Vec::new());
    for g in given {
        let failure = |reason: &str| Failure {
            arn: Some(g.clone()),
            reason: Some(reason.to_owned()),
            detail: None,
        };
        let Ok((family, revision)) = revision_of(&g) else {
            failures.push(failure("The specified task definition identifier is not valid."));
            continue;
        };
        let now = ctx.state.ops.clock.now();
        let result = ctx
            .store()
            .update_task_definition(
                &ctx.region,
                &family,
                revision,
                Box::new(move |cur| match cur.status {
                    TaskDefinitionStatus::Active => Err(EcsError::client(
                        "The specified task definition is still ACTIVE. Deregister it first.",
                    )),
                    TaskDefinitionStatus::Inactive => {
                        let mut td = parse_stored(cur)?;
                        td.status = Some(TaskDefinitionStatus::DeleteInProgress);
                        td.delete_requested_at = Some(now);
                        Ok(Some((TaskDefinitionStatus::DeleteInProgress, to_json(&td)?)))
                    }
                    _ => Ok(None),
                }),
            )
            .await;
        match result {
            Ok(stored) => deleted.push(parse_stored(&stored)?),
            Err(wharf_store::StoreError::Rejected(e)) => failures.push(failure(&e.message)),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(DeleteTaskDefinitionsResponse { task_definitions: Some(deleted), failures: Some(failures) })
}
