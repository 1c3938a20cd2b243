//! Task sets of the EXTERNAL deployment controller: CreateTaskSet,
//! UpdateTaskSet, UpdateServicePrimaryTaskSet, DeleteTaskSet and
//! DescribeTaskSets. The scheduler runs each task set's tasks like a
//! deployment's, at its computed count.

use wharf_model::ecs::service::task_set::new_task_set;
use wharf_model::ecs::status::ServiceStatus;
use wharf_model::ecs::tags as ecs_tags;
use wharf_ops::lookup::{add_tags, tags_of};
use wharf_ops::network;

use super::*;

/// A task set id from an id or ARN: `ecs-svc/<digits>`; `None` if it is
/// not one.
pub(super) fn task_set_id(given: &str) -> Option<String> {
    let id = match sub_resource(given, "task-set") {
        Some((_, _, rest)) => rest,
        None if arn::parse(given).is_some() => return None,
        None => given,
    };
    let digits = id.strip_prefix("ecs-svc/")?;
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())).then(|| id.to_owned())
}

fn check_scale(scale: &Scale) -> Result<(), EcsError> {
    match &scale.unit {
        None | Some(ScaleUnit::Percent) => {}
        Some(other) => {
            return Err(EcsError::invalid_parameter(format!(
                "Invalid scale.unit '{other}'. Valid values: PERCENT."
            )))
        }
    }
    match scale.value {
        Some(v) if (0.0..=100.0).contains(&v) => Ok(()),
        Some(_) => Err(EcsError::invalid_parameter("scale.value must be between 0 and 100.")),
        None => Err(EcsError::invalid_parameter("scale.value must be specified.")),
    }
}

/// The service of a task set call: it must exist and use the EXTERNAL
/// controller.
async fn external_service(ctx: &Ctx, names: &Names) -> Result<ServiceRecord, ApiError> {
    let rec = load(ctx.ops(), names).await?.ok_or_else(service_not_found)?;
    if !is_external(&rec.service) {
        return Err(invalid(NOT_EXTERNAL));
    }
    Ok(rec)
}

/// Applies `change` to one task set of an ACTIVE EXTERNAL service, inside
/// one atomic update; the task set afterwards.
async fn modify_task_set<F>(
    ctx: &Ctx,
    names: &Names,
    id: String,
    change: F,
) -> Result<TaskSet, ApiError>
where
    F: Fn(&mut ServiceRecord, &str) -> Result<(), EcsError> + Send + 'static,
{
    let id2 = id.clone();
    let rec = update_active(ctx.ops(), names, move |r| {
        if !is_external(&r.service) {
            return Err(EcsError::invalid_parameter(NOT_EXTERNAL));
        }
        change(r, &id2)
    })
    .await?;
    rec.service
        .task_sets
        .unwrap_or_default()
        .into_iter()
        .find(|t| t.id.as_deref() == Some(id.as_str()))
        .ok_or_else(|| task_set_not_found().into())
}

