//! AWS Cloud Map on AWS JSON 1.1 (`X-Amz-Target:
//! Route53AutoNaming_v20170314.<Operation>`): namespaces (HTTP and private
//! DNS), services, instances, operations and tags, over the region's
//! registry (`wharf_ops::discovery`). Private DNS namespaces are answered by
//! Wharf's DNS resolver.

use std::collections::BTreeMap;

use wharf_model::servicediscovery::shapes::{
    CreateHttpNamespaceRequest, CreateHttpNamespaceResponse, CreatePrivateDnsNamespaceRequest,
    CreatePrivateDnsNamespaceResponse, CreateServiceRequest, CreateServiceResponse,
    DeleteNamespaceRequest, DeleteNamespaceResponse, DeleteServiceRequest, DeleteServiceResponse,
    DeregisterInstanceRequest, DeregisterInstanceResponse, DiscoverInstancesRequest,
    DiscoverInstancesResponse, FilterCondition, GetInstanceRequest, GetInstanceResponse,
    GetNamespaceRequest, GetNamespaceResponse, GetOperationRequest, GetOperationResponse,
    GetServiceRequest, GetServiceResponse, InstanceSummary, ListInstancesRequest,
    ListInstancesResponse, ListNamespacesRequest, ListNamespacesResponse, ListServicesRequest,
    ListServicesResponse, ListTagsForResourceRequest, ListTagsForResourceResponse,
    NamespaceFilterName, NamespaceSummary, NamespaceType, RegisterInstanceRequest,
    RegisterInstanceResponse, ServiceFilterName, ServiceSummary, Tag, TagResourceRequest,
    TagResourceResponse, UntagResourceRequest, UntagResourceResponse,
};
use wharf_model::servicediscovery::{DiscoveryError, DiscoveryErrorKind, NewNamespace, Registry};
use wharf_ops::discovery;

use crate::context::Ctx;
use crate::protocol::{self, ApiError};

/// Runs one Cloud Map operation on a request body; the answer body or the
/// error.
pub async fn handle(ctx: &Ctx, op: &str, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    protocol::operations!(ctx, op, body, {
        "CreateHttpNamespace" => create_http_namespace,
        "CreatePrivateDnsNamespace" => create_private_dns_namespace,
        "GetNamespace" => get_namespace,
        "ListNamespaces" => list_namespaces,
        "DeleteNamespace" => delete_namespace,
        "CreateService" => create_service,
        "GetService" => get_service,
        "ListServices" => list_services,
        "DeleteService" => delete_service,
        "RegisterInstance" => register_instance,
        "DeregisterInstance" => deregister_instance,
        "GetInstance" => get_instance,
        "ListInstances" => list_instances,
        "DiscoverInstances" => discover_instances,
        "GetOperation" => get_operation,
        "ListTagsForResource" => list_tags_for_resource,
        "TagResource" => tag_resource,
        "UntagResource" => untag_resource,
    })
}

fn required<T>(v: Option<T>, name: &str) -> Result<T, DiscoveryError> {
    v.ok_or_else(|| {
        DiscoveryError::invalid(format!(
            "1 validation error detected: Value null at '{name}' failed to satisfy constraint: \
             Member must not be null"
        ))
    })
}

fn check_tags(tags: &[Tag]) -> Result<(), DiscoveryError> {
    if tags.len() > 200 {
        return Err(DiscoveryError::invalid("A resource can have at most 200 tags."));
    }
    for t in tags {
        let key = t.key.as_deref().unwrap_or("");
        if key.is_empty() || key.chars().count() > 128 || key.starts_with("aws:") {
            return Err(DiscoveryError::invalid(format!(
                "Tag key '{key}' must be 1 to 128 characters and not start with aws:."
            )));
        }
    }
    Ok(())
}

async fn create_http_namespace(
    ctx: &Ctx,
    req: CreateHttpNamespaceRequest,
) -> Result<CreateHttpNamespaceResponse, DiscoveryError> {
    let tags = req.tags.unwrap_or_default();
    check_tags(&tags)?;
    let new = NewNamespace {
        kind: NamespaceType::Http,
        name: required(req.name, "name")?,
        vpc: None,
        description: req.description,
        creator_request_id: req.creator_request_id,
        soa_ttl: None,
        tags,
    };
    let op =
        discovery::change(ctx.ops(), move |r, env| r.create_namespace(env, new.clone())).await?;
    Ok(CreateHttpNamespaceResponse { operation_id: Some(op) })
}

