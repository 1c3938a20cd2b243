//! Helpers for the rule tests: requests written as JSON.

use serde_json::{json, Value};

use crate::ecs::shapes::RegisterTaskDefinitionRequest;
use crate::error::{EcsError, EcsErrorKind};

use super::validate_register;

/// The request `v` describes (panics on a malformed test fixture).
pub(crate) fn req(v: Value) -> RegisterTaskDefinitionRequest {
    serde_json::from_value(v).expect("test fixture is a request")
}

/// A minimal EC2 task definition ECS accepts.
pub(crate) fn ec2() -> Value {
    json!({"family": "web", "containerDefinitions": [
        {"name": "app", "image": "nginx:1.27", "memory": 128}
    ]})
}

/// A minimal Fargate task definition ECS accepts.
pub(crate) fn fargate() -> Value {
    json!({
        "family": "web", "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"],
        "cpu": "256", "memory": "512",
        "executionRoleArn": "arn:aws:iam::123456789012:role/exec",
        "containerDefinitions": [{"name": "app", "image": "nginx:1.27"}]
    })
}

/// `base` changed by `f`.
pub(crate) fn with(mut base: Value, f: impl FnOnce(&mut Value)) -> Value {
    f(&mut base);
    base
}

/// Asserts `v` is accepted.
pub(crate) fn accepted(v: Value) {
    if let Err(e) = validate_register(&req(v.clone())) {
        panic!("expected {v} to be accepted, got {e}");
    }
}

/// Asserts `v` is refused with a ClientException and exactly `message`.
pub(crate) fn refused(v: Value, message: &str) {
    refused_as(v, EcsErrorKind::ClientException, message);
}

/// Asserts `v` is refused with `kind` and exactly `message`.
pub(crate) fn refused_as(v: Value, kind: EcsErrorKind, message: &str) {
    match validate_register(&req(v.clone())) {
        Ok(()) => panic!("expected {v} to be refused with {message:?}"),
        Err(EcsError { kind: k, message: m }) => {
            assert_eq!((k, m.as_str()), (kind, message), "for {v}");
        }
    }
}

/// Appends container `c` to `v`'s `containerDefinitions`.
pub(crate) fn add(v: &mut Value, c: Value) {
    if let Some(list) = v["containerDefinitions"].as_array_mut() {
        list.push(c);
    }
}

/// `ec2()` with container 0's `field` set to `value`.
pub(crate) fn set(field: &str, value: Value) -> Value {
    with(ec2(), |v| v["containerDefinitions"][0][field] = value)
}
