//! Tasks: RunTask, StartTask, StopTask, DescribeTasks, ListTasks.
//!
//! RunTask and StartTask write desired state and return: each task is stored
//! `PROVISIONING` with `desiredStatus: RUNNING` on the instance placement
//! chose, in the same transaction that checked the instance's resources. The
//! instance's agent hears of it through the store's task watch, runs it, and
//! reports back through [`crate::agent_link`]. StopTask only sets the desired
//! status; the agent stops the containers and reports `STOPPED`.

use wharf_model::arn::{self, TaskDefinitionRef};
use wharf_model::ecs::placement::{self, Candidate, Demand};
use wharf_model::ecs::shapes::{
    Container, DescribeTasksRequest, DescribeTasksResponse, Failure, KeyValuePair, LaunchType,
    ListTasksRequest, ListTasksResponse, RunTaskRequest, RunTaskResponse, StartTaskRequest,
    StartTaskResponse, StopTaskRequest, StopTaskResponse, Tag, Task, TaskDefinition, TaskField,
    TaskOverride, TaskStopCode,
};
use wharf_model::EcsError;
use wharf_store::{NewTask, Reservation, StoredTask, TaskQuery, TaskUpdate};

use super::container_instance::{self, active_cluster, integer_resource};
use super::docs::required;
use super::tags;
use crate::context::Ctx;
use crate::pagination;
use crate::protocol::ApiError;

/// `stoppedReason` of a StopTask without a reason.
pub const STOPPED_BY_USER: &str = "Task stopped by user";

/// Reads a stored task.
pub(crate) fn parse(stored: &StoredTask) -> Result<Task, EcsError> {
    serde_json::from_str(&stored.json).map_err(|e| {
        tracing::error!(error = %e, task = %stored.id, "a stored task could not be read");
        EcsError::server("A stored task could not be read.")
    })
}

fn to_json(task: &Task) -> Result<String, EcsError> {
    serde_json::to_string(task).map_err(|e| EcsError::server(format!("task not written: {e}")))
}

/// The task definition a request names, if it may run.
pub(crate) async fn runnable_definition(
    ctx: &Ctx,
    given: &str,
) -> Result<TaskDefinition, ApiError> {
    let not_found = || EcsError::client("TaskDefinition not found.");
    let (family, revision) = match arn::task_definition_ref(given).ok_or_else(not_found)? {
        TaskDefinitionRef::Family(f) => (f, None),
        TaskDefinitionRef::Revision(f, r) => (f, Some(i32::try_from(r).map_err(|_| not_found())?)),
    };
    let stored = ctx
        .store()
        .get_task_definition(&ctx.region, family, revision)
        .await?
        .ok_or_else(not_found)?;
    if stored.status != "ACTIVE" {
        return Err(EcsError::client("TaskDefinition is inactive").into());
    }
    serde_json::from_str(&stored.json)
        .map_err(|_| EcsError::server("A stored task definition could not be read.").into())
}

/// Checks overrides against the definition as ECS does.
fn check_overrides(td: &TaskDefinition, o: &TaskOverride) -> Result<(), EcsError> {
    let names: Vec<&str> = td
        .container_definitions
        .as_deref()
        .unwrap_or(&[])
        .iter()
        .filter_map(|c| c.name.as_deref())
        .collect();
    for co in o.container_overrides.as_deref().unwrap_or(&[]) {
        let name = co.name.as_deref().unwrap_or("");
        if !names.contains(&name) {
            return Err(EcsError::invalid_parameter(format!(
                "Override for container named {name} is not a container in the TaskDefinition."
            )));
        }
        for (field, v) in
            [("cpu", co.cpu), ("memory", co.memory), ("memoryReservation", co.memory_reservation)]
        {
            if v.is_some_and(|v| v < 0) {
                return Err(EcsError::invalid_parameter(format!(
                    "containerOverrides.{field} cannot be negative."
                )));
            }
        }
    }
    Ok(())
}