async fn create_private_dns_namespace(
    ctx: &Ctx,
    req: CreatePrivateDnsNamespaceRequest,
) -> Result<CreatePrivateDnsNamespaceResponse, DiscoveryError> {
    let name = required(req.name, "name")?;
    let vpc = required(req.vpc, "vpc")?;
    let zones = wharf_model::ec2::zones::of_region(&ctx.region, &[]);
    let network = wharf_ops::network::read(ctx.ops(), &zones)
        .await
        .map_err(|e| DiscoveryError::server(e.message))?;
    if network.vpc(&vpc).is_err() {
        return Err(DiscoveryError::invalid(format!("The VPC {vpc} does not exist.")));
    }
    let tags = req.tags.unwrap_or_default();
    check_tags(&tags)?;
    let ttl = req.properties.and_then(|p| p.dns_properties).and_then(|d| d.soa).and_then(|s| s.ttl);
    let new = NewNamespace {
        kind: NamespaceType::DnsPrivate,
        name,
        vpc: Some(vpc),
        description: req.description,
        creator_request_id: req.creator_request_id,
        soa_ttl: ttl,
        tags,
    };
    let op =
        discovery::change(ctx.ops(), move |r, env| r.create_namespace(env, new.clone())).await?;
    Ok(CreatePrivateDnsNamespaceResponse { operation_id: Some(op) })
}

async fn registry(ctx: &Ctx) -> Result<Registry, DiscoveryError> {
    discovery::read(ctx.ops()).await
}

async fn get_namespace(
    ctx: &Ctx,
    req: GetNamespaceRequest,
) -> Result<GetNamespaceResponse, DiscoveryError> {
    let id = required(req.id, "id")?;
    Ok(GetNamespaceResponse { namespace: Some(registry(ctx).await?.namespace(&id)?) })
}

/// Whether `value` passes a filter's condition over its `values`.
fn passes(condition: Option<&FilterCondition>, values: &[String], value: &str) -> bool {
    match condition {
        None | Some(FilterCondition::Eq) => values.first().is_some_and(|v| v == value),
        Some(FilterCondition::In) => values.iter().any(|v| v == value),
        Some(FilterCondition::BeginsWith) => {
            values.first().is_some_and(|v| value.starts_with(v.as_str()))
        }
        Some(_) => false,
    }
}

fn page_bounds(
    max: Option<i32>,
    token: Option<&str>,
) -> Result<(usize, Option<String>), DiscoveryError> {
    let max = match max {
        None => 100,
        Some(n) if (1..=100).contains(&n) => n as usize,
        Some(n) => {
            return Err(DiscoveryError::invalid(format!(
                "1 validation error detected: Value '{n}' at 'maxResults' failed to satisfy \
                 constraint: Member must have value between 1 and 100"
            )))
        }
    };
    Ok((max, token.map(str::to_owned)))
}

async fn list_namespaces(
    ctx: &Ctx,
    req: ListNamespacesRequest,
) -> Result<ListNamespacesResponse, DiscoveryError> {
    let (max, after) = page_bounds(req.max_results, req.next_token.as_deref())?;
    let reg = registry(ctx).await?;
    let filters = req.filters.unwrap_or_default();
    let mut out = Vec::new();
    let mut next = None;
    for id in reg.namespaces.keys().filter(|id| after.as_ref().is_none_or(|a| *id > a)) {
        let ns = reg.namespace(id)?;
        let keep = filters.iter().all(|f| {
            let values = f.values.clone().unwrap_or_default();
            let value = match f.name {
                Some(NamespaceFilterName::Type) => {
                    ns.r#type.as_ref().map(|t| t.as_str().to_owned())
                }
                Some(NamespaceFilterName::Name) => ns.name.clone(),
                Some(NamespaceFilterName::HttpName) => ns
                    .properties
                    .as_ref()
                    .and_then(|p| p.http_properties.as_ref())
                    .and_then(|h| h.http_name.clone()),
                Some(NamespaceFilterName::ResourceOwner) => ns.resource_owner.clone(),
                _ => None,
            };
            value.is_some_and(|v| passes(f.condition.as_ref(), &values, &v))
        });
        if !keep {
            continue;
        }
        if out.len() == max {
            next = out.last().and_then(|n: &NamespaceSummary| n.id.clone());
            break;
        }
        out.push(NamespaceSummary {
            id: ns.id,
            arn: ns.arn,
            resource_owner: ns.resource_owner,
            name: ns.name,
            r#type: ns.r#type,
            description: ns.description,
            service_count: ns.service_count,
            properties: ns.properties,
            create_date: ns.create_date,
        });
    }
    Ok(ListNamespacesResponse { namespaces: Some(out), next_token: next })
}

async fn delete_namespace(
    ctx: &Ctx,
    req: DeleteNamespaceRequest,
) -> Result<DeleteNamespaceResponse, DiscoveryError> {
    let id = required(req.id, "id")?;
    let op = discovery::change(ctx.ops(), move |r, env| r.delete_namespace(env, &id)).await?;
    Ok(DeleteNamespaceResponse { operation_id: Some(op) })
}

