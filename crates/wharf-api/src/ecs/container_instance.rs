//! Container instances: RegisterContainerInstance, DeregisterContainerInstance,
//! DescribeContainerInstances, ListContainerInstances,
//! UpdateContainerInstancesState.
//!
//! An instance is stored as its `ContainerInstance` wire shape with its
//! registered resources. What it has left, and its task counts, are computed
//! from the tasks on it when it is described, never kept as counters.

use std::collections::HashMap;

use wharf_model::arn;
use wharf_model::ecs::placement;
use wharf_model::ecs::shapes::{
    ContainerInstance, ContainerInstanceField, ContainerInstanceStatus,
    DeregisterContainerInstanceRequest, DeregisterContainerInstanceResponse,
    DescribeContainerInstancesRequest, DescribeContainerInstancesResponse,
    DiscoverPollEndpointRequest, DiscoverPollEndpointResponse, Failure,
    ListContainerInstancesRequest, ListContainerInstancesResponse,
    RegisterContainerInstanceRequest, RegisterContainerInstanceResponse, Resource,
    UpdateContainerInstancesStateRequest, UpdateContainerInstancesStateResponse,
};
use wharf_model::ecs::status::InstanceStatus;
use wharf_model::ecs::tags as ecs_tags;
use wharf_model::EcsError;
use wharf_ops::lookup::{active_cluster, add_tags, tags_of};
use wharf_store::{InstanceUsage, StoredInstance};

use super::input::required;
use crate::context::Ctx;
use crate::pagination;
use crate::protocol::ApiError;

/// The ports the ECS agent reserves on every instance
/// (`ECS_RESERVED_PORTS`' default: SSH, Docker, the agent's introspection).
pub const RESERVED_PORTS: [&str; 5] = ["22", "2375", "2376", "51678", "51679"];

fn corrupt(e: serde_json::Error) -> EcsError {
    tracing::error!(error = %e, "a stored container instance could not be read");
    EcsError::server("A stored container instance could not be read.")
}

fn integer(name: &str, value: i64) -> Resource {
    Resource {
        name: Some(name.to_owned()),
        r#type: Some("INTEGER".to_owned()),
        integer_value: Some(i32::try_from(value).unwrap_or(i32::MAX)),
        double_value: Some(0.0),
        long_value: Some(0),
        ..Resource::default()
    }
}

fn string_set(name: &str, values: Vec<String>) -> Resource {
    Resource {
        name: Some(name.to_owned()),
        r#type: Some("STRINGSET".to_owned()),
        string_set_value: Some(values),
        double_value: Some(0.0),
        long_value: Some(0),
        integer_value: Some(0),
    }
}

/// Reads a stored instance.
pub(crate) fn parse(stored: &StoredInstance) -> Result<ContainerInstance, EcsError> {
    serde_json::from_str(&stored.json).map_err(corrupt)
}

/// The instance as DescribeContainerInstances shows it: remaining resources
/// and task counts from the tasks on it.
pub(crate) fn described(usage: &InstanceUsage) -> Result<ContainerInstance, EcsError> {
    let mut ci = parse(&usage.instance)?;
    let registered = ci.registered_resources.clone().unwrap_or_default();
    let mut remaining = Vec::new();
    for r in &registered {
        let name = r.name.as_deref().unwrap_or("");
        remaining.push(match name {
            "CPU" => integer("CPU", placement::integer_resource(&registered, "CPU") - usage.cpu),
            "MEMORY" => {
                integer("MEMORY", placement::integer_resource(&registered, "MEMORY") - usage.memory)
            }
            "PORTS" | "PORTS_UDP" => {
                let protocol = if name == "PORTS" { "tcp" } else { "udp" };
                let mut ports = r.string_set_value.clone().unwrap_or_default();
                for p in &usage.ports {
                    if let Some(port) = p.strip_suffix(&format!("/{protocol}")) {
                        ports.push(port.to_owned());
                    }
                }
                string_set(name, ports)
            }
            _ => r.clone(),
        });
    }
    ci.remaining_resources = Some(remaining);
    ci.running_tasks_count = Some(i32::try_from(usage.running_tasks).unwrap_or(i32::MAX));
    ci.pending_tasks_count = Some(i32::try_from(usage.pending_tasks).unwrap_or(i32::MAX));
    Ok(ci)
}