/// The launch type a request asks for, checked against the definition.
pub(crate) fn launch_type(
    td: &TaskDefinition,
    given: Option<LaunchType>,
) -> Result<LaunchType, EcsError> {
    let lt = given.unwrap_or(LaunchType::Ec2);
    if !matches!(lt, LaunchType::Ec2 | LaunchType::Fargate | LaunchType::External) {
        return Err(EcsError::invalid_parameter(format!(
            "launchType '{lt}' is not supported. Valid values: EC2, FARGATE, EXTERNAL."
        )));
    }
    let compatible =
        td.compatibilities.as_deref().unwrap_or(&[]).iter().any(|c| c.as_str() == lt.as_str());
    if !compatible {
        return Err(EcsError::invalid_parameter(format!(
            "Task definition does not support launch_type {lt}."
        )));
    }
    Ok(lt)
}

/// What RunTask and StartTask share once the request is read.
#[derive(Clone)]
pub(crate) struct Launch {
    cluster: String,
    td: TaskDefinition,
    overrides: TaskOverride,
    launch_type: LaunchType,
    started_by: Option<String>,
    group: String,
    tags: Vec<Tag>,
    attachments_subnets: Option<Vec<String>>,
    rules: placement::Rules,
    /// The service that owns the tasks (ListTasks `serviceName`).
    pub(crate) service: Option<String>,
}

/// Reads and checks what RunTask and StartTask have in common.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn launch(
    ctx: &Ctx,
    cluster: Option<&str>,
    task_definition: Option<String>,
    overrides: Option<TaskOverride>,
    given_launch_type: Option<LaunchType>,
    started_by: Option<String>,
    group: Option<String>,
    given_tags: Option<Vec<Tag>>,
    network: Option<wharf_model::ecs::shapes::NetworkConfiguration>,
    rules: placement::Rules,
) -> Result<Launch, ApiError> {
    let cluster = active_cluster(ctx, cluster).await?;
    let given = required(task_definition, "taskDefinition")?;
    let td = runnable_definition(ctx, &given).await?;
    let overrides = overrides.unwrap_or_default();
    check_overrides(&td, &overrides)?;
    let launch_type = launch_type(&td, given_launch_type)?;
    if started_by.as_deref().is_some_and(|s| s.chars().count() > 128) {
        return Err(
            EcsError::invalid_parameter("startedBy can be up to 128 characters long.").into()
        );
    }
    let family = td.family.clone().unwrap_or_default();
    let group = group.unwrap_or_else(|| format!("family:{family}"));
    if group.chars().count() > 255 {
        return Err(EcsError::invalid_parameter("group can be up to 255 characters long.").into());
    }
    let tags = given_tags.unwrap_or_default();
    tags::validate(&tags)?;
    let awsvpc = td.network_mode.as_ref().is_some_and(|m| m.as_str() == "awsvpc");
    let subnets = network.and_then(|n| n.awsvpc_configuration).and_then(|a| a.subnets);
    if awsvpc && subnets.is_none() {
        return Err(EcsError::invalid_parameter(
            "Network Configuration must be provided when networkMode 'awsvpc' is specified.",
        )
        .into());
    }
    Ok(Launch {
        cluster,
        td,
        overrides,
        launch_type,
        started_by,
        group,
        tags,
        attachments_subnets: subnets,
        rules,
        service: None,
    })
}