async fn create_service(
    ctx: &Ctx,
    req: CreateServiceRequest,
) -> Result<CreateServiceResponse, DiscoveryError> {
    required(req.name.as_ref(), "name")?;
    check_tags(req.tags.as_deref().unwrap_or(&[]))?;
    let service =
        discovery::change(ctx.ops(), move |r, env| r.create_service(env, req.clone())).await?;
    Ok(CreateServiceResponse { service: Some(service) })
}

async fn get_service(
    ctx: &Ctx,
    req: GetServiceRequest,
) -> Result<GetServiceResponse, DiscoveryError> {
    let id = required(req.id, "id")?;
    Ok(GetServiceResponse { service: Some(registry(ctx).await?.service(&id)?) })
}

async fn list_services(
    ctx: &Ctx,
    req: ListServicesRequest,
) -> Result<ListServicesResponse, DiscoveryError> {
    let (max, after) = page_bounds(req.max_results, req.next_token.as_deref())?;
    let reg = registry(ctx).await?;
    let filters = req.filters.unwrap_or_default();
    let mut out: Vec<ServiceSummary> = Vec::new();
    let mut next = None;
    for id in reg.services.keys().filter(|id| after.as_ref().is_none_or(|a| *id > a)) {
        let s = reg.service(id)?;
        let keep = filters.iter().all(|f| {
            let values = f.values.clone().unwrap_or_default();
            let value = match f.name {
                Some(ServiceFilterName::NamespaceId) => s.namespace_id.clone(),
                Some(ServiceFilterName::ResourceOwner) => s.resource_owner.clone(),
                _ => None,
            };
            value.is_some_and(|v| passes(f.condition.as_ref(), &values, &v))
        });
        if !keep {
            continue;
        }
        if out.len() == max {
            next = out.last().and_then(|n| n.id.clone());
            break;
        }
        out.push(ServiceSummary {
            id: s.id,
            arn: s.arn,
            resource_owner: s.resource_owner,
            name: s.name,
            r#type: s.r#type,
            description: s.description,
            instance_count: s.instance_count,
            dns_config: s.dns_config,
            health_check_config: s.health_check_config,
            health_check_custom_config: s.health_check_custom_config,
            create_date: s.create_date,
            created_by_account: s.created_by_account,
        });
    }
    Ok(ListServicesResponse { services: Some(out), next_token: next })
}

async fn delete_service(
    ctx: &Ctx,
    req: DeleteServiceRequest,
) -> Result<DeleteServiceResponse, DiscoveryError> {
    let id = required(req.id, "id")?;
    discovery::change(ctx.ops(), move |r, _| r.delete_service(&id)).await?;
    Ok(DeleteServiceResponse {})
}

async fn register_instance(
    ctx: &Ctx,
    req: RegisterInstanceRequest,
) -> Result<RegisterInstanceResponse, DiscoveryError> {
    let service = required(req.service_id, "serviceId")?;
    let instance = required(req.instance_id, "instanceId")?;
    let attributes = required(req.attributes, "attributes")?;
    let creator = req.creator_request_id;
    let op = discovery::change(ctx.ops(), move |r, env| {
        r.register_instance(env, &service, &instance, attributes.clone(), creator.clone())
    })
    .await?;
    Ok(RegisterInstanceResponse { operation_id: Some(op) })
}

async fn deregister_instance(
    ctx: &Ctx,
    req: DeregisterInstanceRequest,
) -> Result<DeregisterInstanceResponse, DiscoveryError> {
    let service = required(req.service_id, "serviceId")?;
    let instance = required(req.instance_id, "instanceId")?;
    let op =
        discovery::change(ctx.ops(), move |r, env| r.deregister_instance(env, &service, &instance))
            .await?;
    Ok(DeregisterInstanceResponse { operation_id: Some(op) })
}

async fn get_instance(
    ctx: &Ctx,
    req: GetInstanceRequest,
) -> Result<GetInstanceResponse, DiscoveryError> {
    let service = required(req.service_id, "serviceId")?;
    let instance = required(req.instance_id, "instanceId")?;
    Ok(GetInstanceResponse {
        resource_owner: Some(ctx.state.ops.account_id.to_string()),
        instance: Some(registry(ctx).await?.instance(&service, &instance)?),
    })
}