/// CreateTaskSet: a new ACTIVE task set on an EXTERNAL service (at most 5);
/// UpdateServicePrimaryTaskSet makes one PRIMARY.
pub(crate) async fn create_task_set(
    ctx: &Ctx,
    req: CreateTaskSetRequest,
) -> Result<CreateTaskSetResponse, ApiError> {
    let names = target(ctx, req.cluster.as_deref(), req.service).await?;
    let current = external_service(ctx, &names).await?;
    if current.service.status != Some(ServiceStatus::Active) {
        return Err(service_not_active().into());
    }
    refuse_unsupported(
        req.service_registries.as_ref().is_some_and(|r| !r.is_empty()),
        false,
        false,
        false,
    )?;
    let td =
        runnable_definition(ctx.ops(), &required(req.task_definition, "taskDefinition")?).await?;
    let (lt, cps) = placement_source(
        ctx,
        &names.cluster,
        &td,
        req.launch_type,
        req.capacity_provider_strategy,
        false,
    )
    .await?;
    let fargate = uses_fargate(lt.as_ref(), cps.as_ref());
    let pv = platform_version(fargate, req.platform_version)?;
    check_network(&td, req.network_configuration.as_ref())?;
    network::check_awsvpc(ctx.ops(), req.network_configuration.as_ref()).await?;
    let lbs = req.load_balancers.unwrap_or_default();
    check_load_balancers(ctx, &td, &lbs, 1).await?;
    let scale = req.scale.unwrap_or(Scale { value: Some(100.0), unit: Some(ScaleUnit::Percent) });
    check_scale(&scale)?;
    let scale = Scale { value: scale.value, unit: Some(ScaleUnit::Percent) };
    if req.external_id.as_deref().is_some_and(|e| e.chars().count() > 255) {
        return Err(invalid("externalId can be up to 255 characters long."));
    }
    if req.client_token.as_deref().is_some_and(|t| t.len() > 36) {
        return Err(invalid("clientToken can be up to 36 characters long."));
    }
    let tag_list = req.tags.unwrap_or_default();
    ecs_tags::validate(&tag_list)?;

    // The id comes from the service's own sequence, inside the update below.
    let random = ctx.state.ops.entropy.next_u64();
    let rev = Revision {
        task_definition: td.task_definition_arn.clone().unwrap_or_default(),
        launch_type: lt,
        capacity_provider_strategy: cps,
        platform_version: pv,
        network_configuration: req.network_configuration,
        load_balancers: lbs,
        health_checked: health_checked(&td),
        container_images: vec![],
    };
    let (ts, notes) = new_task_set(
        &names,
        &rev,
        scale.value.unwrap_or(100.0),
        req.external_id,
        ctx.state.ops.clock.now_millis(),
    );
    let prefix = names.task_set_prefix.clone();
    let new_id: Arc<Mutex<String>> = Arc::default();
    let new_id_in = new_id.clone();
    let rec = update_active(ctx.ops(), &names, move |r| {
        if !is_external(&r.service) {
            return Err(EcsError::invalid_parameter(NOT_EXTERNAL));
        }
        let id = r.add_task_set(ts.clone(), notes.clone(), &prefix, random)?;
        if let Ok(mut n) = new_id_in.lock() {
            *n = id;
        }
        Ok(())
    })
    .await?;
    let id = new_id.lock().map(|n| n.clone()).unwrap_or_default();
    let arn = format!("{}{id}", names.task_set_prefix);
    if !tag_list.is_empty() {
        add_tags(ctx.ops(), &arn, tag_list).await?;
    }
    let mut created = rec
        .service
        .task_sets
        .unwrap_or_default()
        .into_iter()
        .find(|t| t.id.as_deref() == Some(id.as_str()))
        .ok_or_else(task_set_not_found)?;
    created.tags = Some(tags_of(ctx.ops(), &arn).await?);
    Ok(CreateTaskSetResponse { task_set: Some(created) })
}

/// The task set id a request names, or ECS's error for a malformed one.
fn given_task_set(given: Option<String>, field: &str) -> Result<String, EcsError> {
    let given = required(given, field)?;
    task_set_id(&given).ok_or_else(|| EcsError::invalid_parameter("Task Set Identifier is invalid"))
}

/// UpdateTaskSet: changes a task set's `scale` (the scheduler recomputes its
/// task count).
pub(crate) async fn update_task_set(
    ctx: &Ctx,
    req: UpdateTaskSetRequest,
) -> Result<UpdateTaskSetResponse, ApiError> {
    let names = target(ctx, req.cluster.as_deref(), req.service).await?;
    external_service(ctx, &names).await?;
    let id = given_task_set(req.task_set, "taskSet")?;
    let scale = required(req.scale, "scale")?;
    check_scale(&scale)?;
    let scale = Scale { value: scale.value, unit: Some(ScaleUnit::Percent) };
    let now = ctx.state.ops.clock.now_millis();
    let percent = scale.value.unwrap_or(0.0);
    let ts =
        modify_task_set(ctx, &names, id, move |r, id| r.scale_task_set(id, percent, now)).await?;
    Ok(UpdateTaskSetResponse { task_set: Some(ts) })
}