/// A new task as RunTask answers it.
fn new_task(ctx: &Ctx, l: &Launch, id: &str, instance: &Candidate, now_ms: i64) -> Task {
    let instance_arn = instance.arn.as_str();
    let scope = ctx.scope();
    let task_arn = scope.task_arn(&l.cluster, id);
    let containers =
        l.td.container_definitions
            .as_deref()
            .unwrap_or(&[])
            .iter()
            .map(|c| {
                let o = l
                    .overrides
                    .container_overrides
                    .as_deref()
                    .and_then(|os| os.iter().find(|o| o.name.is_some() && o.name == c.name));
                let cpu = o.and_then(|o| o.cpu).or(c.cpu).unwrap_or(0);
                Container {
                    container_arn: Some(scope.container_arn(
                        &l.cluster,
                        id,
                        &uuid::Uuid::new_v4().hyphenated().to_string(),
                    )),
                    task_arn: Some(task_arn.clone()),
                    name: c.name.clone(),
                    image: c.image.clone(),
                    last_status: Some("PENDING".to_owned()),
                    network_interfaces: Some(vec![]),
                    cpu: Some(cpu.to_string()),
                    memory: o.and_then(|o| o.memory).or(c.memory).map(|m| m.to_string()),
                    memory_reservation: o
                        .and_then(|o| o.memory_reservation)
                        .or(c.memory_reservation)
                        .map(|m| m.to_string()),
                    ..Container::default()
                }
            })
            .collect();
    let fargate = l.launch_type == LaunchType::Fargate;
    let attachments = match &l.attachments_subnets {
        Some(subnets) => vec![wharf_model::ecs::shapes::Attachment {
            id: Some(uuid::Uuid::new_v4().hyphenated().to_string()),
            r#type: Some("ElasticNetworkInterface".to_owned()),
            status: Some("PRECREATED".to_owned()),
            details: Some(vec![KeyValuePair {
                name: Some("subnetId".to_owned()),
                value: subnets.first().cloned(),
            }]),
        }],
        None => vec![],
    };
    let demand = placement::demand(&l.td, Some(&l.overrides));
    Task {
        attachments: Some(attachments),
        attributes: Some(vec![wharf_model::ecs::shapes::Attribute {
            name: Some("ecs.cpu-architecture".to_owned()),
            value: Some(std::env::consts::ARCH.replace("aarch64", "arm64")),
            ..Default::default()
        }]),
        availability_zone: Some(
            instance
                .attribute_values
                .get(wharf_model::ecs::attributes::AVAILABILITY_ZONE)
                .cloned()
                .unwrap_or_else(|| format!("{}a", ctx.region)),
        ),
        cluster_arn: Some(scope.cluster_arn(&l.cluster)),
        // Fargate tasks have no container instance on the wire, though Wharf
        // runs them on one.
        container_instance_arn: (!fargate).then(|| instance_arn.to_owned()),
        containers: Some(containers),
        cpu: Some(
            l.overrides.cpu.clone().or(l.td.cpu.clone()).unwrap_or_else(|| demand.cpu.to_string()),
        ),
        memory: l
            .overrides
            .memory
            .clone()
            .or(l.td.memory.clone())
            .or_else(|| (demand.memory > 0).then(|| demand.memory.to_string())),
        created_at: Some(wharf_model::wire::Timestamp::from_millis(now_ms)),
        desired_status: Some("RUNNING".to_owned()),
        enable_execute_command: Some(false),
        group: Some(l.group.clone()),
        health_status: Some(wharf_model::ecs::shapes::HealthStatus::Unknown),
        last_status: Some("PROVISIONING".to_owned()),
        launch_type: Some(l.launch_type.clone()),
        overrides: Some(TaskOverride {
            container_overrides: Some(l.overrides.container_overrides.clone().unwrap_or_default()),
            inference_accelerator_overrides: Some(vec![]),
            ..l.overrides.clone()
        }),
        platform_version: fargate.then(|| "1.4.0".to_owned()),
        platform_family: fargate.then(|| "Linux".to_owned()),
        started_by: l.started_by.clone(),
        tags: Some(l.tags.clone()),
        task_arn: Some(task_arn),
        task_definition_arn: l.td.task_definition_arn.clone(),
        version: Some(1),
        ..Task::default()
    }
}

