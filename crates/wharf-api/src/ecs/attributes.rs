//! PutAttributes, ListAttributes and DeleteAttributes: custom attributes on
//! container instances (the only `targetType` ECS has), kept in the
//! instance's `attributes` beside those its agent reports. `memberOf`
//! expressions and `attribute:` spread read them all alike.

use std::collections::HashMap;

use wharf_model::arn;
use wharf_model::ecs::attributes::{self as rules, MAX_CUSTOM};
use wharf_model::ecs::shapes::{
    Attribute, ContainerInstance, DeleteAttributesRequest, DeleteAttributesResponse,
    ListAttributesRequest, ListAttributesResponse, PutAttributesRequest, PutAttributesResponse,
    TargetType,
};
use wharf_model::ecs::status::InstanceStatus;
use wharf_model::{EcsError, EcsErrorKind};
use wharf_store::StoredInstance;

use super::container_instance::parse;
use super::input::required;
use crate::context::Ctx;
use crate::pagination;
use crate::protocol::ApiError;
use wharf_ops::lookup::active_cluster;

/// At most this many attributes per PutAttributes or DeleteAttributes call.
const MAX_PER_CALL: usize = 10;

fn target_not_found(target: &str) -> EcsError {
    EcsError::new(
        EcsErrorKind::TargetNotFoundException,
        format!("Could not find the target {target}: no such container instance in the cluster."),
    )
}

/// The container instance ID an attribute is about, from its `targetId`
/// (an ARN, or an ID with `targetType` `container-instance`).
fn target_id(a: &Attribute, at: usize) -> Result<String, EcsError> {
    let given = a.target_id.as_deref().filter(|t| !t.is_empty()).ok_or_else(|| {
        EcsError::invalid_parameter(format!("attributes[{at}].targetId must be specified."))
    })?;
    if let Some(t) = &a.target_type {
        if *t != TargetType::ContainerInstance {
            return Err(EcsError::invalid_parameter(format!(
                "attributes[{at}].targetType '{}' is not valid. Valid values: container-instance.",
                t.as_str()
            )));
        }
    }
    match arn::parse(given) {
        Some(_) => {
            let (id, _) = arn::resource_id(given, "container-instance");
            if !given.contains(":container-instance/") {
                return Err(EcsError::invalid_parameter(format!(
                    "attributes[{at}].targetId '{given}' is not a container instance ARN."
                )));
            }
            Ok(id.to_owned())
        }
        None if a.target_type.is_none() => Err(EcsError::invalid_parameter(format!(
            "attributes[{at}].targetType must be specified when targetId is not an ARN."
        ))),
        None => Ok(given.to_owned()),
    }
}

/// Checks a call's attributes and groups them by target instance, in the
/// order first named.
fn by_target(
    attributes: Vec<Attribute>,
    with_values: bool,
) -> Result<Vec<(String, Vec<Attribute>)>, EcsError> {
    if attributes.is_empty() || attributes.len() > MAX_PER_CALL {
        return Err(EcsError::invalid_parameter(format!(
            "attributes must have between 1 and {MAX_PER_CALL} items."
        )));
    }
    let mut out: Vec<(String, Vec<Attribute>)> = Vec::new();
    for (at, a) in attributes.into_iter().enumerate() {
        let name = a.name.clone().unwrap_or_default();
        rules::check_name(&name, &format!("attributes[{at}].name"))
            .map_err(EcsError::invalid_parameter)?;
        if rules::is_builtin(&name) {
            return Err(EcsError::invalid_parameter(format!(
                "attributes[{at}].name '{name}' is reserved: attributes starting with ecs., \
                 com.amazonaws.ecs. or wharf. describe the instance and are set by its agent."
            )));
        }
        if with_values {
            if let Some(v) = &a.value {
                rules::check_value(v, &format!("attributes[{at}].value"))
                    .map_err(EcsError::invalid_parameter)?;
            }
        }
        let id = target_id(&a, at)?;
        let clean = Attribute { name: Some(name), value: a.value.clone(), ..Attribute::default() };
        match out.iter_mut().find(|(t, _)| *t == id) {
            Some((_, list)) => list.push(clean),
            None => out.push((id, vec![clean])),
        }
    }
    Ok(out)
}

/// Applies `change` to the attributes of instance `id`, atomically.
async fn change_instance(
    ctx: &Ctx,
    cluster: &str,
    id: &str,
    change: impl Fn(&mut Vec<Attribute>) -> Result<bool, EcsError> + Send + 'static,
) -> Result<(), ApiError> {
    let target = ctx.scope().container_instance_arn(cluster, id);
    ctx.store()
        .update_instance(
            &ctx.region,
            cluster,
            id,
            Box::new(move |current| {
                let Some(u) = current.filter(|u| u.instance.status != InstanceStatus::Inactive)
                else {
                    return Err(target_not_found(&target));
                };
                let mut ci: ContainerInstance = parse(&u.instance)?;
                let mut attributes = ci.attributes.take().unwrap_or_default();
                if !change(&mut attributes)? {
                    return Ok(None);
                }
                ci.attributes = Some(attributes);
                ci.version = Some(ci.version.unwrap_or(0) + 1);
                let json = serde_json::to_string(&ci)
                    .map_err(|e| EcsError::server(format!("instance not written: {e}")))?;
                Ok(Some(StoredInstance { json, ..u.instance.clone() }))
            }),
        )
        .await?;
    Ok(())
}