/// RegisterContainerInstance: a new instance with the resources and
/// attributes the agent reports; with `containerInstanceArn`, the same
/// instance registered again (its ARN kept, its resources and attributes
/// replaced, ACTIVE again).
pub(crate) async fn register_container_instance(
    ctx: &Ctx,
    req: RegisterContainerInstanceRequest,
) -> Result<RegisterContainerInstanceResponse, ApiError> {
    let cluster = active_cluster(ctx.ops(), req.cluster.as_deref()).await?;
    register_in(ctx, cluster, req).await
}

/// Registers an instance in `cluster` (an ACTIVE cluster, or the Fargate
/// pool for an agent that joined as Fargate capacity).
pub(crate) async fn register_in(
    ctx: &Ctx,
    cluster: String,
    req: RegisterContainerInstanceRequest,
) -> Result<RegisterContainerInstanceResponse, ApiError> {
    let total = required(req.total_resources, "totalResources")?;
    for name in ["CPU", "MEMORY"] {
        if placement::integer_resource(&total, name) <= 0 {
            return Err(EcsError::invalid_parameter(format!(
                "totalResources must include a positive {name} value."
            ))
            .into());
        }
    }
    let given_tags = req.tags.unwrap_or_default();
    ecs_tags::validate(&given_tags)?;
    let id = match req.container_instance_arn.as_deref() {
        Some(given) => {
            let (id, _) = arn::resource_id(given, "container-instance");
            id.to_owned()
        }
        None => uuid::Uuid::new_v4().simple().to_string(),
    };
    let instance_arn = ctx.scope().container_instance_arn(&cluster, &id);
    let mut registered = total;
    for (name, default) in [("PORTS", RESERVED_PORTS.to_vec()), ("PORTS_UDP", vec![])] {
        if !registered.iter().any(|r| r.name.as_deref() == Some(name)) {
            registered.push(string_set(name, default.into_iter().map(str::to_owned).collect()));
        }
    }
    let now = ctx.state.ops.clock.now();
    let mut attributes = req.attributes.unwrap_or_default();
    if let Some(given) = super::vpc::allocate(&ctx.state, &ctx.region, &cluster, &id).await? {
        super::vpc::describe(&ctx.region, &cluster, &given, &mut attributes);
    }
    let ci = ContainerInstance {
        container_instance_arn: Some(instance_arn.clone()),
        ec2_instance_id: Some(ec2_instance_id(&id)),
        version: Some(1),
        version_info: req.version_info,
        registered_resources: Some(registered),
        status: Some(InstanceStatus::Active),
        agent_connected: Some(true),
        attributes: Some(attributes),
        registered_at: Some(now),
        attachments: Some(vec![]),
        ..ContainerInstance::default()
    };
    let json = serde_json::to_string(&ci).map_err(corrupt)?;
    let stored = StoredInstance {
        cluster: cluster.clone(),
        id: id.clone(),
        status: InstanceStatus::Active,
        json,
    };
    let written = ctx
        .store()
        .update_instance(
            &ctx.region,
            &cluster,
            &id,
            Box::new(move |current| {
                let mut ci: ContainerInstance =
                    serde_json::from_str(&stored.json).map_err(corrupt)?;
                ci.version = Some(match current {
                    Some(u) => {
                        let before = parse(&u.instance)?;
                        keep_custom_attributes(&before, &mut ci);
                        before.version.unwrap_or(0) + 1
                    }
                    None => 1,
                });
                let json = serde_json::to_string(&ci).map_err(corrupt)?;
                Ok(Some(StoredInstance { json, ..stored.clone() }))
            }),
        )
        .await?;
    if !given_tags.is_empty() {
        add_tags(ctx.ops(), &instance_arn, given_tags).await?;
    }
    let usage = ctx.store().instances(&ctx.region, &cluster, Some(vec![id])).await?;
    let mut ci = match usage.first() {
        Some(u) => described(u)?,
        None => parse(&written.ok_or_else(|| EcsError::server("The instance was not stored."))?)?,
    };
    ci.tags = Some(tags_of(ctx.ops(), &instance_arn).await?);
    Ok(RegisterContainerInstanceResponse { container_instance: Some(ci) })
}

