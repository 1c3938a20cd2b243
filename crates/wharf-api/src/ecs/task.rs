//! Tasks: RunTask, StartTask, StopTask, DescribeTasks, ListTasks.
//!
//! RunTask and StartTask write desired state and return: each task is stored
//! `PROVISIONING` with `desiredStatus: RUNNING` on the instance placement
//! chose, in the same transaction that checked the instance's resources. The
//! instance's agent hears of it through the store's task watch, runs it, and
//! reports back through [`crate::agent_link`]. StopTask only sets the desired
//! status; the agent stops the containers and reports `STOPPED`.

use wharf_model::arn;
use wharf_model::ecs::shapes::{
    DescribeTasksRequest, DescribeTasksResponse, DesiredStatus, ExecuteCommandRequest,
    ExecuteCommandResponse, Failure, ListTasksRequest, ListTasksResponse, RunTaskRequest,
    RunTaskResponse, StartTaskRequest, StartTaskResponse, StopTaskRequest, StopTaskResponse, Task,
    TaskField, TaskStopCode,
};
use wharf_model::EcsError;
use wharf_ops::launch::{launch, LaunchRequest};
use wharf_ops::lookup::{active_cluster, tags_of};
use wharf_ops::stop;
use wharf_store::{StoredTask, TaskQuery};

use super::input::required;
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

/// RunTask: `count` (1 to 10) tasks placed on the cluster's instances, or
/// on the Fargate pool, by launch type or by capacity provider strategy (the
/// request's, else the cluster's default). Tasks that do not fit are
/// answered in `failures` with the resource that was missing, or the
/// constraint an instance did not meet. The definition's `memberOf`
/// constraints apply with the request's.
pub(crate) async fn run_task(ctx: &Ctx, req: RunTaskRequest) -> Result<RunTaskResponse, ApiError> {
    let count = req.count.unwrap_or(1);
    if !(1..=10).contains(&count) {
        return Err(EcsError::invalid_parameter("count must be between 1 and 10.").into());
    }
    let task_definition = required(req.task_definition, "taskDefinition")?;
    if req.cluster.is_none() {
        super::cluster::ensure_default(ctx).await?;
    }
    let launched = launch(
        ctx.ops(),
        LaunchRequest {
            cluster: req.cluster,
            task_definition,
            overrides: req.overrides,
            launch_type: req.launch_type,
            capacity_provider_strategy: req.capacity_provider_strategy,
            platform_version: req.platform_version,
            started_by: req.started_by,
            group: req.group,
            tags: req.tags,
            network: req.network_configuration,
            placement_strategy: req.placement_strategy.unwrap_or_default(),
            placement_constraints: req.placement_constraints.unwrap_or_default(),
            definition_constraints: true,
            count: count as usize,
            execute_command: req.enable_execute_command.unwrap_or(false),
            ..LaunchRequest::default()
        },
    )
    .await?;
    Ok(RunTaskResponse { tasks: Some(launched.tasks), failures: Some(launched.failures) })
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
    let task_definition = required(req.task_definition, "taskDefinition")?;
    let (mut tasks, mut failures) = (Vec::new(), Vec::new());
    for given in instances {
        let (id, _) = arn::resource_id(&given, "container-instance");
        let launched = launch(
            ctx.ops(),
            LaunchRequest {
                cluster: req.cluster.clone(),
                task_definition: task_definition.clone(),
                overrides: req.overrides.clone(),
                started_by: req.started_by.clone(),
                group: req.group.clone(),
                tags: req.tags.clone(),
                network: req.network_configuration.clone(),
                count: 1,
                instances: Some(vec![id.to_owned()]),
                ..LaunchRequest::default()
            },
        )
        .await?;
        tasks.extend(launched.tasks);
        failures.extend(launched.failures);
    }
    Ok(StartTaskResponse { tasks: Some(tasks), failures: Some(failures) })
}