/// PutAttributes: creates or replaces custom attributes, at most
/// [`MAX_CUSTOM`] per instance.
pub(crate) async fn put_attributes(
    ctx: &Ctx,
    req: PutAttributesRequest,
) -> Result<PutAttributesResponse, ApiError> {
    let cluster = active_cluster(ctx.ops(), req.cluster.as_deref()).await?;
    let given = required(req.attributes, "attributes")?;
    let groups = by_target(given.clone(), true)?;
    for (id, wanted) in groups {
        change_instance(ctx, &cluster, &id, move |attributes| {
            for a in &wanted {
                let name = a.name.as_deref().unwrap_or_default();
                rules::set(attributes, name, a.value.as_deref());
            }
            let custom = attributes
                .iter()
                .filter(|a| !rules::is_builtin(a.name.as_deref().unwrap_or_default()))
                .count();
            if custom > MAX_CUSTOM {
                return Err(EcsError::new(
                    EcsErrorKind::AttributeLimitExceededException,
                    format!(
                        "You can apply up to {MAX_CUSTOM} custom attributes to a resource; this \
                         would make {custom}."
                    ),
                ));
            }
            Ok(true)
        })
        .await?;
    }
    Ok(PutAttributesResponse { attributes: Some(given) })
}

/// DeleteAttributes: removes custom attributes by name; the ones asked for.
pub(crate) async fn delete_attributes(
    ctx: &Ctx,
    req: DeleteAttributesRequest,
) -> Result<DeleteAttributesResponse, ApiError> {
    let cluster = active_cluster(ctx.ops(), req.cluster.as_deref()).await?;
    let given = required(req.attributes, "attributes")?;
    for (id, gone) in by_target(given.clone(), false)? {
        change_instance(ctx, &cluster, &id, move |attributes| {
            let before = attributes.len();
            attributes.retain(|a| !gone.iter().any(|g| g.name == a.name));
            Ok(attributes.len() != before)
        })
        .await?;
    }
    Ok(DeleteAttributesResponse { attributes: Some(given) })
}

/// ListAttributes: every attribute of the cluster's instances (their
/// agents' and custom ones), filtered by name and value, by instance then
/// name, paginated.
pub(crate) async fn list_attributes(
    ctx: &Ctx,
    req: ListAttributesRequest,
) -> Result<ListAttributesResponse, ApiError> {
    let cluster = active_cluster(ctx.ops(), req.cluster.as_deref()).await?;
    match required(req.target_type, "targetType")? {
        TargetType::ContainerInstance => {}
        other => {
            return Err(EcsError::invalid_parameter(format!(
                "targetType '{}' is not valid. Valid values: container-instance.",
                other.as_str()
            ))
            .into())
        }
    }
    if req.attribute_value.is_some() && req.attribute_name.is_none() {
        return Err(EcsError::invalid_parameter(
            "attributeValue can only be specified with attributeName.",
        )
        .into());
    }
    let limit = pagination::max_results(req.max_results, 100)?;
    let after = req.next_token.as_deref().map(pagination::decode).transpose()?;
    let all = ctx.store().instances(&ctx.region, &cluster, None).await?;
    let mut rows: Vec<(String, Attribute)> = Vec::new();
    for u in all.iter().filter(|u| u.instance.status != InstanceStatus::Inactive) {
        let ci = parse(&u.instance)?;
        let target = ctx.scope().container_instance_arn(&cluster, &u.instance.id);
        let mut seen: HashMap<&str, ()> = HashMap::new();
        let mut mine: Vec<&Attribute> = ci.attributes.iter().flatten().collect();
        mine.sort_by(|a, b| a.name.cmp(&b.name));
        for a in mine {
            let name = a.name.as_deref().unwrap_or_default();
            if seen.insert(name, ()).is_some() {
                continue;
            }
            if req.attribute_name.as_deref().is_some_and(|n| n != name) {
                continue;
            }
            if req.attribute_value.is_some() && req.attribute_value != a.value {
                continue;
            }
            let key = format!("{}\n{name}", u.instance.id);
            if after.as_deref().is_some_and(|after| key.as_str() <= after) {
                continue;
            }
            rows.push((
                key,
                Attribute {
                    name: Some(name.to_owned()),
                    value: a.value.clone(),
                    target_id: Some(target.clone()),
                    target_type: None,
                },
            ));
            if rows.len() > limit {
                break;
            }
        }
        if rows.len() > limit {
            break;
        }
    }
    let next_token = (rows.len() > limit).then(|| {
        rows.truncate(limit);
        pagination::encode(&rows[limit - 1].0)
    });
    Ok(ListAttributesResponse {
        attributes: Some(rows.into_iter().map(|(_, a)| a).collect()),
        next_token,
    })
}