/// Keeps the custom attributes PutAttributes gave the instance before it
/// registered again, unless its agent now reports them itself.
fn keep_custom_attributes(before: &ContainerInstance, again: &mut ContainerInstance) {
    let attributes = again.attributes.get_or_insert_with(Vec::new);
    for a in before.attributes.iter().flatten() {
        let name = a.name.as_deref().unwrap_or_default();
        if wharf_model::ecs::attributes::is_builtin(name)
            || attributes.iter().any(|b| b.name == a.name)
        {
            continue;
        }
        attributes.push(a.clone());
    }
}

/// Finds instances of a cluster by ARN or ID: those found, and failures
/// (`MISSING`) for the rest.
async fn find(
    ctx: &Ctx,
    cluster: &str,
    given: &[String],
) -> Result<(Vec<InstanceUsage>, Vec<Failure>), ApiError> {
    let all = ctx.store().instances(&ctx.region, cluster, None).await?;
    let by_id: HashMap<&str, &InstanceUsage> =
        all.iter().map(|u| (u.instance.id.as_str(), u)).collect();
    let (mut found, mut failures) = (Vec::new(), Vec::new());
    for g in given {
        let (id, in_cluster) = arn::resource_id(g, "container-instance");
        match by_id.get(id) {
            Some(u) if in_cluster.is_none_or(|c| c == cluster) => found.push((*u).clone()),
            _ => failures.push(Failure {
                arn: Some(if arn::parse(g).is_some() {
                    g.clone()
                } else {
                    ctx.scope().container_instance_arn(cluster, id)
                }),
                reason: Some("MISSING".to_owned()),
                detail: None,
            }),
        }
    }
    Ok((found, failures))
}

/// DescribeContainerInstances: up to 100 instances; unknown ones as
/// `failures` with reason `MISSING`.
pub(crate) async fn describe_container_instances(
    ctx: &Ctx,
    req: DescribeContainerInstancesRequest,
) -> Result<DescribeContainerInstancesResponse, ApiError> {
    let cluster = active_cluster(ctx.ops(), req.cluster.as_deref()).await?;
    let given = required(req.container_instances, "containerInstances")?;
    if given.is_empty() {
        return Err(EcsError::invalid_parameter("Container instance cannot be empty.").into());
    }
    if given.len() > 100 {
        return Err(EcsError::invalid_parameter(
            "containerInstances must have between 1 and 100 items.",
        )
        .into());
    }
    let with_tags = req.include.unwrap_or_default().contains(&ContainerInstanceField::Tags);
    let (found, failures) = find(ctx, &cluster, &given).await?;
    let mut out = Vec::with_capacity(found.len());
    for u in &found {
        let mut ci = described(u)?;
        if with_tags {
            ci.tags =
                Some(tags_of(ctx.ops(), ci.container_instance_arn.as_deref().unwrap_or("")).await?);
        }
        out.push(ci);
    }
    Ok(DescribeContainerInstancesResponse {
        container_instances: Some(out),
        failures: Some(failures),
    })
}