/// Places `count` tasks on the cluster's instances (or the named ones) and
/// stores them; the tasks and the failures.
pub(crate) async fn place_and_store(
    ctx: &Ctx,
    l: Launch,
    count: usize,
    only: Option<Vec<String>>,
) -> Result<(Vec<Task>, Vec<Failure>), ApiError> {
    let demand2: Demand = placement::demand(&l.td, Some(&l.overrides));
    let now_ms = ctx.state.clock.now_millis();
    let family = l.td.family.clone().unwrap_or_default();
    let ctx2 = ctx.clone();
    let l = std::sync::Arc::new(l);
    let l2 = l.clone();
    let cluster = l.cluster.clone();
    let failures_out = std::sync::Arc::new(std::sync::Mutex::new(Vec::<Failure>::new()));
    let failures_in = failures_out.clone();
    let named = only.clone();
    let placed = ctx
        .store()
        .place_tasks(
            &ctx.region,
            &cluster,
            only,
            Box::new(move |usage| {
                if usage.is_empty() {
                    let Some(ids) = named else {
                        return Err(EcsError::invalid_parameter(
                            "No Container Instances were found in your cluster.",
                        ));
                    };
                    // StartTask named instances the cluster does not have.
                    if let Ok(mut f) = failures_in.lock() {
                        f.extend(ids.iter().map(|id| Failure {
                            arn: Some(ctx2.scope().container_instance_arn(&l2.cluster, id)),
                            reason: Some("MISSING".to_owned()),
                            detail: None,
                        }));
                    }
                    return Ok(vec![]);
                }
                let mut candidates = Vec::with_capacity(usage.len());
                let zone = format!("{}a", ctx2.region);
                for u in &usage {
                    let ci = container_instance::parse(&u.instance)?;
                    let registered = ci.registered_resources.clone().unwrap_or_default();
                    candidates.push(Candidate {
                        active: u.instance.status == "ACTIVE",
                        cpu_free: integer_resource(&registered, "CPU") - u.cpu,
                        memory_free: integer_resource(&registered, "MEMORY") - u.memory,
                        ports_used: u.ports.clone(),
                        tasks: u.running_tasks + u.pending_tasks,
                        running_tasks: u.running_tasks,
                        task_groups: u.task_groups.clone(),
                        ..Candidate::of_instance(&ci, &zone)
                    });
                }
                let rules = placement::Rules { group: Some(l2.group.clone()), ..l2.rules.clone() };
                let p = placement::place(&mut candidates, &demand2, count, &rules);
                if let Ok(mut f) = failures_in.lock() {
                    f.extend(p.failures.iter().map(|(arn, reason, detail)| Failure {
                        arn: Some(arn.clone()),
                        reason: Some((*reason).to_owned()),
                        detail: detail.clone(),
                    }));
                }
                let mut tasks = Vec::with_capacity(p.chosen.len());
                for i in p.chosen {
                    let id = uuid::Uuid::new_v4().simple().to_string();
                    let instance = &usage[i].instance;
                    let task = new_task(&ctx2, &l2, &id, &candidates[i], now_ms);
                    tasks.push(NewTask {
                        task: StoredTask {
                            cluster: l2.cluster.clone(),
                            id,
                            arn: task.task_arn.clone().unwrap_or_default(),
                            instance_id: Some(instance.id.clone()),
                            last_status: "PROVISIONING".to_owned(),
                            desired_status: "RUNNING".to_owned(),
                            json: to_json(&task)?,
                        },
                        family: family.clone(),
                        started_by: l2.started_by.clone(),
                        service: l2.service.clone(),
                        reservation: Reservation {
                            cpu: demand2.cpu,
                            memory: demand2.memory,
                            ports: demand2.ports.clone(),
                        },
                        tags: tags::pairs(l2.tags.clone()),
                    });
                }
                Ok(tasks)
            }),
        )
        .await?;
    let tasks = placed.iter().map(|n| parse(&n.task)).collect::<Result<Vec<_>, _>>()?;
    let failures = failures_out.lock().map(|f| f.clone()).unwrap_or_default();
    Ok((tasks, failures))
}