/// UpdateServicePrimaryTaskSet: the chosen task set becomes PRIMARY (the old
/// primary ACTIVE), and the service's task definition, launch type,
/// network and load balancers follow it.
pub(crate) async fn update_service_primary_task_set(
    ctx: &Ctx,
    req: UpdateServicePrimaryTaskSetRequest,
) -> Result<UpdateServicePrimaryTaskSetResponse, ApiError> {
    let names = target(ctx, req.cluster.as_deref(), req.service).await?;
    external_service(ctx, &names).await?;
    let id = given_task_set(req.primary_task_set, "primaryTaskSet")?;
    let now = ctx.state.ops.clock.now_millis();
    let ts = modify_task_set(ctx, &names, id, move |r, id| r.make_primary(id, now)).await?;
    Ok(UpdateServicePrimaryTaskSetResponse { task_set: Some(ts) })
}

/// DeleteTaskSet: the task set becomes DRAINING (the scheduler stops its
/// tasks and then removes it). One that still has tasks to run (scale
/// above 0 on a service scaled above 0) needs `force`.
pub(crate) async fn delete_task_set(
    ctx: &Ctx,
    req: DeleteTaskSetRequest,
) -> Result<DeleteTaskSetResponse, ApiError> {
    let names = target(ctx, req.cluster.as_deref(), req.service).await?;
    external_service(ctx, &names).await?;
    let id = given_task_set(req.task_set, "taskSet")?;
    let force = req.force.unwrap_or(false);
    let now = ctx.state.ops.clock.now_millis();
    let ts = modify_task_set(ctx, &names, id, move |r, id| {
        let desired = r.service.desired_count.unwrap_or(0);
        let t = r.service.task_sets.iter().flatten().find(|t| t.id.as_deref() == Some(id));
        let scaled = t.and_then(|t| t.scale.as_ref()).and_then(|sc| sc.value).unwrap_or(0.0) > 0.0;
        if t.is_some() && scaled && desired > 0 && !force {
            return Err(EcsError::invalid_parameter(
                "The task set cannot be deleted while it is scaled above 0. Set its scale to 0 \
                 or use force.",
            ));
        }
        r.drain_task_set(id, now)
    })
    .await?;
    Ok(DeleteTaskSetResponse { task_set: Some(ts) })
}

/// DescribeTaskSets: an EXTERNAL service's task sets (all, or those named by
/// id or ARN); unknown ones in `failures` as MISSING.
pub(crate) async fn describe_task_sets(
    ctx: &Ctx,
    req: DescribeTaskSetsRequest,
) -> Result<DescribeTaskSetsResponse, ApiError> {
    let names = target(ctx, req.cluster.as_deref(), req.service).await?;
    // CODE_DEPLOY services' task sets are described too (CodeDeploy makes them).
    let rec = load(ctx.ops(), &names).await?.ok_or_else(service_not_found)?;
    if !model::uses_task_sets(&rec.service) {
        return Err(invalid(NOT_EXTERNAL));
    }
    let include = req.include.unwrap_or_default();
    if let Some(bad) = include.iter().find(|f| !f.is_known()) {
        return Err(invalid(format!("Invalid include '{bad}'. Valid values: TAGS.")));
    }
    let with_tags = include.contains(&TaskSetField::Tags);
    let all = rec.service.task_sets.unwrap_or_default();
    let (mut found, mut failures) = (Vec::new(), Vec::new());
    match req.task_sets {
        None => found = all,
        Some(given) => {
            if given.len() > 100 {
                return Err(invalid("taskSets can have at most 100 items."));
            }
            for g in given {
                let hit = task_set_id(&g).and_then(|id| {
                    all.iter().find(|t| t.id.as_deref() == Some(id.as_str())).cloned()
                });
                match hit {
                    Some(t) => found.push(t),
                    None => failures.push(missing(&if arn::parse(&g).is_some() {
                        g.clone()
                    } else {
                        format!("{}{g}", names.task_set_prefix)
                    })),
                }
            }
        }
    }
    for t in &mut found {
        t.tags = if with_tags {
            Some(tags_of(ctx.ops(), t.task_set_arn.as_deref().unwrap_or_default()).await?)
        } else {
            None
        };
    }
    Ok(DescribeTaskSetsResponse { task_sets: Some(found), failures: Some(failures) })
}