/// ListContainerInstances: ARNs in ID order, filtered by `status` and by
/// `filter` (the cluster query language, as `memberOf` constraints read it),
/// paginated.
pub(crate) async fn list_container_instances(
    ctx: &Ctx,
    req: ListContainerInstancesRequest,
) -> Result<ListContainerInstancesResponse, ApiError> {
    let cluster = active_cluster(ctx.ops(), req.cluster.as_deref()).await?;
    let filter = match req.filter.as_deref().filter(|f| !f.trim().is_empty()) {
        None => None,
        Some(f) => Some(
            wharf_model::ecs::placement::query::Expression::parse(f)
                .map_err(|e| EcsError::invalid_parameter(format!("filter: {e}")))?,
        ),
    };
    let status = match req.status {
        None => None,
        Some(s) if s.is_known() => s.as_str().parse::<InstanceStatus>().ok(),
        Some(s) => {
            return Err(EcsError::invalid_parameter(format!(
                "Invalid status '{s}'. Valid values: {}.",
                ContainerInstanceStatus::VALUES.join(", ")
            ))
            .into())
        }
    };
    let limit = pagination::max_results(req.max_results, 100)?;
    let after = req.next_token.as_deref().map(pagination::decode).transpose()?;
    let mut all = ctx.store().instances(&ctx.region, &cluster, None).await?;
    if let Some(expr) = &filter {
        let candidates = wharf_store::tasks::candidates(&all, &format!("{}a", ctx.region))?;
        let keep: Vec<bool> = candidates.iter().map(|c| expr.matches(c)).collect();
        let mut i = 0;
        all.retain(|_| {
            i += 1;
            keep[i - 1]
        });
    }
    let mut page: Vec<&InstanceUsage> = all
        .iter()
        .filter(|u| after.as_deref().is_none_or(|a| u.instance.id.as_str() > a))
        .filter(|u| match &status {
            Some(s) => u.instance.status == *s,
            // Without a status filter, deregistered instances are not listed.
            None => u.instance.status != InstanceStatus::Inactive,
        })
        .take(limit + 1)
        .collect();
    let next_token = (page.len() > limit).then(|| {
        page.truncate(limit);
        pagination::encode(&page[limit - 1].instance.id)
    });
    Ok(ListContainerInstancesResponse {
        container_instance_arns: Some(
            page.iter()
                .map(|u| ctx.scope().container_instance_arn(&cluster, &u.instance.id))
                .collect(),
        ),
        next_token,
    })
}

/// Changes an instance's status; the instance as described afterwards.
async fn set_status(
    ctx: &Ctx,
    cluster: &str,
    id: &str,
    check: impl Fn(&InstanceUsage) -> Result<(), EcsError> + Send + 'static,
    status: InstanceStatus,
) -> Result<ContainerInstance, ApiError> {
    wharf_ops::instances::set_status(ctx.ops(), cluster, id, check, status).await?;
    let usage = ctx.store().instances(&ctx.region, cluster, Some(vec![id.to_owned()])).await?;
    let u = usage.first().ok_or_else(|| {
        EcsError::invalid_parameter("The referenced container instance was not found.")
    })?;
    Ok(described(u)?)
}

/// DeregisterContainerInstance: the instance becomes INACTIVE. With tasks
/// still on it, ECS refuses unless `force` is set; forced, the tasks are left
/// running, orphaned, as ECS leaves them.
pub(crate) async fn deregister_container_instance(
    ctx: &Ctx,
    req: DeregisterContainerInstanceRequest,
) -> Result<DeregisterContainerInstanceResponse, ApiError> {
    let cluster = active_cluster(ctx.ops(), req.cluster.as_deref()).await?;
    let given = required(req.container_instance, "containerInstance")?;
    let (id, _) = arn::resource_id(&given, "container-instance");
    let force = req.force.unwrap_or(false);
    // Forced: the tasks are no longer accounted for (their containers are left
    // running, orphaned, as ECS leaves them: the agent is not told), and a
    // service starts others in their place.
    wharf_ops::instances::deregister(ctx.ops(), &cluster, id, force).await?;
    let usage = ctx.store().instances(&ctx.region, &cluster, Some(vec![id.to_owned()])).await?;
    let u = usage.first().ok_or_else(|| {
        EcsError::invalid_parameter("The referenced container instance was not found.")
    })?;
    Ok(DeregisterContainerInstanceResponse { container_instance: Some(described(u)?) })
}