/// RunTask: `count` (1 to 10) tasks placed on the cluster's instances.
/// Tasks that do not fit are answered in `failures` with the resource that
/// was missing, or the constraint an instance did not meet. The definition's
/// `memberOf` constraints apply with the request's.
pub(crate) async fn run_task(ctx: &Ctx, req: RunTaskRequest) -> Result<RunTaskResponse, ApiError> {
    let count = req.count.unwrap_or(1);
    if !(1..=10).contains(&count) {
        return Err(EcsError::invalid_parameter("count must be between 1 and 10.").into());
    }
    if req.capacity_provider_strategy.as_ref().is_some_and(|s| !s.is_empty())
        && req.launch_type.is_some()
    {
        return Err(EcsError::invalid_parameter(
            "Specifying both a launch type and capacity provider strategy is not supported. \
             Remove one and try again.",
        )
        .into());
    }
    let rules = placement::rules(
        req.placement_strategy.as_deref().unwrap_or(&[]),
        req.placement_constraints.as_deref().unwrap_or(&[]),
    )
    .map_err(EcsError::invalid_parameter)?;
    let mut l = launch(
        ctx,
        req.cluster.as_deref(),
        req.task_definition,
        req.overrides,
        req.launch_type,
        req.started_by,
        req.group,
        req.tags,
        req.network_configuration,
        rules,
    )
    .await?;
    placement::add_definition_constraints(
        &mut l.rules,
        l.td.placement_constraints.as_deref().unwrap_or(&[]),
    )
    .map_err(EcsError::invalid_parameter)?;
    let (tasks, failures) = place_and_store(ctx, l, count as usize, None).await?;
    Ok(RunTaskResponse { tasks: Some(tasks), failures: Some(failures) })
}

/// StartTask: one task on each named container instance (up to 10).
pub(crate) async fn start_task(
    ctx: &Ctx,
    req: StartTaskRequest,
) -> Result<StartTaskResponse, ApiError> {
    let instances = required(req.container_instances, "containerInstances")?;
    if instances.is_empty() || instances.len() > 10 {
        return Err(EcsError::invalid_parameter(
            "containerInstances must have between 1 and 10 items.",
        )
        .into());
    }
    let l = launch(
        ctx,
        req.cluster.as_deref(),
        req.task_definition,
        req.overrides,
        None,
        req.started_by,
        req.group,
        req.tags,
        req.network_configuration,
        placement::Rules::default(),
    )
    .await?;
    let (mut tasks, mut failures) = (Vec::new(), Vec::new());
    for given in instances {
        let (id, _) = arn::resource_id(&given, "container-instance");
        let (t, f) = place_and_store(ctx, l.clone(), 1, Some(vec![id.to_owned()])).await?;
        tasks.extend(t);
        failures.extend(f);
    }
    Ok(StartTaskResponse { tasks: Some(tasks), failures: Some(failures) })
}

/// Finds a task of a cluster by ARN or ID.
async fn find_task(ctx: &Ctx, cluster: &str, given: &str) -> Result<Option<StoredTask>, ApiError> {
    let (id, in_cluster) = arn::resource_id(given, "task");
    if in_cluster.is_some_and(|c| c != cluster) {
        return Ok(None);
    }
    Ok(ctx.store().get_task(&ctx.region, cluster, id).await?)
}

/// StopTask: the task's desired status becomes STOPPED with `UserInitiated`
/// and the reason given (or ECS's default); its agent stops the containers.
/// Stopping a stopped task returns it as it is.
pub(crate) async fn stop_task(
    ctx: &Ctx,
    req: StopTaskRequest,
) -> Result<StopTaskResponse, ApiError> {
    let cluster = active_cluster(ctx, req.cluster.as_deref()).await?;
    let given = required(req.task, "task")?;
    let reason = req.reason.unwrap_or_else(|| STOPPED_BY_USER.to_owned());
    if reason.chars().count() > 255 {
        return Err(EcsError::invalid_parameter("reason can be up to 255 characters long.").into());
    }
    let not_found = || EcsError::invalid_parameter("The referenced task was not found.");
    let (id, in_cluster) = arn::resource_id(&given, "task");
    if in_cluster.is_some_and(|c| c != cluster) {
        return Err(not_found().into());
    }
    let updated = ctx
        .store()
        .update_task(
            &ctx.region,
            &cluster,
            id,
            Box::new(move |stored| {
                let mut t = parse(stored)?;
                if stored.desired_status == "STOPPED"
                    || !wharf_model::ecs::task::request_stop(
                        &mut t,
                        TaskStopCode::UserInitiated,
                        reason,
                    )
                {
                    return Ok(None);
                }
                Ok(Some(TaskUpdate {
                    last_status: stored.last_status.clone(),
                    desired_status: "STOPPED".to_owned(),
                    json: to_json(&t)?,
                    stopped_ms: None,
                }))
            }),
        )
        .await?
        .ok_or_else(not_found)?;
    let mut task = parse(&updated)?;
    task.tags = Some(tags::of(ctx, &updated.arn).await?);
    Ok(StopTaskResponse { task: Some(task) })
}

