//! Task-wide rules that need every container first: the essential container,
//! cpu and memory sums against the task's, and the task-level extras
//! (placement constraints, App Mesh proxy, ephemeral storage, inference
//! accelerators, tags).

use std::collections::HashSet;

use crate::ecs::shapes::RegisterTaskDefinitionRequest;
use crate::error::{EcsError, EcsErrorKind};

use super::rules::{self, msg};
use super::validate::{Mode, Task};

/// At least one essential container; container cpu and memory reservations
/// within the task's.
pub(crate) fn check_task_sums(task: &Task) -> Result<(), EcsError> {
    if !task.containers.iter().any(|c| c.essential.unwrap_or(true)) {
        return Err(EcsError::client(msg::NO_ESSENTIAL));
    }
    if let Some(cpu) = task.cpu {
        let sum: i64 = task.containers.iter().map(|c| i64::from(c.cpu.unwrap_or(0).max(0))).sum();
        if sum > i64::from(cpu) {
            return Err(EcsError::client(msg::CPU_SUM));
        }
    }
    if let Some(memory) = task.memory {
        let reserved: i64 = task
            .containers
            .iter()
            .map(|c| i64::from(c.memory_reservation.or(c.memory).unwrap_or(0).max(0)))
            .sum();
        if reserved > i64::from(memory) {
            return Err(EcsError::client(msg::MEMORY_RESERVATION_SUM));
        }
    }
    Ok(())
}

/// Placement constraints, proxy, ephemeral storage, inference accelerators and tags.
pub(crate) fn check_task_extras(task: &Task) -> Result<(), EcsError> {
    let req = task.req;
    if req.placement_constraints.as_ref().map_or(0, Vec::len) > rules::MAX_PLACEMENT_CONSTRAINTS {
        return Err(EcsError::client(msg::out_of_range(
            "the number of placementConstraints",
            0,
            rules::MAX_PLACEMENT_CONSTRAINTS as i64,
        )));
    }
    if let Some(proxy) = &req.proxy_configuration {
        if task.mode != Mode::Awsvpc {
            return Err(EcsError::client(msg::PROXY_AWSVPC));
        }
        match proxy.container_name.as_deref() {
            None | Some("") => {
                return Err(EcsError::client(msg::required("proxyConfiguration.containerName")))
            }
            Some(n) if !task.containers.iter().any(|c| c.name.as_deref() == Some(n)) => {
                return Err(EcsError::client(msg::unknown_container(
                    "proxyConfiguration.containerName",
                    n,
                )))
            }
            Some(_) => {}
        }
        if proxy.properties.iter().flatten().any(|p| p.value.is_none()) {
            return Err(EcsError::client(msg::PROXY_PROPERTY_NULL));
        }
    }
    if let Some(size) = req.ephemeral_storage.as_ref().and_then(|e| e.size_in_gi_b) {
        let (lo, hi) = rules::EPHEMERAL_STORAGE_GIB;
        if size < lo || size > hi {
            return Err(EcsError::client(msg::out_of_range(
                "ephemeralStorage.sizeInGiB",
                lo.into(),
                hi.into(),
            )));
        }
    }
    for (i, a) in req.inference_accelerators.iter().flatten().enumerate() {
        if a.device_name.as_deref().unwrap_or_default().is_empty() {
            return Err(EcsError::client(msg::required(&format!(
                "inferenceAccelerators[{i}].deviceName"
            ))));
        }
        if a.device_type.as_deref().unwrap_or_default().is_empty() {
            return Err(EcsError::client(msg::required(&format!(
                "inferenceAccelerators[{i}].deviceType"
            ))));
        }
    }
    check_tags(req)
}