/// UpdateContainerInstancesState: ACTIVE or DRAINING. A draining instance
/// takes no new tasks; its service tasks are replaced elsewhere.
pub(crate) async fn update_container_instances_state(
    ctx: &Ctx,
    req: UpdateContainerInstancesStateRequest,
) -> Result<UpdateContainerInstancesStateResponse, ApiError> {
    let cluster = active_cluster(ctx.ops(), req.cluster.as_deref()).await?;
    let given = required(req.container_instances, "containerInstances")?;
    if given.is_empty() || given.len() > 10 {
        return Err(EcsError::invalid_parameter(
            "containerInstances must have between 1 and 10 items.",
        )
        .into());
    }
    let status = match required(req.status, "status")?.as_str() {
        "ACTIVE" => InstanceStatus::Active,
        "DRAINING" => InstanceStatus::Draining,
        other => {
            return Err(EcsError::invalid_parameter(format!(
                "Container instances status can only be updated to ACTIVE or DRAINING, \
                 not '{other}'."
            ))
            .into())
        }
    };
    let (found, mut failures) = find(ctx, &cluster, &given).await?;
    let mut out = Vec::new();
    for u in found {
        if u.instance.status == InstanceStatus::Inactive {
            failures.push(Failure {
                arn: Some(ctx.scope().container_instance_arn(&cluster, &u.instance.id)),
                reason: Some("INACTIVE".to_owned()),
                detail: None,
            });
            continue;
        }
        out.push(set_status(ctx, &cluster, &u.instance.id, |_| Ok(()), status).await?);
    }
    Ok(UpdateContainerInstancesStateResponse {
        container_instances: Some(out),
        failures: Some(failures),
    })
}

/// How many instances a cluster has registered (ACTIVE or DRAINING), for
/// DescribeClusters and DeleteCluster.
/// DiscoverPollEndpoint: where an agent reaches the control plane. Wharf's
/// agents talk to the server itself for everything (assignments, state
/// changes, telemetry), so every endpoint is this server's, as the client
/// addressed it.
pub(crate) async fn discover_poll_endpoint(
    ctx: &Ctx,
    req: DiscoverPollEndpointRequest,
) -> Result<DiscoverPollEndpointResponse, ApiError> {
    let _ = (req.cluster, req.container_instance);
    let endpoint = ctx
        .endpoint()
        .ok_or_else(|| EcsError::client("The request names no Host to answer endpoints for."))?;
    Ok(DiscoverPollEndpointResponse {
        endpoint: Some(endpoint.clone()),
        telemetry_endpoint: Some(endpoint.clone()),
        service_connect_endpoint: Some(endpoint),
    })
}

/// How many of the cluster's instances are registered (not `INACTIVE`):
/// DescribeClusters' `registeredContainerInstancesCount`.
pub(crate) async fn registered_count(ctx: &Ctx, cluster: &str) -> Result<i64, ApiError> {
    let all = ctx.store().instance_records(&ctx.region, cluster, None).await?;
    Ok(all.iter().filter(|i| i.status != InstanceStatus::Inactive).count() as i64)
}

/// The `ec2InstanceId` a Wharf host is known by, in EC2's form (`i-` and 17
/// hexadecimal digits), from its container instance ID: what an `instance`
/// target group registers, so RegisterTargets accepts it as ELBv2 accepts an
/// EC2 instance.
fn ec2_instance_id(container_instance_id: &str) -> String {
    let hex: String =
        container_instance_id.chars().filter(char::is_ascii_hexdigit).take(17).collect();
    format!("i-{hex:0<17}").to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use wharf_model::elbv2::shapes::{TargetDescription, TargetGroup};

    /// An `instance` target group takes a Wharf host's instance ID, as
    /// ELBv2 takes an EC2 instance's.
    #[test]
    fn a_hosts_instance_id_is_an_ec2_instance_id() {
        let id = super::ec2_instance_id("4f1e9c0b2a7d4e5f8a9b0c1d2e3f4a5b");
        assert_eq!(id, "i-4f1e9c0b2a7d4e5f8");
        let target = TargetDescription { id: Some(id), port: Some(80), ..Default::default() };
        assert!(wharf_model::elbv2::validate::target(&TargetGroup::default(), &target).is_ok());
        assert_eq!(super::ec2_instance_id("ab"), "i-ab000000000000000");
    }
}