/// DescribeTasks: up to 100 tasks by ARN or ID; unknown ones in `failures`
/// with reason `MISSING`.
pub(crate) async fn describe_tasks(
    ctx: &Ctx,
    req: DescribeTasksRequest,
) -> Result<DescribeTasksResponse, ApiError> {
    let cluster = active_cluster(ctx, req.cluster.as_deref()).await?;
    let given = required(req.tasks, "tasks")?;
    if given.is_empty() || given.len() > 100 {
        return Err(EcsError::invalid_parameter("tasks must have between 1 and 100 items.").into());
    }
    let with_tags = req.include.unwrap_or_default().contains(&TaskField::Tags);
    let (mut tasks, mut failures) = (Vec::new(), Vec::new());
    for g in given {
        match find_task(ctx, &cluster, &g).await? {
            Some(stored) => {
                let mut t = parse(&stored)?;
                t.tags = Some(if with_tags { tags::of(ctx, &stored.arn).await? } else { vec![] });
                tasks.push(t);
            }
            None => failures.push(Failure {
                arn: Some(if arn::parse(&g).is_some() {
                    g.clone()
                } else {
                    ctx.scope().task_arn(&cluster, &g)
                }),
                reason: Some("MISSING".to_owned()),
                detail: None,
            }),
        }
    }
    Ok(DescribeTasksResponse { tasks: Some(tasks), failures: Some(failures) })
}

/// ListTasks: task ARNs in ID order, by `desiredStatus` (RUNNING unless
/// asked for STOPPED), family, startedBy, service, container instance,
/// launch type; paginated.
pub(crate) async fn list_tasks(
    ctx: &Ctx,
    req: ListTasksRequest,
) -> Result<ListTasksResponse, ApiError> {
    let cluster = active_cluster(ctx, req.cluster.as_deref()).await?;
    let limit = pagination::max_results(req.max_results, 100)?;
    let desired = match req.desired_status {
        None => "RUNNING".to_owned(),
        Some(s) if s.is_known() => s.as_str().to_owned(),
        Some(s) => {
            return Err(EcsError::invalid_parameter(format!(
                "Invalid desiredStatus '{s}'. Valid values: RUNNING, PENDING, STOPPED."
            ))
            .into())
        }
    };
    if req.family.is_some() && req.service_name.is_some() {
        return Err(EcsError::invalid_parameter(
            "Family and serviceName cannot both be specified.",
        )
        .into());
    }
    let instance_id = req
        .container_instance
        .as_deref()
        .map(|g| arn::resource_id(g, "container-instance").0.to_owned());
    let launch = req.launch_type;
    let mut after = req.next_token.as_deref().map(pagination::decode).transpose()?;
    let mut arns = Vec::new();
    let mut next_token = None;
    // A launch type filter is applied after reading, so read pages until full.
    'pages: loop {
        let page = ctx
            .store()
            .list_tasks(
                &ctx.region,
                TaskQuery {
                    cluster: cluster.clone(),
                    family: req.family.clone(),
                    started_by: req.started_by.clone(),
                    service: req.service_name.clone(),
                    instance_id: instance_id.clone(),
                    // PENDING is never a stored desired status; ECS lists none.
                    desired_status: Some(desired.clone()),
                    after: after.clone(),
                    limit: limit + 1,
                },
            )
            .await?;
        let full = page.len() > limit;
        for stored in &page {
            if arns.len() == limit {
                next_token = Some(pagination::encode(&after.clone().unwrap_or_default()));
                break 'pages;
            }
            after = Some(stored.id.clone());
            if let Some(lt) = &launch {
                if parse(stored)?.launch_type.as_ref() != Some(lt) {
                    continue;
                }
            }
            arns.push(stored.arn.clone());
        }
        if !full {
            break;
        }
    }
    Ok(ListTasksResponse { task_arns: Some(arns), next_token })
}