async fn list_instances(
    ctx: &Ctx,
    req: ListInstancesRequest,
) -> Result<ListInstancesResponse, DiscoveryError> {
    let service = required(req.service_id, "serviceId")?;
    let (max, after) = page_bounds(req.max_results, req.next_token.as_deref())?;
    let reg = registry(ctx).await?;
    let rec = reg.service_record(&service)?;
    let mut out: Vec<InstanceSummary> = Vec::new();
    let mut next = None;
    for (id, i) in rec.instances.iter().filter(|(id, _)| after.as_ref().is_none_or(|a| *id > a)) {
        if out.len() == max {
            next = out.last().and_then(|n| n.id.clone());
            break;
        }
        out.push(InstanceSummary {
            id: Some(id.clone()),
            attributes: Some(i.attributes.clone()),
            created_by_account: rec.service.created_by_account.clone(),
        });
    }
    Ok(ListInstancesResponse {
        resource_owner: Some(ctx.state.ops.account_id.to_string()),
        instances: Some(out),
        next_token: next,
    })
}

async fn discover_instances(
    ctx: &Ctx,
    req: DiscoverInstancesRequest,
) -> Result<DiscoverInstancesResponse, DiscoveryError> {
    let namespace = required(req.namespace_name, "namespaceName")?;
    let service = required(req.service_name, "serviceName")?;
    let max = match req.max_results {
        None => 100,
        Some(n) if (1..=1000).contains(&n) => n as usize,
        Some(n) => {
            return Err(DiscoveryError::invalid(format!(
                "1 validation error detected: Value '{n}' at 'maxResults' failed to satisfy \
                 constraint: Member must have value between 1 and 1000"
            )))
        }
    };
    let query = req.query_parameters.unwrap_or_default();
    let reg = registry(ctx).await?;
    let health = req.health_status.as_ref();
    let (mut found, revision) = reg.discover(&namespace, &service, &query, health, max)?;
    // OptionalParameters narrow the answer when some instances match them too.
    if let Some(optional) = req.optional_parameters.filter(|o| !o.is_empty()) {
        let mut narrower: BTreeMap<String, String> = query.clone();
        narrower.extend(optional);
        let (more, _) = reg.discover(&namespace, &service, &narrower, health, max)?;
        if !more.is_empty() {
            found = more;
        }
    }
    Ok(DiscoverInstancesResponse { instances: Some(found), instances_revision: Some(revision) })
}

async fn get_operation(
    ctx: &Ctx,
    req: GetOperationRequest,
) -> Result<GetOperationResponse, DiscoveryError> {
    let id = required(req.operation_id, "operationId")?;
    Ok(GetOperationResponse { operation: Some(registry(ctx).await?.operation(&id)?) })
}

/// The tags of a namespace or service by ARN.
fn tags_of<'a>(reg: &'a mut Registry, arn: &str) -> Result<&'a mut Vec<Tag>, DiscoveryError> {
    let id = arn.rsplit('/').next().unwrap_or("");
    if arn.contains(":namespace/") {
        if let Some(n) = reg.namespaces.get_mut(id) {
            return Ok(&mut n.tags);
        }
    } else if arn.contains(":service/") {
        if let Some(s) = reg.services.get_mut(id) {
            return Ok(&mut s.tags);
        }
    }
    Err(DiscoveryError::new(
        DiscoveryErrorKind::ResourceNotFoundException,
        format!("Resource not found: {arn}"),
    ))
}

async fn list_tags_for_resource(
    ctx: &Ctx,
    req: ListTagsForResourceRequest,
) -> Result<ListTagsForResourceResponse, DiscoveryError> {
    let arn = required(req.resource_arn, "resourceARN")?;
    let mut reg = registry(ctx).await?;
    Ok(ListTagsForResourceResponse { tags: Some(tags_of(&mut reg, &arn)?.clone()) })
}

async fn tag_resource(
    ctx: &Ctx,
    req: TagResourceRequest,
) -> Result<TagResourceResponse, DiscoveryError> {
    let arn = required(req.resource_arn, "resourceARN")?;
    let tags = required(req.tags, "tags")?;
    check_tags(&tags)?;
    discovery::change(ctx.ops(), move |r, _| {
        let have = tags_of(r, &arn)?;
        for t in &tags {
            have.retain(|h| h.key != t.key);
            have.push(t.clone());
        }
        check_tags(have)
    })
    .await?;
    Ok(TagResourceResponse {})
}

async fn untag_resource(
    ctx: &Ctx,
    req: UntagResourceRequest,
) -> Result<UntagResourceResponse, DiscoveryError> {
    let arn = required(req.resource_arn, "resourceARN")?;
    let keys = required(req.tag_keys, "tagKeys")?;
    discovery::change(ctx.ops(), move |r, _| {
        tags_of(r, &arn)?.retain(|t| !t.key.as_ref().is_some_and(|k| keys.contains(k)));
        Ok(())
    })
    .await?;
    Ok(UntagResourceResponse {})
}