/// ExecuteCommand: ECS's checks (interactive only, the task RUNNING with
/// execute command enabled, the container named when the task has several),
/// then a session on the task's agent ([`crate::exec::start`]): its id, the
/// WebSocket URL `wharf exec` connects to, and the token it presents.
pub(crate) async fn execute_command(
    ctx: &Ctx,
    req: ExecuteCommandRequest,
) -> Result<ExecuteCommandResponse, ApiError> {
    let cluster = active_cluster(ctx.ops(), req.cluster.as_deref()).await?;
    let command = required(req.command, "command")?;
    let given = required(req.task, "task")?;
    if command.trim().is_empty() {
        return Err(EcsError::invalid_parameter("command can not be blank.").into());
    }
    if req.interactive != Some(true) {
        return Err(EcsError::invalid_parameter(
            "Interactive is the only mode supported currently.",
        )
        .into());
    }
    let stored = find_task(ctx, &cluster, &given)
        .await?
        .ok_or_else(|| EcsError::invalid_parameter("The referenced task was not found."))?;
    let task = parse(&stored)?;
    if task.enable_execute_command != Some(true) {
        return Err(EcsError::invalid_parameter(
            "The execute command failed because execute command was not enabled when the task \
             was run or the execute command agent isn't running. Wait and try the command again \
             or run a new task with execute command enabled and try again.",
        )
        .into());
    }
    if stored.last_status != wharf_model::ecs::status::TaskStatus::Running {
        return Err(EcsError::invalid_parameter(format!(
            "The execute command failed because the task is {}, not RUNNING.",
            stored.last_status
        ))
        .into());
    }
    let containers = task.containers.as_deref().unwrap_or(&[]);
    let container = match (&req.container, containers) {
        (Some(name), _) => {
            containers.iter().find(|c| c.name.as_deref() == Some(name)).ok_or_else(|| {
                EcsError::invalid_parameter(format!(
                    "The container {name} does not exist in the task."
                ))
            })?
        }
        (None, [only]) => only,
        (None, _) => {
            return Err(EcsError::invalid_parameter(
                "Container name is required for tasks with more than one container.",
            )
            .into())
        }
    };
    let session = crate::exec::start(ctx, &cluster, &stored, container, &command).await?;
    Ok(ExecuteCommandResponse {
        cluster_arn: task.cluster_arn.clone(),
        container_arn: container.container_arn.clone(),
        container_name: container.name.clone(),
        interactive: Some(true),
        session: Some(session),
        task_arn: task.task_arn.clone(),
    })
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
    let cluster = active_cluster(ctx.ops(), req.cluster.as_deref()).await?;
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
    let updated = stop::stop_task(ctx.ops(), &cluster, id, TaskStopCode::UserInitiated, reason)
        .await?
        .ok_or_else(not_found)?;
    let mut task = parse(&updated)?;
    task.tags = Some(tags_of(ctx.ops(), &updated.arn).await?);
    Ok(StopTaskResponse { task: Some(task) })
}

/// DescribeTasks: up to 100 tasks by ARN or ID; unknown ones in `failures`
/// with reason `MISSING`.
pub(crate) async fn describe_tasks(
    ctx: &Ctx,
    req: DescribeTasksRequest,
) -> Result<DescribeTasksResponse, ApiError> {
    let cluster = active_cluster(ctx.ops(), req.cluster.as_deref()).await?;
    let given = required(req.tasks, "tasks")?;
    if given.is_empty() {
        return Err(EcsError::invalid_parameter("Tasks cannot be empty.").into());
    }
    if given.len() > 100 {
        return Err(EcsError::invalid_parameter("tasks must have between 1 and 100 items.").into());
    }
    let with_tags = req.include.unwrap_or_default().contains(&TaskField::Tags);
    let (mut tasks, mut failures) = (Vec::new(), Vec::new());
    for g in given {
        match find_task(ctx, &cluster, &g).await? {
            Some(stored) => {
                let mut t = parse(&stored)?;
                t.tags =
                    Some(if with_tags { tags_of(ctx.ops(), &stored.arn).await? } else { vec![] });
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
    let cluster = active_cluster(ctx.ops(), req.cluster.as_deref()).await?;
    let limit = pagination::max_results(req.max_results, 100)?;
    let desired = match req.desired_status {
        None => DesiredStatus::Running,
        Some(s) if s.is_known() => s,
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