/// Tags: at most 50, keys 1..=128 and values ≤256 characters, unique keys,
/// no `aws:` prefix. Tag errors are `InvalidParameterException`s, as ECS's
/// tagging errors are (Wharf's wording).
fn check_tags(req: &RegisterTaskDefinitionRequest) -> Result<(), EcsError> {
    let tags = req.tags.as_deref().unwrap_or_default();
    let bad = |m: String| Err(EcsError::new(EcsErrorKind::InvalidParameterException, m));
    if tags.len() > rules::MAX_TAGS {
        return bad(format!("A resource can have at most {} tags.", rules::MAX_TAGS));
    }
    let mut keys = HashSet::new();
    for (i, t) in tags.iter().enumerate() {
        let key = t.key.as_deref().unwrap_or_default();
        if key.is_empty() || key.chars().count() > rules::MAX_TAG_KEY_LEN {
            return bad(format!("tags[{i}].key must be between 1 and 128 characters long."));
        }
        if t.value.as_deref().unwrap_or_default().chars().count() > rules::MAX_TAG_VALUE_LEN {
            return bad(format!("tags[{i}].value must be at most 256 characters long."));
        }
        if key.to_ascii_lowercase().starts_with("aws:") {
            return bad(format!("Tag key '{key}' uses the reserved prefix 'aws:'."));
        }
        if !keys.insert(key) {
            return bad(format!("Tag key '{key}' is used more than once."));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::testutil::{accepted, add, ec2, fargate, refused, refused_as, with};
    use crate::EcsErrorKind::InvalidParameterException;

    #[test]
    fn at_least_one_essential_container() {
        refused(
            with(ec2(), |v| v["containerDefinitions"][0]["essential"] = json!(false)),
            "Task definition doesn't have any essential container.",
        );
        accepted(with(ec2(), |v| {
            v["containerDefinitions"][0]["essential"] = json!(false);
            add(v, json!({"name": "b", "image": "busybox", "memory": 8}));
        }));
    }

    #[test]
    fn container_cpu_fits_the_task() {
        refused(
            with(fargate(), |v| {
                v["containerDefinitions"][0]["cpu"] = json!(200);
                add(v, json!({"name": "b", "image": "busybox", "cpu": 100}));
            }),
            "The sum of all container 'cpu' values cannot be greater than the value of the task 'cpu'.",
        );
        accepted(with(fargate(), |v| v["containerDefinitions"][0]["cpu"] = json!(256)));
    }

    #[test]
    fn container_reservations_fit_the_task() {
        refused(
            with(fargate(), |v| {
                v["containerDefinitions"][0]["memoryReservation"] = json!(300);
                add(v, json!({"name": "b", "image": "busybox", "memory": 300}));
            }),
            "The sum of all container 'memoryReservation' values cannot be greater than the value of the task 'memory'.",
        );
    }

    #[test]
    fn app_mesh_proxy() {
        let proxy = json!({"type": "APPMESH", "containerName": "app", "properties": [{"name": "AppPorts", "value": "80"}]});
        refused(
            with(ec2(), |v| v["proxyConfiguration"] = proxy.clone()),
            "APPMESH proxy configuration is only supported in networkMode=awsvpc",
        );
        accepted(with(fargate(), |v| v["proxyConfiguration"] = proxy.clone()));
        refused(
            with(fargate(), |v| v["proxyConfiguration"] = json!({"type": "APPMESH", "containerName": "envoy"})),
            "proxyConfiguration.containerName refers to container 'envoy', which does not exist in the task definition.",
        );
        refused(
            with(fargate(), |v| v["proxyConfiguration"] = json!({"type": "APPMESH"})),
            "proxyConfiguration.containerName should not be null or empty.",
        );
        refused(
            with(
                fargate(),
                |v| v["proxyConfiguration"] = json!({"type": "APPMESH", "containerName": "app", "properties": [{"name": "IgnoredGID"}]}),
            ),
            "ProxyConfiguration properties value cannot be null.",
        );
    }

    #[test]
    fn ephemeral_storage_and_accelerators() {
        refused(
            with(fargate(), |v| v["ephemeralStorage"] = json!({"sizeInGiB": 20})),
            "Invalid value for ephemeralStorage.sizeInGiB. The value must be between 21 and 200.",
        );
        accepted(with(fargate(), |v| v["ephemeralStorage"] = json!({"sizeInGiB": 200})));
        refused(
            with(ec2(), |v| v["inferenceAccelerators"] = json!([{"deviceName": "d1"}])),
            "inferenceAccelerators[0].deviceType should not be null or empty.",
        );
        refused(
            with(ec2(), |v| v["placementConstraints"] = json!(vec![json!({"type": "memberOf", "expression": "x"}); 11])),
            "Invalid value for the number of placementConstraints. The value must be between 0 and 10.",
        );
    }

    #[test]
    fn tags() {
        let tag = |k: &str, v: &str| json!({"key": k, "value": v});
        accepted(with(ec2(), |v| v["tags"] = json!([tag("team", "web"), tag("env", "")])));
        let fifty_one: Vec<_> = (0..51).map(|i| tag(&format!("k{i}"), "v")).collect();
        refused_as(
            with(ec2(), |v| v["tags"] = json!(fifty_one)),
            InvalidParameterException,
            "A resource can have at most 50 tags.",
        );
        refused_as(
            with(ec2(), |v| v["tags"] = json!([tag("", "v")])),
            InvalidParameterException,
            "tags[0].key must be between 1 and 128 characters long.",
        );
        refused_as(
            with(ec2(), |v| v["tags"] = json!([tag(&"k".repeat(129), "v")])),
            InvalidParameterException,
            "tags[0].key must be between 1 and 128 characters long.",
        );
        refused_as(
            with(ec2(), |v| v["tags"] = json!([tag("k", &"v".repeat(257))])),
            InvalidParameterException,
            "tags[0].value must be at most 256 characters long.",
        );
        refused_as(
            with(ec2(), |v| v["tags"] = json!([tag("AWS:owner", "v")])),
            InvalidParameterException,
            "Tag key 'AWS:owner' uses the reserved prefix 'aws:'.",
        );
        refused_as(
            with(ec2(), |v| v["tags"] = json!([tag("a", "1"), tag("a", "2")])),
            InvalidParameterException,
            "Tag key 'a' is used more than once.",
        );
    }
}
